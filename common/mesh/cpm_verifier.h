/* cpm_verifier: every check a receiver makes on a frame before it trusts it.
 *
 * In order: size, SignedEnvelope layout, Envelope layout, version, sender
 * known, key id known and not revoked, signature, clock skew, message type,
 * recipient, transport identity, authorization, replay. Only then may the
 * caller decode the payload. Each refusal is counted by reason.
 *
 * Nothing is decoded with the general protobuf decoder before the signature
 * has verified: the SignedEnvelope (fields 1 and 2 only) and the Envelope
 * (fields 1 to 11, each once; no unknown field) are read in place, without
 * allocation (cpm_envelope_parse_signed, cpm_envelope_parse_view), so a
 * hostile frame costs one pass over its bytes. Only a verified envelope is
 * then decoded into a Cpm__Envelope. */
#ifndef CPM_VERIFIER_H
#define CPM_VERIFIER_H

#include "cpm_err.h"

#include "cpm_envelope.h"
#include "cpm_registry.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    CPM_V_OK = 0,
    CPM_V_OVERSIZE,           /* frame larger than CPM_MAX_MSG */
    CPM_V_MALFORMED,          /* not a SignedEnvelope / Envelope */
    CPM_V_BAD_VERSION,        /* envelope version is not 1 */
    CPM_V_UNKNOWN_SENDER,     /* sender not in the registry */
    CPM_V_UNKNOWN_KEY,        /* key id is not the sender's key */
    CPM_V_REVOKED_KEY,        /* key id is revoked */
    CPM_V_BAD_SIGNATURE,      /* signature does not verify */
    CPM_V_CLOCK_SKEW,         /* sent_ms too far from our clock */
    CPM_V_UNKNOWN_TYPE,       /* type unknown to this version */
    CPM_V_WRONG_RECIPIENT,    /* meant for another node or service */
    CPM_V_TRANSPORT_MISMATCH, /* CURVE key of the link belongs to another member */
    CPM_V_FORBIDDEN,          /* sender may not send this type to this service */
    CPM_V_REPLAY,             /* (sender, instance, seq) seen before or too old */
    CPM_V_KEY_NOT_VALID_AT,   /* a kept act's own time is outside its key's period (cpm_keyhist) */
    CPM_V_COUNT
} cpm_verdict_t;

/* Stable lowercase name used in counters and logs, e.g. "bad_signature". */
const char *cpm_verdict_name(cpm_verdict_t v);
/* The one place a verdict (a reason) becomes an error code, for replies,
 * ErrorReply.code and callers' results: CPM_OK for CPM_V_OK, CPM_E_TOO_LARGE
 * for an oversize frame, CPM_E_BAD_MESSAGE for one that does not decode, and
 * CPM_E_FORBIDDEN for every other refusal (the sender, key, signature,
 * clock, recipient, rights or sequence is not acceptable). */
CPM_MUST_CHECK int cpm_verdict_code(cpm_verdict_t v);

/* Where a frame arrived, which decides recipient and authorization checks. */
typedef struct {
    const char *self;           /* "<member>/<service>" we are, or NULL to skip */
    const char *service;        /* our service name, for may_send; NULL on clients */
    const char *transport_user; /* member id the CURVE handshake proved, or NULL */
    const char *awaiting_reply; /* msg_id of our request when we expect a reply, "*" for
                                   any reply (cumulative acks), or NULL */
    const char *expect_sender;  /* member id a reply or publication must come from, or NULL */
} cpm_verify_ctx_t;

/* Where an answer to a frame goes: copied from the envelope as soon as its
 * layout has been read, also when the frame is then refused, so that the
 * refusal can be addressed without decoding the frame a second time. Not
 * trusted unless verified: it only labels an answer on the connection the
 * frame came in on. */
typedef struct {
    bool known;    /* the envelope's layout was read */
    bool verified; /* ... and its signature verified */
    char sender[128];
    char sender_instance[CPM_INSTANCE_MAX + 1];
    char msg_id[33];
} cpm_reply_addr_t;

