/* cpm_outbox: records waiting to be delivered to a peer, kept in the sender's
 * store and written in the same transaction as the effect that made them.
 *
 * A stream is "<sender>/<service>><recipient>/<service>", e.g.
 * "hn.d.hoan-kiem/intake>hn.doit/routing". Each stream numbers its records
 * 1, 2, 3, ... Keys in "outbox": stream, one zero byte, seq as big-endian u64.
 * In "meta": "outbox.next:<stream>" (next seq to assign) and
 * "outbox.acked:<stream>" (highest seq the peer acknowledged). No sockets here. */
#ifndef CPM_OUTBOX_H
#define CPM_OUTBOX_H

#include "cpm_err.h"

#include "cpm_store.h"

#include <stddef.h>
#include <stdint.h>

/* Append one record; *seq_out (may be NULL) gets its number. The first record
 * of a stream also gives the stream a random, non-zero epoch. */
CPM_MUST_CHECK int cpm_outbox_put(cpm_store_t *s, MDB_txn *txn, const char *stream,
                                  const uint8_t *rec, size_t len, uint64_t *seq_out);

/* Append a reference to a record this store already holds: the bytes under
 * key in database db (protobuf, as protobuf_c_message_pack makes them), read
 * when the record is (cpm_outbox_read), so that they are not stored twice.
 * Whoever holds them must leave them unchanged until the peer acknowledges
 * the record (cpm_outbox_ack). Kept as the value 0x00 'R' db 0x00 key: no
 * record begins with a zero byte (a protobuf field number is never 0), so
 * cpm_outbox_put refuses one that does. CPM_E_INVALID for an empty db or key
 * or one that does not fit a value of the store (key at most 255 bytes). */
CPM_MUST_CHECK int cpm_outbox_put_ref(cpm_store_t *s, MDB_txn *txn, const char *stream,
                                      const char *db, const void *key, size_t klen,
                                      uint64_t *seq_out);

/* The record formats this build reads from an outbox: 1, records as put;
 * 2, also references (cpm_outbox_put_ref). Kept in "meta" as "outbox.format"
 * (u64; absent in stores from before 2026-12-04). */
#define CPM_OUTBOX_FORMAT 2

/* At a service's start, in a write transaction: when "outbox.format" is
 * larger than CPM_OUTBOX_FORMAT (the store was last run by a newer build,
 * whose records this one may not read) and a stream still holds a record its
 * peer has not acknowledged, CPM_E_CONFLICT with err naming outbox.format and
 * saying what to do: this build could send such a record as something else
 * (a halted stream's records never drain, so the message names those apart).
 * Otherwise the mark becomes CPM_OUTBOX_FORMAT (an empty outbox holds nothing
 * to misread) and *lowered_from gets the mark it had when it was larger (else
 * 0). 0 or an error. */
CPM_MUST_CHECK int cpm_outbox_format_open(cpm_store_t *s, MDB_txn *txn, uint64_t *lowered_from,
                                          cpm_error_t *err);

/* The stream's epoch ("outbox.epoch:<stream>" in "meta"; 0 before its first
 * record). Numbers are unique only within an epoch: a store created anew (a
 * wiped or reinstalled node) numbers from 1 again under a new epoch, and the
 * receiver keeps a separate mark for it instead of taking the new records
 * for duplicates. */
CPM_MUST_CHECK int cpm_outbox_epoch(cpm_store_t *s, MDB_txn *txn, const char *stream,
                                    uint64_t *epoch);

/* Records from from_seq on, at most max_n records and (after the first) at most
 * max_bytes in all, copied into b. Consecutive by construction. A reference
 * (cpm_outbox_put_ref) is read as the bytes it refers to. One whose bytes are
 * gone (the holder broke the rule above) ends the batch before it, logged with
 * its stream and number; read from it, it is CPM_E_INTERNAL with an empty b:
 * nothing is sent in its place, and the records before it are not held up. */
typedef struct {
    uint64_t first_seq;
    size_t n;
    uint8_t **recs;
    size_t *lens;
} cpm_outbox_batch_t;

CPM_MUST_CHECK int cpm_outbox_read(cpm_store_t *s, MDB_txn *txn, const char *stream,
                                   uint64_t from_seq, size_t max_n, size_t max_bytes,
                                   cpm_outbox_batch_t *b);
void cpm_outbox_batch_clear(cpm_outbox_batch_t *b);

/* The peer has applied everything up to acked_seq: delete those records and
 * remember acked_seq (an older ack changes nothing). */
CPM_MUST_CHECK int cpm_outbox_ack(cpm_store_t *s, MDB_txn *txn, const char *stream,
                                  uint64_t acked_seq);
CPM_MUST_CHECK int cpm_outbox_acked(cpm_store_t *s, MDB_txn *txn, const char *stream,
                                    uint64_t *acked);
/* The seq of the newest record put on stream (acked + depth, in one read),
 * 0 when none ever was. */
CPM_MUST_CHECK int cpm_outbox_last(cpm_store_t *s, MDB_txn *txn, const char *stream,
                                   uint64_t *last);
/* next - 1 - acked: records not yet acknowledged. */
CPM_MUST_CHECK int cpm_outbox_depth(cpm_store_t *s, MDB_txn *txn, const char *stream,
                                    uint64_t *depth);

/* A stream's halt ("pump.halted:<stream>" in "meta"): set by the pump when
 * the peer holds more of the stream than this store (restored from an older
 * copy); nothing on it is sent or deleted, across restarts, until an operator
 * repairs the store. cpm_outbox_halted gives 1 or 0 in *halted. */
CPM_MUST_CHECK int cpm_outbox_halt(cpm_store_t *s, MDB_txn *txn, const char *stream);
CPM_MUST_CHECK int cpm_outbox_halted(cpm_store_t *s, MDB_txn *txn, const char *stream, int *halted);

/* Every stream that has ever had a record ("outbox.next:" keys). *streams is a
 * malloc'd array of malloc'd strings; free with cpm_outbox_streams_free. */
CPM_MUST_CHECK int cpm_outbox_streams(cpm_store_t *s, MDB_txn *txn, char ***streams, size_t *n);
void cpm_outbox_streams_free(char ***streams, size_t n);

#endif
