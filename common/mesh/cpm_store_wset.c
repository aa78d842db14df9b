/* cpm_store_wset: what a journaled write transaction wrote, as the journal's
 * record will hold it (docs/operations.md "A store's redo journal").
 *
 * Puts and deletes are logged as they are made, in order, in the record's
 * own form (op, the database's name, the key, the value), so that the
 * commit reads nothing back. A nested transaction's writes are cut from the
 * log when it is undone, or when its commit fails (LMDB then drops them).
 * Replaying the log in order leaves every key as the transaction left it.
 *
 * Two kinds of write cannot be logged as they happen and are read back at
 * the commit instead, as the journal did for every write before: a value
 * reserved in the map (MDB_RESERVE: it is filled after the put) and a
 * database emptied (its entries from before the drop are not known: the
 * record empties it and writes all it holds at the commit; the logged writes
 * to it are left out, since that content includes them). Keys read back come
 * after the log, so they end as the transaction left them. */
#include "cpm_log.h"
#include "cpm_store_int.h"

#include <stdlib.h>
#include <string.h>

#define CHILD_MAX 32 /* nested transactions open at once */
#define DROPPED_MAX 8

typedef struct {
    MDB_dbi dbi;
    uint32_t klen;
    size_t off; /* of the key in keys */
} touched_t;

typedef struct {
    const MDB_txn *txn;
    size_t mark; /* the log's length when it began */
} child_t;

struct store_ws {
    uint8_t *log; /* the writes, in the record's form */
    size_t len, cap;
    uint8_t *rec; /* the record, when it cannot be the log itself */
    size_t rlen, rcap;
    touched_t *t; /* keys to read back */
    size_t nt, tcap;
    uint8_t *keys; /* their bytes */
    size_t klen, kcap;
    MDB_dbi dropped[DROPPED_MAX];
    size_t ndropped;
    child_t child[CHILD_MAX];
    size_t nchild;
    bool unknown_db; /* a write to a database the store did not open */
};

store_ws_t *store_ws_new(void)
{
    return calloc(1, sizeof(store_ws_t));
}

void store_ws_destroy(store_ws_t **w)
{
    if (w == NULL || *w == NULL)
        return;
    free((*w)->log);
    free((*w)->rec);
    free((*w)->t);
    free((*w)->keys);
    free(*w);
    *w = NULL;
}

/* One large transaction (a rebuild, a sweep) does not keep its buffers for
 * the life of the store. */
#define KEEP_MAX (8u << 20)

static void shrink(uint8_t **b, size_t *cap)
{
    if (*cap > KEEP_MAX) {
        free(*b);
        *b = NULL;
        *cap = 0;
    }
}

void store_ws_reset(store_ws_t *w)
{
    w->len = w->nt = w->klen = w->ndropped = w->nchild = 0;
    w->unknown_db = false;
    shrink(&w->log, &w->cap);
    shrink(&w->rec, &w->rcap);
    shrink(&w->keys, &w->kcap);
}

bool store_ws_empty(const store_ws_t *w)
{
    return w->len == 0 && w->nt == 0 && w->ndropped == 0;
}

/* A write the journal could not note must not be acknowledged. */
static void oom(void)
{
    cpm_error("store: journal: out of memory noting a write; stopping");
    abort();
}

static void grow(uint8_t **b, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t nc = *cap ? *cap : 65536;
    while (nc < need)
        nc *= 2;
    uint8_t *p = realloc(*b, nc);
    if (p == NULL)
        oom();
    *b = p;
    *cap = nc;
}

static const char *name_of(const cpm_store_t *s, MDB_dbi dbi)
{
    for (size_t i = 0; i < s->ndbs; i++)
        if (s->dbs[i].dbi == dbi)
            return s->dbs[i].name;
    return NULL;
}

/* The database's name for the log; for one the store did not open, "" and
 * the commit fails (store_ws_build), as LMDB may have taken the write. */
static const char *log_name(store_ws_t *w, const cpm_store_t *s, MDB_dbi dbi)
{
    const char *name = name_of(s, dbi);
    if (name != NULL)
        return name;
    w->unknown_db = true;
    return "";
}

