/* cpm_grant: a person's web grant, which lets one gateway act for them for a
 * while (docs/protocol.md section 23).
 *
 * A grant is a SignedEnvelope of type MSG_WEB_GRANT signed with the person's
 * own member key: sender = the member, sender_instance "web.grant",
 * recipient "<gateway>/gateway", payload a WebGrant {member, gateway, nonce,
 * issued_ms, not_after_ms}. The envelope's signature domain (section 5)
 * and its type keep it apart from every other signed message: no request is
 * of type MSG_WEB_GRANT, and a grant is never accepted as a request.
 *
 * The gateway checks a grant at login (cpm_grant_verify with its own member
 * id, plus the nonce: cpm_grant_nonces); routing checks it again on each
 * query that carries it in on_behalf, with the sender of that query as the
 * gateway. Both take the signer's key from their own registry, so a grant
 * dies with a revoked or rotated key. */
#ifndef CPM_GRANT_H
#define CPM_GRANT_H

#include "cpm_err.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_server.h"

#include <stddef.h>
#include <stdint.h>

#define CPM_GRANT_INSTANCE "web.grant"
#define CPM_GRANT_MAX_MS (12LL * 3600 * 1000) /* longest not_after_ms - issued_ms */
#define CPM_GRANT_SKEW_MS (5LL * 60 * 1000)   /* issued_ms may be this far ahead of our clock */
#define CPM_GRANT_NONCE 16
#define CPM_GRANT_FRAME_MAX 2048 /* a grant is a few hundred bytes */
#define CPM_GRANT_TOKEN_MAX 2800 /* its base64url text */

/* What a verified grant says (strings copied). */
typedef struct {
    char member[128];
    char gateway[128];
    char role[64];    /* the member's role in the registry that verified it */
    char agency[128]; /* its agency */
    uint8_t nonce[CPM_GRANT_NONCE];
    int64_t issued_ms, not_after_ms;
} cpm_grant_t;

/* Sign a grant for gateway, valid from now_ms for valid_ms (1 ms .. 12 h),
 * with id's key. *out is malloc'd (the caller frees it). 0 or an error code
 * with err naming the field. */
CPM_MUST_CHECK int cpm_grant_sign(const cpm_identity_t *id, const char *gateway, int64_t now_ms,
                                  int64_t valid_ms, uint8_t **out, size_t *out_len,
                                  cpm_error_t *err);

/* Check frame as a grant for gateway at now_ms against reg: signed by the
 * member's current key (not revoked), type MSG_WEB_GRANT, instance and
 * recipient as above, gateway a member of role "gateway" in reg, payload
 * member = the signer, gateway = gateway, 0 < issued_ms < not_after_ms,
 * now - CPM_GRANT_MAX_MS <= issued_ms <= now + CPM_GRANT_SKEW_MS, not_after_ms
 * <= now + CPM_GRANT_MAX_MS + CPM_GRANT_SKEW_MS (all checked before any
 * subtraction: no overflow), not_after_ms - issued_ms <= CPM_GRANT_MAX_MS,
 * now_ms < not_after_ms. 0 and *out, or
 * CPM_E_FORBIDDEN with err saying which check failed (field "on_behalf"),
 * CPM_E_BAD_MESSAGE for a frame that does not decode. The nonce is NOT
 * checked here (see cpm_grant_nonces). */
CPM_MUST_CHECK int cpm_grant_verify(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                                    const char *gateway, int64_t now_ms, cpm_grant_t *out,
                                    cpm_error_t *err);

/* The member a request speaks for (services answering for a gateway): the
 * sender, or, when on_behalf is set, the member of a grant that passes
 * cpm_grant_verify with the sender as its gateway and who may itself send
 * type_name@service (the registry's may_send). NULL with err (field
 * "on_behalf" or "sender") otherwise; a refused grant is counted
 * ("grant.refused") and logged. */
const Cpm__Member *cpm_grant_asker(cpm_server_t *srv, const cpm_msg_t *m,
                                   const ProtobufCBinaryData *on_behalf, const char *type_name,
                                   const char *service, cpm_error_t *err);

/* Token text: base64url without padding of the frame, and back. */
CPM_MUST_CHECK int cpm_grant_token(const uint8_t *frame, size_t len, char *out, size_t cap);
/* The frame of a token: 0 and *out (malloc'd), or -1 (not base64url, or
 * longer than CPM_GRANT_FRAME_MAX). */
CPM_MUST_CHECK int cpm_grant_untoken(const char *token, uint8_t **out, size_t *out_len);

/* Nonces seen, each kept until min(its grant's not_after_ms, use +
 * CPM_GRANT_MAX_MS) (at most cap of them, and at most per_member of one
 * member's; when full, a new grant is refused rather than an old nonce
 * forgotten, which would let it be replayed). Not thread-safe: its owner
 * locks. */
typedef struct cpm_grant_nonces cpm_grant_nonces_t;
CPM_MUST_CHECK cpm_grant_nonces_t *cpm_grant_nonces_new(size_t cap, size_t per_member);
void cpm_grant_nonces_destroy(cpm_grant_nonces_t **p);
/* 0: first sight, now remembered; CPM_E_CONFLICT: seen before;
 * CPM_E_FORBIDDEN: g's member has per_member live nonces already;
 * CPM_E_UNAVAILABLE: the table is full of live nonces. */
CPM_MUST_CHECK int cpm_grant_nonce_use(cpm_grant_nonces_t *n, const cpm_grant_t *g, int64_t now_ms);

#endif
