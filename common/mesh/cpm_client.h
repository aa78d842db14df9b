/* cpm_client: signed request/reply with members' services over CURVE.
 *
 * One client holds one link (a DEALER socket and a handshake monitor) per
 * peer "<member>/<service>" it talks to, so several requests may be in
 * flight to several peers at once, each awaited with its own timeout
 * (cpm_client_send, then cpm_client_recv per peer). Every reply is checked by
 * the client's verifier: signed by the member the request went to, a reply
 * to a request of ours, not a replay. A refused CURVE handshake is reported
 * at once (CPM_E_FORBIDDEN) rather than as a timeout.
 *
 * Ownership: the client borrows zctx, reg and id (they must outlive it; the
 * registry may be swapped with cpm_client_set_registry between calls). Replies
 * are the caller's: free them with cpm_msg_clear. Every function returns 0 or
 * a cpm_err_t code with err filled (err may be NULL). Not thread-safe: one
 * thread per client. */
#ifndef CPM_CLIENT_H
#define CPM_CLIENT_H

#include "cpm_envelope.h"
#include "cpm_err.h"
#include "cpm_keys.h"
#include "cpm_receipt.h"
#include "cpm_registry.h"
#include "cpm_verifier.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cpm_client cpm_client_t;

/* instance names this process in "<id>/<instance>" (NULL: a fresh
 * "cli.<pid>.<random>", so that a restarted client is never taken for a
 * replay of an earlier one). */
CPM_MUST_CHECK int cpm_client_new(cpm_client_t **out, void *zctx, const cpm_registry_t *reg,
                                  const cpm_identity_t *id, const char *instance, cpm_error_t *err);
/* Closes every link; sets *p to NULL. */
void cpm_client_destroy(cpm_client_t **p);
/* "<member id>/<instance>": the address replies are sent to. */
const char *cpm_client_self(const cpm_client_t *c);
/* Replies refused so far: failed verification, or answered no pending
 * request of ours. */
uint64_t cpm_client_refused(const cpm_client_t *c);
/* The registry used from the next call on (borrowed). */
void cpm_client_set_registry(cpm_client_t *c, const cpm_registry_t *reg);

/* Sign req (type; NULL for an empty payload) and send it to member's
 * service, linking to it on first use. msg_id gets the request's id, which
 * its reply carries as correlation id. */
CPM_MUST_CHECK int cpm_client_send(cpm_client_t *c, const char *member, const char *service,
                                   Cpm__MsgType type, const ProtobufCMessage *req, char msg_id[33],
                                   cpm_error_t *err);
/* SHA-256 of the last signed frame sent on the link to member/service (what
 * a reply that is bound to its request's hash must name). 0, or
 * CPM_E_NOT_FOUND when nothing was sent on that link. */
CPM_MUST_CHECK int cpm_client_sent_hash(cpm_client_t *c, const char *member, const char *service,
                                        uint8_t out[32]);
/* Wait up to timeout_ms for the next verified reply on the link to
 * member/service. Its correlation id is one of ours (any request sent on the
 * link and not answered yet; replies to none are dropped and counted, see
 * cpm_client_refused; the caller matches it). An ErrorReply is returned as a reply: see
 * cpm_client_reply_error. A forged, unsolicited or replayed reply is
 * refused (CPM_E_FORBIDDEN, field "reply"). */
CPM_MUST_CHECK int cpm_client_recv(cpm_client_t *c, const char *member, const char *service,
                                   int timeout_ms, cpm_msg_t *reply, cpm_error_t *err);
/* Send n complaints (1..CPM_SUBMIT_BATCH_MAX) to member's intake as one
 * signed MSG_SUBMIT_BATCH (docs/protocol.md "Group receipts"). msg_id gets
 * the request's id; item_hashes (n x 32 bytes, may be NULL) the SHA-256 of
 * each item's bytes as sent, which its receipt leaf names. */
CPM_MUST_CHECK int cpm_client_send_batch(cpm_client_t *c, const char *member,
                                         const Cpm__Complaint *const *items, size_t n,
                                         char msg_id[33], uint8_t (*item_hashes)[32],
                                         cpm_error_t *err);
/* Wait up to timeout_ms for the next answer on the link, of either kind: a
 * classic reply (*reply set as cpm_client_recv does, *receipt NULL), or a
 * group receipt (*receipt set, reply->env NULL): its signature verified once,
 * every proof checked against its root, every item for a batch request of
 * ours that it answers whole (a batch is answered by one receipt, never
 * split). Free with cpm_receipt_destroy.
 * A receipt holding an item for a request we do not (or no longer) await
 * is refused WHOLE, though its other items answer batches still pending:
 * counted in cpm_client_refused, and the wait goes on. The safer choice: a
 * receipt returned is then always "every item ours", which callers that
 * count items rely on, and the batches it answered are resent on the
 * caller's timeout, which intake takes as duplicates (idempotent by
 * client_ref), so nothing is lost. A service that never sends such frames
 * (a batch's request is forgotten only after CLIENT_PENDING = 1024 later
 * requests on the link) costs nothing. */
CPM_MUST_CHECK int cpm_client_recv_any(cpm_client_t *c, const char *member, const char *service,
                                       int timeout_ms, cpm_msg_t *reply, cpm_receipt_t **receipt,
                                       cpm_error_t *err);
/* If reply is an ErrorReply, fill err and return its code; else 0. */
CPM_MUST_CHECK int cpm_client_reply_error(const cpm_msg_t *reply, cpm_error_t *err);

/* Send and wait for the answer to this request (late answers to earlier
 * requests are dropped). 0 with *reply (not an ErrorReply), or an error:
 * the service's ErrorReply code, CPM_E_TIMEOUT, a refused reply. On any
 * error the link is dropped, so a later call never reads a stale answer. */
CPM_MUST_CHECK int cpm_client_call(cpm_client_t *c, const char *member, const char *service,
                                   Cpm__MsgType type, const ProtobufCMessage *req, int timeout_ms,
                                   cpm_msg_t *reply, cpm_error_t *err);
/* cpm_client_call, repeated up to attempts times while the error is
 * retryable (cpm_err_retryable: a timeout, a full store, ...). The same
 * payload is resent, so a client reference in it makes the retry idempotent
 * at the service. */
CPM_MUST_CHECK int cpm_client_call_retry(cpm_client_t *c, const char *member, const char *service,
                                         Cpm__MsgType type, const ProtobufCMessage *req,
                                         int timeout_ms, int attempts, cpm_msg_t *reply,
                                         cpm_error_t *err);

#endif
