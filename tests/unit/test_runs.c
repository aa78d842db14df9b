/* Tests for cpm_runs (a batch's items applied in runs, one nested
 * transaction per run, run again without a refused item) on a real store:
 * what a refused item wrote is undone with its run, the items before it run
 * again and stay; an admit() refusal writes nothing and its run goes on;
 * the two store error policies, with a run's child that cannot begin or
 * commit (the test-only fault hook); run_undone() for what an item queued
 * outside the store (the server's records for its pump); the per-item mute
 * of counters; refused() stopping the batch; settled items passed over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_metrics.h"
#include "cpm_runs.h"
#include "fixtures/domain/domain_fixture.h"

#define NITEMS 8

/* Each item i writes "i" -> what[i] in "items", then: 'r' refuses
 * (CPM_E_INVALID), 'f' refuses from its second call on, 's' reports a full
 * store, 'q' queues one record outside the store (as the server's send),
 * anything else applies and counts "effects". */
typedef struct {
    char dir[64];
    cpm_store_t *st;
    cpm_metrics_t *m;
    const char *what;
    size_t calls[NITEMS];
    size_t refusals[NITEMS];
    int refused_rc[NITEMS];
    bool refused_again[NITEMS];
    size_t admit_refuses; /* admit() refuses this item (NITEMS: none) */
    int stop_at_refusal;  /* refused() returns this when not 0 */
    size_t queued, queued_before, begun, undone;
} fixture_t;

static const char *const dbs[] = {"items", NULL};

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    dom_tmpdir(f->dir, "runs");
    f->st = dom_open(f->dir, 0, dbs);
    f->m = cpm_metrics_new();
    f->admit_refuses = NITEMS;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cpm_runs_fault_arm(CPM_RUNS_AT_BEGIN, 0, 0);
    cpm_metrics_destroy(&f->m);
    cpm_store_destroy(&f->st);
    dom_rmdir(f->dir);
    free(f);
    return 0;
}

static int admit(void *ctx, MDB_txn *child, size_t i, cpm_error_t *e)
{
    fixture_t *f = ctx;
    (void)child;
    return i == f->admit_refuses ? cpm_error_set(e, CPM_E_STORE_FULL, "", "no room") : 0;
}

static int apply(void *ctx, MDB_txn *child, size_t i, cpm_error_t *e)
{
    fixture_t *f = ctx;
    f->calls[i]++;
    char key[8];
    snprintf(key, sizeof key, "%zu", i);
    int rc = cpm_store_put(f->st, child, "items", key, strlen(key), &f->what[i], 1);
    if (rc != 0)
        return rc;
    switch (f->what[i]) {
    case 'r':
        return cpm_error_set(e, CPM_E_INVALID, "item", "refused after writing");
    case 'f':
        if (f->calls[i] > 1)
            return cpm_error_set(e, CPM_E_INVALID, "item", "refused the second time");
        break;
    case 's':
        return CPM_E_STORE_FULL;
    case 'q':
        f->queued++;
        break;
    }
    cpm_metrics_add(f->m, "effects", 1);
    return 0;
}

static int refused(void *ctx, size_t i, int rc, cpm_error_t *e, bool again)
{
    fixture_t *f = ctx;
    (void)e;
    f->refusals[i]++;
    f->refused_rc[i] = rc;
    f->refused_again[i] = again;
    return f->stop_at_refusal;
}

static void run_begun(void *ctx)
{
    fixture_t *f = ctx;
    f->begun++;
    f->queued_before = f->queued;
}

static void run_undone(void *ctx)
{
    fixture_t *f = ctx;
    f->undone++;
    f->queued = f->queued_before;
}

static const cpm_runs_ops_t refuse_ops = {
    .admit = admit,
    .apply = apply,
    .refused = refused,
    .run_begun = run_begun,
    .run_undone = run_undone,
    .store_errors_stop = false,
};

static const cpm_runs_ops_t stop_ops = {
    .apply = apply,
    .refused = refused,
    .run_begun = run_begun,
    .run_undone = run_undone,
    .store_errors_stop = true,
};

/* Applies the items of what (one char each) in one transaction, committed
 * whatever the result (what the runs left in it is what a caller would
 * commit). Returns cpm_runs_apply's result. */
static int apply_all(fixture_t *f, const char *what, const cpm_runs_ops_t *ops, cpm_runs_t *r)
{
    f->what = what;
    size_t n = strlen(what);
    assert_true(n <= NITEMS);
    cpm_runs_init(r, n);
    for (size_t i = 0; i < n; i++)
        if (what[i] == '-')
            cpm_runs_settle(r, i);
    MDB_txn *txn = dom_begin(f->st, true);
    int rc = cpm_runs_apply(r, f->st, txn, ops, f);
    assert_int_equal(cpm_store_commit(txn), 0);
    return rc;
}

