#include "cpm_delivery.h"
#include "cpm_inbox.h"
#include "cpm_log.h"
#include "cpm_ratelimit.h"
#include "cpm_runs.h"
#include "cpm_stream.h"
#include "cpm_util.h"

#include <stdio.h>
#include <string.h>

/* cpm_runs_init aborts past its bound: a batch must fit it. */
_Static_assert(CPM_DELIVERY_RECORDS_MAX <= CPM_RUNS_ITEMS_MAX, "a delivery batch fits cpm_runs");

int cpm_delivery_is_store_error(int rc)
{
    return cpm_err_is_store(rc);
}

int cpm_delivery_check_batch(const size_t *lens, size_t n, cpm_error_t *err)
{
    if (n > CPM_DELIVERY_RECORDS_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "records",
                             "a batch holds at most %d records, not %zu", CPM_DELIVERY_RECORDS_MAX,
                             n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > CPM_DELIVERY_RECORD_MAX)
            return cpm_error_set(err, CPM_E_TOO_LARGE, "records",
                                 "record %zu is %zu bytes; a record holds at most %u", i, lens[i],
                                 CPM_DELIVERY_RECORD_MAX);
        total += lens[i];
    }
    if (total > CPM_DELIVERY_BATCH_BYTES_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "records",
                             "the records are %zu bytes in all; a batch holds at most %u", total,
                             CPM_DELIVERY_BATCH_BYTES_MAX);
    return 0;
}

/* The dead letters of the member that sends on stream, counted once per
 * batch (*n == UINT64_MAX: not yet). 0, CPM_E_UNAVAILABLE at the cap, or a
 * store error. */
static int dead_letter_room(cpm_store_t *st, MDB_txn *txn, const char *stream, uint64_t *n,
                            uint64_t *bytes, size_t more)
{
    if (*n == UINT64_MAX) {
        char prefix[256];
        if (cpm_stream_sender_prefix(stream, prefix, sizeof prefix) != 0)
            snprintf(prefix, sizeof prefix, "%s", stream); /* not a stream name: itself */
        int rc = cpm_inbox_dead_usage(st, txn, prefix, CPM_DELIVERY_DEAD_MAX, n, bytes);
        if (rc != 0)
            return rc;
    }
    if (*n + 1 > CPM_DELIVERY_DEAD_MAX || *bytes + more > CPM_DELIVERY_DEAD_BYTES_MAX)
        return CPM_E_UNAVAILABLE;
    return 0;
}

/* Repeated failures from one peer are counted by the caller, but only a few
 * lines a minute reach the log. */
static cpm_ratelimit_t dead_log = CPM_RATELIMIT_INIT(20, 60000);

/* The new records of a batch as cpm_runs sees them (cpm_runs.h): item i is
 * record first_new + i; a refusal makes a dead letter, a store error stops
 * the batch. */
typedef struct {
    cpm_store_t *st;
    MDB_txn *txn;
    const char *stream;
    uint64_t first_seq;
    const uint8_t *const *recs;
    const size_t *lens;
    size_t first_new;
    const cpm_delivery_ops_t *ops;
    void *ctx;
    cpm_delivery_result_t *res;
    uint64_t dead_n, dead_bytes; /* the sender's dead letters (UINT64_MAX: not counted yet) */
    uint64_t dropped;            /* for cpm_ratelimit_allow */
} batch_t;

static int apply_record(void *ctx, MDB_txn *child, size_t i, cpm_error_t *e)
{
    batch_t *b = ctx;
    size_t k = b->first_new + i;
    return b->ops->apply(b->ctx, child, b->recs[k], b->lens[k], e);
}

/* Record first_new + i refused: kept as a dead letter in the batch's
 * transaction (no child is open: delivery admits every record). 0, or
 * CPM_E_UNAVAILABLE (res->stuck) or a store error, which stop the batch. */
