/* cpm_seal: the consumer's contact, sealed at intake to the transport key of
 * the agency that will handle the case, so that no node on the way (routing,
 * dead letters, backups) ever holds it in clear.
 *
 * A sealed contact is libsodium's crypto_box_seal (or format v2, below) (X25519, XSalsa20-Poly1305,
 * an ephemeral sender key per seal) of a serialized ContactCard, to the
 * recipient member's curve_pk from the registry: the same X25519 key its
 * services use for ZeroMQ CURVE, whose secret only that node holds. The card
 * names its ticket, so a sealed contact copied onto another case is refused
 * when opened. Wire format: docs/protocol.md, "Sealed contact". */
#ifndef CPM_SEAL_H
#define CPM_SEAL_H

#include "cpm_err.h"

#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest sealed contact accepted (a card is well under 1 KiB). */
#define CPM_SEAL_MAX 4096

/* true when the card holds any contact at all. */
bool cpm_seal_card_empty(const Cpm__ContactCard *card);

/* Seal card to curve_pk. *out is malloc'd (caller frees), *len its size.
 * 0; CPM_E_TOO_LARGE for a card over CPM_SEAL_MAX; CPM_E_INVALID for a key
 * libsodium refuses; CPM_E_INTERNAL on allocation failure. The clear
 * serialization is wiped before return. */
CPM_MUST_CHECK int cpm_seal_contact(const Cpm__ContactCard *card, const uint8_t curve_pk[32],
                                    uint8_t **out, size_t *len);

/* A sealer for a busy intake (issue 13): crypto_box_seal costs two X25519
 * operations per contact (an ephemeral key pair and a key agreement, ~75 us
 * here), more than everything else intake does per complaint. A sealer keeps
 * one ephemeral key pair per recipient key, with the shared key computed
 * once (crypto_box_beforenm), for at most CPM_SEALER_USES seals or
 * CPM_SEALER_MS milliseconds, whichever comes first; then it is wiped and a
 * new one drawn. Each seal has its own random 24-byte nonce
 * (crypto_box_easy_afternm), taken from a pool the sealer draws from the
 * system 64 at a time, each used once. After fork() the child's copy of a
 * sealer forgets its parent's ephemeral keys and unused nonces (a
 * pthread_atfork handler, checked by the next seal or sweep), so parent and
 * child never seal with the same key and nonce; the parent keeps its own.
 * Format "v2": 0x02 || epk (32) || nonce (24) ||
 * MAC (16) || ciphertext; docs/protocol.md "Sealed contact". cpm_seal_open
 * opens both formats. Not thread-safe: one sealer per thread. */
#define CPM_SEALER_USES 64
#define CPM_SEALER_MS 1000
#define CPM_SEAL_V2 0x02
#define CPM_SEAL_V2_OVERHEAD (1 + 32 + 24 + 16)
typedef struct cpm_sealer cpm_sealer_t;
CPM_MUST_CHECK cpm_sealer_t *cpm_sealer_new(void);
/* Wipes every ephemeral secret. */
void cpm_sealer_destroy(cpm_sealer_t **p);
/* Wipe every key past its seals or its time (also done by each seal): call
 * it from a tick so that an idle recipient's key does not stay in memory.
 * Returns how many were wiped. */
size_t cpm_sealer_sweep(cpm_sealer_t *s, int64_t now_ms);
/* As cpm_seal_contact, in format v2; now_ms: a monotonic clock. */
CPM_MUST_CHECK int cpm_sealer_seal(cpm_sealer_t *s, const Cpm__ContactCard *card,
                                   const uint8_t curve_pk[32], int64_t now_ms, uint8_t **out,
                                   size_t *len);

/* Open a sealed contact with the recipient's key pair and check that it
 * belongs to ticket. The card (free with cpm__contact_card__free_unpacked),
 * or NULL with *rc: CPM_E_INVALID (not sealed to this key, tampered, or not a
 * ContactCard), CPM_E_CONFLICT (a card of another ticket), CPM_E_TOO_LARGE. */
Cpm__ContactCard *cpm_seal_open(const uint8_t *sealed, size_t len, const uint8_t curve_pk[32],
                                const uint8_t curve_sk[32], const char *ticket, int *rc);

#endif