/* What item i left in the store: its char, or 0 for nothing. */
static char stored(fixture_t *f, size_t i)
{
    char key[8];
    snprintf(key, sizeof key, "%zu", i);
    MDB_txn *txn = dom_begin(f->st, false);
    const void *v = NULL;
    size_t len = 0;
    char c = 0;
    if (cpm_store_get(f->st, txn, "items", key, strlen(key), &v, &len) == 0 && len == 1)
        c = *(const char *)v;
    cpm_store_abort(&txn);
    return c;
}

/* Item 2 of 4 refused after writing: its write undone with its run, 0 and 1
 * applied again and kept, 3 applied once in the next run; what 2 queued
 * went with its run. */
static void test_refused_item_undoes_its_run(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    assert_int_equal(apply_all(f, "qqrq", &refuse_ops, &r), 0);
    assert_int_equal(stored(f, 0), 'q');
    assert_int_equal(stored(f, 1), 'q');
    assert_int_equal(stored(f, 2), 0);
    assert_int_equal(stored(f, 3), 'q');
    const size_t calls[4] = {2, 2, 1, 1};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(f->calls[i], calls[i]);
        assert_int_equal(f->refusals[i], i == 2);
        assert_int_equal(cpm_runs_settled(&r, i), i == 2);
    }
    assert_int_equal(f->refused_rc[2], CPM_E_INVALID);
    assert_false(f->refused_again[2]);
    assert_int_equal(f->begun, 3); /* [0,4) undone, [0,2), [3,4) */
    assert_int_equal(f->undone, 1);
    assert_int_equal(f->queued, 3); /* not 5: the undone run's two went with it */
    assert_int_equal(cpm_metrics_get(f->m, "effects"), 3);
}

/* Refused only when applied again ('f'): refused() hears it was applied
 * once (its own lines were muted); each applied item counted once, though
 * item 2 ran in a run undone by item 3 and then in a run that was not a
 * re-run (delivery's per-run mute counted it twice). */
static void test_counted_once_per_item(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    assert_int_equal(apply_all(f, "afar", &refuse_ops, &r), 0);
    /* runs: 0 1 2 3(refused) | 0 1(refused again) | 0 | 2 */
    const size_t calls[4] = {3, 2, 2, 1};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(f->calls[i], calls[i]);
    assert_true(f->refused_again[1]);
    assert_false(f->refused_again[3]);
    assert_int_equal(stored(f, 0), 'a');
    assert_int_equal(stored(f, 1), 0);
    assert_int_equal(stored(f, 2), 'a');
    assert_int_equal(stored(f, 3), 0);
    /* 0, 2, and 1's first (applied) call: said once each */
    assert_int_equal(cpm_metrics_get(f->m, "effects"), 3);
    cpm_metrics_add(f->m, "after", 1); /* the thread is not left muted */
    assert_int_equal(cpm_metrics_get(f->m, "after"), 1);
}

/* admit() refuses item 1 before it writes: answered at once, the run goes
 * on and is not undone (each other item applied once). */
static void test_admit_refusal_goes_on(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    f->admit_refuses = 1;
    assert_int_equal(apply_all(f, "aaa", &refuse_ops, &r), 0);
    assert_int_equal(f->calls[0], 1);
    assert_int_equal(f->calls[1], 0);
    assert_int_equal(f->calls[2], 1);
    assert_int_equal(f->refusals[1], 1);
    assert_int_equal(f->refused_rc[1], CPM_E_STORE_FULL);
    assert_int_equal(f->begun, 1);
    assert_int_equal(f->undone, 0);
    assert_int_equal(stored(f, 0), 'a');
    assert_int_equal(stored(f, 1), 0);
    assert_int_equal(stored(f, 2), 'a');
}

/* Settled items are never applied nor refused; a batch all settled opens no
 * transaction. */
static void test_settled_passed_over(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    assert_int_equal(apply_all(f, "-a-", &refuse_ops, &r), 0);
    assert_int_equal(f->calls[0] + f->calls[2], 0);
    assert_int_equal(f->refusals[0] + f->refusals[2], 0);
    assert_int_equal(stored(f, 1), 'a');
    f->begun = 0;
    assert_int_equal(apply_all(f, "---", &refuse_ops, &r), 0);
    assert_int_equal(f->begun, 0);
}

/* The store error policy "refuse": a store error from apply() refuses that
 * item alone; a run's child that cannot begin refuses every unsettled item
 * of that run with the error, and the next run goes on. */
