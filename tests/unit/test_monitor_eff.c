/* monitor_eff: effectiveness arithmetic on a known scenario across weekends,
 * New Year and Tet 2026 (holidays from deploy/hanoi/routing.yaml: 1 Jan,
 * 16-20 Feb, 27 and 30 Apr, 1 May); and the same figures from the per-month
 * aggregates of monitor_agg (kept as facts change, and rebuilt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cpm_rules.h"
#include "cpm_store.h"
#include "monitor_agg.h"
#include "monitor_eff.h"
#include "monitor_facts.h"
#include "monitor_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cpm_rules_t *rules;
static mon_cal_t *cal;

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("CPM_SOURCE_DIR");
    if (!src)
        return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/deploy/hanoi/routing.yaml", src);
    cpm_error_t e = {0};
    if (cpm_rules_load(path, &rules, &e) != 0)
        return -1;
    cal = monitor_cal_from_rules(rules);
    return cal ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mon_cal_destroy(&cal);
    cpm_rules_destroy(&rules);
    return 0;
}

/* UTC ms of a Vietnam local time. */
static int64_t vn(int y, int mo, int d, int h)
{
    int64_t from, to;
    char p[32];
    snprintf(p, sizeof p, "%04d-%02d-%02d..%04d-%02d-%02d", y, mo, d, y + 1, 1, 1);
    assert_int_equal(mon_period_parse(p, &from, &to), 0);
    return from + (int64_t)h * 3600000;
}

static void test_working_days(void **state)
{
    (void)state;
    /* Friday before Tet to the Monday after: 14-22 Feb are weekend or Tet. */
    assert_int_equal(mon_cal_between(cal, vn(2026, 2, 13, 10), vn(2026, 2, 23, 9)), 1);
    /* Same day: 0; New Year's Day (Thu) to Monday 5 Jan: Fri 2 + Mon 5. */
    assert_int_equal(mon_cal_between(cal, vn(2026, 2, 23, 8), vn(2026, 2, 23, 17)), 0);
    assert_int_equal(mon_cal_between(cal, vn(2026, 1, 1, 8), vn(2026, 1, 5, 9)), 2);
    /* 23:30 on Friday 9 Jan Vietnam time is still Friday (UTC 16:30). */
    assert_int_equal(mon_cal_between(cal, vn(2026, 1, 9, 23) + 1800000, vn(2026, 1, 12, 1)), 1);
    /* 20 Apr (Mon) .. 4 May (Mon): 21-24, 28, 29, 4 May = 7 (27, 30 Apr, 1 May off). */
    assert_int_equal(mon_cal_between(cal, vn(2026, 4, 20, 9), vn(2026, 5, 4, 9)), 7);
}

static void test_period(void **state)
{
    (void)state;
    int64_t f, t;
    assert_int_equal(mon_period_parse("2026", &f, &t), 0);
    assert_int_equal(f, 1767200400000LL); /* 2026-01-01T00:00+07:00 */
    assert_int_equal(mon_period_parse("2026-Q4", &f, &t), 0);
    assert_int_equal(t, 1798736400000LL); /* 2027-01-01T00:00+07:00 */
    assert_int_equal(mon_period_parse("2026-02", &f, &t), 0);
    assert_int_not_equal(mon_period_parse("2026-13", &f, &t), 0);
    assert_int_not_equal(mon_period_parse("26", &f, &t), 0);
    assert_int_not_equal(mon_period_parse("2026-05-01..2026-04-01", &f, &t), 0);
    assert_int_not_equal(mon_period_parse("2026x", &f, &t), 0);
}

