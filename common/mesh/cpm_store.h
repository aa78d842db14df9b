/* cpm_store: one service's LMDB environment in its data directory.
 *
 * Named databases: the common ones ("meta", "outbox", "inbox", "events",
 * "dead") plus those the service names. "meta" holds "schema" (the schema
 * version as a decimal string); opening a store written by another schema
 * version fails with a clear error. Every commit is durable (no MDB_NOSYNC):
 * when cpm_store_commit returns 0 the writes are on disk and survive a power
 * cut. Every function returns 0 or a cpm_err_t code: MDB_MAP_FULL becomes
 * CPM_E_STORE_FULL and disk errors CPM_E_STORE_IO, both retryable.
 *
 * Space. LMDB copies pages on write, so even deleting a record or recording
 * an acknowledgement needs free pages: a map filled to its last page could
 * never drain. So new work stops at a high-water mark, a share of the map
 * held by live pages (default 80%; with a journal, free pages the last
 * checkpoint still holds count too); the rest is headroom that only shrinking
 * writes (acknowledgements, deletions) use. Callers that add new work ask
 * cpm_store_admit first; between transactions cpm_store_make_room grows the
 * map, up to a configured maximum and while the disk has room. */
#ifndef CPM_STORE_H
#define CPM_STORE_H

#include "cpm_err.h"

#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_STORE_SCHEMA 1

/* The databases every store has (services add their own, named in their
 * domain header as <SERVICE>_<NAME>_DB). */
#define CPM_DB_META "meta"
#define CPM_DB_OUTBOX "outbox"
#define CPM_DB_INBOX "inbox"
#define CPM_DB_EVENTS "events"
#define CPM_DB_DEAD "dead"

typedef struct cpm_store cpm_store_t;

/* Open (creating dir 0700 and the databases as needed). extra_dbs is a
 * NULL-terminated list of the service's own database names, or NULL. map_size
 * in bytes (0: 1 GiB). NULL with a sentence in err. A store that kept a
 * journal and was not closed cleanly is brought back first (whatever the
 * options say now): see cpm_store_opts_t. */
CPM_MUST_CHECK cpm_store_t *cpm_store_open(const char *dir, size_t map_size,
                                           const char *const *extra_dbs, char *err, size_t errlen);

/* The redo journal (docs/operations.md "A store's redo journal"). Without
 * it every commit flushes twice (LMDB's pages, then its meta page); with it
 * once: LMDB commits without flushing, the keys the transaction wrote are
 * appended to the journal (journal.0/1 in the store's folder, two segments
 * of journal_seg_bytes written through when made) and flushed, and a
 * thread makes the data file durable every checkpoint_ms. A commit that
 * returned 0 survives a power cut either way. What it costs: the segments'
 * room on disk; pages the last checkpoint's state holds are not reused until
 * the next one (more free pages waiting); a record larger than half a
 * segment commits by a checkpoint of its own (two or more flushes). */
typedef struct {
    size_t map_size;          /* bytes (0: 1 GiB) */
    size_t map_max;           /* bytes the map may grow to (0: map_size; cpm_store_set_limits) */
    bool journal;             /* keep a redo journal */
    size_t journal_seg_bytes; /* 0: CPM_STORE_JOURNAL_SEG_DEFAULT */
    unsigned checkpoint_ms;   /* 0: CPM_STORE_CHECKPOINT_MS_DEFAULT */
} cpm_store_opts_t;
#define CPM_STORE_JOURNAL_SEG_DEFAULT ((size_t)8 << 20)
#define CPM_STORE_CHECKPOINT_MS_DEFAULT 200
/* With a journal: a checkpoint now, waited for (the store durable as it is,
 * the journal's records before it no longer needed), e.g. before copying
 * the store's files. Between transactions, on the writer thread. 0 (also
 * without a journal: every commit is durable then) or CPM_E_STORE_IO. */
CPM_MUST_CHECK int cpm_store_checkpoint(cpm_store_t *s);
/* Between transactions, on the writer thread, now and then (the server:
 * every second): with a journal, begins a checkpoint when one is due and
 * records were journaled since the last (else checkpoints begin at
 * commits only, and an idle store's journal would keep its last records
 * until the next commit). */
void cpm_store_tick(cpm_store_t *s);
/* Whether s keeps a journal. */
bool cpm_store_journaled(const cpm_store_t *s);
/* Since open: records journaled, checkpoints made and failed (retried),
 * commits made durable by a checkpoint of their own (a record too large or
 * a journal write failed), checkpoints made early by cpm_store_make_room
 * (the pages the last one held put the store above its mark), records
 * flushed beside the next commit (cpm_store_commit_early). All 0 without a
 * journal. */
