/* cpm_retention: retention of dead letters. See cpm_retention.h. */
#include "cpm_retention.h"

#include "cpm_err.h"
#include "cpm_log.h"
#include "cpm_util.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX 511 /* LMDB's default key size limit */
#define SWEEP_MAX 1000

typedef struct {
    uint8_t key[KEY_MAX];
    size_t klen;
} key_t_;

typedef struct {
    key_t_ *keys;
    size_t n, cap;
} keys_t;

static void keys_add(keys_t *ks, const MDB_val *k)
{
    if (ks->n < ks->cap && k->mv_size <= KEY_MAX) {
        memcpy(ks->keys[ks->n].key, k->mv_data, k->mv_size);
        ks->keys[ks->n++].klen = k->mv_size;
    }
}

/* Walk every key of db: letters not yet noted go to fresh, letters noted long
 * enough ago to old (scanning "dead"); notes without a letter go to old
 * (scanning the notes, with other = "dead"). Stops when the lists are full. */
static int scan(cpm_store_t *st, MDB_txn *txn, const char *db, const char *other, int64_t cutoff,
                keys_t *fresh, keys_t *old)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, db), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    MDB_dbi odbi = cpm_store_dbi(st, other);
    MDB_val k, v, ov;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if ((!fresh || fresh->n == fresh->cap) && old->n == old->cap)
            break;
        int got = mdb_get(txn, odbi, &k, &ov);
        if (got != 0 && got != MDB_NOTFOUND) {
            rc = got;
            break;
        }
        if (!fresh) { /* scanning notes: drop those whose letter is gone */
            if (got == MDB_NOTFOUND)
                keys_add(old, &k);
        } else if (got == MDB_NOTFOUND) {
            keys_add(fresh, &k);
        } else if (ov.mv_size == 8 && (int64_t)cpm_get_be64(ov.mv_data) <= cutoff) {
            keys_add(old, &k);
        }
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : cpm_store_err(rc);
}

int cpm_retention_sweep_dead(cpm_store_t *st, MDB_txn *txn, int64_t now_ms, int64_t retention_ms,
                             size_t max, size_t *deleted)
{
    *deleted = 0;
    keys_t fresh = {calloc(max ? max : 1, sizeof(key_t_)), 0, max};
    keys_t old = {calloc(max ? max : 1, sizeof(key_t_)), 0, max};
    int rc = fresh.keys && old.keys ? 0 : CPM_E_INTERNAL;
    if (rc == 0)
        rc = scan(st, txn, CPM_DB_DEAD, CPM_RETENTION_DB, now_ms - retention_ms, &fresh, &old);
    uint8_t seen[8];
    cpm_put_be64(seen, (uint64_t)now_ms);
    for (size_t i = 0; rc == 0 && i < fresh.n; i++)
        rc = cpm_store_put(st, txn, CPM_RETENTION_DB, fresh.keys[i].key, fresh.keys[i].klen, seen,
                           8);
    for (size_t i = 0; rc == 0 && i < old.n; i++) {
        rc = cpm_store_del(st, txn, CPM_DB_DEAD, old.keys[i].key, old.keys[i].klen);
        if (rc == 0)
            rc = cpm_store_del(st, txn, CPM_RETENTION_DB, old.keys[i].key, old.keys[i].klen);
        if (rc == 0)
            (*deleted)++;
    }
    if (rc == 0) { /* notes of letters deleted by someone else */
        old.n = 0;
        rc = scan(st, txn, CPM_RETENTION_DB, CPM_DB_DEAD, 0, NULL, &old);
        for (size_t i = 0; rc == 0 && i < old.n; i++)
            rc = cpm_store_del(st, txn, CPM_RETENTION_DB, old.keys[i].key, old.keys[i].klen);
    }
    free(fresh.keys);
    free(old.keys);
    return rc;
}

typedef struct {
    int64_t now_ms, retention_ms;
    size_t deleted;
} sweep_t;

static int sweep(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    sweep_t *s = ctx;
    return cpm_retention_sweep_dead(cpm_server_store(srv), txn, s->now_ms, s->retention_ms,
                                    SWEEP_MAX, &s->deleted);
}

void cpm_retention_tick(cpm_server_t *srv)
{
    static int64_t next_ms;
    int64_t now = cpm_now_ms();
    if (now < next_ms)
        return;
    sweep_t s = {now, (int64_t)cpm_server_config(srv)->dead_retention_s * 1000, 0};
    /* A short retention (tests) is swept as often as it needs. */
    next_ms =
        now + (s.retention_ms < CPM_RETENTION_EVERY_MS ? s.retention_ms : CPM_RETENTION_EVERY_MS);
    int rc = cpm_server_write(srv, sweep, &s);
    if (rc != 0) {
        cpm_warn("retention: dead letter sweep failed: %s", cpm_err_name(rc));
        return;
    }
    if (s.deleted) {
        cpm_metrics_add(cpm_server_metrics(srv), "retention.dead_deleted", s.deleted);
        cpm_info("retention: deleted %zu dead letter%s older than %u s", s.deleted,
                 s.deleted == 1 ? "" : "s", cpm_server_config(srv)->dead_retention_s);
    }
}
