/* cpm_xpolicy_doc: the signed policy document. See cpm_xpolicy_doc.h. */
#include "cpm_xpolicy_doc.h"

#include "cpm_docsig.h"
#include "cpm_pbcheck.h"
#include "cpm_xschema.h"
#include "cpm_yaml.h"

#include <cyaml/cyaml.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *dataset, *purpose;
    char **agencies, **roles, **fields;
    unsigned agencies_count, roles_count, fields_count;
    bool subscribe;
} y_rule_t;

typedef struct {
    char *agency;
    uint64_t *version;
    y_rule_t *rules;
    unsigned rules_count;
} y_policy_t;

#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
static const cyaml_schema_value_t string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};
#define LIST(key, f) CYAML_FIELD_SEQUENCE(key, OPT, y_rule_t, f, &string_entry, 0, CYAML_UNLIMITED)
static const cyaml_schema_field_t rule_fields[] = {
    CYAML_FIELD_STRING_PTR("dataset", OPT, y_rule_t, dataset, 0, CYAML_UNLIMITED),
    CYAML_FIELD_STRING_PTR("purpose", OPT, y_rule_t, purpose, 0, CYAML_UNLIMITED),
    LIST("agencies", agencies),
    LIST("roles", roles),
    LIST("fields", fields),
    CYAML_FIELD_BOOL("subscribe", CYAML_FLAG_OPTIONAL, y_rule_t, subscribe),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t rule_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_rule_t, rule_fields),
};
static const cyaml_schema_field_t policy_fields[] = {
    CYAML_FIELD_STRING_PTR("agency", OPT, y_policy_t, agency, 0, CYAML_UNLIMITED),
    CYAML_FIELD_UINT_PTR("version", OPT, y_policy_t, version),
    CYAML_FIELD_SEQUENCE("rules", OPT, y_policy_t, rules, &rule_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t policy_top = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, y_policy_t, policy_fields),
};

int cpm_xpolicy_check(const Cpm__ExchangePolicy *p, cpm_error_t *err)
{
    if (!p->agency || !p->agency[0])
        return cpm_error_set(err, CPM_E_INVALID, "agency", "the policy names no agency");
    if (p->version == 0)
        return cpm_error_set(err, CPM_E_INVALID, "version", "the policy needs a version above 0");
    if (p->n_rules > CPM_XPOLICY_MAX_RULES)
        return cpm_error_set(err, CPM_E_INVALID, "rules", "a policy has at most %d rules",
                             CPM_XPOLICY_MAX_RULES);
    for (size_t i = 0; i < p->n_rules; i++) {
        const Cpm__PolicyRule *r = p->rules[i];
        char f[64];
        const cpm_xdataset_t *d = cpm_xschema_find(r->dataset);
        if (!d) {
            snprintf(f, sizeof f, "rules[%zu].dataset", i);
            return cpm_error_set(err, CPM_E_INVALID, f, "%s: no dataset \"%.40s\"", f,
                                 r->dataset ? r->dataset : "");
        }
        if (r->n_agencies == 0) {
            snprintf(f, sizeof f, "rules[%zu].agencies", i);
            return cpm_error_set(err, CPM_E_INVALID, f, "%s: name the agencies (or \"*\")", f);
        }
        for (size_t k = 0; k < r->n_fields; k++) {
            const cpm_xfield_t *sf = cpm_xschema_field(d, r->fields[k]);
            snprintf(f, sizeof f, "rules[%zu].fields[%zu]", i, k);
            if (!sf)
                return cpm_error_set(err, CPM_E_INVALID, f, "%s: dataset %s has no field %.40s", f,
                                     d->name, r->fields[k]);
            if (sf->personal && (!r->purpose || !r->purpose[0]))
                return cpm_error_set(err, CPM_E_INVALID, f,
                                     "%s: %s is personal data: the rule must name a purpose", f,
                                     sf->name);
        }
    }
    return 0;
}

static char **copy_list(char **src, unsigned n, size_t *out_n, bool *oom)
{
    *out_n = 0;
    if (n == 0)
        return NULL;
    char **dst = calloc(n, sizeof *dst);
    if (!dst) {
        *oom = true;
        return NULL;
    }
    for (unsigned i = 0; i < n; i++)
        if (!(dst[i] = strdup(src[i] ? src[i] : "")))
            *oom = true;
    *out_n = n;
    return dst;
}

