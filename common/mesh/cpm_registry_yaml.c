/* cpm_registry_yaml: build a Registry document from its YAML source.
 *
 * libcyaml parses the file against the schema below; every field is optional
 * to libcyaml so that this file can say which member lacks which field. Keys
 * come from each member's .public file (cpm_public_load). The finished
 * document goes through cpm_registry_validate, so what this returns is what
 * a loader would accept. */
#include "cpm_registry.h"
#include "cpm_yaml.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpm_util.h"

typedef struct {
    char *name, *endpoint, *pub_endpoint;
} y_service_t;

typedef struct {
    char *public_key, *valid_from, *valid_until, *reason;
} y_past_key_t;

typedef struct {
    char *id, *agency, *role, *name, *public_key, *ticket_prefix, *area, *key_revoked;
    y_past_key_t *past_keys;
    unsigned past_keys_count;
    y_service_t *services;
    unsigned services_count;
    char **may_send;
    unsigned may_send_count;
} y_member_t;

typedef struct {
    char *mesh;
    uint64_t *version;
    char *issued;
    y_member_t *members;
    unsigned members_count;
    char **revoked_keys;
    unsigned revoked_keys_count;
} y_registry_t;

#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
#define STR(key, type, field) CYAML_FIELD_STRING_PTR(key, OPT, type, field, 0, CYAML_UNLIMITED)

static const cyaml_schema_value_t string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t service_fields[] = {
    STR("name", y_service_t, name),
    STR("endpoint", y_service_t, endpoint),
    STR("pub_endpoint", y_service_t, pub_endpoint),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t service_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_service_t, service_fields),
};

static const cyaml_schema_field_t past_key_fields[] = {
    STR("public_key", y_past_key_t, public_key),
    STR("valid_from", y_past_key_t, valid_from),
    STR("valid_until", y_past_key_t, valid_until),
    STR("reason", y_past_key_t, reason),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t past_key_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_past_key_t, past_key_fields),
};

