/* routing_clusters: see routing_clusters.h. */
#include "routing_clusters.h"
#include "cpm_util.h"
#include "routing_themes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BID_LEN 32
#define MEMBER_KEY_LEN (BID_LEN + 64)

/* Lowercase hex digit value, or -1. */
static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* n lowercase hex digits of h into n/2 bytes: false when one is not. */
static bool unhex(const char *h, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i += 2) {
        int a = hexval(h[i]), b = hexval(h[i + 1]);
        if (a < 0 || b < 0)
            return false;
        out[i / 2] = (uint8_t)(a << 4 | b);
    }
    return true;
}

static void put_be32(uint8_t *out, uint32_t v)
{
    out[0] = (uint8_t)(v >> 24), out[1] = (uint8_t)(v >> 16), out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The rank key of a cluster: ~consumers and ~cases big-endian, then the
 * business's 16 bytes, so that keys sort in reply order (most consumers,
 * then most complaints, then the business as its hex sorts). false when bid
 * is not 32 lowercase hex digits (never made so: such a cluster is not
 * ranked). */
static bool rank_key(uint32_t consumers, uint32_t cases, const char *bid,
                     uint8_t out[ROUTING_CLUSTER_RANK_KEY_LEN])
{
    put_be32(out, ~consumers);
    put_be32(out + 4, ~cases);
    return strnlen(bid, BID_LEN + 1) == BID_LEN && unhex(bid, BID_LEN, out + 8);
}

/* Store cl under bid with its rank; the rank it had (consumers, cases) goes. */
static int put_ranked(cpm_store_t *st, MDB_txn *txn, const char *bid, const Cpm__Cluster *cl,
                      bool had, uint32_t old_consumers, uint32_t old_cases)
{
    uint8_t key[ROUTING_CLUSTER_RANK_KEY_LEN];
    int rc;
    if (had && rank_key(old_consumers, old_cases, bid, key)) {
        rc = cpm_store_del(st, txn, ROUTING_CLUSTER_RANK_DB, key, sizeof key);
        if (rc != 0 && rc != CPM_E_NOT_FOUND)
            return rc;
    }
    if ((rc = cpm_store_put_msg(st, txn, ROUTING_CLUSTERS_DB, bid, &cl->base)) != 0 ||
        !rank_key(cl->consumers, cl->cases, bid, key))
        return rc;
    return cpm_store_put(st, txn, ROUTING_CLUSTER_RANK_DB, key, sizeof key, "", 0);
}

int routing_clusters_rank_move(cpm_store_t *st, MDB_txn *txn, size_t max, bool *left, size_t *moved)
{
    MDB_cursor *cur;
    *left = false;
    *moved = 0;
    int mrc = mdb_cursor_open(txn, cpm_store_dbi(st, ROUTING_CLUSTER_RANK_OLD_DB), &cur);
    if (mrc != 0)
        return cpm_store_err(mrc);
    int rc = 0;
    MDB_val k, v;
    size_t n = 0;
    for (; (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 && n < max; n++) {
        uint8_t key[ROUTING_CLUSTER_RANK_KEY_LEN];
        /* "%08x%08x" of (~consumers, ~cases), then the business: the same
         * bytes in hex; anything else was never a rank key and goes */
        if (k.mv_size == ROUTING_CLUSTER_CURSOR_LEN &&
            unhex(k.mv_data, ROUTING_CLUSTER_CURSOR_LEN, key) &&
            (rc = cpm_store_put(st, txn, ROUTING_CLUSTER_RANK_DB, key, sizeof key, "", 0)) != 0)
            break;
        if ((mrc = cpm_store_cursor_del(st, cur)) != 0)
            break;
        (*moved)++;
    }
    mdb_cursor_close(cur);
    if (rc != 0)
        return rc;
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return cpm_store_err(mrc);
    *left = mrc == 0;
    return 0;
}

int routing_clusters_rank_upgrade(cpm_store_t *st, size_t step, size_t *moved, size_t *txns)
{
    *moved = *txns = 0;
    if (step == 0)
        step = 1; /* a step of none would never end */
    for (bool left = true; left;) {
        MDB_txn *txn = NULL;
        size_t n = 0;
        int rc = cpm_store_begin(st, true, &txn);
        if (rc == 0)
            rc = routing_clusters_rank_move(st, txn, step, &left, &n);
        rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), rc);
        if (rc != 0)
            return rc;
        *moved += n;
        (*txns)++;
    }
    return 0;
}