typedef struct {
    uint64_t records, checkpoints, checkpoint_failures, by_checkpoint, for_room, early;
} cpm_store_journal_stats_t;
void cpm_store_journal_stats(cpm_store_t *s, cpm_store_journal_stats_t *out);
CPM_MUST_CHECK cpm_store_t *cpm_store_open_with(const char *dir, const cpm_store_opts_t *opts,
                                                const char *const *extra_dbs, char *err,
                                                size_t errlen);
void cpm_store_destroy(cpm_store_t **p);

MDB_env *cpm_store_env(cpm_store_t *s);
/* Handle of a named database opened at cpm_store_open; aborts on an unknown name
 * (a programming error). */
MDB_dbi cpm_store_dbi(cpm_store_t *s, const char *name);

CPM_MUST_CHECK int cpm_store_begin(cpm_store_t *s, bool write, MDB_txn **txn);
/* A nested write transaction inside parent: committing it folds its writes
 * into parent; aborting it undoes them and leaves parent usable. Lets one
 * request or record fail without failing the others of its group. */
CPM_MUST_CHECK int cpm_store_begin_child(cpm_store_t *s, MDB_txn *parent, MDB_txn **child);
/* Commit durably (fsync); on failure the transaction is gone either way. */
CPM_MUST_CHECK int cpm_store_commit(MDB_txn *txn);
/* Commit a top-level write transaction with one device flush instead of two:
 * its pages are flushed (fdatasync), its meta page is written but not
 * flushed (LMDB's MDB_NOMETASYNC for this commit only). A power cut may undo
 * this transaction, never corrupt the store nor undo an earlier one; the next
 * durable commit (cpm_store_commit) makes it durable too. Only for writes whose
 * loss is repaired by the protocol: a sender recording a receiver's ack
 * (lost: the sender resends, the receiver drops the duplicates by seq).
 * Nothing that left the process may depend on it. One writer thread per store
 * (the flag is the environment's, set around this commit only). */
CPM_MUST_CHECK int cpm_store_commit_relaxed(MDB_txn *txn);
/* Commit a top-level write transaction whose durability the caller waits
 * for later: with a journal, LMDB commits and the record is written, and its
 * flush runs on another thread while the caller goes on (the server applies
 * the next group meanwhile); without one, as cpm_store_commit (*ticket 0).
 * The transaction's writes are seen by later transactions at once, but are
 * durable only once cpm_store_flushed(s, *ticket) is true: until then
 * nothing that depends on them may leave the process. The next commit of
 * any kind first waits for this flush (one record unflushed at most, the
 * last). A flush that fails is made good by a checkpoint of its own, or the
 * process stops (as when a journal write fails). */
CPM_MUST_CHECK int cpm_store_commit_early(MDB_txn *txn, uint64_t *ticket);
/* Whether the commit of ticket is durable (0: always). Does not wait. On
 * the writer thread, between transactions. */
bool cpm_store_flushed(cpm_store_t *s, uint64_t ticket);
/* Wait until every commit is durable. On the writer thread. */
void cpm_store_wait_flushed(cpm_store_t *s);
/* Readable when a flush of cpm_store_commit_early ended (until
 * cpm_store_flushed is asked): for a loop's poll(2). -1 without a journal. */
int cpm_store_flush_fd(const cpm_store_t *s);
void cpm_store_abort(MDB_txn **txn);
/* LMDB's writes, for code that works on MDB_val and cursors: each is the
 * LMDB call of the same name (same arguments and result), noted for the
 * store's journal. Nothing writes to a store any other way (test_store_lint
 * checks the sources). */
CPM_MUST_CHECK int cpm_store_mdb_put(cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k,
                                     MDB_val *v, unsigned flags);
/* A protobuf message put under k, serialized once (into the map, or into the
 * journal's record and put from there); LMDB's result. */
CPM_MUST_CHECK int cpm_store_mdb_put_msg(cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k,
                                         const ProtobufCMessage *msg, unsigned flags);
CPM_MUST_CHECK int cpm_store_mdb_del(cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k);
CPM_MUST_CHECK int cpm_store_cursor_put(cpm_store_t *s, MDB_cursor *cur, MDB_val *k, MDB_val *v,
                                        unsigned flags);
CPM_MUST_CHECK int cpm_store_cursor_del(cpm_store_t *s, MDB_cursor *cur);
CPM_MUST_CHECK int cpm_store_mdb_drop(cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi);

/* Map an LMDB or errno code to a cpm_err_t code. */
int cpm_store_err(int mdb_rc);

