/* cpmctl keygen / registry: identities and the signed registry. These work on
 * files only and need no running mesh. */
#include "ctl_args.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char keygen_usage[] =
    "usage: cpmctl keygen --id ID [--id ID ...] [--dir DIR] [--force] [--json]\n"
    "\n"
    "Creates ID's Ed25519 signing key and Curve25519 transport key:\n"
    "DIR/ID.secret (mode 0600) and DIR/ID.public. DIR defaults to the home's keys/.\n"
    "Refuses to overwrite an existing secret unless --force. With several --id (at\n"
    "most 64), all are checked first (an empty id or one with '/' makes none), then\n"
    "each is made in turn: the first refused stops there, the ones before it kept.\n";

/* At most this many --id in one call. */
#define KEYGEN_IDS_MAX 64

static const char registry_usage[] =
    "usage: cpmctl registry create --source FILE.yaml --root-key ROOT.secret --out FILE\n"
    "       cpmctl registry show [FILE] [--json]\n"
    "       cpmctl registry verify [FILE] [--root ROOT.public]\n"
    "\n"
    "create  builds the registry from its YAML source (members, keys, services,\n"
    "        what each may send, revoked keys), validates it and signs it with\n"
    "        the root key. Nodes pick up a newer version without a restart.\n"
    "show    prints a registry (after checking its signature).\n"
    "verify  checks the signature and the content; exit 0 when good.\n"
    "FILE defaults to the home's registry.signed, ROOT to the home's keys/root.public.\n";

static int keygen_one(const ctl_opts_t *o, const char *id, const char *dir, int force)
{
    cpm_error_t e = {0}, kerr = {0};
    cpm_identity_t ident;
    if (cpm_identity_generate(&ident, id) != 0) {
        cpm_error_set(&e, CPM_E_INVALID, "id", "'%s' is not a valid member id", id);
        return ctl_fail(NULL, o->json, &e);
    }
    int rc = cpm_identity_save(&ident, dir, force, &kerr);
    if (rc != 0) {
        cpm_identity_wipe(&ident);
        cpm_error_set(&e, rc, "id", "%s", kerr.message);
        return ctl_fail(NULL, o->json, &e);
    }
    if (o->json)
        ctl_print_json(
            json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "id", id, "key_id", ident.key_id, "dir", dir));
    else
        printf("%s: key id %s, files in %s\n", id, ident.key_id, dir);
    cpm_identity_wipe(&ident);
    return 0;
}

