/* Tests for cpm_runs (a batch's items applied in runs, one nested
 * transaction per run, run again without a refused item) on a real store:
 * what a refused item wrote is undone with its run, the items before it run
 * again and stay; an admit() refusal writes nothing and its run goes on;
 * the two store error policies, with a run's child that cannot begin or
 * commit (the test-only fault hook), or whose commit leaves the parent in
 * error (really: LMDB's MDB_TXN_ERROR), which stops the batch under either
 * policy; run_undone() for what an item queued outside the store (the
 * server's records for its pump); the per-item mute of counters and of
 * DEBUG/INFO lines, not of WARN/ERROR ones, a caller's mute kept on;
 * refused() told an item had applied once (again) on every path; refused()
 * stopping the batch, also while a failed run's items are refused; settled
 * items passed over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <unistd.h>

#include "cpm_log.h"
#include "cpm_metrics.h"
#include "cpm_runs.h"
#include "fixtures/domain/domain_fixture.h"
/* The fault hook is internal to the library (its internal/ folder). */
#include "cpm_runs_int.h"

#define NITEMS 8

/* Each item i writes "i" -> what[i] in "items", then: 'r' refuses
 * (CPM_E_INVALID), 'f' refuses from its second call on, 's' reports a full
 * store, 'q' queues one record outside the store (as the server's send),
 * 'w' says an INFO line each call and, from its second call on, a WARN and
 * an ERROR line (another path than the first time); anything else applies
 * and counts "effects". */
typedef struct {
    char dir[64];
    cpm_store_t *st;
    cpm_metrics_t *m;
    const char *what;
    size_t calls[NITEMS];
    size_t refusals[NITEMS];
    int refused_rc[NITEMS];
    bool refused_again[NITEMS];
    size_t admit_calls[NITEMS];
    size_t admit_refuses;       /* admit() refuses this item (NITEMS: none) */
    size_t admit_refuses_again; /* admit() refuses it from its second call on */
    int stop_at_refusal;        /* refused() returns this when not 0 */
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
    f->admit_refuses = f->admit_refuses_again = NITEMS;
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
    f->admit_calls[i]++;
    if (i == f->admit_refuses || (i == f->admit_refuses_again && f->admit_calls[i] > 1))
        return cpm_error_set(e, CPM_E_STORE_FULL, "", "no room");
    return 0;
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
    case 'w':
        cpm_info("test: item %zu applied", i);
        if (f->calls[i] > 1) {
            cpm_warn("test: item %zu took another path", i);
            cpm_error("test: item %zu failed another way", i);
        }
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
        assert_false(f->refused_again[i]); /* never applied */
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
    assert_true(f->refused_again[0]); /* it had applied in the undone run */
    assert_false(f->refused_again[1]);
    assert_false(f->refused_again[3]);
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
    assert_true(f->refused_again[0]); /* both applied (and counted) before the commit */
    assert_true(f->refused_again[1]);
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

/* admit() refuses item 0 when its run comes again (the store crossed its
 * mark meanwhile): refused() hears it had applied once (its first
 * application counted), as for apply()'s refusals; item 1, applied twice,
 * counted once. */
static void test_again_after_admit_refusal(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    f->admit_refuses_again = 0;
    assert_int_equal(apply_all(f, "aar", &refuse_ops, &r), 0);
    /* runs: 0 1 2(refused) | 0(admit: refused) 1 */
    assert_int_equal(f->refusals[0], 1);
    assert_int_equal(f->refused_rc[0], CPM_E_STORE_FULL);
    assert_true(f->refused_again[0]);
    assert_false(f->refused_again[2]);
    assert_int_equal(f->calls[0], 1);
    assert_int_equal(f->calls[1], 2);
    assert_int_equal(stored(f, 0), 0);
    assert_int_equal(stored(f, 1), 'a');
    assert_int_equal(cpm_metrics_get(f->m, "effects"), 2);
}

/* stderr into a file while fn runs; its text in out (NUL-terminated). */
static void capture_stderr(fixture_t *f, void (*fn)(fixture_t *), char *out, size_t cap)
{
    char path[96];
    snprintf(path, sizeof path, "%s/stderr.log", f->dir);
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    fn(f);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    close(fd);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    out[fread(out, 1, cap - 1, in)] = 0;
    fclose(in);
}

static size_t occurrences(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *at = text; (at = strstr(at, what)) != NULL; at++)
        n++;
    return n;
}

