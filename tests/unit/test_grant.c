/* cpm_grant: a web grant verifies only when signed by the member's current
 * key, for this gateway, unexpired, at most 12 h; the nonce is taken once. */
#include "cpm_envelope.h"
#include "cpm_grant.h"
#include "cpm_util.h"
#include "fixtures/responder.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cpm_identity_t root, person, gwid, other;

static cpm_registry_t *reg_with(const char *revoked_key)
{
    Cpm__Member *ms[3] = {resp_member(&person, "coordinator", NULL, 0),
                          resp_member(&gwid, "gateway", NULL, 0),
                          resp_member(&other, "officer", NULL, 0)};
    Cpm__Registry doc = CPM__REGISTRY__INIT;
    doc.version = 1;
    doc.issued_ms = cpm_now_ms() - 60000;
    doc.mesh = "hanoi-test";
    doc.members = ms;
    doc.n_members = 3;
    char *rk[1] = {(char *)revoked_key};
    if (revoked_key)
        doc.revoked_keys = rk, doc.n_revoked_keys = 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    assert_int_equal(cpm_registry_sign(&doc, root.sign_sk, &buf, &len), 0);
    cpm_registry_t *r = cpm_registry_from_signed(buf, len, root.sign_pk, err, sizeof err);
    free(buf);
    for (int i = 0; i < 3; i++)
        free(ms[i]);
    assert_non_null(r);
    return r;
}

static int setup(void **st)
{
    (void)st;
    assert_int_equal(cpm_identity_generate(&root, "root"), 0);
    assert_int_equal(cpm_identity_generate(&person, "coordinator.hn.doit"), 0);
    assert_int_equal(cpm_identity_generate(&gwid, "hn.gw"), 0);
    assert_int_equal(cpm_identity_generate(&other, "officer.hn.d.ba-dinh"), 0);
    return 0;
}

static int verify(const cpm_registry_t *r, const uint8_t *f, size_t n, const char *gw, int64_t now,
                  cpm_grant_t *g)
{
    cpm_error_t err = {0};
    return cpm_grant_verify(r, f, n, gw, now, g, &err);
}

static void test_good_grant_and_token(void **st)
{
    (void)st;
    cpm_registry_t *r = reg_with(NULL);
    int64_t now = cpm_now_ms();
    uint8_t *f = NULL, *back = NULL;
    size_t n = 0, bn = 0;
    assert_int_equal(cpm_grant_sign(&person, "hn.gw", now, 3600000, &f, &n, NULL), 0);
    char tok[CPM_GRANT_TOKEN_MAX + 1];
    assert_int_equal(cpm_grant_token(f, n, tok, sizeof tok), 0);
    assert_int_equal(cpm_grant_untoken(tok, &back, &bn), 0);
    assert_int_equal(bn, n);
    cpm_grant_t g;
    assert_int_equal(verify(r, back, bn, "hn.gw", now, &g), 0);
    assert_string_equal(g.member, "coordinator.hn.doit");
    assert_string_equal(g.role, "coordinator");
    assert_int_equal(g.not_after_ms, now + 3600000);
    free(back);
    assert_int_equal(cpm_grant_untoken("not base64 !", &back, &bn) == 0, 0);
    free(f), free(back);
    cpm_registry_destroy(&r);
}

static void test_forged(void **st)
{
    (void)st;
    cpm_registry_t *r = reg_with(NULL);
    int64_t now = cpm_now_ms();
    uint8_t *f = NULL;
    size_t n = 0;
    cpm_grant_t g;
    /* a key that is not the member's: another member signs with its id */
    cpm_identity_t forger = other;
    snprintf(forger.id, sizeof forger.id, "%s", person.id);
    assert_int_equal(cpm_grant_sign(&forger, "hn.gw", now, 3600000, &f, &n, NULL), 0);
    assert_int_equal(verify(r, f, n, "hn.gw", now, &g), CPM_E_FORBIDDEN);
    free(f);
    /* one byte changed in a good grant */
    assert_int_equal(cpm_grant_sign(&person, "hn.gw", now, 3600000, &f, &n, NULL), 0);
    f[n / 2] ^= 1;
    assert_int_not_equal(verify(r, f, n, "hn.gw", now, &g), 0);
    free(f);
    assert_int_equal(verify(r, (const uint8_t *)"junk", 4, "hn.gw", now, &g), CPM_E_BAD_MESSAGE);
    cpm_registry_destroy(&r);
}

