/* The server's delivery path (cpm_server_on_batch through a service's batches
 * table) in one process, with real sockets and a real store: a DeliveryBatch
 * whose records send records onward (cpm_server_send_record) and one of which
 * is refused after sending. The refusal undoes its run of records (the run
 * is applied again without it, cpm_delivery_apply_ops), and the records that
 * run sent must go with it: the pump is told only of the records of applied
 * records, so that its depth toward the onward peer is the outbox's own
 * (before eec30d6 the server's queue of records kept the undone run's, and
 * the pump's tail ran past its outbox). The loop runs in a thread as in
 * test_server_items.c; the sender is a client whose member may send to the
 * service, as a peer service's pump would. The tiny service prepares its
 * records ahead (cpm_svc_batch_t.prepare, on the verification pool), so
 * every test also checks that each call of its record function finds what
 * was prepared from its own record, applied again or not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cpm_client.h"
#include "cpm_outbox.h"
#include "cpm_retention.h"
#include "cpm_service.h"
#include "cpm_stream.h"
#include "fixtures/mesh_fixture.h"

/* ---- the tiny service: "routing" takes Complaints in case batches and
 * stores each under its ticket; a description "send" sends an Assignment of
 * it to t.peer's inspection (a record in the outbox, queued for the pump),
 * "sendfail" sends it, then is refused (a dead letter), anything else only
 * stores. A status query answers whether a ticket is stored, or, for the
 * ticket OUTBOX, the outbox's own depth toward t.peer's inspection (in
 * received_ms): what the store holds, to hold the pump's figure against. -- */

#define OUTBOX "#outbox"
#define ONWARD_STREAM "t.server/routing>t.peer/inspection"

struct cpm_svc {
    int unused;
};

/* Prepared ahead: "prep:<ticket>". Counted: made (on the pool's threads and
 * the loop's), and found by the record function. */
static atomic_uint prepared_made, prepared_found;
static atomic_uint prepared_p[16];  /* preparations of tickets P-0 to P-15 */
static atomic_uint prepared_target; /* "wait" waits for prepared_made to reach it, */
static atomic_bool waited;          /* once */

static void *prepare(const ProtobufCMessage *rec)
{
    const Cpm__Complaint *c = (const Cpm__Complaint *)rec;
    char *p = malloc(strlen(c->ticket) + 6);
    if (p) {
        sprintf(p, "prep:%s", c->ticket);
        unsigned k;
        if (sscanf(c->ticket, "P-%u", &k) == 1 && k < 16)
            atomic_fetch_add(&prepared_p[k], 1);
        atomic_fetch_add(&prepared_made, 1);
    }
    return p;
}

static int on_complaint(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                        ProtobufCMessage *rec, cpm_error_t *err)
{
    Cpm__Complaint *c = (Cpm__Complaint *)rec;
    const char *prep = cpm_svc_prepared(srv);
    if (prep) { /* it must be this record's */
        if (strncmp(prep, "prep:", 5) != 0 || strcmp(prep + 5, c->ticket) != 0)
            return cpm_error_set(err, CPM_E_INTERNAL, "ticket", "prepared %s for %s", prep,
                                 c->ticket);
        atomic_fetch_add(&prepared_found, 1);
    }
    /* "wait" (once): until the pool's one worker (verify_threads: 2) has
     * begun to prepare the batch's last record (at most 10 s): it prepares
     * in order, so every record before that one is marked ready by then and
     * the records after this one find theirs, whatever the scheduling */
    if (strcmp(c->description, "wait") == 0 && !atomic_exchange(&waited, true))
        for (int i = 0; i < 10000 && atomic_load(&prepared_made) < atomic_load(&prepared_target);
             i++)
            usleep(1000);
    /* "mut": the record function changes its decoded record (routing drops
     * a contact sent in clear): applied again, it must get it unchanged */
    if (strcmp(c->description, "mut") == 0)
        c->description[0] = 'X';
    else if (strcmp(c->description, "Xut") == 0)
        return cpm_error_set(err, CPM_E_INTERNAL, "description", "got an already changed record");
    int rc = cpm_store_put(cpm_server_store(srv), txn, "cases", c->ticket, strlen(c->ticket),
                           c->description, strlen(c->description));
    if (rc != 0)
        return cpm_error_set(err, rc, "", "cannot store");
    if (strncmp(c->description, "send", 4) == 0) {
        Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
        a.complaint = c;
        a.agency = "t.peer";
        if ((rc = cpm_server_send_record(srv, txn, "t.peer", "inspection", &a.base)) != 0)
            return cpm_error_set(err, rc, "", "cannot send");
    }
    if (strcmp(c->description, "sendfail") == 0)
        return cpm_error_set(err, CPM_E_INVALID, "description", "refused after sending");
    return 0;
}

