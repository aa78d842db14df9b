#include "cpm_runs.h"
#include "cpm_delivery.h"
#include "cpm_log.h"
#include "cpm_metrics.h"

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

/* The test-only fault hook: rc 0 is disarmed, the only state the hot path
 * reads. */
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

static int fault(cpm_runs_at_t at)
{
    if (atomic_load_explicit(&fault_rc, memory_order_relaxed) == 0)
        return 0;
    if (atomic_load(&fault_at) != (int)at || atomic_fetch_sub(&fault_n, 1) != 1)
        return 0;
    return atomic_exchange(&fault_rc, 0);
}

static int child_begin(cpm_store_t *st, MDB_txn *txn, MDB_txn **child)
{
    int rc = fault(CPM_RUNS_AT_BEGIN);
    if (rc != 0) {
        *child = NULL;
        return rc;
    }
    return cpm_store_begin_child(st, txn, child);
}

/* Commits *child, which is gone after either way. */
static int child_commit(MDB_txn **child)
{
    int rc = fault(CPM_RUNS_AT_COMMIT);
    if (rc != 0) {
        cpm_store_abort(child);
        return rc;
    }
    rc = cpm_store_commit(*child);
    *child = NULL;
    return rc;
}

static void mute(int on)
{
    cpm_metrics_mute(on);
    cpm_log_mute(on);
}

/* *fail when refused() stopped the runs. */
#define STOPPED SIZE_MAX

/* One run: the unsettled items of [lo, hi) in one child of txn, committed
 * when all of them applied. 0; or apply()'s refusal of item *fail (again:
 * it had applied once before), the child aborted; or an error with *fail ==
 * hi when the run as a whole failed (its child could not begin or commit,
 * or apply() met a store error under store_errors_stop), nothing of it
 * staying; or refused()'s result with *fail == STOPPED, the child
 * aborted. */
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
    if (rc != 0)
        return rc;
    if (ops->run_begun)
        ops->run_begun(ctx);
    for (size_t i = lo; i < hi; i++) {
        if (is_set(r->settled, i))
            continue;
        memset(e, 0, sizeof *e);
        /* Admission unmuted: its once-only lines (the store crossing its
         * high-water mark) must be written whenever it flips. */
        if (ops->admit && (rc = ops->admit(ctx, child, i, e)) != 0) {
            set_bit(r->settled, i); /* nothing written: answered, the run goes on */
            if ((rc = ops->refused(ctx, i, rc, e, false)) != 0) {
                *fail = STOPPED;
                break;
            }
            continue;
        }
        bool once = is_set(r->once, i);
        if (once) /* only what this item already said once */
            mute(1);
        rc = ops->apply(ctx, child, i, e);
        if (once)
            mute(0);
        if (rc != 0) {
            *again = once;
            if (!ops->store_errors_stop || !cpm_delivery_is_store_error(rc))
                *fail = i;
            break;
        }
        set_bit(r->once, i);
    }
    if (rc == 0)
        rc = child_commit(&child);
    else
        cpm_store_abort(&child);
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
        int stop = ops->refused(ctx, i, rc, &e, false);
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
            if (fail == STOPPED)
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
