/* monitor_targets: targets.csv parsing, activities counted once per year,
 * progress with what is missing, refusals naming the field; and facts from
 * events with the cursor in the same transaction (monitor_apply). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cpm_store.h"
#include "fixtures/domain/domain_fixture.h"
#include "monitor_facts.h"
#include "monitor_targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cpm_store_t *open_store(char *dir)
{
    static const char *const dbs[] = {MONITOR_DATABASES, NULL};
    assert_non_null(mkdtemp(dir));
    char err[200];
    cpm_store_t *st = cpm_store_open(dir, 64 << 20, dbs, err, sizeof err);
    assert_non_null(st);
    return st;
}

static void rm(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static mon_targets_t *load(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/deploy/hanoi/targets.csv", getenv("CPM_SOURCE_DIR"));
    mon_targets_t *t;
    cpm_error_t e = {0};
    assert_int_equal(mon_targets_load(path, &t, &e), 0);
    return t;
}

static int rec(mon_targets_t *t, cpm_store_t *st, MDB_txn *txn, const char *target,
               const char *title, const char *date, const char *org, bool *dup, cpm_error_t *e)
{
    Cpm__ProgrammeActivity a = CPM__PROGRAMME_ACTIVITY__INIT;
    a.target = (char *)target, a.title = (char *)title, a.date = (char *)date;
    a.org = (char *)org;
    Cpm__ProgrammeRecordReply r = CPM__PROGRAMME_RECORD_REPLY__INIT;
    int rc =
        mon_targets_record(t, st, txn, "hn.doit", false, &a, (const uint8_t *)"frame", 5, &r, e);
    if (rc == 0) {
        *dup = r.duplicate;
        mon_targets_reply_clear(&r);
    }
    return rc;
}

static const Cpm__TargetProgress *get(const Cpm__ProgrammeProgressReply *r, const char *id)
{
    for (size_t i = 0; i < r->n_targets; i++)
        if (!strcmp(r->targets[i]->id, id))
            return r->targets[i];
    fail_msg("no target %s", id);
    return NULL;
}

static void test_progress(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-mon-targets-XXXXXX";
    cpm_store_t *st = open_store(dir);
    mon_targets_t *t = load();
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(st, true, &txn), 0);
    bool dup;
    cpm_error_t e = {0};
    assert_int_equal(rec(t, st, txn, "news_articles", "A", "2026-03-15", "", &dup, &e), 0);
    assert_false(dup);
    assert_int_equal(rec(t, st, txn, "news_articles", "A", "2026-04-01", "", &dup, &e), 0);
    assert_true(dup); /* the same article, the same year */
    assert_int_equal(rec(t, st, txn, "news_articles", "A", "2025-04-01", "", &dup, &e), 0);
    assert_false(dup); /* another year */
    assert_int_equal(rec(t, st, txn, "hotline_systems", "1800 6838", "2024-01-01", "", &dup, &e),
                     0);
    assert_int_equal(
        rec(t, st, txn, "orgs_in_awareness", "", "2026-05-01", "Women's Union", &dup, &e), 0);
    assert_int_equal(rec(t, st, txn, "nope", "x", "2026-01-01", "", &dup, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "target");
    assert_int_equal(rec(t, st, txn, "news_articles", "x", "2026-1-1", "", &dup, &e),
                     CPM_E_INVALID);
    assert_string_equal(e.field, "date");
    assert_int_equal(rec(t, st, txn, "news_articles", "", "2026-01-01", "", &dup, &e),
                     CPM_E_INVALID);
    assert_string_equal(e.field, "title");
    assert_int_equal(rec(t, st, txn, "orgs_in_awareness", "", "2026-01-01", "", &dup, &e),
                     CPM_E_INVALID);
    assert_string_equal(e.field, "org");
    assert_int_equal(rec(t, st, txn, "news_articles", "a/b", "2026-01-01", "", &dup, &e),
                     CPM_E_INVALID);

    Cpm__ProgrammeProgressReply *r;
    assert_int_equal(mon_targets_progress(t, st, txn, NULL, 2026, &r, &e), 0);
    assert_int_equal(r->n_targets, 9);
    const Cpm__TargetProgress *p = get(r, "news_articles");
    assert_int_equal(p->done, 1);
    assert_int_equal(p->required, 50);
    assert_false(p->met);
    assert_string_equal(p->missing, "49 more needed");
    p = get(r, "hotline_systems"); /* standing: the 2024 record still counts */
    assert_int_equal(p->done, 1);
    assert_true(p->met);
    p = get(r, "orgs_in_awareness");
    assert_int_equal(p->done, 1);
    assert_int_equal(p->required, 0);
    assert_non_null(strstr(p->missing, "programme roster"));
    mon_targets_progress_free(&r);
    assert_int_equal(mon_targets_progress(t, st, txn, NULL, 1990, &r, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "year");
    cpm_store_abort(&txn);
    mon_targets_destroy(&t);
    cpm_store_destroy(&st);
    rm(dir);
}

/* A roster stated by a member (city or not): count and names. */
static int roster(mon_targets_t *t, cpm_store_t *st, MDB_txn *txn, bool city, const char *target,
                  const char *date, uint64_t n, char **names, size_t nn, cpm_error_t *e)
{
    Cpm__ProgrammeActivity a = CPM__PROGRAMME_ACTIVITY__INIT;
    a.target = (char *)target, a.date = (char *)date;
    a.roster_count = n, a.roster = names, a.n_roster = nn;
    Cpm__ProgrammeRecordReply r = CPM__PROGRAMME_RECORD_REPLY__INIT;
    int rc =
        mon_targets_record(t, st, txn, "hn.doit", city, &a, (const uint8_t *)"frame", 5, &r, e);
    if (rc == 0) {
        assert_non_null(strstr(r.key, "roster/"));
        mon_targets_reply_clear(&r);
    }
    return rc;
}

static const Cpm__TargetProgress *progress(mon_targets_t *t, cpm_store_t *st, MDB_txn *txn,
                                           const cpm_registry_t *reg, uint32_t year, const char *id,
                                           Cpm__ProgrammeProgressReply **r)
{
    cpm_error_t e = {0};
    assert_int_equal(mon_targets_progress(t, st, txn, reg, year, r, &e), 0);
    return get(*r, id);
}

/* "100%" against a roster the city states (count, or names with who is
 * missing), and officials against the registry's officials. */
static void test_roster(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-mon-roster-XXXXXX";
    cpm_store_t *st = open_store(dir);
    mon_targets_t *t = load();
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(st, true, &txn), 0);
    bool dup;
    cpm_error_t e = {0};
    const char *orgs = "orgs_in_awareness";
    assert_int_equal(rec(t, st, txn, orgs, "", "2026-05-01", "Women's Union", &dup, &e), 0);
    assert_int_equal(rec(t, st, txn, orgs, "", "2026-05-02", "Youth Union", &dup, &e), 0);

    /* Refused: not a city coordinator; not a 100% target; a bad name. */
    assert_int_equal(roster(t, st, txn, false, orgs, "2026-01-10", 3, NULL, 0, &e),
                     CPM_E_FORBIDDEN);
    assert_string_equal(e.field, "roster");
    assert_int_equal(roster(t, st, txn, true, "news_articles", "2026-01-10", 3, NULL, 0, &e),
                     CPM_E_INVALID);
    assert_string_equal(e.field, "target");
    char *bad[] = {"a/b"};
    assert_int_equal(roster(t, st, txn, true, orgs, "2026-01-10", 0, bad, 1, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "roster");
    Cpm__ProgrammeProgressReply *r;
    const Cpm__TargetProgress *p = progress(t, st, txn, NULL, 2026, orgs, &r);
    assert_int_equal(p->required, 0); /* nothing stated yet */
    mon_targets_progress_free(&r);

    /* A count: any organisation trained counts. */
    assert_int_equal(roster(t, st, txn, true, orgs, "2026-01-10", 3, NULL, 0, &e), 0);
    p = progress(t, st, txn, NULL, 2026, orgs, &r);
    assert_int_equal(p->done, 2);
    assert_int_equal(p->required, 3);
    assert_false(p->met);
    assert_string_equal(p->missing, "1 more needed");
    assert_non_null(strstr(p->denominator, "2026-01-10"));
    mon_targets_progress_free(&r);

    /* A later roster with names: only those count, the rest are listed. */
    char *names[] = {"Women's Union", "Farmers' Association", "Veterans' Association"};
    assert_int_equal(roster(t, st, txn, true, orgs, "2026-06-01", 0, names, 3, &e), 0);
    p = progress(t, st, txn, NULL, 2026, orgs, &r);
    assert_int_equal(p->done, 1);
    assert_int_equal(p->required, 3);
    assert_int_equal(p->n_not_yet, 2);
    assert_string_equal(p->not_yet[0], "Farmers' Association");
    assert_string_equal(p->missing, "2 more needed: Farmers' Association, Veterans' Association");
    mon_targets_progress_free(&r);
    /* A roster dated after the year does not apply to it; none before 2026. */
    assert_int_equal(roster(t, st, txn, true, orgs, "2027-01-05", 1, NULL, 0, &e), 0);
    p = progress(t, st, txn, NULL, 2026, orgs, &r);
    assert_int_equal(p->required, 3);
    mon_targets_progress_free(&r);
    p = progress(t, st, txn, NULL, 2025, orgs, &r);
    assert_int_equal(p->required, 0);
    mon_targets_progress_free(&r);

    /* Officials: the registry's (officer.7, officer.8), the untrained named;
     * a member who is not an official does not count. */
    cpm_registry_t *reg = dom_registry();
    Cpm__ProgrammeActivity a = CPM__PROGRAMME_ACTIVITY__INIT;
    a.target = "officials_trained", a.date = "2026-03-01";
    const char *who[] = {"officer.7", "hn.attp", "nobody"};
    for (size_t i = 0; i < 3; i++) {
        a.official = (char *)who[i];
        Cpm__ProgrammeRecordReply rr = CPM__PROGRAMME_RECORD_REPLY__INIT;
        assert_int_equal(
            mon_targets_record(t, st, txn, "hn.doit", false, &a, (const uint8_t *)"f", 1, &rr, &e),
            0);
        mon_targets_reply_clear(&rr);
    }
    p = progress(t, st, txn, reg, 2026, "officials_trained", &r);
    assert_int_equal(p->required, 2);
    assert_int_equal(p->done, 1);
    assert_string_equal(p->missing, "1 more needed: officer.8");
    assert_non_null(strstr(p->denominator, "registry"));
    mon_targets_progress_free(&r);
    /* A roster of officials replaces the registry's count. */
    assert_int_equal(roster(t, st, txn, true, "officials_trained", "2026-02-01", 40, NULL, 0, &e),
                     0);
    p = progress(t, st, txn, reg, 2026, "officials_trained", &r);
    assert_int_equal(p->required, 40);
    assert_int_equal(p->done, 3);
    mon_targets_progress_free(&r);
    cpm_registry_destroy(&reg);

    cpm_store_abort(&txn);
    mon_targets_destroy(&t);
    cpm_store_destroy(&st);
    rm(dir);
}

static Cpm__Event ev(uint64_t seq, const char *kind, const char *ticket)
{
    Cpm__Event e = CPM__EVENT__INIT;
    e.seq = seq, e.kind = (char *)kind, e.ticket = (char *)ticket, e.at_ms = 1767200400000LL;
    e.agency = "hn.d.hoan-kiem", e.area = "hoan-kiem", e.category = "food_safety";
    return e;
}

static void seen_cursor(void *ctx, const char *node, const char *service, uint64_t seq,
                        const uint8_t hash[32])
{
    (void)hash;
    char *out = ctx;
    snprintf(out + strlen(out), 64, "%s/%s=%llu;", node, service, (unsigned long long)seq);
}

/* Facts and cursor commit or roll back together. */
static void test_apply_with_cursor(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-mon-facts-XXXXXX";
    cpm_store_t *st = open_store(dir);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(st, true, &txn), 0);
    Cpm__Event a = ev(1, "complaint.received", "DOIT-1");
    assert_int_equal(monitor_apply(st, txn, NULL, NULL, 10, "hn.doit", "intake", &a), MON_APPLIED);
    Cpm__Event b = ev(7, "case.refused", "DOIT-1");
    assert_int_equal(monitor_apply(st, txn, NULL, NULL, 10, "hn.doit", "routing", &b), MON_APPLIED);
    Cpm__Event c = ev(8, "case.refused", "DOIT-1"); /* inspection's copy: not counted */
    assert_int_equal(monitor_apply(st, txn, NULL, NULL, 10, "hn.d.hoan-kiem", "inspection", &c),
                     MON_IGNORED);
    assert_int_equal(cpm_store_commit(txn), 0);
    /* a sweep that is rolled back leaves neither fact nor cursor */
    assert_int_equal(cpm_store_begin(st, true, &txn), 0);
    Cpm__Event d = ev(8, "case.assigned", "DOIT-1");
    assert_int_equal(monitor_apply(st, txn, NULL, NULL, 10, "hn.doit", "routing", &d), MON_APPLIED);
    cpm_store_abort(&txn);
    assert_int_equal(cpm_store_begin(st, false, &txn), 0);
    char cur[256] = "";
    assert_int_equal(monitor_cursors(st, txn, seen_cursor, cur), 0);
    assert_string_equal(cur, "hn.d.hoan-kiem/inspection=8;hn.doit/intake=1;hn.doit/routing=7;");
    uint64_t seen;
    assert_int_equal(cpm_store_get_u64(st, txn, MONITOR_SEEN_KEY, &seen), 0);
    assert_int_equal(seen, 3);
    const void *v;
    size_t n;
    assert_int_equal(cpm_store_get(st, txn, "mon_cases", "DOIT-1", 6, &v, &n), 0);
    mon_case_t k;
    memcpy(&k, v, sizeof k);
    assert_int_equal(k.refused, 1);
    assert_int_equal(k.closed, 1); /* the rolled-back case.assigned did not reopen it */
    cpm_store_abort(&txn);
    /* An event at or below its source's cursor (a source sought back) is not
     * applied again: the fact, the cursor and the seen count stay. */
    assert_int_equal(cpm_store_begin(st, true, &txn), 0);
    Cpm__Event again = ev(7, "case.refused", "DOIT-1");
    assert_int_equal(monitor_apply(st, txn, NULL, NULL, 10, "hn.doit", "routing", &again),
                     MON_ALREADY);
    Cpm__Event older = ev(5, "case.transferred", "DOIT-1");
    assert_int_equal(monitor_apply(st, txn, NULL, NULL, 10, "hn.doit", "routing", &older),
                     MON_ALREADY);
    assert_int_equal(cpm_store_get(st, txn, "mon_cases", "DOIT-1", 6, &v, &n), 0);
    memcpy(&k, v, sizeof k);
    assert_int_equal(k.refused, 1);
    assert_int_equal(k.transferred, 0);
    assert_int_equal(cpm_store_get_u64(st, txn, MONITOR_SEEN_KEY, &seen), 0);
    assert_int_equal(seen, 3);
    cpm_store_abort(&txn);
    /* the cap: a new case beyond cases_max is not kept; the cursor still moves */
    assert_int_equal(cpm_store_begin(st, true, &txn), 0);
    Cpm__Event f = ev(2, "complaint.received", "DOIT-2");
    assert_int_equal(monitor_apply(st, txn, NULL, NULL, 1, "hn.doit", "intake", &f), MON_FULL);
    cpm_store_abort(&txn);
    cpm_store_destroy(&st);
    rm(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_roster),
        cmocka_unit_test(test_apply_with_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
