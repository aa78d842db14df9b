/* Tests of cpm_client against a tiny in-process service (fixtures/responder.h):
 * a call, a timeout, a retry carrying the same client reference, a forged
 * and an unsolicited reply refused, several requests in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_client.h"
#include "fixtures/responder.h"

typedef struct {
    resp_t r;
    void *zctx;
    cpm_client_t *c;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || resp_start(&f->r, true) != 0)
        return -1;
    f->zctx = zmq_ctx_new();
    cpm_error_t err = {0};
    if (cpm_client_new(&f->c, f->zctx, f->r.reg, &f->r.cli, NULL, &err) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    cpm_client_destroy(&f->c);
    assert_null(f->c);
    zmq_ctx_term(f->zctx);
    resp_stop(&f->r);
    free(f);
    return 0;
}

static int submit(fx_t *f, int timeout_ms, int attempts, char ticket[32], cpm_error_t *err)
{
    Cpm__Complaint cp = CPM__COMPLAINT__INIT;
    cp.client_ref = "ref-1";
    cp.description = "x";
    cpm_msg_t reply = {0};
    int rc = cpm_client_call_retry(f->c, "hn.doit", "intake", CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                                   &cp.base, timeout_ms, attempts, &reply, err);
    if (rc == 0) {
        Cpm__SubmitReply *r =
            cpm__submit_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
        assert_non_null(r);
        snprintf(ticket, 32, "%s", r->ticket);
        cpm__submit_reply__free_unpacked(r, NULL);
        cpm_msg_clear(&reply);
    }
    return rc;
}

static void test_call_answers(void **state)
{
    fx_t *f = *state;
    char t[32] = "";
    cpm_error_t err = {0};
    assert_int_equal(submit(f, 10000, 1, t, &err), 0);
    assert_string_equal(t, "HN-1");
    assert_int_equal(cpm_client_refused(f->c), 0);
    assert_memory_equal(cpm_client_self(f->c), "hn.op.lan/cli.", 14);
}

static void test_timeout(void **state)
{
    fx_t *f = *state;
    atomic_store(&f->r.drop, 1000);
    char t[32];
    cpm_error_t err = {0};
    assert_int_equal(submit(f, 200, 1, t, &err), CPM_E_TIMEOUT);
    assert_int_equal(err.code, CPM_E_TIMEOUT);
}

static void test_retry_keeps_the_client_reference(void **state)
{
    fx_t *f = *state;
    atomic_store(&f->r.drop, 2); /* the first two go unanswered */
    char t[32] = "";
    cpm_error_t err = {0};
    assert_int_equal(submit(f, 300, 4, t, &err), 0);
    assert_string_equal(t, "HN-1");
    assert_int_equal(atomic_load(&f->r.requests), 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(f->r.refs[i], "ref-1");
}

