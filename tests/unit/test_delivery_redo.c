/* Tests for cpm_delivery's one nested transaction per batch: a record that
 * writes and then is refused, in the middle of a batch, leaves nothing of
 * itself while the others of its batch are applied; the runs again after a
 * refusal are bounded (each record applied at most twice plus once per
 * refusal after it in its run); a record that applied once but is
 * refused when run again is handled like any other refusal; and what apply()
 * counts outside the transaction (cpm_metrics_add, as the services count
 * contact.followed or exchange.received_stale) is counted once per record
 * that took effect, though the records before a refused one run twice (the
 * round-3 review found it doubled), and though a record ran in a run undone
 * by a refusal and then in one that was not a re-run (muted per record, not
 * per run); and a run's nested transaction that cannot begin or commit (the
 * fault hook of cpm_runs), or whose commit leaves the caller's transaction
 * in error, stops the batch with nothing of it staying. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_delivery.h"
#include "cpm_inbox.h"
#include "cpm_metrics.h"
#include "fixtures/domain/domain_fixture.h"
/* The fault hook is internal to the library (its internal/ folder). */
#include "cpm_runs_int.h"

#define S1 "hn.d.hoan-kiem/intake>hn.doit/routing"
#define NREC 64

/* apply(): every record writes "applied:<rec>"; then "half*" refuses (its
 * write must vanish), "flaky*" refuses from its second call on, "full"
 * reports a full store. calls[] counts apply() per record index. */
typedef struct {
    dom_env_t env; /* first, for dom_env_teardown */
    const char *const *recs;
    size_t calls[NREC];
    size_t total;
    cpm_metrics_t *m;             /* "effects": counted by apply() on success */
    size_t queued, queued_before; /* what apply() queued outside the store */
} fixture_t;

static size_t index_of(fixture_t *f, const uint8_t *rec)
{
    for (size_t i = 0; i < NREC; i++)
        if ((const uint8_t *)f->recs[i] == rec)
            return i;
    fail_msg("unknown record");
    return 0;
}

static int apply_rec(void *ctx, MDB_txn *txn, const uint8_t *rec, size_t len, cpm_error_t *err)
{
    fixture_t *f = ctx;
    size_t i = index_of(f, rec);
    f->calls[i]++;
    f->total++;
    f->queued++; /* as the server's records sent, handed to its pump after the commit */
    char key[64];
    snprintf(key, sizeof key, "applied:%.*s", (int)len, (const char *)rec);
    int rc = cpm_store_put(f->env.st, txn, "meta", key, strlen(key), "1", 1);
    if (rc != 0)
        return rc;
    if (!strncmp((const char *)rec, "half", 4))
        return cpm_error_set(err, CPM_E_INVALID, "area", "area is not known.");
    if (!strncmp((const char *)rec, "flaky", 5) && f->calls[i] > 1)
        return cpm_error_set(err, CPM_E_INVALID, "area", "area changed.");
    if (!strcmp((const char *)rec, "full"))
        return CPM_E_STORE_FULL;
    cpm_metrics_add(f->m, "effects", 1);
    return 0;
}

static int setup(void **state)
{
    fixture_t *f = dom_env_new(sizeof *f, "delivery_redo", NULL, 0, "", 0);
    f->m = cpm_metrics_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cpm_runs_fault_arm(CPM_RUNS_AT_BEGIN, 0, 0); /* a test that failed left it armed */
    cpm_metrics_destroy(&f->m);
    return dom_env_teardown(state);
}

static int deliver(fixture_t *f, uint64_t first_seq, const char *const *recs, size_t n,
                   cpm_delivery_result_t *res)
{
    static char copies[NREC][32]; /* distinct addresses, so index_of finds each */
    static const char *ptrs[NREC];
    const uint8_t *p[NREC];
    size_t lens[NREC];
    assert_true(n <= NREC);
    for (size_t i = 0; i < n; i++) {
        snprintf(copies[i], sizeof copies[i], "%s", recs[i]);
        ptrs[i] = copies[i];
        p[i] = (const uint8_t *)copies[i];
        lens[i] = strlen(copies[i]);
    }
    f->recs = ptrs;
    memset(f->calls, 0, sizeof f->calls);
    f->total = 0;
    MDB_txn *txn = dom_begin(f->env.st, true);
    return dom_end(
        txn, cpm_delivery_apply(f->env.st, txn, S1, first_seq, p, lens, n, apply_rec, f, res));
}