static void apply_wr(fixture_t *f)
{
    cpm_runs_t r;
    assert_int_equal(apply_all(f, "wr", &refuse_ops, &r), 0);
}

/* Item 0 applied again after item 1's refusal: its INFO line, said the
 * first time, is muted the second; its WARN and ERROR lines, new on the
 * second call (another path), are written. */
static void test_mute_keeps_warnings(void **state)
{
    fixture_t *f = *state;
    static char text[1 << 14];
    capture_stderr(f, apply_wr, text, sizeof text);
    assert_int_equal(f->calls[0], 2);
    assert_int_equal(occurrences(text, "test: item 0 applied"), 1);
    assert_int_equal(occurrences(text, "WARN test: item 0 took another path"), 1);
    assert_int_equal(occurrences(text, "ERROR test: item 0 failed another way"), 1);
}

/* A caller that muted its thread finds it muted still after runs that
 * muted and unmuted items applied again; and one that did not, unmuted. */
static void test_caller_mute_kept(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    int m0 = cpm_metrics_mute(1), l0 = cpm_log_mute(1);
    assert_int_equal(m0, 0);
    assert_int_equal(l0, 0);
    assert_int_equal(apply_all(f, "aar", &refuse_ops, &r), 0);
    assert_int_equal(f->calls[0], 2); /* applied again: muted and unmuted */
    assert_int_equal(cpm_metrics_mute(0), 1);
    assert_int_equal(cpm_log_mute(0), 1);
    assert_int_equal(cpm_metrics_get(f->m, "effects"), 0); /* the caller's mute held */

    memset(f->calls, 0, sizeof f->calls);
    assert_int_equal(apply_all(f, "aar", &refuse_ops, &r), 0);
    assert_int_equal(cpm_metrics_mute(0), 0);
    assert_int_equal(cpm_log_mute(0), 0);
    assert_int_equal(cpm_metrics_get(f->m, "effects"), 2);
}

/* refused() stops the batch while the items of a run that could not begin
 * are refused: its result returned, the items after the one it answered
 * not refused, nothing applied. */
static void test_refuse_run_stops(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    f->stop_at_refusal = CPM_E_INTERNAL;
    cpm_runs_fault_arm(CPM_RUNS_AT_BEGIN, 1, CPM_E_STORE_IO);
    assert_int_equal(apply_all(f, "aaa", &refuse_ops, &r), CPM_E_INTERNAL);
    assert_int_equal(f->refusals[0], 1);
    assert_int_equal(f->refused_rc[0], CPM_E_STORE_IO);
    assert_int_equal(f->refusals[1] + f->refusals[2], 0);
    assert_int_equal(cpm_runs_settled(&r, 1), 0);
    assert_int_equal(f->calls[0] + f->calls[1] + f->calls[2], 0);
    assert_int_equal(stored(f, 0), 0);
}

/* Like apply_all, but the transaction is returned open (*txn), for a test
 * to see whether it can commit. */
static int apply_open(fixture_t *f, const char *what, const cpm_runs_ops_t *ops, cpm_runs_t *r,
                      MDB_txn **txn)
{
    f->what = what;
    cpm_runs_init(r, strlen(what));
    *txn = dom_begin(f->st, true);
    return cpm_runs_apply(r, f->st, *txn, ops, f);
}