/* Byte-string key/value helpers on a named database. get returns
 * CPM_E_NOT_FOUND when absent; *val points into the map (valid until the
 * transaction ends). */
CPM_MUST_CHECK int cpm_store_put(cpm_store_t *s, MDB_txn *txn, const char *db, const void *key,
                                 size_t klen, const void *val, size_t vlen);
/* A protobuf message under a string key, serialized in place. */
CPM_MUST_CHECK int cpm_store_put_msg(cpm_store_t *s, MDB_txn *txn, const char *db, const char *key,
                                     const ProtobufCMessage *msg);
CPM_MUST_CHECK int cpm_store_get(cpm_store_t *s, MDB_txn *txn, const char *db, const void *key,
                                 size_t klen, const void **val, size_t *vlen);
/* The protobuf message of type desc under a string key, unpacked within the
 * decoding budget of its size (cpm_pb_budget). *out is NULL unless 0 is
 * returned; free it with protobuf_c_message_free_unpacked(*out, NULL).
 * CPM_E_NOT_FOUND when absent, CPM_E_BAD_MESSAGE when the bytes do not
 * decode, or a store code. */
CPM_MUST_CHECK int cpm_store_get_msg(cpm_store_t *s, MDB_txn *txn, const char *db, const char *key,
                                     const ProtobufCMessageDescriptor *desc,
                                     ProtobufCMessage **out);
CPM_MUST_CHECK int cpm_store_del(cpm_store_t *s, MDB_txn *txn, const char *db, const void *key,
                                 size_t klen);
/* Each record of db whose key starts with prefix (plen bytes), in key order,
 * unpacked as desc within its decoding budget: fn gets the rest of the key
 * and the message (freed after fn returns). Stops at fn's first non-zero
 * return, which it returns; CPM_E_BAD_MESSAGE for a value that does not
 * decode; 0 after the last one. */
typedef int (*cpm_store_each_fn)(void *ctx, const char *rest, size_t rlen,
                                 const ProtobufCMessage *msg);
CPM_MUST_CHECK int cpm_store_each_msg(cpm_store_t *s, MDB_txn *txn, const char *db,
                                      const void *prefix, size_t plen,
                                      const ProtobufCMessageDescriptor *desc, cpm_store_each_fn fn,
                                      void *ctx);
/* A u64 under a string key in "meta" (absent reads as 0). */
CPM_MUST_CHECK int cpm_store_get_u64(cpm_store_t *s, MDB_txn *txn, const char *key, uint64_t *v);
CPM_MUST_CHECK int cpm_store_put_u64(cpm_store_t *s, MDB_txn *txn, const char *key, uint64_t v);

#define CPM_STORE_HIGH_WATER_DEFAULT 80
#define CPM_STORE_HIGH_WATER_MIN 10
#define CPM_STORE_HIGH_WATER_MAX 95

/* map_max: bytes the map may grow to (less than the map's size now means no
 * growth; 0 leaves it as it is, at first the size given to cpm_store_open).
 * high_water_pct: CPM_STORE_HIGH_WATER_MIN..MAX (0 leaves it, at first
 * CPM_STORE_HIGH_WATER_DEFAULT). Cheap; may be called before every group. */
void cpm_store_set_limits(cpm_store_t *s, size_t map_max, unsigned high_water_pct);
/* Bytes in live pages as txn sees them (every tree, the free list's own
 * pages and the meta pages), plus, with a journal, the free pages the last
 * checkpoint's state still holds (freed since it, not reusable until the
 * next; measured once per transaction); and the map's size. */
CPM_MUST_CHECK int cpm_store_usage(cpm_store_t *s, MDB_txn *txn, size_t *used, size_t *map_size);
/* 0 when txn may take new work, CPM_E_STORE_FULL when its live pages are above
 * the high-water mark. Shrinking writes need not ask. Logs when the answer
 * changes. */
CPM_MUST_CHECK int cpm_store_admit(cpm_store_t *s, MDB_txn *txn);
/* Only while this process has no transaction open: when the store is above
 * the mark, and the pages held for the last checkpoint are what puts it
 * there, make a checkpoint now (they are free again after it); when it is
 * still above, or within a sixteenth of the map below the mark while the map
 * may grow (so that the next group's requests are not refused one by one
 * as they cross it), grow the map (doubling, up to map_max, leaving half of
 * the free disk to others). 0 (also when it cannot grow: cpm_store_admit
 * then refuses), or a store code. */
CPM_MUST_CHECK int cpm_store_make_room(cpm_store_t *s);

#endif
