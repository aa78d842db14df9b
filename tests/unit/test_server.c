/* The server loop in one process: a service described by a tiny table
 * (cpm_service_attach) runs cpm_server_run in a thread; the test is a member
 * with a CURVE DEALER socket that sends signed requests and reads the signed
 * replies. The service's name ("notes") is known nowhere in common/. */
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

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

/* ---- the tiny service: "submit" stores a note under its ticket, "status"
 * reads it back ------------------------------------------------------------ */

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
    Cpm__SubmitReply r = CPM__SUBMIT_REPLY__INIT;
    r.ticket = c->ticket;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_SUBMIT_REPLY, &r.base);
}

static int on_status(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    Cpm__StatusQuery *q = (Cpm__StatusQuery *)payload;
    if (strcmp(q->ticket, "SLOW") == 0)
        usleep(120 * 1000); /* longer than a turn (TURN_MS): the turn is cut after it */
    const void *val = NULL;
    size_t len = 0;
    if (cpm_store_get(cpm_server_store(srv), txn, "notes", q->ticket, strlen(q->ticket), &val,
                      &len) != 0)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "ticket", "no note %s", q->ticket);
    char state[64];
    snprintf(state, sizeof state, "%.*s", (int)len, (const char *)val);
    Cpm__StatusReply r = CPM__STATUS_REPLY__INIT;
    r.ticket = q->ticket;
    r.area = state; /* any string field: the note read back */
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_STATUS_REPLY, &r.base);
}

/* CPM_RETENTION_DB: the server's tick (after a second of running) sweeps dead
 * letters, as in every service. */
static const char *const dbs[] = {"notes", CPM_RETENTION_DB, NULL};
static const cpm_svc_request_t requests[] = {
    {CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, &cpm__complaint__descriptor, true, on_submit, NULL,
     false},
    {CPM__MSG_TYPE__MSG_STATUS_QUERY, &cpm__status_query__descriptor, false, on_status, NULL,
     false},
    {0}};
static const cpm_service_t notes = {.name = "notes", .databases = dbs, .requests = requests};

/* ---- the mesh (fixtures/mesh_fixture.h): a root key, two members, a signed
 * registry, a config, the server's loop in a thread ------------------------ */

static mesh_fx_t fx;

static int setup(void **state)
{
    mesh_fx_start(&fx, "/tmp/cpm_test_server_XXXXXX", &notes);
    return 0;
}

static int teardown(void **state)
{
    mesh_fx_stop(&fx);
    return 0;
}

/* ---- the client ------------------------------------------------------------ */

typedef struct {
    void *zctx, *sock;
    cpm_sender_t sender;
} client_t;

static void client_open(client_t *c)
{
    char ep[400];
    snprintf(ep, sizeof ep, "ipc://%s/req", fx.tmpdir);
    c->zctx = zmq_ctx_new();
    c->sock = cpm_sock_client(c->zctx, ZMQ_DEALER, &fx.client_id, fx.server_id.curve_pk, ep);
    assert_non_null(c->sock);
    int ms = 30000; /* generous: the machine is shared; never a timed assertion */
    zmq_setsockopt(c->sock, ZMQ_RCVTIMEO, &ms, sizeof ms);
    cpm_sender_init(&c->sender, &fx.client_id, "test");
}

static void client_close(client_t *c)
{
    cpm_sock_close(&c->sock);
    zmq_ctx_term(c->zctx);
}

/* Send payload bytes as type; return the reply's type and its payload. */
static uint64_t call(client_t *c, Cpm__MsgType type, const uint8_t *payload, size_t len,
                     uint8_t *out, size_t *outlen)
{
    uint8_t *frame = NULL;
    size_t flen = 0;
    assert_int_equal(cpm_sender_seal_raw(&c->sender, type, "t.server/notes", "", payload, len, NULL,
                                         &frame, &flen),
                     0);
    assert_true(zmq_send(c->sock, frame, flen, 0) == (int)flen);
    free(frame);
    uint8_t buf[65536];
    int n = zmq_recv(c->sock, buf, sizeof buf, 0);
    assert_true(n > 0);
    cpm_slice_t env, sig;
    cpm_envelope_view_t v;
    assert_int_equal(cpm_envelope_parse_signed(buf, (size_t)n, &env, &sig), 0);
    assert_int_equal(cpm_envelope_parse_view(env.data, env.len, &v), 0);
    assert_true(v.payload.len <= *outlen);
    memcpy(out, v.payload.data, v.payload.len);
    *outlen = v.payload.len;
    return v.type;
}

