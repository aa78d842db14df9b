/* cpm_store_int: the store's state, shared by cpm_store.c (open, transactions,
 * key/value helpers), cpm_store_space.c (headroom and map growth) and
 * cpm_store_journal.c (the redo journal: one flush per commit) and
 * cpm_store_wset.c (a journaled transaction's writes, as its record) and
 * cpm_store_cursors.c (a cursor per database while a write transaction lasts).
 * Internal: nothing outside these files includes it. */
#ifndef CPM_STORE_INT_H
#define CPM_STORE_INT_H

#include "cpm_store.h"

#include <stdbool.h>
#include <stdint.h>

#define STORE_DB_NAME_MAX 63

typedef struct {
    char name[STORE_DB_NAME_MAX + 1];
    MDB_dbi dbi;
} store_db_t;

typedef struct store_jn store_jn_t; /* cpm_store_journal.c */
typedef struct store_ws store_ws_t; /* cpm_store_wset.c */

struct cpm_store {
    MDB_env *env;
    char *dir;
    size_t map_max;          /* the map may grow up to this many bytes */
    unsigned high_water_pct; /* new work stops above this share of the map */
    int refusing;            /* above the mark at the last check (to log changes once) */
    int grow_warned;         /* said once that the map cannot grow */
    store_jn_t *jn;          /* the redo journal, or NULL (durable LMDB commits) */
    int lock_fd;             /* store.lock, held while the store is open; -1 */
    int full_seen;           /* a write found the map full since the last begin */
    uint64_t held_txnid;     /* held_pages was measured for this transaction */
    uint64_t held_since;     /* and this checkpoint's state (0: not measured) */
    size_t held_pages;       /* free pages a checkpoint's state still holds */
    size_t ndbs;
    store_db_t dbs[]; /* a handful: a linear scan beats hashing */
};

/* ---- the map's growth (cpm_store_space.c) -------------------------------- */
/* The size a map of map bytes grows to (map: it stays): doubled, up to
 * map_max and to room more bytes (what the disk allows), whole pages of
 * psize; above: the store is above its mark (else it is only near it, and a
 * step under a sixteenth of the map is not worth its remap). */
size_t store_space_grow_to(size_t map, size_t map_max, size_t room, size_t psize, bool above);

/* ---- cursors kept while a write transaction lasts (cpm_store_cursors.c) --- */
/* Follow the write transaction txn (begun), a child begun in parent, and
 * the end (commit or abort, just before LMDB's) of txn. */
void store_cur_begin(const cpm_store_t *s, MDB_txn *txn);
void store_cur_child(const cpm_store_t *s, MDB_txn *parent, MDB_txn *child);
void store_cur_end(const cpm_store_t *s, MDB_txn *txn);
/* The store closes: nothing of it is followed on this thread any more. */
void store_cur_forget(const cpm_store_t *s);
/* mdb_get, mdb_put and mdb_del (same arguments and results), on the kept
 * cursor of dbi when txn is the innermost write transaction followed. */
int store_cur_get(const cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v);
int store_cur_put(const cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v,
                  unsigned flags);
int store_cur_del(const cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k);
/* Calls the calling thread made on a kept cursor, and the depth of the
 * write transactions it follows (for tests). */
uint64_t store_cur_hits(void);
int store_cur_depth(void);

/* ---- the redo journal (cpm_store_journal.c) ------------------------------ */
/* Before the environment opens: when dir holds a checkpoint image (a store
 * journaled and not closed cleanly), put its meta pages back into the data
 * file. 1 when restored, 0 when there was none, -1 with err. */
int store_jn_restore(const char *dir, char *err, size_t errlen);
/* After the databases are open: apply the journal's records past the
 * store's last one, make the store durable and empty the journal. 0 or -1
 * with err (a gap in the journal refuses to open). */
int store_jn_replay(cpm_store_t *s, char *err, size_t errlen);
/* Keep a journal from now on (segments of seg_bytes, a checkpoint every
 * ckpt_ms). 0 or -1 with err. */
int store_jn_start(cpm_store_t *s, size_t seg_bytes, unsigned ckpt_ms, char *err, size_t errlen);
/* Clean close: the store made durable, the journal emptied. */
void store_jn_close(cpm_store_t *s);
/* A top-level write transaction begins, ends, commits (journaled). */
void store_jn_begin(cpm_store_t *s, MDB_txn *txn);
void store_jn_abort(cpm_store_t *s, MDB_txn *txn);
bool store_jn_owns(const cpm_store_t *s, const MDB_txn *txn);
int store_jn_commit(cpm_store_t *s, MDB_txn *txn);
/* As store_jn_commit, but the record's flush runs on the flusher's thread:
 * *ticket (0: already durable) is flushed once store_jn_flushed says so. */
