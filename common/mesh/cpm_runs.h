/* cpm_runs: apply a batch's items in runs, one nested transaction per run,
 * run again without an item the caller refuses.
 *
 * The server's batches of items (cpm_server_on_items) and delivery's batches
 * of records (cpm_delivery_apply) apply many items in one parent
 * transaction, and one refused item must leave nothing of itself while the
 * others take effect. A nested transaction per item would do, but each one
 * costs copies of the parent's dirty pages it touches and a merge at its
 * commit; so the items are applied together, in one nested transaction per
 * run of items:
 *   - every item of [lo, n) not settled yet is applied in one child of the
 *     parent, which is committed when all of them applied;
 *   - when the caller refuses item j, the child is aborted (nothing of the
 *     run stays), j is settled (refused() answers it for good), and the items
 *     before j, which applied, run again without it; those after j start the
 *     next run. Each item is applied once, plus once per refusal after it in
 *     a run that held it (twice at most when it is answered the same way
 *     twice);
 *   - an item refused by admit() (before apply(), without writing) is
 *     settled at once and its run goes on: there is nothing to undo.
 * An item applied once already, whose run was undone since, is applied
 * again with this thread's counters (cpm_metrics_add) and DEBUG/INFO lines
 * (cpm_log) muted: what it counted and said was counted and said the first
 * time. Its WARN and ERROR lines are not muted (cpm_log_mute says why). A
 * mute the caller had on stays on. Any other effect apply() has outside the
 * transaction must bear repeating, or be undone by run_undone() (the
 * server's queue of records to hand to its pump). The record of which items
 * applied once lasts one cpm_runs_apply call: a batch stopped and sent again
 * (delivery's, after a store error) counts its items again.
 *
 * Store errors (cpm_err_is_store) follow one of two policies
 * (cpm_runs_ops_t.store_errors_stop): they stop everything (delivery: the
 * batch is retried whole, so nothing of it may be committed), or they are
 * refusals like any other (the server: the item, or every unsettled item of
 * a run whose child could not begin or commit, is answered with the store
 * error and the other items go on).
 *
 * Except when the parent is left in error. Some of LMDB's failures to
 * commit a child mark the parent in error (MDB_TXN_ERROR) rather than leave
 * it as it was: a child itself in error (one of its writes failed, which
 * apply() did not report), or a failure after the merge into the parent
 * began (mdb_txn_commit). From then on no child of the parent can begin and
 * the parent cannot commit (MDB_BAD_TXN). So
 * after any run whose child could not begin or commit, the parent is
 * checked; when it is in error, cpm_runs_apply stops with that run's error
 * whatever the policy (refused() is not called for the unsettled items):
 * the others cannot go on, and the caller must abort the parent, the whole
 * batch failing with that error (the server answers the request with it;
 * nothing of the batch is recorded).
 *
 * Single-threaded per cpm_runs_t; the mute is per thread. A test-only fault
 * hook (internal/cpm_runs_int.h) makes a child's begin or commit fail. */
#ifndef CPM_RUNS_H
#define CPM_RUNS_H

#include "cpm_err.h"
#include "cpm_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_RUNS_ITEMS_MAX 4096 /* items of one batch (delivery's bound) */

/* The items of one batch: which are settled (answered for good, or never to
 * be applied), which were applied once already. On the caller's stack:
 * cpm_runs_init clears what n items use. */
typedef struct {
    size_t n;
    uint64_t settled[CPM_RUNS_ITEMS_MAX / 64];
    uint64_t once[CPM_RUNS_ITEMS_MAX / 64];
} cpm_runs_t;

/* What the caller does with its items; ctx is passed to each. */
typedef struct {
    /* Optional: 0 to go on to apply(), or a refusal made before writing
     * anything (e filled or not); called unmuted, in the run's child. */
    int (*admit)(void *ctx, MDB_txn *child, size_t i, cpm_error_t *e);
    /* Applies item i in the run's child: 0, or a refusal (e filled or not;
     * a store error is handled by the policy below). May run more than once
     * for an item (see above). */
    int (*apply)(void *ctx, MDB_txn *child, size_t i, cpm_error_t *e);
    /* Item i is settled as refused with rc (e as admit() or apply() left it,
     * or cleared for a run that could not begin or commit). again: the item
     * had applied once before in this batch (what it counted and said then
     * stands, though nothing of it stays; its later runs were muted).
     * Called with no child open, except after an admit() refusal, when the
     * run's child is open and the parent must not be written. 0 to go on;
     * anything else stops cpm_runs_apply, which returns it. */
    int (*refused)(void *ctx, size_t i, int rc, cpm_error_t *e, bool again);
    /* Optional: a run's child was begun; it was undone (aborted, or its
     * commit failed). For effects outside the store that must go with it. */
    void (*run_begun)(void *ctx);
    void (*run_undone)(void *ctx);
    /* true: a store error from apply(), or a child that cannot begin or
     * commit, stops cpm_runs_apply with that error (refused() not called);
     * false: the item, or every unsettled item of that run, is refused with
     * it and the others go on, unless the parent was left in error (above). */
    bool store_errors_stop;
} cpm_runs_ops_t;

/* Clears r for a batch of n items (n <= CPM_RUNS_ITEMS_MAX). */
void cpm_runs_init(cpm_runs_t *r, size_t n);
/* Item i is never to be applied (a tombstone): its runs pass it over, and
 * refused() is not called for it. */
void cpm_runs_settle(cpm_runs_t *r, size_t i);
/* 1 when item i is settled (by cpm_runs_settle or as refused). */
int cpm_runs_settled(const cpm_runs_t *r, size_t i);

/* Applies the items of r in nested transactions of txn, as above. 0 when
 * every item is settled or applied (the applied ones are in txn); or what
 * stopped it (a store error under store_errors_stop, the error of a run
 * that left txn in error under either policy, or refused()'s result), with
 * no child left open: what the runs committed into txn stays there, so the
 * caller aborts txn when nothing of the batch may stay, and always when it
 * is in error (it cannot commit). */
CPM_MUST_CHECK int cpm_runs_apply(cpm_runs_t *r, cpm_store_t *st, MDB_txn *txn,
                                  const cpm_runs_ops_t *ops, void *ctx);

#endif