static int on_status(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    Cpm__StatusQuery *q = (Cpm__StatusQuery *)payload;
    Cpm__StatusReply r = CPM__STATUS_REPLY__INIT;
    r.ticket = q->ticket;
    if (strcmp(q->ticket, OUTBOX) == 0) {
        uint64_t depth = 0;
        int rc = cpm_outbox_depth(cpm_server_store(srv), txn, ONWARD_STREAM, &depth);
        if (rc != 0)
            return cpm_error_set(err, rc, "", "cannot read the outbox");
        r.received_ms = (int64_t)depth;
    } else {
        const void *val = NULL;
        size_t len = 0;
        if (cpm_store_get(cpm_server_store(srv), txn, "cases", q->ticket, strlen(q->ticket), &val,
                          &len) != 0)
            return cpm_error_set(err, CPM_E_NOT_FOUND, "ticket", "no case %s", q->ticket);
    }
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_STATUS_REPLY, &r.base);
}

static const char *const dbs[] = {"cases", CPM_RETENTION_DB, NULL};
static const cpm_svc_request_t requests[] = {{CPM__MSG_TYPE__MSG_STATUS_QUERY,
                                              &cpm__status_query__descriptor, false, on_status,
                                              NULL, false},
                                             {0}};
static const cpm_svc_batch_t batches[] = {
    {CPM__MSG_TYPE__MSG_CASE_BATCH, &cpm__complaint__descriptor, on_complaint, prepare, free}, {0}};
/* t.peer is in no registry: what is sent to it stays in the outbox. */
static const cpm_svc_stream_t streams[] = {{"inspection", CPM__MSG_TYPE__MSG_ASSIGN_BATCH}, {0}};
static const cpm_service_t routing = {.name = "routing",
                                      .databases = dbs,
                                      .requests = requests,
                                      .batches = batches,
                                      .streams = streams};

/* ---- the mesh (fixtures/mesh_fixture.h): t.client may send "*@routing" --- */

static mesh_fx_t fx;

static int setup(void **state)
{
    mesh_fx_start(&fx, "/tmp/cpm_test_delivery_XXXXXX", &routing);
    return 0;
}

static int teardown(void **state)
{
    mesh_fx_stop(&fx);
    return 0;
}

/* ---- the sender: a client of a fresh instance, so that each test has a
 * stream of its own ("t.client/<instance>>t.server/routing") from seq 1 --- */

typedef struct {
    mesh_fx_client_t client;
    char stream[CPM_STREAM_MAX];
    uint64_t next_seq;
} sender_t;

static void sender_open(sender_t *c)
{
    mesh_fx_client_open(&fx, &c->client);
    const char *self = cpm_client_self(c->client.cl); /* "t.client/<instance>" */
    const char *slash = strchr(self, '/');
    assert_non_null(slash);
    assert_int_equal(
        cpm_stream_build(c->stream, sizeof c->stream, "t.client", slash + 1, "t.server", "routing"),
        0);
    c->next_seq = 1;
}

static void sender_close(sender_t *c)
{
    mesh_fx_client_close(&c->client);
}

/* Deliver the next n records of the stream, tickets "<prefix>-<i>" with
 * descriptions descs[i], as one case batch: the Ack's mark. */
static uint64_t deliver(sender_t *c, const char *prefix, const char *const *descs, size_t n)
{
    uint8_t bufs[8][256];
    ProtobufCBinaryData recs[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        Cpm__Complaint cp = CPM__COMPLAINT__INIT;
        char ticket[32];
        snprintf(ticket, sizeof ticket, "%s-%zu", prefix, i);
        cp.ticket = ticket;
        cp.description = (char *)descs[i];
        assert_true(cpm__complaint__get_packed_size(&cp) <= sizeof bufs[i]);
        recs[i].len = cpm__complaint__pack(&cp, bufs[i]);
        recs[i].data = bufs[i];
    }
    Cpm__DeliveryBatch b = CPM__DELIVERY_BATCH__INIT;
    b.stream = c->stream;
    b.epoch = 1;
    b.first_seq = c->next_seq;
    b.n_records = n;
    b.records = recs;
    cpm_msg_t reply = {0};
    cpm_error_t e = {0};
    if (cpm_client_call(c->client.cl, "t.server", "routing", CPM__MSG_TYPE__MSG_CASE_BATCH, &b.base,
                        30000, &reply, &e) != 0)
        fail_msg("batch not acknowledged: %s", e.message);
    assert_int_equal(reply.env->type, CPM__MSG_TYPE__MSG_ACK);
    Cpm__Ack *ack = cpm__ack__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    assert_non_null(ack);
    assert_string_equal(ack->stream, c->stream);
    uint64_t mark = ack->acked_seq;
    cpm__ack__free_unpacked(ack, NULL);
    cpm_msg_clear(&reply);
    c->next_seq += n;
    return mark;
}