static mon_case_t mk(const char *ticket, const char *channel, const char *area, int64_t recv,
                     int64_t acc, int64_t res)
{
    mon_case_t c = {.version = MON_CASE_VERSION,
                    .received_ms = recv,
                    .accepted_ms = acc,
                    .resolved_ms = res,
                    .accept_days = 10,
                    .resolve_days = 30};
    snprintf(c.ticket, sizeof c.ticket, "%s", ticket);
    snprintf(c.channel, sizeof c.channel, "%s", channel);
    snprintf(c.area, sizeof c.area, "%s", area);
    snprintf(c.gen, sizeof c.gen, "2025");
    snprintf(c.agency, sizeof c.agency, "hn.d.%s", area);
    snprintf(c.category, sizeof c.category, "food_safety");
    return c;
}

static void scenario(mon_case_t *c, mon_rec_t *r)
{
    /* A: Fri 13 Feb -> accepted Mon 23 Feb (1 day, across Tet). */
    c[0] = mk("A", "hotline", "hoan-kiem", vn(2026, 2, 13, 10), vn(2026, 2, 23, 9), 0);
    /* B: New Year's Day -> accepted Mon 5 Jan (2) -> resolved Fri 30 Jan (21 from receipt,
     * 19 from acceptance: on time), fined. */
    c[1] = mk("B", "web", "ba-dinh", vn(2026, 1, 1, 8), vn(2026, 1, 5, 9), vn(2026, 1, 30, 16));
    c[1].outcome = 4, c[1].fine_vnd = 2000000, c[1].closed = 1;
    /* C: Mon 2 Mar -> accepted Fri 20 Mar (14: late), still open on 1 Jun (48 > 30: overdue). */
    c[2] = mk("C", "hotline", "hoan-kiem", vn(2026, 3, 2, 9), vn(2026, 3, 20, 9), 0);
    /* D: refused. */
    c[3] = mk("D", "web", "hoan-kiem", vn(2026, 2, 13, 11), 0, 0);
    c[3].refused = 1, c[3].closed = 1, c[3].transferred = 1;
    /* E: last year: outside the period. */
    c[4] = mk("E", "web", "hoan-kiem", vn(2025, 12, 31, 9), vn(2026, 1, 2, 9), 0);
    /* F: Saturday 14 Feb, never accepted: overdue on 1 Jun. */
    c[5] = mk("F", "hotline", "hoan-kiem", vn(2026, 2, 14, 9), 0, 0);
    c[5].returned = 1;
    mon_rec_t cons = {
        .version = MON_REC_VERSION, .kind = MON_REC_CONSULTATION, .at_ms = vn(2026, 2, 17, 9)};
    snprintf(cons.agency, sizeof cons.agency, "hn.doit");
    mon_rec_t viol = {.version = MON_REC_VERSION,
                      .kind = MON_REC_VIOLATION,
                      .at_ms = vn(2026, 3, 3, 9),
                      .fine_vnd = 5000000};
    snprintf(viol.agency, sizeof viol.agency, "hn.d.hoan-kiem");
    snprintf(viol.area, sizeof viol.area, "hoan-kiem");
    snprintf(viol.gen, sizeof viol.gen, "2025");
    mon_rec_t old = viol;
    old.at_ms = vn(2025, 6, 1, 9);
    mon_rec_t insp = viol;
    insp.kind = MON_REC_INSPECTION, insp.fine_vnd = 0;
    r[0] = cons, r[1] = viol, r[2] = old, r[3] = insp;
}