/* A run's commit that leaves the parent in error (as LMDB may: the hook
 * makes it so for real) stops the batch under the policy "refuse" too: its
 * error returned, refused() not called for the run's items (the others
 * could not go on: no child of the parent can begin), no run begun after
 * it, what it queued undone; the parent cannot commit, so the caller aborts
 * it and nothing of the batch stays. A second batch on that parent stops at
 * once (its first child cannot begin). */
static void test_commit_poisoning_parent_stops(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    MDB_txn *txn = NULL;
    /* runs: 0 1(refused) | 0 (commit fails, parent in error): 2 never runs */
    cpm_runs_fault_arm(CPM_RUNS_AT_COMMIT_POISON, 1, CPM_E_STORE_IO);
    assert_int_equal(apply_open(f, "qrq", &refuse_ops, &r, &txn), CPM_E_STORE_IO);
    assert_int_equal(f->refusals[0], 0);
    assert_int_equal(f->refusals[1], 1);
    assert_int_equal(f->refusals[2], 0);
    assert_int_equal(f->calls[0], 2);
    assert_int_equal(f->calls[2], 0);
    assert_int_equal(f->begun, 2);
    assert_int_equal(f->undone, 2);
    assert_int_equal(f->queued, 0);
    /* the parent is in error: another batch stops at its first begin */
    memset(f->refusals, 0, sizeof f->refusals);
    cpm_runs_t r2;
    f->what = "qq";
    cpm_runs_init(&r2, 2);
    assert_int_not_equal(cpm_runs_apply(&r2, f->st, txn, &refuse_ops, f), 0);
    assert_int_equal(f->refusals[0] + f->refusals[1], 0);
    assert_int_not_equal(cpm_store_commit(txn), 0); /* really in error; LMDB ends it */
    assert_int_equal(stored(f, 0), 0);

    /* the policy "stop": the same error, the same state */
    memset(f->calls, 0, sizeof f->calls);
    f->begun = f->undone = 0;
    cpm_runs_fault_arm(CPM_RUNS_AT_COMMIT_POISON, 1, CPM_E_STORE_FULL);
    assert_int_equal(apply_open(f, "qq", &stop_ops, &r, &txn), CPM_E_STORE_FULL);
    assert_int_equal(f->begun, 1);
    assert_int_equal(f->undone, 1);
    assert_int_equal(f->queued, 0);
    assert_int_not_equal(cpm_store_commit(txn), 0);

    /* the hook fired once: the next batch applies and commits */
    memset(f->refusals, 0, sizeof f->refusals);
    assert_int_equal(apply_all(f, "qq", &refuse_ops, &r), 0);
    assert_int_equal(stored(f, 1), 'q');
}

/* A run's commit that fails but leaves the parent usable (the hook aborts
 * the child, as LMDB's early failures do): under "refuse", the run's items
 * are refused and the next run goes on; the parent commits. */
static void test_commit_failure_parent_usable(void **state)
{
    fixture_t *f = *state;
    cpm_runs_t r;
    MDB_txn *txn = NULL;
    /* runs: 0 1(refused) | 0 (commit fails: refused) | 2 */
    cpm_runs_fault_arm(CPM_RUNS_AT_COMMIT, 1, CPM_E_STORE_IO);
    assert_int_equal(apply_open(f, "qrq", &refuse_ops, &r, &txn), 0);
    assert_int_equal(f->refused_rc[0], CPM_E_STORE_IO);
    assert_true(f->refused_again[0]);
    assert_int_equal(f->calls[2], 1);
    assert_int_equal(cpm_store_commit(txn), 0);
    assert_int_equal(stored(f, 0), 0);
    assert_int_equal(stored(f, 2), 'q');
    assert_int_equal(f->queued, 1);
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
        cmocka_unit_test_setup_teardown(test_again_after_admit_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mute_keeps_warnings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caller_mute_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_run_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_poisoning_parent_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure_parent_usable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
