/* Tests for monitor_triage on a real store: complaint.received and
 * case.categorized events counted per Vietnam month (suggestions, routed by
 * the model, to triage, unknown; choices equal, different with their pairs,
 * without a suggestion; model-routed cases re-categorized), a second choice
 * replacing the first, the bound on per-ticket memory (choices of tickets
 * not remembered counted apart, never twice), and the query's
 * months and accuracy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "monitor_triage.h"

static const char *const dbs[] = {MONITOR_TRIAGE_DBS, NULL};

typedef struct {
    char dir[64];
    cpm_store_t *st;
} env_t;

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof *e);
    dom_tmpdir(e->dir, "mtriage");
    e->st = dom_open(e->dir, 0, dbs);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env_t *e = *state;
    cpm_store_destroy(&e->st);
    dom_rmdir(e->dir);
    free(e);
    return 0;
}

/* 2026-03-31 23:30 in Vietnam is still March there (16:30 UTC). */
#define MARCH dom_vn_time(2026, 3, 31, 23, 30)
#define APRIL dom_vn_time(2026, 4, 2, 9, 0)

static int apply(env_t *e, uint64_t cases_max, const char *service, const char *kind,
                 const char *ticket, int64_t at, const char *category, const char *suggested,
                 uint32_t pm, const char *by, bool *full)
{
    Cpm__Event ev = CPM__EVENT__INIT;
    ev.kind = (char *)kind;
    ev.ticket = (char *)ticket;
    ev.at_ms = at;
    ev.category = (char *)category;
    ev.suggested = (char *)suggested;
    ev.suggestion_pm = pm;
    ev.category_by = (char *)by;
    MDB_txn *txn = dom_begin(e->st, true);
    return dom_end(txn, monitor_triage_apply(e->st, txn, cases_max, service, &ev, full));
}

#define RECEIVED(t, at, cat, sugg, pm, by)                                                         \
    assert_int_equal(                                                                              \
        apply(e, 100, "intake", "complaint.received", t, at, cat, sugg, pm, by, NULL), 0)
#define CHOSEN(t, at, cat, sugg)                                                                   \
    assert_int_equal(                                                                              \
        apply(e, 100, "routing", "case.categorized", t, at, cat, sugg, 500, "person", NULL), 0)

static Cpm__TriageStatsReply *stats(env_t *e, int64_t from, int64_t to)
{
    Cpm__TriageStatsReply *r = NULL;
    MDB_txn *txn = dom_begin(e->st, false);
    int rc = monitor_triage_stats(e->st, txn, from, to, APRIL + 86400000LL, &r);
    cpm_store_abort(&txn);
    assert_int_equal(rc, 0);
    assert_non_null(r);
    return r;
}