static size_t pack(const ProtobufCMessage *m, uint8_t *buf)
{
    return protobuf_c_message_pack(m, buf);
}

static uint32_t error_code(const uint8_t *p, size_t len)
{
    Cpm__ErrorReply *e = cpm__error_reply__unpack(NULL, len, p);
    assert_non_null(e);
    uint32_t code = e->code;
    cpm__error_reply__free_unpacked(e, NULL);
    return code;
}

/* ---- tests ----------------------------------------------------------------- */

/* A write is answered only after its group committed: a later read (its
 * own transaction) sees it. */
static void test_write_committed_then_read(void **state)
{
    client_t c;
    client_open(&c);
    uint8_t in[1024], out[65536];
    size_t outlen = sizeof out;
    Cpm__Complaint cp = CPM__COMPLAINT__INIT;
    cp.ticket = "N-1";
    cp.description = "noisy";
    uint64_t t =
        call(&c, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, in, pack(&cp.base, in), out, &outlen);
    assert_int_equal(t, CPM__MSG_TYPE__MSG_SUBMIT_REPLY);
    Cpm__SubmitReply *r = cpm__submit_reply__unpack(NULL, outlen, out);
    assert_non_null(r);
    assert_string_equal(r->ticket, "N-1");
    cpm__submit_reply__free_unpacked(r, NULL);

    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = "N-1";
    outlen = sizeof out;
    t = call(&c, CPM__MSG_TYPE__MSG_STATUS_QUERY, in, pack(&q.base, in), out, &outlen);
    assert_int_equal(t, CPM__MSG_TYPE__MSG_STATUS_REPLY);
    Cpm__StatusReply *s = cpm__status_reply__unpack(NULL, outlen, out);
    assert_non_null(s);
    assert_string_equal(s->area, "noisy");
    cpm__status_reply__free_unpacked(s, NULL);
    client_close(&c);
}

/* A type the table does not serve: 403, from the loop. */
static void test_unknown_type_refused(void **state)
{
    client_t c;
    client_open(&c);
    uint8_t out[65536];
    size_t outlen = sizeof out;
    uint64_t t = call(&c, CPM__MSG_TYPE__MSG_RECORD_CONSULTATION, NULL, 0, out, &outlen);
    assert_int_equal(t, CPM__MSG_TYPE__MSG_ERROR);
    assert_int_equal(error_code(out, outlen), CPM_E_FORBIDDEN);
    client_close(&c);
}

/* A payload with a field this version does not know is refused by the
 * library (400) before the entry runs. */
static void test_unknown_field_refused_in_library(void **state)
{
    client_t c;
    client_open(&c);
    uint8_t in[1024], out[65536];
    size_t outlen = sizeof out;
    Cpm__Complaint cp = CPM__COMPLAINT__INIT;
    cp.ticket = "N-2";
    cp.description = "padded";
    size_t len = pack(&cp.base, in);
    in[len++] = 0xB8; /* field 999, varint */
    in[len++] = 0x3E;
    in[len++] = 0x01;
    int before = atomic_load(&handled);
    uint64_t t = call(&c, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, in, len, out, &outlen);
    assert_int_equal(t, CPM__MSG_TYPE__MSG_ERROR);
    assert_int_equal(error_code(out, outlen), CPM_E_INVALID);
    assert_int_equal(atomic_load(&handled), before);
    client_close(&c);
}

/* The health reply carries the store's fill (fields 20..23), read from the
 * store itself: live bytes within the map, the map within what it may grow
 * to, and the configured high-water mark (the default, 80). */