static void test_city(void **state)
{
    (void)state;
    mon_case_t c[6];
    mon_rec_t r[4];
    scenario(c, r);
    mon_query_t q = {.now_ms = vn(2026, 6, 1, 12)};
    assert_int_equal(mon_period_parse("2026", &q.from_ms, &q.to_ms), 0);
    mon_eff_t e;
    assert_int_equal(mon_eff_compute(cal, &q, c, 6, r, 4, &e), 0);
    assert_int_equal(e.received, 5);
    assert_int_equal(e.accepted, 3);
    assert_int_equal(e.refused, 1);
    assert_int_equal(e.returned, 1);
    assert_int_equal(e.transferred, 1);
    assert_int_equal(e.resolved, 1);
    /* accept days {1, 2, 14}: median (2nd) 2, p90 (3rd) 14 */
    assert_int_equal(e.accept_median, 2);
    assert_int_equal(e.accept_p90, 14);
    assert_int_equal(e.resolve_median, 21);
    assert_int_equal(e.resolve_p90, 21);
    assert_int_equal(e.accept_timed, 3);
    assert_int_equal(e.accept_on_time, 2);
    assert_int_equal(e.resolve_on_time, 1);
    assert_int_equal(e.overdue_now, 3); /* A, C (resolve: > 30 after acceptance), F (accept) */
    assert_int_equal(e.open, 3);        /* A, C, F */
    assert_int_equal(e.consultations, 1);
    assert_int_equal(e.violations, 1);
    assert_int_equal(e.inspections, 1);
    assert_int_equal(e.fines_vnd, 5000000);
    assert_int_equal(e.case_fines_vnd, 2000000);
    assert_int_equal(e.outcomes[4], 1);
    assert_int_equal(e.n_channels, 2);
    assert_string_equal(e.channels[0].key, "hotline");
    assert_int_equal(e.channels[0].n, 3);
    assert_int_equal(e.channels[1].n, 2);

    char *out;
    size_t len;
    mon_title_t t = {"2026", "", "", 0, 0};
    assert_int_equal(monitor_render("csv", &t, &e, &out, &len), 0);
    assert_non_null(strstr(out, "figure,accept_days_p90,14\n"));
    free(out);
    assert_int_equal(monitor_render("json", &t, &e, &out, &len), 0);
    assert_non_null(strstr(out, "\"overdue_now\":3"));
    free(out);
    assert_int_not_equal(monitor_render("pdf", &t, &e, &out, &len), 0);
}

static void test_filters(void **state)
{
    (void)state;
    mon_case_t c[6];
    mon_rec_t r[4];
    scenario(c, r);
    mon_query_t q = {.now_ms = vn(2026, 6, 1, 12), .agency = "hn.d.ba-dinh"};
    assert_int_equal(mon_period_parse("2026-01", &q.from_ms, &q.to_ms), 0);
    mon_eff_t e;
    assert_int_equal(mon_eff_compute(cal, &q, c, 6, r, 4, &e), 0);
    assert_int_equal(e.received, 1);
    assert_int_equal(e.resolved, 1);
    /* Area: hoan-kiem of 2025, and a 2024 unit given as mapping onto it alone. */
    c[3].gen[0] = 0;
    snprintf(c[3].gen, sizeof c[3].gen, "2024");
    mon_area_t a[2] = {{"2025", "hoan-kiem"}, {"2024", "hoan-kiem"}};
    mon_query_t qa = {.now_ms = q.now_ms, .areas = a, .n_areas = 1};
    assert_int_equal(mon_period_parse("2026", &qa.from_ms, &qa.to_ms), 0);
    assert_int_equal(mon_eff_compute(cal, &qa, c, 6, r, 4, &e), 0);
    assert_int_equal(e.received, 3); /* A, C, F; not D (2024) */
    qa.n_areas = 2;
    assert_int_equal(mon_eff_compute(cal, &qa, c, 6, r, 4, &e), 0);
    assert_int_equal(e.received, 4);
}

