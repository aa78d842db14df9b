/* The service loop: receive, verify, apply in groups, commit, answer, publish,
 * deliver. Read it top to bottom from cpm_server_run; receiving and verifying
 * a turn's frames is in cpm_server_recv.c. */
#include "cpm_delivery.h"
#include "cpm_envelope.h"
#include "cpm_eventlog.h"
#include "cpm_inbox.h"
#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "cpm_ratelimit.h"
#include "cpm_server_int.h"
#include "cpm_threadtime.h"
#include "cpm_server_loop_int.h"
#include "cpm_stream.h"
#include "cpm_util.h"
#include "cpm_vpool.h"
#include "cpm_zpoll.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void count(cpm_server_t *s, const char *what, const char *detail)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", what, detail);
    cpm_metrics_add(s->metrics, name, 1);
}

/* Seal payload as a reply to request (or to nobody when request is NULL),
 * in the request's envelope version (a client not yet upgraded to version 3
 * reads its answers): 0, or -1 when it cannot be sealed. Uses only
 * s->reply_sender, so that it may run beside the loop thread while that
 * thread commits (seal_answers). */
static int seal_reply(cpm_server_t *s, const Cpm__Envelope *request, Cpm__MsgType type,
                      const uint8_t *payload, size_t len, uint8_t **frame, size_t *flen)
{
    char recipient[200] = "";
    if (request)
        snprintf(recipient, sizeof recipient, "%s/%s", request->sender, request->sender_instance);
    uint64_t version =
        request && cpm_envelope_version_known(request->version) ? request->version : 0;
    return cpm_sender_seal_raw_v(&s->reply_sender, version, type, recipient,
                                 request ? request->msg_id : "", payload, len, NULL, frame, flen);
}

/* Send a sealed frame to the ROUTER peer route (held while a group's flush
 * runs: cpm_server_held.c). */
static void send_frame(cpm_server_t *s, zmq_msg_t *route, const uint8_t *frame, size_t flen)
{
    (void)cpm_server_out(s, route, frame, flen);
}

/* Seal payload as a reply to request and send it to route. */
static void send_reply(cpm_server_t *s, zmq_msg_t *route, const Cpm__Envelope *request,
                       Cpm__MsgType type, const uint8_t *payload, size_t len)
{
    uint8_t *frame = NULL;
    size_t flen = 0;
    if (seal_reply(s, request, type, payload, len, &frame, &flen) != 0) {
        cpm_error("cannot seal a reply");
        return;
    }
    send_frame(s, route, frame, flen);
    free(frame);
}

/* e as an ErrorReply payload in buf (of size cap): its length, or 0 when it
 * does not fit. */
static size_t pack_error(const cpm_error_t *e, uint8_t *buf, size_t cap)
{
    Cpm__ErrorReply er = CPM__ERROR_REPLY__INIT;
    er.code = (uint32_t)e->code;
    er.field = (char *)e->field;
    er.message = (char *)e->message;
    er.retryable = cpm_err_retryable(e->code);
    size_t len = cpm__error_reply__get_packed_size(&er);
    if (len > cap)
        return 0;
    return cpm__error_reply__pack(&er, buf);
}

static void send_error(cpm_server_t *s, zmq_msg_t *route, const Cpm__Envelope *request,
                       const cpm_error_t *e)
{
    uint8_t buf[512];
    size_t len = pack_error(e, buf, sizeof buf);
    if (len == 0)
        return;
    send_reply(s, route, request, CPM__MSG_TYPE__MSG_ERROR, buf, len);
}

static const handler_t *find_handler(cpm_server_t *s, int type)
{
    for (size_t i = 0; i < s->nhandlers; i++)
        if ((int)s->handlers[i].type == type)
            return &s->handlers[i];
    return NULL;
}

static void answer_now(cpm_server_t *s, zmq_msg_t *route, cpm_msg_t *m, const handler_t *h)
{
    MDB_txn *txn = NULL;
    cpm_reply_t reply = {0};
    cpm_error_t err = {0};
    int rc = cpm_store_begin(s->store, false, &txn);
    if (rc == 0)
        rc = h->handle(s, txn, m, &reply, &err);
    else
        cpm_error_set(&err, rc, "", "the store cannot be read: %s", cpm_err_name(rc));
    cpm_store_abort(&txn);
    if (rc == 0)
        send_reply(s, route, m->env, reply.type, reply.buf, reply.len);
    else
        send_error(s, route, m->env, &err);
    free(reply.buf);
}

typedef struct {
    cpm_server_t *srv;
    pending_t *p;
    bool admitted;        /* the store had room when the batch's first new record came */
    size_t queued_before; /* srv->nqueued when the run of records began */
} apply_ctx_t;

/* A batch is new work only from its first record not yet applied: one that
 * holds only duplicates, tombstones or nothing (a probe) is answered even
 * above the store's high-water mark, so that its sender's outbox drains. */
static int apply_record(void *ctx, MDB_txn *txn, const uint8_t *rec, size_t len, cpm_error_t *err)
{
    apply_ctx_t *a = ctx;
    if (!a->admitted) {
        int rc = cpm_store_admit(a->srv->store, txn);
        if (rc != 0)
            return rc;
        a->admitted = true;
    }
    return a->p->h->apply(a->srv, txn, &a->p->msg, rec, len, err);
}

