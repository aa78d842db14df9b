/* gw_live: each stream sees the events of its session's scope only, a
 * session opens at most GW_LIVE_PER_SESSION streams, a member at most
 * GW_LIVE_PER_MEMBER over all its sessions, the gateway at most GW_LIVE_MAX,
 * and a stream ends when its session does (logout wakes it). */
#include "cpm_grant.h"
#include "cpm_util.h"
#include "fixtures/responder.h"
#include "gw_auth.h"
#include "gw_ctx.h"
#include "gw_live.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void push(gw_live_t *l, const char *ticket, const char *agency)
{
    char j[300];
    snprintf(j, sizeof j, "{\"ticket\":\"%s\",\"agency\":\"%s\"}", ticket, agency);
    gw_live_push(l, j, agency);
}

/* Everything the reader gives until a keep-alive (nothing more held). */
static void read_all(void *r, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t k = gw_live_read(r, 0, out + n, cap - n - 1);
        assert_true(k > 0);
        n += (size_t)k;
        out[n] = 0;
        if (strstr(out, ": keep-alive"))
            return;
    }
}

static void test_scope(void **st)
{
    (void)st;
    gw_live_t *l = NULL;
    assert_int_equal(gw_live_new(&l, NULL, NULL, NULL), 0);
    gw_live_set_wait(l, 1);
    push(l, "HN-1", "hn.d.hoan-kiem");
    push(l, "HN-2", "hn.d.ba-dinh");
    push(l, "HN-3", "");
    push(l, "HN-4", "hn.d.hoan-kiem");
    void *bd = NULL, *hk = NULL, *co = NULL, *op = NULL;
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "a", NULL, "officer", "hn.d.ba-dinh", &bd), 0);
    assert_int_equal(
        gw_live_reader_open(l, 0, NULL, "b", NULL, "department", "hn.d.hoan-kiem", &hk), 0);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "c", NULL, "coordinator", "hn.doit", &co), 0);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "d", NULL, "operator", "hn.op", &op),
                     GW_LIVE_NOT_IN_SCOPE);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "d", NULL, "gateway", "", &op),
                     GW_LIVE_NOT_IN_SCOPE);
    assert_null(op);
    char buf[4096];
    read_all(bd, buf, sizeof buf);
    assert_non_null(strstr(buf, "HN-2"));
    assert_null(strstr(buf, "HN-1")), assert_null(strstr(buf, "HN-3")),
        assert_null(strstr(buf, "HN-4"));
    read_all(hk, buf, sizeof buf);
    assert_non_null(strstr(buf, "HN-1")), assert_non_null(strstr(buf, "HN-4"));
    assert_null(strstr(buf, "HN-2")), assert_null(strstr(buf, "HN-3"));
    read_all(co, buf, sizeof buf);
    for (int i = 1; i <= 4; i++) {
        char t[8];
        snprintf(t, sizeof t, "HN-%d", i);
        assert_non_null(strstr(buf, t));
    }
    /* a hidden event arriving later is skipped too */
    push(l, "HN-5", "hn.d.hoan-kiem");
    push(l, "HN-6", "hn.d.ba-dinh");
    read_all(bd, buf, sizeof buf);
    assert_null(strstr(buf, "HN-5"));
    assert_non_null(strstr(buf, "HN-6"));
    gw_live_reader_free(bd), gw_live_reader_free(hk), gw_live_reader_free(co);
    gw_live_destroy(&l);
}

static void event(gw_live_t *l, const char *ticket, const char *area)
{
    Cpm__Event ev = CPM__EVENT__INIT;
    ev.seq = 7;
    ev.at_ms = 1796288025580;
    ev.kind = "complaint.received";
    ev.ticket = (char *)ticket;
    ev.agency = "hn.d.hoan-kiem";
    ev.area = (char *)area;
    ev.category = "food_safety";
    ev.state = CPM__CASE_STATE__CASE_STATE_RECEIVED;
    gw_live_push_event(l, "hn.doit", "intake", &ev);
}

/* An event of the subscriber: its public projection, made into JSON when a
 * reader first reaches it, the same bytes for every reader; one that might
 * not fit is made at once (and left out when it does not fit); one that
 * cannot be made is stepped over. */
