#include "cpm_delivery.h"
#include "cpm_inbox.h"
#include "cpm_log.h"

#include <stdio.h>
#include <string.h>

int cpm_delivery_is_store_error(int rc)
{
    return rc == CPM_E_STORE_FULL || rc == CPM_E_STORE_IO;
}

void cpm_delivery_mark_name(const char *stream, uint64_t epoch, char *out, size_t n)
{
    if (epoch == 0)
        snprintf(out, n, "%s", stream);
    else
        snprintf(out, n, "%s@%016llx", stream, (unsigned long long)epoch);
}

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
    uint64_t start = res->hwm;
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = first_seq + i;
        if (seq <= res->hwm) {
            res->duplicates++;
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
            cpm_warn("%s record %llu kept as a dead letter: %s", stream, (unsigned long long)seq,
                     e.message);
            rc = cpm_inbox_dead_letter(st, txn, stream, seq, e.message, recs[i], lens[i]);
            if (rc != 0)
                return rc;
            res->dead_letters++;
        } else {
            res->applied++;
        }
        res->hwm = seq;
    }
    return res->hwm > start ? cpm_inbox_set(st, txn, stream, res->hwm) : 0;
}
