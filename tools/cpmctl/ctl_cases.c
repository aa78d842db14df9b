/* cpmctl cases: lists of cases from the city's routing service, for
 * coordinators (every case) and agencies (their own), and the Vietnam time
 * every deadline is shown in. */
#include "ctl_args.h"
#include "cpm_case.h"
#include "cpm_text.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char cases_usage[] =
    "usage: cpmctl cases [--overdue] [--due-within DUR] [--agency ID] [--area SLUG]\n"
    "                    [--state STATE] [--limit N] [--json]\n"
    "\n"
    "Lists cases from the city's routing service, in ticket order. Coordinators see\n"
    "every case; officers and agency nodes only their own agency's (--as ID).\n"
    "  --overdue         only cases whose open deadline passed (escalated)\n"
    "  --due-within DUR  only cases whose open deadline falls within DUR from now:\n"
    "                    a number with d (days), h (hours) or m (minutes), e.g. 2d\n"
    "  --agency ID       only the cases of this agency (member id)\n"
    "  --area SLUG       only the cases of this area\n"
    "  --state STATE     only cases in this state (routed, assigned, accepted, ...)\n"
    "  --limit N         print at most N cases (default 100); pages of at most 500\n"
    "                    are fetched until N or the end\n"
    "Times are Vietnam time (Asia/Ho_Chi_Minh, UTC+7).\n";

const char *ctl_time_vn(int64_t ms, char buf[40])
{
    if (ms == 0)
        return "-";
    cpm_format_time_vn(ms, buf, 40);
    return buf;
}

/* "2d", "36h", "90m" as ms; -1 when not such a duration. */
static int64_t parse_duration(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0 || v > 3650LL * 24 * 60 || end[0] == 0 || end[1] != 0)
        return -1;
    switch (*end) {
    case 'd':
        return v * 86400000LL;
    case 'h':
        return v * 3600000LL;
    case 'm':
        return v * 60000LL;
    default:
        return -1;
    }
}

static const char *state_word(Cpm__CaseState s)
{
    const char *name = cpm_case_state_name(s);
    return name ? name : "";
}

static void print_item(bool json, const Cpm__CaseListItem *it)
{
    char t1[40], t2[40];
    if (json) {
        json_t *o = json_pack("{s:b,s:s,s:s,s:s,s:s,s:s}", "ok", 1, "ticket", ctl_utf8(it->ticket),
                              "state", state_word(it->state), "agency", ctl_utf8(it->agency),
                              "area", ctl_utf8(it->area), "category", ctl_utf8(it->category));
        json_object_set_new(o, "received", json_string(ctl_time_vn(it->received_ms, t1)));
        json_object_set_new(o, "accept_due", json_string(ctl_time_vn(it->accept_due_ms, t1)));
        json_object_set_new(o, "resolve_due", json_string(ctl_time_vn(it->resolve_due_ms, t1)));
        json_object_set_new(o, "accept_due_ms", json_integer(it->accept_due_ms));
        json_object_set_new(o, "resolve_due_ms", json_integer(it->resolve_due_ms));
        json_object_set_new(o, "due", json_string(ctl_utf8(it->due)));
        json_object_set_new(o, "due_ms", json_integer(it->due_ms));
        json_object_set_new(o, "overdue", json_boolean(it->overdue));
        json_object_set_new(o, "overdue_deadline", json_string(ctl_utf8(it->overdue_deadline)));
        ctl_print_json(o);
        return;
    }
    printf("%-18s %-16s %-22s %-16s %-7s %-26s%s\n", ctl_safe(it->ticket), state_word(it->state),
           ctl_safe(it->agency), *it->area ? ctl_safe(it->area) : "-", *it->due ? it->due : "-",
           ctl_time_vn(it->due_ms, t2), it->overdue ? "  OVERDUE" : "");
}

/* One page; 0 and *out, or -1 with err. */
static int fetch_page(ctl_t *c, Cpm__CaseListQuery *q, Cpm__CaseListReply **out, cpm_error_t *err)
{
    const Cpm__Member *routing = cpm_registry_find_service(c->reg, "routing");
    if (!routing)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "", "the registry has no routing service");
    cpm_msg_t reply = {0};
    if (cpm_client_call(c->client, routing->id, "routing", CPM__MSG_TYPE__MSG_CASE_LIST_QUERY,
                        &q->base, c->timeout_ms, &reply, err) != 0)
        return -1;
    *out = cpm__case_list_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    cpm_msg_clear(&reply);
    if (!*out)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "undecodable case list reply");
    return 0;
}

int ctl_cmd_cases(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"overdue", no_argument, 0, 'o'},
                                             {"due-within", required_argument, 0, 'w'},
                                             {"agency", required_argument, 0, 'a'},
                                             {"area", required_argument, 0, 'r'},
                                             {"state", required_argument, 0, 's'},
                                             {"limit", required_argument, 0, 'l'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__CaseListQuery q = CPM__CASE_LIST_QUERY__INIT;
    long limit = 100;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        char *end;
        switch (opt) {
        case 'o':
            q.overdue = true;
            break;
        case 'w':
            if ((q.due_within_ms = parse_duration(optarg)) < 0) {
                fprintf(stderr,
                        "cpmctl cases: --due-within: \"%s\" is not a duration such as "
                        "2d, 36h or 90m\n",
                        optarg);
                return 2;
            }
            break;
        case 'a':
            q.agency = optarg;
            break;
        case 'r':
            q.area = optarg;
            break;
        case 's':
            if (!(q.state = cpm_case_state_parse(optarg))) {
                fprintf(stderr, "cpmctl cases: --state: \"%s\" is not a case state\n", optarg);
                return 2;
            }
            break;
        case 'l':
            limit = strtol(optarg, &end, 10);
            if (*end || limit < 1 || limit > 1000000) {
                fprintf(stderr, "cpmctl cases: --limit: a number from 1 to 1000000\n");
                return 2;
            }
            break;
        default:
            return ctl_usage(cases_usage, opt == 'h' ? 0 : 2);
        }
    }
    if (optind != argc)
        return ctl_usage(cases_usage, 2);
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    char cursor[CPM_TEXT_TICKET_MAX + 1] = "";
    long shown = 0;
    int rc = 0;
    if (!c.json)
        printf("%-18s %-16s %-22s %-16s %-7s %-26s\n", "TICKET", "STATE", "AGENCY", "AREA", "DUE",
               "BY (Asia/Ho_Chi_Minh)");
    do {
        q.cursor = cursor;
        q.limit = (uint32_t)(limit - shown < 500 ? limit - shown : 500);
        Cpm__CaseListReply *r = NULL;
        if (fetch_page(&c, &q, &r, &err) != 0) {
            rc = ctl_fail(&c, c.json, &err);
            break;
        }
        for (size_t i = 0; i < r->n_cases && shown < limit; i++, shown++)
            print_item(c.json, r->cases[i]);
        snprintf(cursor, sizeof cursor, "%s", r->next_cursor);
        cpm__case_list_reply__free_unpacked(r, NULL);
    } while (*cursor && shown < limit);
    ctl_close(&c);
    return rc;
}
