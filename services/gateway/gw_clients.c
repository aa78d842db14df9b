/* gw_clients: see gw_clients.h. */
#include "gw_clients.h"

#include "cpm_docsig.h"
#include "cpm_text.h"
#include "cpm_util.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    gw_client_t pub;
    uint8_t key_sha256[32];
} entry_t;

struct gw_clients {
    uint64_t version;
    entry_t *e;
    size_t n;
};

void gw_clients_destroy(gw_clients_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->e);
    free(*p);
    *p = NULL;
}

uint64_t gw_clients_version(const gw_clients_t *c)
{
    return c ? c->version : 0;
}

size_t gw_clients_count(const gw_clients_t *c)
{
    return c ? c->n : 0;
}

void gw_clients_key_hash(const char *key, char hex[65])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const uint8_t *)key, strlen(key));
    sodium_bin2hex(hex, 65, h, sizeof h);
}

bool gw_clients_check(const gw_clients_t *c, const char *api_key, gw_client_t *out)
{
    if (!c || !api_key || !*api_key)
        return false;
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const uint8_t *)api_key, strlen(api_key));
    /* Every entry is compared, so the time says nothing about which matched. */
    const entry_t *hit = NULL;
    for (size_t i = 0; i < c->n; i++)
        if (sodium_memcmp(c->e[i].key_sha256, h, sizeof h) == 0)
            hit = &c->e[i];
    if (hit && out)
        *out = hit->pub;
    return hit != NULL;
}

static bool id_valid(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= GW_CLIENT_ID_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int text_of(json_t *o, const char *key, char *out, size_t cap, size_t i, cpm_error_t *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || !*s || strlen(s) >= cap)
        return cpm_error_set(err, CPM_E_INVALID, "clients",
                             "clients[%zu].%s is missing or longer "
                             "than %zu bytes",
                             i, key, cap - 1);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

static int parse_doc(const char *doc, size_t len, gw_clients_t *c, cpm_error_t *err)
{
    json_error_t je;
    json_t *d = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &je);
    json_t *list = d ? json_object_get(d, "clients") : NULL;
    json_t *ver = d ? json_object_get(d, "version") : NULL;
    int rc = 0;
    if (!d || !json_is_object(d))
        rc = cpm_error_set(err, CPM_E_INVALID, "doc", "the signed document is not a JSON object");
    else if (!json_is_integer(ver) || json_integer_value(ver) < 1)
        rc = cpm_error_set(err, CPM_E_INVALID, "version", "version is not a positive integer");
    else if (!json_is_array(list) || json_array_size(list) > GW_CLIENTS_MAX)
        rc = cpm_error_set(err, CPM_E_INVALID, "clients", "clients is not a list of at most %d",
                           GW_CLIENTS_MAX);
    else if (!(c->e = calloc(json_array_size(list) + 1, sizeof *c->e)))
        rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    for (size_t i = 0; rc == 0 && i < json_array_size(list); i++) {
        json_t *o = json_array_get(list, i);
        entry_t *e = &c->e[i];
        char hex[65];
        if (!json_is_object(o))
            rc = cpm_error_set(err, CPM_E_INVALID, "clients", "clients[%zu] is not an object", i);
        else if ((rc = text_of(o, "id", e->pub.id, sizeof e->pub.id, i, err)) ||
                 (rc = text_of(o, "name", e->pub.name, sizeof e->pub.name, i, err)) ||
                 (rc = text_of(o, "channel", e->pub.channel, sizeof e->pub.channel, i, err)) ||
                 (rc = text_of(o, "key_sha256", hex, sizeof hex, i, err)))
            ;
        else if (!id_valid(e->pub.id))
            rc = cpm_error_set(err, CPM_E_INVALID, "clients",
                               "clients[%zu].id is not 1-64 of a-z 0-9 . _ -", i);
        else if (strcmp(e->pub.channel, "web") != 0 && strcmp(e->pub.channel, "app") != 0)
            rc = cpm_error_set(err, CPM_E_INVALID, "clients",
                               "clients[%zu].channel is not web or app", i);
        else if (json_object_get(o, "rate_per_min") &&
                 (!json_is_integer(json_object_get(o, "rate_per_min")) ||
                  json_integer_value(json_object_get(o, "rate_per_min")) < 1 ||
                  json_integer_value(json_object_get(o, "rate_per_min")) > 100000))
            rc = cpm_error_set(err, CPM_E_INVALID, "clients",
                               "clients[%zu].rate_per_min is not an integer 1..100000", i);
        else if (!cpm_text_utf8_valid(e->pub.name, strlen(e->pub.name)))
            rc = cpm_error_set(err, CPM_E_INVALID, "clients", "clients[%zu].name is not UTF-8", i);
        else if (strlen(hex) != 64 ||
                 sodium_hex2bin(e->key_sha256, 32, hex, 64, NULL, NULL, NULL) != 0)
            rc = cpm_error_set(err, CPM_E_INVALID, "clients",
                               "clients[%zu].key_sha256 is not 64 hex digits", i);
        for (size_t j = 0; rc == 0 && j < i; j++)
            if (!strcmp(c->e[j].pub.id, e->pub.id) ||
                !memcmp(c->e[j].key_sha256, e->key_sha256, 32))
                rc = cpm_error_set(err, CPM_E_INVALID, "clients",
                                   "clients[%zu] repeats the id or key of clients[%zu]", i, j);
        if (rc == 0) {
            json_t *rate = json_object_get(o, "rate_per_min");
            e->pub.rate_per_min = rate ? (uint32_t)json_integer_value(rate) : 0;
            c->n++;
        }
    }
    if (rc == 0)
        c->version = (uint64_t)json_integer_value(ver);
    json_decref(d);
    return rc;
}