int ctl_cmd_keygen(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"id", required_argument, 0, 'i'},
                                             {"dir", required_argument, 0, 'd'},
                                             {"force", no_argument, 0, 'f'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    const char *ids[KEYGEN_IDS_MAX];
    const char *dir = NULL;
    int n = 0, force = 0, opt;
    cpm_error_t e = {0};
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 'i':
            if (n == KEYGEN_IDS_MAX) {
                cpm_error_set(&e, CPM_E_INVALID, "id", "at most %d --id in one call",
                              KEYGEN_IDS_MAX);
                return ctl_fail(NULL, o.json, &e);
            }
            /* every id checked before any key is made */
            if (!*optarg || strchr(optarg, '/')) {
                cpm_error_set(&e, CPM_E_INVALID, "id", "--id may not be empty or contain '/': '%s'",
                              optarg);
                return ctl_fail(NULL, o.json, &e);
            }
            ids[n++] = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'f':
            force = 1;
            break;
        default:
            return ctl_usage(keygen_usage, opt == 'h' ? 0 : 2);
        }
    }
    if (n == 0) {
        cpm_error_set(&e, CPM_E_INVALID, "id", "--id is required");
        return ctl_fail(NULL, o.json, &e);
    }
    char home[1024], keys[1100];
    ctl_home(o.home, home, sizeof home);
    snprintf(keys, sizeof keys, "%s/keys", home);
    for (int i = 0; i < n; i++) {
        int rc = keygen_one(&o, ids[i], dir ? dir : keys, force);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int load_root(const char *home, const char *root_path, uint8_t pk[32], cpm_error_t *e)
{
    char path[1200];
    cpm_public_t root;
    snprintf(path, sizeof path, "%s/keys/root.public", home);
    cpm_error_t kerr;
    if (cpm_public_load(&root, root_path ? root_path : path, &kerr) != 0)
        return cpm_error_set(e, CPM_E_NOT_FOUND, "root", "root key: %s", kerr.message);
    memcpy(pk, root.sign_pk, 32);
    return 0;
}

/* The member's past keys and key revocation time (docs/protocol.md 13.1):
 * into jm, or printed below the member's line. */
static void show_key_history(bool json, const cpm_registry_t *r, const Cpm__Member *m, json_t *jm)
{
    char kid[CPM_KEY_ID_LEN + 1], t1[40], t2[40];
    json_t *past = json_array();
    for (size_t k = 0; k < m->n_past_keys; k++) {
        const Cpm__PastKey *p = m->past_keys[k];
        cpm_key_id(p->sign_pk.data, kid);
        bool revoked = cpm_registry_key_revoked(r, kid);
        json_array_append_new(past, json_pack("{s:s,s:I,s:I,s:s,s:b}", "key_id", kid,
                                              "valid_from_ms", (json_int_t)p->valid_from_ms,
                                              "valid_until_ms", (json_int_t)p->valid_until_ms,
                                              "reason", ctl_utf8(p->reason), "revoked", revoked));
        if (!json)
            printf("  %-28s past key %s%s valid %s .. %s  %s\n", "", kid, revoked ? " REVOKED" : "",
                   p->valid_from_ms ? ctl_time_vn(p->valid_from_ms, t1) : "start",
                   ctl_time_vn(p->valid_until_ms, t2), ctl_safe(p->reason));
    }
    json_object_set_new(jm, "past_keys", past);
    json_object_set_new(jm, "key_revoked_ms", json_integer(m->key_revoked_ms));
    if (!json && m->key_revoked_ms)
        printf("  %-28s current key revoked from %s\n", "", ctl_time_vn(m->key_revoked_ms, t1));
}

static void show(bool json, const cpm_registry_t *r)
{
    const Cpm__Registry *d = cpm_registry_doc(r);
    char kid[CPM_KEY_ID_LEN + 1], t[40];
    json_t *members = json_array();
    if (!json)
        printf("mesh %s  version %llu  issued %s  %zu members  %zu revoked keys\n", d->mesh,
               (unsigned long long)d->version, ctl_time_vn(d->issued_ms, t), d->n_members,
               d->n_revoked_keys);
    for (size_t i = 0; i < d->n_members; i++) {
        const Cpm__Member *m = d->members[i];
        cpm_member_key_id(m, kid);
        json_t *svcs = json_array(), *may = json_array();
        for (size_t k = 0; k < m->n_services; k++)
            json_array_append_new(svcs, json_pack("{s:s,s:s,s:s}", "name", m->services[k]->name,
                                                  "endpoint", m->services[k]->endpoint,
                                                  "pub_endpoint", m->services[k]->pub_endpoint));
        for (size_t k = 0; k < m->n_may_send; k++)
            json_array_append_new(may, json_string(m->may_send[k]));
        if (!json) {
            printf("  %-28s %-11s key %s%s", m->id, m->role, kid,
                   cpm_registry_key_revoked(r, kid) ? " REVOKED" : "");
            for (size_t k = 0; k < m->n_services; k++)
                printf("  %s=%s", m->services[k]->name, m->services[k]->endpoint);
            printf("\n");
        }
        json_t *jm =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "id", m->id, "agency", m->agency, "role",
                      m->role, "name", m->name, "key_id", kid, "services", svcs, "may_send", may);
        show_key_history(json, r, m, jm);
        json_array_append_new(members, jm);
    }
    if (json)
        ctl_print_json(json_pack("{s:b,s:s,s:I,s:o}", "ok", 1, "mesh", d->mesh, "version",
                                 (json_int_t)d->version, "members", members));
    else
        json_decref(members);
}

