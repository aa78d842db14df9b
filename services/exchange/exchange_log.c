/* exchange_log: the proof log in the store. See exchange_log.h. */
#include "exchange_log.h"

#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "cpm_util.h"
#include "cpm_xlog.h"

#include <stdlib.h>
#include <string.h>

#define HEAD_KEY "xlog.head"
#define HASH_KEY "xlog.hash"

int exchange_log_head(cpm_store_t *st, MDB_txn *txn, uint64_t *seq, uint8_t hash[32])
{
    int rc = cpm_store_get_u64(st, txn, HEAD_KEY, seq);
    if (rc != 0 || !hash)
        return rc;
    const void *v;
    size_t len;
    rc = cpm_store_get(st, txn, CPM_DB_META, HASH_KEY, sizeof HASH_KEY - 1, &v, &len);
    if (rc == CPM_E_NOT_FOUND && *seq == 0) {
        memset(hash, 0, 32);
        return 0;
    }
    if (rc != 0 || len != 32) {
        cpm_error("exchange log: head %llu has no 32-byte hash (corrupt store?)",
                  (unsigned long long)*seq);
        return rc ? rc : CPM_E_INTERNAL;
    }
    memcpy(hash, v, 32);
    return 0;
}

int exchange_log_append(cpm_store_t *st, MDB_txn *txn, int64_t at_ms, const exchange_log_entry_t *e,
                        uint64_t *seq_out)
{
    uint64_t head;
    uint8_t prev[32], content[32], hash[32];
    int rc = exchange_log_head(st, txn, &head, prev);
    if (rc != 0)
        return rc;
    Cpm__LogEntry le = CPM__LOG_ENTRY__INIT;
    le.seq = head + 1;
    le.at_ms = at_ms;
    le.kind = (char *)(e->kind ? e->kind : "");
    le.peer = (char *)(e->peer ? e->peer : "");
    le.dataset = (char *)(e->dataset ? e->dataset : "");
    le.request.data = (uint8_t *)e->request;
    le.request.len = e->request_len;
    le.response.data = (uint8_t *)e->response;
    le.response.len = e->response_len;
    size_t blen = cpm__log_entry__get_packed_size(&le);
    uint8_t *body = malloc(blen ? blen : 1);
    if (!body)
        return CPM_E_INTERNAL;
    cpm__log_entry__pack(&le, body);
    cpm_xlog_content(body, blen, content);
    cpm_xlog_link(prev, content, hash);
    Cpm__LogRecord lr = CPM__LOG_RECORD__INIT;
    lr.body.data = body;
    lr.body.len = blen;
    lr.prev_hash.data = prev;
    lr.prev_hash.len = 32;
    lr.hash.data = hash;
    lr.hash.len = 32;
    uint8_t key[8];
    cpm_put_be64(key, le.seq);
    MDB_val k = {8, key};
    rc = cpm_store_mdb_put_msg(st, txn, cpm_store_dbi(st, EXCHANGE_LOG_DB), &k, &lr.base, 0);
    free(body);
    if (rc != 0) {
        if (rc != MDB_MAP_FULL)
            cpm_error("exchange log: append %llu: %s", (unsigned long long)le.seq,
                      mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    if ((rc = cpm_store_put_u64(st, txn, HEAD_KEY, le.seq)) != 0 ||
        (rc = cpm_store_put(st, txn, CPM_DB_META, HASH_KEY, sizeof HASH_KEY - 1, hash, 32)) != 0)
        return rc;
    if (seq_out)
        *seq_out = le.seq;
    return 0;
}

int exchange_log_get(cpm_store_t *st, MDB_txn *txn, uint64_t seq, Cpm__LogRecord **out)
{
    uint8_t key[8];
    cpm_put_be64(key, seq);
    const void *v;
    size_t len;
    *out = NULL;
    int rc = cpm_store_get(st, txn, EXCHANGE_LOG_DB, key, 8, &v, &len);
    if (rc != 0)
        return rc;
    *out = cpm__log_record__unpack(cpm_pb_budget(len), len, v);
    return *out ? 0 : CPM_E_BAD_MESSAGE;
}
