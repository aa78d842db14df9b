/* cpm_sweep: a bounded, resumable walk over one database, deleting what a
 * rule says is old.
 *
 * Indexes that grow with every record a sender may cause (duplicate links,
 * cluster aggregates, offline act ids) must not grow for ever, and their
 * retention must not cost unbounded time in one tick either. A sweep step
 * looks at no more than max records from where the last step stopped (the
 * caller owns the cursor; a zeroed cursor starts at the first key), asks
 * decide() about each and deletes those it marks; at the end of the database
 * the cursor wraps, so every record is looked at once per pass. */
#ifndef CPM_SWEEP_H
#define CPM_SWEEP_H

#include "cpm_err.h"
#include "cpm_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_SWEEP_KEY_MAX 511 /* LMDB's default key size limit */

typedef struct {
    uint8_t key[CPM_SWEEP_KEY_MAX]; /* the last key looked at */
    size_t klen;                    /* 0: start at the first key */
} cpm_sweep_cursor_t;

/* Whether the record (k, v) of the database swept is to be deleted (*del),
 * after any change of other databases that goes with it. decide may rewrite
 * this record (same key) but no other record of the database swept. 0 or a
 * store error, which ends the step. */
typedef int (*cpm_sweep_decide_fn)(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v,
                                   bool *del);

typedef struct {
    size_t looked;  /* records looked at */
    size_t deleted; /* records deleted */
    bool wrapped;   /* the end was reached: the next step starts again */
} cpm_sweep_stats_t;

/* One step over db in txn: at most max records after cur, each decided and
 * maybe deleted. 0 or a store error (the caller aborts txn then). */
CPM_MUST_CHECK int cpm_sweep_step(cpm_store_t *st, MDB_txn *txn, const char *db,
                                  cpm_sweep_cursor_t *cur, size_t max, cpm_sweep_decide_fn decide,
                                  void *ctx, cpm_sweep_stats_t *stats);

#endif
