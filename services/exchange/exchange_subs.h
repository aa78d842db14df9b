/* exchange_subs: subscriptions of other agencies to this agency's datasets,
 * kept and fed by the publisher's exchange.
 *
 * MSG_EXCHANGE_SUBSCRIBE: the requester's agency (its registry entry's
 * agency) must be a member that runs an exchange, and the policy in force
 * must allow that agency and role to subscribe to the dataset (a rule with
 * subscribe: true); a refusal names the dataset or field (403), is counted
 * (exchange.subscribe_refused) and logged. DB "subs", key
 * "<dataset>\x1f<subscriber agency>" -> Subscription (proto/exchange.proto)
 * with the filters and a cursor: the last records_seq delivered or passed
 * over. from_start: cursor 0, else the dataset's head now. The same
 * subscription again: duplicate, filters replaced, cursor kept. cancel:
 * removed. At most EXCHANGE_SUBS_MAX per dataset. Each accepted request is
 * one proof-log entry (kind "subscribe") and one event "exchange.subscribed".
 *
 * Delivery (exchange_subs_tick, in one write transaction): per
 * subscription, the records after its cursor in seq order (at most
 * EXCHANGE_SUBS_STEP), those its filters do not match passed over, each
 * other one decided again under the policy in force, redacted to the fields
 * it shares and queued as an ExchangeDelivery to "<subscriber>/exchange"
 * (stream MSG_EXCHANGE_BATCH) with a "delivery" log entry; the cursor moves
 * in the same transaction, so a record is queued exactly once and the
 * library's outbox and inbox carry it exactly once. A policy that no longer
 * allows the subscription suspends it (nothing delivered, cursor kept,
 * exchange.subscription_suspended counted and logged once); a policy that
 * allows it again resumes it where it stopped. */
#ifndef EXCHANGE_SUBS_H
#define EXCHANGE_SUBS_H

#include "cpm_err.h"
#include "exchange_domain.h"
#include "exchange_publish.h"
#include "exchange.pb-c.h"

#include <stdbool.h>
#include <stddef.h>

#define EXCHANGE_SUBS_DB "subs"
#define EXCHANGE_SUBS_MAX 64   /* subscriptions per dataset */
#define EXCHANGE_SUBS_STEP 256 /* records looked at per subscription per tick */

/* The reply and the storage its strings point into. */
typedef struct {
    Cpm__ExchangeSubscribeReply r;
    char id[200];
    char withheld[640];
    char *withheld_v[64];
} exchange_sub_reply_t;

/* Subscribe, change or cancel (see above). policy: the policy in force (NULL:
 * none, so every other agency is refused). 0 with out filled, or an error
 * code with err naming the field. */
CPM_MUST_CHECK int exchange_subscribe(const exchange_t *x, const Cpm__ExchangePolicy *policy,
                                      cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                                      const exchange_sender_t *who, const Cpm__ExchangeSubscribe *s,
                                      int64_t now_ms, exchange_sub_reply_t *out, cpm_error_t *err);

typedef struct {
    size_t delivered; /* records queued */
    size_t passed;    /* records the filters did not match */
    size_t suspended; /* subscriptions suspended now */
    size_t resumed;   /* subscriptions resumed now */
} exchange_subs_stats_t;

/* Has any subscription something to do (records after its cursor that its
 * policy allows, or a change of suspension)? Read-only: lets the caller
 * skip the write transaction when nothing is due. */
bool exchange_subs_due(const exchange_t *x, const Cpm__ExchangePolicy *policy, cpm_store_t *st,
                       MDB_txn *txn);
/* One step of delivery for every subscription, inside txn. 0 or a store
 * error (then nothing of the step stays: the caller aborts txn). */
CPM_MUST_CHECK int exchange_subs_tick(const exchange_t *x, const Cpm__ExchangePolicy *policy,
                                      cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                                      int64_t now_ms, exchange_subs_stats_t *stats);

#endif