static int applied(fixture_t *f, const char *r)
{
    MDB_txn *txn;
    char key[64];
    const void *v;
    size_t vlen;
    snprintf(key, sizeof key, "applied:%s", r);
    assert_int_equal(cpm_store_begin(f->env.st, false, &txn), 0);
    int rc = cpm_store_get(f->env.st, txn, "meta", key, strlen(key), &v, &vlen);
    cpm_store_abort(&txn);
    return rc == 0;
}

static uint64_t dead_count(fixture_t *f)
{
    MDB_txn *txn;
    uint64_t n = 99;
    assert_int_equal(cpm_store_begin(f->env.st, false, &txn), 0);
    assert_int_equal(cpm_inbox_dead_count(f->env.st, txn, &n), 0);
    cpm_store_abort(&txn);
    return n;
}

/* The refused record wrote before refusing: its write is gone, the records
 * before and after it are applied, the mark passes all. */
static void test_refused_in_the_middle(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"a", "b", "half", "c", "", "d"};
    assert_int_equal(deliver(f, 1, b, 6, &res), 0);
    assert_int_equal(res.applied, 4);
    assert_int_equal(res.dead_letters, 1);
    assert_int_equal(res.skipped, 1);
    assert_int_equal(res.duplicates, 0);
    assert_int_equal(res.hwm, 6);
    assert_true(applied(f, "a"));
    assert_true(applied(f, "b"));
    assert_false(applied(f, "half"));
    assert_true(applied(f, "c"));
    assert_true(applied(f, "d"));
    assert_int_equal(dead_count(f), 1);
    assert_int_equal(f->calls[2], 1); /* the refused record is not tried again */
    assert_int_equal(f->calls[0], 2); /* before it: its run again without it */
    assert_int_equal(f->calls[3], 1); /* after it: once */
    /* delivered again: duplicates, nothing applied twice */
    assert_int_equal(deliver(f, 1, b, 6, &res), 0);
    assert_int_equal(res.duplicates, 6);
    assert_int_equal(f->total, 0);
}

/* Every other record refused, and all refused: at most twice per record that
 * applies, once per refused one. */
static void test_runs_again_are_bounded(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    static char names[NREC][16];
    const char *b[NREC];
    for (size_t i = 0; i < NREC; i++) {
        snprintf(names[i], sizeof names[i], i % 2 ? "half%zu" : "ok%zu", i);
        b[i] = names[i];
    }
    assert_int_equal(deliver(f, 1, b, NREC, &res), 0);
    assert_int_equal(res.applied, NREC / 2);
    assert_int_equal(res.dead_letters, NREC / 2);
    for (size_t i = 0; i < NREC; i++) {
        assert_true(f->calls[i] <= (i % 2 ? 1u : 2u));
        assert_int_equal(applied(f, names[i]), i % 2 == 0);
    }
    assert_true(f->total <= NREC + NREC / 2);

    /* a refusal last, after many good records: they run twice, not more */
    for (size_t i = 0; i < NREC; i++) {
        snprintf(names[i], sizeof names[i], i == NREC - 1 ? "half%zu" : "late%zu", i);
        b[i] = names[i];
    }
    assert_int_equal(deliver(f, NREC + 1, b, NREC, &res), 0);
    assert_int_equal(res.applied, NREC - 1);
    assert_int_equal(res.dead_letters, 1);
    assert_int_equal(f->total, 2 * (NREC - 1) + 1);
    assert_int_equal(res.hwm, 2 * NREC);

    /* all refused: one call each */
    for (size_t i = 0; i < NREC; i++) {
        snprintf(names[i], sizeof names[i], "half-all%zu", i);
        b[i] = names[i];
    }
    assert_int_equal(deliver(f, 2 * NREC + 1, b, NREC, &res), 0);
    assert_int_equal(res.dead_letters, NREC);
    assert_int_equal(res.applied, 0);
    assert_int_equal(f->total, NREC);
    assert_int_equal(dead_count(f), NREC / 2 + 1 + NREC);
}

