/* gw_live: each stream sees the events of its session's scope only, a
 * session opens at most GW_LIVE_PER_SESSION streams, and a stream ends when
 * its session does (logout wakes it). */
#include "cpm_grant.h"
#include "cpm_util.h"
#include "fixtures/responder.h"
#include "gw_auth.h"
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
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "a", "officer", "hn.d.ba-dinh", &bd), 0);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "b", "department", "hn.d.hoan-kiem", &hk), 0);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "c", "coordinator", "hn.doit", &co), 0);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "d", "operator", "hn.op", &op), 403);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "d", "gateway", "", &op), 403);
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
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "c", "coordinator", "hn.doit", &co), 0);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "b", "department", "hn.d.hoan-kiem", &hk), 0);
    assert_int_equal(gw_live_reader_open(l, 0, NULL, "a", "officer", "hn.d.ba-dinh", &bd), 0);
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

static void test_stream_ends_with_session(void **st)
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
    uint8_t *f = NULL;
    size_t n = 0;
    char tok[CPM_GRANT_TOKEN_MAX + 1], sid[GW_AUTH_ID_HEX + 1];
    assert_int_equal(cpm_grant_sign(&person, "hn.gw", now, 3600000, &f, &n, NULL), 0);
    assert_int_equal(cpm_grant_token(f, n, tok, sizeof tok), 0);
    free(f);
    cpm_error_t err = {0};
    assert_int_equal(gw_auth_login(a, reg, "hn.gw", tok, now, sid, &err), 0);
    gw_live_t *l = NULL;
    assert_int_equal(gw_live_new(&l, NULL, NULL, NULL), 0);
    gw_live_set_wait(l, 1);
    void *r1 = NULL, *r2 = NULL, *r3 = NULL;
    assert_int_equal(gw_live_reader_open(l, 0, a, sid, "coordinator", "", &r1), 0);
    assert_int_equal(gw_live_reader_open(l, 0, a, sid, "coordinator", "", &r2), 0);
    assert_int_equal(gw_live_reader_open(l, 0, a, sid, "coordinator", "", &r3), 429);
    gw_live_reader_free(r2); /* a closed stream frees its place */
    assert_int_equal(gw_live_reader_open(l, 0, a, sid, "coordinator", "", &r2), 0);
    char buf[256];
    assert_true(gw_live_read(r1, 0, buf, sizeof buf) > 0); /* keep-alive: still open */
    gw_auth_logout(a, sid);
    gw_live_wake(l);
    assert_int_equal(gw_live_read(r1, 0, buf, sizeof buf), -1);
    push(l, "HN-1", "x");
    assert_int_equal(gw_live_read(r2, 0, buf, sizeof buf), -1); /* not even events */
    gw_live_reader_free(r1), gw_live_reader_free(r2);
    gw_live_destroy(&l);
    gw_auth_destroy(&a);
    cpm_registry_destroy(&reg);
    free(ms[0]), free(ms[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_events_made_for_readers),
        cmocka_unit_test(test_stream_ends_with_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