static void test_events_made_for_readers(void **st)
{
    (void)st;
    gw_live_t *l = NULL;
    assert_int_equal(gw_live_new(&l, NULL, NULL, NULL), 0);
    gw_live_set_wait(l, 1);
    event(l, "DOIT-00000001", "ho\xc3\xa0n-ki\xe1\xba\xbfm"); /* kept as fields */
    char big[1100];
    memset(big, 'T', sizeof big - 1);
    big[400] = 0;
    event(l, big, "hoan-kiem"); /* might not fit: made now, fits */
    big[400] = 'T';
    big[sizeof big - 1] = 0;
    event(l, big, "hoan-kiem");        /* does not fit: left out */
    event(l, "DOIT-00000004", "\xff"); /* not UTF-8: cannot be made */
    assert_int_equal(gw_live_head(l), 3);
    void *co = NULL, *hk = NULL, *bd = NULL;
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "c", NULL, "coordinator", "hn.doit", &co), 0);
    assert_int_equal(
        gw_live_reader_open(l, 0, NULL, "b", NULL, "department", "hn.d.hoan-kiem", &hk), 0);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "a", NULL, "officer", "hn.d.ba-dinh", &bd), 0);
    static char a[8192], b[8192], c[8192];
    read_all(co, a, sizeof a);
    read_all(hk, b, sizeof b);
    read_all(bd, c, sizeof c);
    const char *first =
        "id: 0\ndata: {\"node\":\"hn.doit\",\"service\":\"intake\",\"seq\":7,"
        "\"at_ms\":1796288025580,\"kind\":\"complaint.received\",\"ticket\":\"DOIT-00000001\","
        "\"agency\":\"hn.d.hoan-kiem\",\"area\":\"ho\\u00E0n-ki\\u1EBFm\","
        "\"category\":\"food_safety\",\"state\":1}\n\n";
    assert_memory_equal(a, first, strlen(first));
    assert_memory_equal(b, first, strlen(first)); /* the same bytes */
    big[400] = 0;
    assert_non_null(strstr(a, big)), assert_non_null(strstr(b, big));
    assert_non_null(strstr(a, "\nid: 1\n")), assert_null(strstr(a, "id: 2"));
    assert_non_null(strstr(a, ": skipped 2")); /* the first reader to try */
    assert_null(strstr(b, "skipped")), assert_null(strstr(b, "id: 2"));
    assert_null(strstr(c, "id: ")); /* another agency: nothing */
    gw_live_reader_free(co), gw_live_reader_free(hk), gw_live_reader_free(bd);
    gw_live_destroy(&l);
}

static cpm_identity_t root, person, gwid;
static Cpm__Member *ms[2];

/* A registry of person (a coordinator) and the gateway hn.gw, and the
 * gateway's sessions. */
static void members(cpm_registry_t **reg, gw_auth_t **a)
{
    assert_int_equal(cpm_identity_generate(&root, "root"), 0);
    assert_int_equal(cpm_identity_generate(&person, "coordinator.hn.doit"), 0);
    assert_int_equal(cpm_identity_generate(&gwid, "hn.gw"), 0);
    ms[0] = resp_member(&person, "coordinator", NULL, 0);
    ms[1] = resp_member(&gwid, "gateway", NULL, 0);
    assert_int_equal(resp_registry(ms, 2, &root, reg), 0);
    assert_int_equal(gw_auth_new(a), 0);
}

static void members_free(cpm_registry_t **reg, gw_auth_t **a)
{
    gw_auth_destroy(a);
    cpm_registry_destroy(reg);
    free(ms[0]), free(ms[1]);
}

/* A new session of person (a grant of its own). */
static void login(gw_auth_t *a, const cpm_registry_t *reg, char sid[GW_AUTH_ID_HEX + 1])
{
    int64_t now = cpm_now_ms();
    uint8_t *f = NULL;
    size_t n = 0;
    char tok[CPM_GRANT_TOKEN_MAX + 1];
    assert_int_equal(cpm_grant_sign(&person, "hn.gw", now, 3600000, &f, &n, NULL), 0);
    assert_int_equal(cpm_grant_token(f, n, tok, sizeof tok), 0);
    free(f);
    cpm_error_t err = {0};
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid, &err), 0);
}

static void test_stream_ends_with_session(void **st)
{
    (void)st;
    cpm_registry_t *reg = NULL;
    gw_auth_t *a = NULL;
    members(&reg, &a);
    char sid[GW_AUTH_ID_HEX + 1];
    login(a, reg, sid);
    gw_live_t *l = NULL;
    assert_int_equal(gw_live_new(&l, NULL, NULL, NULL), 0);
    gw_live_set_wait(l, 1);
    void *r1 = NULL, *r2 = NULL, *r3 = NULL;
    assert_int_equal(
        gw_live_reader_open(l, 0, a, sid, "coordinator.hn.doit", "coordinator", "", &r1), 0);
    assert_int_equal(gw_live_reader_open(l, 0, a, sid, NULL, "coordinator", "", &r2), 0);
    assert_int_equal(gw_live_reader_open(l, 0, a, sid, NULL, "coordinator", "", &r3),
                     GW_LIVE_SESSION_FULL);
    gw_live_reader_free(r2); /* a closed stream frees its place */
    assert_int_equal(gw_live_reader_open(l, 0, a, sid, NULL, "coordinator", "", &r2), 0);
    char buf[256];
    assert_true(gw_live_read(r1, 0, buf, sizeof buf) > 0); /* keep-alive: still open */
    gw_auth_logout(a, sid);
    gw_live_wake(l);
    assert_int_equal(gw_live_read(r1, 0, buf, sizeof buf), -1);
    push(l, "HN-1", "x");
    assert_int_equal(gw_live_read(r2, 0, buf, sizeof buf), -1); /* not even events */
    gw_live_reader_free(r1), gw_live_reader_free(r2);
    gw_live_destroy(&l);
    members_free(&reg, &a);
}