static void test_counts_and_accuracy(void **state)
{
    env_t *e = *state;
    RECEIVED("HK-1", MARCH, "food_safety", "food_safety", 910, "model");
    RECEIVED("HK-2", MARCH, "other", "pricing", 420, "");
    RECEIVED("HK-3", MARCH, "other", "", 0, "");       /* unknown */
    RECEIVED("HK-4", MARCH, "telecom", "", 0, "");     /* the submitter's: not counted */
    RECEIVED("HK-5", APRIL, "", "ecommerce", 300, ""); /* April */
    /* the same kinds from another service are not intake's */
    assert_int_equal(apply(e, 100, "routing", "complaint.received", "HK-9", MARCH, "other",
                           "pricing", 1, "", NULL),
                     0);
    CHOSEN("HK-2", MARCH, "pricing", "pricing");               /* equal */
    CHOSEN("HK-1", APRIL, "counterfeit_goods", "food_safety"); /* model overruled */
    CHOSEN("HK-5", APRIL, "ecommerce", "ecommerce");           /* equal */
    CHOSEN("HK-3", APRIL, "advertising", "");                  /* without suggestion */

    Cpm__TriageStatsReply *r = stats(e, 0, 0);
    assert_int_equal(r->total->suggestions, 3);
    assert_int_equal(r->total->routed_by_model, 1);
    assert_int_equal(r->total->to_triage, 2);
    assert_int_equal(r->total->unknown, 1);
    assert_int_equal(r->total->chosen_equal, 2);
    assert_int_equal(r->total->chosen_different, 1);
    assert_int_equal(r->total->chosen_without_suggestion, 1);
    assert_int_equal(r->total->model_routed_changed, 1);
    assert_true(r->accuracy_known);
    assert_int_equal(r->accuracy_pm, 667);
    assert_int_equal(r->n_pairs, 1);
    assert_string_equal(r->pairs[0]->suggested, "food_safety");
    assert_string_equal(r->pairs[0]->chosen, "counterfeit_goods");
    assert_int_equal(r->n_months, 2);
    assert_string_equal(r->months[0]->month, "2026-03"); /* Vietnam's month, not UTC's */
    assert_int_equal(r->months[0]->suggestions, 2);
    assert_string_equal(r->months[1]->month, "2026-04");
    assert_int_equal(r->months[1]->chosen_different, 1);
    assert_int_equal(r->from_ms, dom_vn_time(2026, 3, 1, 0, 0));
    assert_int_equal(r->to_ms, dom_vn_time(2026, 5, 1, 0, 0));
    monitor_triage_free(&r);

    /* April only */
    r = stats(e, dom_vn_time(2026, 4, 1, 0, 0), 0);
    assert_int_equal(r->n_months, 1);
    assert_int_equal(r->total->suggestions, 1);
    assert_int_equal(r->total->chosen_equal, 1);
    monitor_triage_free(&r);

    /* a range that ends before it starts */
    MDB_txn *txn = dom_begin(e->st, false);
    Cpm__TriageStatsReply *bad = NULL;
    assert_int_equal(monitor_triage_stats(e->st, txn, APRIL, MARCH, APRIL, &bad), CPM_E_INVALID);
    cpm_store_abort(&txn);
    monitor_triage_free(&bad);
}

static void test_second_choice_replaces_first(void **state)
{
    env_t *e = *state;
    RECEIVED("HK-7", MARCH, "other", "pricing", 420, "");
    CHOSEN("HK-7", MARCH, "telecom", "pricing"); /* different */
    CHOSEN("HK-7", APRIL, "pricing", "pricing"); /* then equal, a month later */
    Cpm__TriageStatsReply *r = stats(e, 0, 0);
    assert_int_equal(r->total->chosen_different, 0);
    assert_int_equal(r->total->chosen_equal, 1);
    assert_int_equal(r->n_pairs, 0);
    assert_int_equal(r->accuracy_pm, 1000);
    monitor_triage_free(&r);
}

static void test_memory_bounded(void **state)
{
    env_t *e = *state;
    bool full = false;
    assert_int_equal(apply(e, 1, "intake", "complaint.received", "HK-1", MARCH, "pricing",
                           "pricing", 900, "model", &full),
                     0);
    assert_false(full);
    assert_int_equal(apply(e, 1, "intake", "complaint.received", "HK-2", MARCH, "pricing",
                           "pricing", 900, "model", &full),
                     0);
    assert_true(full); /* counted, not remembered */
    Cpm__TriageStatsReply *r = stats(e, 0, 0);
    assert_int_equal(r->total->routed_by_model, 2);
    monitor_triage_free(&r);
    /* a slug that is not one is counted as "?" (never a key of any length) */
    assert_int_equal(apply(e, 1, "routing", "case.categorized", "HK-1", MARCH, "Not A Slug",
                           "pricing", 900, "person", &full),
                     0);
    r = stats(e, 0, 0);
    assert_int_equal(r->n_pairs, 1);
    assert_string_equal(r->pairs[0]->chosen, "?");
    assert_int_equal(r->total->model_routed_changed, 1);
    monitor_triage_free(&r);
    /* a ticket not remembered, chosen twice: not counted twice among the
     * choices (nothing there could take the first back), apart instead */
    for (int i = 0; i < 2; i++) {
        full = false;
        assert_int_equal(apply(e, 1, "routing", "case.categorized", "HK-3", MARCH,
                               i ? "food_safety" : "pricing", "pricing", 900, "person", &full),
                         0);
        assert_true(full);
    }
    r = stats(e, 0, 0);
    assert_int_equal(r->total->chosen_equal, 0);
    assert_int_equal(r->total->chosen_different, 1); /* HK-1's only */
    assert_int_equal(r->total->chosen_without_suggestion, 0);
    assert_int_equal(r->total->chosen_unremembered, 2);
    monitor_triage_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_and_accuracy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_choice_replaces_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
