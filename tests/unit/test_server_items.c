/* The server's item path (cpm_server_on_items through a service's items
 * table) in one process, with the real client (cpm_client_send_batch,
 * cpm_client_recv_any): every item applied in its own nested transaction
 * (a refused one leaves nothing, the others stand), all answered by one group
 * receipt whose proofs the client checks; a batch over the bound refused
 * whole, naming the field. The loop runs in a thread as in test_server.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cpm_client.h"
#include "cpm_config.h"
#include "cpm_envelope.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_retention.h"
#include "cpm_service.h"
#include "cpm_transport.h"
#include "cpm_util.h"
#include "fixtures/mesh_fixture.h"

static atomic_int handled; /* calls of the submit entry */
/* A description "hold" holds the loop (inside its group's apply) until
 * hold_release: the requests sent meanwhile all wait for the next turn. */
static atomic_int hold_entered, hold_release;

/* ---- the tiny service: "intake" stores each complaint's description under
 * its ticket; a description "fail" is written, then refused (its write must
 * be undone alone) --------------------------------------------------------- */

struct cpm_svc {
    int unused;
};

static int on_submit(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    Cpm__Complaint *c = (Cpm__Complaint *)payload;
    atomic_fetch_add(&handled, 1);
    int rc = cpm_store_put(cpm_server_store(srv), txn, "notes", c->ticket, strlen(c->ticket),
                           c->description, strlen(c->description));
    if (rc != 0)
        return cpm_error_set(err, rc, "", "cannot store");
    if (strcmp(c->description, "hold") == 0) {
        atomic_store(&hold_entered, 1);
        while (!atomic_load(&hold_release))
            usleep(1000);
    }
    if (strcmp(c->description, "fail") == 0)
        return cpm_error_set(err, CPM_E_INVALID, "description", "refused after writing");
    Cpm__SubmitReply r = CPM__SUBMIT_REPLY__INIT;
    r.ticket = c->ticket;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_SUBMIT_REPLY, &r.base);
}

static int on_status(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    Cpm__StatusQuery *q = (Cpm__StatusQuery *)payload;
    const void *val = NULL;
    size_t len = 0;
    if (cpm_store_get(cpm_server_store(srv), txn, "notes", q->ticket, strlen(q->ticket), &val,
                      &len) != 0)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "ticket", "no note %s", q->ticket);
    Cpm__StatusReply r = CPM__STATUS_REPLY__INIT;
    r.ticket = q->ticket;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_STATUS_REPLY, &r.base);
}

/* CPM_RETENTION_DB: the server's tick sweeps dead letters in every service. */
static const char *const dbs[] = {"notes", CPM_RETENTION_DB, NULL};
static const cpm_svc_request_t requests[] = {{CPM__MSG_TYPE__MSG_STATUS_QUERY,
                                              &cpm__status_query__descriptor, false, on_status,
                                              NULL, false},
                                             {0}};
static const cpm_svc_request_t items[] = {
    {CPM__MSG_TYPE__MSG_SUBMIT_BATCH, &cpm__complaint__descriptor, true, on_submit, NULL, false},
    {0}};
static const cpm_service_t notes = {
    .name = "intake", .databases = dbs, .requests = requests, .items = items};

/* ---- the mesh (fixtures/mesh_fixture.h): a root key, two members, a signed
 * registry, a config, the server's loop in a thread ------------------------ */

static mesh_fx_t fx;

static int setup(void **state)
{
    mesh_fx_start(&fx, "/tmp/cpm_test_items_XXXXXX", &notes);
    return 0;
}

static int teardown(void **state)
{
    mesh_fx_stop(&fx);
    return 0;
}

/* ---- the client ------------------------------------------------------------ */

typedef struct {
    void *zctx;
    cpm_registry_t *reg;
    cpm_client_t *cl;
} client_t;

static void client_open(client_t *c)
{
    char path[512];
    cpm_error_t e = {0};
    snprintf(path, sizeof path, "%s/registry.signed", fx.tmpdir);
    assert_int_equal(cpm_registry_load(path, fx.root_pk, &c->reg, &e), 0);
    c->zctx = zmq_ctx_new();
    assert_int_equal(cpm_client_new(&c->cl, c->zctx, c->reg, &fx.client_id, NULL, &e), 0);
}

