/* Tests of cpm_pump against a real LMDB store in a temp folder and an
 * in-process peer (fixtures/ackpeer.h) that answers DeliveryBatches with
 * signed Acks: one batch then a drained outbox with the ack recorded
 * durably; resends with backoff while the peer is silent; a halt (records
 * kept) when the peer's mark goes back or the store is an older copy; an
 * unsendable record set aside as a dead letter with a tombstone in its place.
 *
 * The test drives both sides from one thread, so nothing waits on time:
 * where a test needs the network it polls until a condition, with a
 * generous deadline; the backoff is checked on a clock the test passes in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpm_delivery.h"
#include "cpm_inbox.h"
#include "cpm_outbox.h"
#include "cpm_pump.h"
#include "fixtures/pump_fixture.h"

#define SELF PFX_SELF
#define STREAM PFX_STREAM
#define DEADLINE_MS 30000
/* Where the clock of a test that drives the pump on its own clock starts: a
 * day ahead of the monotonic clock, so a test that slips back to the real
 * clock fails (after DEADLINE_MS) on every machine, not only on one booted
 * less than a few minutes before (as on a fresh machine). The other tests
 * pass the real clock, or a second ahead of it at most. */
#define TEST_CLOCK_START() (cpm_mono_ms() + 86400000)

typedef pfx_t fx_t;

/* One turn of each side on the real clock. */
static void step(fx_t *f)
{
    cpm_pump_run(f->p, f->peer.reg, cpm_mono_ms());
    ackpeer_poll(&f->peer, 10);
}

static uint64_t store_u64(fx_t *f, int which);

/* Acked, and the ack recorded in the store (acks of a stream without an
 * acked hook are recorded up to 100 ms later, several at once). */
static int acked_upto(fx_t *f, uint64_t seq)
{
    Cpm__PeerStatus ps = pfx_health(f);
    return ps.acked_seq == seq && ps.outbox_depth == 0 && store_u64(f, 0) == seq;
}

static int halted(fx_t *f)
{
    return pfx_health(f).halted;
}

/* Turn both sides until cond holds; fails after DEADLINE_MS. */
static void until(fx_t *f, int (*cond)(fx_t *, uint64_t), uint64_t arg, const char *what)
{
    int64_t end = cpm_mono_ms() + DEADLINE_MS;
    while (!cond(f, arg)) {
        if (cpm_mono_ms() > end)
            fail_msg("timed out waiting for %s", what);
        step(f);
    }
}

/* Turn both sides on the test's clock, 10 ms further each turn, until cond
 * holds. A test that moved the pump onto its own clock stays on it: that
 * clock is a day ahead of the machine's monotonic clock (TEST_CLOCK_START),
 * and on the real clock nothing timed after the test's "now" would fall
 * due. */
static void until_ticking(fx_t *f, int64_t *now, int (*cond)(fx_t *, uint64_t), uint64_t arg,
                          const char *what)
{
    int64_t end = cpm_mono_ms() + DEADLINE_MS;
    while (!cond(f, arg)) {
        if (cpm_mono_ms() > end)
            fail_msg("timed out waiting for %s", what);
        cpm_pump_run(f->p, f->peer.reg, *now);
        ackpeer_poll(&f->peer, 10);
        *now += 10;
    }
}

static int cond_acked(fx_t *f, uint64_t seq)
{
    return acked_upto(f, seq);
}

static int cond_halted(fx_t *f, uint64_t unused)
{
    (void)unused;
    return halted(f);
}

static uint64_t store_u64(fx_t *f, int which)
{
    MDB_txn *txn = NULL;
    uint64_t v = 0;
    assert_int_equal(cpm_store_begin(f->store, false, &txn), 0);
    if (which == 0)
        assert_int_equal(cpm_outbox_acked(f->store, txn, STREAM, &v), 0);
    else
        assert_int_equal(cpm_outbox_depth(f->store, txn, STREAM, &v), 0);
    cpm_store_abort(&txn);
    return v;
}
#define STORE_ACKED(f) store_u64(f, 0)
#define STORE_DEPTH(f) store_u64(f, 1)

/* Close the pump and the store, open both again from the folder. */
static void reopen(fx_t *f)
{
    cpm_pump_destroy(&f->p);
    cpm_store_destroy(&f->store);
    pfx_store_open(f);
    pfx_pump_open(f);
}

/* A batch_max above a receiver's cap of dead letters sends no more records in
 * a batch than that cap: a batch of records that all fail must always fit. */
