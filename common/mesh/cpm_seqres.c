/* cpm_seqres: persisted reservations of sequence numbers. See cpm_seqres.h. */
#include "cpm_seqres.h"

#include <stdio.h>

static uint64_t next_seq(const cpm_seqres_t *r, int64_t now_us)
{
    uint64_t clock = now_us > 0 ? (uint64_t)now_us : 0;
    return r->sender->last_seq + 1 > clock ? r->sender->last_seq + 1 : clock;
}

static int reserve(cpm_seqres_t *r, cpm_store_t *store, uint64_t value)
{
    MDB_txn *txn = NULL;
    int rc = cpm_store_begin(store, true, &txn);
    if (rc == 0)
        rc = cpm_store_put_u64(store, txn, r->key, value);
    if (rc == 0)
        rc = cpm_store_commit(txn);
    else
        cpm_store_abort(&txn);
    if (rc == 0)
        r->reserved = value;
    return rc;
}

int cpm_seqres_start(cpm_seqres_t *r, cpm_store_t *store, cpm_sender_t *sender, int64_t now_us)
{
    r->sender = sender;
    r->reserved = 0;
    snprintf(r->key, sizeof r->key, "seq.%s", sender->instance);
    MDB_txn *txn = NULL;
    uint64_t persisted = 0;
    int rc = cpm_store_begin(store, false, &txn);
    if (rc == 0)
        rc = cpm_store_get_u64(store, txn, r->key, &persisted);
    cpm_store_abort(&txn);
    if (rc != 0)
        return rc;
    if (persisted > sender->last_seq)
        sender->last_seq = persisted; /* the next one is above every one used */
    return reserve(r, store, next_seq(r, now_us) + (uint64_t)CPM_SEQRES_AHEAD_US);
}

int cpm_seqres_keep(cpm_seqres_t *r, cpm_store_t *store, int64_t now_us)
{
    uint64_t next = next_seq(r, now_us);
    if (next + (uint64_t)CPM_SEQRES_AHEAD_US / 2 < r->reserved)
        return 0;
    return reserve(r, store, next + (uint64_t)CPM_SEQRES_AHEAD_US);
}
