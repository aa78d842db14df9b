/* A filtered fetch marks events proven only where it could prove them.
 *
 * cpm_subscriber_proven(node, service) = P claims that every event delivered
 * up to P is what the service signed. In a filtered reply the hashes of the
 * events left out are only the source's claim: a signed head after them
 * proves nothing before them, unless a checked range digest covers them
 * (docs/protocol.md section 20). The attack: the service's store edited (an
 * event changed, the hashes after it recomputed up to the next event the
 * filter leaves out, the checkpoint covering it removed); a filtered reader
 * gets the edited events in full, the skipped hashes unchanged, and later a
 * genuine checkpoint whose range starts after them. Each link the reader can
 * see holds, so it delivers the events; it must not call them proven.
 *
 * A fake service (the responder's sockets and registry, this file's answers)
 * serves scripted filtered replies of an 11-event log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_evcheck.h"
#include "cpm_subscriber.h"
#include "fixtures/responder.h"

#include <stdlib.h>
#include <unistd.h>

#define N 11

typedef struct {
    resp_t r;
    Cpm__Event ev[N + 1], bad[N + 1]; /* the log, and the log with event 3 edited */
    uint8_t hash[N + 1][32], prev[N + 1][32], bhash[N + 1][32], bprev[N + 1][32];
    /* The script: the first reply (seqs 1..10) with events 1..7 in full and
     * 8..10 skipped; edited: events 3..7 from the edited log; ckpt10: with
     * the checkpoint of 10 (range 1..10). The second reply (seq 11) has the
     * checkpoint of 11 with its range from from11. */
    bool edited, ckpt10;
    bool rewind11;   /* the reply from 11 steps back to 1 (the range of the checkpoint of 11) */
    atomic_int head; /* the log's head as the replies say it (0: N) */
    uint64_t from11;
    int fetches;
    void *zctx;
    cpm_client_t *c;
    cpm_subscriber_t *s;
    size_t delivered;
    bool all_chain_ok;
} fx_t;

static void make_log(Cpm__Event *ev, uint8_t (*hash)[32], uint8_t (*prev)[32], bool edit)
{
    static const uint8_t zero[32];
    for (int s = 1; s <= N; s++) {
        Cpm__Event *e = &ev[s];
        cpm__event__init(e);
        e->seq = (uint64_t)s;
        e->at_ms = 1767225600000LL + s;
        e->kind = "case.overdue";
        e->ticket = "HN-2026-00000001";
        e->agency = "hn.d.hoan-kiem";
        e->note = edit && s == 3 ? "fine waived" : "fine 5,000,000 VND";
        memcpy(prev[s], s > 1 ? hash[s - 1] : zero, 32);
        e->prev_hash = (ProtobufCBinaryData){32, prev[s]};
        cpm_event_hash(e, prev[s], hash[s]);
        e->hash = (ProtobufCBinaryData){32, hash[s]};
    }
}

static void add_ckpt(fx_t *f, Cpm__EventBatch *b, uint64_t seq, uint64_t from, uint8_t **frame,
                     size_t *len)
{
    cpm_evcheck_t c = {.seq = seq, .at_ms = 1767225600000LL + 100, .range_from = from};
    snprintf(c.node, sizeof c.node, "%s", f->r.svc.id);
    snprintf(c.service, sizeof c.service, "intake");
    memcpy(c.head_hash, f->hash[seq], 32);
    cpm_evrange_t r;
    cpm_evrange_init(&r, from);
    for (uint64_t q = from; q <= seq; q++)
        cpm_evrange_add(&r, f->hash[q]);
    cpm_evrange_final(&r, c.range_digest);
    assert_int_equal(cpm_evcheck_seal(&c, &f->r.svc, frame, len), 0);
    b->checkpoints[b->n_checkpoints++] = (ProtobufCBinaryData){*len, *frame};
}

