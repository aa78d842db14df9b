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
 * again with this thread's counters (cpm_metrics_add) and log (cpm_log)
 * muted: what it counted and said was counted and said the first time.
 * Any other effect apply() has outside the transaction must bear repeating,
 * or be undone by run_undone() (the server's queue of records to hand to
 * its pump).
 *
 * Store errors (cpm_delivery_is_store_error) follow one of two policies
 * (cpm_runs_ops_t.store_errors_stop): they stop everything (delivery: the
 * batch is retried whole, so nothing of it may be committed), or they are
 * refusals like any other (the server: the item, or every unsettled item of
 * a run whose child could not begin or commit, is answered with the store
 * error and the other items go on).
 *
 * Single-threaded per cpm_runs_t; the mute is per thread. */
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
     * or cleared for a run that could not begin or commit). again: apply()
     * refused an item it had applied once before (its own lines were muted).
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
     * it and the others go on. */
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
 * stopped it (a store error under store_errors_stop, or refused()'s
 * result), with no child left open: what the runs committed into txn stays
 * there, so the caller aborts txn when nothing of the batch may stay. */
CPM_MUST_CHECK int cpm_runs_apply(cpm_runs_t *r, cpm_store_t *st, MDB_txn *txn,
                                  const cpm_runs_ops_t *ops, void *ctx);

/* Tests only (a fault hook, off unless armed): the nth child begin (at ==
 * CPM_RUNS_AT_BEGIN) or commit (CPM_RUNS_AT_COMMIT) from now, on any
 * thread, fails with rc, as a store that cannot; a commit that fails aborts
 * the child first, as LMDB does. n == 0 disarms. */
typedef enum { CPM_RUNS_AT_BEGIN, CPM_RUNS_AT_COMMIT } cpm_runs_at_t;
void cpm_runs_fault_arm(cpm_runs_at_t at, unsigned n, int rc);

#endif
