/* bench_monitor: the monitor's report over 1,000,000 case facts (and
 * 200,000 records) on a real LMDB store: the whole year for the city, one
 * agency, one area through the lineage; from the per-month aggregates
 * (monitor_agg_compute, what the service answers for whole months) and by a
 * walk of every fact (monitor_compute, the fallback), against the same
 * computation over the facts in memory (the baseline). Every figure of the
 * three must agree (else MISMATCH and exit 1).
 *
 *   build/bench_monitor [SOURCE_DIR] [CASES]   (no mesh; prints, asserts no timing) */
#include "cpm_rules.h"
#include "cpm_store.h"
#include "monitor_agg.h"
#include "monitor_eff.h"
#include "monitor_facts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool same(const mon_eff_t *a, const mon_eff_t *b)
{
    bool ok = a->received == b->received && a->consultations == b->consultations &&
              a->accepted == b->accepted && a->refused == b->refused &&
              a->returned == b->returned && a->transferred == b->transferred &&
              a->resolved == b->resolved && a->overdue_now == b->overdue_now &&
              a->open == b->open && a->accept_median == b->accept_median &&
              a->accept_p90 == b->accept_p90 && a->resolve_median == b->resolve_median &&
              a->resolve_p90 == b->resolve_p90 && a->accept_timed == b->accept_timed &&
              a->accept_on_time == b->accept_on_time && a->resolve_timed == b->resolve_timed &&
              a->resolve_on_time == b->resolve_on_time && a->inspections == b->inspections &&
              a->violations == b->violations && a->fines_vnd == b->fines_vnd &&
              a->case_fines_vnd == b->case_fines_vnd && a->n_channels == b->n_channels &&
              a->n_categories == b->n_categories && a->n_areas == b->n_areas &&
              a->other == b->other && !memcmp(a->outcomes, b->outcomes, sizeof a->outcomes);
    for (size_t i = 0; ok && i < a->n_channels; i++)
        ok =
            !strcmp(a->channels[i].key, b->channels[i].key) && a->channels[i].n == b->channels[i].n;
    for (size_t i = 0; ok && i < a->n_categories; i++)
        ok = !strcmp(a->categories[i].key, b->categories[i].key) &&
             a->categories[i].n == b->categories[i].n;
    for (size_t i = 0; ok && i < a->n_areas; i++)
        ok = !strcmp(a->areas[i].key, b->areas[i].key) && a->areas[i].n == b->areas[i].n;
    return ok;
}

static const char *AREAS[] = {"hoan-kiem", "ba-dinh", "cau-giay", "dong-da", "tay-ho", "ba-vi"};
static const char *CHANNELS[] = {"hotline", "web", "email", "walk_in", "app"};