static void answer(fx_t *f, zmq_msg_t *ident, const cpm_msg_t *m)
{
    Cpm__EventsFetch *q =
        cpm__events_fetch__unpack(NULL, m->env->payload.len, m->env->payload.data);
    if (!q)
        return;
    f->fetches++;
    Cpm__EventBatch b = CPM__EVENT_BATCH__INIT;
    Cpm__Event *evs[N];
    ProtobufCBinaryData ck[2];
    uint8_t skipped[3 * 32], *frame = NULL;
    size_t len = 0;
    b.node = (char *)f->r.svc.id;
    b.service = "intake";
    b.head_seq = atomic_load(&f->head) ? (uint64_t)atomic_load(&f->head) : N;
    b.events = evs;
    b.checkpoints = ck;
    if (q->from_seq <= 1) {
        b.scan_from = 1, b.scan_to = 10;
        for (int s = 1; s <= 7; s++)
            evs[b.n_events++] = f->edited && s >= 3 ? &f->bad[s] : &f->ev[s];
        for (int s = 8; s <= 10; s++)
            memcpy(skipped + 32 * (s - 8), f->hash[s], 32);
        b.skipped_hashes = (ProtobufCBinaryData){sizeof skipped, skipped};
        if (f->ckpt10)
            add_ckpt(f, &b, 10, 1, &frame, &len);
    } else if (q->from_seq == 11 && f->rewind11) { /* as the service does: from the range */
        b.scan_from = 1, b.scan_to = 11;
        for (int s = 1; s <= 7; s++)
            evs[b.n_events++] = &f->ev[s];
        for (int s = 8; s <= 10; s++)
            memcpy(skipped + 32 * (s - 8), f->hash[s], 32);
        b.skipped_hashes = (ProtobufCBinaryData){sizeof skipped, skipped};
        evs[b.n_events++] = &f->ev[11];
        add_ckpt(f, &b, 11, 1, &frame, &len);
    } else if (q->from_seq == 11) {
        b.scan_from = 11, b.scan_to = 11;
        evs[b.n_events++] = &f->ev[11];
        add_ckpt(f, &b, 11, f->from11, &frame, &len);
    }
    resp_reply(&f->r, ident, m, &f->r.sender, m->env->msg_id, CPM__MSG_TYPE__MSG_EVENTS_REPLY,
               &b.base);
    free(frame);
    cpm__events_fetch__free_unpacked(q, NULL);
}

