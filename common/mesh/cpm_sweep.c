/* cpm_sweep: see cpm_sweep.h. */
#include "cpm_sweep.h"

#include <string.h>

/* Position c on the first key after cur (or the first key): MDB_NOTFOUND at
 * the end. */
static int seek(MDB_cursor *c, const cpm_sweep_cursor_t *cur, MDB_val *k, MDB_val *v)
{
    if (!cur->klen)
        return mdb_cursor_get(c, k, v, MDB_FIRST);
    k->mv_data = (void *)cur->key;
    k->mv_size = cur->klen;
    int rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    if (rc == 0 && k->mv_size == cur->klen && !memcmp(k->mv_data, cur->key, cur->klen))
        rc = mdb_cursor_get(c, k, v, MDB_NEXT); /* still there: it was kept */
    return rc;
}

int cpm_sweep_step(cpm_store_t *st, MDB_txn *txn, const char *db, cpm_sweep_cursor_t *cur,
                   size_t max, cpm_sweep_decide_fn decide, void *ctx, cpm_sweep_stats_t *stats)
{
    memset(stats, 0, sizeof *stats);
    MDB_dbi dbi = cpm_store_dbi(st, db);
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0)
        return cpm_store_err(rc);
    while (stats->looked < max) {
        MDB_val k, v;
        /* Re-seek from the saved key every time: decide() may write other
         * databases and a delete moves the cursor, so nothing is assumed. */
        if ((rc = seek(c, cur, &k, &v)) != 0)
            break;
        if (k.mv_size > CPM_SWEEP_KEY_MAX) {
            rc = MDB_BAD_VALSIZE;
            break;
        }
        memcpy(cur->key, k.mv_data, k.mv_size);
        cur->klen = k.mv_size;
        stats->looked++;
        bool del = false;
        int drc = decide(ctx, txn, &k, &v, &del);
        if (drc != 0) {
            mdb_cursor_close(c);
            return drc;
        }
        if (del) {
            MDB_val dk = {cur->klen, cur->key};
            if ((rc = cpm_store_mdb_del(st, txn, dbi, &dk)) != 0)
                break;
            stats->deleted++;
        }
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) { /* the end: the next step starts a new pass */
        cur->klen = 0;
        stats->wrapped = true;
        rc = 0;
    }
    return rc == 0 ? 0 : cpm_store_err(rc);
}