static void client_close(client_t *c)
{
    cpm_client_destroy(&c->cl);
    zmq_ctx_term(c->zctx);
    cpm_registry_destroy(&c->reg);
}

static bool stored(client_t *c, const char *ticket)
{
    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = (char *)ticket;
    cpm_msg_t reply = {0};
    cpm_error_t e = {0};
    int rc = cpm_client_call(c->cl, "t.server", "intake", CPM__MSG_TYPE__MSG_STATUS_QUERY, &q.base,
                             30000, &reply, &e);
    cpm_msg_clear(&reply);
    assert_true(rc == 0 || rc == CPM_E_NOT_FOUND);
    return rc == 0;
}

/* ---- tests ----------------------------------------------------------------- */

/* Three items, the middle one refused after writing: one receipt, three
 * leaves in item order, the refused one's write undone. */
static void test_items_answered_by_one_receipt(void **state)
{
    client_t c;
    client_open(&c);
    Cpm__Complaint cs[3];
    const Cpm__Complaint *ps[3];
    const char *tickets[3] = {"B-0", "B-1", "B-2"};
    for (int i = 0; i < 3; i++) {
        cpm__complaint__init(&cs[i]);
        cs[i].ticket = (char *)tickets[i];
        cs[i].description = i == 1 ? "fail" : "fine";
        ps[i] = &cs[i];
    }
    char msg_id[33];
    uint8_t hashes[3][32];
    cpm_error_t e = {0};
    assert_int_equal(cpm_client_send_batch(c.cl, "t.server", ps, 3, msg_id, hashes, &e), 0);
    cpm_msg_t reply = {0};
    cpm_receipt_t *r = NULL;
    int rc = cpm_client_recv_any(c.cl, "t.server", "intake", 30000, &reply, &r, &e);
    if (rc != 0)
        fail_msg("no receipt: %s", e.message);
    assert_non_null(r);
    assert_null(reply.env);
    assert_int_equal(cpm_receipt_count(r), 3);
    for (uint32_t i = 0; i < 3; i++) {
        const cpm_receipt_item_t *it = cpm_receipt_at(r, i);
        assert_string_equal(it->correlation_id, msg_id);
        assert_int_equal(it->item, i);
        assert_memory_equal(it->item_hash, hashes[i], 32);
        if (i == 1) {
            assert_int_equal(it->type, CPM__MSG_TYPE__MSG_ERROR);
            Cpm__ErrorReply *er = cpm__error_reply__unpack(NULL, it->payload_len, it->payload);
            assert_non_null(er);
            assert_int_equal(er->code, CPM_E_INVALID);
            assert_string_equal(er->field, "description");
            cpm__error_reply__free_unpacked(er, NULL);
        } else {
            assert_int_equal(it->type, CPM__MSG_TYPE__MSG_SUBMIT_REPLY);
            Cpm__SubmitReply *sr = cpm__submit_reply__unpack(NULL, it->payload_len, it->payload);
            assert_non_null(sr);
            assert_string_equal(sr->ticket, tickets[i]);
            cpm__submit_reply__free_unpacked(sr, NULL);
        }
    }
    /* A stand-alone proof of one answer holds for a third party. */
    uint8_t *proof = NULL;
    size_t plen = 0;
    assert_int_equal(cpm_receipt_proof_frame(r, 2, &proof, &plen), 0);
    Cpm__ReceiptLeaf *leaf = NULL;
    const Cpm__Member *signer = NULL;
    int64_t at = 0;
    assert_int_equal(cpm_receipt_check(c.reg, proof, plen, &leaf, &signer, &at, NULL, &e), 0);
    assert_string_equal(signer->id, "t.server");
    assert_int_equal(leaf->item, 2);
    cpm__receipt_leaf__free_unpacked(leaf, NULL);
    free(proof);
    cpm_receipt_destroy(&r);
    assert_int_equal(cpm_client_refused(c.cl), 0);
    assert_true(stored(&c, "B-0"));
    assert_false(stored(&c, "B-1")); /* written, then refused: undone alone */
    assert_true(stored(&c, "B-2"));
    client_close(&c);
}

