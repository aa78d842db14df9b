/* cpm_delivery: the receiving half of reliable delivery, without sockets.
 *
 * Applies one DeliveryBatch of a stream inside the caller's transaction:
 * records at or below the stream's high-water mark are duplicates and are
 * skipped; a batch that starts beyond mark + 1 (a gap) applies nothing; the
 * others are applied in order by apply(), and the mark moves with them in the
 * same transaction, so each record takes effect exactly once however often it
 * arrives. The new records are applied in one nested transaction per run
 * (cpm_runs.h): when apply() refuses a record (undecodable, invalid: any
 * error that is not a store error), that transaction is undone, the record
 * is kept as a dead letter and passed over, and the others are applied again
 * without it; so a refused record leaves no partial writes, one bad record
 * cannot stall a stream, and the others of its batch still take effect.
 * apply() may thus run more than once for a record (at most twice, plus once
 * for each refusal after it in its run); only the last run's writes stay,
 * and while a record applied once already runs again, this thread's counters
 * (cpm_metrics_add) and DEBUG/INFO lines (cpm_log) are muted, so they count
 * and say each applied record once within one call (its WARN and ERROR
 * lines are not muted: cpm_log_mute). A batch stopped by a store error is
 * sent again by its sender, and its records are then counted and said again:
 * what a call applied once is known to that call only. Any other effect
 * outside the transaction must bear repeating. */
#ifndef CPM_DELIVERY_H
#define CPM_DELIVERY_H

#include "cpm_err.h"
#include "cpm_store.h"

#include <stddef.h>
#include <stdint.h>

/* Applies one record; returns 0, a store error (CPM_E_STORE_FULL or
 * CPM_E_STORE_IO: the batch stops, nothing of it may be committed, the
 * sender retries) or another code with err filled (the record becomes a dead
 * letter: a record that can never be applied must not stall its stream). */
typedef int (*cpm_record_fn)(void *ctx, MDB_txn *txn, const uint8_t *rec, size_t len,
                             cpm_error_t *err);

#define CPM_DELIVERY_RECORDS_MAX 4096           /* records in one batch */
#define CPM_DELIVERY_RECORD_MAX (1u << 20)      /* bytes of one record */
#define CPM_DELIVERY_BATCH_BYTES_MAX (2u << 20) /* bytes of a batch's records */
#define CPM_DELIVERY_DEAD_MAX 1000              /* dead letters per sending member */
#define CPM_DELIVERY_DEAD_BYTES_MAX (16u << 20) /* their bytes per sending member */
/* Records a sender puts in one batch unless configured (batch_max); about
 * 1 MiB of them at most (cpm_pump). 512 before 2026-12-04: a backlog's
 * batches of ~900 complaints cost routing 18% less CPU per record than 512
 * (docs/operations.md, round 21). */
#define CPM_DELIVERY_BATCH_DEFAULT 1000
/* The most records a sender puts in one batch, whatever batch_max says: a
 * receiver takes no batch whose refused records would pass its cap of dead
 * letters, so a larger batch of records that all fail could never be taken,
 * even with the cap emptied. */
#define CPM_DELIVERY_BATCH_RECORDS                                                                 \
    (CPM_DELIVERY_RECORDS_MAX < CPM_DELIVERY_DEAD_MAX ? CPM_DELIVERY_RECORDS_MAX                   \
                                                      : CPM_DELIVERY_DEAD_MAX)
_Static_assert(CPM_DELIVERY_BATCH_DEFAULT <= CPM_DELIVERY_BATCH_RECORDS,
               "a default batch must fit a receiver's cap of dead letters");

/* 0 when a batch of n records of the given lengths is within the bounds
 * above, else CPM_E_TOO_LARGE with err naming "records". */
CPM_MUST_CHECK int cpm_delivery_check_batch(const size_t *lens, size_t n, cpm_error_t *err);

typedef struct {
    uint64_t hwm;          /* the mark after the batch: what to acknowledge */
    uint64_t applied;      /* records applied now */
    uint64_t duplicates;   /* records at or below the mark */
    uint64_t dead_letters; /* records kept aside */
    uint64_t skipped;      /* tombstones passed over */
    int gap;               /* 1 when the batch started beyond mark + 1 */
    int stuck;             /* 1 when refused: the sender's dead letters are at their cap */
} cpm_delivery_result_t;

/* stream: the mark's name (see cpm_stream_mark); the sending member
 * is what precedes its first '/'. 0 with res filled; CPM_E_TOO_LARGE for
 * more than CPM_DELIVERY_RECORDS_MAX records; CPM_E_INVALID for an
 * empty stream name; CPM_E_UNAVAILABLE with res->stuck set when one more
 * dead letter would pass the member's cap; or a store error (nothing may be
 * committed then). */
CPM_MUST_CHECK int cpm_delivery_apply(cpm_store_t *st, MDB_txn *txn, const char *stream,
                                      uint64_t first_seq, const uint8_t *const *recs,
                                      const size_t *lens, size_t n, cpm_record_fn apply, void *ctx,
                                      cpm_delivery_result_t *res);

/* cpm_delivery_apply with hooks around each run's nested transaction: for
 * what apply() does outside the store that must go with a run undone (the
 * server's queue of records sent, handed to its pump after the commit:
 * saved at run_begun, put back at run_undone). Either hook may be NULL. */
typedef struct {
    cpm_record_fn apply;
    void (*run_begun)(void *ctx);
    void (*run_undone)(void *ctx);
} cpm_delivery_ops_t;

CPM_MUST_CHECK int cpm_delivery_apply_ops(cpm_store_t *st, MDB_txn *txn, const char *stream,
                                          uint64_t first_seq, const uint8_t *const *recs,
                                          const size_t *lens, size_t n,
                                          const cpm_delivery_ops_t *ops, void *ctx,
                                          cpm_delivery_result_t *res);

/* 1 for the retryable store errors that stop a batch (the store failed, not
 * the record): cpm_err_is_store, under the name its callers know. */
int cpm_delivery_is_store_error(int rc);

#endif
