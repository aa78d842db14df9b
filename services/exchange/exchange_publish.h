/* exchange_publish: records entered by hand (watchlist, product_warnings).
 *
 * An officer or coordinator of this node's own agency publishes, changes
 * (same key, new fields: a new version) or withdraws (remove) a record of a
 * dataset the schema marks by_hand; derived datasets are refused (403). A
 * new record gets the key "<W|P><n>". A resent client_ref returns the first
 * answer (DB "publish_refs", "<sender>\x1f<client_ref>" ->
 * ExchangePublishReply). Each publication is one entry of the proof log
 * (kind "publish", the officer's signed frame) and one event
 * "exchange.published". */
#ifndef EXCHANGE_PUBLISH_H
#define EXCHANGE_PUBLISH_H

#include "cpm_err.h"
#include "exchange_domain.h"
#include "exchange.pb-c.h"

#include <stddef.h>

#define EXCHANGE_PUBLISH_REFS_DB "publish_refs"

typedef struct {
    const char *id;     /* member id */
    const char *agency; /* its agency */
    const char *role;
    const uint8_t *frame; /* the signed request, as received */
    size_t frame_len;
} exchange_sender_t;

/* 0 with *out filled (its key string points into p or a static buffer of
 * the call: copy before the next call), or an error code with err naming
 * the field. */
CPM_MUST_CHECK int exchange_publish(const exchange_t *x, cpm_store_t *st, MDB_txn *txn,
                                    const cpm_effects_t *fx, const exchange_sender_t *who,
                                    const Cpm__ExchangePublish *p, int64_t now_ms,
                                    Cpm__ExchangePublishReply *out, cpm_error_t *err);

#endif