static void test_batch_max_is_held_to_what_a_receiver_takes(void **state)
{
    fx_t *f = *state;
    f->batch_max = 4096;
    pfx_pump_open(f);
    size_t n = CPM_DELIVERY_BATCH_RECORDS + 200;
    for (size_t i = 0; i < n; i++)
        pfx_commit(f, 4, 'b');
    until(f, cond_acked, n, "the outbox to drain");
    assert_true(f->peer.batches >= 2);
    assert_int_equal(f->peer.seen[0].first_seq, 1);
    assert_int_equal(f->peer.seen[0].n, CPM_DELIVERY_BATCH_RECORDS);
    assert_int_equal(CPM_DELIVERY_BATCH_RECORDS, CPM_DELIVERY_DEAD_MAX);
    for (size_t b = 0; b < f->peer.batches && b < ACKPEER_MAX_SEEN; b++)
        assert_true(f->peer.seen[b].n <= CPM_DELIVERY_BATCH_RECORDS);
}

static void test_batch_then_drained_and_ack_durable(void **state)
{
    fx_t *f = *state;
    pfx_pump_open(f);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pfx_commit(f, 10, (char)('a' + i)), (uint64_t)i + 1);
    until(f, cond_acked, 3, "the outbox to drain");
    assert_int_equal(f->peer.batches, 1); /* all three in one batch */
    assert_int_equal(f->peer.seen[0].first_seq, 1);
    assert_int_equal(f->peer.seen[0].n, 3);
    assert_int_equal(f->peer.mark, 3);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivered"), 3);
    assert_int_equal(STORE_DEPTH(f), 0);

    /* Recorded durably: a store opened again from the folder has the mark,
     * and a pump started on it has nothing to resend. */
    reopen(f);
    assert_int_equal(STORE_ACKED(f), 3);
    assert_int_equal(STORE_DEPTH(f), 0);
    Cpm__PeerStatus ps = pfx_health(f);
    assert_int_equal(ps.acked_seq, 3);
    assert_int_equal(ps.outbox_depth, 0);
    assert_false(ps.halted);
    /* The restarted pump asks the peer's mark once (an empty batch), then
     * the next record goes as seq 4. */
    assert_int_equal(pfx_commit(f, 5, 'd'), 4);
    until(f, cond_acked, 4, "record 4 acked after the restart");
    assert_int_equal(STORE_ACKED(f), 4);
    assert_int_equal(f->peer.seen[f->peer.batches - 1].first_seq, 4);
}

/* A record the store holds but the pump was not told of (a group held until
 * its flush ends: cpm_server_held.c) is not sent, even in a batch that goes
 * anyway; once told, it goes. */
static void test_only_records_told_committed_are_sent(void **state)
{
    fx_t *f = *state;
    pfx_pump_open(f);
    assert_int_equal(pfx_commit(f, 10, 'a'), 1);
    until(f, cond_acked, 1, "record 1 acked");
    assert_int_equal(pfx_commit(f, 10, 'b'), 2);
    cpm_pump_t *p = f->p;
    f->p = NULL; /* committed, the pump not told */
    assert_int_equal(pfx_commit(f, 10, 'c'), 3);
    f->p = p;
    until(f, cond_acked, 2, "record 2 acked");
    for (int i = 0; i < 20; i++)
        step(f);
    assert_int_equal(f->peer.mark, 2);
    for (size_t b = 0; b < f->peer.batches && b < ACKPEER_MAX_SEEN; b++)
        assert_true(f->peer.seen[b].first_seq + f->peer.seen[b].n <= 3);
    cpm_pump_committed(f->p, STREAM, 3, 10, cpm_mono_ms());
    until(f, cond_acked, 3, "record 3 acked once told");
    assert_int_equal(f->peer.mark, 3);
}

