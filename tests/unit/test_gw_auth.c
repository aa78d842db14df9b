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

static cpm_identity_t root, person, gwid;

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
    assert_int_equal(cpm_identity_generate(&gwid, "hn.gw"), 0);
    Cpm__Member *ms[2] = {resp_member(&person, "coordinator", NULL, 0),
                          resp_member(&gwid, "gateway", NULL, 0)};
    cpm_registry_t *reg = NULL;
    assert_int_equal(resp_registry(ms, 2, &root, &reg), 0);
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
    /* a raw NUL would hide every field after it: the form is refused */
    char nul[300];
    int at = snprintf(nul, sizeof nul, "csrf=%s&a=b", s.csrf);
    nul[at - 2] = 0; /* "...&a\0b" */
    rq.body = (const uint8_t *)nul, rq.body_len = (size_t)at;
    assert_int_equal(gw_auth_check_post(&rq, &s, &why), -1);
    assert_non_null(strstr(why, "NUL"));
    rq.body_len = (size_t)at - 2; /* the same bytes before it: taken */
    assert_int_equal(gw_auth_check_post(&rq, &s, &why), 0);
    rq.body = (const uint8_t *)body, rq.body_len = strlen(body);
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
    /* refused logins: a log line at most every 10 s, saying how many not */
    uint64_t quiet = 9;
    assert_true(gw_auth_refusal_log_due(a, 1000, &quiet));
    assert_int_equal(quiet, 0);
    for (int i = 0; i < 30; i++)
        assert_false(gw_auth_refusal_log_due(a, 1000 + i, &quiet));
    assert_false(gw_auth_refusal_log_due(a, 1000 + GW_AUTH_LOG_EVERY_MS - 1, &quiet));
    assert_true(gw_auth_refusal_log_due(a, 1000 + GW_AUTH_LOG_EVERY_MS, &quiet));
    assert_int_equal(quiet, 31);
    char out[16];
    assert_int_equal(gw_form_get("a=1&token=ab%2Bc+d", "token", out, sizeof out), 0);
    assert_string_equal(out, "ab+c d");
    assert_int_equal(gw_form_get("a=1", "token", out, sizeof out), -1);
    /* an escaped NUL or a broken escape: refused, not cut or kept as typed */
    assert_int_equal(gw_form_get("token=ab%00cd", "token", out, sizeof out), -2);
    assert_int_equal(gw_form_get("token=ab%zz", "token", out, sizeof out), -2);
    assert_int_equal(gw_form_get("token=ab%4", "token", out, sizeof out), -2);
    assert_int_equal(gw_form_get("token=ab%41", "token", out, sizeof out), 0);
    assert_string_equal(out, "abA");
    gw_auth_destroy(&a);
    cpm_registry_destroy(&reg);
    free(ms[0]), free(ms[1]);
}

static void token_of(const cpm_identity_t *who, int64_t now, int64_t valid, char *tok)
{
    uint8_t *f = NULL;
    size_t n = 0;
    assert_int_equal(cpm_grant_sign(who, "hn.gw", now, valid, &f, &n, NULL), 0);
    assert_int_equal(cpm_grant_token(f, n, tok, CPM_GRANT_TOKEN_MAX + 1), 0);
    free(f);
}

/* One member gets GW_AUTH_PER_MEMBER sessions; the next is refused with a
 * sentence naming the member and the limit, and does not use up its grant;
 * other members still log in. */
static void test_member_limit(void **st)
{
    (void)st;
    cpm_identity_t officer;
    assert_int_equal(cpm_identity_generate(&officer, "officer.hn.d.ba-dinh"), 0);
    Cpm__Member *ms[3] = {resp_member(&person, "coordinator", NULL, 0),
                          resp_member(&gwid, "gateway", NULL, 0),
                          resp_member(&officer, "officer", NULL, 0)};
    cpm_registry_t *reg = NULL;
    assert_int_equal(resp_registry(ms, 3, &root, &reg), 0);
    gw_auth_t *a = NULL;
    assert_int_equal(gw_auth_new(&a), 0);
    int64_t now = cpm_now_ms();
    char tok[CPM_GRANT_TOKEN_MAX + 1], ninth[CPM_GRANT_TOKEN_MAX + 1], sid[GW_AUTH_ID_HEX + 1];
    cpm_error_t err = {0};
    for (int i = 0; i < GW_AUTH_PER_MEMBER; i++) {
        token_of(&person, now, 60000, tok);
        assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid, &err), 0);
    }
    token_of(&person, now, CPM_GRANT_MAX_MS, ninth);
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", ninth, now, sid, &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "token");
    assert_non_null(strstr(err.message, "coordinator.hn.doit has 8 open sessions"));
    token_of(&officer, now, 60000, tok);
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid, &err), 0);
    /* when the first eight have expired, the refused grant still works */
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", ninth, now + 60000, sid, &err), 0);
    gw_auth_destroy(&a);
    cpm_registry_destroy(&reg);
    for (int i = 0; i < 3; i++)
        free(ms[i]);
}