/* The service's status answer for ticket (NULL when it has none). */
static Cpm__StatusReply *status(sender_t *c, const char *ticket)
{
    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = (char *)ticket;
    cpm_msg_t reply = {0};
    cpm_error_t e = {0};
    int rc = cpm_client_call(c->client.cl, "t.server", "routing", CPM__MSG_TYPE__MSG_STATUS_QUERY,
                             &q.base, 30000, &reply, &e);
    assert_true(rc == 0 || rc == CPM_E_NOT_FOUND);
    Cpm__StatusReply *r =
        rc == 0 ? cpm__status_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data)
                : NULL;
    assert_true(rc != 0 || r != NULL);
    cpm_msg_clear(&reply);
    return r;
}

static bool stored(sender_t *c, const char *ticket)
{
    Cpm__StatusReply *r = status(c, ticket);
    bool found = r != NULL;
    cpm__status_reply__free_unpacked(r, NULL);
    return found;
}

/* The outbox's depth toward t.peer's inspection, as the store holds it. */
static uint64_t outbox_depth(sender_t *c)
{
    Cpm__StatusReply *r = status(c, OUTBOX);
    assert_non_null(r);
    uint64_t depth = (uint64_t)r->received_ms;
    cpm__status_reply__free_unpacked(r, NULL);
    return depth;
}

/* A counter of the server's health report (0 when absent). */
static uint64_t counter(sender_t *c, const char *name)
{
    return mesh_fx_counter(c->client.cl, "routing", name);
}

/* The outbox depth toward t.peer's inspection that the server's pump knows. */
static uint64_t depth_to_peer(sender_t *c)
{
    return mesh_fx_pump_depth(c->client.cl, "routing", ">t.peer/inspection");
}

/* ---- tests ----------------------------------------------------------------- */

/* send, send, sendfail, fine: the first run (records 0..2) sends three and
 * is undone by record 2's refusal; records 0 and 1 run again and send two,
 * record 2 is a dead letter, record 3 applies and sends nothing. The pump is
 * told of two records, as the outbox holds, not of the undone run's three
 * (before the fix it was told of seq 3 as well: a tail past the outbox). */
static void test_refused_record_takes_its_runs_sends(void **state)
{
    sender_t c;
    sender_open(&c);
    uint64_t depth0 = depth_to_peer(&c), outbox0 = outbox_depth(&c);
    uint64_t dead0 = counter(&c, "delivery.dead_letters");
    uint64_t applied0 = counter(&c, "delivery.records_applied");
    const char *descs[4] = {"send", "send", "sendfail", "fine"};
    assert_int_equal(deliver(&c, "D", descs, 4), 4); /* the dead letter is passed over */
    assert_true(stored(&c, "D-0"));
    assert_true(stored(&c, "D-1"));
    assert_false(stored(&c, "D-2"));
    assert_true(stored(&c, "D-3"));
    assert_int_equal(counter(&c, "delivery.dead_letters") - dead0, 1);
    assert_int_equal(counter(&c, "delivery.records_applied") - applied0, 3);
    assert_int_equal(outbox_depth(&c) - outbox0, 2);
    assert_int_equal(depth_to_peer(&c) - depth0, 2);
    assert_int_equal(depth_to_peer(&c), outbox_depth(&c));
    sender_close(&c);
}

/* Every record refused after sending: each run undone, nothing applied,
 * both dead letters, and the pump told of nothing (before the fix, of the
 * seq both undone runs had taken). */
static void test_batch_of_refused_senders(void **state)
{
    sender_t c;
    sender_open(&c);
    uint64_t depth0 = depth_to_peer(&c), outbox0 = outbox_depth(&c);
    uint64_t dead0 = counter(&c, "delivery.dead_letters");
    const char *descs[2] = {"sendfail", "sendfail"};
    assert_int_equal(deliver(&c, "N", descs, 2), 2);
    assert_false(stored(&c, "N-0"));
    assert_false(stored(&c, "N-1"));
    assert_int_equal(counter(&c, "delivery.dead_letters") - dead0, 2);
    assert_int_equal(outbox_depth(&c) - outbox0, 0);
    assert_int_equal(depth_to_peer(&c) - depth0, 0);
    assert_int_equal(depth_to_peer(&c), outbox_depth(&c));
    sender_close(&c);
}