static void test_silent_peer_resends_with_backoff(void **state)
{
    fx_t *f = *state;
    f->peer.mode = ACKPEER_SILENT;
    pfx_pump_open(f);
    pfx_commit(f, 10, 'a');
    pfx_commit(f, 10, 'b');
    /* The pump's clock is the test's: each resend is due after the
     * backoff, which doubles from 250 ms up to 8 s. */
    const int64_t gaps[] = {250, 500, 1000, 2000, 4000, 8000, 8000};
    const size_t nsends = sizeof gaps / sizeof gaps[0];
    int64_t now = TEST_CLOCK_START();
    for (size_t i = 0; i < nsends; i++) {
        cpm_pump_run(f->p, f->peer.reg, now);
        assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), i + 1);
        assert_int_equal(cpm_pump_next_due_ms(f->p, now), gaps[i]);
        cpm_pump_run(f->p, f->peer.reg, now + gaps[i] - 1); /* not yet due */
        assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), i + 1);
        now += gaps[i];
    }
    assert_int_equal(pfx_health(f).retries, nsends - 1);
    assert_int_equal(cpm_metrics_get(f->metrics, "retried"), nsends - 1);

    /* Every sending reached the peer: the same records under a new msg_id. */
    int64_t end = cpm_mono_ms() + DEADLINE_MS;
    while (f->peer.batches < nsends && cpm_mono_ms() < end)
        ackpeer_poll(&f->peer, 50);
    assert_int_equal(f->peer.batches, nsends);
    for (size_t i = 0; i < nsends; i++) {
        assert_int_equal(f->peer.seen[i].first_seq, 1);
        assert_int_equal(f->peer.seen[i].n, 2);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(f->peer.seen[i].msg_id, f->peer.seen[j].msg_id);
    }
    assert_int_equal(STORE_DEPTH(f), 2); /* nothing deleted without an ack */

    /* Once the peer answers, the next resend drains the outbox. The pump
     * goes on on the test's clock, a day ahead of the machine's monotonic
     * clock: on the real clock the next resend would never be due. */
    f->peer.mode = ACKPEER_APPLY;
    until_ticking(f, &now, cond_acked, 2, "the outbox to drain once the peer answers");
    assert_int_equal(STORE_DEPTH(f), 0);
}

static void test_peer_mark_going_back_halts(void **state)
{
    fx_t *f = *state;
    pfx_pump_open(f);
    pfx_commit(f, 10, 'a');
    pfx_commit(f, 10, 'b');
    until(f, cond_acked, 2, "records 1-2 acked");

    /* The peer now says it has applied only up to 1 (its store was reset). */
    f->peer.mode = ACKPEER_FIXED;
    f->peer.fixed_mark = 1;
    pfx_commit(f, 10, 'c');
    pfx_commit(f, 10, 'd');
    until(f, cond_halted, 0, "the stream to halt");
    Cpm__PeerStatus ps = pfx_health(f);
    assert_int_equal(ps.acked_seq, 2);
    assert_int_equal(ps.outbox_depth, 2);
    assert_int_equal(STORE_ACKED(f), 2); /* the mark did not go back */
    assert_int_equal(STORE_DEPTH(f), 2); /* records 3 and 4 kept */
    assert_true(cpm_metrics_get(f->metrics, "delivery.rewound") >= 1);

    /* Halted means nothing more is sent, however long we wait. */
    uint64_t sent = cpm_metrics_get(f->metrics, "delivery.batches_sent");
    cpm_pump_run(f->p, f->peer.reg, cpm_mono_ms() + 3600 * 1000);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent);
    assert_int_equal(cpm_pump_next_due_ms(f->p, cpm_mono_ms()), -1);

    /* And the halt outlives a restart. */
    reopen(f);
    assert_true(halted(f));
    cpm_pump_run(f->p, f->peer.reg, cpm_mono_ms() + 3600 * 1000);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent);
    assert_int_equal(STORE_DEPTH(f), 2);
}

static void test_store_older_than_peer_halts(void **state)
{
    fx_t *f = *state;
    /* This store holds records 1-2, unacknowledged; the peer has applied up
     * to 5 of this stream: the store was restored from an older copy. */
    pfx_commit(f, 10, 'a');
    pfx_commit(f, 10, 'b');
    f->peer.mark = 5;
    pfx_pump_open(f);
    pfx_commit(f, 10, 'c'); /* taken as 3 before the peer answered: kept too */
    until(f, cond_halted, 0, "the stream to halt");
    Cpm__PeerStatus ps = pfx_health(f);
    assert_int_equal(ps.acked_seq, 0);
    assert_int_equal(ps.outbox_depth, 3);
    assert_int_equal(STORE_ACKED(f), 0);
    assert_int_equal(STORE_DEPTH(f), 3);
    assert_true(cpm_metrics_get(f->metrics, "delivery.rewound") >= 1);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivered"), 0);
}