int main(int argc, char **argv)
{
    const char *src = argc > 1 ? argv[1] : ".";
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    size_t n_recs = n / 5;
    char path[600];
    snprintf(path, sizeof path, "%s/deploy/hanoi/routing.yaml", src);
    cpm_rules_t *rules;
    cpm_error_t e = {0};
    if (cpm_rules_load(path, &rules, &e) != 0) {
        fprintf(stderr, "bench_monitor: %s: %s\n", path, e.message);
        return 1;
    }
    mon_cal_t *cal = monitor_cal_from_rules(rules);
    int64_t from, to;
    if (!cal || mon_period_parse("2026", &from, &to) != 0)
        return 1;
    mon_case_t *cases = calloc(n, sizeof *cases);
    mon_rec_t *recs = calloc(n_recs, sizeof *recs);
    if (!cases || !recs)
        return 1;
    srand(7);
    for (size_t i = 0; i < n; i++) {
        mon_case_t *c = &cases[i];
        c->version = MON_CASE_VERSION;
        snprintf(c->ticket, sizeof c->ticket, "T-%09zu", i);
        const char *a = AREAS[i % 6];
        snprintf(c->area, sizeof c->area, "%s", a);
        snprintf(c->gen, sizeof c->gen, "%s", i % 10 ? "2025" : "2024");
        snprintf(c->agency, sizeof c->agency, "hn.d.%s", a);
        snprintf(c->category, sizeof c->category, "cat%zu", i % 12);
        snprintf(c->channel, sizeof c->channel, "%s", CHANNELS[i % 5]);
        c->received_ms = from + (int64_t)(rand() % 360) * 86400000LL + rand() % 86400000;
        c->accept_days = 10, c->resolve_days = 30;
        if (i % 4)
            c->accepted_ms = c->received_ms + (int64_t)(rand() % 15) * 86400000LL;
        if (i % 4 == 1)
            c->resolved_ms = c->accepted_ms + (int64_t)(rand() % 40) * 86400000LL,
            c->outcome = 1 + (uint32_t)(i % 7), c->closed = 1;
        c->refused = i % 13 == 0;
    }
    for (size_t i = 0; i < n_recs; i++) {
        mon_rec_t *r = &recs[i];
        r->version = MON_REC_VERSION, r->kind = 1 + (uint32_t)(i % 3);
        r->at_ms = from + (int64_t)(rand() % 360) * 86400000LL;
        snprintf(r->agency, sizeof r->agency, "hn.d.%s", AREAS[i % 6]);
        snprintf(r->area, sizeof r->area, "%s", AREAS[i % 6]);
        snprintf(r->gen, sizeof r->gen, "2025");
        r->fine_vnd = r->kind == MON_REC_VIOLATION ? 1000000 : 0;
    }
    char dir[] = "/tmp/bench-monitor-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    static const char *const dbs[] = {MONITOR_DATABASES, NULL};
    char err[256];
    cpm_store_t *st = cpm_store_open(dir, (size_t)4 << 30, dbs, err, sizeof err);
    if (!st) {
        fprintf(stderr, "bench_monitor: %s\n", err);
        return 1;
    }
    double t0 = now_s();
    for (size_t i = 0; i < n;) {
        MDB_txn *txn;
        if (cpm_store_begin(st, true, &txn) != 0)
            return 1;
        for (size_t k = 0; k < 10000 && i < n; k++, i++)
            if (cpm_store_put(st, txn, "mon_cases", cases[i].ticket, strlen(cases[i].ticket),
                              &cases[i], sizeof cases[i]) != 0)
                return 1;
        if (cpm_store_commit(txn) != 0)
            return 1;
    }
    double t1 = now_s(), c1 = cpu_s();
    /* The aggregates, as the service keeps them: a case received, then
     * updated in place (accepted, resolved) as its events arrive. */
    for (size_t i = 0; i < n;) {
        MDB_txn *txn;
        if (cpm_store_begin(st, true, &txn) != 0)
            return 1;
        for (size_t k = 0; k < 10000 && i < n; k++, i++) {
            mon_case_t rcv = cases[i], acc = cases[i];
            rcv.accepted_ms = rcv.resolved_ms = 0, rcv.outcome = 0, rcv.closed = 0;
            rcv.refused = 0, acc.resolved_ms = 0, acc.outcome = 0, acc.closed = 0;
            if (monitor_agg_case(st, txn, cal, NULL, &rcv) != 0 ||
                monitor_agg_case(st, txn, cal, &rcv, &acc) != 0 ||
                monitor_agg_case(st, txn, cal, &acc, &cases[i]) != 0)
                return 1;
        }
        if (cpm_store_commit(txn) != 0)
            return 1;
    }
    double t2 = now_s(), c2 = cpu_s();
    MDB_txn *txn;
    if (cpm_store_begin(st, true, &txn) != 0)
        return 1;
    for (size_t i = 0; i < n_recs; i++) {
        char key[32];
        snprintf(key, sizeof key, "n/s/%020zu", i);
        if (cpm_store_put(st, txn, "mon_recs", key, strlen(key), &recs[i], sizeof recs[i]) != 0 ||
            monitor_agg_rec(st, txn, key, strlen(key), &recs[i]) != 0)
            return 1;
    }
    if (cpm_store_put_u64(st, txn, MONITOR_AGG_KEY, MONITOR_AGG_VERSION) != 0 ||
        cpm_store_commit(txn) != 0)
        return 1;
    double t3 = now_s();
    printf("filled %zu cases in %.1f s; their aggregates, 3 updates per case, %.1f s (%.1f us "
           "per update; CPU %.1f us); %zu records with theirs %.1f s\n",
           n, t1 - t0, t2 - t1, (t2 - t1) * 1e6 / (3.0 * (double)n),
           (c2 - c1) * 1e6 / (3.0 * (double)n), n_recs, t3 - t2);

    mon_area_t *areas;
    size_t n_areas;
    if (monitor_areas(rules, "hoan-kiem", to - 1, &areas, &n_areas) != 0)
        return 1;
    struct {
        const char *name;
        mon_query_t q;
    } runs[] = {
        {"city", {.from_ms = from, .to_ms = to, .now_ms = to}},
        {"agency hn.d.ba-dinh",
         {.from_ms = from, .to_ms = to, .now_ms = to, .agency = "hn.d.ba-dinh"}},
        {"area hoan-kiem (lineage)",
         {.from_ms = from, .to_ms = to, .now_ms = to, .areas = areas, .n_areas = n_areas}},
        /* not whole months: months from the aggregates, the edges walked */
        {"city 01-15..12-20",
         {.from_ms = from + 14 * 86400000LL, .to_ms = to - 11 * 86400000LL, .now_ms = to}},
        /* an agency and an area: no group, the period walked */
        {"agency+area, March",
         {.from_ms = from + 59 * 86400000LL,
          .to_ms = from + 90 * 86400000LL,
          .now_ms = to,
          .agency = "hn.d.hoan-kiem",
          .areas = areas,
          .n_areas = n_areas}},
    };
    int bad = 0;
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        static mon_eff_t out, agg, base;
        if (cpm_store_begin(st, false, &txn) != 0)
            return 1;
        double a = now_s();
        if (monitor_compute(st, txn, cal, &runs[r].q, &out) != 0)
            return 1;
        double b = now_s();
        if ((monitor_agg_covers(&runs[r].q)
                 ? monitor_agg_compute(st, txn, cal, &runs[r].q, &agg)
                 : monitor_agg_scan(st, txn, cal, &runs[r].q, &agg)) != 0)
            return 1;
        double c = now_s();
        cpm_store_abort(&txn);
        if (mon_eff_compute(cal, &runs[r].q, cases, n, recs, n_recs, &base) != 0)
            return 1;
        double d = now_s();
        bool ok = same(&out, &base) && same(&agg, &base);
        bad += !ok;
        printf("%-26s aggregates %6.2f ms  walk %6.0f ms  in-memory baseline %5.0f ms  "
               "(walk/aggregates %.0fx, baseline/aggregates %.0fx; %llu cases, accept p90 %d, "
               "overdue %llu)%s\n",
               runs[r].name, (c - b) * 1e3, (b - a) * 1e3, (d - c) * 1e3, (b - a) / (c - b),
               (d - c) / (c - b), (unsigned long long)agg.received, agg.accept_p90,
               (unsigned long long)agg.overdue_now, ok ? "" : "  MISMATCH");
    }
    free(areas);
    cpm_store_destroy(&st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_monitor: could not remove %s\n", dir);
    mon_cal_destroy(&cal);
    cpm_rules_destroy(&rules);
    free(cases);
    free(recs);
    return bad ? 1 : 0;
}