static void test_health_reports_store(void **state)
{
    client_t c;
    client_open(&c);
    uint8_t out[65536];
    size_t outlen = sizeof out;
    uint64_t t = call(&c, CPM__MSG_TYPE__MSG_HEALTH_QUERY, NULL, 0, out, &outlen);
    assert_int_equal(t, CPM__MSG_TYPE__MSG_HEALTH_REPLY);
    Cpm__HealthReply *h = cpm__health_reply__unpack(NULL, outlen, out);
    assert_non_null(h);
    assert_true(h->store_used_bytes > 0);
    assert_true(h->store_used_bytes <= h->store_map_bytes);
    assert_int_equal(h->store_map_bytes, (uint64_t)fx.cfg->map_size_mb << 20);
    assert_true(h->store_map_max_bytes >= h->store_map_bytes);
    assert_int_equal(h->store_high_water_pct, 80);
    cpm__health_reply__free_unpacked(h, NULL);
    client_close(&c);
}

/* A burst sent without waiting lands in few turns, whose signatures are
 * checked on the pool (verify_threads) before the loop takes the frames in
 * order: every valid write is applied and answered exactly once, a forged
 * frame and a replayed copy of an accepted one are refused (the copy only
 * after its original: the replay window runs in arrival order), and every
 * write can be read back. */
static void test_burst_verified_in_order(void **state)
{
    enum { WRITES = 48 };
    client_t c;
    client_open(&c);
    uint8_t in[1024], out[65536];
    char ids[WRITES][33];
    uint8_t *copy = NULL, *forged = NULL;
    size_t copy_len = 0, forged_len = 0;
    int before = atomic_load(&handled);
    for (int i = 0; i < WRITES; i++) {
        char ticket[32], text[32];
        snprintf(ticket, sizeof ticket, "B-%d", i);
        snprintf(text, sizeof text, "burst %d", i);
        Cpm__Complaint cp = CPM__COMPLAINT__INIT;
        cp.ticket = ticket;
        cp.description = text;
        uint8_t *frame = NULL;
        size_t flen = 0;
        assert_int_equal(cpm_sender_seal_raw(&c.sender, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                                             "t.server/notes", "", in, pack(&cp.base, in), NULL,
                                             &frame, &flen),
                         0);
        cpm_slice_t env, sig;
        cpm_envelope_view_t v;
        assert_int_equal(cpm_envelope_parse_signed(frame, flen, &env, &sig), 0);
        assert_int_equal(cpm_envelope_parse_view(env.data, env.len, &v), 0);
        assert_true(v.msg_id.len < sizeof ids[i]);
        memcpy(ids[i], v.msg_id.data, v.msg_id.len);
        ids[i][v.msg_id.len] = 0;
        assert_true(zmq_send(c.sock, frame, flen, 0) == (int)flen);
        if (i == 10) { /* a copy of an accepted write, sent later */
            copy = frame;
            copy_len = flen;
        } else if (i == 20) { /* the same write with a broken signature */
            forged = malloc(flen);
            memcpy(forged, frame, flen);
            forged_len = flen;
            forged[flen - 1] ^= 0x01; /* the signature is the last field */
            free(frame);
        } else {
            free(frame);
        }
        if (i == 30) {
            assert_true(zmq_send(c.sock, copy, copy_len, 0) == (int)copy_len);
            assert_true(zmq_send(c.sock, forged, forged_len, 0) == (int)forged_len);
        }
    }
    int ok[WRITES] = {0}, refused = 0;
    for (int k = 0; k < WRITES + 2; k++) {
        int n = zmq_recv(c.sock, out, sizeof out, 0);
        assert_true(n > 0);
        cpm_slice_t env, sig;
        cpm_envelope_view_t v;
        assert_int_equal(cpm_envelope_parse_signed(out, (size_t)n, &env, &sig), 0);
        assert_int_equal(cpm_envelope_parse_view(env.data, env.len, &v), 0);
        int which = -1;
        for (int i = 0; i < WRITES; i++)
            if (v.correlation_id.len == strlen(ids[i]) &&
                memcmp(v.correlation_id.data, ids[i], v.correlation_id.len) == 0)
                which = i;
        assert_true(which >= 0);
        if (v.type == CPM__MSG_TYPE__MSG_SUBMIT_REPLY) {
            ok[which]++;
        } else {
            assert_int_equal(v.type, CPM__MSG_TYPE__MSG_ERROR);
            assert_int_equal(error_code(v.payload.data, v.payload.len), CPM_E_FORBIDDEN);
            assert_true(which == 10 || which == 20);
            refused++;
        }
    }
    for (int i = 0; i < WRITES; i++)
        assert_int_equal(ok[i], 1);
    assert_int_equal(refused, 2);
    assert_int_equal(atomic_load(&handled) - before, WRITES);
    for (int i = 0; i < WRITES; i += 7) {
        char ticket[32], text[32];
        snprintf(ticket, sizeof ticket, "B-%d", i);
        snprintf(text, sizeof text, "burst %d", i);
        Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
        q.ticket = ticket;
        size_t outlen = sizeof out;
        uint64_t t = call(&c, CPM__MSG_TYPE__MSG_STATUS_QUERY, in, pack(&q.base, in), out, &outlen);
        assert_int_equal(t, CPM__MSG_TYPE__MSG_STATUS_REPLY);
        Cpm__StatusReply *r = cpm__status_reply__unpack(NULL, outlen, out);
        assert_non_null(r);
        assert_string_equal(r->area, text);
        cpm__status_reply__free_unpacked(r, NULL);
    }
    free(copy);
    free(forged);
    client_close(&c);
}

