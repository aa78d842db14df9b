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

int routing_bizlink_resolve(cpm_store_t *st, MDB_txn *txn, const cpm_bizkey_t *bk, int64_t at_ms,
                            char bid[CPM_BIZKEY_HEX])
{
    memcpy(bid, bk->key, CPM_BIZKEY_HEX);
    char name_to[CPM_BIZKEY_HEX], addr_to[CPM_BIZKEY_HEX];
    bool name_alias = false, addr_known = false, name_cluster = false;
    int rc;
    if (bk->by_name) {
        if ((rc = alias_get(st, txn, bk->key, name_to, &name_alias)) != 0)
            return rc;
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
    if (bk->addr_key[0] && (rc = alias_put(st, txn, bk->addr_key, bid, at_ms)) != 0)
        return rc;
    if (name_alias) /* refreshed: it lives while the name is used */
        return alias_put(st, txn, bk->key, bid, at_ms);
    return 0;
}

typedef struct {
    int64_t cutoff;
} sweep_t;

static int old_alias(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *del)
{
    (void)txn;
    (void)k;
    const sweep_t *s = ctx;
    *del = v->mv_size != BID_LEN + 8 ||
           (int64_t)cpm_get_be64((const uint8_t *)v->mv_data + BID_LEN) < s->cutoff;
    return 0;
}

int routing_bizlink_sweep(cpm_store_t *st, MDB_txn *txn, int64_t now_ms, int64_t window_ms,
                          size_t max, cpm_sweep_cursor_t *cur, size_t *deleted)
{
    sweep_t s = {now_ms - window_ms};
    cpm_sweep_stats_t stats;
    int rc = cpm_sweep_step(st, txn, ROUTING_BIZLINK_DB, cur, max, old_alias, &s, &stats);
    *deleted = rc == 0 ? stats.deleted : 0;
    return rc;
}