int cpm_xpolicy_from_yaml(const char *path, Cpm__ExchangePolicy **out, cpm_error_t *err)
{
    *out = NULL;
    y_policy_t *y = NULL;
    char why[512];
    if (cpm_yaml_load(path, &policy_top, (void **)&y, why, sizeof why) != 0)
        return cpm_error_set(err, CPM_E_INVALID, "policy", "%s: %s", path, why);
    if (!y)
        return cpm_error_set(err, CPM_E_INVALID, "policy", "%s is empty", path);
    Cpm__ExchangePolicy *p = calloc(1, sizeof *p);
    bool oom = !p;
    if (p) {
        cpm__exchange_policy__init(p);
        p->agency = strdup(y->agency ? y->agency : "");
        oom = !p->agency;
        p->version = y->version ? *y->version : 0;
        p->rules = y->rules_count ? calloc(y->rules_count, sizeof *p->rules) : NULL;
        oom = oom || (y->rules_count && !p->rules);
        for (unsigned i = 0; !oom && i < y->rules_count; i++) {
            const y_rule_t *yr = &y->rules[i];
            Cpm__PolicyRule *r = calloc(1, sizeof *r);
            if (!r) {
                oom = true;
                break;
            }
            cpm__policy_rule__init(r);
            p->rules[p->n_rules++] = r;
            r->dataset = strdup(yr->dataset ? yr->dataset : "");
            r->purpose = strdup(yr->purpose ? yr->purpose : "");
            oom = !r->dataset || !r->purpose;
            r->agencies = copy_list(yr->agencies, yr->agencies_count, &r->n_agencies, &oom);
            r->roles = copy_list(yr->roles, yr->roles_count, &r->n_roles, &oom);
            r->fields = copy_list(yr->fields, yr->fields_count, &r->n_fields, &oom);
            r->subscribe = yr->subscribe;
        }
    }
    cpm_yaml_free(&policy_top, y);
    int rc =
        oom ? cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory") : cpm_xpolicy_check(p, err);
    if (rc != 0) {
        if (p)
            cpm__exchange_policy__free_unpacked(p, NULL);
        return rc;
    }
    *out = p;
    return 0;
}

int cpm_xpolicy_sign(const Cpm__ExchangePolicy *p, const uint8_t sk[64], uint8_t **out, size_t *len)
{
    size_t plen = cpm__exchange_policy__get_packed_size(p);
    uint8_t *doc = malloc(plen + 1), sig[crypto_sign_BYTES];
    int rc = -1;
    if (!doc)
        return -1;
    cpm__exchange_policy__pack(p, doc);
    if (cpm_docsig_sign(CPM_XPOLICY_DOMAIN, doc, plen, sk, sig) == 0) {
        Cpm__SignedPolicy sp = CPM__SIGNED_POLICY__INIT;
        sp.policy.data = doc;
        sp.policy.len = plen;
        sp.signature.data = sig;
        sp.signature.len = sizeof sig;
        size_t n = cpm__signed_policy__get_packed_size(&sp);
        if ((*out = malloc(n)) != NULL) {
            *len = cpm__signed_policy__pack(&sp, *out);
            rc = 0;
        }
    }
    free(doc);
    return rc;
}

int cpm_xpolicy_open(const uint8_t *buf, size_t len, const cpm_registry_t *reg, const char *agency,
                     Cpm__ExchangePolicy **out, cpm_error_t *err)
{
    *out = NULL;
    if (len > CPM_XPOLICY_MAX_BYTES)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "policy", "a policy is at most %d bytes",
                             CPM_XPOLICY_MAX_BYTES);
    const Cpm__Member *m = cpm_registry_member(reg, agency);
    if (!m || m->sign_pk.len != 32)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "agency", "%s is not in the registry", agency);
    char kid[CPM_KEY_ID_LEN + 1];
    cpm_member_key_id(m, kid);
    if (m->key_revoked_ms != 0 || cpm_registry_key_revoked(reg, kid))
        return cpm_error_set(err, CPM_E_FORBIDDEN, "signature", "the key of %s is revoked", agency);
    Cpm__SignedPolicy *sp = cpm__signed_policy__unpack(cpm_pb_budget(len), len, buf);
    if (!sp)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "policy", "not a signed policy");
    if (cpm_docsig_verify(CPM_XPOLICY_DOMAIN, sp->policy.data, sp->policy.len, sp->signature.data,
                          sp->signature.len, m->sign_pk.data) != 0) {
        cpm__signed_policy__free_unpacked(sp, NULL);
        return cpm_error_set(err, CPM_E_FORBIDDEN, "signature",
                             "the policy is not signed by %s's current key", agency);
    }
    Cpm__ExchangePolicy *p = cpm__exchange_policy__unpack(cpm_pb_budget(sp->policy.len),
                                                          sp->policy.len, sp->policy.data);
    cpm__signed_policy__free_unpacked(sp, NULL);
    if (!p)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "policy", "the signed policy does not decode");
    int rc = strcmp(p->agency, agency) != 0
                 ? cpm_error_set(err, CPM_E_FORBIDDEN, "agency", "the policy is for %.64s, not %s",
                                 p->agency, agency)
                 : cpm_xpolicy_check(p, err);
    if (rc != 0) {
        cpm__exchange_policy__free_unpacked(p, NULL);
        return rc;
    }
    *out = p;
    return 0;
}
