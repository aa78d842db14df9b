/* cpm_registry: verify a signed registry, check it, and answer lookups.
 *
 * Loading order is fixed: the outer SignedRegistry frame is decoded, the
 * signature over the raw registry bytes is checked, and only then are those
 * bytes parsed as a Registry. Lookups by member id and by CURVE key run per
 * message, so both use sorted indexes built once at load time. */
#include "cpm_registry.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
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

static const char *const ROLES[] = {"city",     "department",  "district",  "association",
                                    "operator", "coordinator", "inspector", "officer"};
static const char *const SERVICES[] = {"intake", "routing", "inspection"};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* ---- validation ---------------------------------------------------------- */

/* A may_send type is the MsgType name without "MSG_", in lowercase. */
static bool known_type(const char *t, size_t len)
{
    const ProtobufCEnumDescriptor *d = &cpm__msg_type__descriptor;
    for (unsigned i = 0; i < d->n_values; i++) {
        const char *name = d->values[i].name;
        if (strncmp(name, "MSG_", 4) != 0 || d->values[i].value == CPM__MSG_TYPE__MSG_UNSPECIFIED)
            continue;
        name += 4;
        if (strlen(name) != len)
            continue;
        size_t k = 0;
        while (k < len && t[k] == (char)tolower((unsigned char)name[k]))
            k++;
        if (k == len)
            return true;
    }
    return false;
}

static int check_rule(const Cpm__Member *m, const char *rule, char *err, size_t errlen)
{
    const char *at = strchr(rule, '@');
    if (!at || at == rule || at[1] == 0 || strchr(at + 1, '@')) {
        cpm_errf(err, errlen,
                 "member %s: may_send rule '%s' is malformed; it must be <type>@<service>", m->id,
                 rule);
        return -1;
    }
    size_t tlen = (size_t)(at - rule);
    if (!(tlen == 1 && rule[0] == '*') && !known_type(rule, tlen)) {
        cpm_errf(err, errlen, "member %s: may_send rule '%s' names an unknown message type", m->id,
                 rule);
        return -1;
    }
    if (strcmp(at + 1, "*") != 0 && !in_list(at + 1, SERVICES, 3)) {
        cpm_errf(err, errlen,
                 "member %s: may_send rule '%s' names an unknown service; it must be intake, "
                 "routing, inspection or *",
                 m->id, rule);
        return -1;
    }
    return 0;
}

static int check_services(const Cpm__Member *m, char *err, size_t errlen)
{
    for (size_t i = 0; i < m->n_services; i++) {
        const Cpm__ServiceEndpoint *s = m->services[i];
        const char *name = s && s->name ? s->name : "";
        if (!in_list(name, SERVICES, 3)) {
            cpm_errf(err, errlen,
                     "member %s: service '%s' is unknown; it must be intake, routing or inspection",
                     m->id, name);
            return -1;
        }
        if (!s->endpoint || !s->endpoint[0]) {
            cpm_errf(err, errlen, "member %s: service %s: endpoint is missing", m->id, name);
            return -1;
        }
        if (!s->pub_endpoint || !s->pub_endpoint[0]) {
            cpm_errf(err, errlen, "member %s: service %s: pub_endpoint is missing", m->id, name);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->services[j]->name, name) == 0) {
                cpm_errf(err, errlen, "member %s: service %s is listed twice", m->id, name);
                return -1;
            }
    }
    return 0;
}

