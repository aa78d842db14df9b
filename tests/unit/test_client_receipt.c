/* cpm_client and group receipts against the in-process responder
 * (fixtures/responder.h), whose hook plays intake: it holds each batch
 * request and, when told, seals a group receipt for it with hn.doit's
 * "intake.reply". Checked: a receipt for a batch whose request the client
 * forgot (the pending ring wrapped) is refused and counted, not taken; a
 * receipt with one item for no request of ours is refused whole and
 * counted. The sync point after each is a classic reply, so nothing waits
 * on a timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_client.h"
#include "cpm_receipt.h"
#include "fixtures/responder.h"

#include <sodium.h>

#define RING 1024 /* CLIENT_PENDING in cpm_client.c */

typedef struct {
    resp_t r;
    void *zctx;
    cpm_client_t *c;
    /* the held batch (responder thread only, until it answers) */
    char batch_id[33], to[200];
    size_t n;
    uint8_t hashes[CPM_SUBMIT_BATCH_MAX][32];
    int singles;     /* single requests seen since the batch */
    int answer_at;   /* answer on this many singles */
    bool extra_leaf; /* add a leaf for a request nobody sent */
    cpm_sender_t reply_sender;
} fx_t;

/* Seal a group receipt for the held batch (plus, if asked, a leaf for an
 * unknown request to the same client) and send it on ident. */
static void send_receipt(fx_t *f, zmq_msg_t *ident)
{
    cpm_rgroup_t *g = cpm_rgroup_new();
    Cpm__SubmitReply rep = CPM__SUBMIT_REPLY__INIT;
    rep.ticket = "HN-1";
    uint8_t pl[64];
    size_t pll = cpm__submit_reply__pack(&rep, pl);
    size_t idx[CPM_SUBMIT_BATCH_MAX + 1], k = 0;
    for (size_t i = 0; i < f->n; i++, k++)
        idx[k] = (size_t)cpm_rgroup_add(g, f->to, f->batch_id, (uint32_t)i,
                                        CPM__MSG_TYPE__MSG_SUBMIT_REPLY, pl, pll, f->hashes[i]);
    if (f->extra_leaf)
        idx[k++] = (size_t)cpm_rgroup_add(g, f->to, "feedfeedfeedfeedfeedfeedfeedfeed", 0,
                                          CPM__MSG_TYPE__MSG_SUBMIT_REPLY, pl, pll, f->hashes[0]);
    uint8_t *frame = NULL;
    size_t len = 0;
    if (cpm_rgroup_seal(g, &f->reply_sender, cpm_now_ms()) == 0 &&
        cpm_rgroup_frame(g, idx, k, &frame, &len) == 0) {
        zmq_send(f->r.router, zmq_msg_data(ident), zmq_msg_size(ident), ZMQ_SNDMORE);
        zmq_send(f->r.router, frame, len, 0);
    }
    free(frame);
    cpm_rgroup_destroy(&g);
}

static bool hook(void *rp, zmq_msg_t *ident, const cpm_msg_t *m)
{
    fx_t *f = (fx_t *)rp; /* r is the first member */
    if (m->env->type == CPM__MSG_TYPE__MSG_SUBMIT_BATCH) {
        Cpm__SubmitBatch *b =
            cpm__submit_batch__unpack(NULL, m->env->payload.len, m->env->payload.data);
        assert_non_null(b);
        f->n = b->n_complaints;
        for (size_t i = 0; i < b->n_complaints; i++)
            crypto_hash_sha256(f->hashes[i], b->complaints[i].data, b->complaints[i].len);
        cpm__submit_batch__free_unpacked(b, NULL);
        snprintf(f->batch_id, sizeof f->batch_id, "%s", m->env->msg_id);
        snprintf(f->to, sizeof f->to, "%s/%s", m->addr.sender, m->addr.sender_instance);
        f->singles = 0;
        if (f->answer_at == 0)
            send_receipt(f, ident);
        return true;
    }
    if (++f->singles < f->answer_at)
        return true; /* held: no answer */
    if (f->singles == f->answer_at)
        send_receipt(f, ident);
    return false; /* and the classic reply to this one: the sync point */
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || resp_start(&f->r, false) != 0)
        return -1;
    cpm_sender_init(&f->reply_sender, &f->r.svc, "intake.reply");
    f->r.hook = hook;
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
    zmq_ctx_term(f->zctx);
    resp_stop(&f->r);
    free(f);
    return 0;
}