static void test_oversize_record_becomes_tombstone(void **state)
{
    fx_t *f = *state;
    pfx_pump_open(f);
    pfx_commit(f, 10, 'a');
    pfx_commit(f, CPM_DELIVERY_RECORD_MAX + 1, 'B');
    pfx_commit(f, 10, 'c');
    until(f, cond_acked, 3, "all three acked");
    assert_int_equal(f->peer.mark, 3);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.unsendable"), 1);

    /* Seq 2 travelled as an empty record and nothing else went in its
     * place; the others arrived whole. */
    int tomb = 0;
    for (size_t i = 0; i < f->peer.batches; i++)
        for (size_t j = 0; j < f->peer.seen[i].n; j++) {
            uint64_t seq = f->peer.seen[i].first_seq + j;
            if (seq == 2) {
                assert_int_equal(f->peer.seen[i].lens[j], 0);
                tomb++;
            } else {
                assert_int_equal(f->peer.seen[i].lens[j], 10);
            }
        }
    assert_true(tomb >= 1);

    /* The record itself is kept here as a dead letter under (stream, 2). */
    MDB_txn *txn = NULL;
    int exists = 0;
    uint64_t n = 0;
    assert_int_equal(cpm_store_begin(f->store, false, &txn), 0);
    assert_int_equal(cpm_inbox_dead_exists(f->store, txn, STREAM, 2, &exists), 0);
    assert_int_equal(exists, 1);
    assert_int_equal(cpm_inbox_dead_exists(f->store, txn, STREAM, 1, &exists), 0);
    assert_int_equal(exists, 0);
    assert_int_equal(cpm_inbox_dead_count(f->store, txn, &n), 0);
    assert_int_equal(n, 1);
    cpm_store_abort(&txn);
    assert_int_equal(STORE_DEPTH(f), 0);
}

/* The acked hook: each record the peer acknowledged goes through it once,
 * in the transaction that records the ack; a hook that fails leaves the
 * ack unrecorded (and its writes out), to be tried again. */
typedef struct {
    fx_t *f;
    int fail;  /* calls still to fail */
    int calls; /* calls that returned 0 */
    uint64_t last_seq;
} hook_t;

static int count_acked(void *ctx, MDB_txn *txn, const char *peer_member, const char *peer_service,
                       uint64_t seq, const uint8_t *rec, size_t len)
{
    hook_t *h = ctx;
    assert_string_equal(peer_member, "hn.doit");
    assert_string_equal(peer_service, "routing");
    assert_int_equal(len, 10);
    assert_int_equal(rec[0], 'a' + (int)seq - 1);
    char key[64];
    uint64_t was = 0;
    snprintf(key, sizeof key, "test.hooked:%llu", (unsigned long long)seq);
    assert_int_equal(cpm_store_get_u64(h->f->store, txn, key, &was), 0);
    assert_int_equal(was, 0); /* never twice for one record */
    assert_int_equal(cpm_store_put_u64(h->f->store, txn, key, 1), 0);
    if (h->fail > 0) {
        h->fail--;
        return CPM_E_STORE_IO;
    }
    h->calls++;
    h->last_seq = seq;
    return 0;
}

static uint64_t hooked(fx_t *f, uint64_t seq)
{
    char key[64];
    uint64_t v = 0;
    MDB_txn *txn = NULL;
    snprintf(key, sizeof key, "test.hooked:%llu", (unsigned long long)seq);
    assert_int_equal(cpm_store_begin(f->store, false, &txn), 0);
    assert_int_equal(cpm_store_get_u64(f->store, txn, key, &v), 0);
    cpm_store_abort(&txn);
    return v;
}

static void test_acked_hook_runs_once_with_the_ack(void **state)
{
    fx_t *f = *state;
    hook_t h = {.f = f, .fail = 2};
    pfx_pump_open(f);
    assert_int_equal(cpm_pump_on_acked(f->p, "routing", count_acked, &h), 0);
    assert_int_equal(cpm_pump_on_acked(f->p, "nobody", count_acked, &h), -1);
    pfx_commit(f, 10, 'a');
    pfx_commit(f, CPM_DELIVERY_RECORD_MAX + 1, 'B'); /* a tombstone: the peer never had it */
    pfx_commit(f, 10, 'c');
    /* The peer applies all three; the hook fails twice: the ack is recorded
     * only with the hook's writes, when it succeeds. */
    int64_t end = cpm_mono_ms() + DEADLINE_MS;
    int ran = 0;
    while (h.fail > 0) {
        if (cpm_mono_ms() > end)
            fail_msg("the hook was never called");
        ran += cpm_pump_run(f->p, f->peer.reg, cpm_mono_ms());
        ackpeer_poll(&f->peer, 10);
        if (h.fail > 0) {
            assert_int_equal(STORE_ACKED(f), 0);
            assert_int_equal(hooked(f, 1), 0);
        }
    }
    until(f, cond_acked, 3, "all three acked");
    assert_int_equal(STORE_ACKED(f), 3);
    assert_int_equal(h.calls, 2);
    assert_int_equal(h.last_seq, 3);
    assert_int_equal(hooked(f, 1), 1);
    assert_int_equal(hooked(f, 2), 0);
    assert_int_equal(hooked(f, 3), 1);

    /* After a restart the peer acknowledges its mark again: nothing new. */
    reopen(f);
    assert_int_equal(cpm_pump_on_acked(f->p, "routing", count_acked, &h), 0);
    pfx_commit(f, 10, 'd');
    until(f, cond_acked, 4, "record 4 acked after the restart");
    assert_int_equal(h.calls, 3);
    assert_int_equal(h.last_seq, 4);
    (void)ran;
}