static void test_forged_reply_refused(void **state)
{
    fx_t *f = *state;
    atomic_store(&f->r.mode, RESP_FORGE); /* signed by another member */
    char t[32];
    cpm_error_t err = {0};
    assert_int_equal(submit(f, 10000, 1, t, &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "reply");
    assert_int_equal(cpm_client_refused(f->c), 1);
}

/* Signed with the key of the member asked, but sealed by another of its
 * services: refused, naming the field, and counted. */
static void test_other_instance_refused(void **state)
{
    fx_t *f = *state;
    atomic_store(&f->r.mode, RESP_OTHER_INSTANCE);
    char t[32];
    cpm_error_t err = {0};
    assert_int_equal(submit(f, 10000, 1, t, &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "reply.sender_instance");
    assert_non_null(strstr(err.message, "\"routing.reply\", not \"intake.reply\""));
    assert_int_equal(cpm_client_refused(f->c), 1);
}

static void test_unsolicited_reply_refused(void **state)
{
    fx_t *f = *state;
    atomic_store(&f->r.mode, RESP_UNSOLICITED_FIRST); /* a reply to nothing, then the answer */
    char t[32] = "";
    cpm_error_t err = {0};
    assert_int_equal(submit(f, 10000, 1, t, &err), 0);
    assert_string_equal(t, "HN-1");
    assert_int_equal(cpm_client_refused(f->c), 1);
}

static void test_several_in_flight(void **state)
{
    fx_t *f = *state;
    char ids[3][33];
    Cpm__Complaint cp = CPM__COMPLAINT__INIT;
    cp.client_ref = "ref-2";
    for (int i = 0; i < 3; i++)
        assert_int_equal(cpm_client_send(f->c, "hn.doit", "intake",
                                         CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, &cp.base, ids[i],
                                         NULL),
                         0);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        cpm_msg_t reply = {0};
        assert_int_equal(cpm_client_recv(f->c, "hn.doit", "intake", 10000, &reply, NULL), 0);
        for (int k = 0; k < 3; k++)
            if (!strcmp(reply.env->correlation_id, ids[k]))
                seen |= 1 << k;
        cpm_msg_clear(&reply);
    }
    assert_int_equal(seen, 7);
    /* each answered once: nothing more is pending */
    cpm_error_t err = {0};
    cpm_msg_t reply = {0};
    assert_int_equal(cpm_client_recv(f->c, "hn.doit", "intake", 100, &reply, &err), CPM_E_TIMEOUT);
    assert_int_equal(cpm_client_recv(f->c, "hn.doit", "routing", 100, &reply, &err), CPM_E_INVALID);
}

/* A link remembers its last 1,024 requests: answers to each of them are
 * taken, however far back (the oldest first, the farthest from the newest),
 * and an answer to the one its slot was given away for is refused. */
static void test_answers_across_the_whole_ring(void **state)
{
    fx_t *f = *state;
    enum { RING = 1024, SENT = RING + 1 };
    static char ids[SENT][33];
    Cpm__Complaint cp = CPM__COMPLAINT__INIT;
    cp.client_ref = "ref-ring";
    for (int i = 0; i < SENT; i++)
        assert_int_equal(cpm_client_send(f->c, "hn.doit", "intake",
                                         CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, &cp.base, ids[i],
                                         NULL),
                         0);
    static bool seen[SENT];
    memset(seen, 0, sizeof seen);
    int taken = 0;
    /* until every answer came, taken or refused (a bound, not a timing) */
    while (taken + (int)cpm_client_refused(f->c) < SENT) {
        cpm_msg_t reply = {0};
        cpm_error_t err = {0};
        int rc = cpm_client_recv(f->c, "hn.doit", "intake", 30000, &reply, &err);
        if (rc == CPM_E_TIMEOUT)
            break;
        assert_int_equal(rc, 0);
        int k = 0;
        while (k < SENT && strcmp(reply.env->correlation_id, ids[k]) != 0)
            k++;
        assert_true(k > 0 && k < SENT); /* never the forgotten first one */
        assert_false(seen[k]);          /* each once */
        seen[k] = true;
        taken++;
        cpm_msg_clear(&reply);
    }
    assert_int_equal(taken, RING);
    assert_int_equal(cpm_client_refused(f->c), 1); /* the first request's answer */
}

/* Two peers at once, each awaited with its own timeout: a silent one does
 * not hold up the other, and its request stays pending on its own link. */
static void test_two_peers_each_with_its_timeout(void **state)
{
    fx_t *f = *state;
    atomic_store(&f->r.routing_silent, 1);
    char a[33], b[33];
    Cpm__Complaint cp = CPM__COMPLAINT__INIT;
    cp.client_ref = "ref-3";
    Cpm__EventsFetch q = CPM__EVENTS_FETCH__INIT;
    assert_int_equal(cpm_client_send(f->c, "hn.doit", "routing", CPM__MSG_TYPE__MSG_EVENTS_FETCH,
                                     &q.base, b, NULL),
                     0);
    assert_int_equal(cpm_client_send(f->c, "hn.doit", "intake", CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                                     &cp.base, a, NULL),
                     0);
    cpm_msg_t reply = {0};
    cpm_error_t err = {0};
    assert_int_equal(cpm_client_recv(f->c, "hn.doit", "routing", 200, &reply, &err), CPM_E_TIMEOUT);
    assert_int_equal(cpm_client_recv(f->c, "hn.doit", "intake", 10000, &reply, &err), 0);
    assert_string_equal(reply.env->correlation_id, a);
    cpm_msg_clear(&reply);
    /* routing answers the next one; a call there works on the same client */
    atomic_store(&f->r.routing_silent, 0);
    assert_int_equal(cpm_client_call(f->c, "hn.doit", "routing", CPM__MSG_TYPE__MSG_EVENTS_FETCH,
                                     &q.base, 10000, &reply, &err),
                     0);
    assert_int_equal(reply.env->type, CPM__MSG_TYPE__MSG_EVENTS_REPLY);
    cpm_msg_clear(&reply);
}

static void test_unknown_service(void **state)
{
    fx_t *f = *state;
    cpm_error_t err = {0};
    cpm_msg_t reply = {0};
    assert_int_equal(cpm_client_call(f->c, "hn.doit", "inspection", CPM__MSG_TYPE__MSG_EVENTS_FETCH,
                                     NULL, 1000, &reply, &err),
                     CPM_E_NOT_FOUND);
    assert_string_equal(err.field, "node");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_call_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_keeps_the_client_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_reply_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsolicited_reply_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_instance_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_across_the_whole_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_peers_each_with_its_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_service, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
