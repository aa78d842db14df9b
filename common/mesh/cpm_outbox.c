/* cpm_outbox: per-stream numbered records awaiting acknowledgement. See cpm_outbox.h. */
#include "cpm_outbox.h"

#include "cpm_err.h"
#include "cpm_log.h"
#include "cpm_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LMDB keys are at most 511 bytes; "outbox.acked:" is the longest prefix. */
#define STREAM_MAX 480
#define NEXT_PREFIX "outbox.next:"
#define ACKED_PREFIX "outbox.acked:"
#define EPOCH_PREFIX "outbox.epoch:"

typedef struct {
    char next[sizeof NEXT_PREFIX + STREAM_MAX];
    char acked[sizeof ACKED_PREFIX + STREAM_MAX];
    char epoch[sizeof EPOCH_PREFIX + STREAM_MAX];
    uint8_t rec[STREAM_MAX + 1 + 8]; /* stream \0 seq, seq filled per record */
    size_t slen;
} stream_keys_t;

/* prefix + stream into out, which has room for both and the zero. */
static void prefixed(char *out, const char *prefix, size_t plen, const char *stream, size_t slen)
{
    memcpy(out, prefix, plen);
    memcpy(out + plen, stream, slen + 1);
}

/* Build the keys of a stream on the stack; CPM_E_INVALID for a bad name. */
static int stream_keys(const char *op, const char *stream, stream_keys_t *k)
{
    k->slen = stream ? strlen(stream) : 0;
    if (k->slen == 0 || k->slen > STREAM_MAX) {
        cpm_error("outbox: %s: stream name must be 1 to %d bytes long, not %zu", op, STREAM_MAX,
                  k->slen);
        return CPM_E_INVALID;
    }
    /* Copies, not snprintf: every record queued builds these keys. */
    prefixed(k->next, NEXT_PREFIX, sizeof NEXT_PREFIX - 1, stream, k->slen);
    prefixed(k->acked, ACKED_PREFIX, sizeof ACKED_PREFIX - 1, stream, k->slen);
    prefixed(k->epoch, EPOCH_PREFIX, sizeof EPOCH_PREFIX - 1, stream, k->slen);
    memcpy(k->rec, stream, k->slen + 1);
    return 0;
}

static void rec_key_seq(stream_keys_t *k, uint64_t seq)
{
    cpm_put_be64(k->rec + k->slen + 1, seq);
}

/* seq of a cursor key, or 0 when the key belongs to another stream. */
static uint64_t rec_seq(const stream_keys_t *k, const MDB_val *key)
{
    if (key->mv_size != k->slen + 9 || memcmp(key->mv_data, k->rec, k->slen + 1) != 0)
        return 0;
    return cpm_get_be64((const uint8_t *)key->mv_data + k->slen + 1);
}

/* A reference's value: REF_MARK, REF_KIND, the database's name, a zero, the key. */
#define REF_MARK 0x00
#define REF_KIND 'R'
#define REF_DB_MAX 63
#define REF_KEY_MAX 255

static int put_value(cpm_store_t *s, MDB_txn *txn, const char *stream, const uint8_t *rec,
                     size_t len, uint64_t *seq_out);

int cpm_outbox_put(cpm_store_t *s, MDB_txn *txn, const char *stream, const uint8_t *rec, size_t len,
                   uint64_t *seq_out)
{
    if (rec == NULL && len != 0) {
        cpm_error("outbox: put: rec is NULL with len %zu", len);
        return CPM_E_INVALID;
    }
    if (len > 0 && rec[0] == REF_MARK) {
        cpm_error("outbox: put: a record may not begin with a zero byte (it marks a reference)");
        return CPM_E_INVALID;
    }
    return put_value(s, txn, stream, rec, len, seq_out);
}

int cpm_outbox_put_ref(cpm_store_t *s, MDB_txn *txn, const char *stream, const char *db,
                       const void *key, size_t klen, uint64_t *seq_out)
{
    size_t dl = db ? strnlen(db, REF_DB_MAX + 1) : 0; /* not past what fits */
    if (dl == 0 || dl > REF_DB_MAX || key == NULL || klen == 0 || klen > REF_KEY_MAX) {
        cpm_error("outbox: put_ref: db must be 1 to %d bytes and key 1 to %d, not %zu and %zu",
                  REF_DB_MAX, REF_KEY_MAX, dl, key ? klen : 0);
        return CPM_E_INVALID;
    }
    uint8_t v[2 + REF_DB_MAX + 1 + REF_KEY_MAX];
    v[0] = REF_MARK;
    v[1] = REF_KIND;
    memcpy(v + 2, db, dl + 1);
    memcpy(v + 3 + dl, key, klen);
    return put_value(s, txn, stream, v, 3 + dl + klen, seq_out);
}

