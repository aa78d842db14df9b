#include "cpm_delivery.h"
#include "cpm_inbox.h"
#include "cpm_log.h"
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

int cpm_delivery_apply(cpm_store_t *st, MDB_txn *txn, const char *stream, uint64_t first_seq,
                       const uint8_t *const *recs, const size_t *lens, size_t n,
                       cpm_record_fn apply, void *ctx, cpm_delivery_result_t *res)
{
    memset(res, 0, sizeof *res);
    int rc = cpm_inbox_hwm(st, txn, stream, &res->hwm);
    if (rc != 0)
        return rc;
    if (first_seq == 0 || first_seq > res->hwm + 1) {
        res->gap = 1;
        return 0;
    }
    uint64_t start = res->hwm, dead_n = UINT64_MAX, dead_bytes = 0, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = first_seq + i;
        if (seq <= res->hwm) {
            res->duplicates++;
            continue;
        }
        if (lens[i] == 0) { /* a tombstone: the sender kept that record itself */
            if (cpm_ratelimit_allow(&dead_log, cpm_mono_ms(), &dropped))
                cpm_warn("%s record %llu skipped: its sender could not send it%s", stream,
                         (unsigned long long)seq, cpm_ratelimit_note(dropped));
            res->skipped++;
            res->hwm = seq;
            continue;
        }
        /* Each record in its own nested transaction, so that a record that
         * fails half-way leaves nothing behind but its dead letter. */
        cpm_error_t e = {0};
        MDB_txn *child = NULL;
        int arc = cpm_store_begin_child(st, txn, &child);
        if (arc != 0)
            return arc;
        arc = apply(ctx, child, recs[i], lens[i], &e);
        if (arc == 0)
            arc = cpm_store_commit(child);
        else
            cpm_store_abort(&child);
        if (cpm_delivery_is_store_error(arc))
            return arc;
        if (arc != 0) {
            size_t more = strlen(e.message) + 1 + lens[i];
            if ((rc = dead_letter_room(st, txn, stream, &dead_n, &dead_bytes, more)) != 0) {
                res->stuck = rc == CPM_E_UNAVAILABLE;
                return rc;
            }
            if (cpm_ratelimit_allow(&dead_log, cpm_mono_ms(), &dropped))
                cpm_warn("%s record %llu kept as a dead letter: %s%s", stream,
                         (unsigned long long)seq, e.message, cpm_ratelimit_note(dropped));
            rc = cpm_inbox_dead_letter(st, txn, stream, seq, e.message, recs[i], lens[i]);
            if (rc != 0)
                return rc;
            dead_n++;
            dead_bytes += more;
            res->dead_letters++;
        } else {
            res->applied++;
        }
        res->hwm = seq;
    }
    return res->hwm > start ? cpm_inbox_set(st, txn, stream, res->hwm) : 0;
}
