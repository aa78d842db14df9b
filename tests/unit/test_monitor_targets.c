/* monitor_targets: targets.csv parsing, activities counted once per year,
 * progress with what is missing, refusals naming the field; and facts from
 * events with the cursor in the same transaction (monitor_apply). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cpm_store.h"
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
    int rc = mon_targets_record(t, st, txn, "hn.doit", &a, (const uint8_t *)"frame", 5, &r, e);
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
    assert_non_null(strstr(p->missing, "not configured"));
    mon_targets_progress_free(&r);
    assert_int_equal(mon_targets_progress(t, st, txn, NULL, 1990, &r, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "year");
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
        cmocka_unit_test(test_apply_with_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