/* The records a run of records sent go with it when it is undone (see
 * cpm_delivery_apply_ops): else the pump would be told of them as well. */
static void run_begun(void *ctx)
{
    apply_ctx_t *a = ctx;
    a->queued_before = a->srv->nqueued;
}

static void run_undone(void *ctx)
{
    apply_ctx_t *a = ctx;
    a->srv->nqueued = a->queued_before;
}

static const cpm_delivery_ops_t record_ops = {apply_record, run_begun, run_undone};

/* cpm_server_prepare_batch: the pool's workers prepare the batch's new
 * records (those past the stream's mark: the others are never applied) in
 * order while the loop thread applies them, so that the loop finds most of
 * them ready (a pipeline, not a wait). A record not ready yet when it is
 * applied is applied without (its apply function does that part itself);
 * the rest is cancelled once the batch is applied. The results of a batch
 * are held until it is applied: at most a batch's records decoded (bounded
 * by the batch's bytes, CPM_DELIVERY_BATCH_BYTES_MAX, and the decoder's
 * budget) and what the service makes of each (routing: under 1 KB). */
static void prepare_one(void *ctx, size_t j)
{
    cpm_server_t *s = ctx;
    size_t i = s->prep.first + j;
    if (atomic_load_explicit(&s->prep.cancel, memory_order_relaxed))
        return;
    if (s->prep.lens[i])
        s->prep.out[i] = s->prep.h->prepare(s, s->prep.m, s->prep.recs[i], s->prep.lens[i]);
    atomic_store_explicit(&s->prep.ready[i], true, memory_order_release);
}

static void prepare_start(cpm_server_t *s, MDB_txn *txn, const pending_t *p, const char *mark,
                          uint64_t first_seq, const uint8_t *const *recs, const size_t *lens,
                          size_t n)
{
    cpm_vpool_t *pool = cpm_server_recv_pool(s);
    uint64_t hwm;
    if (!p->h->prepare || cpm_vpool_threads(pool) < 2 ||
        cpm_inbox_hwm(s->store, txn, mark, &hwm) != 0 || first_seq == 0 || first_seq > hwm + 1)
        return; /* a gap applies nothing; a store error: apply says it */
    size_t first = (size_t)(hwm + 1 - first_seq); /* records before it: duplicates */
    if (first >= n || n - first < 2)
        return;
    void **out = calloc(n, sizeof *out);
    atomic_bool *ready = calloc(n, sizeof *ready);
    if (!out || !ready) { /* apply does it all */
        free(out);
        free(ready);
        return;
    }
    for (size_t i = 0; i < n; i++)
        atomic_init(&ready[i], false);
    s->prep.h = p->h;
    s->prep.m = &p->msg;
    s->prep.recs = recs;
    s->prep.lens = lens;
    s->prep.out = out;
    s->prep.ready = ready;
    s->prep.n = n;
    s->prep.first = first;
    s->prep.next = first;
    atomic_store(&s->prep.cancel, false);
    cpm_vpool_start(pool, n - first, prepare_one, s);
}

static void prepare_end(cpm_server_t *s)
{
    if (!s->prep.out)
        return;
    atomic_store(&s->prep.cancel, true);
    /* waits for a record being prepared now; those not begun do nothing */
    cpm_vpool_finish(cpm_server_recv_pool(s), s->prep.n - s->prep.first, prepare_one, s);
    for (size_t i = 0; i < s->prep.n; i++)
        if (s->prep.out[i])
            s->prep.h->release(s->prep.out[i]);
    free(s->prep.out);
    free(s->prep.ready);
    s->prep.out = NULL;
    s->prep.ready = NULL;
    s->prep.n = 0;
}

/* A batch refused before anything of it is applied: counted and said. */
static int refuse_batch(cpm_server_t *s, pending_t *p, int rc)
{
    cpm_metrics_add(s->metrics, "delivery.batches_refused", 1);
    return rc;
}

/* Apply a DeliveryBatch inside the group's transaction (see cpm_delivery.h)
 * and answer with an Ack of the stream's new mark. The batch's bounds are
 * checked before it is decoded (its fields are counted in place: 4 MiB of
 * empty records would otherwise cost millions of allocations) and again
 * after. */