/* Turn both sides on a clock the test holds still at t until the pump has
 * the peer's ack for seq in memory (the peer answers over the network). */
static void acked_in_memory_at(fx_t *f, int64_t t, uint64_t seq)
{
    int64_t end = cpm_mono_ms() + DEADLINE_MS;
    while (pfx_health(f).acked_seq != seq) {
        if (cpm_mono_ms() > end)
            fail_msg("timed out waiting for the ack of %llu", (unsigned long long)seq);
        cpm_pump_run(f->p, f->peer.reg, t);
        ackpeer_poll(&f->peer, 10);
    }
}

/* Acks of a stream without a hook are gathered for 50 ms and then recorded
 * in one relaxed commit; until then the records stay in the store and the
 * health's depth counts them. */
static void test_acks_gathered_then_recorded_relaxed(void **state)
{
    fx_t *f = *state;
    pfx_pump_open(f);
    int64_t t = cpm_mono_ms();
    pfx_commit(f, 10, 'a');
    acked_in_memory_at(f, t, 1);
    pfx_commit(f, 10, 'b');
    acked_in_memory_at(f, t + 10, 2);
    assert_int_equal(STORE_ACKED(f), 0);
    assert_int_equal(STORE_DEPTH(f), 2);
    assert_int_equal(pfx_health(f).outbox_depth, 2); /* still in the store */
    /* Due 50 ms after the first unrecorded ack, on the pump's clock. */
    assert_int_equal(cpm_pump_next_due_ms(f->p, t + 10), 40);
    cpm_pump_run(f->p, f->peer.reg, t + 49);
    assert_int_equal(STORE_ACKED(f), 0);
    cpm_pump_run(f->p, f->peer.reg, t + 50);
    assert_int_equal(STORE_ACKED(f), 2);
    assert_int_equal(STORE_DEPTH(f), 0);
    assert_int_equal(pfx_health(f).outbox_depth, 0);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.ack_commits_relaxed"), 1);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.ack_commits"), 0);
    assert_int_equal(cpm_pump_next_due_ms(f->p, t + 50), -1);
}

