#include "cpm_runs.h"
#include "cpm_log.h"
#include "cpm_metrics.h"
#include "cpm_runs_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static int is_set(const uint64_t *bits, size_t i)
{
    return (int)((bits[i / 64] >> (i % 64)) & 1);
}

static void set_bit(uint64_t *bits, size_t i)
{
    bits[i / 64] |= (uint64_t)1 << (i % 64);
}

void cpm_runs_init(cpm_runs_t *r, size_t n)
{
    if (n > CPM_RUNS_ITEMS_MAX) { /* a programming error: the callers bound their batches */
        cpm_error("cpm_runs: %zu items, more than %d", n, CPM_RUNS_ITEMS_MAX);
        abort();
    }
    size_t words = (n + 63) / 64;
    r->n = n;
    memset(r->settled, 0, words * sizeof r->settled[0]);
    memset(r->once, 0, words * sizeof r->once[0]);
}

void cpm_runs_settle(cpm_runs_t *r, size_t i)
{
    set_bit(r->settled, i);
}

int cpm_runs_settled(const cpm_runs_t *r, size_t i)
{
    return is_set(r->settled, i);
}

/* The test-only fault hook (cpm_runs_int.h): rc 0 is disarmed, the only
 * state the hot path reads. */
static _Atomic int fault_rc;
static _Atomic int fault_at;
static _Atomic unsigned fault_n;

void cpm_runs_fault_arm(cpm_runs_at_t at, unsigned n, int rc)
{
    atomic_store(&fault_rc, 0);
    atomic_store(&fault_at, (int)at);
    atomic_store(&fault_n, n);
    atomic_store(&fault_rc, n ? rc : 0);
}

/* rc when the hook fires at this begin (commit false) or commit (true),
 * else 0; *poison: the commit must leave the parent in error. */
static int fault(bool commit, bool *poison)
{
    if (atomic_load_explicit(&fault_rc, memory_order_relaxed) == 0)
        return 0;
    int at = atomic_load(&fault_at);
    if ((at != CPM_RUNS_AT_BEGIN) != commit || atomic_fetch_sub(&fault_n, 1) != 1)
        return 0;
    *poison = at == CPM_RUNS_AT_COMMIT_POISON;
    return atomic_exchange(&fault_rc, 0);
}

/* Puts child in error for real, as a failed write would: LMDB refuses to
 * delete from the main database the record of a named one
 * (MDB_INCOMPATIBLE) and marks the transaction. For the fault hook only. */
static void fault_poison(MDB_txn *child)
{
    MDB_dbi main_db;
    MDB_cursor *c = NULL;
    MDB_val key, val;
    if (mdb_dbi_open(child, NULL, 0, &main_db) != 0 || mdb_cursor_open(child, main_db, &c) != 0)
        return;
    int rc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
    mdb_cursor_close(c);
    if (rc == 0 && mdb_del(child, main_db, &key, NULL) != MDB_INCOMPATIBLE)
        cpm_error("cpm_runs fault hook: the child could not be put in error");
}

static int child_begin(cpm_store_t *st, MDB_txn *txn, MDB_txn **child)
{
    bool poison = false;
    int rc = fault(false, &poison);
    if (rc != 0) {
        *child = NULL;
        return rc;
    }
    return cpm_store_begin_child(st, txn, child);
}

/* Commits *child, which is gone after either way. */
static int child_commit(MDB_txn **child)
{
    bool poison = false;
    int rc = fault(true, &poison);
    if (rc != 0) {
        if (poison) {
            fault_poison(*child);
            /* through the store, which follows its transactions (its log,
             * its cursors); LMDB ends the child either way */
            if (cpm_store_commit(*child) == 0)
                cpm_error("cpm_runs fault hook: a child in error committed");
            *child = NULL;
        } else {
            cpm_store_abort(child);
        }
        return rc;
    }
    rc = cpm_store_commit(*child);
    *child = NULL;
    return rc;
}

/* 1 when txn is in error (MDB_TXN_ERROR, set by a child's failed commit):
 * no child of it can begin, and it cannot commit. LMDB has no accessor for
 * it; a child that cannot begin with MDB_BAD_TXN tells, txn having no child
 * open and being neither finished nor read-only. Only after a run failed,
 * so the cost of a child begun and aborted does not matter. */
static bool in_error(MDB_txn *txn)
{
    MDB_txn *probe = NULL;
    /* Begun behind the store's back, so nothing may use the store between
     * this begin and the abort: LMDB lends the parent's kept cursors
     * (cpm_store_cursors.c) to the probe while it lives. */
    int rc = mdb_txn_begin(mdb_txn_env(txn), txn, 0, &probe);
    if (rc == 0)
        mdb_txn_abort(probe);
    return rc == MDB_BAD_TXN;
}

