/* exchange_received: what this agency's exchange received from the
 * exchanges it subscribed to, and the listing its own people read.
 *
 * A delivery (ExchangeDelivery in a MSG_EXCHANGE_BATCH) is taken only from a
 * member that runs an exchange, for a known dataset, with the sender as the
 * record's publisher. DB "received", key "<publisher>\x1f<dataset>\x1f<key>"
 * -> the latest version received (DataRecord as delivered: fields as the
 * publisher's policy shares them; removed = the publisher withdrew it, kept
 * as a tombstone). A newer version replaces it; an equal or older one is
 * ignored (the library's inbox already drops a redelivered batch: this is
 * belt and braces). DB "received_seq", key "<publisher>\x1f<dataset>\x1f"
 * + the publisher's seq (u64 BE) -> key: the live versions in the order the
 * publisher made them. At most max_records keys per (publisher, dataset):
 * beyond, the record is refused (a dead letter), counted
 * exchange.received_full. Each stored version is one proof-log entry (kind
 * "received", response = the delivery as received) and one event
 * "exchange.received" (publisher, dataset, key and version: no field
 * values).
 *
 * MSG_EXCHANGE_RECEIVED_QUERY: only this agency's own people; the latest
 * versions, withdrawn ones left out, in (publisher, dataset, key) order,
 * paged (max 1..500, 0 = 100; next_after "<publisher> <dataset> <key>"). */
#ifndef EXCHANGE_RECEIVED_H
#define EXCHANGE_RECEIVED_H

#include "cpm_err.h"
#include "exchange_domain.h"
#include "exchange_publish.h"
#include "exchange.pb-c.h"

#include <stdbool.h>

#define EXCHANGE_RECEIVED_DB "received"
#define EXCHANGE_RECEIVED_SEQ_DB "received_seq"
#define EXCHANGE_RECEIVED_PAGE_MAX 500

/* Store one delivery from member publisher (pm: its registry entry).
 * *stale (may be NULL) is set when it was not newer than what is stored
 * (nothing written). 0, a store error, or a refusal with err naming the
 * field (the caller's library keeps the record as a dead letter). */
CPM_MUST_CHECK int exchange_received_apply(const exchange_t *x, cpm_store_t *st, MDB_txn *txn,
                                           const cpm_effects_t *fx, const Cpm__Member *pm,
                                           const Cpm__ExchangeDelivery *dl, int64_t now_ms,
                                           bool *stale, cpm_error_t *err);

/* One page for who. *out owned: free with exchange_received_free. */
CPM_MUST_CHECK int exchange_received_query(const exchange_t *x, cpm_store_t *st, MDB_txn *txn,
                                           const exchange_sender_t *who,
                                           const Cpm__ExchangeReceivedQuery *q,
                                           Cpm__ExchangeReceivedReply **out, cpm_error_t *err);
void exchange_received_free(Cpm__ExchangeReceivedReply **r);

#endif