static int registry_create(const ctl_opts_t *o, const char *source, const char *root_key,
                           const char *out)
{
    cpm_error_t e = {0};
    char err[400];
    if (!source || !root_key || !out) {
        cpm_error_set(&e, CPM_E_INVALID,
                      !source     ? "source"
                      : !root_key ? "root-key"
                                  : "out",
                      "create needs --source, --root-key and --out");
        return ctl_fail(NULL, o->json, &e);
    }
    Cpm__Registry *doc = NULL;
    if (cpm_registry_from_yaml(source, &doc, err, sizeof err) != 0) {
        cpm_error_set(&e, CPM_E_INVALID, "source", "%s: %s", source, err);
        return ctl_fail(NULL, o->json, &e);
    }
    cpm_identity_t root;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = 0;
    cpm_error_t kerr;
    if (cpm_identity_load(&root, root_key, &kerr) != 0) {
        rc = cpm_error_set(&e, CPM_E_INVALID, "root-key", "%s", kerr.message);
    } else if (cpm_registry_sign(doc, root.sign_sk, &buf, &len) != 0 ||
               cpm_write_file(out, buf, len, 0644) != 0) {
        rc = cpm_error_set(&e, CPM_E_INTERNAL, "out", "cannot sign or write %s", out);
    }
    cpm_identity_wipe(&root);
    if (rc == 0 && o->json)
        ctl_print_json(json_pack("{s:b,s:s,s:I,s:I}", "ok", 1, "out", out, "version",
                                 (json_int_t)doc->version, "members", (json_int_t)doc->n_members));
    else if (rc == 0)
        printf("registry version %llu with %zu members signed into %s\n",
               (unsigned long long)doc->version, doc->n_members, out);
    free(buf);
    cpm__registry__free_unpacked(doc, NULL);
    return rc ? ctl_fail(NULL, o->json, &e) : 0;
}

int ctl_cmd_registry(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"source", required_argument, 0, 's'},
                                             {"root-key", required_argument, 0, 'k'},
                                             {"out", required_argument, 0, 'o'},
                                             {"root", required_argument, 0, 'r'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    const char *source = NULL, *root_key = NULL, *out = NULL, *root = NULL;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 's':
            source = optarg;
            break;
        case 'k':
            root_key = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'r':
            root = optarg;
            break;
        default:
            return ctl_usage(registry_usage, opt == 'h' ? 0 : 2);
        }
    }
    if (optind >= argc)
        return ctl_usage(registry_usage, 2);
    const char *verb = argv[optind];
    if (!strcmp(verb, "create"))
        return registry_create(&o, source, root_key, out);
    if (strcmp(verb, "show") != 0 && strcmp(verb, "verify") != 0)
        return ctl_usage(registry_usage, 2);
    char home[1024], path[1200];
    ctl_home(o.home, home, sizeof home);
    snprintf(path, sizeof path, "%s/registry.signed", home);
    const char *file = optind + 1 < argc ? argv[optind + 1] : path;
    uint8_t pk[32];
    cpm_error_t e = {0};
    if (load_root(home, root, pk, &e) != 0)
        return ctl_fail(NULL, o.json, &e);
    cpm_registry_t *r = NULL;
    cpm_error_t rerr = {0};
    if (cpm_registry_load(file, pk, &r, &rerr) != 0) {
        cpm_error_set(&e, CPM_E_INVALID, "registry", "%s: %s", file, rerr.message);
        return ctl_fail(NULL, o.json, &e);
    }
    if (!strcmp(verb, "show"))
        show(o.json, r);
    else if (o.json)
        ctl_print_json(json_pack("{s:b,s:s,s:I}", "ok", 1, "file", file, "version",
                                 (json_int_t)cpm_registry_version(r)));
    else
        printf("%s: good signature, version %llu\n", file,
               (unsigned long long)cpm_registry_version(r));
    cpm_registry_destroy(&r);
    return 0;
}