/* A clean stop records what is gathered: nothing is sent again. */
static void test_stop_records_gathered_acks(void **state)
{
    fx_t *f = *state;
    pfx_pump_open(f);
    int64_t t = cpm_mono_ms();
    pfx_commit(f, 10, 'a');
    acked_in_memory_at(f, t, 1);
    assert_int_equal(STORE_ACKED(f), 0);
    reopen(f);
    assert_int_equal(STORE_ACKED(f), 1);
    assert_int_equal(STORE_DEPTH(f), 0);
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

/* What a power cut may do to a relaxed commit: undo it (the store as it
 * was before the acks were recorded). The pump started on that store sends
 * the records again, the peer answers with its mark (it drops them as
 * duplicates), and the stream goes on: no halt, nothing lost, the records
 * deleted once the ack is recorded again. */
static void test_undone_ack_record_resends_without_halt(void **state)
{
    fx_t *f = *state;
    pfx_pump_open(f);
    int64_t t = cpm_mono_ms();
    pfx_commit(f, 10, 'a');
    pfx_commit(f, 10, 'b');
    acked_in_memory_at(f, t, 2);
    char data[128], saved[128];
    snprintf(data, sizeof data, "%s/data.mdb", f->dir);
    snprintf(saved, sizeof saved, "%s/saved.mdb", f->dir);
    assert_int_equal(copy_file(data, saved), 0); /* before the ack is recorded */
    cpm_pump_run(f->p, f->peer.reg, t + 50);
    assert_int_equal(STORE_ACKED(f), 2);
    cpm_pump_destroy(&f->p);
    cpm_store_destroy(&f->store);
    assert_int_equal(rename(saved, data), 0); /* the crash undid the relaxed commit */
    pfx_store_open(f);
    pfx_pump_open(f);
    assert_int_equal(STORE_ACKED(f), 0);
    assert_int_equal(STORE_DEPTH(f), 2);
    size_t before = f->peer.batches;
    until(f, cond_acked, 2, "the records acked again");
    assert_false(pfx_health(f).halted);
    assert_int_equal(f->peer.seen[before].first_seq, 1); /* sent again */
    assert_int_equal(f->peer.mark, 2);                   /* applied once */
    assert_int_equal(STORE_DEPTH(f), 0);
    assert_int_equal(pfx_commit(f, 10, 'c'), 3);
    until(f, cond_acked, 3, "the next record after the resend");
}

/* A hooked stream's ack is recorded durably with the hook's writes; when
 * that fails it is tried again ACK_RECORD_MS (50 ms) later, not at once in a
 * busy loop, and the store keeps neither until it succeeds. */
static void test_failed_ack_record_retried_after_a_pause(void **state)
{
    fx_t *f = *state;
    hook_t h = {.f = f, .fail = 2};
    pfx_pump_open(f);
    assert_int_equal(cpm_pump_on_acked(f->p, "routing", count_acked, &h), 0);
    int64_t t = cpm_mono_ms();
    pfx_commit(f, 10, 'a');
    acked_in_memory_at(f, t, 1);
    assert_int_equal(cpm_pump_next_due_ms(f->p, t), 50);
    cpm_pump_run(f->p, f->peer.reg, t + 50); /* fails */
    assert_int_equal(h.fail, 1);
    assert_int_equal(STORE_ACKED(f), 0);
    assert_int_equal(cpm_pump_next_due_ms(f->p, t + 50), 50);
    cpm_pump_run(f->p, f->peer.reg, t + 99); /* not yet */
    assert_int_equal(h.fail, 1);
    cpm_pump_run(f->p, f->peer.reg, t + 100); /* fails again */
    assert_int_equal(h.fail, 0);
    cpm_pump_run(f->p, f->peer.reg, t + 150); /* succeeds, durably */
    assert_int_equal(h.calls, 1);
    assert_int_equal(STORE_ACKED(f), 1);
    assert_int_equal(hooked(f, 1), 1);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.ack_commits"), 1);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.ack_commits_relaxed"), 0);
}

/* With a linger, a batch that is not full waits until its oldest record is
 * linger ms old; a full one goes at once. */
static void test_linger_coalesces_until_full_or_old(void **state)
{
    fx_t *f = *state;
    pfx_pump_open(f);
    cpm_pump_set_linger(f->p, 1000);
    /* A stream born in this run has no mark to ask for. */
    uint64_t sent = cpm_metrics_get(f->metrics, "delivery.batches_sent");
    int64_t t0 = cpm_mono_ms();
    pfx_commit(f, 10, 'a');
    pfx_commit(f, 10, 'b');
    int64_t t = cpm_mono_ms();
    cpm_pump_run(f->p, f->peer.reg, t);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent);
    int64_t due = cpm_pump_next_due_ms(f->p, t);
    assert_true(due >= 1000 - (t - t0) && due <= 1000); /* from the first commit */
    cpm_pump_run(f->p, f->peer.reg, t + due);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent + 1);
    until(f, cond_acked, 2, "both records in one batch");
    assert_int_equal(f->peer.seen[f->peer.batches - 1].n, 2);

    /* 512 records (batch_max): at once. */
    for (int i = 0; i < 512; i++)
        pfx_commit(f, 4, 'x');
    cpm_pump_run(f->p, f->peer.reg, cpm_mono_ms());
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent + 2);
}

/* Turn both sides on the test's clock, frozen at now, until cond holds:
 * nothing whose backoff has not passed by now is sent meanwhile. */
static void until_at(fx_t *f, int64_t now, int (*cond)(fx_t *, uint64_t), uint64_t arg,
                     const char *what)
{
    int64_t end = cpm_mono_ms() + DEADLINE_MS;
    while (!cond(f, arg)) {
        if (cpm_mono_ms() > end)
            fail_msg("timed out waiting for %s", what);
        cpm_pump_run(f->p, f->peer.reg, now);
        ackpeer_poll(&f->peer, 10);
    }
}