static void test_begin_failure_refuses_its_run(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    cpm_runs_fault_arm(CPM_RUNS_AT_BEGIN, 1, CPM_E_STORE_IO);
    assert_int_equal(apply_all(f, "aaa", &refuse_ops, &r), 0);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(f->calls[i], 0);
        assert_int_equal(f->refused_rc[i], CPM_E_STORE_IO);
        assert_int_equal(stored(f, i), 0);
    }
    assert_int_equal(f->begun + f->undone, 0);

    /* the re-run's child cannot begin: the items before the refused one are
     * refused too, those after it start a run of their own */
    memset(f->calls, 0, sizeof f->calls);
    memset(f->refusals, 0, sizeof f->refusals);
    cpm_runs_fault_arm(CPM_RUNS_AT_BEGIN, 2, CPM_E_STORE_IO);
    assert_int_equal(apply_all(f, "qsqrq", &refuse_ops, &r), 0);
    /* runs: 0 1(store error: refused) | 0 (cannot begin) | 2 3(refused) | 2 | 4 */
    const int want[5] = {CPM_E_STORE_IO, CPM_E_STORE_FULL, 0, CPM_E_INVALID, 0};
    const char kept[5] = {0, 0, 'q', 0, 'q'};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(f->refusals[i], want[i] != 0);
        if (want[i])
            assert_int_equal(f->refused_rc[i], want[i]);
        assert_int_equal(stored(f, i), kept[i]);
    }
    assert_int_equal(f->calls[0], 1);
    assert_int_equal(f->queued, 2);
}

/* A run whose commit fails: refused whole, undone (what it queued too). */
static void test_commit_failure_refuses_its_run(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    cpm_runs_fault_arm(CPM_RUNS_AT_COMMIT, 1, CPM_E_STORE_IO);
    assert_int_equal(apply_all(f, "qq", &refuse_ops, &r), 0);
    assert_int_equal(f->calls[0], 1);
    assert_int_equal(f->calls[1], 1);
    assert_int_equal(f->refused_rc[0], CPM_E_STORE_IO);
    assert_int_equal(f->refused_rc[1], CPM_E_STORE_IO);
    assert_int_equal(stored(f, 0), 0);
    assert_int_equal(stored(f, 1), 0);
    assert_int_equal(f->undone, 1);
    assert_int_equal(f->queued, 0);
    /* fired once: the next batch commits */
    memset(f->calls, 0, sizeof f->calls);
    assert_int_equal(apply_all(f, "qq", &refuse_ops, &r), 0);
    assert_int_equal(stored(f, 1), 'q');
    assert_int_equal(f->queued, 2);
}

/* The policy "stop": a child that cannot begin or commit, or a store error
 * from apply(), stops the batch with that error; refused() is not called;
 * what the failing run wrote and queued is gone. */
static void test_store_errors_stop(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    cpm_runs_fault_arm(CPM_RUNS_AT_COMMIT, 1, CPM_E_STORE_IO);
    assert_int_equal(apply_all(f, "qq", &stop_ops, &r), CPM_E_STORE_IO);
    assert_int_equal(stored(f, 0), 0);
    assert_int_equal(f->queued, 0);
    assert_int_equal(f->undone, 1);

    cpm_runs_fault_arm(CPM_RUNS_AT_BEGIN, 2, CPM_E_STORE_IO);
    assert_int_equal(apply_all(f, "qrq", &stop_ops, &r), CPM_E_STORE_IO);
    assert_int_equal(f->refusals[1], 1); /* the first run's refusal, then the re-run failed */
    assert_int_equal(f->calls[2], 0);
    assert_int_equal(stored(f, 0), 0);
    assert_int_equal(f->queued, 0);

    memset(f->refusals, 0, sizeof f->refusals);
    assert_int_equal(apply_all(f, "qsq", &stop_ops, &r), CPM_E_STORE_FULL);
    assert_int_equal(stored(f, 0), 0);
    assert_int_equal(stored(f, 1), 0);
    assert_int_equal(f->refusals[1], 0);
    assert_int_equal(f->queued, 0);
}

/* refused() stops the batch (as the server out of memory, delivery at its
 * dead letter cap): its result returned, the run's child aborted. */
static void test_refused_stops(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    f->stop_at_refusal = CPM_E_INTERNAL;
    assert_int_equal(apply_all(f, "qrq", &refuse_ops, &r), CPM_E_INTERNAL);
    assert_int_equal(f->calls[2], 0);
    assert_int_equal(stored(f, 0), 0);
    assert_int_equal(f->queued, 0);
    /* after an admit() refusal, with the run's child open */
    memset(f->calls, 0, sizeof f->calls);
    f->admit_refuses = 1;
    assert_int_equal(apply_all(f, "qqq", &refuse_ops, &r), CPM_E_INTERNAL);
    assert_int_equal(f->calls[0], 1);
    assert_int_equal(f->calls[2], 0);
    assert_int_equal(stored(f, 0), 0);
    assert_int_equal(f->queued, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refused_item_undoes_its_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counted_once_per_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admit_refusal_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settled_passed_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_begin_failure_refuses_its_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure_refuses_its_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_errors_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_stops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
