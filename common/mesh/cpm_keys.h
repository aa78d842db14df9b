/* cpm_keys: a member's identity: an Ed25519 signing key pair and a Curve25519
 * transport key pair (ZeroMQ CURVE), and their files on disk.
 *
 * Files (JSON, keys in lowercase hex):
 *   <dir>/<id>.secret  mode 0600: {"id","key_id","sign_pk","sign_sk","curve_pk","curve_sk"}
 *   <dir>/<id>.public  mode 0644: {"id","key_id","sign_pk","curve_pk"}
 * sign_sk is libsodium's 64-byte form (seed || public key). Loading a secret file
 * that group or others may read is refused, as ssh does. */
#ifndef CPM_KEYS_H
#define CPM_KEYS_H

#include "cpm_err.h"

#include <stddef.h>
#include <stdint.h>

#define CPM_KEY_ID_LEN 16 /* hex chars */

typedef struct {
    char id[128];                    /* member id, e.g. "hn.d.hoan-kiem" */
    char key_id[CPM_KEY_ID_LEN + 1]; /* see cpm_key_id */
    uint8_t sign_pk[32];
    uint8_t sign_sk[64];
    uint8_t curve_pk[32];
    uint8_t curve_sk[32];
} cpm_identity_t;

typedef struct {
    char id[128];
    char key_id[CPM_KEY_ID_LEN + 1];
    uint8_t sign_pk[32];
    uint8_t curve_pk[32];
} cpm_public_t;

/* key id = lowercase hex of the first 8 bytes of SHA-256(sign_pk). */
void cpm_key_id(const uint8_t sign_pk[32], char out[CPM_KEY_ID_LEN + 1]);

/* Fresh random keys for member_id. 0 or -1. */
CPM_MUST_CHECK int cpm_identity_generate(cpm_identity_t *id, const char *member_id);
/* Keys from a 32-byte seed (test vectors only): the Ed25519 key from the seed,
 * the Curve25519 secret = SHA-256("CPMESH-CURVE-SEED\0" || seed). 0 or -1. */
CPM_MUST_CHECK int cpm_identity_from_seed(cpm_identity_t *id, const char *member_id,
                                          const uint8_t seed[32]);
/* Write <dir>/<id>.secret (0600) and <dir>/<id>.public (0644); creates dir (0700).
 * Refuses to overwrite an existing secret unless force. 0, or an error code
 * with err (may be NULL; field "key") saying why: CPM_E_INVALID (unsafe
 * member id, path too long), CPM_E_CONFLICT (the secret exists),
 * CPM_E_INTERNAL (the folder or a file cannot be written). */
CPM_MUST_CHECK int cpm_identity_save(const cpm_identity_t *id, const char *dir, int force,
                                     cpm_error_t *err);
/* Load a .secret file. 0, or CPM_E_NOT_FOUND (no such file) or CPM_E_INVALID
 * (bad mode, bad hex, keys that do not match each other, ...) with err (may be
 * NULL; field "key") saying why in one sentence. */
CPM_MUST_CHECK int cpm_identity_load(cpm_identity_t *id, const char *secret_path, cpm_error_t *err);
/* Load a .public file. 0 or an error code, as cpm_identity_load. */
CPM_MUST_CHECK int cpm_public_load(cpm_public_t *pub, const char *public_path, cpm_error_t *err);
/* Wipe secrets with sodium_memzero. */
void cpm_identity_wipe(cpm_identity_t *id);

#endif