/* A read longer than a turn cuts the turn: the writes that came with it in
 * the same turn are held, with their checks, and taken first by the next
 * turn, in order, each applied and answered exactly once. */
static void test_cut_turn_holds_frames(void **state)
{
    enum { WRITES = 24 };
    client_t c;
    client_open(&c);
    uint8_t in[1024], out[65536];
    int before = atomic_load(&handled);
    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = "SLOW";
    uint8_t *frame = NULL;
    size_t flen = 0;
    assert_int_equal(cpm_sender_seal_raw(&c.sender, CPM__MSG_TYPE__MSG_STATUS_QUERY,
                                         "t.server/notes", "", in, pack(&q.base, in), NULL, &frame,
                                         &flen),
                     0);
    assert_true(zmq_send(c.sock, frame, flen, 0) == (int)flen);
    free(frame);
    for (int i = 0; i < WRITES; i++) {
        char ticket[32];
        snprintf(ticket, sizeof ticket, "C-%d", i);
        Cpm__Complaint cp = CPM__COMPLAINT__INIT;
        cp.ticket = ticket;
        cp.description = ticket;
        assert_int_equal(cpm_sender_seal_raw(&c.sender, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                                             "t.server/notes", "", in, pack(&cp.base, in), NULL,
                                             &frame, &flen),
                         0);
        assert_true(zmq_send(c.sock, frame, flen, 0) == (int)flen);
        free(frame);
    }
    int submits = 0, errors = 0;
    for (int k = 0; k < WRITES + 1; k++) {
        int n = zmq_recv(c.sock, out, sizeof out, 0);
        assert_true(n > 0);
        cpm_slice_t env, sig;
        cpm_envelope_view_t v;
        assert_int_equal(cpm_envelope_parse_signed(out, (size_t)n, &env, &sig), 0);
        assert_int_equal(cpm_envelope_parse_view(env.data, env.len, &v), 0);
        if (v.type == CPM__MSG_TYPE__MSG_SUBMIT_REPLY)
            submits++;
        else if (v.type == CPM__MSG_TYPE__MSG_ERROR &&
                 error_code(v.payload.data, v.payload.len) == CPM_E_NOT_FOUND)
            errors++; /* the slow read: no note SLOW */
    }
    assert_int_equal(submits, WRITES);
    assert_int_equal(errors, 1);
    assert_int_equal(atomic_load(&handled) - before, WRITES);
    for (int i = 0; i < WRITES; i += 5) {
        char ticket[32];
        snprintf(ticket, sizeof ticket, "C-%d", i);
        Cpm__StatusQuery r = CPM__STATUS_QUERY__INIT;
        r.ticket = ticket;
        size_t outlen = sizeof out;
        uint64_t t = call(&c, CPM__MSG_TYPE__MSG_STATUS_QUERY, in, pack(&r.base, in), out, &outlen);
        assert_int_equal(t, CPM__MSG_TYPE__MSG_STATUS_REPLY);
    }
    size_t outlen = sizeof out;
    assert_int_equal(call(&c, CPM__MSG_TYPE__MSG_HEALTH_QUERY, NULL, 0, out, &outlen),
                     CPM__MSG_TYPE__MSG_HEALTH_REPLY);
    Cpm__HealthReply *h = cpm__health_reply__unpack(NULL, outlen, out);
    assert_non_null(h);
    for (size_t i = 0; i < h->n_counters; i++) /* which path ran (not asserted: timing) */
        if (strcmp(h->counters[i]->name, "loop.turns_cut") == 0 ||
            strcmp(h->counters[i]->name, "verify.parallel_batches") == 0)
            fprintf(stderr, "  %s %llu\n", h->counters[i]->name,
                    (unsigned long long)h->counters[i]->value);
    cpm__health_reply__free_unpacked(h, NULL);
    client_close(&c);
}