/* 65 items, through the generic send (the batch call refuses them): a
 * classic ErrorReply naming complaints, nothing applied. */
static void test_too_many_items_refused_whole(void **state)
{
    client_t c;
    client_open(&c);
    static uint8_t bufs[65][64];
    ProtobufCBinaryData bins[65];
    for (int i = 0; i < 65; i++) {
        Cpm__Complaint cp = CPM__COMPLAINT__INIT;
        char t[16];
        snprintf(t, sizeof t, "X-%d", i);
        cp.ticket = t;
        cp.description = "many";
        bins[i].len = cpm__complaint__pack(&cp, bufs[i]);
        bins[i].data = bufs[i];
    }
    Cpm__SubmitBatch sb = CPM__SUBMIT_BATCH__INIT;
    sb.n_complaints = 65;
    sb.complaints = bins;
    int before = atomic_load(&handled);
    cpm_msg_t reply = {0};
    cpm_error_t e = {0};
    const Cpm__Complaint *none[1] = {NULL};
    char msg_id[33];
    assert_int_equal(cpm_client_send_batch(c.cl, "t.server", none, 65, msg_id, NULL, &e),
                     CPM_E_INVALID);
    int rc = cpm_client_call(c.cl, "t.server", "intake", CPM__MSG_TYPE__MSG_SUBMIT_BATCH, &sb.base,
                             30000, &reply, &e);
    assert_int_equal(rc, CPM_E_TOO_LARGE);
    assert_string_equal(e.field, "complaints");
    assert_int_equal(atomic_load(&handled), before);
    assert_false(stored(&c, "X-0"));
    sb.n_complaints = 0; /* and none at all */
    rc = cpm_client_call(c.cl, "t.server", "intake", CPM__MSG_TYPE__MSG_SUBMIT_BATCH, &sb.base,
                         30000, &reply, &e);
    assert_int_equal(rc, CPM_E_INVALID);
    assert_string_equal(e.field, "complaints");
    client_close(&c);
}

/* A counter of the server's health report (0 when absent). */
static uint64_t counter(client_t *c, const char *name)
{
    Cpm__HealthQuery q = CPM__HEALTH_QUERY__INIT;
    cpm_msg_t reply = {0};
    cpm_error_t e = {0};
    if (cpm_client_call(c->cl, "t.server", "intake", CPM__MSG_TYPE__MSG_HEALTH_QUERY, &q.base,
                        30000, &reply, &e) != 0)
        fail_msg("health: %s", e.message);
    Cpm__HealthReply *h =
        cpm__health_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    assert_non_null(h);
    uint64_t v = 0;
    for (size_t i = 0; i < h->n_counters; i++)
        if (strcmp(h->counters[i]->name, name) == 0)
            v = h->counters[i]->value;
    cpm__health_reply__free_unpacked(h, NULL);
    cpm_msg_clear(&reply);
    return v;
}

/* Many full batches on one connection, sent while the loop is held so that
 * the next turn finds them all waiting: every item of every batch answered exactly once, a group's
 * proofs for one connection cut into several frames (more frames than
 * groups: before, one frame per connection took them all and failed past
 * 4 MiB), and no group larger than the turn's item cap (1024 items, plus
 * the last batch taken: before, a turn took 256 batches of 64). */
