/* cpm_registry_validate: checks a registry document before anyone relies on
 * it: each member alone (id, role, key sizes, services, may_send rules), then
 * the fields that must differ between members. The first problem found is
 * reported as one sentence naming the member and the field. */
#include "cpm_registry_int.h"

#include "cpm_keyhist.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cpm_util.h"

static const char *const ROLES[] = {"city",        "department", "area",
                                    "association", "operator",   "coordinator",
                                    "inspector",   "officer",    "gateway"};
/* Service names are data (each binary names its own): any name of
 * lowercase letters, digits, '-' and '_' that starts with a letter, short
 * enough for the "<service>.reply" and "<service>.pub" instance names. */
#define SERVICE_NAME_MAX 24

static bool service_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > SERVICE_NAME_MAX || !islower((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-' &&
            s[i] != '_')
            return false;
    return true;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

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
    if (strcmp(at + 1, "*") != 0 && !service_name_ok(at + 1, strlen(at + 1))) {
        cpm_errf(err, errlen,
                 "member %s: may_send rule '%s' names no valid service; it must be a service "
                 "name (a-z, 0-9, '-', '_', at most %d) or *",
                 m->id, rule, SERVICE_NAME_MAX);
        return -1;
    }
    return 0;
}

static int check_services(const Cpm__Member *m, char *err, size_t errlen)
{
    for (size_t i = 0; i < m->n_services; i++) {
        const Cpm__ServiceEndpoint *s = m->services[i];
        const char *name = s && s->name ? s->name : "";
        if (!service_name_ok(name, strlen(name))) {
            cpm_errf(err, errlen,
                     "member %s: service '%s' is not a valid service name; it must be a-z, 0-9, "
                     "'-' or '_', start with a letter, at most %d characters",
                     m->id, name, SERVICE_NAME_MAX);
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
                 "member %s: role '%s' is unknown; it must be one of city, department, area, "
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
    if (strcmp(m->role, "area") == 0 && (!m->area || !m->area[0])) {
        cpm_errf(err, errlen, "member %s: area is missing; an area office must name it", m->id);
        return -1;
    }
    if (check_services(m, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < m->n_may_send; i++)
        if (check_rule(m, m->may_send[i] ? m->may_send[i] : "", err, errlen) != 0)
            return -1;
    return 0;
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

static int cmp_area(const void *a, const void *b)
{
    return strcmp((*(const Cpm__Member *const *)a)->area, (*(const Cpm__Member *const *)b)->area);
}

static bool has_prefix(const Cpm__Member *m)
{
    return m->ticket_prefix && m->ticket_prefix[0];
}

static const char *prefix_of(const Cpm__Member *m)
{
    return m->ticket_prefix;
}

static const char *area_of(const Cpm__Member *m)
{
    return m->area;
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
    {"id", NULL, cpm_registry_cmp_id, NULL},
    {"sign_pk", NULL, cmp_sign, NULL},
    {"curve_pk", NULL, cpm_registry_cmp_curve, NULL},
    {"ticket_prefix", has_prefix, cmp_prefix, prefix_of},
    {"area", cpm_registry_is_office, cmp_area, area_of},
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
        if (check_member(doc->members[i], i, err, errlen) != 0 ||
            cpm_keyhist_validate(doc, doc->members[i], err, errlen) != 0)
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
