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
#include "fixtures/pump_fixture.h"

#define STREAM PFX_STREAM
#define DEADLINE_MS 30000

typedef pfx_t fx_t;

/* The pump opened at once: every test here drives it as the loop does. */
static int setup(void **state)
{
    if (pfx_setup(state) != 0)
        return -1;
    pfx_pump_open(*state);
    return 0;
}

static uint64_t commit(fx_t *f, char fill)
{
    return pfx_commit(f, 64, fill);
}

/* The loop's poll over the pump's items (a short wait: the peer is driven
 * from this thread too). */
static void poll_pump(fx_t *f, long wait_ms)
{
    f->n = cpm_pump_poll_items(f->p, f->items, PFX_ITEMS);
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
    while (pfx_health(f).acked_seq < seq && cpm_mono_ms() < end)
        turn(f);
    assert_true(pfx_health(f).acked_seq >= seq);
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
    while (!pfx_health(f).connected && cpm_mono_ms() < end)
        turn(f);
    assert_true(pfx_health(f).connected);
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
    assert_true(pfx_health(f).acked_seq < seq);
    /* The next poll sees it, and the run takes it. */
    poll_pump(f, 0);
    assert_true(sock_item(f)->revents & ZMQ_POLLIN);
    cpm_pump_polled(f->p, f->items, f->n);
    cpm_pump_run(f->p, f->peer.reg, cpm_mono_ms());
    assert_int_equal(pfx_health(f).acked_seq, seq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(polled_delivers_and_connects, setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(ack_stays_until_polled, setup, pfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