static void test_areas_lineage(void **state)
{
    (void)state;
    mon_area_t *a;
    size_t n;
    assert_int_equal(monitor_areas(rules, "2025:hoan-kiem", 0, &a, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(a[0].gen, "2025");
    free(a);
    assert_int_not_equal(monitor_areas(rules, "nowhere", 0, &a, &n), 0);
}

static void test_overdue_day(void **state)
{
    (void)state;
    /* Saturday 14 Feb + 10 working days (Tet 16-20 Feb off) ends Friday 6 Mar:
     * overdue from Monday 9 Mar. */
    assert_int_equal(mon_cal_overdue_day(cal, vn(2026, 2, 14, 9), 10),
                     mon_day_of(vn(2026, 3, 9, 12)));
    assert_int_equal(mon_cal_between(cal, vn(2026, 2, 14, 9), vn(2026, 3, 6, 12)), 10);
    assert_int_equal(mon_cal_between(cal, vn(2026, 2, 14, 9), vn(2026, 3, 9, 12)), 11);
    assert_int_equal(mon_month_of(vn(2026, 2, 28, 23)), 202602);
    assert_int_equal(mon_month_of(vn(2026, 3, 1, 0)), 202603);
    assert_int_equal(mon_month_start(202603), vn(2026, 3, 1, 0));
}

/* Every figure of a equals b's. */
static void assert_same(const mon_eff_t *a, const mon_eff_t *b)
{
    assert_int_equal(a->received, b->received);
    assert_int_equal(a->consultations, b->consultations);
    assert_int_equal(a->accepted, b->accepted);
    assert_int_equal(a->refused, b->refused);
    assert_int_equal(a->returned, b->returned);
    assert_int_equal(a->transferred, b->transferred);
    assert_int_equal(a->resolved, b->resolved);
    assert_int_equal(a->overdue_now, b->overdue_now);
    assert_int_equal(a->open, b->open);
    assert_int_equal(a->accept_median, b->accept_median);
    assert_int_equal(a->accept_p90, b->accept_p90);
    assert_int_equal(a->resolve_median, b->resolve_median);
    assert_int_equal(a->resolve_p90, b->resolve_p90);
    assert_int_equal(a->accept_timed, b->accept_timed);
    assert_int_equal(a->accept_on_time, b->accept_on_time);
    assert_int_equal(a->resolve_timed, b->resolve_timed);
    assert_int_equal(a->resolve_on_time, b->resolve_on_time);
    assert_int_equal(a->inspections, b->inspections);
    assert_int_equal(a->violations, b->violations);
    assert_int_equal(a->fines_vnd, b->fines_vnd);
    assert_int_equal(a->case_fines_vnd, b->case_fines_vnd);
    assert_memory_equal(a->outcomes, b->outcomes, sizeof a->outcomes);
    assert_int_equal(a->n_channels, b->n_channels);
    assert_int_equal(a->n_categories, b->n_categories);
    assert_int_equal(a->n_areas, b->n_areas);
    for (size_t i = 0; i < a->n_channels; i++) {
        assert_string_equal(a->channels[i].key, b->channels[i].key);
        assert_int_equal(a->channels[i].n, b->channels[i].n);
    }
    for (size_t i = 0; i < a->n_areas; i++) {
        assert_string_equal(a->areas[i].key, b->areas[i].key);
        assert_int_equal(a->areas[i].n, b->areas[i].n);
    }
}

/* The aggregates of store st against the walk over c/r for q. */
static void check_agg(cpm_store_t *st, const mon_query_t *q, const mon_case_t *c, size_t nc,
                      const mon_rec_t *r, size_t nr)
{
    static mon_eff_t scan, agg;
    assert_true(monitor_agg_covers(q));
    assert_int_equal(mon_eff_compute(cal, q, c, nc, r, nr, &scan), 0);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(st, false, &txn), 0);
    assert_true(monitor_agg_ready(st, txn));
    assert_int_equal(monitor_agg_compute(st, txn, cal, q, &agg), 0);
    cpm_store_abort(&txn);
    assert_same(&agg, &scan);
}

/* The walk of q's period through the time index against the walk over c/r. */
static void check_scan(cpm_store_t *st, const mon_query_t *q, const mon_case_t *c, size_t nc,
                       const mon_rec_t *r, size_t nr)
{
    static mon_eff_t all, period;
    assert_int_equal(mon_eff_compute(cal, q, c, nc, r, nr, &all), 0);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(st, false, &txn), 0);
    assert_int_equal(monitor_agg_scan(st, txn, cal, q, &period), 0);
    cpm_store_abort(&txn);
    assert_same(&period, &all);
}