static Cpm__Cluster *load(cpm_store_t *st, MDB_txn *txn, const char *bid, int *rc)
{
    char key[BID_LEN + 1]; /* "%.32s" of bid, without printf: for every complaint */
    size_t n = strnlen(bid, BID_LEN);
    memcpy(key, bid, n);
    key[n] = 0;
    ProtobufCMessage *m = NULL;
    *rc = cpm_store_get_msg(st, txn, ROUTING_CLUSTERS_DB, key, &cpm__cluster__descriptor, &m);
    if (*rc == CPM_E_BAD_MESSAGE) /* unreadable: counted afresh */
        *rc = CPM_E_NOT_FOUND;
    return *rc == 0 ? (Cpm__Cluster *)m : NULL;
}

bool routing_clusters_old_used(cpm_store_t *st, MDB_txn *txn, const char *old_db)
{
    MDB_stat ms;
    return mdb_stat(txn, cpm_store_dbi(st, old_db), &ms) != 0 || ms.ms_entries > 0;
}

int routing_clusters_get_moved(cpm_store_t *st, MDB_txn *txn, const char *key, size_t klen,
                               const char *old_db, size_t oklen, const void **v, size_t *vlen,
                               bool *in_old)
{
    *in_old = false;
    int rc = cpm_store_get(st, txn, ROUTING_CLUSTERS_DB, key, klen, v, vlen);
    /* A new store never looks at the old database: it has no entries. */
    if (rc != CPM_E_NOT_FOUND || !routing_clusters_old_used(st, txn, old_db))
        return rc;
    rc = cpm_store_get(st, txn, old_db, key, oklen, v, vlen);
    *in_old = rc == 0;
    return rc;
}

int routing_clusters_put_moved(cpm_store_t *st, MDB_txn *txn, const char *key, size_t klen,
                               const void *v, size_t vlen, const char *old_db, size_t oklen,
                               bool in_old)
{
    int rc = cpm_store_put(st, txn, ROUTING_CLUSTERS_DB, key, klen, v, vlen);
    if (rc != 0 || !in_old)
        return rc;
    rc = cpm_store_del(st, txn, old_db, key, oklen);
    return rc == CPM_E_NOT_FOUND ? 0 : rc;
}

/* Whether consumer key k is a new consumer of cl (had: cl was stored): not
 * counted yet, or counted in an earlier life of the cluster (before first_ms),
 * and note it as heard from at at_ms. */
static int member(cpm_store_t *st, MDB_txn *txn, const char *bid, const ProtobufCBinaryData *k,
                  const Cpm__Cluster *cl, bool had, int64_t at_ms, bool *fresh)
{
    char key[MEMBER_KEY_LEN + 1];
    memcpy(key, bid, BID_LEN);
    cpm_hex_encode(k->data, 32, key + BID_LEN);
    const void *v;
    size_t vlen;
    bool in_old;
    int rc = routing_clusters_get_moved(st, txn, key, MEMBER_KEY_LEN, ROUTING_CLUSTER_MEMBERS_DB,
                                        MEMBER_KEY_LEN, &v, &vlen, &in_old);
    if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return rc;
    int64_t last = rc == 0 && vlen == 8 ? (int64_t)cpm_get_be64(v) : -1;
    *fresh = last < 0 || !had || last < cl->first_ms;
    if (!*fresh && last >= at_ms)
        return 0;
    uint8_t val[8];
    cpm_put_be64(val, (uint64_t)(!*fresh && last > at_ms ? last : at_ms));
    return routing_clusters_put_moved(st, txn, key, MEMBER_KEY_LEN, val, 8,
                                      ROUTING_CLUSTER_MEMBERS_DB, MEMBER_KEY_LEN, in_old);
}

static void seen_key(const char *bid, const char *k, char key[ROUTING_CLUSTER_SEEN_KEY_LEN])
{
    memcpy(key, bid, BID_LEN);
    memcpy(key + BID_LEN, "/a", 2);
    memcpy(key + BID_LEN + 2, k, BID_LEN);
}