/* When every session slot is taken, a login is refused BEFORE its nonce is
 * used: the same grant logs in once a slot is free. */
static void test_full_table_keeps_grant(void **st)
{
    (void)st;
    enum { N = GW_AUTH_SESSIONS / GW_AUTH_PER_MEMBER + 1 };
    static cpm_identity_t ids[N];
    Cpm__Member *ms[N + 1];
    for (int i = 0; i < N; i++) {
        char name[64];
        snprintf(name, sizeof name, "officer.hn.d.a%d", i);
        assert_int_equal(cpm_identity_generate(&ids[i], name), 0);
        ms[i] = resp_member(&ids[i], "officer", NULL, 0);
    }
    ms[N] = resp_member(&gwid, "gateway", NULL, 0);
    cpm_registry_t *reg = NULL;
    assert_int_equal(resp_registry(ms, N + 1, &root, &reg), 0);
    gw_auth_t *a = NULL;
    assert_int_equal(gw_auth_new(&a), 0);
    int64_t now = cpm_now_ms();
    char tok[CPM_GRANT_TOKEN_MAX + 1], sid[GW_AUTH_ID_HEX + 1], first[GW_AUTH_ID_HEX + 1];
    cpm_error_t err = {0};
    for (int i = 0; i < GW_AUTH_SESSIONS; i++) {
        token_of(&ids[i / GW_AUTH_PER_MEMBER], now, 3600000, tok);
        assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid, &err), 0);
        if (i == 0)
            memcpy(first, sid, sizeof first);
    }
    token_of(&ids[N - 1], now, 3600000, tok);
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid, &err), CPM_E_UNAVAILABLE);
    gw_auth_logout(a, first);
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid, &err), 0);
    gw_auth_destroy(&a);
    cpm_registry_destroy(&reg);
    for (int i = 0; i <= N; i++)
        free(ms[i]);
}

/* gw_auth_alive (the event stream's check) does not keep a session alive. */
static void test_alive_does_not_touch(void **st)
{
    (void)st;
    Cpm__Member *ms[2] = {resp_member(&person, "coordinator", NULL, 0),
                          resp_member(&gwid, "gateway", NULL, 0)};
    cpm_registry_t *reg = NULL;
    assert_int_equal(resp_registry(ms, 2, &root, &reg), 0);
    gw_auth_t *a = NULL;
    assert_int_equal(gw_auth_new(&a), 0);
    int64_t now = cpm_now_ms();
    char tok[CPM_GRANT_TOKEN_MAX + 1], sid[GW_AUTH_ID_HEX + 1];
    cpm_error_t err = {0};
    token_of(&person, now, 2 * GW_AUTH_IDLE_MS, tok);
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid, &err), 0);
    assert_int_equal(gw_auth_alive(a, sid, now + GW_AUTH_IDLE_MS - 1), 0);
    assert_int_equal(gw_auth_alive(a, sid, now + GW_AUTH_IDLE_MS), CPM_E_NOT_FOUND);
    gw_session_t s;
    bool expired;
    assert_int_equal(gw_auth_find(a, sid, now + GW_AUTH_IDLE_MS, &s, &expired), CPM_E_NOT_FOUND);
    gw_auth_destroy(&a);
    cpm_registry_destroy(&reg);
    free(ms[0]), free(ms[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_member_limit),
        cmocka_unit_test(test_full_table_keeps_grant),
        cmocka_unit_test(test_alive_does_not_touch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