/* A group whose commit fails is answered with errors only: the answers
 * sealed beside the commit (on the pool's thread, before the commit's end)
 * never go out, and nothing of the group is stored. The commit is made to
 * fail for real: the process may not grow a file past the store's present
 * size (RLIMIT_FSIZE), and the request's note needs new pages at its end. */
static void test_failed_commit_sends_no_early_answer(void **state)
{
    client_t c;
    client_open(&c);
    uint8_t in[1024], out[65536];
    size_t outlen = sizeof out;
    Cpm__Complaint cp = CPM__COMPLAINT__INIT;
    cp.ticket = "F-0"; /* a first write, so that the store's file exists at its size */
    cp.description = "before";
    assert_int_equal(
        call(&c, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, in, pack(&cp.base, in), out, &outlen),
        CPM__MSG_TYPE__MSG_SUBMIT_REPLY);

    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/data/data.mdb", fx.tmpdir);
    assert_int_equal(stat(path, &st), 0);
    enum { BIG = 65000 }; /* 16 pages in one run: none free, new at the file's end */
    char *text = malloc(BIG + 1);
    uint8_t *big = malloc(BIG + 64);
    assert_non_null(text);
    assert_non_null(big);
    memset(text, 'x', BIG);
    text[BIG] = 0;
    cp.ticket = "F-1";
    cp.description = text;
    size_t len = pack(&cp.base, big);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size;
    signal(SIGXFSZ, SIG_IGN); /* the write fails with EFBIG instead */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    outlen = sizeof out;
    uint64_t t = call(&c, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, big, len, out, &outlen);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(t, CPM__MSG_TYPE__MSG_ERROR);
    Cpm__ErrorReply *e = cpm__error_reply__unpack(NULL, outlen, out);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "nothing was recorded"));
    cpm__error_reply__free_unpacked(e, NULL);

    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = "F-1";
    outlen = sizeof out;
    t = call(&c, CPM__MSG_TYPE__MSG_STATUS_QUERY, in, pack(&q.base, in), out, &outlen);
    assert_int_equal(t, CPM__MSG_TYPE__MSG_ERROR);
    assert_int_equal(error_code(out, outlen), CPM_E_NOT_FOUND);
    outlen = sizeof out; /* the store works on: the same request now commits */
    assert_int_equal(call(&c, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, big, len, out, &outlen),
                     CPM__MSG_TYPE__MSG_SUBMIT_REPLY);
    free(text);
    free(big);
    client_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_committed_then_read),
        cmocka_unit_test(test_unknown_type_refused),
        cmocka_unit_test(test_unknown_field_refused_in_library),
        cmocka_unit_test(test_health_reports_store),
        cmocka_unit_test(test_burst_verified_in_order),
        cmocka_unit_test(test_cut_turn_holds_frames),
        cmocka_unit_test(test_failed_commit_sends_no_early_answer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