/* An entry at the end of *b (length *n): op, name, key, then room for a
 * value of vlen (when has_v). Returns where the value goes. */
static uint8_t *entry(uint8_t **b, size_t *n, size_t *cap, uint8_t op, const char *name,
                      const MDB_val *k, bool has_v, size_t vlen)
{
    size_t nl = strlen(name);
    size_t size = 2 + nl + (k ? 4 + k->mv_size : 0) + (has_v ? 4 + vlen : 0);
    grow(b, cap, *n + size);
    uint8_t *p = *b + *n;
    p[0] = op;
    p[1] = (uint8_t)nl;
    memcpy(p + 2, name, nl);
    p += 2 + nl;
    if (k) {
        store_rec_put32(p, k->mv_size);
        memcpy(p + 4, k->mv_data, k->mv_size);
        p += 4 + k->mv_size;
    }
    if (has_v) {
        store_rec_put32(p, vlen);
        p += 4;
    }
    *n += size;
    return p;
}

size_t store_ws_mark(const store_ws_t *w)
{
    return w ? w->len : 0;
}

void store_ws_cut(store_ws_t *w, size_t mark)
{
    if (w != NULL && mark < w->len)
        w->len = mark;
}

void store_ws_put(store_ws_t *w, const cpm_store_t *s, MDB_dbi dbi, const MDB_val *k,
                  const MDB_val *v)
{
    if (w == NULL)
        return;
    uint8_t *p = entry(&w->log, &w->len, &w->cap, 'P', log_name(w, s, dbi), k, true, v->mv_size);
    if (v->mv_size)
        memcpy(p, v->mv_data, v->mv_size);
}

uint8_t *store_ws_put_room(store_ws_t *w, const cpm_store_t *s, MDB_dbi dbi, const MDB_val *k,
                           size_t vlen)
{
    return entry(&w->log, &w->len, &w->cap, 'P', log_name(w, s, dbi), k, true, vlen);
}

void store_ws_del(store_ws_t *w, const cpm_store_t *s, MDB_dbi dbi, const MDB_val *k)
{
    if (w != NULL)
        (void)entry(&w->log, &w->len, &w->cap, 'D', log_name(w, s, dbi), k, false, 0);
}

void store_ws_touch(store_ws_t *w, const cpm_store_t *s, MDB_dbi dbi, const MDB_val *k)
{
    if (w == NULL || *log_name(w, s, dbi) == 0)
        return;
    if (w->nt == w->tcap) {
        size_t nc = w->tcap ? w->tcap * 2 : 64;
        touched_t *t = realloc(w->t, nc * sizeof *t);
        if (t == NULL)
            oom();
        w->t = t;
        w->tcap = nc;
    }
    grow(&w->keys, &w->kcap, w->klen + k->mv_size + 1); /* an empty key still gets room */
    memcpy(w->keys + w->klen, k->mv_data, k->mv_size);
    w->t[w->nt++] = (touched_t){dbi, (uint32_t)k->mv_size, w->klen};
    w->klen += k->mv_size;
}

void store_ws_dropped(store_ws_t *w, const cpm_store_t *s, MDB_dbi dbi)
{
    if (w == NULL || *log_name(w, s, dbi) == 0)
        return;
    for (size_t i = 0; i < w->ndropped; i++)
        if (w->dropped[i] == dbi)
            return;
    if (w->ndropped == DROPPED_MAX) {
        cpm_error("store: journal: more than %d databases emptied in one transaction; stopping",
                  DROPPED_MAX);
        abort();
    }
    w->dropped[w->ndropped++] = dbi;
}

void store_ws_child(store_ws_t *w, const MDB_txn *child)
{
    if (w == NULL)
        return;
    if (w->nchild == CHILD_MAX) {
        cpm_error("store: journal: more than %d nested transactions; stopping", CHILD_MAX);
        abort();
    }
    w->child[w->nchild++] = (child_t){child, w->len};
}