/* The responder's loop with this file's answers. */
static void *serve(void *arg)
{
    fx_t *f = arg;
    resp_t *r = &f->r;
    while (!atomic_load(&r->stop)) {
        zmq_pollitem_t it[2] = {{cpm_zap_socket(r->zap), 0, ZMQ_POLLIN, 0},
                                {r->router, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(it, 2, 50) <= 0)
            continue;
        cpm_zap_handle(r->zap);
        zmq_msg_t fr[2];
        if (!(it[1].revents & ZMQ_POLLIN) || cpm_sock_recv(r->router, fr, 2, ZMQ_DONTWAIT) != 2)
            continue;
        cpm_msg_t m = {0};
        cpm_verify_ctx_t ctx = {.self = "hn.doit/intake", .service = "intake"};
        if (cpm_verifier_check(r->verifier, r->reg, &ctx, zmq_msg_data(&fr[1]),
                               zmq_msg_size(&fr[1]), cpm_now_ms(), &m) == CPM_V_OK &&
            m.env->type == CPM__MSG_TYPE__MSG_EVENTS_FETCH)
            answer(f, &fr[0], &m);
        cpm_msg_clear(&m);
        zmq_msg_close(&fr[0]);
        zmq_msg_close(&fr[1]);
    }
    return NULL;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || resp_start(&f->r, false) != 0)
        return -1;
    /* Take over the responder's loop: resp_stop then stops and joins ours. */
    atomic_store(&f->r.stop, 1);
    pthread_join(f->r.th, NULL);
    atomic_store(&f->r.stop, 0);
    make_log(f->ev, f->hash, f->prev, false);
    make_log(f->bad, f->bhash, f->bprev, true);
    if (pthread_create(&f->r.th, NULL, serve, f) != 0)
        return -1;
    f->zctx = zmq_ctx_new();
    if (cpm_client_new(&f->c, f->zctx, f->r.reg, &f->r.cli, NULL, NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    cpm_subscriber_destroy(&f->s);
    cpm_client_destroy(&f->c);
    zmq_ctx_term(f->zctx);
    resp_stop(&f->r);
    free(f);
    return 0;
}

static void on_event(void *arg, const char *node, const char *service, const Cpm__Event *ev,
                     bool chain_ok)
{
    fx_t *f = arg;
    (void)node, (void)service, (void)ev;
    f->delivered++;
    f->all_chain_ok = f->all_chain_ok && chain_ok;
}

/* A filtered watcher (fetch only) reads the log to its head (N, or as far
 * as the replies say); returns proven. cursor: its store, or NULL. */
static uint64_t run_to(fx_t *f, const char *cursor, uint64_t head)
{
    cpm_subscriber_destroy(&f->s); /* saves the cursor of an earlier run */
    cpm_sub_opts_t o = {.fetch_only = true,
                        .cursor_dir = cursor,
                        .fetch_timeout_ms = 10000,
                        .filter = {.node = "hn.doit", .service = "intake", .kind_prefix = "case."},
                        .on_event = on_event,
                        .arg = f};
    cpm_error_t err = {0};
    f->all_chain_ok = true;
    assert_int_equal(cpm_subscriber_new(&f->s, f->zctx, f->r.reg, &f->r.cli, f->c, &o, &err), 0);
    int failed = 0;
    cpm_subscriber_sweep(f->s, 0, &failed);
    assert_int_equal(failed, 0);
    assert_int_equal(cpm_subscriber_cursor(f->s, "hn.doit", "intake"), head);
    return cpm_subscriber_proven(f->s, "hn.doit", "intake");
}

static uint64_t run(fx_t *f)
{
    return run_to(f, NULL, N);
}

/* Control: the checkpoint of 10 covers the skipped hashes with its digest,
 * so the reader proves 10, then 11. */
static void honest_log_is_proven(void **state)
{
    fx_t *f = *state;
    f->ckpt10 = true;
    f->from11 = 11;
    assert_int_equal(run(f), 11);
    assert_int_equal(f->delivered, 8);
    assert_true(f->all_chain_ok);
    uint64_t bad = 0;
    assert_int_equal(cpm_subscriber_checkpoints(f->s, &bad), 2);
    assert_int_equal(bad, 0);
}

/* Control: the same without the checkpoint of 10; the checkpoint of 11
 * starts its range at 1 (before the reply): its head matches but its digest
 * cannot be checked, and 8..10 are claims: nothing proven. */
static void head_beyond_claims_proves_nothing(void **state)
{
    fx_t *f = *state;
    f->from11 = 1;
    assert_int_equal(run(f), 0);
    assert_int_equal(f->delivered, 8);
}

/* Liveness: the first reading leaves 8..10 as claims (no checkpoint of 10);
 * the next reply steps back to the range of the checkpoint of 11 (1..11),
 * whose digest covers them: the claims are settled and 11 is proven (it
 * stayed at 0 for good before). The events already delivered are not
 * delivered again. */
static void a_later_range_over_the_claims_proves_them(void **state)
{
    fx_t *f = *state;
    f->rewind11 = true;
    assert_int_equal(run(f), 11);
    assert_int_equal(f->delivered, 8);
    assert_true(f->all_chain_ok);
}

/* The attack: event 3 edited (3..7 rehashed), the checkpoint of 10 gone, a
 * genuine checkpoint of 11 (range 11..11, checked). Every link the reader
 * sees holds; event 3 must not be called proven. */
static void edited_events_before_skipped_ones_are_not_proven(void **state)
{
    fx_t *f = *state;
    f->edited = true;
    f->from11 = 11;
    uint64_t proven = run(f);
    assert_int_equal(f->delivered, 8);
    assert_true(f->all_chain_ok); /* delivered: each link it could see holds */
    assert_int_equal(proven, 0);
}

/* The same across a restart: the claims are kept with the cursor. The first
 * run reads to 10 (the log ends there then), the second, on the same
 * cursor, gets 11 and its checkpoint. */
static void claims_are_kept_with_the_cursor(void **state)
{
    fx_t *f = *state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/cpm-subproof-XXXXXX");
    assert_non_null(mkdtemp(dir));
    f->edited = true;
    f->from11 = 11;
    atomic_store(&f->head, 10);
    assert_int_equal(run_to(f, dir, 10), 0);
    atomic_store(&f->head, 0);
    assert_int_equal(run_to(f, dir, N), 0);
    assert_int_equal(f->delivered, 8); /* none twice */
    cpm_subscriber_destroy(&f->s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(honest_log_is_proven, setup, teardown),
        cmocka_unit_test_setup_teardown(head_beyond_claims_proves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(a_later_range_over_the_claims_proves_them, setup, teardown),
        cmocka_unit_test_setup_teardown(edited_events_before_skipped_ones_are_not_proven, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(claims_are_kept_with_the_cursor, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