static const cyaml_schema_field_t member_fields[] = {
    STR("id", y_member_t, id),
    STR("agency", y_member_t, agency),
    STR("role", y_member_t, role),
    STR("name", y_member_t, name),
    STR("public_key", y_member_t, public_key),
    STR("ticket_prefix", y_member_t, ticket_prefix),
    STR("area", y_member_t, area),
    STR("key_revoked", y_member_t, key_revoked),
    CYAML_FIELD_SEQUENCE("past_keys", OPT, y_member_t, past_keys, &past_key_entry, 0,
                         CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE("services", OPT, y_member_t, services, &service_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE("may_send", OPT, y_member_t, may_send, &string_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t member_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_member_t, member_fields),
};

static const cyaml_schema_field_t registry_fields[] = {
    STR("mesh", y_registry_t, mesh),
    CYAML_FIELD_UINT_PTR("version", OPT, y_registry_t, version),
    STR("issued", y_registry_t, issued),
    CYAML_FIELD_SEQUENCE("members", OPT, y_registry_t, members, &member_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE("revoked_keys", OPT, y_registry_t, revoked_keys, &string_entry, 0,
                         CYAML_UNLIMITED),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t registry_top = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, y_registry_t, registry_fields),
};

static int parse_issued(const char *s, int64_t *ms)
{
    char *end = NULL;
    if (s[0] >= '0' && s[0] <= '9' && strspn(s, "0123456789") == strlen(s)) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno != 0)
            return -1;
        *ms = v;
        return 0;
    }
    static const char *const formats[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"};
    for (size_t i = 0; i < 2; i++) {
        struct tm tm = {0};
        end = strptime(s, formats[i], &tm);
        if (end && *end == 0) {
            *ms = (int64_t)timegm(&tm) * 1000;
            return 0;
        }
    }
    return -1;
}

/* strdup that tolerates NULL (as ""); returns NULL only when out of memory,
 * which protobuf-c's free_unpacked tolerates. */
static char *dup_str(const char *s, bool *oom)
{
    char *c = strdup(s ? s : "");
    if (!c)
        *oom = true;
    return c;
}

/* Reads the .public file at rel (relative to dir unless absolute) into pub;
 * it must be member id's. what names the field in errors. */
static int read_public(const char *rel, const char *dir, const char *id, const char *what,
                       cpm_public_t *pub, char *err, size_t errlen)
{
    char path[4096];
    int n = rel[0] == '/' ? snprintf(path, sizeof path, "%s", rel)
                          : snprintf(path, sizeof path, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= sizeof path) {
        cpm_errf(err, errlen, "member %s: %s %s: path too long", id, what, rel);
        return -1;
    }
    if (access(path, R_OK) != 0) {
        cpm_errf(err, errlen, "member %s: %s %s: cannot read (%s)", id, what, rel, strerror(errno));
        return -1;
    }
    cpm_error_t why;
    if (cpm_public_load(pub, path, &why) != 0) {
        cpm_errf(err, errlen, "member %s: %s %s: %s", id, what, rel, why.message);
        return -1;
    }
    if (strcmp(pub->id, id) != 0) {
        cpm_errf(err, errlen, "member %s: %s %s: the file is for member %s", id, what, rel,
                 pub->id);
        return -1;
    }
    return 0;
}

static int load_keys(Cpm__Member *m, const y_member_t *y, const char *dir, char *err, size_t errlen)
{
    cpm_public_t pub;
    if (read_public(y->public_key, dir, y->id, "public_key", &pub, err, errlen) != 0)
        return -1;
    m->sign_pk.data = malloc(32);
    m->curve_pk.data = malloc(32);
    if (!m->sign_pk.data || !m->curve_pk.data) {
        cpm_errf(err, errlen, "registry: out of memory");
        return -1;
    }
    memcpy(m->sign_pk.data, pub.sign_pk, 32);
    memcpy(m->curve_pk.data, pub.curve_pk, 32);
    m->sign_pk.len = m->curve_pk.len = 32;
    return 0;
}

/* One past_keys entry (docs/operations.md, "Rotating or revoking a member's
 * key"): the old .public file, when it stopped (required), when it began
 * (optional), why. */
static int build_past_key(Cpm__PastKey *p, const y_past_key_t *y, unsigned i, const char *id,
                          const char *dir, char *err, size_t errlen)
{
    char what[48];
    snprintf(what, sizeof what, "past_keys[%u].public_key", i);
    if (!y->public_key || !y->public_key[0] || !y->valid_until || !y->valid_until[0]) {
        cpm_errf(err, errlen, "member %s: past_keys[%u]: missing required field %s", id, i,
                 !y->public_key || !y->public_key[0] ? "public_key" : "valid_until");
        return -1;
    }
    cpm_public_t pub;
    if (read_public(y->public_key, dir, id, what, &pub, err, errlen) != 0)
        return -1;
    if (parse_issued(y->valid_until, &p->valid_until_ms) != 0 ||
        (y->valid_from && parse_issued(y->valid_from, &p->valid_from_ms) != 0)) {
        bool until = parse_issued(y->valid_until, &p->valid_until_ms) != 0;
        cpm_errf(err, errlen,
                 "member %s: past_keys[%u].%s '%s' is not a time (Unix ms, YYYY-MM-DD or "
                 "YYYY-MM-DDTHH:MM:SSZ)",
                 id, i, until ? "valid_until" : "valid_from",
                 until ? y->valid_until : y->valid_from);
        return -1;
    }
    bool oom = false;
    p->reason = dup_str(y->reason, &oom);
    p->sign_pk.data = malloc(32);
    if (oom || !p->sign_pk.data) {
        cpm_errf(err, errlen, "registry: out of memory");
        return -1;
    }
    memcpy(p->sign_pk.data, pub.sign_pk, 32);
    p->sign_pk.len = 32;
    return 0;
}

static int build_key_history(Cpm__Member *m, const y_member_t *y, const char *dir, char *err,
                             size_t errlen)
{
    if (y->key_revoked && parse_issued(y->key_revoked, &m->key_revoked_ms) != 0) {
        cpm_errf(err, errlen,
                 "member %s: key_revoked '%s' is not a time (Unix ms, YYYY-MM-DD or "
                 "YYYY-MM-DDTHH:MM:SSZ)",
                 y->id, y->key_revoked);
        return -1;
    }
    if (!y->past_keys_count)
        return 0;
    m->past_keys = calloc(y->past_keys_count, sizeof *m->past_keys);
    if (!m->past_keys) {
        cpm_errf(err, errlen, "registry: out of memory");
        return -1;
    }
    for (unsigned i = 0; i < y->past_keys_count; i++) {
        Cpm__PastKey *p = malloc(sizeof *p);
        if (!p) {
            cpm_errf(err, errlen, "registry: out of memory");
            return -1;
        }
        cpm__past_key__init(p);
        m->past_keys[m->n_past_keys++] = p;
        if (build_past_key(p, &y->past_keys[i], i, y->id, dir, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static bool blank(const char *s)
{
    return !s || !s[0];
}

static const char *missing_member_field(const y_member_t *y)
{
    if (blank(y->agency))
        return "agency";
    if (blank(y->role))
        return "role";
    if (blank(y->name))
        return "name";
    if (blank(y->public_key))
        return "public_key";
    return NULL;
}

/* Fills m (already initialised) from y; every allocation is owned by m. */
static int build_member(Cpm__Member *m, const y_member_t *y, const char *dir, char *err,
                        size_t errlen)
{
    const char *missing = missing_member_field(y);
    if (missing) {
        cpm_errf(err, errlen, "member %s: missing required field %s", y->id, missing);
        return -1;
    }
    bool oom = false;
    m->id = dup_str(y->id, &oom);
    m->agency = dup_str(y->agency, &oom);
    m->role = dup_str(y->role, &oom);
    m->name = dup_str(y->name, &oom);
    m->ticket_prefix = dup_str(y->ticket_prefix, &oom);
    m->area = dup_str(y->area, &oom);
    if (y->may_send_count) {
        m->may_send = calloc(y->may_send_count, sizeof *m->may_send);
        oom |= m->may_send == NULL;
    }
    for (unsigned i = 0; m->may_send && i < y->may_send_count; i++, m->n_may_send++)
        m->may_send[i] = dup_str(y->may_send[i], &oom);
    if (y->services_count) {
        m->services = calloc(y->services_count, sizeof *m->services);
        oom |= m->services == NULL;
    }
    for (unsigned i = 0; m->services && i < y->services_count; i++) {
        Cpm__ServiceEndpoint *s = malloc(sizeof *s);
        if (!s) {
            oom = true;
            break;
        }
        cpm__service_endpoint__init(s);
        s->name = dup_str(y->services[i].name, &oom);
        s->endpoint = dup_str(y->services[i].endpoint, &oom);
        s->pub_endpoint = dup_str(y->services[i].pub_endpoint, &oom);
        m->services[m->n_services++] = s;
    }
    if (oom) {
        cpm_errf(err, errlen, "registry: out of memory");
        return -1;
    }
    if (load_keys(m, y, dir, err, errlen) != 0)
        return -1;
    return build_key_history(m, y, dir, err, errlen);
}

/* key_revoked: the wire must refuse the key too, so its id joins
 * revoked_keys (once). -1 only when out of memory. */
static int revoke_current(Cpm__Registry *doc, const Cpm__Member *m)
{
    char kid[CPM_KEY_ID_LEN + 1];
    cpm_member_key_id(m, kid);
    for (size_t i = 0; i < doc->n_revoked_keys; i++)
        if (strcmp(doc->revoked_keys[i], kid) == 0)
            return 0;
    if (!(doc->revoked_keys[doc->n_revoked_keys] = strdup(kid)))
        return -1;
    doc->n_revoked_keys++;
    return 0;
}

static int build_doc(Cpm__Registry *doc, const y_registry_t *y, const char *dir, char *err,
                     size_t errlen)
{
    if (blank(y->mesh) || !y->version || !y->members) {
        cpm_errf(err, errlen, "registry: missing required field %s",
                 blank(y->mesh) ? "mesh"
                 : !y->version  ? "version"
                                : "members");
        return -1;
    }
    doc->issued_ms = cpm_now_ms();
    if (y->issued && parse_issued(y->issued, &doc->issued_ms) != 0) {
        cpm_errf(err, errlen,
                 "registry: issued '%s' is not a time (Unix ms, YYYY-MM-DD or "
                 "YYYY-MM-DDTHH:MM:SSZ)",
                 y->issued);
        return -1;
    }
    bool oom = false;
    doc->version = *y->version;
    doc->mesh = dup_str(y->mesh, &oom);
    doc->members = calloc(y->members_count + 1, sizeof *doc->members);
    /* room for a key id of each member whose current key is revoked */
    doc->revoked_keys =
        calloc(y->revoked_keys_count + y->members_count + 1, sizeof *doc->revoked_keys);
    if (oom || !doc->members || !doc->revoked_keys) {
        cpm_errf(err, errlen, "registry: out of memory");
        return -1;
    }
    for (unsigned i = 0; i < y->revoked_keys_count; i++, doc->n_revoked_keys++)
        doc->revoked_keys[i] = dup_str(y->revoked_keys[i], &oom);
    for (unsigned i = 0; i < y->members_count; i++) {
        if (blank(y->members[i].id)) {
            cpm_errf(err, errlen, "member #%u: missing required field id", i + 1);
            return -1;
        }
        Cpm__Member *m = malloc(sizeof *m);
        if (!m) {
            cpm_errf(err, errlen, "registry: out of memory");
            return -1;
        }
        cpm__member__init(m);
        doc->members[doc->n_members++] = m;
        if (build_member(m, &y->members[i], dir, err, errlen) != 0)
            return -1;
        if (m->key_revoked_ms > 0 && revoke_current(doc, m) != 0)
            oom = true;
    }
    if (oom) {
        cpm_errf(err, errlen, "registry: out of memory");
        return -1;
    }
    return cpm_registry_validate(doc, err, errlen);
}

int cpm_registry_from_yaml(const char *yaml_path, Cpm__Registry **out, char *err, size_t errlen)
{
    if (!yaml_path || !out) {
        cpm_errf(err, errlen, "registry source: no path");
        return -1;
    }
    *out = NULL;
    if (access(yaml_path, R_OK) != 0) {
        cpm_errf(err, errlen, "%s: cannot read (%s)", yaml_path, strerror(errno));
        return -1;
    }
    y_registry_t *y = NULL;
    char why[400];
    if (cpm_yaml_load(yaml_path, &registry_top, (void **)&y, why, sizeof why) != 0) {
        cpm_errf(err, errlen, "%s: %s", yaml_path, why);
        return -1;
    }
    if (!y) {
        cpm_errf(err, errlen, "%s: the file is empty", yaml_path);
        return -1;
    }

    char dir[4096];
    const char *slash = strrchr(yaml_path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - yaml_path) : 1,
             slash ? yaml_path : ".");
    if (slash == yaml_path)
        snprintf(dir, sizeof dir, "/");

    Cpm__Registry *doc = malloc(sizeof *doc);
    int ret = -1;
    if (!doc) {
        cpm_errf(err, errlen, "registry: out of memory");
    } else {
        cpm__registry__init(doc);
        ret = build_doc(doc, y, dir, err, errlen);
    }
    cpm_yaml_free(&registry_top, y);
    if (ret != 0) {
        cpm__registry__free_unpacked(doc, NULL);
        return -1;
    }
    *out = doc;
    return 0;
}
