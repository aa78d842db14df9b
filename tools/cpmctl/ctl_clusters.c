/* cpmctl clusters: businesses many distinct consumers complained about, for
 * the city's coordinators. */
#include "ctl_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char clusters_usage[] =
    "usage: cpmctl clusters [--min N] [--max N] [--themes N] [--after CURSOR] [--as ID] [--json]\n"
    "\n"
    "Asks the city's routing service for the businesses that at least N distinct\n"
    "consumers (by consumer_key, default 2) complained about, most consumers first:\n"
    "normalised business name, area, consumers, complaints (linked ones included),\n"
    "the first ticket and the newest complaint. At most --max clusters (default\n"
    "100, at most 500); \"truncated\" says there were more and \"next_after\" is the\n"
    "--after CURSOR that asks for the next page. Under each business, its themes\n"
    "(complaints with similar descriptions, at least 2): complaints, consumers,\n"
    "characteristic words and tickets; at most --themes N per business (default 5,\n"
    "at most 16). A business known only by its address shows \"@ <address>\".\n"
    "Coordinators only\n"
    "(roles coordinator and city); anyone else gets error 403.\n";

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v > 1000000)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static json_t *themes_json(const Cpm__Cluster *k)
{
    json_t *a = json_array();
    char t1[40], t2[40];
    for (size_t i = 0; i < k->n_themes; i++) {
        const Cpm__ClusterTheme *th = k->themes[i];
        json_t *words = json_array(), *tickets = json_array();
        for (size_t j = 0; j < th->n_words; j++)
            json_array_append_new(words, json_string(ctl_utf8(th->words[j])));
        for (size_t j = 0; j < th->n_tickets; j++)
            json_array_append_new(tickets, json_string(ctl_utf8(th->tickets[j])));
        json_array_append_new(
            a, json_pack("{s:i,s:i,s:s,s:s,s:o,s:o}", "count", (int)th->count, "consumers",
                         (int)th->consumers, "first", ctl_time(th->first_ms, t1), "last",
                         ctl_time(th->last_ms, t2), "words", words, "tickets", tickets));
    }
    return a;
}

/* Themes under their business: "theme: 5 complaints, 4 consumers: gian, pho
 * (HK-1 HK-2 ...)". */
static void print_themes(const Cpm__Cluster *k)
{
    for (size_t i = 0; i < k->n_themes; i++) {
        const Cpm__ClusterTheme *th = k->themes[i];
        printf("    theme: %u complaints, %u consumers:", th->count, th->consumers);
        for (size_t j = 0; j < th->n_words; j++)
            printf("%s %s", j ? "," : "", ctl_safe(th->words[j]));
        printf(" (");
        for (size_t j = 0; j < th->n_tickets; j++)
            printf("%s%s", j ? " " : "", ctl_safe(th->tickets[j]));
        printf(")\n");
    }
    if (k->themes_dropped)
        printf("    (%u older themes dropped)\n", k->themes_dropped);
}

int ctl_cmd_clusters(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"min", required_argument, 0, 'm'},
                                             {"max", required_argument, 0, 'x'},
                                             {"after", required_argument, 0, 'a'},
                                             {"themes", required_argument, 0, 't'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__ClustersQuery q = CPM__CLUSTERS_QUERY__INIT;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        if ((opt == 'm' && parse_u32(optarg, &q.min_consumers) == 0) ||
            (opt == 'x' && parse_u32(optarg, &q.max) == 0) ||
            (opt == 't' && parse_u32(optarg, &q.themes) == 0))
            continue;
        if (opt == 'a') {
            q.after = optarg;
            continue;
        }
        return ctl_usage(clusters_usage, opt == 'h' ? 0 : 2);
    }
    if (optind != argc)
        return ctl_usage(clusters_usage, 2);
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    const Cpm__Member *routing = cpm_registry_find_service(c.reg, "routing");
    cpm_msg_t reply = {0};
    int rc = 0;
    if (!routing)
        rc = cpm_error_set(&err, CPM_E_NOT_FOUND, "", "the registry has no routing service");
    else
        rc = cpm_client_call(c.client, routing->id, "routing", CPM__MSG_TYPE__MSG_CLUSTERS_QUERY,
                             &q.base, c.timeout_ms, &reply, &err);
    Cpm__ClustersReply *r =
        rc == 0 ? cpm__clusters_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data)
                : NULL;
    cpm_msg_clear(&reply);
    if (rc == 0 && !r)
        rc = cpm_error_set(&err, CPM_E_BAD_MESSAGE, "", "undecodable clusters reply");
    if (rc != 0) {
        rc = ctl_fail(&c, c.json, &err);
        ctl_close(&c);
        return rc;
    }
    char t[40];
    if (c.json) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_clusters; i++) {
            const Cpm__Cluster *k = r->clusters[i];
            json_t *themes = themes_json(k); /* before: ctl_utf8's buffers rotate */
            json_array_append_new(
                a, json_pack("{s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:o,s:i}", "business",
                             ctl_utf8(k->business), "area", ctl_utf8(k->area), "consumers",
                             (int)k->consumers, "cases", (int)k->cases, "first_ticket",
                             ctl_utf8(k->first_ticket), "last", ctl_time(k->last_ms, t), "address",
                             ctl_utf8(k->address), "themes", themes, "themes_dropped",
                             (int)k->themes_dropped));
        }
        ctl_print_json(json_pack("{s:b,s:o,s:b,s:s}", "ok", 1, "clusters", a, "truncated",
                                 r->truncated, "next_after", ctl_utf8(r->next_after)));
    } else {
        printf("%-9s %-6s %-14s %-24s %s\n", "consumers", "cases", "area", "first ticket",
               "business");
        for (size_t i = 0; i < r->n_clusters; i++) {
            const Cpm__Cluster *k = r->clusters[i];
            printf("%-9u %-6u %-14s %-24s %s%s%s\n", k->consumers, k->cases, ctl_safe(k->area),
                   ctl_safe(k->first_ticket), *k->business ? ctl_safe(k->business) : "@ ",
                   *k->business && *k->address ? "  @ " : "", ctl_safe(k->address));
            print_themes(k);
        }
        if (r->truncated)
            printf("(more clusters matched: --after %s for the next page)\n",
                   ctl_safe(r->next_after));
    }
    cpm__clusters_reply__free_unpacked(r, NULL);
    ctl_close(&c);
    return 0;
}