int store_jn_commit_early(cpm_store_t *s, MDB_txn *txn, uint64_t *ticket);
bool store_jn_flushed(cpm_store_t *s, uint64_t ticket);
void store_jn_wait_flushed(cpm_store_t *s);
int store_jn_flush_fd(const cpm_store_t *s);
/* The open journaled write transaction's writes (cpm_store_wset.c), or
 * NULL: no journal, or no such transaction. */
store_ws_t *store_jn_ws(cpm_store_t *s);
/* A top-level write transaction is about to begin after a write found the
 * map full: a checkpoint, so that the pages the last one's state held can be
 * reused. */
void store_jn_relieve(cpm_store_t *s);
/* The id of the oldest state a checkpoint holds (a read transaction that
 * keeps LMDB from reusing the pages freed after it); 0 without a journal. */
uint64_t store_jn_pinned(cpm_store_t *s);
/* Between transactions, on the writer thread: a checkpoint now, because
 * the pages the last one's state holds push the store above its mark. 0 or
 * -1. */
int store_jn_make_room(cpm_store_t *s);
/* Between transactions, on the writer thread: one journaled transaction
 * that writes the journal's sequence number alone, so that the store's state
 * moves on by one (a checkpoint after it lets go of the pages the last
 * commit before it freed). 0 or -1 (the map is full, or a store error). */
int store_jn_step(cpm_store_t *s);
/* Before mdb_env_set_mapsize (no transaction of this thread open): the
 * checkpoint thread idle. The read transactions holding checkpoints stay. */
void store_jn_quiesce(cpm_store_t *s);

/* A journal record's entries, one after the other: op ('P' put, 'D'
 * delete, 'X' database emptied), the database name's length (1 byte) and
 * name, then for P and D the key's length (4 bytes, big-endian) and key, and
 * for P the value's length and value. Written by cpm_store_wset.c, applied
 * by cpm_store_journal.c. */
static inline void store_rec_put32(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t store_rec_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- a journaled transaction's writes (cpm_store_wset.c) --------------- */
/* Logged as they are made, in the journal record's form; a nested
 * transaction's are cut when it is undone. Every call but new, reset, empty
 * and build takes a NULL w (no journal) and does nothing. Out of memory
 * stops the process: a write the journal could not note must not be
 * acknowledged. */
store_ws_t *store_ws_new(void);
void store_ws_destroy(store_ws_t **w);
void store_ws_reset(store_ws_t *w); /* a top-level transaction begins */
bool store_ws_empty(const store_ws_t *w);
/* Where the log ends; cut back to it (a write LMDB refused). */
size_t store_ws_mark(const store_ws_t *w);
void store_ws_cut(store_ws_t *w, size_t mark);
void store_ws_put(store_ws_t *w, const cpm_store_t *s, MDB_dbi dbi, const MDB_val *k,
                  const MDB_val *v);
/* A put whose value (vlen bytes, at the pointer returned) the caller
 * writes before it puts it; w not NULL. */
uint8_t *store_ws_put_room(store_ws_t *w, const cpm_store_t *s, MDB_dbi dbi, const MDB_val *k,
                           size_t vlen);
void store_ws_del(store_ws_t *w, const cpm_store_t *s, MDB_dbi dbi, const MDB_val *k);
/* A key read back at the commit (a value reserved, filled after its put). */
void store_ws_touch(store_ws_t *w, const cpm_store_t *s, MDB_dbi dbi, const MDB_val *k);
/* A database emptied: written whole at the commit. */
void store_ws_dropped(store_ws_t *w, const cpm_store_t *s, MDB_dbi dbi);
/* A nested transaction began; ended (kept: committed). */
void store_ws_child(store_ws_t *w, const MDB_txn *child);
void store_ws_child_end(store_ws_t *w, const MDB_txn *child, bool kept);
/* The record's payload, in txn (the top-level transaction, before its
 * commit): valid until the next reset. 0 or -1 (LMDB could not read, or a
 * write went to a database the store did not open). */
int store_ws_build(store_ws_t *w, const cpm_store_t *s, MDB_txn *txn, const uint8_t **payload,
                   size_t *len);

#endif