static int apply_batch(cpm_server_t *s, MDB_txn *txn, pending_t *p)
{
    static cpm_ratelimit_t stuck_log = CPM_RATELIMIT_INIT(10, 60000);
    const Cpm__Envelope *env = p->msg.env;
    size_t nfields;
    if (cpm_pb_count_fields(env->payload.data, env->payload.len, CPM_DELIVERY_RECORDS_MAX + 3,
                            &nfields) != 0)
        return refuse_batch(s, p,
                            cpm_error_set(&p->err, CPM_E_TOO_LARGE, "records",
                                          "payload is not a DeliveryBatch of at most %d records",
                                          CPM_DELIVERY_RECORDS_MAX));
    Cpm__DeliveryBatch *b = cpm__delivery_batch__unpack(cpm_pb_budget(env->payload.len),
                                                        env->payload.len, env->payload.data);
    if (!b)
        return refuse_batch(
            s, p,
            cpm_error_set(&p->err, CPM_E_BAD_MESSAGE, "payload", "payload is not a DeliveryBatch"));
    char expect[CPM_STREAM_MAX];
    int rc;
    if ((rc = cpm_pbcheck(&b->base, NULL, &p->err)) != 0) {
        cpm__delivery_batch__free_unpacked(b, NULL);
        return refuse_batch(s, p, rc);
    }
    if (cpm_stream_build(expect, sizeof expect, env->sender, env->sender_instance, s->cfg->node,
                         s->cfg->service) != 0 ||
        strcmp(b->stream, expect) != 0) {
        rc = cpm_error_set(&p->err, CPM_E_FORBIDDEN, "stream",
                           "stream %s does not belong to this sender and recipient", b->stream);
        cpm__delivery_batch__free_unpacked(b, NULL);
        return rc;
    }
    char mark[CPM_STREAM_MARK_MAX];
    if (cpm_stream_mark(b->stream, b->epoch, mark, sizeof mark) != 0) { /* b->stream == expect */
        cpm__delivery_batch__free_unpacked(b, NULL);
        return refuse_batch(
            s, p, cpm_error_set(&p->err, CPM_E_TOO_LARGE, "stream", "stream name too long"));
    }
    const uint8_t **recs = calloc(b->n_records + 1, sizeof *recs);
    size_t *lens = calloc(b->n_records + 1, sizeof *lens);
    cpm_delivery_result_t res;
    apply_ctx_t ctx = {s, p, false, 0};
    rc = (!recs || !lens) ? CPM_E_INTERNAL : 0;
    for (size_t i = 0; rc == 0 && i < b->n_records; i++) {
        recs[i] = b->records[i].data;
        lens[i] = b->records[i].len;
    }
    if (rc == 0 && (rc = cpm_delivery_check_batch(lens, b->n_records, &p->err)) != 0)
        refuse_batch(s, p, rc);
    else if (rc == 0) {
        prepare_start(s, txn, p, mark, b->first_seq, recs, lens, b->n_records);
        rc = cpm_delivery_apply_ops(s->store, txn, mark, b->first_seq, recs, lens, b->n_records,
                                    &record_ops, &ctx, &res);
        prepare_end(s);
    }
    if (rc == 0) {
        cpm_metrics_add(s->metrics, "delivery.records_applied", res.applied);
        cpm_metrics_add(s->metrics, "delivery.acks", 1); /* one signed Ack per batch */
        cpm_metrics_add(s->metrics, "delivery.duplicates", res.duplicates);
        cpm_metrics_add(s->metrics, "delivery.dead_letters", res.dead_letters);
        cpm_metrics_add(s->metrics, "delivery.skipped", res.skipped);
        cpm_metrics_add(s->metrics, "delivery.gaps", (uint64_t)res.gap);
        Cpm__Ack ack = CPM__ACK__INIT;
        ack.stream = b->stream;
        ack.acked_seq = res.hwm;
        rc = cpm_reply_set(&p->reply, CPM__MSG_TYPE__MSG_ACK, &ack.base);
    } else if (rc == CPM_E_UNAVAILABLE && res.stuck) {
        uint64_t dropped = 0;
        cpm_metrics_add(s->metrics, "delivery.stuck", 1);
        if (cpm_ratelimit_allow(&stuck_log, cpm_mono_ms(), &dropped))
            cpm_error("%s: stuck: %s has %d dead letters (or %u bytes of them) here; its "
                      "batches with more are refused until they are cleared%s",
                      mark, env->sender, CPM_DELIVERY_DEAD_MAX, CPM_DELIVERY_DEAD_BYTES_MAX,
                      cpm_ratelimit_note(dropped));
        cpm_error_set(&p->err, rc, "records",
                      "%s already has %d dead letters (or %u bytes) here; this batch holds "
                      "another and is refused until they are cleared; send again later",
                      env->sender, CPM_DELIVERY_DEAD_MAX, CPM_DELIVERY_DEAD_BYTES_MAX);
    } else if (p->err.code != rc) {
        cpm_error_set(&p->err, rc, "", "batch not applied: %s", cpm_err_name(rc));
    }
    free(recs);
    free(lens);
    cpm__delivery_batch__free_unpacked(b, NULL);
    return rc;
}

/* Events committed wait this long before they are published, so that the
 * commits of that time go out in one publication: one signature, one send
 * per subscriber and one verification in each, instead of one per commit (at
 * one client, one per complaint; each subscriber is a process on the same
 * cores). A publication is a notice (a subscriber fetches what it missed), so
 * nothing but its delay changes. */
#define PUBLISH_DELAY_MS 5

/* Publish every event committed since the last call on the PUB socket. The
 * events go out as stored (cpm_eventlog_read_raw): not decoded and packed
 * again, the same bytes. */