int gw_clients_parse(const uint8_t *buf, size_t len, const cpm_registry_t *reg,
                     const uint8_t root_pk[32], gw_clients_t **out, cpm_error_t *err)
{
    *out = NULL;
    if (len > GW_CLIENTS_FILE_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "gateway_clients",
                             "the client list is larger than %d bytes", GW_CLIENTS_FILE_MAX);
    json_error_t je;
    json_t *f = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    const char *doc = json_string_value(json_object_get(f, "doc"));
    const char *signer = json_string_value(json_object_get(f, "signer"));
    const char *sighex = json_string_value(json_object_get(f, "signature"));
    uint8_t sig[64];
    int rc = 0;
    if (!doc || !signer || !sighex) {
        rc = cpm_error_set(err, CPM_E_INVALID, "gateway_clients",
                           "the client list is not {doc, signer, signature}");
    } else if (strlen(sighex) != 128 ||
               sodium_hex2bin(sig, sizeof sig, sighex, 128, NULL, NULL, NULL) != 0) {
        rc = cpm_error_set(err, CPM_E_INVALID, "signature", "signature is not 128 hex digits");
    } else {
        const uint8_t *pk = NULL;
        const Cpm__Member *m = strcmp(signer, "root") ? cpm_registry_member(reg, signer) : NULL;
        char kid[CPM_KEY_ID_LEN + 1];
        if (!strcmp(signer, "root"))
            pk = root_pk;
        else if (m && m->role && !strcmp(m->role, "city") && m->sign_pk.len == 32 &&
                 m->key_revoked_ms == 0 && (cpm_member_key_id(m, kid), true) &&
                 !cpm_registry_key_revoked(reg, kid))
            pk = m->sign_pk.data;
        if (!pk)
            rc = cpm_error_set(err, CPM_E_FORBIDDEN, "signer",
                               "the client list's signer is not the root or a city member with "
                               "an unrevoked key");
        else if (cpm_docsig_verify(GW_CLIENTS_DOMAIN, (const uint8_t *)doc, strlen(doc), sig,
                                   sizeof sig, pk) != 0)
            rc = cpm_error_set(err, CPM_E_FORBIDDEN, "signature",
                               "the client list is not signed by its signer's current key");
    }
    gw_clients_t *c = NULL;
    if (rc == 0 && !(c = calloc(1, sizeof *c)))
        rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    if (rc == 0)
        rc = parse_doc(doc, strlen(doc), c, err);
    json_decref(f);
    if (rc != 0) {
        gw_clients_destroy(&c);
        return rc;
    }
    *out = c;
    return 0;
}

int gw_clients_load(const char *path, const cpm_registry_t *reg, const uint8_t root_pk[32],
                    gw_clients_t **out, cpm_error_t *err)
{
    *out = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (cpm_read_file(path, GW_CLIENTS_FILE_MAX, &buf, &len) != 0)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "gateway_clients", "cannot read %s", path);
    int rc = gw_clients_parse(buf, len, reg, root_pk, out, err);
    free(buf);
    return rc;
}