/* One member's streams over all its sessions: GW_LIVE_PER_MEMBER, then 429
 * (a session under its own cap too) while the open ones go on; a closed one
 * frees its place; another member is not affected. */
static void test_member_streams_over_sessions(void **st)
{
    (void)st;
    gw_live_t *l = NULL;
    assert_int_equal(gw_live_new(&l, NULL, NULL, NULL), 0);
    gw_live_set_wait(l, 1);
    const char *sids[] = {"s1", "s2", "s3", "s4", "s5"}, *me = "coordinator.hn.doit";
    void *r[5] = {0}, *more = NULL, *other = NULL;
    for (int i = 0; i < GW_LIVE_PER_MEMBER; i++)
        assert_int_equal(gw_live_reader_open(l, 0, NULL, sids[i], me, "coordinator", "", &r[i]),
                         GW_LIVE_OPENED);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, sids[4], me, "coordinator", "", &r[4]),
                     GW_LIVE_MEMBER_FULL);
    assert_null(r[4]);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, sids[0], me, "coordinator", "", &more),
                     GW_LIVE_MEMBER_FULL); /* s1 has one of its two */
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "t1", "city.hn", "city", "", &other),
                     GW_LIVE_OPENED);
    push(l, "HN-1", "hn.d.hoan-kiem");
    char buf[4096];
    for (int i = 0; i < GW_LIVE_PER_MEMBER; i++) {
        read_all(r[i], buf, sizeof buf);
        assert_non_null(strstr(buf, "HN-1"));
    }
    gw_live_reader_free(r[1]); /* a closed stream frees its place */
    assert_int_equal(gw_live_reader_open(l, 0, NULL, sids[4], me, "coordinator", "", &r[4]),
                     GW_LIVE_OPENED);
    read_all(r[4], buf, sizeof buf);
    assert_non_null(strstr(buf, "HN-1"));
    assert_int_equal(gw_live_reader_open(l, 0, NULL, sids[1], me, "coordinator", "", &r[1]),
                     GW_LIVE_MEMBER_FULL);
    for (int i = 0; i < 5; i++)
        gw_live_reader_free(r[i]);
    gw_live_reader_free(other);
    gw_live_destroy(&l);
}

/* The whole gateway: GW_LIVE_MAX streams of members each under its cap,
 * then 503 (for any member); freed readers give their places back. */
static void test_gateway_stream_cap(void **st)
{
    (void)st;
    gw_live_t *l = NULL;
    assert_int_equal(gw_live_new(&l, NULL, NULL, NULL), 0);
    gw_live_set_wait(l, 1);
    void *r[GW_LIVE_MAX] = {0}, *extra = NULL;
    char sid[16], member[16];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < GW_LIVE_MAX; i++) { /* two streams of each member */
            snprintf(sid, sizeof sid, "s%d", i);
            snprintf(member, sizeof member, "m%d", i / 2);
            assert_int_equal(gw_live_reader_open(l, 0, NULL, sid, member, "city", "", &r[i]),
                             GW_LIVE_OPENED);
        }
        assert_int_equal(gw_live_reader_open(l, 0, NULL, "new", "m-new", "city", "", &extra),
                         GW_LIVE_FULL);
        assert_null(extra);
        assert_int_equal(gw_live_reader_open(l, 0, NULL, "s0b", "m0", "city", "", &extra),
                         GW_LIVE_FULL); /* m0 has two of its four */
        assert_int_equal(gw_live_reader_open(l, 0, NULL, NULL, NULL, "city", "", &extra),
                         GW_LIVE_FULL); /* no session or member: counted in all still */
        push(l, "HN-1", "");
        char buf[4096];
        read_all(r[GW_LIVE_MAX - 1], buf, sizeof buf);
        assert_non_null(strstr(buf, "HN-1"));
        gw_live_reader_free(r[3]);
        r[3] = NULL;
        assert_int_equal(gw_live_reader_open(l, 0, NULL, "new", "m-new", "city", "", &extra),
                         GW_LIVE_OPENED);
        gw_live_reader_free(extra);
        for (int i = 0; i < GW_LIVE_MAX; i++) /* every place back: round 2 opens them again */
            gw_live_reader_free(r[i]);
    }
    gw_live_destroy(&l);
}

