/* cpm_seal: the consumer's contact, sealed at intake to the transport key of
 * the agency that will handle the case, so that no node on the way (routing,
 * dead letters, backups) ever holds it in clear.
 *
 * A sealed contact is libsodium's crypto_box_seal (X25519, XSalsa20-Poly1305,
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

/* Open a sealed contact with the recipient's key pair and check that it
 * belongs to ticket. The card (free with cpm__contact_card__free_unpacked),
 * or NULL with *rc: CPM_E_INVALID (not sealed to this key, tampered, or not a
 * ContactCard), CPM_E_CONFLICT (a card of another ticket), CPM_E_TOO_LARGE. */
Cpm__ContactCard *cpm_seal_open(const uint8_t *sealed, size_t len, const uint8_t curve_pk[32],
                                const uint8_t curve_sk[32], const char *ticket, int *rc);

#endif