static void publish_events(cpm_server_t *s)
{
    s->publish_due_ms = 0;
    cpm_event_raw_t *raw = malloc(EVENTS_FETCH_MAX * sizeof *raw);
    for (;;) {
        MDB_txn *txn = NULL;
        size_t n = 0, k = 0, pl_len = 0;
        uint64_t head = 0;
        uint8_t *pl = NULL;
        int rc = raw ? cpm_store_begin(s->store, false, &txn) : CPM_E_INTERNAL;
        if (rc == 0)
            rc = cpm_eventlog_head(s->store, txn, &head, NULL);
        if (rc == 0 && s->held.on && head > s->pub_limit)
            head = s->pub_limit; /* the rest when its group is durable */
        if (rc == 0 && head > s->published)
            rc = cpm_eventlog_read_raw(s->store, txn, s->published + 1, EVENTS_FETCH_MAX, raw, &n);
        Cpm__EventBatch eb = CPM__EVENT_BATCH__INIT;
        eb.node = s->id.id;
        eb.service = (char *)s->cfg->service;
        eb.head_seq = head;
        if (rc == 0 && n > 0) { /* the bytes are the map's: copied out before the abort */
            k = cpm_event_raw_within(raw, n, EVENTS_REPLY_BYTES);
            rc = cpm_eventlog_batch_payload(&eb, raw, k, &pl, &pl_len);
        }
        uint64_t last = rc == 0 && k > 0 ? raw[k - 1].seq : 0;
        if (txn)
            cpm_store_abort(&txn);
        if (rc != 0) {
            /* Retried soon; subscribers catch up by fetch meanwhile. */
            s->publish_due_ms = cpm_mono_ms() + PUBLISH_DELAY_MS;
            static cpm_ratelimit_t said = CPM_RATELIMIT_INIT(5, 60000);
            uint64_t dropped = 0;
            cpm_metrics_add(s->metrics, "events.publish_failed", 1);
            if (cpm_ratelimit_allow(&said, cpm_mono_ms(), &dropped))
                cpm_error("cannot read the event log to publish: %s%s", cpm_err_name(rc),
                          cpm_ratelimit_note(dropped));
            break;
        }
        if (n == 0)
            break;
        uint8_t *frame = NULL;
        size_t len = 0;
        if (cpm_sender_seal_raw(&s->pub_sender, CPM__MSG_TYPE__MSG_EVENTS_PUBLISH, "*", NULL, pl,
                                pl_len, NULL, &frame, &len) == 0) {
            /* A publication lost here is not retried: subscribers see the gap
             * and fetch. Counted so that a broken PUB socket shows. */
            if (zmq_send(s->pub, s->self, strlen(s->self), ZMQ_SNDMORE) < 0 ||
                zmq_send(s->pub, frame, len, ZMQ_DONTWAIT) < 0)
                cpm_metrics_add(s->metrics, "events.publish_send_failed", 1);
            else {
                cpm_metrics_add(s->metrics, "events.published", k);
                cpm_metrics_add(s->metrics, "events.publications", 1); /* one signature */
            }
        }
        free(frame);
        free(pl);
        s->published = last;
        cpm_server_checkpoint(s, false); /* every event_checkpoint_every events */
    }
    free(raw);
}

/* After a commit that may have written events: publish them soon. */
static void publish_soon(cpm_server_t *s)
{
    if (s->publish_due_ms == 0)
        s->publish_due_ms = cpm_mono_ms() + PUBLISH_DELAY_MS;
}

/* The store's journal: a checkpoint when one is due, its figures counted
 * (store.journal_records, store.checkpoints, store.checkpoint_failures,
 * store.commits_by_checkpoint, store.checkpoints_for_room). */
static void journal_tick(cpm_server_t *s)
{
    cpm_store_journal_stats_t j;
    cpm_store_tick(s->store);
    cpm_store_journal_stats(s->store, &j);
    cpm_metrics_add(s->metrics, "store.journal_records", j.records - s->jseen.records);
    cpm_metrics_add(s->metrics, "store.checkpoints", j.checkpoints - s->jseen.checkpoints);
    cpm_metrics_add(s->metrics, "store.checkpoint_failures",
                    j.checkpoint_failures - s->jseen.checkpoint_failures);
    cpm_metrics_add(s->metrics, "store.commits_by_checkpoint",
                    j.by_checkpoint - s->jseen.by_checkpoint);
    cpm_metrics_add(s->metrics, "store.checkpoints_for_room", j.for_room - s->jseen.for_room);
    s->jseen = j;
}

/* The loop thread's time (cpm_threadtime.h), once a second: loop.cpu_ms on
 * a core, loop.wait_ms runnable and waiting for one, since the start. Their
 * rates, in ms per second, say how near its serial bound the service runs
 * (alert CpmeshLoopSaturated). */
static void loop_time_tick(cpm_server_t *s)
{
    cpm_threadtime_t t;
    if (cpm_threadtime_now(&t) != 0)
        return;
    cpm_metrics_add(s->metrics, "loop.cpu_ms", cpm_threadtime_ms_due(t.cpu_ns, &s->loop_cpu_ms));
    if (t.has_wait)
        cpm_metrics_add(s->metrics, "loop.wait_ms",
                        cpm_threadtime_ms_due(t.wait_ns, &s->loop_wait_ms));
}

