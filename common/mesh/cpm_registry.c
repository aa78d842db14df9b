/* cpm_registry: verify a signed registry and answer lookups (the document's
 * checks are in cpm_registry_validate.c).
 *
 * Loading order is fixed: the outer SignedRegistry frame is decoded, the
 * signature over the raw registry bytes is checked, and only then are those
 * bytes parsed as a Registry. Lookups by member id and by CURVE key run per
 * message, so both use sorted indexes built once at load time. */
#include "cpm_registry_int.h"
#include "cpm_docsig.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpm_util.h"

struct cpm_registry {
    Cpm__Registry *doc;
    const Cpm__Member **by_id;    /* sorted by id */
    const Cpm__Member **by_curve; /* sorted by curve_pk */
    const char **revoked;         /* sorted key ids */
};

int cpm_registry_cmp_id(const void *a, const void *b)
{
    return strcmp((*(const Cpm__Member *const *)a)->id, (*(const Cpm__Member *const *)b)->id);
}

int cpm_registry_cmp_curve(const void *a, const void *b)
{
    return memcmp((*(const Cpm__Member *const *)a)->curve_pk.data,
                  (*(const Cpm__Member *const *)b)->curve_pk.data, 32);
}

bool cpm_registry_is_office(const Cpm__Member *m)
{
    return strcmp(m->role, "area") == 0;
}

/* ---- signing and loading --------------------------------------------------- */

int cpm_registry_sign(const Cpm__Registry *doc, const uint8_t root_sk[64], uint8_t **out,
                      size_t *out_len)
{
    if (!doc || !root_sk || !out || !out_len || sodium_init() < 0)
        return -1;
    size_t rlen = cpm__registry__get_packed_size(doc);
    uint8_t *rbytes = malloc(rlen + 1);
    if (!rbytes)
        return -1;
    cpm__registry__pack(doc, rbytes);

    uint8_t sig[crypto_sign_BYTES];
    int rc = -1;
    if (cpm_docsig_sign(CPM_REGISTRY_DOMAIN, rbytes, rlen, root_sk, sig) == 0) {
        Cpm__SignedRegistry sr = CPM__SIGNED_REGISTRY__INIT;
        sr.registry.data = rbytes;
        sr.registry.len = rlen;
        sr.signature.data = sig;
        sr.signature.len = sizeof sig;
        size_t n = cpm__signed_registry__get_packed_size(&sr);
        if ((*out = malloc(n)) != NULL) {
            *out_len = cpm__signed_registry__pack(&sr, *out);
            rc = 0;
        }
    }
    free(rbytes);
    return rc;
}