void store_ws_child_end(store_ws_t *w, const MDB_txn *child, bool kept)
{
    if (w == NULL)
        return;
    for (size_t i = w->nchild; i-- > 0;) {
        if (w->child[i].txn != child)
            continue;
        if (!kept)
            store_ws_cut(w, w->child[i].mark);
        w->nchild = i; /* any child of it ended with it */
        return;
    }
}

static bool was_dropped(const cpm_store_t *s, const store_ws_t *w, const uint8_t *name, size_t nl)
{
    for (size_t i = 0; i < w->ndropped; i++) {
        const char *d = name_of(s, w->dropped[i]);
        if (strlen(d) == nl && memcmp(d, name, nl) == 0)
            return true;
    }
    return false;
}

/* The size of the log's entry at p (of the log's own making: well formed). */
static size_t entry_size(const uint8_t *p)
{
    size_t n = 2 + p[1];
    if (p[0] == 'X')
        return n;
    n += 4 + store_rec_get32(p + n);
    if (p[0] == 'P')
        n += 4 + store_rec_get32(p + n);
    return n;
}

/* The emptied databases, each followed by all it holds now, then the log's
 * writes to the other databases. */
static int with_drops(store_ws_t *w, const cpm_store_t *s, MDB_txn *txn)
{
    size_t *n = &w->rlen;
    *n = 0;
    for (size_t i = 0; i < w->ndropped; i++) {
        const char *name = name_of(s, w->dropped[i]);
        (void)entry(&w->rec, n, &w->rcap, 'X', name, NULL, false, 0);
        MDB_cursor *c = NULL;
        MDB_val k, v;
        if (mdb_cursor_open(txn, w->dropped[i], &c) != 0)
            return -1;
        int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            uint8_t *p = entry(&w->rec, n, &w->rcap, 'P', name, &k, true, v.mv_size);
            memcpy(p, v.mv_data, v.mv_size);
        }
        mdb_cursor_close(c);
        if (rc != MDB_NOTFOUND)
            return -1;
    }
    for (size_t off = 0; off < w->len;) {
        size_t size = entry_size(w->log + off);
        if (!was_dropped(s, w, w->log + off + 2, w->log[off + 1])) {
            grow(&w->rec, &w->rcap, *n + size);
            memcpy(w->rec + *n, w->log + off, size);
            *n += size;
        }
        off += size;
    }
    return 0;
}

static int by_key(const void *a, const void *b, void *ctx)
{
    const touched_t *x = a, *y = b;
    const uint8_t *keys = ctx;
    if (x->dbi != y->dbi)
        return x->dbi < y->dbi ? -1 : 1;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(keys + x->off, keys + y->off, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

int store_ws_build(store_ws_t *w, const cpm_store_t *s, MDB_txn *txn, const uint8_t **payload,
                   size_t *len)
{
    if (w->unknown_db) {
        cpm_error("store: journal: a write to a database the store did not open");
        return -1;
    }
    uint8_t **b = &w->log;
    size_t *n = &w->len, *cap = &w->cap;
    if (w->ndropped > 0) {
        if (with_drops(w, s, txn) != 0)
            return -1;
        b = &w->rec;
        n = &w->rlen;
        cap = &w->rcap;
    }
    if (w->nt > 1) /* none yet: w->t may be NULL */
        qsort_r(w->t, w->nt, sizeof *w->t, by_key, w->keys);
    for (size_t i = 0; i < w->nt; i++) {
        if (i > 0 && by_key(&w->t[i - 1], &w->t[i], w->keys) == 0)
            continue;
        MDB_val k = {w->t[i].klen, w->keys + w->t[i].off}, v;
        const char *name = name_of(s, w->t[i].dbi);
        int rc = mdb_get(txn, w->t[i].dbi, &k, &v);
        if (rc == 0) {
            uint8_t *p = entry(b, n, cap, 'P', name, &k, true, v.mv_size);
            memcpy(p, v.mv_data, v.mv_size);
        } else if (rc == MDB_NOTFOUND) {
            (void)entry(b, n, cap, 'D', name, &k, false, 0);
        } else {
            return -1;
        }
    }
    *payload = *b;
    *len = *n;
    return 0;
}
