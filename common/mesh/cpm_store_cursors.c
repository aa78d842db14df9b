/* cpm_store_cursors: one LMDB cursor per database, kept while a write
 * transaction lasts, for the store's gets, puts and deletes by key.
 *
 * mdb_get, mdb_put and mdb_del each start from the root of the tree: a
 * search of every branch page down to the leaf (and, in a write transaction,
 * a look-up of each page in the dirty lists of the transaction and of every
 * parent it is nested in). A cursor that is still on a leaf looks there first:
 * a key between that leaf's first and last is found without the search
 * (mdb_cursor_set, LMDB 0.9). The writes of one request often land on one
 * leaf: a business's entries in routing's "clusters" share its keys' prefix
 * (routing_clusters.h), the counters of "meta" sit together, tickets and
 * sequence numbers are appended at the right edge. The results are LMDB's
 * own: mdb_put and mdb_del are a cursor put and delete on a cursor of their
 * own.
 *
 * LMDB frees the cursors of a write transaction when it ends, and lends a
 * parent's cursors to its nested transactions while they run (mdb.c:
 * mdb_cursor_shadow; their place is put back when the child ends). So the
 * cursors are kept per thread, with the stack of the write transaction and
 * its open children, as cpm_store begins and ends them (store_cur_begin,
 * store_cur_child, store_cur_end); a cursor is used only in the innermost
 * one, and forgotten with the transaction it was opened in. A transaction
 * not begun through cpm_store (a replay, a read) is not in the stack: its
 * calls go to LMDB's plain functions, as do those of other threads. */
#include "cpm_store_int.h"

#include <string.h>

#define CUR_DEPTH 16 /* nested transactions followed; deeper ones go without */
#define CUR_MAX 24   /* cursors kept: a store has a few dozen databases at most */

typedef struct {
    MDB_dbi dbi;
    MDB_cursor *cur;
    int level; /* the stack level of the transaction it was opened in */
} cur_t;

static _Thread_local struct {
    const cpm_store_t *s;
    size_t txnid; /* of stack[0]: LMDB reuses a top-level write transaction's object */
    MDB_txn *stack[CUR_DEPTH];
    int depth; /* 0: no write transaction followed */
    cur_t c[CUR_MAX];
    int n;
    uint64_t hits; /* calls served by a kept cursor (store_cur_hits) */
} tl;

uint64_t store_cur_hits(void)
{
    return tl.hits;
}

int store_cur_depth(void)
{
    return tl.depth;
}

void store_cur_begin(const cpm_store_t *s, MDB_txn *txn)
{
    tl.s = s;
    tl.txnid = mdb_txn_id(txn);
    tl.stack[0] = txn;
    tl.depth = 1;
    tl.n = 0; /* any before were LMDB's to free, with their transaction */
}

void store_cur_forget(const cpm_store_t *s)
{
    if (tl.s == s) {
        tl.s = NULL;
        tl.depth = tl.n = 0;
    }
}

void store_cur_child(const cpm_store_t *s, MDB_txn *parent, MDB_txn *child)
{
    if (tl.s != s || tl.depth == 0)
        return;
    if (tl.stack[tl.depth - 1] != parent || tl.depth == CUR_DEPTH) {
        tl.depth = 0; /* not followed: plain calls until the next begin */
        tl.n = 0;
        return;
    }
    tl.stack[tl.depth++] = child;
}

void store_cur_end(const cpm_store_t *s, MDB_txn *txn)
{
    if (tl.s != s)
        return;
    int level = tl.depth - 1;
    while (level >= 0 && tl.stack[level] != txn)
        level--;
    if (level < 0)
        return;
    /* LMDB frees the cursors opened in it (and in its children, ended
     * before it); those of its parents are theirs again */
    int k = 0;
    for (int i = 0; i < tl.n; i++)
        if (tl.c[i].level < level)
            tl.c[k++] = tl.c[i];
    tl.n = k;
    tl.depth = level;
}

/* The cursor on dbi for txn, opened when there is none yet; NULL when txn is
 * not the innermost write transaction followed (or no cursor can be had). */
static MDB_cursor *cursor_for(const cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi)
{
    if (tl.s != s || tl.depth == 0 || tl.stack[tl.depth - 1] != txn)
        return NULL;
    if (mdb_txn_id(tl.stack[0]) != tl.txnid) { /* ended unseen: another one now */
        tl.depth = tl.n = 0;
        return NULL;
    }
    MDB_cursor *cur = NULL;
    for (int i = 0; i < tl.n && !cur; i++)
        if (tl.c[i].dbi == dbi)
            cur = tl.c[i].cur;
    if (!cur) {
        if (tl.n == CUR_MAX || mdb_cursor_open(txn, dbi, &cur) != 0)
            return NULL;
        tl.c[tl.n++] = (cur_t){dbi, cur, tl.depth - 1};
    }
    tl.hits++;
    return cur;
}

int store_cur_get(const cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    MDB_cursor *cur = cursor_for(s, txn, dbi);
    if (cur == NULL)
        return mdb_get(txn, dbi, k, v);
    MDB_val key = *k; /* MDB_SET leaves the caller's key alone, as mdb_get does */
    return mdb_cursor_get(cur, &key, v, MDB_SET);
}

int store_cur_put(const cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v,
                  unsigned flags)
{
    /* MDB_CURRENT is a cursor's flag: mdb_put refuses it (EINVAL), and so
     * does the store, whatever cursor it keeps */
    MDB_cursor *cur = (flags & MDB_CURRENT) ? NULL : cursor_for(s, txn, dbi);
    return cur ? mdb_cursor_put(cur, k, v, flags) : mdb_put(txn, dbi, k, v, flags);
}

int store_cur_del(const cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k)
{
    MDB_cursor *cur = cursor_for(s, txn, dbi);
    if (cur == NULL)
        return mdb_del(txn, dbi, k, NULL);
    MDB_val key = *k, unused;
    int rc = mdb_cursor_get(cur, &key, &unused, MDB_SET);
    return rc ? rc : mdb_cursor_del(cur, 0);
}