/* A record that applied in the first run but is refused when run again
 * becomes a dead letter too, and nothing of it stays. */
static void test_refused_when_run_again(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"a", "flaky", "b", "half", "c"};
    assert_int_equal(deliver(f, 1, b, 5, &res), 0);
    assert_int_equal(res.applied, 3);
    assert_int_equal(res.dead_letters, 2);
    assert_int_equal(res.hwm, 5);
    assert_true(applied(f, "a"));
    assert_false(applied(f, "flaky"));
    assert_true(applied(f, "b"));
    assert_false(applied(f, "half"));
    assert_true(applied(f, "c"));
    assert_int_equal(dead_count(f), 2);
}

/* A store error after a refusal: the batch stops, nothing of it stays (the
 * caller aborts), not even the dead letter. */
static void test_store_error_after_refusal(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"a", "half", "full", "c"};
    assert_int_equal(deliver(f, 1, b, 4, &res), CPM_E_STORE_FULL);
    assert_false(applied(f, "a"));
    assert_false(applied(f, "c"));
    assert_int_equal(dead_count(f), 0);
    assert_int_equal(f->calls[3], 0);
}

/* [good, refused]: one record took effect, counted once (apply() ran three
 * times); the thread is not left muted after. */
static void test_counted_once(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"good", "half"};
    assert_int_equal(deliver(f, 1, b, 2, &res), 0);
    assert_int_equal(res.applied, 1);
    assert_int_equal(f->total, 3); /* good, half, good again */
    assert_int_equal(cpm_metrics_get(f->m, "effects"), 1);
    cpm_metrics_add(f->m, "after", 1);
    assert_int_equal(cpm_metrics_get(f->m, "after"), 1);
}

/* A sender alternating good and refused records cannot double the counts. */
static void test_alternating_counted_once(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"g1", "half1", "g2", "half2", "g3", "half3"};
    assert_int_equal(deliver(f, 1, b, 6, &res), 0);
    assert_int_equal(res.applied, 3);
    assert_int_equal(cpm_metrics_get(f->m, "effects"), 3);
    assert_true(f->total <= 2 * res.applied + res.dead_letters);
}

/* [g0, flaky, g2, half]: half undoes the first run; flaky, run again,
 * is refused then; g0 runs a third time; g2, applied in the first run, is
 * applied in a run of its own that is not a re-run: counted once all the
 * same (muted per record; a per-run mute counted it twice). */
static void test_counted_once_after_two_refusals(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"g0", "flaky", "g2", "half"};
    assert_int_equal(deliver(f, 1, b, 4, &res), 0);
    assert_int_equal(res.applied, 2);
    assert_int_equal(res.dead_letters, 2);
    assert_int_equal(f->calls[0], 3);
    assert_int_equal(f->calls[2], 2);
    assert_true(applied(f, "g0"));
    assert_false(applied(f, "flaky"));
    assert_true(applied(f, "g2"));
    /* g0 and g2 once each, and flaky's first call, which applied then */
    assert_int_equal(cpm_metrics_get(f->m, "effects"), 3);
}

/* The batch b of 3, with the fault armed (at, n), stops with the store
 * error: nothing of it applied, no dead letter kept. */
static void stops(fixture_t *f, cpm_runs_at_t at, unsigned n, const char *const b[3])
{
    cpm_delivery_result_t res;
    cpm_runs_fault_arm(at, n, CPM_E_STORE_IO);
    assert_int_equal(deliver(f, 1, b, 3, &res), CPM_E_STORE_IO);
    assert_false(applied(f, b[0]));
    assert_int_equal(dead_count(f), 0);
}

/* Sent again (the mark unmoved), b applies: want_applied records and
 * want_dead dead letters, its last record among them. */
static void then_applies(fixture_t *f, const char *const b[3], size_t want_applied,
                         size_t want_dead)
{
    cpm_delivery_result_t res;
    assert_int_equal(deliver(f, 1, b, 3, &res), 0);
    assert_int_equal(res.applied, want_applied);
    assert_int_equal(res.dead_letters, want_dead);
    assert_int_equal(res.duplicates, 0);
    assert_true(applied(f, b[2]));
    assert_int_equal(dead_count(f), want_dead);
}

