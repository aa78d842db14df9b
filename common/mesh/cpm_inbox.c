/* cpm_inbox: per-stream high-water marks and dead letters. See cpm_inbox.h. */
#include "cpm_inbox.h"

#include "cpm_err.h"
#include "cpm_log.h"
#include "cpm_util.h"

#include <string.h>

/* Same bound as the outbox: stream \0 seq must fit an LMDB key (511). */
#define STREAM_MAX 480

static int check_stream(const char *op, const char *stream, size_t *slen)
{
    *slen = stream ? strlen(stream) : 0;
    if (*slen == 0 || *slen > STREAM_MAX) {
        cpm_error("inbox: %s: stream name must be 1 to %d bytes long, not %zu", op, STREAM_MAX,
                  *slen);
        return CPM_E_INVALID;
    }
    return 0;
}

int cpm_inbox_hwm(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t *hwm)
{
    size_t slen;
    int rc = check_stream("hwm", stream, &slen);
    if (rc != 0)
        return rc;
    const void *val;
    size_t vlen;
    rc = cpm_store_get(s, txn, CPM_DB_INBOX, stream, slen, &val, &vlen);
    if (rc == CPM_E_NOT_FOUND) {
        *hwm = 0;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (vlen != 8) {
        cpm_error("inbox: stream %s holds %zu bytes, not a u64 (corrupt store?)", stream, vlen);
        return CPM_E_INTERNAL;
    }
    *hwm = cpm_get_be64(val);
    return 0;
}

int cpm_inbox_set(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t hwm)
{
    size_t slen;
    int rc = check_stream("set", stream, &slen);
    if (rc != 0)
        return rc;
    uint8_t buf[8];
    cpm_put_be64(buf, hwm);
    return cpm_store_put(s, txn, CPM_DB_INBOX, stream, slen, buf, sizeof buf);
}

int cpm_inbox_dead_letter(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t seq,
                          const char *reason, const uint8_t *rec, size_t len)
{
    size_t slen;
    int rc = check_stream("dead_letter", stream, &slen);
    if (rc != 0)
        return rc;
    if (rec == NULL && len != 0) {
        cpm_error("inbox: dead_letter: rec is NULL with len %zu", len);
        return CPM_E_INVALID;
    }
    if (reason == NULL)
        reason = "";
    size_t rlen = strlen(reason);
    uint8_t kbuf[STREAM_MAX + 1 + 8];
    memcpy(kbuf, stream, slen + 1);
    cpm_put_be64(kbuf + slen + 1, seq);
    MDB_val k = {slen + 9, kbuf}, v = {rlen + 1 + len, NULL};
    /* Reserve the value in the map and fill it there: no temporary buffer. */
    rc = cpm_store_mdb_put(s, txn, cpm_store_dbi(s, CPM_DB_DEAD), &k, &v, MDB_RESERVE);
    if (rc != 0) {
        if (rc != MDB_MAP_FULL)
            cpm_error("inbox: dead_letter on stream %s: %s", stream, mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    memcpy(v.mv_data, reason, rlen + 1);
    if (len)
        memcpy((uint8_t *)v.mv_data + rlen + 1, rec, len);
    return 0;
}

int cpm_inbox_dead_count(cpm_store_t *s, MDB_txn *txn, uint64_t *n)
{
    MDB_stat st;
    int rc = mdb_stat(txn, cpm_store_dbi(s, CPM_DB_DEAD), &st);
    if (rc != 0) {
        cpm_error("inbox: dead_count: %s", mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    *n = st.ms_entries;
    return 0;
}

int cpm_inbox_dead_usage(cpm_store_t *s, MDB_txn *txn, const char *prefix, uint64_t max_n,
                         uint64_t *n, uint64_t *bytes)
{
    *n = 0;
    *bytes = 0;
    size_t plen = prefix ? strlen(prefix) : 0;
    if (plen == 0 || plen > STREAM_MAX)
        return CPM_E_INVALID;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(s, CPM_DB_DEAD), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    MDB_val k = {plen, (void *)prefix}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0 && *n <= max_n;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ++*n;
        *bytes += v.mv_size;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        cpm_error("inbox: dead_usage: %s", mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    return 0;
}

int cpm_inbox_dead_exists(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t seq,
                          int *exists)
{
    size_t slen;
    int rc = check_stream("dead_exists", stream, &slen);
    if (rc != 0)
        return rc;
    uint8_t kbuf[STREAM_MAX + 1 + 8];
    memcpy(kbuf, stream, slen + 1);
    cpm_put_be64(kbuf + slen + 1, seq);
    MDB_val k = {slen + 9, kbuf}, v;
    rc = mdb_get(txn, cpm_store_dbi(s, CPM_DB_DEAD), &k, &v);
    *exists = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND) {
        cpm_error("inbox: dead_exists on stream %s: %s", stream, mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    return 0;
}