static void test_aggregates(void **state)
{
    (void)state;
    static const char *const dbs[] = {MONITOR_DATABASES, NULL};
    char dir[] = "/tmp/test-monitor-agg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[200];
    cpm_store_t *st = cpm_store_open(dir, 64 << 20, dbs, err, sizeof err);
    assert_non_null(st);
    mon_case_t c[6];
    mon_rec_t r[4];
    scenario(c, r);
    snprintf(c[3].gen, sizeof c[3].gen, "2024"); /* D in the older generation */
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(st, true, &txn), 0);
    for (int i = 0; i < 6; i++) {
        /* As the events come: received (open, no agency yet), then the final
         * fact; C also resolved, reopened and back. */
        mon_case_t rcv = c[i];
        rcv.accepted_ms = rcv.resolved_ms = 0, rcv.closed = 0, rcv.refused = 0;
        rcv.outcome = 0, rcv.fine_vnd = 0, rcv.agency[0] = 0;
        assert_int_equal(monitor_agg_case(st, txn, cal, NULL, &rcv), 0);
        assert_int_equal(monitor_agg_case(st, txn, cal, &rcv, &c[i]), 0);
    }
    mon_case_t res = c[2];
    res.resolved_ms = vn(2026, 4, 29, 9), res.closed = 1, res.outcome = 2;
    assert_int_equal(monitor_agg_case(st, txn, cal, &c[2], &res), 0);
    assert_int_equal(monitor_agg_case(st, txn, cal, &res, &c[2]), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(monitor_agg_rec(st, txn, "n/s/x", 5, &r[i]), 0);
    assert_int_equal(cpm_store_put_u64(st, txn, MONITOR_AGG_KEY, MONITOR_AGG_VERSION), 0);
    assert_int_equal(cpm_store_commit(txn), 0);

    /* The known figures of test_city, from the aggregates. */
    mon_query_t q = {.now_ms = vn(2026, 6, 1, 12)};
    assert_int_equal(mon_period_parse("2026", &q.from_ms, &q.to_ms), 0);
    mon_eff_t e;
    assert_int_equal(cpm_store_begin(st, false, &txn), 0);
    assert_int_equal(monitor_agg_compute(st, txn, cal, &q, &e), 0);
    cpm_store_abort(&txn);
    assert_int_equal(e.received, 5);
    assert_int_equal(e.accept_median, 2);
    assert_int_equal(e.accept_p90, 14);
    assert_int_equal(e.resolve_median, 21);
    assert_int_equal(e.overdue_now, 3);
    assert_int_equal(e.open, 3);
    assert_int_equal(e.fines_vnd, 5000000);
    check_agg(st, &q, c, 6, r, 4);
    /* Overdue "now" moves with now: on 6 Mar F is not yet overdue (due that
     * day), A is not (accepted), C is not received yet. */
    q.now_ms = vn(2026, 3, 6, 12);
    check_agg(st, &q, c, 6, r, 4);
    q.now_ms = vn(2026, 3, 9, 12);
    check_agg(st, &q, c, 6, r, 4);
    /* Months, quarters, an agency, an area through both generations. */
    q.now_ms = vn(2026, 6, 1, 12);
    const char *periods[] = {"2026-01", "2026-02", "2026-Q1", "2025", "2026-03-01..2026-05-01"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(mon_period_parse(periods[i], &q.from_ms, &q.to_ms), 0);
        check_agg(st, &q, c, 6, r, 4);
    }
    q.agency = "hn.d.hoan-kiem";
    check_agg(st, &q, c, 6, r, 4);
    q.agency = NULL;
    mon_area_t a[2] = {{"2025", "hoan-kiem"}, {"2024", "hoan-kiem"}};
    q.areas = a, q.n_areas = 1;
    assert_int_equal(mon_period_parse("2026", &q.from_ms, &q.to_ms), 0);
    check_agg(st, &q, c, 6, r, 4);
    q.n_areas = 2;
    check_agg(st, &q, c, 6, r, 4);
    /* Not whole months, or agency and area together: the walk answers. */
    q.agency = "hn.d.hoan-kiem";
    assert_false(monitor_agg_covers(&q));
    q.agency = NULL, q.areas = NULL;
    assert_int_equal(mon_period_parse("2026-03-01..2026-03-15", &q.from_ms, &q.to_ms), 0);
    assert_false(monitor_agg_covers(&q));

    /* Rebuilt from the facts, two at a time: the same figures. */
    assert_int_equal(cpm_store_begin(st, true, &txn), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(cpm_store_put(st, txn, "mon_cases", c[i].ticket, strlen(c[i].ticket),
                                       &c[i], sizeof c[i]),
                         0);
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof key, "n/s/%d", i);
        assert_int_equal(cpm_store_put(st, txn, "mon_recs", key, strlen(key), &r[i], sizeof r[i]),
                         0);
    }
    assert_int_equal(cpm_store_put_u64(st, txn, MONITOR_AGG_KEY, 0), 0);
    assert_false(monitor_agg_ready(st, txn));
    monitor_agg_pos_t pos = {0};
    int rc, steps = 0;
    while ((rc = monitor_agg_rebuild(st, txn, cal, &pos, 2)) == 0)
        steps++;
    assert_int_equal(rc, 1);
    assert_true(steps >= 4);
    assert_int_equal(cpm_store_commit(txn), 0);
    assert_int_equal(mon_period_parse("2026", &q.from_ms, &q.to_ms), 0);
    check_agg(st, &q, c, 6, r, 4);
    q.areas = a, q.n_areas = 2;
    check_agg(st, &q, c, 6, r, 4);
    /* Any other query walks the period's facts through the time index. */
    q.areas = NULL, q.n_areas = 0;
    const char *odd[] = {"2026-02-13..2026-03-03",
                         "2026-02-14..2026-02-15",
                         "2025-12-31..2026-01-02",
                         "2026-03-03..2026-03-04",
                         "2026",
                         "2026-01-15..2026-04-10",
                         "2025-12-31..2026-06-02",
                         "2026-02-14..2026-03-02"};
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(mon_period_parse(odd[i], &q.from_ms, &q.to_ms), 0);
        check_scan(st, &q, c, 6, r, 4);
    }
    q.agency = "hn.d.hoan-kiem", q.areas = a, q.n_areas = 2; /* both: no group */
    check_scan(st, &q, c, 6, r, 4);
    /* A case whose time received changes moves in the index. */
    assert_int_equal(cpm_store_begin(st, true, &txn), 0);
    mon_case_t moved = c[0];
    moved.received_ms = vn(2026, 7, 1, 9);
    assert_int_equal(monitor_agg_case(st, txn, cal, &c[0], &moved), 0);
    assert_int_equal(cpm_store_put(st, txn, "mon_cases", moved.ticket, strlen(moved.ticket), &moved,
                                   sizeof moved),
                     0);
    assert_int_equal(cpm_store_commit(txn), 0);
    c[0] = moved;
    q.agency = NULL, q.areas = NULL;
    assert_int_equal(mon_period_parse("2026-02-01..2026-07-02", &q.from_ms, &q.to_ms), 0);
    check_scan(st, &q, c, 6, r, 4);
    assert_int_equal(mon_period_parse("2026-02-01..2026-03-01", &q.from_ms, &q.to_ms), 0);
    check_scan(st, &q, c, 6, r, 4);

    cpm_store_destroy(&st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_working_days),  cmocka_unit_test(test_period),
        cmocka_unit_test(test_city),          cmocka_unit_test(test_filters),
        cmocka_unit_test(test_areas_lineage), cmocka_unit_test(test_overdue_day),
        cmocka_unit_test(test_aggregates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