/* The route: a member's fifth stream (from a fifth session) is 429 naming
 * the member; past the gateway's cap, 503 with Retry-After; each counted. */
static void test_route_refusals(void **st)
{
    (void)st;
    cpm_registry_t *reg = NULL;
    gw_auth_t *a = NULL;
    members(&reg, &a);
    gw_ctx_t gw = {0};
    pthread_mutex_init(&gw.count_lock, NULL);
    gw.pending = cpm_metrics_new();
    gw.auth = a;
    assert_int_equal(gw_live_new(&gw.live, NULL, NULL, NULL), 0);
    gw_live_set_wait(gw.live, 1);
    char sids[GW_LIVE_PER_MEMBER + 1][GW_AUTH_ID_HEX + 1];
    char cookie[400]; /* room for any of sids, as gcc's truncation check sees them */
    gw_resp_t rs[GW_LIVE_PER_MEMBER + 1];
    for (int i = 0; i <= GW_LIVE_PER_MEMBER; i++) {
        login(a, reg, sids[i]);
        snprintf(cookie, sizeof cookie, GW_AUTH_COOKIE "=%s", sids[i]);
        gw_kv_t h = {"Cookie", cookie};
        gw_req_t rq = {.method = "GET", .path = "/dash/events", .headers = &h, .n_headers = 1};
        gw_resp_init(&rs[i]);
        assert_int_equal(gw_live_events(&gw, &rq, &rs[i]), 0);
    }
    for (int i = 0; i < GW_LIVE_PER_MEMBER; i++)
        assert_non_null(rs[i].stream), assert_non_null(rs[i].stream_arg);
    gw_resp_t *fifth = &rs[GW_LIVE_PER_MEMBER];
    assert_int_equal(fifth->status, 429);
    assert_null(fifth->stream_arg);
    char want[128];
    snprintf(want, sizeof want, "coordinator.hn.doit has %d event streams open",
             GW_LIVE_PER_MEMBER);
    assert_non_null(strstr(fifth->body, want));
    assert_int_equal(cpm_metrics_get(gw.pending, "web.stream_refused.member"), 1);
    gw_resp_clear(fifth);
    /* others fill the gateway while the member is under its cap */
    gw_resp_clear(&rs[0]);
    void *r[GW_LIVE_MAX] = {0};
    for (int i = 0; i < GW_LIVE_MAX - (GW_LIVE_PER_MEMBER - 1); i++) {
        char sid[16], member[16];
        snprintf(sid, sizeof sid, "s%d", i);
        snprintf(member, sizeof member, "m%d", i / 2);
        assert_int_equal(gw_live_reader_open(gw.live, 0, NULL, sid, member, "city", "", &r[i]),
                         GW_LIVE_OPENED);
    }
    snprintf(cookie, sizeof cookie, GW_AUTH_COOKIE "=%s", sids[0]);
    gw_kv_t h = {"Cookie", cookie};
    gw_req_t rq = {.method = "GET", .path = "/dash/events", .headers = &h, .n_headers = 1};
    gw_resp_init(fifth);
    assert_int_equal(gw_live_events(&gw, &rq, fifth), 0);
    assert_int_equal(fifth->status, 503);
    assert_null(fifth->stream_arg);
    snprintf(want, sizeof want, "the gateway has %d event streams open", GW_LIVE_MAX);
    assert_non_null(strstr(fifth->body, want));
    const char *retry = NULL;
    for (size_t i = 0; i < fifth->n_headers; i++)
        if (!strcmp(fifth->headers[i].key, "Retry-After"))
            retry = fifth->headers[i].value;
    assert_non_null(retry);
    assert_int_equal(cpm_metrics_get(gw.pending, "web.stream_refused.full"), 1);
    assert_int_equal(cpm_metrics_get(gw.pending, "web.stream_refused"), 2);
    gw_resp_clear(fifth);
    for (int i = 0; i < GW_LIVE_MAX; i++)
        gw_live_reader_free(r[i]);
    for (int i = 1; i < GW_LIVE_PER_MEMBER; i++)
        gw_resp_clear(&rs[i]);
    gw_live_destroy(&gw.live);
    cpm_metrics_destroy(&gw.pending);
    pthread_mutex_destroy(&gw.count_lock);
    members_free(&reg, &a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_events_made_for_readers),
        cmocka_unit_test(test_stream_ends_with_session),
        cmocka_unit_test(test_member_streams_over_sessions),
        cmocka_unit_test(test_gateway_stream_cap),
        cmocka_unit_test(test_route_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
