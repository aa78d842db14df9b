#include "cpm_delivery.h"
#include "cpm_inbox.h"
#include "cpm_log.h"
#include "cpm_metrics.h"
#include "cpm_ratelimit.h"
#include "cpm_stream.h"
#include "cpm_util.h"

#include <stdio.h>
#include <string.h>

int cpm_delivery_is_store_error(int rc)
{
    return rc == CPM_E_STORE_FULL || rc == CPM_E_STORE_IO;
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

/* The records of a batch already settled (dead letters): one bit each. */
typedef struct {
    uint64_t bits[(CPM_DELIVERY_RECORDS_MAX + 63) / 64];
} settled_t;

static int is_settled(const settled_t *s, size_t i)
{
    return (int)((s->bits[i / 64] >> (i % 64)) & 1);
}

/* Applies records [lo, hi) of the batch that are neither tombstones nor
 * settled in one nested transaction of txn, committed when all of them
 * applied. Returns 0; or a store error (*fail = hi: nothing of the run
 * stays); or apply()'s refusal of record *fail with e filled, the nested
 * transaction aborted so that nothing of the run stays either. again: the
 * run repeats records already applied once (then undone with a refused
 * one): what apply() counts and logs was counted and logged the first time,
 * so this thread's counters and log are muted meanwhile. */
static int apply_run(cpm_store_t *st, MDB_txn *txn, const uint8_t *const *recs, const size_t *lens,
                     size_t lo, size_t hi, const settled_t *settled, cpm_record_fn apply, void *ctx,
                     int again, size_t *fail, cpm_error_t *e)
{
    *fail = hi;
    size_t i = lo;
    while (i < hi && (lens[i] == 0 || is_settled(settled, i)))
        i++;
    if (i == hi)
        return 0; /* nothing to apply: no transaction */
    MDB_txn *child = NULL;
    int rc = cpm_store_begin_child(st, txn, &child);
    if (rc != 0)
        return rc;
    for (; i < hi; i++) {
        if (lens[i] == 0 || is_settled(settled, i))
            continue;
        memset(e, 0, sizeof *e);
        if (again) {
            cpm_metrics_mute(1);
            cpm_log_mute(1);
        }
        rc = apply(ctx, child, recs[i], lens[i], e);
        if (again) {
            cpm_metrics_mute(0);
            cpm_log_mute(0);
        }
        if (rc != 0) {
            cpm_store_abort(&child);
            if (!cpm_delivery_is_store_error(rc))
                *fail = i;
            return rc;
        }
    }
    return cpm_store_commit(child);
}

int cpm_delivery_apply(cpm_store_t *st, MDB_txn *txn, const char *stream, uint64_t first_seq,
                       const uint8_t *const *recs, const size_t *lens, size_t n,
                       cpm_record_fn apply, void *ctx, cpm_delivery_result_t *res)
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
    /* The new records are applied together in one nested transaction: one
     * per record cost ~13 us each (LMDB copies into every child the pages
     * already dirty in its parent). When apply() refuses record j, that run
     * is undone, j becomes a dead letter, and the records before j (which
     * applied) run again on their own, then those after j: each record is
     * applied at most twice plus once per refusal within its run, and what a
     * refused record wrote never reaches the store. */
    settled_t settled;
    memset(&settled, 0, sizeof settled);
    uint64_t dead_n = UINT64_MAX, dead_bytes = 0, dropped = 0;
    size_t lo = first_new;
    while (lo < n) {
        size_t hi = n, fail;
        cpm_error_t e = {0};
        int again = 0; /* after a refusal: [lo, hi) applied once already */
        while ((rc = apply_run(st, txn, recs, lens, lo, hi, &settled, apply, ctx, again, &fail,
                               &e)) != 0) {
            if (fail == hi)
                return rc; /* a store error: the batch stops */
            uint64_t seq = first_seq + fail;
            size_t more = strlen(e.message) + 1 + lens[fail];
            if ((rc = dead_letter_room(st, txn, stream, &dead_n, &dead_bytes, more)) != 0) {
                res->stuck = rc == CPM_E_UNAVAILABLE;
                return rc;
            }
            if (cpm_ratelimit_allow(&dead_log, cpm_mono_ms(), &dropped))
                cpm_warn("%s record %llu kept as a dead letter: %s%s", stream,
                         (unsigned long long)seq, e.message, cpm_ratelimit_note(dropped));
            rc = cpm_inbox_dead_letter(st, txn, stream, seq, e.message, recs[fail], lens[fail]);
            if (rc != 0)
                return rc;
            settled.bits[fail / 64] |= (uint64_t)1 << (fail % 64);
            dead_n++;
            dead_bytes += more;
            res->dead_letters++;
            hi = fail; /* the records before it, again without it */
            again = 1;
        }
        /* [lo, hi) is in txn now; hi, when below n, is a dead letter */
        for (size_t i = lo; i < hi; i++) {
            if (lens[i] == 0) { /* a tombstone: the sender kept that record itself */
                if (cpm_ratelimit_allow(&dead_log, cpm_mono_ms(), &dropped))
                    cpm_warn("%s record %llu skipped: its sender could not send it%s", stream,
                             (unsigned long long)(first_seq + i), cpm_ratelimit_note(dropped));
                res->skipped++;
            } else if (!is_settled(&settled, i)) {
                res->applied++;
            }
        }
        lo = hi < n ? hi + 1 : n;
    }
    res->hwm = first_seq + n - 1;
    return cpm_inbox_set(st, txn, stream, res->hwm);
}