/* Mutes what an item applied once already said and counted; restores what
 * was muted before (the caller's mute stays on). */
typedef struct {
    int metrics, log;
} mute_t;

static mute_t mute(void)
{
    return (mute_t){cpm_metrics_mute(1), cpm_log_mute(1)};
}

static void unmute(mute_t prev)
{
    cpm_metrics_mute(prev.metrics);
    cpm_log_mute(prev.log);
}

/* *fail when refused() stopped the runs, or when txn was left in error. */
#define STOPPED SIZE_MAX
#define BROKEN (SIZE_MAX - 1)

/* One run: the unsettled items of [lo, hi) in one child of txn, committed
 * when all of them applied. 0; or apply()'s refusal of item *fail (again:
 * it had applied once before), the child aborted; or an error with *fail ==
 * hi when the run as a whole failed (its child could not begin or commit,
 * or apply() met a store error under store_errors_stop), nothing of it
 * staying; or that error with *fail == BROKEN when its child could not
 * begin or commit and txn is in error since; or refused()'s result with
 * *fail == STOPPED, the child aborted. */
static int run(cpm_runs_t *r, cpm_store_t *st, MDB_txn *txn, const cpm_runs_ops_t *ops, void *ctx,
               size_t lo, size_t hi, size_t *fail, cpm_error_t *e, bool *again)
{
    *fail = hi;
    *again = false;
    while (lo < hi && is_set(r->settled, lo))
        lo++;
    if (lo == hi)
        return 0; /* nothing to apply: no transaction */
    MDB_txn *child = NULL;
    int rc = child_begin(st, txn, &child);
    if (rc != 0) {
        if (in_error(txn)) /* not by this run: the caller's txn was in error */
            *fail = BROKEN;
        return rc;
    }
    if (ops->run_begun)
        ops->run_begun(ctx);
    for (size_t i = lo; i < hi; i++) {
        if (is_set(r->settled, i))
            continue;
        memset(e, 0, sizeof *e);
        bool once = is_set(r->once, i);
        /* Admission unmuted: its once-only lines (the store crossing its
         * high-water mark) must be written whenever it flips. */
        if (ops->admit && (rc = ops->admit(ctx, child, i, e)) != 0) {
            set_bit(r->settled, i); /* nothing written: answered, the run goes on */
            if ((rc = ops->refused(ctx, i, rc, e, once)) != 0) {
                *fail = STOPPED;
                break;
            }
            continue;
        }
        mute_t prev = {0, 0};
        if (once) /* only what this item already said once */
            prev = mute();
        rc = ops->apply(ctx, child, i, e);
        if (once)
            unmute(prev);
        if (rc != 0) {
            *again = once;
            if (!ops->store_errors_stop || !cpm_err_is_store(rc))
                *fail = i;
            break;
        }
        set_bit(r->once, i);
    }
    if (rc == 0) {
        rc = child_commit(&child);
        if (rc != 0 && in_error(txn)) /* LMDB marked it rather than undo the merge */
            *fail = BROKEN;
    } else {
        cpm_store_abort(&child);
    }
    if (rc != 0 && ops->run_undone)
        ops->run_undone(ctx);
    return rc;
}

/* Every unsettled item of [lo, hi), whose run failed with rc, refused. */
static int refuse_run(cpm_runs_t *r, const cpm_runs_ops_t *ops, void *ctx, size_t lo, size_t hi,
                      int rc)
{
    for (size_t i = lo; i < hi; i++) {
        if (is_set(r->settled, i))
            continue;
        set_bit(r->settled, i);
        cpm_error_t e = {0};
        int stop = ops->refused(ctx, i, rc, &e, is_set(r->once, i));
        if (stop != 0)
            return stop;
    }
    return 0;
}

int cpm_runs_apply(cpm_runs_t *r, cpm_store_t *st, MDB_txn *txn, const cpm_runs_ops_t *ops,
                   void *ctx)
{
    size_t n = r->n, lo = 0;
    while (lo < n) {
        size_t hi = n, fail;
        cpm_error_t e = {0};
        bool again;
        int rc;
        while ((rc = run(r, st, txn, ops, ctx, lo, hi, &fail, &e, &again)) != 0) {
            if (fail == STOPPED || fail == BROKEN)
                return rc;
            if (fail == hi) { /* the run as a whole failed: none of it stays */
                if (ops->store_errors_stop)
                    return rc;
                if ((rc = refuse_run(r, ops, ctx, lo, hi, rc)) != 0)
                    return rc;
                break;
            }
            set_bit(r->settled, fail);
            if ((rc = ops->refused(ctx, fail, rc, &e, again)) != 0)
                return rc;
            hi = fail; /* the items before it, again without it */
        }
        lo = hi < n ? hi + 1 : n;
    }
    return 0;
}