static int verify(const Cpm__SignedRegistry *sr, const uint8_t root_pk[32], char *err,
                  size_t errlen)
{
    if (sr->signature.len != crypto_sign_BYTES) {
        cpm_errf(err, errlen, "registry: signature is %zu bytes; it must be %d", sr->signature.len,
                 crypto_sign_BYTES);
        return -1;
    }
    if (cpm_docsig_verify(CPM_REGISTRY_DOMAIN, sr->registry.data, sr->registry.len,
                          sr->signature.data, sr->signature.len, root_pk) != 0) {
        cpm_errf(err, errlen, "registry: signature does not verify with the root key");
        return -1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int build_index(cpm_registry_t *r)
{
    const Cpm__Registry *d = r->doc;
    r->by_id = malloc((d->n_members + 1) * sizeof *r->by_id);
    r->by_curve = malloc((d->n_members + 1) * sizeof *r->by_curve);
    r->revoked = malloc((d->n_revoked_keys + 1) * sizeof *r->revoked);
    if (!r->by_id || !r->by_curve || !r->revoked)
        return -1;
    for (size_t i = 0; i < d->n_members; i++)
        r->by_id[i] = r->by_curve[i] = d->members[i];
    for (size_t i = 0; i < d->n_revoked_keys; i++)
        r->revoked[i] = d->revoked_keys[i];
    qsort(r->by_id, d->n_members, sizeof *r->by_id, cpm_registry_cmp_id);
    qsort(r->by_curve, d->n_members, sizeof *r->by_curve, cpm_registry_cmp_curve);
    qsort(r->revoked, d->n_revoked_keys, sizeof *r->revoked, cmp_str);
    return 0;
}

cpm_registry_t *cpm_registry_from_signed(const uint8_t *buf, size_t len, const uint8_t root_pk[32],
                                         char *err, size_t errlen)
{
    if (!buf || len == 0 || !root_pk) {
        cpm_errf(err, errlen, "registry: empty input");
        return NULL;
    }
    if (len > CPM_REGISTRY_MAX) {
        cpm_errf(err, errlen, "registry: %zu bytes is over the limit of %u", len, CPM_REGISTRY_MAX);
        return NULL;
    }
    if (sodium_init() < 0) {
        cpm_errf(err, errlen, "registry: libsodium failed to initialise");
        return NULL;
    }
    Cpm__SignedRegistry *sr = cpm__signed_registry__unpack(NULL, len, buf);
    if (!sr) {
        cpm_errf(err, errlen,
                 "registry: cannot decode the signed frame (truncated or not a registry)");
        return NULL;
    }
    if (verify(sr, root_pk, err, errlen) != 0) {
        cpm__signed_registry__free_unpacked(sr, NULL);
        return NULL;
    }
    Cpm__Registry *doc = cpm__registry__unpack(NULL, sr->registry.len, sr->registry.data);
    cpm__signed_registry__free_unpacked(sr, NULL);
    if (!doc) {
        cpm_errf(err, errlen, "registry: signature is good but the registry cannot be decoded");
        return NULL;
    }
    if (cpm_registry_validate(doc, err, errlen) != 0) {
        cpm__registry__free_unpacked(doc, NULL);
        return NULL;
    }
    cpm_registry_t *r = calloc(1, sizeof *r);
    if (r)
        r->doc = doc;
    if (!r || build_index(r) != 0) {
        if (r)
            cpm_registry_destroy(&r);
        else
            cpm__registry__free_unpacked(doc, NULL);
        cpm_errf(err, errlen, "registry: out of memory");
        return NULL;
    }
    return r;
}

int cpm_registry_load(const char *path, const uint8_t root_pk[32], cpm_registry_t **out,
                      cpm_error_t *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    *out = NULL;
    if (!path || cpm_read_file(path, CPM_REGISTRY_MAX, &buf, &len) != 0) {
        int e = path ? errno : EINVAL;
        return cpm_error_set(err, e == ENOENT ? CPM_E_NOT_FOUND : CPM_E_INVALID, "registry",
                             "registry %s: cannot read: %s", path ? path : "(null)", strerror(e));
    }
    char why[512] = "";
    *out = cpm_registry_from_signed(buf, len, root_pk, why, sizeof why);
    free(buf);
    if (!*out)
        return cpm_error_set(err, CPM_E_INVALID, "registry", "%s (file %s)", why, path);
    return 0;
}

void cpm_registry_destroy(cpm_registry_t **p)
{
    if (!p || !*p)
        return;
    cpm_registry_t *r = *p;
    free(r->by_id);
    free(r->by_curve);
    free(r->revoked);
    cpm__registry__free_unpacked(r->doc, NULL);
    free(r);
    *p = NULL;
}

/* ---- lookups ------------------------------------------------------------------ */

uint64_t cpm_registry_version(const cpm_registry_t *r)
{
    return r ? r->doc->version : 0;
}

const Cpm__Registry *cpm_registry_doc(const cpm_registry_t *r)
{
    return r ? r->doc : NULL;
}

const Cpm__Member *cpm_registry_member(const cpm_registry_t *r, const char *id)
{
    if (!r || !id)
        return NULL;
    Cpm__Member key = CPM__MEMBER__INIT;
    key.id = (char *)id;
    const Cpm__Member *kp = &key;
    const Cpm__Member **hit =
        bsearch(&kp, r->by_id, r->doc->n_members, sizeof *hit, cpm_registry_cmp_id);
    return hit ? *hit : NULL;
}

const Cpm__Member *cpm_registry_member_by_curve(const cpm_registry_t *r, const uint8_t pk[32])
{
    if (!r || !pk)
        return NULL;
    Cpm__Member key = CPM__MEMBER__INIT;
    key.curve_pk.data = (uint8_t *)pk;
    key.curve_pk.len = 32;
    const Cpm__Member *kp = &key;
    const Cpm__Member **hit =
        bsearch(&kp, r->by_curve, r->doc->n_members, sizeof *hit, cpm_registry_cmp_curve);
    return hit ? *hit : NULL;
}

const Cpm__Member *cpm_registry_find_service(const cpm_registry_t *r, const char *service)
{
    for (size_t i = 0; i < r->doc->n_members; i++)
        if (cpm_member_service(r->doc->members[i], service))
            return r->doc->members[i];
    return NULL;
}

const Cpm__Member *cpm_registry_area_office(const cpm_registry_t *r, const char *slug)
{
    if (!r || !slug)
        return NULL;
    for (size_t i = 0; i < r->doc->n_members; i++) {
        const Cpm__Member *m = r->doc->members[i];
        if (cpm_registry_is_office(m) && strcmp(m->area, slug) == 0)
            return m;
    }
    return NULL;
}

bool cpm_registry_key_revoked(const cpm_registry_t *r, const char *key_id)
{
    if (!r || !key_id)
        return false;
    return bsearch(&key_id, r->revoked, r->doc->n_revoked_keys, sizeof *r->revoked, cmp_str) !=
           NULL;
}

const Cpm__ServiceEndpoint *cpm_member_service(const Cpm__Member *m, const char *service)
{
    if (!m || !service)
        return NULL;
    for (size_t i = 0; i < m->n_services; i++)
        if (strcmp(m->services[i]->name, service) == 0)
            return m->services[i];
    return NULL;
}

void cpm_member_key_id(const Cpm__Member *m, char out[CPM_KEY_ID_LEN + 1])
{
    if (!m || m->sign_pk.len != 32) {
        out[0] = 0;
        return;
    }
    cpm_key_id(m->sign_pk.data, out);
}

/* One side of a rule ("case_batch" of "case_batch@routing") against a value. */
static bool side_matches(const char *side, size_t len, const char *value)
{
    if (len == 1 && side[0] == '*')
        return true;
    return strncmp(side, value, len) == 0 && value[len] == 0;
}

bool cpm_member_may_send(const Cpm__Member *m, const char *type_name, const char *service)
{
    if (!m || !type_name || !service)
        return false;
    for (size_t i = 0; i < m->n_may_send; i++) {
        const char *rule = m->may_send[i];
        const char *at = strchr(rule, '@');
        if (!at)
            continue; /* cannot happen after validation */
        if (side_matches(rule, (size_t)(at - rule), type_name) &&
            side_matches(at + 1, strlen(at + 1), service))
            return true;
    }
    return false;
}