int routing_clusters_seen_get(cpm_store_t *st, MDB_txn *txn, const char *bid, const char *k,
                              int64_t *at_ms)
{
    char key[ROUTING_CLUSTER_SEEN_KEY_LEN];
    seen_key(bid, k, key);
    const void *v;
    size_t vlen;
    int rc = cpm_store_get(st, txn, ROUTING_CLUSTERS_DB, key, sizeof key, &v, &vlen);
    if (rc == 0 && vlen != 8)
        return CPM_E_NOT_FOUND;
    if (rc == 0)
        *at_ms = (int64_t)cpm_get_be64(v);
    return rc;
}

int routing_clusters_seen_put(cpm_store_t *st, MDB_txn *txn, const char *bid, const char *k,
                              int64_t at_ms)
{
    char key[ROUTING_CLUSTER_SEEN_KEY_LEN];
    uint8_t val[8];
    seen_key(bid, k, key);
    cpm_put_be64(val, (uint64_t)at_ms);
    return cpm_store_put(st, txn, ROUTING_CLUSTERS_DB, key, sizeof key, val, sizeof val);
}

int routing_clusters_seen_del(cpm_store_t *st, MDB_txn *txn, const char *bid, const char *k)
{
    char key[ROUTING_CLUSTER_SEEN_KEY_LEN];
    seen_key(bid, k, key);
    int rc = cpm_store_del(st, txn, ROUTING_CLUSTERS_DB, key, sizeof key);
    return rc == CPM_E_NOT_FOUND ? 0 : rc;
}

/* At most this many alias times deleted with one cluster: a business named
 * at many addresses (a hostile sender can make them without end) must not
 * make one sweep step long; the rest go with their aliases. */
#define FORGET_SEEN_MAX 64

/* The alias times of bid (b "/a" ...), deleted with its cluster (up to
 * FORGET_SEEN_MAX): an alias that still leads to it was last used no later
 * than the cluster's last complaint (every complaint that uses it counts
 * there), so the alias sweep, which runs with the same window
 * (routing_bounds.c), deletes it and its time too, by the time the alias
 * holds itself, which is not later either: what is left here goes then. */
