/* cpm_xanswer: checking a signed exchange answer (docs/protocol.md 19.3).
 *
 * An answer is a SignedEnvelope of type MSG_EXCHANGE_ANSWER_SIGNED whose
 * payload is an ExchangeAnswer. A requester accepts it only when it verifies
 * against the registry (the signer's current key, not revoked, Ed25519 over
 * the exact envelope bytes), the signer is the agency asked, the envelope is
 * addressed to the requester's "<member>/<instance>" with the request's
 * msg_id as correlation, and the answer names the same request: its
 * request_hash is SHA-256 of the request frame the requester sent, its
 * request_id that msg_id, requester and publisher the two members. Anything
 * else is refused: a forged or altered answer, or one made for another
 * request (replayed). Pure: no sockets, no clock. */
#ifndef CPM_XANSWER_H
#define CPM_XANSWER_H

#include "cpm_err.h"
#include "cpm_registry.h"
#include "exchange.pb-c.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *publisher;       /* member id of the agency asked */
    const char *requester;       /* our member id */
    const char *self;            /* "<requester>/<instance>": where answers are addressed */
    const char *msg_id;          /* our request's msg_id */
    const uint8_t *request_hash; /* 32 bytes: SHA-256 of the signed request frame we sent */
} cpm_xanswer_expect_t;

/* 0 with *out (free with cpm__exchange_answer__free_unpacked), or
 * CPM_E_FORBIDDEN (field "signature": does not verify or another signer;
 * field "binding": not an answer to this request) / CPM_E_BAD_MESSAGE, with
 * err saying what is wrong in one sentence. */
CPM_MUST_CHECK int cpm_xanswer_verify(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                                      const cpm_xanswer_expect_t *x, Cpm__ExchangeAnswer **out,
                                      cpm_error_t *err);

#endif
