/* hotspot_keys: per-key state and the LRU bound (see hotspot_keys.h). */
#include "hotspot_keys.h"

#include "cpm_util.h"

#include <stddef.h>
#include <string.h>

#define FIXED offsetof(hotspot_state_t, ring)

static size_t lru_key(uint8_t *out, int64_t seen_ms, const char *key, size_t klen)
{
    cpm_put_be64(out, (uint64_t)(seen_ms < 0 ? 0 : seen_ms));
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
    *found = true; /* present: counted, and its LRU entry is at its last_seen */
    hotspot_state_t old;
    if (n < FIXED)
        return 0;
    memcpy(&old, v, FIXED);
    if (old.version != HOTSPOT_STATE_VERSION || old.window_h == 0 ||
        old.window_h > HOTSPOT_WINDOW_MAX || n != FIXED + 4 * (size_t)old.window_h) {
        s->last_seen_ms = old.version == HOTSPOT_STATE_VERSION ? old.last_seen_ms : 0;
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

static int lru_del(cpm_store_t *st, MDB_txn *txn, int64_t seen_ms, const char *key)
{
    uint8_t k[8 + HOTSPOT_KEY_MAX];
    size_t klen = strlen(key);
    if (klen > HOTSPOT_KEY_MAX)
        return CPM_E_INVALID;
    int rc = cpm_store_del(st, txn, HOTSPOT_LRU_DB, k, lru_key(k, seen_ms, key, klen));
    return rc == CPM_E_NOT_FOUND ? 0 : rc;
}

int hotspot_keys_save(cpm_store_t *st, MDB_txn *txn, const char *key, bool found,
                      int64_t old_seen_ms, const hotspot_state_t *s)
{
    size_t klen = strlen(key);
    if (klen == 0 || klen > HOTSPOT_KEY_MAX || s->window_h == 0 || s->window_h > HOTSPOT_WINDOW_MAX)
        return CPM_E_INVALID;
    int rc = cpm_store_put(st, txn, HOTSPOT_KEYS_DB, key, klen, s, FIXED + 4 * (size_t)s->window_h);
    if (rc != 0)
        return rc;
    if (found && old_seen_ms != s->last_seen_ms && (rc = lru_del(st, txn, old_seen_ms, key)) != 0)
        return rc;
    uint8_t k[8 + HOTSPOT_KEY_MAX];
    if ((rc = cpm_store_put(st, txn, HOTSPOT_LRU_DB, k, lru_key(k, s->last_seen_ms, key, klen), "",
                            0)) != 0)
        return rc;
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
    while (n >= keys_max && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size > 8) {
            int drc = mdb_del(txn, cpm_store_dbi(st, HOTSPOT_KEYS_DB),
                              &(MDB_val){k.mv_size - 8, (uint8_t *)k.mv_data + 8}, NULL);
            if (drc == 0) {
                n--;
                (*evicted)++;
            } else if (drc != MDB_NOTFOUND) {
                mdb_cursor_close(cur);
                return cpm_store_err(drc);
            }
        }
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc != 0 && rc != MDB_NOTFOUND ? cpm_store_err(rc) : 0;
}
