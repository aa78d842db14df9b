/* intake_consumer: the consumer key, which links one consumer's complaints
 * without the contact itself (docs/protocol.md "Duplicates").
 *
 * Complaint.consumer_key = BLAKE2b-256 keyed with the deployment's 32-byte
 * secret (intake config consumer_key_file, the same file at every intake
 * node) over "p:" + the normalised phone, else "e:" + the lower-cased email.
 * Phone: digits only; the Vietnamese country code (+84, 0084, 84 before a
 * 9-10 digit national number) becomes the leading 0, so "+84 912 345 678",
 * "0912.345.678" and "84912345678" are one consumer. No store, no sockets. */
#ifndef INTAKE_CONSUMER_H
#define INTAKE_CONSUMER_H

#include "cpm_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTAKE_CONSUMER_KEY_LEN 32

/* Read the secret from path: a regular file of exactly 32 bytes, owned by
 * this user, readable by no one else (mode 0600 or stricter). 0, or
 * CPM_E_INVALID with err naming consumer_key_file and what is wrong. */
int intake_consumer_secret_load(const char *path, uint8_t secret[32], cpm_error_t *err);

/* The phone in its normal form ("0912345678") into out; false when it has
 * no digit (or does not fit). */
bool intake_phone_normalise(const char *phone, char *out, size_t n);

/* out = the consumer key of (phone, email) under secret; false when neither
 * gives one (no contact: nothing to link by). Each thread keeps the BLAKE2b
 * state keyed with the last secret it was given (used again only for the
 * same 32 bytes) in guarded memory (sodium_malloc: locked, not dumped),
 * wiped at the thread's end or by intake_consumer_forget. */
bool intake_consumer_key(const uint8_t secret[32], const char *phone, const char *email,
                         uint8_t out[INTAKE_CONSUMER_KEY_LEN]);

/* Wipe and free the calling thread's keyed state now: safe on any thread,
 * any number of times; the next key keys a state again. */
void intake_consumer_forget(void);
/* true while the calling thread keeps a keyed state. */
bool intake_consumer_keeps(void);

#endif