/* A verified message. env is owned; member is borrowed from the registry. */
typedef struct {
    Cpm__Envelope *env;
    const Cpm__Member *member;
    cpm_reply_addr_t addr; /* also filled on a refusal, see above */
    /* The whole signed frame as received (a SignedEnvelope), owned; set by
     * the server only for request types registered with
     * cpm_server_keep_frame (an officer's case action), NULL otherwise. */
    uint8_t *frame;
    size_t frame_len;
} cpm_msg_t;

void cpm_msg_clear(cpm_msg_t *m);

typedef struct cpm_verifier cpm_verifier_t;

/* max_skew_ms: largest accepted |sent_ms - now|. */
CPM_MUST_CHECK cpm_verifier_t *cpm_verifier_new(int64_t max_skew_ms);
void cpm_verifier_destroy(cpm_verifier_t **p);

/* Run every check on frame buf. On CPM_V_OK out holds the message (free with
 * cpm_msg_clear); otherwise out->env is NULL, out->addr says where an answer
 * goes when the envelope could be read, and the reason is counted.
 * Authorization: a request type needs may_send "<type>@<ctx.service>"; a reply
 * type is accepted only when ctx.awaiting_reply equals its correlation_id (or is
 * "*"); a
 * MSG_EVENTS_PUBLISH only from a member that runs sender_instance as a service.
 * When ctx.expect_sender is set the sender must be that member. */
CPM_MUST_CHECK cpm_verdict_t cpm_verifier_check(cpm_verifier_t *v, const cpm_registry_t *reg,
                                                const cpm_verify_ctx_t *ctx, const uint8_t *buf,
                                                size_t len, int64_t now_ms, cpm_msg_t *out);

/* Verification in two steps, so that the costly one can run on other threads
 * (cpm_vpool) while the order-dependent one stays on the loop thread:
 *
 * cpm_verifier_precheck: the stateless checks 1 to 7 (size, layouts, version,
 * sender and key in reg, revocation, the Ed25519 signature). It reads only
 * its arguments and the registry, writes only *out, counts nothing: any
 * number of threads may run it at once on different frames, as long as reg
 * is not reloaded meanwhile. out->member and out->envb borrow from reg and
 * from buf, which must outlive the result.
 *
 * cpm_verifier_finish: the rest on that result (envelope decode, clock skew,
 * type, recipient, transport identity, authorization, replay window) and the
 * counters; run it on one thread, once per prechecked frame, in arrival
 * order. cpm_verifier_check(...) is exactly precheck then finish. */
typedef struct {
    cpm_verdict_t verdict;     /* CPM_V_OK or the first refusal of checks 1 to 7 */
    const Cpm__Member *member; /* the signer, on CPM_V_OK */
    cpm_slice_t envb;          /* the signed envelope's bytes in the frame, on CPM_V_OK */
    cpm_reply_addr_t addr;     /* where an answer goes (see cpm_reply_addr_t) */
} cpm_precheck_t;

void cpm_verifier_precheck(const cpm_registry_t *reg, const uint8_t *buf, size_t len,
                           cpm_precheck_t *out);
/* As cpm_verifier_check, given the precheck of the same frame. */
CPM_MUST_CHECK cpm_verdict_t cpm_verifier_finish(cpm_verifier_t *v, const cpm_precheck_t *pre,
                                                 const cpm_verify_ctx_t *ctx, int64_t now_ms,
                                                 cpm_msg_t *out);

/* The first checks alone, on a signed frame kept to be shown later (an
 * officer's act that its agency's node passes on): size, layout, version,
 * sender in reg, key id the sender's current key and not revoked, and the
 * Ed25519 signature over the exact signed bytes. No clock, recipient, rights
 * or replay check (the frame is old and was addressed to someone else), and
 * nothing is counted. On CPM_V_OK *member is the signer and *envb the signed
 * envelope's bytes. */
CPM_MUST_CHECK cpm_verdict_t cpm_verify_signed(const cpm_registry_t *reg, const uint8_t *buf,
                                               size_t len, cpm_slice_t *envb,
                                               const Cpm__Member **member);

uint64_t cpm_verifier_count(const cpm_verifier_t *v, cpm_verdict_t reason);
/* Principals evicted from the replay table so far (see cpm_replay.h): a
 * member that invents sender instances evicts its own. */
uint64_t cpm_verifier_replay_evicted(const cpm_verifier_t *v);

#endif