static void test_expired_long_and_wrong_gateway(void **st)
{
    (void)st;
    cpm_registry_t *r = reg_with(NULL);
    int64_t now = cpm_now_ms();
    uint8_t *f = NULL;
    size_t n = 0;
    cpm_grant_t g;
    assert_int_equal(cpm_grant_sign(&person, "hn.gw", now, 60000, &f, &n, NULL), 0);
    assert_int_equal(verify(r, f, n, "hn.gw", now + 59999, &g), 0);
    assert_int_equal(verify(r, f, n, "hn.gw", now + 60000, &g), CPM_E_FORBIDDEN); /* expired */
    assert_int_equal(verify(r, f, n, "hn.gw2", now, &g), CPM_E_FORBIDDEN); /* other gateway */
    free(f);
    cpm_error_t err = {0};
    assert_int_equal(cpm_grant_sign(&person, "hn.gw", now, CPM_GRANT_MAX_MS + 1, &f, &n, &err),
                     CPM_E_INVALID);
    assert_string_equal(err.field, "hours");
    cpm_registry_destroy(&r);
}

static void test_revoked_key(void **st)
{
    (void)st;
    cpm_registry_t *r = reg_with(person.key_id);
    int64_t now = cpm_now_ms();
    uint8_t *f = NULL;
    size_t n = 0;
    cpm_grant_t g;
    assert_int_equal(cpm_grant_sign(&person, "hn.gw", now, 3600000, &f, &n, NULL), 0);
    assert_int_equal(verify(r, f, n, "hn.gw", now, &g), CPM_E_FORBIDDEN);
    free(f);
    cpm_registry_destroy(&r);
}

static void test_nonce_once(void **st)
{
    (void)st;
    cpm_registry_t *r = reg_with(NULL);
    int64_t now = cpm_now_ms();
    uint8_t *f = NULL;
    size_t n = 0;
    cpm_grant_t g, g2;
    cpm_grant_nonces_t *ns = cpm_grant_nonces_new(1, 2);
    assert_int_equal(cpm_grant_sign(&person, "hn.gw", now, 60000, &f, &n, NULL), 0);
    assert_int_equal(verify(r, f, n, "hn.gw", now, &g), 0);
    assert_int_equal(cpm_grant_nonce_use(ns, &g, now), 0);
    assert_int_equal(cpm_grant_nonce_use(ns, &g, now + 1), CPM_E_CONFLICT); /* replayed */
    free(f);
    assert_int_equal(cpm_grant_sign(&person, "hn.gw", now, 60000, &f, &n, NULL), 0);
    assert_int_equal(verify(r, f, n, "hn.gw", now, &g2), 0);
    assert_int_equal(cpm_grant_nonce_use(ns, &g2, now), CPM_E_UNAVAILABLE); /* full: refused */
    assert_int_equal(cpm_grant_nonce_use(ns, &g2, now + 60000), 0);         /* the first expired */
    free(f);
    cpm_grant_nonces_destroy(&ns);
    cpm_registry_destroy(&r);
}

/* A grant with times of the signer's choosing (cpm_grant_sign would not
 * make these). */
static void sign_raw(const cpm_identity_t *id, const char *gw, int64_t issued, int64_t not_after,
                     uint8_t **f, size_t *n)
{
    uint8_t nonce[CPM_GRANT_NONCE] = {1, 2, 3};
    Cpm__WebGrant g = CPM__WEB_GRANT__INIT;
    g.member = (char *)id->id;
    g.gateway = (char *)gw;
    g.nonce = (ProtobufCBinaryData){sizeof nonce, nonce};
    g.issued_ms = issued;
    g.not_after_ms = not_after;
    char recipient[160];
    snprintf(recipient, sizeof recipient, "%s/gateway", gw);
    cpm_sender_t s;
    cpm_sender_init(&s, id, CPM_GRANT_INSTANCE);
    assert_int_equal(
        cpm_sender_seal(&s, CPM__MSG_TYPE__MSG_WEB_GRANT, recipient, NULL, &g.base, NULL, f, n), 0);
}

/* issued_ms = -1, not_after_ms = INT64_MAX: not_after - issued wraps to a
 * negative number, which passed the 12-hour bound and made a grant that
 * never expires. Every time is now bounded against our clock first. */