static int dead_letter(void *ctx, size_t i, int rc, cpm_error_t *e, bool again)
{
    batch_t *b = ctx;
    size_t k = b->first_new + i;
    uint64_t seq = b->first_seq + k;
    size_t more = strlen(e->message) + 1 + b->lens[k];
    (void)rc;    /* e says why */
    (void)again; /* the dead letter's line says it */
    int room = dead_letter_room(b->st, b->txn, b->stream, &b->dead_n, &b->dead_bytes, more);
    if (room != 0) {
        b->res->stuck = room == CPM_E_UNAVAILABLE;
        return room;
    }
    if (cpm_ratelimit_allow(&dead_log, cpm_mono_ms(), &b->dropped))
        cpm_warn("%s record %llu kept as a dead letter: %s%s", b->stream, (unsigned long long)seq,
                 e->message, cpm_ratelimit_note(b->dropped));
    int kept =
        cpm_inbox_dead_letter(b->st, b->txn, b->stream, seq, e->message, b->recs[k], b->lens[k]);
    if (kept != 0)
        return kept;
    b->dead_n++;
    b->dead_bytes += more;
    b->res->dead_letters++;
    return 0;
}

static void run_begun(void *ctx)
{
    batch_t *b = ctx;
    b->ops->run_begun(b->ctx);
}

static void run_undone(void *ctx)
{
    batch_t *b = ctx;
    b->ops->run_undone(b->ctx);
}

int cpm_delivery_apply(cpm_store_t *st, MDB_txn *txn, const char *stream, uint64_t first_seq,
                       const uint8_t *const *recs, const size_t *lens, size_t n,
                       cpm_record_fn apply, void *ctx, cpm_delivery_result_t *res)
{
    const cpm_delivery_ops_t ops = {.apply = apply};
    return cpm_delivery_apply_ops(st, txn, stream, first_seq, recs, lens, n, &ops, ctx, res);
}

int cpm_delivery_apply_ops(cpm_store_t *st, MDB_txn *txn, const char *stream, uint64_t first_seq,
                           const uint8_t *const *recs, const size_t *lens, size_t n,
                           const cpm_delivery_ops_t *ops, void *ctx, cpm_delivery_result_t *res)
{
    memset(res, 0, sizeof *res);
    if (n > CPM_DELIVERY_RECORDS_MAX)
        return CPM_E_TOO_LARGE; /* cpm_delivery_check_batch refuses it before */
    int rc = cpm_inbox_hwm(st, txn, stream, &res->hwm);
    if (rc != 0)
        return rc;
    if (first_seq == 0 || first_seq > res->hwm + 1) {
        res->gap = 1;
        return 0;
    }
    size_t first_new = (size_t)(res->hwm + 1 - first_seq); /* records before it: duplicates */
    if (first_new >= n) {
        res->duplicates = n;
        return 0;
    }
    res->duplicates = first_new;
    /* The new records are applied together in one nested transaction per
     * run (cpm_runs.h): one per record cost ~13 us each (LMDB copies into
     * every child the pages already dirty in its parent). */
    cpm_runs_t runs;
    cpm_runs_init(&runs, n - first_new);
    for (size_t i = first_new; i < n; i++)
        if (lens[i] == 0) /* a tombstone: the sender kept that record itself */
            cpm_runs_settle(&runs, i - first_new);
    batch_t b = {.st = st,
                 .txn = txn,
                 .stream = stream,
                 .first_seq = first_seq,
                 .recs = recs,
                 .lens = lens,
                 .first_new = first_new,
                 .ops = ops,
                 .ctx = ctx,
                 .res = res,
                 .dead_n = UINT64_MAX};
    const cpm_runs_ops_t record_runs = {.apply = apply_record,
                                        .refused = dead_letter,
                                        .run_begun = ops->run_begun ? run_begun : NULL,
                                        .run_undone = ops->run_undone ? run_undone : NULL,
                                        .store_errors_stop = true};
    if ((rc = cpm_runs_apply(&runs, st, txn, &record_runs, &b)) != 0)
        return rc;
    for (size_t i = first_new; i < n; i++) {
        if (lens[i] == 0) {
            if (cpm_ratelimit_allow(&dead_log, cpm_mono_ms(), &b.dropped))
                cpm_warn("%s record %llu skipped: its sender could not send it%s", stream,
                         (unsigned long long)(first_seq + i), cpm_ratelimit_note(b.dropped));
            res->skipped++;
        } else if (!cpm_runs_settled(&runs, i - first_new)) {
            res->applied++;
        }
    }
    res->hwm = first_seq + n - 1;
    return cpm_inbox_set(st, txn, stream, res->hwm);
}
