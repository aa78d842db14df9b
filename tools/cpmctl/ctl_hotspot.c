/* cpmctl hotspot: the hotspot service's alerts (docs/protocol.md 25), for
 * the city's coordinators: list, show, confirm, dismiss. */
#include "ctl_args.h"
#include "hotspot.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hotspot_usage[] =
    "usage: cpmctl hotspot list [--state open|confirmed|dismissed|all] [--max N] [--after ID]\n"
    "       cpmctl hotspot show ID\n"
    "       cpmctl hotspot confirm ID --reason R\n"
    "       cpmctl hotspot dismiss ID --reason R\n"
    "       (each also takes --as ID, --json)\n"
    "\n"
    "Alerts of the city's hotspot service: a business, an area and category or a\n"
    "product with more complaints in the window than its own history makes likely\n"
    "(count, expected, Poisson p and the tickets as evidence). list shows open\n"
    "alerts by default, oldest first (--max at most 200, --after for the next\n"
    "page). confirm (a business alert then goes to the exchange's watchlist for 90\n"
    "days) and dismiss need a reason (at most 1000 bytes). Coordinators only (roles\n"
    "coordinator and city); anyone else gets error 403. Times in Asia/Ho_Chi_Minh.\n";

static int call(ctl_t *c, Cpm__MsgType type, const ProtobufCMessage *q, cpm_msg_t *reply,
                cpm_error_t *err)
{
    const Cpm__Member *m = cpm_registry_find_service(c->reg, "hotspot");
    if (!m)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "", "the registry has no hotspot service");
    return cpm_client_call(c->client, m->id, "hotspot", type, q, c->timeout_ms, reply, err);
}

static json_t *alert_json(const Cpm__HotspotAlert *a)
{
    char t1[40], t2[40], t3[40], t4[40];
    json_t *tickets = json_array();
    for (size_t i = 0; i < a->n_tickets; i++)
        json_array_append_new(tickets, json_string(ctl_utf8(a->tickets[i])));
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:f,s:f,s:f,s:i,s:o,s:s,s:s,s:s,s:s,s:s,"
        "s:s,s:s}",
        "id", ctl_utf8(a->id), "kind", ctl_utf8(a->kind), "key", ctl_utf8(a->key), "label",
        ctl_utf8(a->label), "area", ctl_utf8(a->area), "category", ctl_utf8(a->category),
        "business", ctl_utf8(a->business), "address", ctl_utf8(a->address), "product",
        ctl_utf8(a->product), "count", (int)a->count, "window_h", (int)a->window_h,
        "baseline_per_day", a->baseline_per_day, "expected", a->expected, "p", a->p, "p_e6",
        (int)a->p_e6, "tickets", tickets, "first", ctl_time_vn(a->first_ms, t1), "last",
        ctl_time_vn(a->last_ms, t2), "opened", ctl_time_vn(a->opened_ms, t3), "state",
        ctl_utf8(a->state), "decided_by", ctl_utf8(a->decided_by), "decided",
        ctl_time_vn(a->decided_ms, t4), "reason", ctl_utf8(a->reason));
    json_object_set_new(o, "note", json_string(ctl_utf8(a->note)));
    json_object_set_new(o, "first_ms", json_integer(a->first_ms));
    json_object_set_new(o, "last_ms", json_integer(a->last_ms));
    return o;
}

static void alert_print(const Cpm__HotspotAlert *a)
{
    char t[40];
    printf("%s  %s  %s\n", ctl_safe(a->id), ctl_safe(a->state), ctl_safe(a->label));
    printf("  kind       %s  (key %s)\n", ctl_safe(a->kind), ctl_safe(a->key));
    printf("  area       %s   category %s\n", ctl_safe(a->area), ctl_safe(a->category));
    if (*a->business)
        printf("  business   %s%s%s\n", ctl_safe(a->business), *a->address ? ", " : "",
               ctl_safe(a->address));
    if (*a->product)
        printf("  product    %s\n", ctl_safe(a->product));
    printf("  count      %u in %u h; expected %.2f (%.2f/day); p = %.3g\n", a->count, a->window_h,
           a->expected, a->baseline_per_day, a->p);
    printf("  first      %s\n", ctl_time_vn(a->first_ms, t));
    printf("  last       %s\n", ctl_time_vn(a->last_ms, t));
    printf("  opened     %s\n", ctl_time_vn(a->opened_ms, t));
    printf("  tickets   ");
    for (size_t i = 0; i < a->n_tickets; i++)
        printf(" %s", ctl_safe(a->tickets[i]));
    printf("\n  evidence   %s\n", ctl_safe(a->note));
    if (*a->decided_by)
        printf("  decided    %s by %s: %s\n", ctl_time_vn(a->decided_ms, t),
               ctl_safe(a->decided_by), ctl_safe(a->reason));
}