static void send_batch(fx_t *f, char msg_id[33])
{
    Cpm__Complaint a = CPM__COMPLAINT__INIT, b = CPM__COMPLAINT__INIT;
    a.client_ref = "ref-a";
    b.client_ref = "ref-b";
    const Cpm__Complaint *items[2] = {&a, &b};
    cpm_error_t err = {0};
    if (cpm_client_send_batch(f->c, "hn.doit", items, 2, msg_id, NULL, &err) != 0)
        fail_msg("send_batch: %s", err.message);
}

static void send_single(fx_t *f, char msg_id[33])
{
    Cpm__Complaint cp = CPM__COMPLAINT__INIT;
    cp.client_ref = "ref-s";
    assert_int_equal(cpm_client_send(f->c, "hn.doit", "intake", CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                                     &cp.base, msg_id, NULL),
                     0);
}

/* The next answer: a classic reply to `want` (the sync point), after the
 * receipt before it was refused. */
static void expect_reply_to(fx_t *f, const char *want)
{
    cpm_msg_t reply = {0};
    cpm_receipt_t *rcp = NULL;
    cpm_error_t err = {0};
    int rc = cpm_client_recv_any(f->c, "hn.doit", "intake", 30000, &reply, &rcp, &err);
    if (rc != 0)
        fail_msg("recv_any: %d %s: %s", rc, err.field, err.message);
    if (rcp) {
        cpm_receipt_destroy(&rcp);
        fail_msg("a receipt was taken where it must be refused");
    }
    assert_string_equal(reply.env->correlation_id, want);
    cpm_msg_clear(&reply);
}

/* A batch, then RING single requests: the ring forgot the batch's request,
 * so its late receipt answers nothing pending. */
static void test_receipt_after_ring_wrap(void **state)
{
    fx_t *f = *state;
    f->answer_at = RING;
    f->extra_leaf = false;
    char id[33], last[33];
    send_batch(f, id);
    for (int i = 0; i < RING; i++)
        send_single(f, last);
    uint64_t before = cpm_client_refused(f->c);
    expect_reply_to(f, last);
    assert_int_equal(cpm_client_refused(f->c), before + 1);
}

/* A receipt answering our pending batch whole plus one unknown request:
 * refused whole and counted (documented in cpm_client.h). */
static void test_unknown_item_refused(void **state)
{
    fx_t *f = *state;
    f->answer_at = 1;
    f->extra_leaf = true;
    char id[33], last[33];
    send_batch(f, id);
    send_single(f, last);
    uint64_t before = cpm_client_refused(f->c);
    expect_reply_to(f, last);
    assert_int_equal(cpm_client_refused(f->c), before + 1);
}

/* The same receipt without the extra leaf is taken: the hook is sound. */
static void test_receipt_taken(void **state)
{
    fx_t *f = *state;
    f->answer_at = 0;
    f->extra_leaf = false;
    char id[33];
    send_batch(f, id);
    cpm_msg_t reply = {0};
    cpm_receipt_t *rcp = NULL;
    cpm_error_t err = {0};
    if (cpm_client_recv_any(f->c, "hn.doit", "intake", 30000, &reply, &rcp, &err) != 0)
        fail_msg("%s: %s", err.field, err.message);
    assert_non_null(rcp);
    assert_int_equal(cpm_receipt_count(rcp), 2);
    assert_string_equal(cpm_receipt_at(rcp, 0)->correlation_id, id);
    cpm_receipt_destroy(&rcp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_receipt_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_after_ring_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_item_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
