/* test_registry: YAML source -> signed registry -> verified lookups, and every
 * way a registry can be refused (signature, encoding, validation, YAML). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_util.h"

static const char *const MEMBER_IDS[] = {"hn.doit", "hn.d.hoan-kiem", "hn.d.ba-dinh", "hn.op.1",
                                         "hn.coord"};
#define N_IDS (sizeof MEMBER_IDS / sizeof MEMBER_IDS[0])

/* One temp folder per run: fixtures copied in, keys generated under keys/. */
static char tmpdir[256];
static cpm_identity_t ids[N_IDS];
static uint8_t root_pk[32], root_sk[64];

static void path_in_tmp(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static int copy_fixtures(void)
{
    const char *src = getenv("CPM_SOURCE_DIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tests/unit/fixtures/registry", src ? src : ".");
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".yaml"))
            continue;
        char from[1024], to[1024];
        uint8_t *buf = NULL;
        size_t len = 0;
        snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
        path_in_tmp(to, sizeof to, e->d_name);
        rc =
            cpm_read_file(from, 1 << 20, &buf, &len) == 0 ? cpm_write_file(to, buf, len, 0644) : -1;
        free(buf);
    }
    closedir(d);
    return rc;
}

static int group_setup(void **state)
{
    if (sodium_init() < 0)
        return -1;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cpm_test_registry.XXXXXX");
    if (!mkdtemp(tmpdir) || copy_fixtures() != 0)
        return -1;
    char keys[512];
    cpm_error_t e;
    path_in_tmp(keys, sizeof keys, "keys");
    for (size_t i = 0; i < N_IDS; i++)
        if (cpm_identity_generate(&ids[i], MEMBER_IDS[i]) != 0 ||
            cpm_identity_save(&ids[i], keys, 0, &e) != 0) {
            fprintf(stderr, "cannot make keys: %s\n", e.message);
            return -1;
        }
    /* a key file that exists but is not one */
    char garbage[600];
    snprintf(garbage, sizeof garbage, "%s/garbage.public", keys);
    if (cpm_write_file(garbage, "not json\n", 9, 0644) != 0)
        return -1;
    crypto_sign_keypair(root_pk, root_sk);
    return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int group_teardown(void **state)
{
    for (size_t i = 0; i < N_IDS; i++)
        cpm_identity_wipe(&ids[i]);
    sodium_memzero(root_sk, sizeof root_sk);
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ------------------------------------------------------------------ */

static int yaml_build(const char *fixture, Cpm__Registry **doc, char *err, size_t errlen)
{
    char path[512];
    path_in_tmp(path, sizeof path, fixture);
    return cpm_registry_from_yaml(path, doc, err, errlen);
}

static Cpm__Registry *good_doc(void)
{
    Cpm__Registry *doc = NULL;
    char err[512] = "";
    int rc = yaml_build("good.yaml", &doc, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "good.yaml: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(doc);
    return doc;
}

static void signed_good(uint8_t **buf, size_t *len)
{
    Cpm__Registry *doc = good_doc();
    assert_int_equal(cpm_registry_sign(doc, root_sk, buf, len), 0);
    cpm__registry__free_unpacked(doc, NULL);
}

static Cpm__Member *member_of(Cpm__Registry *doc, const char *id)
{
    for (size_t i = 0; i < doc->n_members; i++)
        if (strcmp(doc->members[i]->id, id) == 0)
            return doc->members[i];
    fail_msg("no member %s", id);
    return NULL;
}

static void replace(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
    assert_non_null(*field);
}

/* The loader through its error struct: the code is want, the sentence goes
 * to err (the sentences are what the tests below check, unchanged). */
static cpm_registry_t *load_msg(const char *path, const uint8_t pk[32], int want, char *err,
                                size_t errlen)
{
    cpm_registry_t *r = NULL;
    cpm_error_t e = {0};
    assert_int_equal(cpm_registry_load(path, pk, &r, &e), want);
    assert_string_equal(e.field, "registry");
    snprintf(err, errlen, "%s", e.message);
    return r;
}

static void assert_has(const char *err, const char *part)
{
    if (!strstr(err, part))
        fail_msg("error \"%s\" does not contain \"%s\"", err, part);
}

/* ---- the good path ----------------------------------------------------------- */

static void test_round_trip(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char path[512];
    signed_good(&buf, &len);
    path_in_tmp(path, sizeof path, "registry.signed");
    assert_int_equal(cpm_write_file(path, buf, len, 0644), 0);
    free(buf);

    cpm_registry_t *r = NULL;
    cpm_error_t e = {0};
    if (cpm_registry_load(path, root_pk, &r, &e) != 0)
        fail_msg("load: %s", e.message);
    assert_int_equal(cpm_registry_version(r), 3);
    const Cpm__Registry *doc = cpm_registry_doc(r);
    assert_string_equal(doc->mesh, "hanoi-local");
    assert_int_equal(doc->n_members, N_IDS);
    assert_int_equal(doc->issued_ms, 1751328000000LL); /* 2025-07-01T00:00:00Z */

    for (size_t i = 0; i < N_IDS; i++) {
        const Cpm__Member *m = cpm_registry_member(r, MEMBER_IDS[i]);
        assert_non_null(m);
        assert_string_equal(m->id, MEMBER_IDS[i]);
        assert_memory_equal(m->sign_pk.data, ids[i].sign_pk, 32);
        assert_ptr_equal(cpm_registry_member_by_curve(r, ids[i].curve_pk), m);
        char kid[CPM_KEY_ID_LEN + 1];
        cpm_member_key_id(m, kid);
        assert_string_equal(kid, ids[i].key_id);
        assert_false(cpm_registry_key_revoked(r, kid));
    }
    assert_null(cpm_registry_member(r, "hn.nobody"));
    assert_null(cpm_registry_member(r, ""));
    assert_null(cpm_registry_member_by_curve(r, ids[0].sign_pk)); /* signing key, not CURVE */

    const Cpm__Member *doit = cpm_registry_member(r, "hn.doit");
    assert_string_equal(doit->ticket_prefix, "DOIT");
    assert_string_equal(doit->role, "city");
    const Cpm__ServiceEndpoint *s = cpm_member_service(doit, "routing");
    assert_non_null(s);
    assert_string_equal(s->endpoint, "tcp://127.0.0.1:7110");
    assert_string_equal(s->pub_endpoint, "tcp://127.0.0.1:7111");
    assert_null(cpm_member_service(doit, "inspection"));

    assert_ptr_equal(cpm_registry_area_office(r, "hoan-kiem"),
                     cpm_registry_member(r, "hn.d.hoan-kiem"));
    assert_ptr_equal(cpm_registry_area_office(r, "ba-dinh"),
                     cpm_registry_member(r, "hn.d.ba-dinh"));
    assert_null(cpm_registry_area_office(r, "tay-ho"));
    assert_null(cpm_registry_area_office(r, ""));

    assert_true(cpm_registry_key_revoked(r, "0123456789abcdef"));
    assert_false(cpm_registry_key_revoked(r, "0123456789abcdee"));

    cpm_registry_destroy(&r);
    assert_null(r);
    cpm_registry_destroy(&r); /* safe twice */
}

static void test_may_send_matrix(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[512] = "";
    signed_good(&buf, &len);
    cpm_registry_t *r = cpm_registry_from_signed(buf, len, root_pk, err, sizeof err);
    free(buf);
    assert_non_null(r);
    const struct {
        const char *member, *type, *service;
        bool want;
    } cases[] = {
        /* [case_batch@routing, events_fetch@*] */
        {"hn.doit", "case_batch", "routing", true},
        {"hn.doit", "case_batch", "intake", false},
        {"hn.doit", "events_fetch", "routing", true},
        {"hn.doit", "events_fetch", "inspection", true},
        {"hn.doit", "submit_complaint", "intake", false},
        {"hn.doit", "case_batc", "routing", false},
        {"hn.doit", "case_batch_x", "routing", false},
        {"hn.doit", "case_batch", "routin", false},
        {"hn.doit", "case_batch", "routingx", false},
        /* [*@intake, update_batch@routing] */
        {"hn.d.hoan-kiem", "submit_complaint", "intake", true},
        {"hn.d.hoan-kiem", "health_query", "intake", true},
        {"hn.d.hoan-kiem", "update_batch", "routing", true},
        {"hn.d.hoan-kiem", "case_batch", "routing", false},
        {"hn.d.hoan-kiem", "update_batch", "inspection", false},
        /* no rules at all */
        {"hn.d.ba-dinh", "submit_complaint", "intake", false},
        {"hn.d.ba-dinh", "health_query", "routing", false},
        /* [*@*] */
        {"hn.coord", "health_query", "routing", true},
        {"hn.coord", "case_action", "inspection", true},
        {"hn.op.1", "submit_complaint", "intake", true},
        {"hn.op.1", "record_consultation", "intake", true},
        {"hn.op.1", "submit_complaint", "routing", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const Cpm__Member *m = cpm_registry_member(r, cases[i].member);
        assert_non_null(m);
        if (cpm_member_may_send(m, cases[i].type, cases[i].service) != cases[i].want)
            fail_msg("may_send(%s, %s@%s) should be %d", cases[i].member, cases[i].type,
                     cases[i].service, cases[i].want);
    }
    assert_false(cpm_member_may_send(NULL, "case_batch", "routing"));
    cpm_registry_destroy(&r);
}

/* ---- signature and encoding ---------------------------------------------------- */

static void expect_refused(const uint8_t *buf, size_t len, const uint8_t *pk, const char *part)
{
    char err[512] = "";
    cpm_registry_t *r = cpm_registry_from_signed(buf, len, pk, err, sizeof err);
    if (r)
        fail_msg("registry accepted; expected an error containing \"%s\"", part);
    assert_has(err, part);
}

static void test_bad_signature(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    signed_good(&buf, &len);
    buf[len - 1] ^= 0x01; /* the signature is the last field */
    expect_refused(buf, len, root_pk, "signature does not verify");
    free(buf);
}

static void test_tampered_bytes(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    signed_good(&buf, &len);
    uint8_t *m = memmem(buf, len, "DOIT", 4); /* inside the registry bytes */
    assert_non_null(m);
    m[0] = 'X';
    expect_refused(buf, len, root_pk, "signature does not verify");
    free(buf);
}

static void test_wrong_root(void **state)
{
    uint8_t *buf = NULL, other_pk[32], other_sk[64];
    size_t len = 0;
    crypto_sign_keypair(other_pk, other_sk);
    signed_good(&buf, &len);
    expect_refused(buf, len, other_pk, "signature does not verify");
    free(buf);
}

static void test_truncated(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char path[512], err[512] = "";
    signed_good(&buf, &len);
    expect_refused(buf, 0, root_pk, "empty");
    expect_refused(buf, 1, root_pk, "cannot decode");
    expect_refused(buf, len / 2, root_pk, "cannot decode");
    expect_refused(buf, len - 1, root_pk, "cannot decode");
    /* cut exactly before the signature field: a well-formed frame without one */
    expect_refused(buf, len - 66, root_pk, "signature is 0 bytes");

    path_in_tmp(path, sizeof path, "truncated.signed");
    assert_int_equal(cpm_write_file(path, buf, len - 10, 0644), 0);
    assert_null(load_msg(path, root_pk, CPM_E_INVALID, err, sizeof err));
    assert_has(err, "cannot decode");
    assert_has(err, "truncated.signed");
    free(buf);
}

static void test_missing_file_and_oversize(void **state)
{
    char err[512] = "";
    assert_null(
        load_msg("/nonexistent/registry.signed", root_pk, CPM_E_NOT_FOUND, err, sizeof err));
    assert_has(err, "cannot read");
    assert_has(err, "/nonexistent/registry.signed");

    uint8_t *big = calloc(1, CPM_REGISTRY_MAX + 1);
    assert_non_null(big);
    expect_refused(big, CPM_REGISTRY_MAX + 1, root_pk, "over the limit");
    free(big);
}

/* A correctly signed blob that is not a Registry: refused as undecodable, but
 * the same blob with a bad signature is refused for the signature, showing the
 * registry bytes are never parsed before the signature holds. */
static void test_signature_checked_before_parse(void **state)
{
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    uint8_t msg[sizeof CPM_REGISTRY_DOMAIN + sizeof junk], sig[64];
    memcpy(msg, CPM_REGISTRY_DOMAIN, sizeof CPM_REGISTRY_DOMAIN);
    memcpy(msg + sizeof CPM_REGISTRY_DOMAIN, junk, sizeof junk);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, root_sk);

    Cpm__SignedRegistry sr = CPM__SIGNED_REGISTRY__INIT;
    sr.registry.data = (uint8_t *)junk;
    sr.registry.len = sizeof junk;
    sr.signature.data = sig;
    sr.signature.len = sizeof sig;
    uint8_t out[256];
    size_t n = cpm__signed_registry__pack(&sr, out);
    expect_refused(out, n, root_pk, "cannot be decoded");
    sig[0] ^= 1;
    n = cpm__signed_registry__pack(&sr, out);
    expect_refused(out, n, root_pk, "signature does not verify");
}

/* ---- validation ------------------------------------------------------------------ */

typedef void (*mutate_fn)(Cpm__Registry *doc);

/* Validate the mutated good document directly and through a signed load. */
static void expect_invalid(mutate_fn mutate, const char *part1, const char *part2)
{
    Cpm__Registry *doc = good_doc();
    char err[512] = "";
    assert_int_equal(cpm_registry_validate(doc, err, sizeof err), 0);
    mutate(doc);
    assert_int_equal(cpm_registry_validate(doc, err, sizeof err), -1);
    assert_has(err, part1);
    assert_has(err, part2);

    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(cpm_registry_sign(doc, root_sk, &buf, &len), 0);
    expect_refused(buf, len, root_pk, part2);
    free(buf);
    cpm__registry__free_unpacked(doc, NULL);
}

static void dup_id(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.op.1")->id, "hn.doit");
}
static void dup_curve(Cpm__Registry *d)
{
    memcpy(member_of(d, "hn.op.1")->curve_pk.data, member_of(d, "hn.doit")->curve_pk.data, 32);
}
static void dup_sign(Cpm__Registry *d)
{
    memcpy(member_of(d, "hn.op.1")->sign_pk.data, member_of(d, "hn.doit")->sign_pk.data, 32);
}
static void dup_prefix(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.d.ba-dinh")->ticket_prefix, "DOIT");
}
static void dup_area(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.d.ba-dinh")->area, "hoan-kiem");
}
static void short_sign_key(Cpm__Registry *d)
{
    member_of(d, "hn.op.1")->sign_pk.len = 31;
}
static void long_curve_key(Cpm__Registry *d)
{
    Cpm__Member *m = member_of(d, "hn.op.1");
    free(m->curve_pk.data);
    m->curve_pk.data = calloc(1, 33);
    m->curve_pk.len = 33;
}
static void no_endpoint(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.d.ba-dinh")->services[0]->endpoint, "");
}
static void no_pub_endpoint(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.d.ba-dinh")->services[0]->pub_endpoint, "");
}
static void bad_service(Cpm__Registry *d)
{
    /* any well-formed name is a service (names are data), this is not one */
    replace(&member_of(d, "hn.d.ba-dinh")->services[0]->name, "Billing!");
}
static void service_twice(Cpm__Registry *d)
{
    Cpm__Member *m = member_of(d, "hn.doit");
    replace(&m->services[1]->name, m->services[0]->name);
}
static void rule_no_at(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.op.1")->may_send[0], "submit_complaint");
}
static void rule_empty_side(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.op.1")->may_send[0], "@intake");
}
static void rule_bad_type(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.op.1")->may_send[0], "submit_complain@intake");
}
static void rule_bad_service(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.op.1")->may_send[0], "submit_complaint@Billing!");
}
static void version_zero(Cpm__Registry *d)
{
    d->version = 0;
}
static void empty_id(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.op.1")->id, "");
}
static void bad_role(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.op.1")->role, "mayor");
}
static void office_without_area(Cpm__Registry *d)
{
    replace(&member_of(d, "hn.d.ba-dinh")->area, "");
}
static void bad_revoked(Cpm__Registry *d)
{
    replace(&d->revoked_keys[0], "not-a-key-id");
}
static void empty_mesh(Cpm__Registry *d)
{
    replace(&d->mesh, "");
}

static void test_validation_errors(void **state)
{
    expect_invalid(dup_id, "member hn.doit", "id is the same");
    expect_invalid(dup_curve, "member hn.", "curve_pk is the same as member hn.");
    expect_invalid(dup_sign, "member hn.", "sign_pk is the same as member hn.");
    expect_invalid(dup_prefix, "member hn.d.ba-dinh",
                   "ticket_prefix DOIT is the same as member hn.doit");
    expect_invalid(dup_area, "member hn.d", "area hoan-kiem is the same");
    expect_invalid(short_sign_key, "member hn.op.1", "sign_pk is 31 bytes");
    expect_invalid(long_curve_key, "member hn.op.1", "curve_pk is 33 bytes");
    expect_invalid(no_endpoint, "member hn.d.ba-dinh", "service intake: endpoint is missing");
    expect_invalid(no_pub_endpoint, "member hn.d.ba-dinh", "pub_endpoint is missing");
    expect_invalid(bad_service, "member hn.d.ba-dinh",
                   "service 'Billing!' is not a valid service name");
    expect_invalid(service_twice, "member hn.doit", "service intake is listed twice");
    expect_invalid(rule_no_at, "member hn.op.1", "may_send rule 'submit_complaint' is malformed");
    expect_invalid(rule_empty_side, "member hn.op.1", "may_send rule '@intake' is malformed");
    expect_invalid(rule_bad_type, "member hn.op.1", "unknown message type");
    expect_invalid(rule_bad_service, "member hn.op.1", "names no valid service");
    expect_invalid(version_zero, "registry", "version must be greater than 0");
    expect_invalid(empty_id, "member #4", "id is empty");
    expect_invalid(bad_role, "member hn.op.1", "role 'mayor' is unknown");
    expect_invalid(office_without_area, "member hn.d.ba-dinh", "area is missing");
    expect_invalid(bad_revoked, "not-a-key-id", "revoked_keys entry");
    expect_invalid(empty_mesh, "registry", "mesh is empty");

    char err[128] = "";
    assert_int_equal(cpm_registry_validate(NULL, err, sizeof err), -1);
    assert_has(err, "no document");
}

/* ---- YAML source ------------------------------------------------------------------ */

static void expect_yaml_error(const char *fixture, const char *part1, const char *part2)
{
    Cpm__Registry *doc = (Cpm__Registry *)1; /* must be reset to NULL */
    char err[512] = "";
    assert_int_equal(yaml_build(fixture, &doc, err, sizeof err), -1);
    assert_null(doc);
    assert_has(err, part1);
    assert_has(err, part2);
}

static void test_yaml_errors(void **state)
{
    expect_yaml_error("missing_public_key.yaml", "member hn.doit",
                      "missing required field public_key");
    expect_yaml_error("missing_id.yaml", "member #1", "missing required field id");
    expect_yaml_error("missing_version.yaml", "registry", "missing required field version");
    expect_yaml_error("unreadable_key.yaml", "member hn.doit: public_key keys/nobody.public",
                      "cannot read");
    expect_yaml_error("bad_key_file.yaml",
                      "member hn.doit: public_key keys/garbage.public: ", "garbage.public");
    expect_yaml_error("wrong_key_file.yaml", "member hn.doit: public_key keys/hn.op.1.public",
                      "is for member hn.op.1");
    expect_yaml_error("unknown_service.yaml", "member hn.doit",
                      "service 'Billing!' is not a valid");
    expect_yaml_error("missing_endpoint.yaml", "member hn.doit", "endpoint is missing");
    expect_yaml_error("malformed_may_send.yaml", "member hn.doit", "'case_batch' is malformed");
    expect_yaml_error("version_zero.yaml", "registry", "version must be greater than 0");
    expect_yaml_error("duplicate_id.yaml", "member hn.doit", "id is the same");
    expect_yaml_error("bad_issued.yaml", "issued 'last tuesday'", "is not a time");
    expect_yaml_error("unknown_key.yaml", "unknown field colour", "(in 'members')");
    expect_yaml_error("syntax_error.yaml", "syntax_error.yaml: near line 9", "libyaml");
    expect_yaml_error("empty.yaml", "empty.yaml", "empty");
    expect_yaml_error("no_such_file.yaml", "no_such_file.yaml", "cannot read");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_may_send_matrix),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_tampered_bytes),
        cmocka_unit_test(test_wrong_root),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_missing_file_and_oversize),
        cmocka_unit_test(test_signature_checked_before_parse),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_yaml_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