/* The refusal in the middle, the records after it sending: the pump's
 * depth follows the outbox through the batch and the next one of the
 * stream (the undone run's seqs taken again by the records after the
 * refused one, so this passed before the fix as well: the control). */
static void test_sends_after_a_refusal(void **state)
{
    sender_t c;
    sender_open(&c);
    uint64_t depth0 = depth_to_peer(&c), outbox0 = outbox_depth(&c);
    const char *descs[4] = {"send", "sendfail", "send", "send"};
    assert_int_equal(deliver(&c, "M", descs, 4), 4);
    assert_false(stored(&c, "M-1"));
    assert_true(stored(&c, "M-3"));
    assert_int_equal(outbox_depth(&c) - outbox0, 3);
    assert_int_equal(depth_to_peer(&c) - depth0, 3);
    const char *more[1] = {"send"};
    assert_int_equal(deliver(&c, "M2", more, 1), 5);
    assert_int_equal(depth_to_peer(&c) - depth0, 4);
    assert_int_equal(depth_to_peer(&c), outbox_depth(&c));
    sender_close(&c);
}

/* Prepared ahead on the pool while the loop applies: each call of the
 * record function that found something found its own record's (one that
 * found another's would have refused its record). P-0 waits until the last
 * record is being prepared, so P-1 to P-4 find theirs: P-1 and P-2 in the
 * first run, undone by P-2's refusal; P-0, P-1, P-3 and P-4 when it runs
 * again; P-0 the first time and P-5 may or may not (P-0 looked before
 * waiting; P-5 may still be in the making). P-1 changes its decoded record
 * each time: the second run gets it decoded again, not the changed one.
 * Sent again with two more, only the two new records are prepared. */
static void test_records_prepared_ahead(void **state)
{
    sender_t c;
    sender_open(&c);
    unsigned made0 = atomic_load(&prepared_made), found0 = atomic_load(&prepared_found);
    atomic_store(&prepared_target, made0 + 6);
    atomic_store(&waited, false);
    uint64_t dead0 = counter(&c, "delivery.dead_letters");
    uint64_t prepared0 = counter(&c, "delivery.records_prepared");
    const char *descs[6] = {"wait", "mut", "sendfail", "fine", "fine", "fine"};
    assert_int_equal(deliver(&c, "P", descs, 6), 6);
    assert_true(stored(&c, "P-0"));
    assert_true(stored(&c, "P-1"));
    assert_false(stored(&c, "P-2"));
    assert_true(stored(&c, "P-3"));
    assert_true(stored(&c, "P-4"));
    assert_true(stored(&c, "P-5"));
    assert_int_equal(counter(&c, "delivery.dead_letters") - dead0, 1);
    assert_int_equal(atomic_load(&prepared_made) - made0, 6);
    unsigned found = atomic_load(&prepared_found) - found0;
    if (found < 6 || found > 8)
        fail_msg("prepared records found %u times, not 6 to 8", found);
    /* health counts what was found ready (once a record: P-1 to P-4 at least) */
    assert_true(counter(&c, "delivery.records_prepared") - prepared0 >= 4);
    /* sent again with two more: the six below the stream's mark are
     * duplicates, never applied, and only the two new ones are prepared (P-6
     * waits until two more were prepared: had the pool begun with the
     * duplicates, those two would be P-0 and P-1) */
    for (int k = 0; k < 6; k++)
        assert_int_equal(atomic_load(&prepared_p[k]), 1);
    atomic_store(&prepared_target, atomic_load(&prepared_made) + 2);
    atomic_store(&waited, false);
    c.next_seq -= 6;
    const char *again[8] = {"-", "-", "-", "-", "-", "-", "wait", "fine"};
    assert_int_equal(deliver(&c, "P", again, 8), 8);
    assert_true(stored(&c, "P-6"));
    assert_true(stored(&c, "P-7"));
    for (int k = 0; k < 6; k++)
        assert_int_equal(atomic_load(&prepared_p[k]), 1);
    assert_int_equal(atomic_load(&prepared_p[6]), 1);
    sender_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* the control first: the others, failing, leave the pump's tail
         * past the outbox for the tests after them */
        cmocka_unit_test(test_sends_after_a_refusal),
        cmocka_unit_test(test_refused_record_takes_its_runs_sends),
        cmocka_unit_test(test_batch_of_refused_senders),
        cmocka_unit_test(test_records_prepared_ahead),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
