/* cpmctl report: the city's cases by area in one jurisdiction generation,
 * for coordinators. Routing answers a bounded page at a time; this command
 * follows the pages and adds up their rows (same area, same row). */
#include "ctl_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char report_usage[] =
    "usage: cpmctl report --generation 2024|2025 [--agency ID] [--from TIME] [--to TIME]\n"
    "                     [--json]\n"
    "       cpmctl report --period 2026 ...   (effectiveness: see cpmctl report --period x -h)\n"
    "\n"
    "Counts the city's cases by area in one jurisdiction generation: 2024 (the 30\n"
    "former districts) or 2025 (the 126 wards and communes). A case handled under\n"
    "the other generation is counted through the lineage: in the one area it maps\n"
    "to, or once in a shared row naming every area it could be in (\"a+b\"). Cases\n"
    "without an area are in (triage); an area the lineage does not know is kept as\n"
    "the case has it (unmapped). Per row: total, open, closed (Open311), overdue,\n"
    "and how many were counted through the lineage (mapped).\n"
    "  --agency ID   only the cases this agency holds\n"
    "  --from TIME   only cases received at or after TIME; --to TIME: before TIME\n"
    "                (YYYY-MM-DD or YYYY-MM-DDTHH:MM in Vietnam time, or Unix ms)\n"
    "Coordinators only (roles coordinator and city); anyone else gets error 403.\n"
    "Times are Vietnam time (Asia/Ho_Chi_Minh, UTC+7).\n";

#define MAX_PAGES 1000 /* of at most 20000 cases each */

typedef struct {
    Cpm__ReportRow **rows; /* copies, areas owned */
    size_t n, cap;
    uint64_t cases, scanned;
} sum_t;

static int add_row(sum_t *s, const Cpm__ReportRow *w)
{
    for (size_t i = 0; i < s->n; i++) {
        Cpm__ReportRow *x = s->rows[i];
        if (!strcmp(x->area, w->area)) {
            x->total += w->total, x->open += w->open, x->closed += w->closed;
            x->overdue += w->overdue, x->mapped += w->mapped;
            return 0;
        }
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        Cpm__ReportRow **r = realloc(s->rows, cap * sizeof *r);
        if (!r)
            return -1;
        s->rows = r, s->cap = cap;
    }
    Cpm__ReportRow *x = malloc(sizeof *x);
    if (!x)
        return -1;
    *x = *w;
    if (!(x->area = strdup(w->area))) {
        free(x);
        return -1;
    }
    s->rows[s->n++] = x;
    return 0;
}

static void sum_free(sum_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->rows[i]->area);
        free(s->rows[i]);
    }
    free(s->rows);
}

/* Areas in order, "(triage)" last (as routing sends each page). */
static int cmp_row(const void *a, const void *b)
{
    const Cpm__ReportRow *x = *(Cpm__ReportRow *const *)a, *y = *(Cpm__ReportRow *const *)b;
    bool tx = x->area[0] == '(', ty = y->area[0] == '(';
    if (tx != ty)
        return tx - ty;
    return strcmp(x->area, y->area);
}

static int fetch_page(ctl_t *c, const Cpm__ReportQuery *q, Cpm__ReportReply **out, cpm_error_t *err)
{
    const Cpm__Member *routing = cpm_registry_find_service(c->reg, "routing");
    if (!routing)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "", "the registry has no routing service");
    cpm_msg_t reply = {0};
    if (cpm_client_call(c->client, routing->id, "routing", CPM__MSG_TYPE__MSG_REPORT_QUERY,
                        &q->base, c->timeout_ms, &reply, err) != 0)
        return -1;
    *out = cpm__report_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    cpm_msg_clear(&reply);
    if (!*out)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "undecodable report reply");
    return 0;
}

static const char *flag(const Cpm__ReportRow *w)
{
    return w->shared ? "shared" : w->unmapped ? "unmapped" : "";
}

