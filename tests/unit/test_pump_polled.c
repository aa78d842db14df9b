/* Tests of cpm_pump driven as the service loop drives it: poll items from
 * cpm_pump_poll_items, cpm_zpoll, cpm_pump_polled, then cpm_pump_run. Once
 * polled, the pump reads a stream's socket and monitor only where the poll
 * found something (each look at an idle libzmq socket costs two system
 * calls, per stream, per loop turn). Checked here: records still go and
 * acks still come; an ack the poll has not seen yet stays in the socket
 * until a poll sees it (the old pump read every socket on every run); the
 * monitor, polled as a plain descriptor, still says when the peer connects
 * (a peer going away: tests/integration/test_liveness.py, delivery.peer_down).
 *
 * Both sides run on the test's thread (fixtures/ackpeer.h); where the
 * network is needed the test polls until a condition, with a generous
 * deadline. No timing is asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_outbox.h"
#include "cpm_pump.h"
#include "cpm_zpoll.h"
#include "fixtures/ackpeer.h"

#include <ftw.h>

#define SELF "hn.d.x/intake"
#define STREAM "hn.d.x/intake>hn.doit/routing"
#define DEADLINE_MS 30000
#define NITEMS 8

typedef struct {
    char dir[64];
    void *zctx;
    ackpeer_t peer;
    cpm_store_t *store;
    cpm_metrics_t *metrics;
    cpm_verifier_t *verifier;
    cpm_sender_t sender;
    cpm_pump_t *p;
    zmq_pollitem_t items[NITEMS];
    int n;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cpm-pumppoll-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->zctx = zmq_ctx_new();
    if (ackpeer_start(&f->peer, f->zctx) != 0)
        return -1;
    f->metrics = cpm_metrics_new();
    f->verifier = cpm_verifier_new(300000);
    cpm_sender_init(&f->sender, &f->peer.self, "intake");
    char err[256];
    f->store = cpm_store_open(f->dir, 0, NULL, err, sizeof err);
    if (!f->store)
        return -1;
    f->p = cpm_pump_new(f->zctx, f->store, &f->sender, SELF, f->verifier, f->metrics, 512);
    if (!f->p || cpm_pump_outbound(f->p, "routing", CPM__MSG_TYPE__MSG_CASE_BATCH) != 0 ||
        cpm_pump_load(f->p) != 0)
        return -1;
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fx_t *f = *state;
    cpm_pump_destroy(&f->p);
    cpm_store_destroy(&f->store);
    ackpeer_stop(&f->peer);
    zmq_ctx_term(f->zctx);
    cpm_verifier_destroy(&f->verifier);
    cpm_metrics_destroy(&f->metrics);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static uint64_t commit(fx_t *f, char fill)
{
    uint8_t buf[64];
    memset(buf, fill, sizeof buf);
    MDB_txn *txn = NULL;
    uint64_t seq = 0;
    assert_int_equal(cpm_store_begin(f->store, true, &txn), 0);
    assert_int_equal(cpm_outbox_put(f->store, txn, STREAM, buf, sizeof buf, &seq), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
    cpm_pump_committed(f->p, STREAM, seq);
    return seq;
}

static Cpm__PeerStatus health(fx_t *f)
{
    Cpm__HealthReply h = CPM__HEALTH_REPLY__INIT;
    cpm_pump_health(f->p, &h);
    assert_int_equal(h.n_peers, 1);
    Cpm__PeerStatus ps = *h.peers[0];
    ps.stream = NULL; /* borrowed from the pump */
    cpm_pump_health_free(&h);
    return ps;
}

/* The loop's poll over the pump's items (a short wait: the peer is driven
 * from this thread too). */
static void poll_pump(fx_t *f, long wait_ms)
{
    f->n = cpm_pump_poll_items(f->p, f->items, NITEMS);
    assert_true(cpm_zpoll(f->items, f->n, wait_ms) >= 0);
}

/* One turn as the service loop takes it, then one of the peer. */
static void turn(fx_t *f)
{
    poll_pump(f, 5);
    cpm_pump_polled(f->p, f->items, f->n);
    cpm_pump_run(f->p, f->peer.reg, cpm_mono_ms());
    ackpeer_poll(&f->peer, 5);
}

static void turns_until_acked(fx_t *f, uint64_t seq)
{
    int64_t end = cpm_mono_ms() + DEADLINE_MS;
    while (health(f).acked_seq < seq && cpm_mono_ms() < end)
        turn(f);
    assert_true(health(f).acked_seq >= seq);
}

/* The socket item of the stream (the first item of its pair). */
static zmq_pollitem_t *sock_item(fx_t *f)
{
    for (int i = 0; i < f->n; i++)
        if (f->items[i].socket)
            return &f->items[i];
    fail_msg("no socket item");
    return NULL;
}

static void polled_delivers_and_connects(void **state)
{
    fx_t *f = *state;
    for (char c = 'a'; c < 'e'; c++)
        turns_until_acked(f, commit(f, c));
    /* the monitor, read only when its descriptor was readable */
    int64_t end = cpm_mono_ms() + DEADLINE_MS;
    while (!health(f).connected && cpm_mono_ms() < end)
        turn(f);
    assert_true(health(f).connected);
    assert_int_equal(f->n, 2); /* the socket and its monitor's descriptor */
    assert_null(f->items[1].socket);
}

static void ack_stays_until_polled(void **state)
{
    fx_t *f = *state;
    turns_until_acked(f, commit(f, 'a'));
    uint64_t seq = commit(f, 'b');
    /* The batch goes; the peer answers; the ack waits in our socket. */
    size_t before = f->peer.batches;
    int64_t end = cpm_mono_ms() + DEADLINE_MS;
    while (f->peer.batches == before && cpm_mono_ms() < end) {
        poll_pump(f, 0);
        cpm_pump_polled(f->p, f->items, f->n);
        cpm_pump_run(f->p, f->peer.reg, cpm_mono_ms());
        ackpeer_poll(&f->peer, 5);
    }
    assert_true(f->peer.batches > before);
    end = cpm_mono_ms() + DEADLINE_MS;
    do
        poll_pump(f, 5);
    while (!sock_item(f)->revents && cpm_mono_ms() < end);
    assert_true(sock_item(f)->revents & ZMQ_POLLIN);
    /* A poll made before the ack came (nothing ready): the run leaves it. */
    for (int i = 0; i < f->n; i++)
        f->items[i].revents = 0;
    cpm_pump_polled(f->p, f->items, f->n);
    cpm_pump_run(f->p, f->peer.reg, cpm_mono_ms());
    assert_true(health(f).acked_seq < seq);
    /* The next poll sees it, and the run takes it. */
    poll_pump(f, 0);
    assert_true(sock_item(f)->revents & ZMQ_POLLIN);
    cpm_pump_polled(f->p, f->items, f->n);
    cpm_pump_run(f->p, f->peer.reg, cpm_mono_ms());
    assert_int_equal(health(f).acked_seq, seq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(polled_delivers_and_connects, setup, teardown),
        cmocka_unit_test_setup_teardown(ack_stays_until_polled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
