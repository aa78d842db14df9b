/* gw_auth: a session from a good grant, once per grant; idle and grant
 * expiry; CSRF token and Origin checks on POST; form decoding. */
#include "cpm_grant.h"
#include "cpm_util.h"
#include "fixtures/responder.h"
#include "gw_auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cpm_identity_t root, person;

static void token_for(int64_t now, int64_t valid, char *tok)
{
    uint8_t *f = NULL;
    size_t n = 0;
    assert_int_equal(cpm_grant_sign(&person, "hn.gw", now, valid, &f, &n, NULL), 0);
    assert_int_equal(cpm_grant_token(f, n, tok, CPM_GRANT_TOKEN_MAX + 1), 0);
    free(f);
}

static void test_sessions(void **st)
{
    (void)st;
    assert_int_equal(cpm_identity_generate(&root, "root"), 0);
    assert_int_equal(cpm_identity_generate(&person, "coordinator.hn.doit"), 0);
    Cpm__Member *ms[1] = {resp_member(&person, "coordinator", NULL, 0)};
    cpm_registry_t *reg = NULL;
    assert_int_equal(resp_registry(ms, 1, &root, &reg), 0);
    gw_auth_t *a = NULL;
    assert_int_equal(gw_auth_new(&a), 0);
    int64_t now = cpm_now_ms();
    char tok[CPM_GRANT_TOKEN_MAX + 1], sid[GW_AUTH_ID_HEX + 1], sid2[GW_AUTH_ID_HEX + 1];
    cpm_error_t err = {0};
    token_for(now, 2 * GW_AUTH_IDLE_MS, tok);
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid, &err), 0);
    assert_int_equal(strlen(sid), 64);
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid2, &err), CPM_E_FORBIDDEN);
    assert_int_equal(gw_auth_login(a, reg, "hn.gw2", tok, now, sid2, &err), CPM_E_FORBIDDEN);
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", "%%%", now, sid2, &err), CPM_E_INVALID);
    gw_session_t s;
    bool expired;
    assert_int_equal(gw_auth_find(a, sid, now + 1000, &s, &expired), 0);
    assert_string_equal(s.grant.member, "coordinator.hn.doit");
    assert_true(s.frame_len > 0);
    /* CSRF: the session's token and this site's Origin, both needed */
    char body[200];
    snprintf(body, sizeof body, "x=1&csrf=%s", s.csrf);
    gw_kv_t h[2] = {{"Host", "127.0.0.1:8080"}, {"Origin", "http://127.0.0.1:8080"}};
    gw_req_t rq = {.method = "POST",
                   .path = "/logout",
                   .headers = h,
                   .n_headers = 2,
                   .body = (const uint8_t *)body,
                   .body_len = strlen(body)};
    const char *why = NULL;
    assert_int_equal(gw_auth_check_post(&rq, &s, &why), 0);
    h[1].value = "http://evil.example";
    assert_int_equal(gw_auth_check_post(&rq, &s, &why), -1);
    h[1].value = "http://127.0.0.1:8080.evil.example";
    assert_int_equal(gw_auth_check_post(&rq, &s, &why), -1);
    rq.n_headers = 1; /* neither Origin nor Referer */
    assert_int_equal(gw_auth_check_post(&rq, &s, &why), -1);
    rq.n_headers = 2, h[1].value = "http://127.0.0.1:8080";
    body[strlen(body) - 1] ^= 1;
    assert_int_equal(gw_auth_check_post(&rq, &s, &why), -1);
    gw_session_clear(&s);
    /* idle expiry, then a session past its grant */
    assert_int_equal(gw_auth_find(a, sid, now + 1000 + GW_AUTH_IDLE_MS, &s, &expired),
                     CPM_E_NOT_FOUND);
    assert_true(expired);
    token_for(now, 60000, tok);
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid, &err), 0);
    assert_int_equal(gw_auth_find(a, sid, now + 59000, &s, &expired), 0);
    gw_session_clear(&s);
    assert_int_equal(gw_auth_find(a, sid, now + 60000, &s, &expired), CPM_E_NOT_FOUND);
    /* logout forgets it */
    token_for(now, 60000, tok);
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid, &err), 0);
    gw_auth_logout(a, sid);
    assert_int_equal(gw_auth_find(a, sid, now, &s, &expired), CPM_E_NOT_FOUND);
    char out[16];
    assert_int_equal(gw_form_get("a=1&token=ab%2Bc+d", "token", out, sizeof out), 0);
    assert_string_equal(out, "ab+c d");
    assert_int_equal(gw_form_get("a=1", "token", out, sizeof out), -1);
    gw_auth_destroy(&a);
    cpm_registry_destroy(&reg);
    free(ms[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sessions)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