static int put_value(cpm_store_t *s, MDB_txn *txn, const char *stream, const uint8_t *rec,
                     size_t len, uint64_t *seq_out)
{
    stream_keys_t k;
    int rc = stream_keys("put", stream, &k);
    if (rc != 0)
        return rc;
    uint64_t next;
    if ((rc = cpm_store_get_u64(s, txn, k.next, &next)) != 0)
        return rc;
    if (next == 0) { /* a new stream: a new epoch (see cpm_outbox_epoch) */
        uint64_t epoch = 0;
        while (epoch == 0)
            randombytes_buf(&epoch, sizeof epoch);
        if ((rc = cpm_store_put_u64(s, txn, k.epoch, epoch)) != 0)
            return rc;
        next = 1;
    }
    rec_key_seq(&k, next);
    if ((rc = cpm_store_put(s, txn, CPM_DB_OUTBOX, k.rec, k.slen + 9, rec, len)) != 0)
        return rc;
    if ((rc = cpm_store_put_u64(s, txn, k.next, next + 1)) != 0)
        return rc;
    if (seq_out != NULL)
        *seq_out = next;
    return 0;
}

int cpm_outbox_epoch(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t *epoch)
{
    stream_keys_t k;
    int rc = stream_keys("epoch", stream, &k);
    return rc ? rc : cpm_store_get_u64(s, txn, k.epoch, epoch);
}

void cpm_outbox_batch_clear(cpm_outbox_batch_t *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->recs[i]);
    free(b->recs);
    free(b->lens);
    memset(b, 0, sizeof *b);
}

/* The bytes a reference (a value that begins with REF_MARK) refers to, in
 * *v; CPM_E_INTERNAL, logged, when the value is not a well-formed reference
 * or its bytes are gone. */
static int resolve_ref(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t seq, MDB_val *v)
{
    const uint8_t *p = v->mv_data;
    /* at least: mark, kind, a one-byte name, its zero, a one-byte key */
    const uint8_t *nul =
        v->mv_size >= 5 && p[1] == REF_KIND ? memchr(p + 2, 0, v->mv_size - 2) : NULL;
    const void *bytes = NULL;
    size_t blen = 0;
    int rc = CPM_E_INTERNAL;
    if (nul != NULL && nul > p + 2 && nul + 1 < p + v->mv_size) {
        size_t klen = (size_t)(p + v->mv_size - (nul + 1));
        rc = cpm_store_get(s, txn, (const char *)p + 2, nul + 1, klen, &bytes, &blen);
    }
    if (rc != 0) {
        cpm_error("outbox: record %llu of stream %s refers to bytes this store does not hold "
                  "(%s): not sent",
                  (unsigned long long)seq, stream, cpm_err_name(rc));
        return rc == CPM_E_NOT_FOUND || rc == CPM_E_INVALID ? CPM_E_INTERNAL : rc;
    }
    v->mv_data = (void *)bytes;
    v->mv_size = blen;
    return 0;
}

/* Append a copy of v to b, growing the arrays by doubling. */
static int batch_push(cpm_outbox_batch_t *b, size_t *cap, const MDB_val *v)
{
    if (b->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        uint8_t **recs = realloc(b->recs, ncap * sizeof *recs);
        if (recs == NULL)
            return CPM_E_INTERNAL;
        b->recs = recs;
        size_t *lens = realloc(b->lens, ncap * sizeof *lens);
        if (lens == NULL)
            return CPM_E_INTERNAL;
        b->lens = lens;
        *cap = ncap;
    }
    uint8_t *copy = malloc(v->mv_size ? v->mv_size : 1);
    if (copy == NULL)
        return CPM_E_INTERNAL;
    memcpy(copy, v->mv_data, v->mv_size);
    b->recs[b->n] = copy;
    b->lens[b->n++] = v->mv_size;
    return 0;
}