/* After a commit: the records it queued are in the store; tell the pump. */
static void hand_over_records(cpm_server_t *s)
{
    int64_t now = cpm_mono_ms();
    for (size_t i = 0; i < s->nqueued; i++)
        cpm_pump_committed(s->pump, s->queued[i].stream, s->queued[i].seq, s->queued[i].bytes, now);
    s->nqueued = 0;
}

/* A group's answers, sealed on a pool thread while the loop thread waits for
 * the group's commit (its flushes): at one request in flight the reply's
 * signature is then off the acknowledgement's path. Each answer is final once
 * its request is applied; a failed commit discards them all and answers with
 * errors sealed afterwards, so nothing sealed early is ever sent for a group
 * that did not commit. Answers are sealed in the group's order, the order
 * they are sent in, so that their sequence numbers increase along each
 * connection as before. Not used for a group holding batch requests of
 * items (their receipts are sealed after the commit and go out first), nor
 * for a group of more than EARLY_SEAL_MAX requests: that many signatures
 * (about 25 us each here) fit within one commit (over 200 us), and a larger
 * group means many clients, whose own work then keeps every core busy, so
 * that a pool thread would not seal beside the commit but queue behind them
 * while the loop waited for it; such a group is answered as before, each
 * reply sent as soon as it is sealed. */
#define EARLY_SEAL_MAX 4

typedef struct {
    cpm_server_t *srv;
    uint8_t *frames[EARLY_SEAL_MAX]; /* one per request of the group */
    size_t lens[EARLY_SEAL_MAX];
    bool all; /* every answer was sealed */
} early_t;

/* The test-only fault hook (cpm_server_loop_int.h): 0 is disarmed. */
static _Atomic unsigned seal_fault_nth;

void cpm_server_seal_fault_arm(unsigned n)
{
    atomic_store(&seal_fault_nth, n);
}

/* Whether the hook makes answer k of a group of ngroup fail (once). */
static bool seal_fault(size_t k, size_t ngroup)
{
    unsigned n = atomic_load_explicit(&seal_fault_nth, memory_order_relaxed);
    return n != 0 && n <= ngroup && k + 1 == n &&
           atomic_compare_exchange_strong(&seal_fault_nth, &n, 0);
}

static void seal_answers(void *ctx, size_t i)
{
    (void)i; /* one job: the whole group, in order */
    early_t *e = ctx;
    cpm_server_t *s = e->srv;
    for (size_t k = 0; k < s->ngroup; k++) {
        const pending_t *p = &s->group[k];
        uint8_t buf[512];
        size_t len = p->rc == 0 ? 0 : pack_error(&p->err, buf, sizeof buf);
        int rc = p->rc == 0 ? seal_reply(s, p->msg.env, p->reply.type, p->reply.buf, p->reply.len,
                                         &e->frames[k], &e->lens[k])
                 : len > 0  ? seal_reply(s, p->msg.env, CPM__MSG_TYPE__MSG_ERROR, buf, len,
                                         &e->frames[k], &e->lens[k])
                            : -1;
        if (rc == 0 && seal_fault(k, s->ngroup)) {
            free(e->frames[k]);
            rc = -1;
        }
        if (rc != 0) {
            e->frames[k] = NULL;
            return;
        }
    }
    e->all = true;
}

/* Start sealing the group's answers beside the commit; false when they are
 * sealed after it as usual (no pool thread to do it, batches of items in the
 * group, or more than EARLY_SEAL_MAX requests). */
static bool seal_early(cpm_server_t *s, early_t *e)
{
    memset(e, 0, sizeof *e);
    e->srv = s;
    cpm_vpool_t *pool = cpm_server_recv_pool(s);
    if (cpm_vpool_threads(pool) < 2 || s->ngroup > EARLY_SEAL_MAX)
        return false;
    for (size_t i = 0; i < s->ngroup; i++)
        if (s->group[i].h->item)
            return false;
    cpm_vpool_start(pool, 1, seal_answers, e);
    return true;
}

/* Frees the early frames; the group is then answered as usual. Those not
 * sent (discarded) are counted: replies.sealed_early_discarded. */
static void early_free(cpm_server_t *s, early_t *e, bool discarded)
{
    uint64_t n = 0;
    for (size_t i = 0; i < EARLY_SEAL_MAX; i++) {
        n += e->frames[i] != NULL;
        free(e->frames[i]);
        e->frames[i] = NULL;
    }
    if (discarded && n > 0)
        cpm_metrics_add(s->metrics, "replies.sealed_early_discarded", n);
}

/* Apply every write request of the group in one transaction, commit once,
 * then answer them all. */
/* A busy group (batches of items, or more requests than are sealed early)
 * whose apply does not need the pool (no delivery batch: cpm_server_prepare
 * takes it). */
static bool busy_group(const cpm_server_t *s)
{
    bool items = false;
    for (size_t i = 0; i < s->ngroup; i++) {
        if (s->group[i].h->batch)
            return false;
        items |= s->group[i].h->item != NULL;
    }
    return items || s->ngroup > EARLY_SEAL_MAX;
}