static int cond_connected(fx_t *f, uint64_t want)
{
    return pfx_health(f).connected == (want != 0);
}

static int cond_received(fx_t *f, uint64_t n)
{
    return f->peer.batches >= n;
}

/* The pump has the peer's ack of seq (recorded in the store or not yet). */
static int cond_peer_acked(fx_t *f, uint64_t seq)
{
    return pfx_health(f).acked_seq == seq;
}

/* Records committed while a batch is in flight wait out their own linger
 * after its ack, as docs/operations.md "Coalesced deliveries" says: sent on
 * the ack, they would make a small batch per round trip at moderate load.
 * All on the test's clock, a day ahead of the machine's: the linger counts
 * from the time the commit was handed over with (before, the pump stamped it
 * with the machine's clock, and b here went at once after a's ack). */
static void test_linger_holds_after_an_ack(void **state)
{
    fx_t *f = *state;
    pfx_pump_open(f);
    cpm_pump_set_linger(f->p, 1000);
    uint64_t sent = cpm_metrics_get(f->metrics, "delivery.batches_sent");
    int64_t t = TEST_CLOCK_START();
    pfx_commit_at(f, 10, 'a', t);
    cpm_pump_run(f->p, f->peer.reg, t); /* the link; a waits */
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent);
    assert_int_equal(cpm_pump_next_due_ms(f->p, t), 1000);
    cpm_pump_run(f->p, f->peer.reg, t + 999);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent);
    int64_t now = t + 1000; /* a's linger has passed */
    cpm_pump_run(f->p, f->peer.reg, now);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent + 1);
    now = t + 1050;
    pfx_commit_at(f, 10, 'b', now); /* while a is in flight */
    until_at(f, now, cond_peer_acked, 1, "a acked");
    for (int i = 0; i < 5; i++) { /* the ack is in; b still waits */
        cpm_pump_run(f->p, f->peer.reg, now);
        ackpeer_poll(&f->peer, 10);
    }
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent + 1);
    /* Next due: a's ack recording (ACK_RECORD_MS, 50 ms after the ack came
     * in at now), before b's linger end (now + 1000). */
    assert_int_equal(cpm_pump_next_due_ms(f->p, now), 50);
    cpm_pump_run(f->p, f->peer.reg, now + 999);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent + 1);
    assert_int_equal(cpm_pump_next_due_ms(f->p, now + 999), 1);
    cpm_pump_run(f->p, f->peer.reg, now + 1000); /* b's own linger has passed */
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent + 2);
    until_at(f, now + 1000, cond_peer_acked, 2, "b acked");
    assert_int_equal(f->peer.seen[f->peer.batches - 1].first_seq, 2);
    assert_int_equal(f->peer.seen[f->peer.batches - 1].n, 1);
}

/* A batch full by its bytes (1 MiB) goes at once too, though it holds fewer
 * records than batch_max: before, 128 records of 8 KiB waited out the
 * linger, as if the batch could still grow (it cannot: the rest would go in
 * the next one). Below 1 MiB the batch still waits. */
static void test_linger_ends_at_a_full_batchs_bytes(void **state)
{
    fx_t *f = *state;
    pfx_pump_open(f);
    cpm_pump_set_linger(f->p, 1000);
    uint64_t sent = cpm_metrics_get(f->metrics, "delivery.batches_sent");
    int64_t t = TEST_CLOCK_START();
    for (int i = 0; i < 100; i++) /* 800 KiB */
        pfx_commit_at(f, 8192, 'a', t);
    cpm_pump_run(f->p, f->peer.reg, t);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent);
    assert_int_equal(cpm_pump_next_due_ms(f->p, t), 1000);
    for (int i = 0; i < 30; i++) /* 1,040 KiB in all: 128 of them make 1 MiB */
        pfx_commit_at(f, 8192, 'b', t + 10);
    cpm_pump_run(f->p, f->peer.reg, t + 10);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent + 1);
    until_at(f, t + 10, cond_peer_acked, 128, "the full batch acked");
    assert_int_equal(f->peer.seen[f->peer.batches - 1].first_seq, 1);
    assert_int_equal(f->peer.seen[f->peer.batches - 1].n, 128);
    /* The 2 left are not a full batch: they wait for the oldest one's
     * linger, as before. */
    cpm_pump_run(f->p, f->peer.reg, t + 10);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent + 1);
    cpm_pump_run(f->p, f->peer.reg, t + 1000);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent + 2);
    until_at(f, t + 1000, cond_peer_acked, 130, "the rest acked");
    assert_int_equal(f->peer.seen[f->peer.batches - 1].n, 2);
    /* Everything sent: the count is back to nothing, a small record waits. */
    pfx_commit_at(f, 10, 'c', t + 2000);
    cpm_pump_run(f->p, f->peer.reg, t + 2000);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.batches_sent"), sent + 2);
    assert_int_equal(cpm_pump_next_due_ms(f->p, t + 2000), 1000);
}