#define NBATCH 40
static void test_many_batches_answered_in_bounded_frames(void **state)
{
    client_t c;
    client_open(&c);
    static Cpm__Complaint cs[NBATCH][CPM_SUBMIT_BATCH_MAX];
    static const Cpm__Complaint *ps[NBATCH][CPM_SUBMIT_BATCH_MAX];
    static char tickets[NBATCH][CPM_SUBMIT_BATCH_MAX][32];
    static char ids[NBATCH][33];
    static uint8_t answered[NBATCH][CPM_SUBMIT_BATCH_MAX];
    bool split = false;
    uint64_t max_group = 0;
    for (int round = 0; round < 8 && !split; round++) {
        uint64_t frames0 = counter(&c, "receipts.frames"), groups0 = counter(&c, "receipts.groups");
        cpm_error_t e = {0};
        Cpm__Complaint hc = CPM__COMPLAINT__INIT;
        const Cpm__Complaint *hp[1] = {&hc};
        char hold_ticket[32], hold_id[33];
        snprintf(hold_ticket, sizeof hold_ticket, "H-%d", round);
        hc.ticket = hold_ticket;
        hc.description = "hold";
        atomic_store(&hold_entered, 0);
        atomic_store(&hold_release, 0);
        int h0 = atomic_load(&handled);
        assert_int_equal(cpm_client_send_batch(c.cl, "t.server", hp, 1, hold_id, NULL, &e), 0);
        for (int64_t end = cpm_mono_ms() + 30000; !atomic_load(&hold_entered);) {
            assert_true(cpm_mono_ms() < end);
            usleep(1000);
        }
        for (int b = 0; b < NBATCH; b++)
            for (int i = 0; i < CPM_SUBMIT_BATCH_MAX; i++) {
                cpm__complaint__init(&cs[b][i]);
                snprintf(tickets[b][i], sizeof tickets[b][i], "M-%d-%d-%d", round, b, i);
                cs[b][i].ticket = tickets[b][i];
                cs[b][i].description = "fine";
                ps[b][i] = &cs[b][i];
            }
        for (int b = 0; b < NBATCH; b++)
            assert_int_equal(cpm_client_send_batch(c.cl, "t.server", ps[b], CPM_SUBMIT_BATCH_MAX,
                                                   ids[b], NULL, &e),
                             0);
        atomic_store(&hold_release, 1);
        /* cpm_pb_budget's allocator is one static object: the client here
         * decodes only once the server (same process) has decoded every
         * item, so that the two never share it at once. */
        for (int64_t end = cpm_mono_ms() + 60000;
             atomic_load(&handled) < h0 + 1 + NBATCH * CPM_SUBMIT_BATCH_MAX;) {
            assert_true(cpm_mono_ms() < end);
            usleep(1000);
        }
        memset(answered, 0, sizeof answered);
        size_t left = (size_t)NBATCH * CPM_SUBMIT_BATCH_MAX + 1;
        while (left > 0) {
            cpm_msg_t reply = {0};
            cpm_receipt_t *r = NULL;
            int rc = cpm_client_recv_any(c.cl, "t.server", "intake", 30000, &reply, &r, &e);
            if (rc != 0)
                fail_msg("round %d: %zu items unanswered: %s", round, left, e.message);
            if (!r)
                fail_msg("round %d: a classic reply, not a receipt", round);
            for (size_t k = 0; k < cpm_receipt_count(r); k++) {
                const cpm_receipt_item_t *it = cpm_receipt_at(r, k);
                if (strcmp(it->correlation_id, hold_id) == 0) {
                    left--;
                    continue;
                }
                int b = 0;
                while (b < NBATCH && strcmp(ids[b], it->correlation_id) != 0)
                    b++;
                assert_true(b < NBATCH);
                assert_true(it->item < CPM_SUBMIT_BATCH_MAX);
                assert_int_equal(answered[b][it->item], 0);
                assert_int_equal(it->type, CPM__MSG_TYPE__MSG_SUBMIT_REPLY);
                answered[b][it->item] = 1;
                left--;
                if (it->index + 1 > max_group)
                    max_group = it->index + 1;
            }
            cpm_receipt_destroy(&r);
        }
        split = counter(&c, "receipts.frames") - frames0 > counter(&c, "receipts.groups") - groups0;
    }
    assert_true(split);
    assert_true(max_group < 1024 + CPM_SUBMIT_BATCH_MAX);
    assert_int_equal(cpm_client_refused(c.cl), 0);
    assert_true(stored(&c, "M-0-39-63"));
    client_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items_answered_by_one_receipt),
        cmocka_unit_test(test_too_many_items_refused_whole),
        cmocka_unit_test(test_many_batches_answered_in_bounded_frames),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
