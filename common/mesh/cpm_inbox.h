/* cpm_inbox: what a receiver has applied from each incoming stream.
 *
 * "inbox" maps a stream name to the highest seq applied (big-endian u64). The
 * receiver updates it in the same transaction as the effects, so a record is
 * applied exactly once however often it is delivered. Records that are signed
 * and authorized but cannot be applied (undecodable, invalid) go to "dead"
 * with the reason, so nothing is lost and the stream does not stall. */
#ifndef CPM_INBOX_H
#define CPM_INBOX_H

#include "cpm_err.h"

#include "cpm_store.h"

#include <stdint.h>

CPM_MUST_CHECK int cpm_inbox_hwm(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t *hwm);
CPM_MUST_CHECK int cpm_inbox_set(cpm_store_t *s, MDB_txn *txn, const char *stream, uint64_t hwm);
/* Keep rec under "<stream>\0<seq BE>" in "dead", prefixed by the reason and a
 * zero byte. */
CPM_MUST_CHECK int cpm_inbox_dead_letter(cpm_store_t *s, MDB_txn *txn, const char *stream,
                                         uint64_t seq, const char *reason, const uint8_t *rec,
                                         size_t len);
/* How many dead letters are kept. */
CPM_MUST_CHECK int cpm_inbox_dead_count(cpm_store_t *s, MDB_txn *txn, uint64_t *n);
/* How many dead letters, and how many bytes of them, are kept for streams
 * whose name starts with prefix (e.g. "<member>/": everything one member
 * sent). Stops counting once *n passes max_n, so the cost is bounded. */
CPM_MUST_CHECK int cpm_inbox_dead_usage(cpm_store_t *s, MDB_txn *txn, const char *prefix,
                                        uint64_t max_n, uint64_t *n, uint64_t *bytes);
/* 1 when a dead letter is kept under (stream, seq), 0 when not, or an error
 * code (negative is never returned). */
CPM_MUST_CHECK int cpm_inbox_dead_exists(cpm_store_t *s, MDB_txn *txn, const char *stream,
                                         uint64_t seq, int *exists);

#endif
