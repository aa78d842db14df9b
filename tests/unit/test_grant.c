/* cpm_grant: a web grant verifies only when signed by the member's current
 * key, for this gateway, unexpired, at most 12 h; the nonce is taken once. */
#include "cpm_grant.h"
#include "cpm_util.h"
#include "fixtures/responder.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
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
    cpm_grant_nonces_t *ns = cpm_grant_nonces_new(1);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_grant_and_token),
        cmocka_unit_test(test_forged),
        cmocka_unit_test(test_expired_long_and_wrong_gateway),
        cmocka_unit_test(test_revoked_key),
        cmocka_unit_test(test_nonce_once),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
