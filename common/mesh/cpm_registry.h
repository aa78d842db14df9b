/* cpm_registry: the mesh's membership, signed by the city's root key.
 *
 * A SignedRegistry (see proto/cpmesh.proto) holds a serialized Registry and an
 * Ed25519 signature by the root key over "CPMESH-REGISTRY-V1\0" || bytes. A
 * cpm_registry_t is a verified, read-only registry; members returned by the
 * lookups are borrowed and live as long as the registry. */
#ifndef CPM_REGISTRY_H
#define CPM_REGISTRY_H

#include "cpm_err.h"

#include "cpm_keys.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_REGISTRY_DOMAIN "CPMESH-REGISTRY-V1"
#define CPM_REGISTRY_MAX (8u << 20)

typedef struct cpm_registry cpm_registry_t;

/* Verify and parse signed bytes. NULL with a sentence in err on a bad
 * signature, bad encoding or an invalid registry (see cpm_registry_validate). */
CPM_MUST_CHECK cpm_registry_t *cpm_registry_from_signed(const uint8_t *buf, size_t len,
                                                        const uint8_t root_pk[32], char *err,
                                                        size_t errlen);
/* The same from a file: 0 and *out, or an error code (CPM_E_NOT_FOUND: no
 * such file; CPM_E_INVALID: unreadable, bad signature or refused document)
 * with *out NULL and err (may be NULL; field "registry") saying why. */
CPM_MUST_CHECK int cpm_registry_load(const char *path, const uint8_t root_pk[32],
                                     cpm_registry_t **out, cpm_error_t *err);
void cpm_registry_destroy(cpm_registry_t **p);

uint64_t cpm_registry_version(const cpm_registry_t *r);
const Cpm__Registry *cpm_registry_doc(const cpm_registry_t *r);
const Cpm__Member *cpm_registry_member(const cpm_registry_t *r, const char *id);
const Cpm__Member *cpm_registry_member_by_curve(const cpm_registry_t *r, const uint8_t pk[32]);
/* The first member (in registry order) that runs service, or NULL. */
const Cpm__Member *cpm_registry_find_service(const cpm_registry_t *r, const char *service);
/* The area office (role "area") whose area is slug, or NULL. */
const Cpm__Member *cpm_registry_area_office(const cpm_registry_t *r, const char *slug);
CPM_MUST_CHECK bool cpm_registry_key_revoked(const cpm_registry_t *r, const char *key_id);

/* The member's endpoint entry for a service name, or NULL. */
const Cpm__ServiceEndpoint *cpm_member_service(const Cpm__Member *m, const char *service);
/* key id of the member's signing key (see cpm_key_id). */
void cpm_member_key_id(const Cpm__Member *m, char out[CPM_KEY_ID_LEN + 1]);
/* true when one of m->may_send matches "<type_name>@<service>"; either side of
 * a rule may be "*". */
CPM_MUST_CHECK bool cpm_member_may_send(const Cpm__Member *m, const char *type_name,
                                        const char *service);

/* Checks a registry document: ids unique and non-empty, keys 32 bytes, curve
 * keys unique, ticket prefixes unique, endpoints present for every service,
 * may_send rules well formed, version > 0. 0 or -1 with err naming the member
 * and field. */
CPM_MUST_CHECK int cpm_registry_validate(const Cpm__Registry *doc, char *err, size_t errlen);

/* Serialize and sign doc with the root secret key; *out is malloc'd. 0 or -1. */
CPM_MUST_CHECK int cpm_registry_sign(const Cpm__Registry *doc, const uint8_t root_sk[64],
                                     uint8_t **out, size_t *out_len);

/* Build a registry document from its YAML source (format in docs/protocol.md,
 * "Registry source"). Each member names public_key: a .public file, relative to
 * the YAML file's folder. Free with cpm__registry__free_unpacked(doc, NULL).
 * 0 or -1 with err naming the line or member and field. */
CPM_MUST_CHECK int cpm_registry_from_yaml(const char *yaml_path, Cpm__Registry **out, char *err,
                                          size_t errlen);

#endif