static void commit_group(cpm_server_t *s)
{
    MDB_txn *txn = NULL;
    s->nqueued = 0;
    /* Busy: the next turn's first frames, already waiting, are received now
     * and checked on the pool's threads while this group is applied, so that
     * the loop thread does not check them itself at the next turn (it did
     * about half of the checks, 13% of its time, at 8 x 32 batches). */
    bool prefetching = busy_group(s) && cpm_server_recv_prefetch_start(s);
    /* New work stays out of the store's headroom, which only acks and
     * deletions use (see cpm_store.h); grow the map first when allowed. */
    cpm_store_set_limits(s->store, (size_t)s->cfg->map_max_mb << 20, s->cfg->map_high_water_pct);
    if (cpm_store_make_room(s->store) != 0)
        /* cpm_store_admit below then refuses what does not fit; counted there. */
        cpm_metrics_add(s->metrics, "store.grow_failed", 1);
    int rc = cpm_store_begin(s->store, true, &txn);
    for (size_t i = 0; rc == 0 && i < s->ngroup; i++) {
        /* Each request in a nested transaction: one that fails, even half
         * way or on a full map, leaves nothing and fails alone. */
        pending_t *p = &s->group[i];
        size_t queued_before = s->nqueued;
        MDB_txn *child = NULL;
        /* batches: apply_record; items: each admitted alone */
        p->rc = p->h->batch || p->h->item ? 0 : cpm_store_admit(s->store, txn);
        if (p->rc == 0)
            p->rc = cpm_store_begin_child(s->store, txn, &child);
        if (p->rc == 0)
            p->rc = p->h->batch  ? apply_batch(s, child, p)
                    : p->h->item ? cpm_server_apply_items(s, child, p)
                                 : p->h->handle(s, child, &p->msg, &p->reply, &p->err);
        if (p->rc == 0)
            p->rc = cpm_store_commit(child);
        else
            cpm_store_abort(&child);
        if (p->rc != 0)
            s->nqueued = queued_before; /* its records were not written */
        /* The group before goes out as soon as its flush ends, not after
         * this whole group (its clients wait for it). */
        if (s->held.on)
            (void)cpm_server_held_release(s, false);
        if (cpm_delivery_is_store_error(p->rc)) {
            cpm_error_set(&p->err, p->rc, "",
                          "not applied (%s); nothing was recorded, send again later",
                          cpm_err_name(p->rc));
            cpm_metrics_add(s->metrics, "store.failures", 1);
        }
    }
    early_t early = {0};
    bool sealing = rc == 0 && !prefetching && seal_early(s, &early);
    /* A group not sealed early (many requests, or batches of items) means
     * busy clients: its flush runs while the next group is applied, its
     * answers held until then (cpm_server_held.c); or, without that, their
     * next frames are checked beside the commit (the pool holds one job at
     * a time). */
    uint64_t ticket = 0, ev_head = 0;
    bool beside = rc == 0 && !sealing && s->cfg->flush_beside_next &&
                  cpm_store_journaled(s->store) &&
                  cpm_eventlog_head(s->store, txn, &ev_head, NULL) == 0;
    if (!prefetching) /* what came during the apply, checked beside the commit */
        prefetching =
            rc == 0 && !sealing && (!beside || busy_group(s)) && cpm_server_recv_prefetch_start(s);
    if (rc == 0)
        rc = beside ? cpm_store_commit_early(txn, &ticket) : cpm_store_commit(txn);
    else if (txn)
        cpm_store_abort(&txn);
    /* The group before, when one is held: durable once this one committed
     * (the store flushed it before writing this one's record), and
     * answered before this one, which is held in its turn when it committed
     * early. Not a wait: that would wait for this group's own flush too. */
    (void)cpm_server_held_release(s, false);
    if (rc == 0 && ticket != 0 && s->held.on) {
        cpm_error("a group committed early while the one before was not seen durable");
        cpm_store_wait_flushed(s->store); /* both durable then */
        (void)cpm_server_held_release(s, false);
    }
    if (rc == 0 && ticket != 0)
        cpm_server_held_begin(s, ticket, ev_head);
    if (sealing) {
        cpm_vpool_finish(cpm_server_recv_pool(s), 1, seal_answers, &early);
        /* Not one of them may go out for a group that did not commit; and
         * all or none: an answer sealed later would carry a higher sequence
         * number than the early ones sent after it. */
        if (rc != 0 || !early.all)
            early_free(s, &early, true);
    }
    if (rc != 0) {
        cpm_error("group of %zu not applied: %s", s->ngroup, cpm_err_name(rc));
        cpm_metrics_add(s->metrics, "store.failures", 1);
    } else {
        cpm_metrics_add(s->metrics, "store.commits", 1);
        hand_over_records(s);
        cpm_server_send_receipts(s, cpm_now_ms()); /* batches of items: one signature */
    }
    for (size_t i = 0; i < s->ngroup; i++) {
        pending_t *p = &s->group[i];
        if (rc != 0) {
            cpm_error_t e;
            cpm_error_set(&e, rc, "", "not applied (%s); nothing was recorded, send again",
                          cpm_err_name(rc));
            send_error(s, &p->route, p->msg.env, &e);
        } else if (p->receipted) {
            /* answered by cpm_server_send_receipts */
        } else if (sealing && early.frames[i]) {
            if (p->rc == 0)
                cpm_metrics_add(s->metrics, "applied", 1);
            else
                count(s, "invalid", cpm_err_name(p->rc));
            cpm_metrics_add(s->metrics, "replies.sealed_early", 1);
            send_frame(s, &p->route, early.frames[i], early.lens[i]);
        } else if (p->rc == 0) {
            cpm_metrics_add(s->metrics, "applied", 1);
            send_reply(s, &p->route, p->msg.env, p->reply.type, p->reply.buf, p->reply.len);
        } else {
            count(s, "invalid", cpm_err_name(p->rc));
            send_error(s, &p->route, p->msg.env, &p->err);
        }
        free(p->reply.buf);
        cpm_server_items_free(p);
        cpm_msg_clear(&p->msg);
        zmq_msg_close(&p->route);
    }
    if (sealing && rc == 0)
        early_free(s, &early, false);
    /* After the answers, which never wait for the next turn's checks; before
     * the registry reload, which frees the registry the checks read. */
    if (prefetching)
        cpm_server_recv_prefetch_finish(s);
    s->ngroup = 0;
    if (rc == 0)
        publish_soon(s);
}