static int list(ctl_t *c, Cpm__HotspotListQuery *q, const char *only, cpm_error_t *err)
{
    cpm_msg_t reply = {0};
    int rc = call(c, CPM__MSG_TYPE__MSG_HOTSPOT_LIST, &q->base, &reply, err);
    Cpm__HotspotListReply *r =
        rc == 0
            ? cpm__hotspot_list_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data)
            : NULL;
    cpm_msg_clear(&reply);
    if (rc == 0 && !r)
        rc = cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "undecodable hotspot reply");
    if (rc != 0)
        return rc;
    size_t shown = 0;
    if (only) { /* show ID: the alert from the list of all */
        for (size_t i = 0; i < r->n_alerts; i++)
            if (!strcmp(r->alerts[i]->id, only)) {
                if (c->json)
                    ctl_print_json(alert_json(r->alerts[i]));
                else
                    alert_print(r->alerts[i]);
                shown++;
            }
        if (!shown)
            rc = cpm_error_set(err, CPM_E_NOT_FOUND, "id", "no alert %s", only);
    } else if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_alerts; i++)
            json_array_append_new(a, alert_json(r->alerts[i]));
        ctl_print_json(json_pack("{s:b,s:o,s:b,s:s}", "ok", 1, "alerts", a, "truncated",
                                 r->truncated, "next_after", ctl_utf8(r->next_after)));
    } else {
        char t[40];
        printf("%-6s %-10s %-14s %5s %8s %9s  %-26s %s\n", "id", "state", "kind", "count",
               "expected", "p", "last", "label");
        for (size_t i = 0; i < r->n_alerts; i++) {
            const Cpm__HotspotAlert *x = r->alerts[i];
            printf("%-6s %-10s %-14s %5u %8.2f %9.2g  %-26s %s\n", ctl_safe(x->id),
                   ctl_safe(x->state), ctl_safe(x->kind), x->count, x->expected, x->p,
                   ctl_time_vn(x->last_ms, t), ctl_safe(x->label));
        }
        if (r->truncated)
            printf("(more alerts: --after %s for the next page)\n", ctl_safe(r->next_after));
    }
    cpm__hotspot_list_reply__free_unpacked(r, NULL);
    return rc;
}

static int decide(ctl_t *c, const char *id, bool confirm, const char *reason, cpm_error_t *err)
{
    Cpm__HotspotDecision d = CPM__HOTSPOT_DECISION__INIT;
    d.id = (char *)id;
    d.confirm = confirm;
    d.reason = (char *)reason;
    cpm_msg_t reply = {0};
    int rc = call(c, CPM__MSG_TYPE__MSG_HOTSPOT_DECIDE, &d.base, &reply, err);
    Cpm__HotspotDecisionReply *r =
        rc == 0 ? cpm__hotspot_decision_reply__unpack(NULL, reply.env->payload.len,
                                                      reply.env->payload.data)
                : NULL;
    cpm_msg_clear(&reply);
    if (rc == 0 && (!r || !r->alert))
        rc = cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "undecodable hotspot reply");
    if (rc == 0) {
        if (c->json) {
            json_t *o = alert_json(r->alert);
            json_object_set_new(o, "ok", json_true());
            ctl_print_json(o);
        } else
            printf("%s %s\n", ctl_safe(r->alert->id), ctl_safe(r->alert->state));
    }
    if (r)
        cpm__hotspot_decision_reply__free_unpacked(r, NULL);
    return rc;
}

int ctl_cmd_hotspot(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"state", required_argument, 0, 's'},
                                             {"max", required_argument, 0, 'x'},
                                             {"after", required_argument, 0, 'a'},
                                             {"reason", required_argument, 0, 'r'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__HotspotListQuery q = CPM__HOTSPOT_LIST_QUERY__INIT;
    const char *reason = NULL;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        char *end;
        switch (opt) {
        case 's':
            q.state = optarg;
            continue;
        case 'a':
            q.after = optarg;
            continue;
        case 'r':
            reason = optarg;
            continue;
        case 'x':
            errno = 0;
            q.max = (uint32_t)strtoul(optarg, &end, 10);
            if (*optarg && !*end && !errno && q.max <= 200)
                continue;
            fprintf(stderr, "cpmctl hotspot: --max is 1 to 200\n");
            return 2;
        default:
            return ctl_usage(hotspot_usage, opt == 'h' ? 0 : 2);
        }
    }
    const char *sub = optind < argc ? argv[optind] : NULL;
    const char *id = optind + 1 < argc ? argv[optind + 1] : NULL;
    int want = !sub ? -1 : !strcmp(sub, "list") ? 1 : 2;
    if (!sub || (want == 1 && id) || (want == 2 && (!id || optind + 2 != argc)) ||
        (strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "confirm") &&
         strcmp(sub, "dismiss")))
        return ctl_usage(hotspot_usage, 2);
    bool deciding = !strcmp(sub, "confirm") || !strcmp(sub, "dismiss");
    if (deciding && (!reason || !*reason)) {
        fprintf(stderr, "cpmctl hotspot %s: --reason is required\n", sub);
        return 2;
    }
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    int rc;
    if (deciding)
        rc = decide(&c, id, !strcmp(sub, "confirm"), reason, &err);
    else if (!strcmp(sub, "show")) {
        /* The alert ID is the page that starts after ID - 1. */
        Cpm__HotspotListQuery sq = CPM__HOTSPOT_LIST_QUERY__INIT;
        char after[32] = "";
        unsigned long long n = id[0] == 'H' ? strtoull(id + 1, NULL, 10) : 0;
        if (n > 1)
            snprintf(after, sizeof after, "H%llu", n - 1);
        sq.state = "all";
        sq.after = after;
        sq.max = 1;
        rc = list(&c, &sq, id, &err);
    } else
        rc = list(&c, &q, NULL, &err);
    if (rc != 0)
        rc = ctl_fail(&c, c.json, &err);
    ctl_close(&c);
    return rc;
}
