/* exchange_records: the datasets an agency publishes, in its exchange's store.
 *
 * DB "records": "<dataset>\x1f<key>" -> the record's latest version
 * (DataRecord, fields in full: policy is applied when it leaves). DB
 * "records_seq": "<dataset>\x1f" seq (u64 BE) -> key, one entry per live
 * version (the entry of a superseded version is deleted), so that
 * subscriptions read "everything after seq N" in order. meta
 * "xseq.<dataset>" holds the dataset's last seq. Every version gets the next
 * seq of its dataset; a version equal to the stored one changes nothing.
 * Bounded: at most max_records keys per dataset (CPM_E_STORE_FULL beyond,
 * told once per dataset by the caller), 32 fields, values as the schema says. */
#ifndef EXCHANGE_RECORDS_H
#define EXCHANGE_RECORDS_H

#include "cpm_err.h"
#include "cpm_store.h"
#include "cpm_xschema.h"
#include "exchange.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

#define EXCHANGE_RECORDS_DB "records"
#define EXCHANGE_RECORDS_SEQ_DB "records_seq"
#define EXCHANGE_RECORD_FIELDS_MAX 32
#define EXCHANGE_KEY_MAX 128

/* Store a new version of r (r->dataset, r->key, r->fields, r->removed,
 * r->at_ms set by the caller; fields checked against the schema: unknown
 * field or bad value -> CPM_E_INVALID naming "<dataset>.<field>"). Fills
 * r->version, r->seq, r->publisher (borrowed: must outlive r's use),
 * r->schema_version. *unchanged (may be NULL) is set when the fields equal
 * the stored version's (nothing written). 0 or an error code. */
CPM_MUST_CHECK int exchange_records_put(cpm_store_t *st, MDB_txn *txn, const char *publisher,
                                        uint32_t max_records, Cpm__DataRecord *r, bool *unchanged,
                                        cpm_error_t *err);
/* The latest version of dataset/key: *out owned (free with
 * cpm__data_record__free_unpacked(*out, NULL)), or CPM_E_NOT_FOUND. */
CPM_MUST_CHECK int exchange_records_get(cpm_store_t *st, MDB_txn *txn, const char *dataset,
                                        const char *key, Cpm__DataRecord **out);
/* Each latest version of dataset with key > after (NULL/"": from the
 * first), in key order, until fn returns non-zero (its result is returned;
 * 1 means "stop, no error") or scan records were read. *last_key gets the
 * key of the last record read (cap bytes). */
typedef int (*exchange_record_fn)(void *arg, const Cpm__DataRecord *r);
CPM_MUST_CHECK int exchange_records_each(cpm_store_t *st, MDB_txn *txn, const char *dataset,
                                         const char *after, size_t scan, exchange_record_fn fn,
                                         void *arg, char *last_key, size_t cap);
/* Each live version of dataset with seq > after_seq, in seq order, at most
 * max; *last_seq gets the seq of the last one read (after_seq when none). */
CPM_MUST_CHECK int exchange_records_since(cpm_store_t *st, MDB_txn *txn, const char *dataset,
                                          uint64_t after_seq, size_t max, exchange_record_fn fn,
                                          void *arg, uint64_t *last_seq);
/* The dataset's last seq (0: none yet). */
CPM_MUST_CHECK int exchange_records_head(cpm_store_t *st, MDB_txn *txn, const char *dataset,
                                         uint64_t *seq);
/* The value of field name in r, or "" when absent. */
const char *exchange_record_value(const Cpm__DataRecord *r, const char *name);

#endif