int cpm_server_write(cpm_server_t *s, cpm_write_fn fn, void *ctx)
{
    MDB_txn *txn = NULL;
    s->nqueued = 0;
    int rc = cpm_store_begin(s->store, true, &txn);
    if (rc != 0)
        return rc;
    rc = fn(s, txn, ctx);
    if (rc == 0)
        rc = cpm_store_commit(txn);
    else
        cpm_store_abort(&txn);
    if (rc != 0) {
        s->nqueued = 0;
        return rc;
    }
    (void)cpm_server_held_release(s, false); /* durable: the store flushed it first */
    hand_over_records(s);
    publish_events(s);
    return 0;
}

/* The loop's answering, for its receiving half (cpm_server_recv.c). */
void cpm_server_count(cpm_server_t *s, const char *what, const char *detail)
{
    count(s, what, detail);
}

void cpm_server_send_error(cpm_server_t *s, zmq_msg_t *route, const Cpm__Envelope *request,
                           const cpm_error_t *e)
{
    send_error(s, route, request, e);
}

void cpm_server_answer_now(cpm_server_t *s, zmq_msg_t *route, cpm_msg_t *m, const handler_t *h)
{
    answer_now(s, route, m, h);
}

const handler_t *cpm_server_find_handler(cpm_server_t *s, int type)
{
    return find_handler(s, type);
}

/* Keep each sender's persisted reservation ahead of its next sequence. */
static void keep_sequences(cpm_server_t *s)
{
    int64_t now = cpm_now_us();
    for (int i = 0; i < 3; i++)
        if (s->seqres[i].sender && cpm_seqres_keep(&s->seqres[i], s->store, now) != 0)
            cpm_metrics_add(s->metrics, "store.failures", 1);
}

/* loop_spin_us: before the loop sleeps in its poll, look at its sockets
 * without sleeping for up to that long. A request that comes meanwhile is
 * taken at once, without the wake-up of a sleeping thread (on a virtual
 * machine that halts idle cores, tens of microseconds), for the CPU of the
 * looks. The poll's answer (>0, with revents set as a poll leaves them, or
 * -1) when something came or it failed; 0 when nothing came. */
static int spin_poll(cpm_server_t *s, zmq_pollitem_t *items, int nitems)
{
    int64_t end = cpm_mono_us() + s->cfg->loop_spin_us;
    cpm_metrics_add(s->metrics, "loop.spins", 1);
    do {
        int got = cpm_zpoll(items, nitems, 0);
        if (got != 0) {
            if (got > 0)
                cpm_metrics_add(s->metrics, "loop.spins_answered", 1);
            return got;
        }
    } while (cpm_mono_us() < end && !stop_requested);
    return 0;
}