/* The run's nested transaction cannot commit: a store error, the batch
 * stops (the caller aborts), nothing applied, the mark unmoved; sent again,
 * it applies. */
static void test_run_commit_failure_stops(void **state)
{
    fixture_t *f = *state;
    const char *b[] = {"a", "b", "c"};
    stops(f, CPM_RUNS_AT_COMMIT, 1, b);
    assert_int_equal(f->total, 3);
    assert_false(applied(f, "c"));
    then_applies(f, b, 3, 0);
}

/* The run's commit fails and leaves the caller's transaction in error (as
 * LMDB may; the hook makes it so for real): the batch stops with the store
 * error, so the caller aborts rather than commit a transaction that cannot;
 * nothing applied, the mark unmoved; sent again, it applies. */
static void test_run_commit_poisoning_stops(void **state)
{
    fixture_t *f = *state;
    const char *b[] = {"a", "half", "b"};
    /* runs: a half(refused: a dead letter) | a (its commit marks the parent) */
    stops(f, CPM_RUNS_AT_COMMIT_POISON, 1, b);
    assert_int_equal(f->calls[0], 2);
    assert_int_equal(f->calls[2], 0);
    then_applies(f, b, 2, 1);
}

/* After a refusal, the re-run's nested transaction cannot begin: the batch
 * stops, and the dead letter written meanwhile goes with it. */
static void test_rerun_begin_failure_stops(void **state)
{
    fixture_t *f = *state;
    const char *b[] = {"a", "half", "b"};
    stops(f, CPM_RUNS_AT_BEGIN, 2, b);
    assert_int_equal(f->calls[0], 1);
    assert_int_equal(f->calls[2], 0);
    then_applies(f, b, 2, 1);
}

/* The first run's nested transaction cannot begin: nothing applied at all. */
static void test_begin_failure_stops(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"a", "b"};
    cpm_runs_fault_arm(CPM_RUNS_AT_BEGIN, 1, CPM_E_STORE_FULL);
    assert_int_equal(deliver(f, 1, b, 2, &res), CPM_E_STORE_FULL);
    assert_int_equal(f->total, 0);
    assert_false(applied(f, "a"));
}

static void run_begun(void *ctx)
{
    fixture_t *f = ctx;
    f->queued_before = f->queued;
}

static void run_undone(void *ctx)
{
    fixture_t *f = ctx;
    f->queued = f->queued_before;
}

/* With cpm_delivery_apply_ops' hooks, what apply() queued outside the store
 * goes with each run undone: one per record that took effect, though
 * apply() ran six times; without them, six. */
static void test_queued_undone_with_their_run(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"a", "half", "b", "flaky", "c", "half2"};
    f->queued = 0;
    assert_int_equal(deliver(f, 1, b, 6, &res), 0);
    assert_int_equal(res.applied, 3);
    assert_int_equal(f->queued, f->total); /* no hooks: every call stays queued */

    const uint8_t *p[6];
    size_t lens[6];
    for (size_t i = 0; i < 6; i++) {
        p[i] = (const uint8_t *)b[i];
        lens[i] = strlen(b[i]);
    }
    f->recs = b;
    memset(f->calls, 0, sizeof f->calls);
    f->total = f->queued = 0;
    const cpm_delivery_ops_t ops = {apply_rec, run_begun, run_undone};
    MDB_txn *txn = dom_begin(f->env.st, true);
    assert_int_equal(
        dom_end(txn, cpm_delivery_apply_ops(f->env.st, txn, S1 "2", 1, p, lens, 6, &ops, f, &res)),
        0);
    assert_int_equal(res.applied, 3);
    assert_int_equal(res.dead_letters, 3);
    assert_true(f->total > 6);
    assert_int_equal(f->queued, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refused_in_the_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_again_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_when_run_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_error_after_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counted_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alternating_counted_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counted_once_after_two_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_commit_failure_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_commit_poisoning_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rerun_begin_failure_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_begin_failure_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_undone_with_their_run, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
