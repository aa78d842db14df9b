/* exchange_feed: the datasets an agency's exchange derives from the events
 * of its own node's services (docs/protocol.md 19.0).
 *
 *   inspection violation.recorded  -> violations, key "<inspection>#<violation|summary>#<seq>"
 *   intake complaint.received      -> complaint_stats, key "<area>|<category>|<YYYY-MM>", count+1
 *   intake consultation.recorded   -> hotline_stats, key "<YYYY-MM>|<category>|<channel>", count+1
 *   hotspot hotspot.confirmed      -> watchlist, key "H<n>" (rule "business" only; from the
 *                                     decision, until 90 days later, reason = the note)
 * (months in Asia/Ho_Chi_Minh, UTC+7, no daylight saving). Other events are
 * ignored.
 *
 * Exactly once: per source (node/service) the cursor (last seq applied and
 * its hash) lives in DB "xfeed" of the exchange's own store and is written in
 * the same write transaction as the records its events produce, so that a
 * SIGKILL at any point leaves records and cursor agreeing. The events are
 * read with a cpm_subscriber in fetch-only mode (one EventsFetch per source
 * per tick when idle), at most EXCHANGE_FEED_TICK_MAX events per tick per
 * source, checked against the source's hash chain (a broken chain is counted,
 * logged and not applied).
 *
 * Counters: exchange.feed_applied, exchange.feed_unreachable,
 * exchange.feed_broken_chain, exchange.feed_refused (an event whose record
 * the schema refuses: skipped), exchange.feed_stalled (a write failed, e.g.
 * the dataset is full: retried next tick). */
#ifndef EXCHANGE_FEED_H
#define EXCHANGE_FEED_H

#include "cpm_err.h"
#include "cpm_server.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"
#include "exchange_domain.h"

#include <stdint.h>

#define EXCHANGE_FEED_DB "xfeed"
#define EXCHANGE_FEED_TICK_MAX 1000 /* events per tick per source */

typedef struct exchange_feed exchange_feed_t;

/* Apply one event of node/service to the datasets in txn (pure domain: no
 * sockets). 0 when applied or ignored (not a dataset's event), else an
 * error code with err filled (CPM_E_INVALID: its record is refused by the
 * schema; CPM_E_STORE_FULL: the dataset is full). */
CPM_MUST_CHECK int exchange_feed_apply(const exchange_t *x, cpm_store_t *st, MDB_txn *txn,
                                       const char *node, const char *service, const Cpm__Event *ev,
                                       cpm_error_t *err);
/* The stored cursor of node/service: *seq 0 and hash zero when none. */
CPM_MUST_CHECK int exchange_feed_cursor_get(cpm_store_t *st, MDB_txn *txn, const char *node,
                                            const char *service, uint64_t *seq, uint8_t hash[32]);
CPM_MUST_CHECK int exchange_feed_cursor_put(cpm_store_t *st, MDB_txn *txn, const char *node,
                                            const char *service, uint64_t seq,
                                            const uint8_t hash[32]);
/* "YYYY-MM" of at_ms in Vietnam's time into out (8 bytes). */
void exchange_feed_month(int64_t at_ms, char out[8]);

/* The feed of x's node (x borrowed: must outlive it). NULL when out of memory. */
exchange_feed_t *exchange_feed_new(const exchange_t *x);
void exchange_feed_destroy(exchange_feed_t **p);
/* The registry changed: the sources are made again at the next tick. */
void exchange_feed_registry_changed(exchange_feed_t *f);
/* Read what the sources have after their cursors and apply it (bounded). */
void exchange_feed_tick(exchange_feed_t *f, cpm_server_t *srv);

#endif