int cpm_outbox_read(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t from_seq,
                    size_t max_n, size_t max_bytes, cpm_outbox_batch_t *b)
{
    memset(b, 0, sizeof *b);
    b->first_seq = from_seq;
    stream_keys_t k;
    int rc = stream_keys("read", stream, &k);
    if (rc != 0)
        return rc;
    if (max_n == 0) {
        cpm_error("outbox: read: max_n must be at least 1");
        return CPM_E_INVALID;
    }
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, cpm_store_dbi(s, CPM_DB_OUTBOX), &cur)) != 0)
        return cpm_store_err(rc);
    rec_key_seq(&k, from_seq);
    MDB_val key = {k.slen + 9, k.rec}, val;
    size_t cap = 0, total = 0;
    uint64_t seq;
    int failed = 0; /* a cpm error code: out of memory or a reference unresolved */
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         rc == 0 && b->n < max_n && (seq = rec_seq(&k, &key)) != 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (b->n > 0 && seq != b->first_seq + b->n)
            break; /* a gap cannot happen: ack deletes a prefix only */
        if (val.mv_size > 0 && *(const uint8_t *)val.mv_data == REF_MARK) {
            int bad = resolve_ref(s, txn, stream, seq, &val);
            if (bad != 0) { /* those before it still go; a read from it fails */
                failed = b->n == 0 ? bad : 0;
                break;
            }
        }
        if (b->n > 0 && total + val.mv_size > max_bytes)
            break;
        if (b->n == 0)
            b->first_seq = seq;
        if ((failed = batch_push(b, &cap, &val)) != 0) {
            cpm_error("outbox: read: out of memory copying %zu records", b->n);
            break;
        }
        total += val.mv_size;
    }
    mdb_cursor_close(cur);
    if (failed || (rc != 0 && rc != MDB_NOTFOUND)) {
        if (!failed)
            cpm_error("outbox: read on stream %s: %s", stream, mdb_strerror(rc));
        cpm_outbox_batch_clear(b);
        b->first_seq = from_seq;
        return failed ? failed : cpm_store_err(rc);
    }
    return 0;
}

int cpm_outbox_acked(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t *acked)
{
    stream_keys_t k;
    int rc = stream_keys("acked", stream, &k);
    return rc ? rc : cpm_store_get_u64(s, txn, k.acked, acked);
}

