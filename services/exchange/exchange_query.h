/* exchange_query: another agency's query of this agency's datasets
 * (MSG_EXCHANGE_QUERY), answered under the signed policy.
 *
 * The query is checked (400 naming the field), the policy decides what the
 * requester's agency and role get (cpm_xpolicy_decide), the dataset is read
 * in key order from `after` (at most EXCHANGE_QUERY_SCAN records read and
 * `max` returned per request, the answer kept under the reply size limit;
 * next_after when more may match), filtered (business as cpm_bizname
 * matches it, with the why line in DataRecord.match; tax code comparing its
 * digits; area; period on the dataset's date field) and redacted. The answer
 * is an ExchangeAnswer signed by this node (a MSG_EXCHANGE_ANSWER_SIGNED
 * envelope to "<requester>/<instance>", correlation = the request's msg_id)
 * and bound to SHA-256 of the request frame as received. A policy refusal is
 * such a signed answer too (refused_code 403, refused_field, refusal), not
 * an error. Either way one "query" entry goes into the proof log (request =
 * the signed request frame, response = the signed answer) and one event
 * "exchange.query", in the caller's transaction. docs/protocol.md 19.2-19.3. */
#ifndef EXCHANGE_QUERY_H
#define EXCHANGE_QUERY_H

#include "cpm_envelope.h"
#include "cpm_err.h"
#include "exchange_domain.h"
#include "exchange_publish.h"
#include "exchange.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define EXCHANGE_QUERY_SCAN 20000                /* records read per request at most */
#define EXCHANGE_QUERY_MAX 500                   /* records returned per request at most */
#define EXCHANGE_QUERY_DEFAULT 100               /* when max is 0 */
#define EXCHANGE_QUERY_TEXT_MAX 256              /* bytes of business, purpose */
#define EXCHANGE_QUERY_ANSWER_BYTES (100u << 10) /* records of one answer, packed */

typedef struct {
    exchange_sender_t who; /* requester: id, agency, role, signed frame */
    const char *instance;  /* the request's sender_instance */
    const char *msg_id;    /* the request's msg_id */
} exchange_query_req_t;

/* Answer q. 0 with *answer (malloc'd signed answer frame; the caller frees)
 * also for a policy refusal, or an error code with err naming the field (bad
 * query; store errors). signer signs as this node. */
CPM_MUST_CHECK int exchange_query(const exchange_t *x, const Cpm__ExchangePolicy *policy,
                                  cpm_sender_t *signer, cpm_store_t *st, MDB_txn *txn,
                                  const cpm_effects_t *fx, const exchange_query_req_t *req,
                                  const Cpm__ExchangeQuery *q, int64_t now_ms, uint8_t **answer,
                                  size_t *answer_len, cpm_error_t *err);

/* Does record value v of a field of type month ("YYYY-MM") or time (ms)
 * fall in [from_ms, to_ms] (0 = open)? A month matches when its range in
 * Vietnam's time overlaps the period. Empty or unreadable: no. */
bool exchange_query_in_period(const char *v, bool month, int64_t from_ms, int64_t to_ms);

#endif
