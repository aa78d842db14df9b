/* gw_clients: the Open311 client applications the city admits, from a signed
 * document (docs/open311.md "API keys").
 *
 * The file (`gateway_clients:` in the gateway's config) is JSON:
 *
 *   {"doc": "<the document, a JSON text, as a string>",
 *    "signer": "hn.doit", "signature": "<128 hex: Ed25519>"}
 *
 * signed by signer's current key (a registry member of role city, not
 * revoked) or by the root key (signer "root") over
 * "CPMESH-GWCLIENTS-V1\0" || doc (cpm_docsig). The document:
 *
 *   {"version": 3, "clients": [{"id": "demo-app", "name": "Demo app",
 *     "key_sha256": "<64 hex of SHA-256 of the API key>", "channel": "web", "rate_per_min": 60}]}
 *
 * rate_per_min (optional, 1..100000) is how many requests the application
 * may POST a minute (burst the same); absent: the gateway's default (60).
 *
 * API keys themselves are never stored: `cpmctl gateway apikey new` shows a
 * key once and writes only its hash into the list. No sockets, no store;
 * not thread-safe (gw_open311 calls it under its lock). */
#ifndef GW_CLIENTS_H
#define GW_CLIENTS_H

#include "cpm_err.h"
#include "cpm_registry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_CLIENTS_DOMAIN "CPMESH-GWCLIENTS-V1"
#define GW_CLIENTS_MAX 1024           /* applications in one list */
#define GW_CLIENTS_FILE_MAX (1 << 20) /* bytes of the signed file */
#define GW_CLIENT_ID_MAX 64           /* [a-z0-9._-], 1..64 */

typedef struct gw_clients gw_clients_t;

typedef struct {
    char id[GW_CLIENT_ID_MAX + 1];
    char name[201];
    char channel[8];       /* web | app */
    uint32_t rate_per_min; /* POSTs a minute (and at once); 0: the gateway's default */
} gw_client_t;

/* Verify and parse a signed list (buf, len bytes) against reg and root_pk.
 * 0 and *out, or CPM_E_FORBIDDEN (field "signature" or "signer") for a list
 * not signed by the city or the root, CPM_E_INVALID naming the field
 * ("clients[2].key_sha256") for a malformed one. */
CPM_MUST_CHECK int gw_clients_parse(const uint8_t *buf, size_t len, const cpm_registry_t *reg,
                                    const uint8_t root_pk[32], gw_clients_t **out,
                                    cpm_error_t *err);
/* gw_clients_parse of a file (CPM_E_NOT_FOUND when it cannot be read). */
CPM_MUST_CHECK int gw_clients_load(const char *path, const cpm_registry_t *reg,
                                   const uint8_t root_pk[32], gw_clients_t **out, cpm_error_t *err);
void gw_clients_destroy(gw_clients_t **p);

uint64_t gw_clients_version(const gw_clients_t *c);
size_t gw_clients_count(const gw_clients_t *c);
/* The application whose key is api_key (compared by its SHA-256, in
 * constant time): true and *out filled, else false. */
bool gw_clients_check(const gw_clients_t *c, const char *api_key, gw_client_t *out);

/* The lowercase hex SHA-256 of key (what key_sha256 holds). */
void gw_clients_key_hash(const char *key, char hex[65]);

#endif