static void test_overflow_times(void **st)
{
    (void)st;
    cpm_registry_t *r = reg_with(NULL);
    int64_t now = cpm_now_ms();
    const int64_t h12 = CPM_GRANT_MAX_MS, sk = CPM_GRANT_SKEW_MS;
    const struct {
        int64_t issued, not_after;
        int ok;
    } cases[] = {
        {-1, INT64_MAX, 0},
        {INT64_MIN, INT64_MAX, 0},
        {INT64_MIN, now + 60000, 0},
        {0, now + 60000, 0},
        {-1, now + 60000, 0},
        {now - h12 - 1, now + 60000, 0},     /* issued too long ago */
        {now + sk + 1, now + sk + 60000, 0}, /* issued in the future */
        {now, now + h12 + sk + 1, 0},        /* ends too late */
        {now, now, 0},
        {now, now - 1, 0},
        {now - h12, now + 1, 0}, /* more than 12 h long */
        {now - 1000, now + h12 - 1000, 1},
        {now + sk, now + sk + h12, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *f = NULL;
        size_t n = 0;
        cpm_grant_t g;
        sign_raw(&person, "hn.gw", cases[i].issued, cases[i].not_after, &f, &n);
        int rc = verify(r, f, n, "hn.gw", now, &g);
        if (rc != (cases[i].ok ? 0 : CPM_E_FORBIDDEN))
            fail_msg("case %zu: issued %lld not_after %lld: %d", i, (long long)cases[i].issued,
                     (long long)cases[i].not_after, rc);
        /* and a day later, nothing of these is still good */
        assert_int_equal(verify(r, f, n, "hn.gw", now + 2 * h12, &g), CPM_E_FORBIDDEN);
        free(f);
    }
    cpm_registry_destroy(&r);
}

/* A grant names its gateway; only a member of role gateway may be one (else
 * any member could log in people's grants made out to it, or send
 * on_behalf). */
static void test_gateway_role(void **st)
{
    (void)st;
    cpm_registry_t *r = reg_with(NULL);
    int64_t now = cpm_now_ms();
    uint8_t *f = NULL;
    size_t n = 0;
    cpm_grant_t g;
    cpm_error_t err = {0};
    /* a grant made out to the officer: signed right, for that "gateway" */
    assert_int_equal(cpm_grant_sign(&person, other.id, now, 60000, &f, &n, NULL), 0);
    assert_int_equal(cpm_grant_verify(r, f, n, other.id, now, &g, &err), CPM_E_FORBIDDEN);
    assert_non_null(strstr(err.message, "not a gateway"));
    assert_string_equal(err.field, "on_behalf");
    free(f);
    /* and for a name not in the registry */
    assert_int_equal(cpm_grant_sign(&person, "nobody.gw", now, 60000, &f, &n, NULL), 0);
    assert_int_equal(verify(r, f, n, "nobody.gw", now, &g), CPM_E_FORBIDDEN);
    free(f);
    assert_int_equal(cpm_grant_sign(&person, "hn.gw", now, 60000, &f, &n, NULL), 0);
    assert_int_equal(verify(r, f, n, "hn.gw", now, &g), 0);
    free(f);
    cpm_registry_destroy(&r);
}

/* One member's nonces are limited, so one member cannot fill the table for
 * everyone; a nonce is kept at most 12 h whatever its grant says. */
static void test_nonce_per_member(void **st)
{
    (void)st;
    int64_t now = cpm_now_ms();
    cpm_grant_nonces_t *ns = cpm_grant_nonces_new(16, 2);
    cpm_grant_t g = {.member = "a", .not_after_ms = INT64_MAX};
    for (int i = 0; i < 2; i++) {
        g.nonce[0] = (uint8_t)i;
        assert_int_equal(cpm_grant_nonce_use(ns, &g, now), 0);
    }
    g.nonce[0] = 9;
    assert_int_equal(cpm_grant_nonce_use(ns, &g, now), CPM_E_FORBIDDEN); /* a's limit */
    cpm_grant_t b = {.member = "b", .nonce = {7}, .not_after_ms = now + 1000};
    assert_int_equal(cpm_grant_nonce_use(ns, &b, now), 0); /* others still log in */
    /* 12 h on, a's nonces are forgotten although their grants said never */
    assert_int_equal(cpm_grant_nonce_use(ns, &g, now + CPM_GRANT_MAX_MS), 0);
    cpm_grant_nonces_destroy(&ns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_grant_and_token),
        cmocka_unit_test(test_forged),
        cmocka_unit_test(test_expired_long_and_wrong_gateway),
        cmocka_unit_test(test_revoked_key),
        cmocka_unit_test(test_nonce_once),
        cmocka_unit_test(test_overflow_times),
        cmocka_unit_test(test_gateway_role),
        cmocka_unit_test(test_nonce_per_member),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
