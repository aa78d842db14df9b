/* routing_bizlink: see routing_bizlink.h. */
#include "routing_bizlink.h"
#include "cpm_err.h"
#include "cpm_util.h"
#include "routing_clusters.h"

#include <string.h>

#define BID_LEN 32

/* The alias of k (32 hex) into target; false when there is none. */
static int alias_get(cpm_store_t *st, MDB_txn *txn, const char *k, char target[CPM_BIZKEY_HEX],
                     bool *found)
{
    const void *v;
    size_t vlen;
    *found = false;
    int rc = cpm_store_get(st, txn, ROUTING_BIZLINK_DB, k, BID_LEN, &v, &vlen);
    if (rc == CPM_E_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (vlen != BID_LEN + 8) /* unreadable: as if unknown, rewritten below */
        return 0;
    memcpy(target, v, BID_LEN);
    target[BID_LEN] = 0;
    *found = true;
    return 0;
}

static int alias_put(cpm_store_t *st, MDB_txn *txn, const char *k, const char *target, int64_t at)
{
    uint8_t val[BID_LEN + 8];
    memcpy(val, target, BID_LEN);
    cpm_put_be64(val + BID_LEN, (uint64_t)at);
    return cpm_store_put(st, txn, ROUTING_BIZLINK_DB, k, BID_LEN, val, sizeof val);
}

/* Alias k now leads to bid, used at at_ms; old: where it led (NULL: nowhere,
 * or unreadable). The time is kept next to bid (routing_clusters.h, b "/a"
 * k), whose aggregate the complaint writes anyway: the alias itself, a
 * random key of its own, is written only when it is new or moves. */
static int alias_use(cpm_store_t *st, MDB_txn *txn, const char *k, const char *old, const char *bid,
                     int64_t at)
{
    int rc;
    if (!old || memcmp(old, bid, BID_LEN) != 0) {
        if (old && (rc = routing_clusters_seen_del(st, txn, old, k)) != 0)
            return rc;
        if ((rc = alias_put(st, txn, k, bid, at)) != 0)
            return rc;
    }
    return routing_clusters_seen_put(st, txn, bid, k, at);
}

int routing_bizlink_resolve(cpm_store_t *st, MDB_txn *txn, const cpm_bizkey_t *bk, int64_t at_ms,
                            char bid[CPM_BIZKEY_HEX])
{
    memcpy(bid, bk->key, CPM_BIZKEY_HEX);
    char name_to[CPM_BIZKEY_HEX], addr_to[CPM_BIZKEY_HEX];
    bool name_alias = false, name_stored = false, addr_known = false, name_cluster = false;
    int rc;
    if (bk->by_name) {
        if ((rc = alias_get(st, txn, bk->key, name_to, &name_alias)) != 0)
            return rc;
        name_stored = name_alias;
        if (!name_alias && (rc = routing_clusters_exists(st, txn, bk->key, &name_cluster)) != 0)
            return rc;
        /* A business stored under its name with the forms (before they were
         * dropped from the key) keeps its cluster: the name links to it. */
        bool legacy = false;
        if (!name_alias && !name_cluster && strcmp(bk->legacy_key, bk->key) != 0 &&
            (rc = routing_clusters_exists(st, txn, bk->legacy_key, &legacy)) != 0)
            return rc;
        if (legacy) {
            memcpy(name_to, bk->legacy_key, CPM_BIZKEY_HEX);
            name_alias = true;
        }
    }
    if (bk->addr_key[0] && (rc = alias_get(st, txn, bk->addr_key, addr_to, &addr_known)) != 0)
        return rc;
    /* Only a complaint with no name is linked by its address: a name that
     * differs is another business (a new shop in the same premises, or one
     * complaint giving the wrong house), and linking it would merge all of
     * its later complaints into the other's cluster. */
    if (name_alias)
        memcpy(bid, name_to, CPM_BIZKEY_HEX); /* 1: the name's link (stored forms) */
    else if (!bk->by_name && addr_known)
        memcpy(bid, addr_to, CPM_BIZKEY_HEX); /* 2: no name: the business seen there */
    if (bk->addr_key[0] &&
        (rc = alias_use(st, txn, bk->addr_key, addr_known ? addr_to : NULL, bid, at_ms)) != 0)
        return rc;
    if (name_alias) /* refreshed: it lives while the name is used */
        return alias_use(st, txn, bk->key, name_stored ? name_to : NULL, bid, at_ms);
    return 0;
}

typedef struct {
    cpm_store_t *st;
    int64_t cutoff;
} sweep_t;

/* An alias last used before the cutoff goes, with its time next to its
 * business; last used: that time, or for an alias from a store written
 * before it was kept there, the time in the alias. */
static int old_alias(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *del)
{
    const sweep_t *s = ctx;
    *del = v->mv_size != BID_LEN + 8;
    if (*del) /* unreadable */
        return 0;
    int64_t at = (int64_t)cpm_get_be64((const uint8_t *)v->mv_data + BID_LEN);
    if (k->mv_size != BID_LEN) { /* not one of ours: by its own time */
        *del = at < s->cutoff;
        return 0;
    }
    char target[BID_LEN + 1], key[BID_LEN + 1];
    memcpy(target, v->mv_data, BID_LEN);
    target[BID_LEN] = 0;
    memcpy(key, k->mv_data, BID_LEN);
    key[BID_LEN] = 0;
    int rc = routing_clusters_seen_get(s->st, txn, target, key, &at);
    if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return rc;
    *del = at < s->cutoff;
    return *del ? routing_clusters_seen_del(s->st, txn, target, key) : 0;
}

int routing_bizlink_sweep(cpm_store_t *st, MDB_txn *txn, int64_t now_ms, int64_t window_ms,
                          size_t max, cpm_sweep_cursor_t *cur, size_t *deleted)
{
    sweep_t s = {st, now_ms - window_ms};
    cpm_sweep_stats_t stats;
    int rc = cpm_sweep_step(st, txn, ROUTING_BIZLINK_DB, cur, max, old_alias, &s, &stats);
    *deleted = rc == 0 ? stats.deleted : 0;
    return rc;
}
