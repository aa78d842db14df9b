/* exchange_log: the exchange's hash-chained proof log in its store.
 *
 * DB "xlog": seq (u64 BE) -> LogRecord (body = serialized LogEntry,
 * prev_hash, hash as cpm_xlog.h defines). meta "xlog.head" (u64) and
 * "xlog.hash" (32 bytes) hold the head. Every request the exchange answers
 * and every record it delivers or receives is appended in the transaction
 * that does it, so entry and effect commit together (or neither). */
#ifndef EXCHANGE_LOG_H
#define EXCHANGE_LOG_H

#include "cpm_err.h"
#include "cpm_store.h"
#include "exchange.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define EXCHANGE_LOG_DB "xlog"

typedef struct {
    const char *kind; /* query | publish | subscribe | delivery | received | cosign | checkpoint */
    const char *peer; /* the other party's member id */
    const char *dataset; /* may be NULL */
    const uint8_t *request;
    size_t request_len; /* the signed request frame, as received (may be 0) */
    const uint8_t *response;
    size_t response_len; /* the signed answer or the record (may be 0) */
} exchange_log_entry_t;

/* Append one entry at at_ms; *seq_out (may be NULL) gets its seq. */
CPM_MUST_CHECK int exchange_log_append(cpm_store_t *st, MDB_txn *txn, int64_t at_ms,
                                       const exchange_log_entry_t *e, uint64_t *seq_out);
/* The head: seq (0 when empty) and hash (32 zero bytes when empty; may be NULL). */
CPM_MUST_CHECK int exchange_log_head(cpm_store_t *st, MDB_txn *txn, uint64_t *seq,
                                     uint8_t hash[32]);
/* The stored record of seq: *out owned (free with
 * cpm__log_record__free_unpacked(*out, NULL)), or CPM_E_NOT_FOUND. */
CPM_MUST_CHECK int exchange_log_get(cpm_store_t *st, MDB_txn *txn, uint64_t seq,
                                    Cpm__LogRecord **out);

#endif