int cpm_outbox_ack(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t acked_seq)
{
    stream_keys_t k;
    int rc = stream_keys("ack", stream, &k);
    if (rc != 0)
        return rc;
    uint64_t acked, next;
    if ((rc = cpm_store_get_u64(s, txn, k.acked, &acked)) != 0 ||
        (rc = cpm_store_get_u64(s, txn, k.next, &next)) != 0)
        return rc;
    if (acked_seq <= acked)
        return 0; /* duplicate or reordered ack */
    if (next == 0 || acked_seq >= next) {
        /* The peer has applied records we never wrote: our store is older than
         * its state (restored backup?). Refuse rather than hide it. */
        cpm_error("outbox: ack %llu on stream %s is beyond the last record %llu",
                  (unsigned long long)acked_seq, stream, (unsigned long long)(next ? next - 1 : 0));
        return CPM_E_CONFLICT;
    }
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, cpm_store_dbi(s, CPM_DB_OUTBOX), &cur)) != 0)
        return cpm_store_err(rc);
    rec_key_seq(&k, acked + 1);
    MDB_val key = {k.slen + 9, k.rec}, val;
    uint64_t seq;
    /* After mdb_cursor_del the cursor already sits on the next record, and
     * MDB_NEXT returns that record rather than skipping it. */
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         rc == 0 && (seq = rec_seq(&k, &key)) != 0 && seq <= acked_seq;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if ((rc = cpm_store_cursor_del(s, cur)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        cpm_error("outbox: ack on stream %s: %s", stream, mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    return cpm_store_put_u64(s, txn, k.acked, acked_seq);
}

int cpm_outbox_last(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t *last)
{
    char key[sizeof NEXT_PREFIX + STREAM_MAX];
    size_t sl = stream ? strlen(stream) : 0;
    if (sl == 0 || sl > STREAM_MAX)
        return CPM_E_INVALID;
    memcpy(key, NEXT_PREFIX, sizeof NEXT_PREFIX - 1);
    memcpy(key + sizeof NEXT_PREFIX - 1, stream, sl + 1);
    uint64_t next;
    int rc = cpm_store_get_u64(s, txn, key, &next);
    if (rc == 0)
        *last = next ? next - 1 : 0;
    return rc;
}

int cpm_outbox_depth(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t *depth)
{
    stream_keys_t k;
    int rc = stream_keys("depth", stream, &k);
    if (rc != 0)
        return rc;
    uint64_t acked, next;
    if ((rc = cpm_store_get_u64(s, txn, k.acked, &acked)) != 0 ||
        (rc = cpm_store_get_u64(s, txn, k.next, &next)) != 0)
        return rc;
    *depth = next > acked + 1 ? next - 1 - acked : 0;
    return 0;
}

void cpm_outbox_streams_free(char ***streams, size_t n)
{
    if (streams == NULL || *streams == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free((*streams)[i]);
    free(*streams);
    *streams = NULL;
}

int cpm_outbox_streams(cpm_store_t *s, MDB_txn *txn, char ***streams, size_t *n)
{
    *streams = NULL;
    *n = 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(s, CPM_DB_META), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    const size_t plen = sizeof NEXT_PREFIX - 1;
    MDB_val key = {plen, (void *)NEXT_PREFIX}, val;
    size_t cap = 0;
    int oom = 0;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         rc == 0 && key.mv_size >= plen && memcmp(key.mv_data, NEXT_PREFIX, plen) == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (key.mv_size == plen)
            continue; /* not written by cpm_outbox_put: no stream is empty */
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char **grown = realloc(*streams, ncap * sizeof *grown);
            if ((oom = grown == NULL))
                break;
            *streams = grown;
            cap = ncap;
        }
        char *name = strndup((const char *)key.mv_data + plen, key.mv_size - plen);
        if ((oom = name == NULL))
            break;
        (*streams)[(*n)++] = name;
    }
    mdb_cursor_close(cur);
    if (oom || (rc != 0 && rc != MDB_NOTFOUND)) {
        if (oom)
            cpm_error("outbox: streams: out of memory after %zu streams", *n);
        else
            cpm_error("outbox: streams: %s", mdb_strerror(rc));
        cpm_outbox_streams_free(streams, *n);
        *n = 0;
        return oom ? CPM_E_INTERNAL : cpm_store_err(rc);
    }
    return 0;
}

#define HALTED_PREFIX "pump.halted:"

static int halted_key(const char *stream, char *key, size_t cap)
{
    int n = snprintf(key, cap, HALTED_PREFIX "%s", stream);
    return n > 0 && (size_t)n < cap ? 0 : CPM_E_INVALID;
}

int cpm_outbox_halt(cpm_store_t *s, MDB_txn *txn, const char *stream)
{
    char key[400];
    int rc = halted_key(stream, key, sizeof key);
    return rc ? rc : cpm_store_put_u64(s, txn, key, 1);
}

int cpm_outbox_halted(cpm_store_t *s, MDB_txn *txn, const char *stream, int *halted)
{
    char key[400];
    uint64_t v = 0;
    int rc = halted_key(stream, key, sizeof key);
    if (rc == 0)
        rc = cpm_store_get_u64(s, txn, key, &v);
    *halted = rc != 0 || v != 0; /* unreadable: taken as halted, the safe side */
    return rc;
}

#define FORMAT_KEY "outbox.format"

int cpm_outbox_format_open(cpm_store_t *s, MDB_txn *txn, uint64_t *lowered_from, cpm_error_t *err)
{
    *lowered_from = 0;
    uint64_t mark = 0;
    int rc = cpm_store_get_u64(s, txn, FORMAT_KEY, &mark);
    if (rc != 0)
        return rc;
    if (mark > CPM_OUTBOX_FORMAT) {
        char **streams = NULL;
        size_t n = 0;
        if ((rc = cpm_outbox_streams(s, txn, &streams, &n)) != 0)
            return rc;
        uint64_t depth = 0, waiting = 0;
        size_t held = 0, halted = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            int h = 0;
            if ((rc = cpm_outbox_depth(s, txn, streams[i], &depth)) != 0 || depth == 0)
                continue;
            waiting += depth;
            held++;
            if ((rc = cpm_outbox_halted(s, txn, streams[i], &h)) == 0 && h)
                halted++;
        }
        cpm_outbox_streams_free(&streams, n);
        if (rc != 0)
            return rc;
        if (waiting > 0 && halted > 0)
            return cpm_error_set(err, CPM_E_CONFLICT, "outbox.format",
                                 "outbox.format %llu is a newer build's and %llu records wait "
                                 "for their peers (streams: %zu, halted: %zu); this build reads "
                                 "format %d at most, and a halted stream never drains: restore "
                                 "the store's newest copy and run the newer build until cpmctl "
                                 "health shows outbox 0 (docs/operations.md, stream HALTED)",
                                 (unsigned long long)mark, (unsigned long long)waiting, held,
                                 halted, CPM_OUTBOX_FORMAT);
        if (waiting > 0)
            return cpm_error_set(err, CPM_E_CONFLICT, "outbox.format",
                                 "outbox.format %llu is a newer build's and %llu records wait "
                                 "for their peers (streams: %zu); this build reads format %d at "
                                 "most: run the newer one until cpmctl health shows outbox 0",
                                 (unsigned long long)mark, (unsigned long long)waiting, held,
                                 CPM_OUTBOX_FORMAT);
        *lowered_from = mark;
    }
    return mark == CPM_OUTBOX_FORMAT ? 0 : cpm_store_put_u64(s, txn, FORMAT_KEY, CPM_OUTBOX_FORMAT);
}