static void print(bool json, const char *gen, const sum_t *s, bool truncated,
                  const Cpm__ReportQuery *q, int64_t now_ms)
{
    char t[40];
    uint64_t open = 0, closed = 0, overdue = 0, mapped = 0;
    for (size_t i = 0; i < s->n; i++)
        open += s->rows[i]->open, closed += s->rows[i]->closed, overdue += s->rows[i]->overdue,
            mapped += s->rows[i]->mapped;
    if (json) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n; i++) {
            const Cpm__ReportRow *w = s->rows[i];
            json_array_append_new(a, json_pack("{s:s,s:b,s:b,s:I,s:I,s:I,s:I,s:I}", "area",
                                               ctl_utf8(w->area), "shared", w->shared, "unmapped",
                                               w->unmapped, "total", (json_int_t)w->total, "open",
                                               (json_int_t)w->open, "closed", (json_int_t)w->closed,
                                               "overdue", (json_int_t)w->overdue, "mapped",
                                               (json_int_t)w->mapped));
        }
        json_t *o = json_pack("{s:b,s:s,s:o,s:I,s:I,s:I,s:b}", "ok", 1, "generation", ctl_utf8(gen),
                              "rows", a, "cases", (json_int_t)s->cases, "open", (json_int_t)open,
                              "closed", (json_int_t)closed, "truncated", truncated);
        json_object_set_new(o, "overdue", json_integer((json_int_t)overdue));
        json_object_set_new(o, "mapped", json_integer((json_int_t)mapped));
        json_object_set_new(o, "agency", json_string(ctl_utf8(q->agency)));
        json_object_set_new(o, "from", json_string(ctl_time_vn(q->from_ms, t)));
        json_object_set_new(o, "to", json_string(ctl_time_vn(q->to_ms, t)));
        json_object_set_new(o, "at", json_string(ctl_time_vn(now_ms, t)));
        ctl_print_json(o);
        return;
    }
    printf("Cases by area, generation %s%s%s, at %s\n", ctl_safe(gen),
           *q->agency ? ", agency " : "", *q->agency ? ctl_safe(q->agency) : "",
           ctl_time_vn(now_ms, t));
    if (q->from_ms || q->to_ms) {
        char t2[40];
        printf("Received from %s to %s (Asia/Ho_Chi_Minh)\n", ctl_time_vn(q->from_ms, t),
               ctl_time_vn(q->to_ms, t2));
    }
    printf("%-40s %7s %7s %7s %8s %7s  %s\n", "AREA", "TOTAL", "OPEN", "CLOSED", "OVERDUE",
           "MAPPED", "");
    for (size_t i = 0; i < s->n; i++) {
        const Cpm__ReportRow *w = s->rows[i];
        printf("%-40s %7u %7u %7u %8u %7u  %s\n", ctl_safe(w->area), w->total, w->open, w->closed,
               w->overdue, w->mapped, flag(w));
    }
    printf("%-40s %7llu %7llu %7llu %8llu %7llu\n", "(all)", (unsigned long long)s->cases,
           (unsigned long long)open, (unsigned long long)closed, (unsigned long long)overdue,
           (unsigned long long)mapped);
    if (truncated)
        printf("(stopped after %d pages: more cases follow; narrow with --from/--to)\n", MAX_PAGES);
}

int ctl_cmd_monitor_report(const ctl_opts_t *gopts, int argc, char **argv); /* ctl_monitor.c */

int ctl_cmd_report(const ctl_opts_t *gopts, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) /* --period: the monitor's effectiveness report */
        if (!strcmp(argv[i], "--period") || !strncmp(argv[i], "--period=", 9))
            return ctl_cmd_monitor_report(gopts, argc, argv);
    static const struct option longopts[] = {{"generation", required_argument, 0, 'g'},
                                             {"agency", required_argument, 0, 'a'},
                                             {"from", required_argument, 0, 'f'},
                                             {"to", required_argument, 0, 't'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__ReportQuery q = CPM__REPORT_QUERY__INIT;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        if (opt == 'g')
            q.generation = optarg;
        else if (opt == 'a')
            q.agency = optarg;
        else if ((opt == 'f' || opt == 't') &&
                 ctl_parse_time(optarg, opt == 'f' ? &q.from_ms : &q.to_ms) != 0) {
            fprintf(stderr, "cpmctl report: --%s: \"%s\" is not a time (YYYY-MM-DD)\n",
                    opt == 'f' ? "from" : "to", optarg);
            return 2;
        } else if (opt != 'f' && opt != 't')
            return ctl_usage(report_usage, opt == 'h' ? 0 : 2);
    }
    if (optind != argc || !*q.generation)
        return ctl_usage(report_usage, 2);
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    sum_t s = {0};
    char cursor[80] = "";
    int rc = 0, pages = 0;
    int64_t now_ms = 0;
    do {
        q.cursor = cursor;
        Cpm__ReportReply *r = NULL;
        if (fetch_page(&c, &q, &r, &err) != 0) {
            rc = ctl_fail(&c, c.json, &err);
            break;
        }
        for (size_t i = 0; i < r->n_rows && rc == 0; i++)
            if (add_row(&s, r->rows[i]) != 0) {
                cpm_error_set(&err, CPM_E_INTERNAL, "", "out of memory");
                rc = ctl_fail(&c, c.json, &err);
            }
        s.cases += r->cases, s.scanned += r->scanned;
        now_ms = r->now_ms;
        snprintf(cursor, sizeof cursor, "%s", r->next_cursor);
        cpm__report_reply__free_unpacked(r, NULL);
    } while (rc == 0 && *cursor && ++pages < MAX_PAGES);
    if (rc == 0) {
        if (s.n) /* no rows: no array at all */
            qsort(s.rows, s.n, sizeof *s.rows, cmp_row);
        print(c.json, q.generation, &s, *cursor != 0, &q, now_ms);
    }
    sum_free(&s);
    ctl_close(&c);
    return rc;
}