int cpm_server_run(cpm_server_t *s)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (cpm_pump_load(s->pump) != 0)
        cpm_warn("could not read the outbox streams; delivery starts empty");
    /* Ask every peer for its mark at once: a peer holding more than this store
     * held at start means the store is an older copy (see cpm_pump.h). */
    if (cpm_pump_run(s->pump, s->reg, cpm_mono_ms()) > 0)
        publish_events(s);
    int64_t next_reload = cpm_mono_ms() + 1000;
    cpm_info("running (registry version %llu)", (unsigned long long)cpm_registry_version(s->reg));
    while (!stop_requested) {
        keep_sequences(s);
        size_t need = 3 + 2 * cpm_pump_size(s->pump); /* a socket and a monitor each */
        if (need > s->items_cap) {                    /* one poll item per peer, however many */
            zmq_pollitem_t *grown = realloc(s->items, need * 2 * sizeof *grown);
            if (!grown) {
                cpm_error("out of memory for the poll set");
                return -1;
            }
            s->items = grown;
            s->items_cap = need * 2;
        }
        zmq_pollitem_t *items = s->items;
        items[0] = (zmq_pollitem_t){cpm_zap_socket(s->zap), 0, ZMQ_POLLIN, 0};
        items[1] = (zmq_pollitem_t){s->router, 0, ZMQ_POLLIN, 0};
        int nitems = 2 + cpm_pump_poll_items(s->pump, items + 2, (int)(s->items_cap - 3));
        int npump = nitems - 2;
        /* Released here when its flush ended unseen (its wake-up taken by
         * an earlier question), else woken when it ends. */
        if (s->held.on)
            (void)cpm_server_held_release(s, false); /* then due: its records, events */
        if (s->held.on)
            items[nitems++] = (zmq_pollitem_t){NULL, cpm_store_flush_fd(s->store), ZMQ_POLLIN, 0};
        int64_t now = cpm_mono_ms();
        int64_t due = cpm_pump_next_due_ms(s->pump, now);
        long timeout = (due >= 0 && due < 200) ? (long)due : 200;
        if (s->publish_due_ms)
            timeout = s->publish_due_ms <= now            ? 0
                      : s->publish_due_ms - now < timeout ? (long)(s->publish_due_ms - now)
                                                          : timeout;
        if (cpm_server_recv_held(s))
            timeout = 0; /* frames of a cut turn wait in cpm_server_recv.c */
        /* cpm_zpoll: zmq_poll's answers with half its system calls. */
        int got = timeout > 0 && s->cfg->loop_spin_us ? spin_poll(s, items, nitems) : 0;
        if (got == 0)
            got = cpm_zpoll(items, nitems, timeout);
        if (got < 0 && errno != EINTR) {
            cpm_error("poll: %s", zmq_strerror(errno));
            return -1;
        }
        cpm_pump_polled(s->pump, items + 2, npump);
        if (s->held.on)
            (void)cpm_server_held_release(s, false);
        if (items[0].revents) /* each look costs libzmq two system calls */
            cpm_zap_handle(s->zap);
        cpm_server_take_turn(s);
        if (s->ngroup > 0)
            commit_group(s);
        now = cpm_mono_ms();
        if (cpm_pump_run(s->pump, s->reg, now) > 0)
            publish_soon(s); /* the events acked hooks wrote (cpm_pump_on_acked) */
        if (s->publish_due_ms && now >= s->publish_due_ms)
            publish_events(s);
        if (now >= next_reload) {
            next_reload = now + 1000;
            if (cpm_server_load_registry(s, false) != 0 && (!s->router || !s->pub)) {
                cpm_error("stopping: the service's endpoints could not be bound again");
                return -1;
            }
            if (s->tick)
                s->tick(s);
            cpm_server_checkpoint(s, false); /* after event_checkpoint_s seconds */
            journal_tick(s);
            loop_time_tick(s);
        }
    }
    (void)cpm_server_held_release(s, true);
    if (s->publish_due_ms)
        publish_events(s);
    cpm_server_checkpoint(s, true); /* a clean stop signs the head */
    cpm_info("stopping");
    return 0;
}

/* cpm_server_handle_events_fetch: cpm_server_evck.c */

int cpm_server_handle_health(cpm_server_t *s, MDB_txn *txn, const cpm_msg_t *m, cpm_reply_t *reply,
                             cpm_error_t *err)
{
    Cpm__HealthReply h = CPM__HEALTH_REPLY__INIT;
    h.node = s->id.id;
    h.service = (char *)s->cfg->service;
    h.started_ms = s->started_ms;
    h.registry_version = cpm_registry_version(s->reg);
    int hrc = cpm_eventlog_head(s->store, txn, &h.event_head, NULL);
    if (hrc != 0)
        return cpm_error_set(err, hrc, "", "cannot read the event log head");
    /* The store's fill, so that a full store is seen before it refuses
     * (the gateway's /metrics; a failed read leaves them 0). */
    size_t used = 0, map = 0;
    if (cpm_store_usage(s->store, txn, &used, &map) == 0) {
        size_t map_max = (size_t)s->cfg->map_max_mb << 20;
        h.store_used_bytes = used;
        h.store_map_bytes = map;
        h.store_map_max_bytes = map_max > map ? map_max : map;
        h.store_high_water_pct = s->cfg->map_high_water_pct;
    }
    size_t n = cpm_metrics_count(s->metrics);
    Cpm__Counter *cs = calloc(n + 1, sizeof *cs);
    Cpm__Counter **cp = calloc(n + 1, sizeof *cp);
    if (!cs || !cp) {
        free(cs);
        free(cp);
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *name;
        uint64_t value;
        cpm__counter__init(&cs[i]);
        cpm_metrics_at(s->metrics, i, &name, &value);
        cs[i].name = (char *)name;
        cs[i].value = value;
        cp[i] = &cs[i];
    }
    h.counters = cp;
    h.n_counters = n;
    cpm_pump_health(s->pump, &h);
    int rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_HEALTH_REPLY, &h.base);
    cpm_pump_health_free(&h);
    free(cs);
    free(cp);
    return rc;
}