static int forget_seen(cpm_store_t *st, MDB_txn *txn, const char *bid)
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, cpm_store_dbi(st, ROUTING_CLUSTERS_DB), &cur);
    if (mrc != 0)
        return cpm_store_err(mrc);
    char from[BID_LEN + 2];
    memcpy(from, bid, BID_LEN);
    memcpy(from + BID_LEN, "/a", 2);
    for (int n = 0; n < FORGET_SEEN_MAX; n++) { /* sought again after each delete */
        MDB_val k = {sizeof from, from}, v;
        if ((mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
            break;
        if (k.mv_size != ROUTING_CLUSTER_SEEN_KEY_LEN || memcmp(k.mv_data, from, sizeof from))
            break;
        if ((mrc = cpm_store_cursor_del(st, cur)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return mrc == 0 || mrc == MDB_NOTFOUND ? 0 : cpm_store_err(mrc);
}

int routing_clusters_exists(cpm_store_t *st, MDB_txn *txn, const char *bid, bool *exists)
{
    const void *v;
    size_t vlen;
    int rc = cpm_store_get(st, txn, ROUTING_CLUSTERS_DB, bid, BID_LEN, &v, &vlen);
    *exists = rc == 0;
    return rc == CPM_E_NOT_FOUND ? 0 : rc;
}

int routing_clusters_count(cpm_store_t *st, MDB_txn *txn, const char *bid, const char *norm,
                           const char *address, const Cpm__Complaint *c, int64_t at_ms,
                           const struct routing_themes_text *text)
{
    int rc;
    Cpm__Cluster *m = load(st, txn, bid, &rc);
    if (!m && rc != CPM_E_NOT_FOUND)
        return rc;
    Cpm__Cluster fresh_cl = CPM__CLUSTER__INIT, *cl = m ? m : &fresh_cl;
    bool had = m != NULL;
    uint32_t old_consumers = cl->consumers, old_cases = cl->cases;
    if (!had) {
        cl->business = (char *)norm;
        cl->area = c->area;
        cl->first_ticket = c->ticket;
        cl->first_ms = at_ms;
    }
    char *own_business = cl->business, *own_address = cl->address; /* m's, freed with it */
    if (!*cl->business && *norm) /* known by its address until a name came */
        cl->business = (char *)norm;
    if (*address && at_ms >= cl->last_ms)
        cl->address = (char *)address;
    bool fresh = false;
    if (c->consumer_key.len == 32 &&
        (rc = member(st, txn, bid, &c->consumer_key, cl, had, at_ms, &fresh)) != 0)
        goto out;
    cl->cases++;
    cl->consumers += fresh;
    if (at_ms > cl->last_ms)
        cl->last_ms = at_ms;
    if (!cl->first_ms || at_ms < cl->first_ms)
        cl->first_ms = at_ms;
    if ((rc = put_ranked(st, txn, bid, cl, had, old_consumers, old_cases)) == 0)
        rc = routing_themes_add_text(st, txn, bid, c, at_ms, text);
out:
    if (m) {
        m->business = own_business;
        m->address = own_address;
        cpm__cluster__free_unpacked(m, NULL);
    }
    return rc;
}

static bool cursor_valid(const char *a)
{
    if (strlen(a) != ROUTING_CLUSTER_CURSOR_LEN)
        return false;
    for (const char *p = a; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static int append(Cpm__ClustersReply *r, Cpm__Cluster *cl, size_t *cap)
{
    if (r->n_clusters == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        Cpm__Cluster **g = realloc(r->clusters, ncap * sizeof *g);
        if (!g)
            return CPM_E_INTERNAL;
        r->clusters = g;
        *cap = ncap;
    }
    r->clusters[r->n_clusters++] = cl;
    return 0;
}

/* Walk the rank index from the cursor: entries are in reply order, so the
 * walk stops at the first cluster with too few consumers, and after max
 * clusters (plus stale entries, bounded too). after: a rank key (binary),
 * or NULL from the top. */
static int walk(cpm_store_t *st, MDB_txn *txn, MDB_cursor *cur, const uint8_t *after, uint32_t min,
                uint32_t max, uint32_t themes, Cpm__ClustersReply *r)
{
    MDB_val k = {0, NULL}, v;
    int mrc;
    if (after) {
        k.mv_data = (void *)after;
        k.mv_size = ROUTING_CLUSTER_RANK_KEY_LEN;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (mrc == 0 && k.mv_size == ROUTING_CLUSTER_RANK_KEY_LEN &&
            !memcmp(k.mv_data, after, ROUTING_CLUSTER_RANK_KEY_LEN))
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    } else {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    size_t cap = 0, looked = 0, limit = 4 * (size_t)max + 16;
    char last[ROUTING_CLUSTER_CURSOR_LEN + 1] = "";
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != ROUTING_CLUSTER_RANK_KEY_LEN)
            continue;
        const uint8_t *kb = k.mv_data;
        uint32_t consumers = ~get_be32(kb), cases = ~get_be32(kb + 4);
        if (consumers < min)
            break; /* all after it have fewer */
        if (r->n_clusters == max || looked == limit) {
            r->truncated = true;
            break;
        }
        looked++;
        char key[ROUTING_CLUSTER_CURSOR_LEN + 1]; /* the cursor: the key in hex */
        cpm_hex_encode(kb, ROUTING_CLUSTER_RANK_KEY_LEN, key);
        int rc;
        Cpm__Cluster *cl = load(st, txn, key + 16, &rc);
        if (!cl && rc != CPM_E_NOT_FOUND)
            return rc;
        if (cl && (cl->consumers != consumers || cl->cases != cases)) {
            /* stale: not where its cluster is now (an older binary moved
             * it in "clusters.rank" meanwhile); listed where it is. The
             * cursor passes it, so that a page cut in a run of them goes on
             * after it, not from before it again. */
            cpm__cluster__free_unpacked(cl, NULL);
            memcpy(last, key, sizeof last);
            continue;
        }
        if (cl && (rc = routing_themes_fill(st, txn, key + 16, cl, themes)) != 0) {
            cpm__cluster__free_unpacked(cl, NULL);
            return rc;
        }
        if (cl && (rc = append(r, cl, &cap)) != 0) {
            cpm__cluster__free_unpacked(cl, NULL);
            return rc;
        }
        memcpy(last, key, sizeof last);
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return cpm_store_err(mrc);
    if (r->truncated && *last && !(r->next_after = strdup(last)))
        return CPM_E_INTERNAL;
    return 0;
}

int routing_clusters_page(cpm_store_t *st, MDB_txn *txn, const Cpm__ClustersQuery *q,
                          Cpm__ClustersReply **out, cpm_error_t *err)
{
    *out = NULL;
    const char *after = q->after ? q->after : "";
    if (*after && !cursor_valid(after))
        return cpm_error_set(err, CPM_E_INVALID, "after",
                             "after must be the next_after of a clusters reply (%d hex digits)",
                             ROUTING_CLUSTER_CURSOR_LEN);
    uint32_t min = q->min_consumers ? q->min_consumers : 2;
    uint32_t max = q->max ? q->max : 100;
    if (max > ROUTING_CLUSTERS_MAX)
        max = ROUTING_CLUSTERS_MAX;
    uint32_t themes = q->themes ? q->themes : 5;
    if (themes > ROUTING_THEMES_MAX)
        themes = ROUTING_THEMES_MAX;
    Cpm__ClustersReply *r = calloc(1, sizeof *r);
    if (!r)
        return CPM_E_INTERNAL;
    cpm__clusters_reply__init(r);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, ROUTING_CLUSTER_RANK_DB), &cur);
    if (rc != 0) {
        free(r);
        return cpm_store_err(rc);
    }
    uint8_t from[ROUTING_CLUSTER_RANK_KEY_LEN]; /* cursor_valid: it decodes */
    bool at = *after && unhex(after, ROUTING_CLUSTER_CURSOR_LEN, from);
    rc = walk(st, txn, cur, at ? from : NULL, min, max, themes, r);
    mdb_cursor_close(cur);
    if (rc != 0) {
        routing_clusters_free(&r);
        return rc;
    }
    *out = r;
    return 0;
}

int routing_clusters(cpm_store_t *st, MDB_txn *txn, uint32_t min_consumers, uint32_t max,
                     Cpm__ClustersReply **out)
{
    Cpm__ClustersQuery q = CPM__CLUSTERS_QUERY__INIT;
    q.min_consumers = min_consumers;
    q.max = max;
    cpm_error_t err;
    return routing_clusters_page(st, txn, &q, out, &err);
}

void routing_clusters_free(Cpm__ClustersReply **r)
{
    if (!r || !*r)
        return;
    for (size_t i = 0; i < (*r)->n_clusters; i++)
        cpm__cluster__free_unpacked((*r)->clusters[i], NULL);
    free((*r)->clusters);
    if ((*r)->next_after != protobuf_c_empty_string)
        free((*r)->next_after);
    free(*r);
    *r = NULL;
}

typedef struct {
    cpm_store_t *st;
    int64_t cutoff;
    size_t members, clusters; /* deleted from "clusters" */
} sweep_ctx_t;

/* A consumer last heard before the cutoff: forgotten, and its cluster counts
 * one consumer less if it was counted in the cluster's present life. */
static int forget_member(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *del)
{
    sweep_ctx_t *s = ctx;
    int64_t last = v->mv_size == 8 ? (int64_t)cpm_get_be64(v->mv_data) : -1;
    if (last >= s->cutoff || k->mv_size != MEMBER_KEY_LEN)
        return 0;
    *del = true;
    char bid[BID_LEN + 1];
    snprintf(bid, sizeof bid, "%.32s", (const char *)k->mv_data);
    int rc;
    Cpm__Cluster *cl = load(s->st, txn, bid, &rc);
    if (!cl)
        return rc == CPM_E_NOT_FOUND ? 0 : rc;
    if (last >= cl->first_ms && cl->consumers > 0) {
        uint32_t old = cl->consumers--;
        rc = put_ranked(s->st, txn, bid, cl, true, old, cl->cases);
    }
    cpm__cluster__free_unpacked(cl, NULL);
    return rc;
}

/* A cluster last heard before the cutoff goes with its rank; one kept gets
 * its rank if it has none (stored before the rank index existed). */
static int forget_cluster(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *del)
{
    sweep_ctx_t *s = ctx;
    if (k->mv_size != BID_LEN)
        return 0;
    Cpm__Cluster *cl = cpm__cluster__unpack(NULL, v->mv_size, v->mv_data);
    uint8_t key[ROUTING_CLUSTER_RANK_KEY_LEN];
    int rc = 0;
    if (!cl) { /* unreadable: nothing to rank it by */
        *del = true;
        return 0;
    }
    char bid[BID_LEN + 1];
    snprintf(bid, sizeof bid, "%.32s", (const char *)k->mv_data);
    bool ranked = rank_key(cl->consumers, cl->cases, bid, key);
    if (cl->last_ms < s->cutoff) {
        *del = true;
        rc = ranked ? cpm_store_del(s->st, txn, ROUTING_CLUSTER_RANK_DB, key, sizeof key) : 0;
        rc = rc == CPM_E_NOT_FOUND ? 0 : rc;
        if (rc == 0)
            rc = routing_themes_forget(s->st, txn, bid);
        if (rc == 0)
            rc = forget_seen(s->st, txn, bid);
    } else if (ranked) {
        const void *rv;
        size_t rlen;
        rc = cpm_store_get(s->st, txn, ROUTING_CLUSTER_RANK_DB, key, sizeof key, &rv, &rlen);
        if (rc == CPM_E_NOT_FOUND)
            rc = cpm_store_put(s->st, txn, ROUTING_CLUSTER_RANK_DB, key, sizeof key, "", 0);
    }
    cpm__cluster__free_unpacked(cl, NULL);
    return rc;
}

/* One entry of "clusters": an aggregate or a consumer (themes go with their
 * aggregate, links have their own sweep: routing_dupes_sweep). */
static int forget_entry(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *del)
{
    sweep_ctx_t *s = ctx;
    int rc = 0;
    if (k->mv_size == BID_LEN) {
        rc = forget_cluster(ctx, txn, k, v, del);
        s->clusters += *del;
    } else if (k->mv_size == MEMBER_KEY_LEN) {
        rc = forget_member(ctx, txn, k, v, del);
        s->members += *del;
    }
    return rc;
}

/* A rank entry whose cluster is gone or counts otherwise: stale (the query
 * skips it; here it goes). A key of another length is not a rank entry. */
static int forget_stale_rank(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *del)
{
    (void)v;
    sweep_ctx_t *s = ctx;
    if (k->mv_size != ROUTING_CLUSTER_RANK_KEY_LEN) {
        *del = true;
        return 0;
    }
    const uint8_t *kb = k->mv_data;
    char hex[ROUTING_CLUSTER_CURSOR_LEN + 1];
    cpm_hex_encode(kb, ROUTING_CLUSTER_RANK_KEY_LEN, hex);
    int rc;
    Cpm__Cluster *cl = load(s->st, txn, hex + 16, &rc);
    if (!cl)
        return rc == CPM_E_NOT_FOUND ? (*del = true, 0) : rc;
    *del = cl->consumers != ~get_be32(kb) || cl->cases != ~get_be32(kb + 4);
    cpm__cluster__free_unpacked(cl, NULL);
    return 0;
}

int routing_clusters_sweep(cpm_store_t *st, MDB_txn *txn, int64_t now_ms, int64_t window_ms,
                           size_t max, routing_clusters_sweep_t *cur, size_t *members,
                           size_t *clusters)
{
    sweep_ctx_t s = {st, now_ms - window_ms, 0, 0};
    cpm_sweep_stats_t a = {0}, b;
    *members = *clusters = 0;
    int rc = 0;
    if (routing_clusters_old_used(st, txn, ROUTING_CLUSTER_MEMBERS_DB)) /* a store from before */
        rc = cpm_sweep_step(st, txn, ROUTING_CLUSTER_MEMBERS_DB, &cur->members, max, forget_member,
                            &s, &a);
    if (rc == 0)
        rc =
            cpm_sweep_step(st, txn, ROUTING_CLUSTERS_DB, &cur->clusters, max, forget_entry, &s, &b);
    cpm_sweep_stats_t c = {0};
    if (rc == 0)
        rc = cpm_sweep_step(st, txn, ROUTING_CLUSTER_RANK_DB, &cur->order, max, forget_stale_rank,
                            &s, &c);
    if (rc == 0) {
        *members = a.deleted + s.members;
        *clusters = s.clusters;
        cur->stale = c.deleted;
    }
    return rc;
}