static int check_member(const Cpm__Member *m, size_t idx, char *err, size_t errlen)
{
    if (!m || !m->id || !m->id[0]) {
        cpm_errf(err, errlen, "member #%zu: id is empty", idx + 1);
        return -1;
    }
    if (!m->role || !in_list(m->role, ROLES, sizeof ROLES / sizeof ROLES[0])) {
        cpm_errf(err, errlen,
                 "member %s: role '%s' is unknown; it must be one of city, department, district, "
                 "association, operator, coordinator, inspector, officer",
                 m->id, m->role ? m->role : "");
        return -1;
    }
    if (m->sign_pk.len != 32) {
        cpm_errf(err, errlen, "member %s: sign_pk is %zu bytes; it must be 32", m->id,
                 m->sign_pk.len);
        return -1;
    }
    if (m->curve_pk.len != 32) {
        cpm_errf(err, errlen, "member %s: curve_pk is %zu bytes; it must be 32", m->id,
                 m->curve_pk.len);
        return -1;
    }
    if (strcmp(m->role, "district") == 0 && (!m->district || !m->district[0])) {
        cpm_errf(err, errlen, "member %s: district is missing; a district office must name it",
                 m->id);
        return -1;
    }
    if (check_services(m, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < m->n_may_send; i++)
        if (check_rule(m, m->may_send[i] ? m->may_send[i] : "", err, errlen) != 0)
            return -1;
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp((*(const Cpm__Member *const *)a)->id, (*(const Cpm__Member *const *)b)->id);
}

static int cmp_curve(const void *a, const void *b)
{
    return memcmp((*(const Cpm__Member *const *)a)->curve_pk.data,
                  (*(const Cpm__Member *const *)b)->curve_pk.data, 32);
}

static int cmp_sign(const void *a, const void *b)
{
    return memcmp((*(const Cpm__Member *const *)a)->sign_pk.data,
                  (*(const Cpm__Member *const *)b)->sign_pk.data, 32);
}

static int cmp_prefix(const void *a, const void *b)
{
    return strcmp((*(const Cpm__Member *const *)a)->ticket_prefix,
                  (*(const Cpm__Member *const *)b)->ticket_prefix);
}

static int cmp_district(const void *a, const void *b)
{
    return strcmp((*(const Cpm__Member *const *)a)->district,
                  (*(const Cpm__Member *const *)b)->district);
}

static bool has_prefix(const Cpm__Member *m)
{
    return m->ticket_prefix && m->ticket_prefix[0];
}

static bool is_office(const Cpm__Member *m)
{
    return strcmp(m->role, "district") == 0;
}

static const char *prefix_of(const Cpm__Member *m)
{
    return m->ticket_prefix;
}

static const char *district_of(const Cpm__Member *m)
{
    return m->district;
}

/* A field that must differ between members: which members it applies to, how
 * to order it, and (for text) its value to show in the error. */
typedef struct {
    const char *what;
    bool (*keep)(const Cpm__Member *);
    int (*cmp)(const void *, const void *);
    const char *(*value)(const Cpm__Member *);
} unique_rule_t;

static const unique_rule_t UNIQUE[] = {
    {"id", NULL, cmp_id, NULL},
    {"sign_pk", NULL, cmp_sign, NULL},
    {"curve_pk", NULL, cmp_curve, NULL},
    {"ticket_prefix", has_prefix, cmp_prefix, prefix_of},
    {"district", is_office, cmp_district, district_of},
};

/* Sorts the members the rule applies to into tmp and reports the first equal
 * neighbours; the sentence names both members and the field. */
static int check_unique(const Cpm__Registry *doc, const Cpm__Member **tmp, const unique_rule_t *u,
                        char *err, size_t errlen)
{
    size_t n = 0;
    for (size_t i = 0; i < doc->n_members; i++)
        if (!u->keep || u->keep(doc->members[i]))
            tmp[n++] = doc->members[i];
    qsort(tmp, n, sizeof *tmp, u->cmp);
    for (size_t i = 1; i < n; i++)
        if (u->cmp(&tmp[i - 1], &tmp[i]) == 0) {
            cpm_errf(err, errlen, "member %s: %s%s%s is the same as member %s's", tmp[i]->id,
                     u->what, u->value ? " " : "", u->value ? u->value(tmp[i]) : "",
                     tmp[i - 1]->id);
            return -1;
        }
    return 0;
}

static bool is_key_id(const char *s)
{
    if (!s || strlen(s) != CPM_KEY_ID_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
            return false;
    return true;
}

int cpm_registry_validate(const Cpm__Registry *doc, char *err, size_t errlen)
{
    if (!doc) {
        cpm_errf(err, errlen, "registry: no document");
        return -1;
    }
    if (doc->version == 0) {
        cpm_errf(err, errlen, "registry: version must be greater than 0");
        return -1;
    }
    if (!doc->mesh || !doc->mesh[0]) {
        cpm_errf(err, errlen, "registry: mesh is empty");
        return -1;
    }
    if (doc->n_members == 0) {
        cpm_errf(err, errlen, "registry: members is empty");
        return -1;
    }
    for (size_t i = 0; i < doc->n_revoked_keys; i++)
        if (!is_key_id(doc->revoked_keys[i])) {
            cpm_errf(err, errlen,
                     "registry: revoked_keys entry '%s' is not a key id (16 lowercase hex chars)",
                     doc->revoked_keys[i] ? doc->revoked_keys[i] : "");
            return -1;
        }
    for (size_t i = 0; i < doc->n_members; i++)
        if (check_member(doc->members[i], i, err, errlen) != 0)
            return -1;

    const Cpm__Member **tmp = malloc(doc->n_members * sizeof *tmp);
    if (!tmp) {
        cpm_errf(err, errlen, "registry: out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof UNIQUE / sizeof UNIQUE[0]; i++)
        rc = check_unique(doc, tmp, &UNIQUE[i], err, errlen);
    free(tmp);
    return rc;
}

/* ---- signing and loading --------------------------------------------------- */

/* "CPMESH-REGISTRY-V1" || 0x00 || bytes, the exact input of the signature. */
static uint8_t *signed_input(const uint8_t *bytes, size_t len, size_t *out_len)
{
    size_t dlen = sizeof CPM_REGISTRY_DOMAIN; /* includes the NUL */
    uint8_t *m = malloc(dlen + len + 1);
    if (!m)
        return NULL;
    memcpy(m, CPM_REGISTRY_DOMAIN, dlen);
    if (len)
        memcpy(m + dlen, bytes, len);
    *out_len = dlen + len;
    return m;
}

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

    size_t mlen = 0;
    uint8_t *msg = signed_input(rbytes, rlen, &mlen);
    uint8_t sig[crypto_sign_BYTES];
    int rc = -1;
    if (msg && crypto_sign_detached(sig, NULL, msg, mlen, root_sk) == 0) {
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
    free(msg);
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
    size_t mlen = 0;
    uint8_t *msg = signed_input(sr->registry.data, sr->registry.len, &mlen);
    if (!msg) {
        cpm_errf(err, errlen, "registry: out of memory");
        return -1;
    }
    int rc = crypto_sign_verify_detached(sr->signature.data, msg, mlen, root_pk);
    free(msg);
    if (rc != 0) {
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
    qsort(r->by_id, d->n_members, sizeof *r->by_id, cmp_id);
    qsort(r->by_curve, d->n_members, sizeof *r->by_curve, cmp_curve);
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

cpm_registry_t *cpm_registry_load(const char *path, const uint8_t root_pk[32], char *err,
                                  size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!path || cpm_read_file(path, CPM_REGISTRY_MAX, &buf, &len) != 0) {
        cpm_errf(err, errlen, "registry %s: cannot read: %s", path ? path : "(null)",
                 strerror(errno));
        return NULL;
    }
    char why[512] = "";
    cpm_registry_t *r = cpm_registry_from_signed(buf, len, root_pk, why, sizeof why);
    free(buf);
    if (!r)
        cpm_errf(err, errlen, "%s (file %s)", why, path);
    return r;
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
    const Cpm__Member **hit = bsearch(&kp, r->by_id, r->doc->n_members, sizeof *hit, cmp_id);
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
    const Cpm__Member **hit = bsearch(&kp, r->by_curve, r->doc->n_members, sizeof *hit, cmp_curve);
    return hit ? *hit : NULL;
}

const Cpm__Member *cpm_registry_find_service(const cpm_registry_t *r, const char *service)
{
    for (size_t i = 0; i < r->doc->n_members; i++)
        if (cpm_member_service(r->doc->members[i], service))
            return r->doc->members[i];
    return NULL;
}

const Cpm__Member *cpm_registry_district_office(const cpm_registry_t *r, const char *slug)
{
    if (!r || !slug)
        return NULL;
    for (size_t i = 0; i < r->doc->n_members; i++) {
        const Cpm__Member *m = r->doc->members[i];
        if (is_office(m) && strcmp(m->district, slug) == 0)
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
