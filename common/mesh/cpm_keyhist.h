/* cpm_keyhist: members' key history, and the verification of signed acts that
 * carry their own time (docs/protocol.md 13.1).
 *
 * The wire (cpm_verifier_check, cpm_verify_signed) accepts only a member's
 * current, unrevoked key. An act kept and shown later (an officer's case
 * action, an inspector's finding) is judged at the time it says it was made:
 * it verifies with the member's current key (until its revocation, when the
 * registry records one), with a past key (Member.past_keys) inside that key's
 * period, and with a
 * revoked key only before the revocation time the registry records (a past
 * key's valid_until_ms, or Member.key_revoked_ms for the current key). A key
 * listed in Registry.revoked_keys with no such time verifies nothing.
 *
 * Everything returned is borrowed from the registry and lives as long as it. */
#ifndef CPM_KEYHIST_H
#define CPM_KEYHIST_H

#include "cpm_err.h"

#include "cpm_envelope.h"
#include "cpm_registry.h"
#include "cpm_verifier.h"

#include <stdbool.h>
#include <stdint.h>

#define CPM_KEYHIST_MAX 16 /* past keys per member */

/* What the key that signed an act was at the act's own time. */
typedef enum {
    CPM_KEY_CURRENT = 0, /* the member's current, unrevoked key */
    CPM_KEY_ROTATED,     /* a past key, valid then, since replaced */
    CPM_KEY_REVOKED,     /* valid then, revoked since: "signed by a now-revoked key" */
} cpm_key_standing_t;

/* Stable lowercase word: "current", "rotated", "revoked". */
const char *cpm_key_standing_name(cpm_key_standing_t s);

/* One of a member's signing keys with the period it signs for: acts whose
 * time t satisfies from_ms <= t < until_ms (until_ms 0: no end). */
typedef struct {
    const uint8_t *pk; /* 32 bytes */
    int64_t from_ms, until_ms;
    bool current; /* Member.sign_pk rather than a past key */
    bool revoked; /* key id in Registry.revoked_keys */
} cpm_member_key_t;

/* The member's key whose key id is key_id: 0 and *out, or -1 when the member
 * has no such key (neither current nor past). */
CPM_MUST_CHECK int cpm_keyhist_find(const cpm_registry_t *reg, const Cpm__Member *m,
                                    const char *key_id, cpm_member_key_t *out);

/* Whether key k may have signed an act made at at_ms: CPM_V_OK with *standing,
 * CPM_V_REVOKED_KEY for a key revoked with no recorded time, or
 * CPM_V_KEY_NOT_VALID_AT when at_ms is outside the key's period. */
CPM_MUST_CHECK cpm_verdict_t cpm_keyhist_check_at(const cpm_member_key_t *k, int64_t at_ms,
                                                  cpm_key_standing_t *standing);

/* The signature of a kept signed frame (a SignedEnvelope) with whichever of
 * its sender's keys its key id names, current or past: size, layout, version,
 * sender in reg, key known, Ed25519 signature. No time, revocation, clock,
 * recipient or replay check: the caller decodes the act's own time from the
 * now-verified payload and calls cpm_keyhist_check_at with *key. On CPM_V_OK
 * *member is the signer, *envb the signed envelope bytes, *view its fields. */
CPM_MUST_CHECK cpm_verdict_t cpm_verify_signed_key(const cpm_registry_t *reg, const uint8_t *buf,
                                                   size_t len, cpm_slice_t *envb,
                                                   cpm_envelope_view_t *view,
                                                   const Cpm__Member **member,
                                                   cpm_member_key_t *key);

/* Both steps for an act whose time the caller already knows (at_ms; 0: the
 * envelope's sent_ms, signed with it). CPM_V_OK with *member and *standing. */
CPM_MUST_CHECK cpm_verdict_t cpm_verify_signed_at(const cpm_registry_t *reg, const uint8_t *buf,
                                                  size_t len, int64_t at_ms,
                                                  const Cpm__Member **member,
                                                  cpm_key_standing_t *standing);

/* A member's key history is well formed: past keys 32 bytes, at most
 * CPM_KEYHIST_MAX, each period non-empty, periods disjoint, each key distinct
 * from the current one and the others, all ended by the time the current key
 * began; key_revoked_ms, when set, not before the current key began and its
 * key id in doc->revoked_keys. 0 or -1 with err naming the member and field. */
CPM_MUST_CHECK int cpm_keyhist_validate(const Cpm__Registry *doc, const Cpm__Member *m, char *err,
                                        size_t errlen);

/* When the member's current key began: the latest end of its past keys, or 0. */
int64_t cpm_keyhist_current_since(const Cpm__Member *m);

#endif
