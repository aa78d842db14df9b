/* hotspot_keys: per-key state and the LRU bound (see hotspot_keys.h). */
#include "hotspot_keys.h"

#include "cpm_util.h"

#include <stddef.h>
#include <string.h>

#define FIXED offsetof(hotspot_state_t, ring)

static size_t lru_key(uint8_t *out, uint64_t stamp, const char *key, size_t klen)
{
    cpm_put_be64(out, stamp);
    memcpy(out + 8, key, klen);
    return 8 + klen;
}

int hotspot_keys_count(cpm_store_t *st, MDB_txn *txn, uint64_t *n)
{
    MDB_stat ms;
    int rc = mdb_stat(txn, cpm_store_dbi(st, HOTSPOT_KEYS_DB), &ms);
    *n = rc == 0 ? ms.ms_entries : 0;
    return rc == 0 ? 0 : cpm_store_err(rc);
}

int hotspot_keys_load(cpm_store_t *st, MDB_txn *txn, const char *key, uint32_t window_h,
                      hotspot_state_t *s, bool *found)
{
    const void *v;
    size_t n;
    memset(s, 0, FIXED);
    s->version = HOTSPOT_STATE_VERSION;
    s->window_h = window_h;
    *found = false;
    int rc = cpm_store_get(st, txn, HOTSPOT_KEYS_DB, key, strlen(key), &v, &n);
    if (rc == CPM_E_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    *found = true; /* present: counted in the bound */
    hotspot_state_t old;
    if (n < FIXED)
        return 0; /* unreadable: stamp 0, its LRU entry is stale from now on */
    memcpy(&old, v, FIXED);
    if (old.version != HOTSPOT_STATE_VERSION || old.window_h == 0 ||
        old.window_h > HOTSPOT_WINDOW_MAX || n != FIXED + 4 * (size_t)old.window_h) {
        /* This version, a wrong length: its stamp still names its LRU entry. */
        s->stamp = old.version == HOTSPOT_STATE_VERSION ? old.stamp : 0;
        return 0;
    }
    memcpy(s, &old, FIXED);
    if (old.window_h == window_h)
        memcpy(s->ring, (const uint8_t *)v + FIXED, 4 * (size_t)window_h);
    else { /* the window was changed in the configuration: counted afresh */
        s->window_h = window_h;
        s->ring_hour = 0;
    }
    if (s->n_recent > HOTSPOT_RECENT || s->recent_head >= HOTSPOT_RECENT)
        s->n_recent = s->recent_head = 0;
    for (uint32_t i = 0; i < HOTSPOT_RECENT; i++)
        s->recent[i].ticket[HOTSPOT_TICKET_MAX - 1] = 0;
    return 0;
}

static int lru_del(cpm_store_t *st, MDB_txn *txn, uint64_t stamp, const char *key)
{
    uint8_t k[8 + HOTSPOT_KEY_MAX];
    size_t klen = strlen(key);
    if (klen > HOTSPOT_KEY_MAX)
        return CPM_E_INVALID;
    int rc = cpm_store_del(st, txn, HOTSPOT_LRU_DB, k, lru_key(k, stamp, key, klen));
    return rc == CPM_E_NOT_FOUND ? 0 : rc;
}

int hotspot_keys_save(cpm_store_t *st, MDB_txn *txn, const char *key, uint64_t old_stamp,
                      const hotspot_state_t *s)
{
    size_t klen = strlen(key);
    if (klen == 0 || klen > HOTSPOT_KEY_MAX || s->window_h == 0 || s->window_h > HOTSPOT_WINDOW_MAX)
        return CPM_E_INVALID;
    int rc = cpm_store_put(st, txn, HOTSPOT_KEYS_DB, key, klen, s, FIXED + 4 * (size_t)s->window_h);
    if (rc != 0)
        return rc;
    if (old_stamp && old_stamp != s->stamp && (rc = lru_del(st, txn, old_stamp, key)) != 0)
        return rc;
    uint8_t k[8 + HOTSPOT_KEY_MAX];
    if ((rc = cpm_store_put(st, txn, HOTSPOT_LRU_DB, k, lru_key(k, s->stamp, key, klen), "", 0)) !=
        0)
        return rc;
    return 0;
}

int hotspot_keys_open_get(cpm_store_t *st, MDB_txn *txn, const char *key, uint64_t *n)
{
    const void *v;
    size_t len;
    *n = 0;
    int rc = cpm_store_get(st, txn, HOTSPOT_OPEN_DB, key, strlen(key), &v, &len);
    if (rc == CPM_E_NOT_FOUND)
        return 0;
    if (rc == 0 && len == 8)
        *n = cpm_get_be64(v);
    return rc;
}

int hotspot_keys_open_set(cpm_store_t *st, MDB_txn *txn, const char *key, uint64_t n)
{
    if (n == 0) {
        int rc = cpm_store_del(st, txn, HOTSPOT_OPEN_DB, key, strlen(key));
        return rc == CPM_E_NOT_FOUND ? 0 : rc;
    }
    uint8_t v[8];
    cpm_put_be64(v, n);
    return cpm_store_put(st, txn, HOTSPOT_OPEN_DB, key, strlen(key), v, sizeof v);
}

/* What eviction does with the LRU entry (stamp, key): 0 evict the key, 1 the
 * entry is stale or an orphan (delete the entry only), 2 the key has an open
 * alert (pass over it while skips remain). */
static int lru_verdict(cpm_store_t *st, MDB_txn *txn, const MDB_val *k, int *verdict)
{
    const void *v;
    size_t n;
    *verdict = 1;
    if (k->mv_size <= 8)
        return 0;
    MDB_dbi dbi = cpm_store_dbi(st, HOTSPOT_KEYS_DB);
    MDB_val key = {k->mv_size - 8, (uint8_t *)k->mv_data + 8}, val;
    int rc = mdb_get(txn, dbi, &key, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return cpm_store_err(rc);
    v = val.mv_data, n = val.mv_size;
    hotspot_state_t old;
    if (n >= FIXED) {
        memcpy(&old, v, FIXED);
        if (old.version == HOTSPOT_STATE_VERSION && old.stamp != cpm_get_be64(k->mv_data))
            return 0; /* the key was touched since: this entry is stale */
    }
    MDB_val ov;
    rc = mdb_get(txn, cpm_store_dbi(st, HOTSPOT_OPEN_DB), &key, &ov);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return cpm_store_err(rc);
    *verdict = rc == 0 ? 2 : 0;
    return 0;
}

int hotspot_keys_evict(cpm_store_t *st, MDB_txn *txn, uint64_t keys_max, uint64_t *evicted)
{
    uint64_t n = 0;
    int rc = hotspot_keys_count(st, txn, &n);
    if (rc != 0 || n < keys_max)
        return rc;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, cpm_store_dbi(st, HOTSPOT_LRU_DB), &cur)) != 0)
        return cpm_store_err(rc);
    MDB_val k, v;
    int skipped = 0;
    /* Pass 0 passes over keys with an open alert (at most HOTSPOT_EVICT_SKIP);
     * if that leaves too many keys, pass 1 evicts the oldest anyway. After
     * mdb_cursor_del, MDB_NEXT gives the entry that followed. */
    for (int pass = 0; pass < 2 && n >= keys_max; pass++) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n >= keys_max;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            int verdict, vrc = lru_verdict(st, txn, &k, &verdict);
            if (vrc != 0) {
                mdb_cursor_close(cur);
                return vrc;
            }
            if (verdict == 2 && pass == 0 && skipped < HOTSPOT_EVICT_SKIP) {
                skipped++;
                continue;
            }
            if (verdict != 1) {
                int drc = cpm_store_mdb_del(st, txn, cpm_store_dbi(st, HOTSPOT_KEYS_DB),
                                            &(MDB_val){k.mv_size - 8, (uint8_t *)k.mv_data + 8});
                if (drc != 0) {
                    mdb_cursor_close(cur);
                    return cpm_store_err(drc);
                }
                n--;
                (*evicted)++;
            }
            if ((rc = cpm_store_cursor_del(st, cur)) != 0)
                break;
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
            break;
        rc = 0;
    }
    mdb_cursor_close(cur);
    return rc != 0 && rc != MDB_NOTFOUND ? cpm_store_err(rc) : 0;
}