/* The peer closes its socket and binds again on the same endpoint. */
static void peer_bounce(fx_t *f, int64_t now)
{
    cpm_sock_close(&f->peer.router);
    until_at(f, now, cond_connected, 0, "the link down");
    f->peer.router = cpm_sock_server(f->zctx, ZMQ_ROUTER, &f->peer.peer, f->peer.ep);
    assert_non_null(f->peer.router);
}

/* The peer goes away with a batch in flight and comes back on the same
 * endpoint: the pump sends the batch again as soon as the link is up, not
 * when its backoff ends (the test's clock does not move: before, it waited
 * for ever here, and a real peer paused for a few seconds waited up to 8 s
 * more). Once per BACKOFF_MAX_MS (8 s) only: bounced again at once, the
 * link comes back and nothing is sent until the clock moves on. */
static void test_reconnect_resends_at_once(void **state)
{
    fx_t *f = *state;
    f->peer.mode = ACKPEER_SILENT;
    pfx_pump_open(f);
    pfx_commit(f, 10, 'a');
    int64_t now = TEST_CLOCK_START();
    until_at(f, now, cond_received, 1, "the first sending");
    until_at(f, now, cond_connected, 1, "the link up");
    peer_bounce(f, now); /* the batch unanswered */
    until_at(f, now, cond_received, 2, "the batch sent again on the new link");
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.resent_on_reconnect"), 1);
    until_at(f, now, cond_connected, 1, "the link up");
    peer_bounce(f, now);
    f->peer.mode = ACKPEER_APPLY;
    until_at(f, now, cond_connected, 1, "the link up again");
    for (int i = 0; i < 20; i++) { /* 200 ms: a sending would have arrived */
        cpm_pump_run(f->p, f->peer.reg, now);
        ackpeer_poll(&f->peer, 10);
    }
    assert_int_equal(f->peer.batches, 2);
    assert_int_equal(cpm_metrics_get(f->metrics, "delivery.resent_on_reconnect"), 1);
    now += 8000; /* the backoff's resend is due: sent, applied */
    until_at(f, now, cond_peer_acked, 1, "the batch sent again after the backoff");
    until_ticking(f, &now, cond_acked, 1, "the ack recorded"); /* on the clock's next turns */
    assert_int_equal(STORE_DEPTH(f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_then_drained_and_ack_durable, pfx_setup,
                                        pfx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_max_is_held_to_what_a_receiver_takes, pfx_setup,
                                        pfx_teardown),
        cmocka_unit_test_setup_teardown(test_only_records_told_committed_are_sent, pfx_setup,
                                        pfx_teardown),
        cmocka_unit_test_setup_teardown(test_silent_peer_resends_with_backoff, pfx_setup,
                                        pfx_teardown),
        cmocka_unit_test_setup_teardown(test_peer_mark_going_back_halts, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_store_older_than_peer_halts, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_oversize_record_becomes_tombstone, pfx_setup,
                                        pfx_teardown),
        cmocka_unit_test_setup_teardown(test_acked_hook_runs_once_with_the_ack, pfx_setup,
                                        pfx_teardown),
        cmocka_unit_test_setup_teardown(test_acks_gathered_then_recorded_relaxed, pfx_setup,
                                        pfx_teardown),
        cmocka_unit_test_setup_teardown(test_stop_records_gathered_acks, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_undone_ack_record_resends_without_halt, pfx_setup,
                                        pfx_teardown),
        cmocka_unit_test_setup_teardown(test_linger_coalesces_until_full_or_old, pfx_setup,
                                        pfx_teardown),
        cmocka_unit_test_setup_teardown(test_failed_ack_record_retried_after_a_pause, pfx_setup,
                                        pfx_teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_resends_at_once, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_linger_holds_after_an_ack, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_linger_ends_at_a_full_batchs_bytes, pfx_setup,
                                        pfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
