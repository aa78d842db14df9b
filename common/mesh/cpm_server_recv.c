/* The receiving half of the service loop: a turn takes frames off the ROUTER
 * socket in batches of up to VERIFY_BATCH, checks a batch's signatures on
 * every core at once (cpm_vpool, cpm_verifier_precheck), then, on the loop
 * thread and in arrival order, makes the checks that depend on order or
 * state (clock, replay, rights, counters: cpm_verifier_finish) and
 * dispatches each frame: refusals, shares, read handlers answered now, write
 * requests into the group that cpm_server_loop.c commits. Nothing stateful
 * runs off the loop thread, so order and exactly-once are those of one
 * thread. A turn still ends after TURN_FRAMES frames or TURN_MS.
 *
 * Batches, not the whole turn at once: a turn cut by time (TURN_MS) holds
 * the rest of its batch only, which the next turn dispatches first (the loop
 * does not wait in poll meanwhile), so a newcomer waits behind at most a
 * batch, and the socket's fair queueing between connections still decides
 * the rest. A held frame's signature check is made again when the registry
 * changed in between. */
#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "cpm_ratelimit.h"
#include "cpm_server_int.h"
#include "cpm_util.h"
#include "cpm_vpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frames received and checked at once: enough to keep a few threads busy
 * for a millisecond or two, few enough to hold when a turn is cut. */
#define VERIFY_BATCH 32
/* Items of batch requests (cpm_server_on_items) one turn may take into its
 * group: an item is applied like a single request, so the turn is cut when
 * its group holds this many (TURN_FRAMES alone would let 64 times more work
 * into one commit). The group then holds fewer than TURN_ITEMS +
 * CPM_SUBMIT_BATCH_MAX leaves, which also bounds the receipt frames of one
 * connection in one group. A refused item makes the items before it in its
 * run apply again (cpm_server_items.c), so a turn applies at most about
 * twice this many while handlers answer the same each time. */
#define TURN_ITEMS 1024

/* One received frame: the ROUTER peer's identity and the message. */
typedef struct {
    zmq_msg_t route, frame;
} turn_frame_t;

struct cpm_server_recv {
    cpm_vpool_t *pool;
    /* Frames first..n-1 are received and not yet dispatched; prechecked
     * under registry version pre_version. Frames never move in this array:
     * a small zmq_msg_t holds its bytes inside itself. */
    turn_frame_t frames[VERIFY_BATCH];
    cpm_precheck_t pre[VERIFY_BATCH];
    size_t first, n;
    uint64_t pre_version;
    size_t items;              /* items of batch requests in the turn's group */
    const cpm_registry_t *reg; /* the registry of the precheck running now */
};

cpm_server_recv_t *cpm_server_recv_new(unsigned verify_threads)
{
    cpm_server_recv_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->pool = cpm_vpool_new(verify_threads);
    if (!r->pool) {
        free(r);
        return NULL;
    }
    return r;
}

void cpm_server_recv_destroy(cpm_server_recv_t **p)
{
    if (!p || !*p)
        return;
    cpm_server_recv_t *r = *p;
    for (size_t i = r->first; i < r->n; i++) {
        zmq_msg_close(&r->frames[i].route);
        zmq_msg_close(&r->frames[i].frame);
    }
    cpm_vpool_destroy(&r->pool);
    free(r);
    *p = NULL;
}

bool cpm_server_recv_held(const cpm_server_t *s)
{
    return s->recv && s->recv->first < s->recv->n;
}

cpm_vpool_t *cpm_server_recv_pool(cpm_server_t *s)
{
    return s->recv ? s->recv->pool : NULL;
}

/* A refused frame: count, log (at a bounded rate: hostile frames can come
 * without end), and tell the sender when we can tell who it is. The frame is
 * not decoded again: the verifier handed back what addresses the answer
 * (see cpm_reply_addr_t), which is a label, never trusted. */
static void refuse(cpm_server_t *s, zmq_msg_t *route, zmq_msg_t *frame, cpm_verdict_t v,
                   const cpm_reply_addr_t *addr)
{
    static cpm_ratelimit_t log_rate = CPM_RATELIMIT_INIT(20, 10000);
    cpm_server_count(s, "rejected", cpm_verdict_name(v));
    const char *user = zmq_msg_gets(frame, "User-Id");
    uint64_t dropped = 0;
    if (cpm_ratelimit_allow(&log_rate, cpm_mono_ms(), &dropped))
        cpm_warn("refused a message from %s: %s%s", user ? user : "?", cpm_verdict_name(v),
                 cpm_ratelimit_note(dropped));
    cpm_error_t e;
    cpm_error_set(&e, cpm_verdict_code(v), "envelope", "message refused: %s", cpm_verdict_name(v));
    Cpm__Envelope to = CPM__ENVELOPE__INIT;
    to.sender = (char *)addr->sender;
    to.sender_instance = (char *)addr->sender_instance;
    to.msg_id = (char *)addr->msg_id;
    cpm_server_send_error(s, route, addr->known ? &to : NULL, &e);
}

/* Count weight requests of user in this turn (a batch request of items
 * weighs its items: each is applied as a single request would be); false
 * when user has had its share while others want theirs (the request is then
 * refused as busy). Alone, a principal may use the whole turn: refusing it
 * would serve nobody. */
static bool take_share(cpm_server_t *s, const char *user, size_t weight)
{
    if (!user)
        return true; /* not through ZAP: refused by the verifier anyway */
    size_t i = 0;
    while (i < s->nshares && strcmp(s->shares[i].user, user) != 0)
        i++;
    if (i == s->nshares) {
        if (s->nshares == TURN_PRINCIPALS)
            return true; /* so many principals that none can hold the turn */
        snprintf(s->shares[i].user, sizeof s->shares[i].user, "%s", user);
        s->shares[i].taken = 0;
        s->nshares++;
    }
    s->shares[i].taken += (unsigned)weight;
    return s->shares[i].taken <= TURN_PER_PRINCIPAL || s->nshares == 1;
}

static void refuse_busy(cpm_server_t *s, zmq_msg_t *route, const cpm_msg_t *m)
{
    cpm_error_t e;
    cpm_error_set(&e, CPM_E_UNAVAILABLE, "rate",
                  "busy: more than %d requests or items of %s in one turn; send again later",
                  TURN_PER_PRINCIPAL, m->env->sender);
    cpm_server_count(s, "rejected", "busy");
    cpm_server_send_error(s, route, m->env, &e);
}

/* The checks that depend on order, then the frame's dispatch; write
 * requests join the group. Takes f (both messages are closed or moved). */
static void dispatch(cpm_server_t *s, turn_frame_t *f, const cpm_precheck_t *pre)
{
    cpm_verify_ctx_t ctx = {.self = s->self,
                            .service = s->cfg->service,
                            .transport_user = zmq_msg_gets(&f->frame, "User-Id")};
    cpm_msg_t m = {0};
    cpm_verdict_t v = cpm_verifier_finish(s->verifier, pre, &ctx, cpm_now_ms(), &m);
    uint64_t evicted = cpm_verifier_replay_evicted(s->verifier);
    if (evicted > s->replay_evicted) { /* a member past its share of the replay table */
        cpm_metrics_add(s->metrics, "replay.evicted", evicted - s->replay_evicted);
        s->replay_evicted = evicted;
    }
    if (v != CPM_V_OK) {
        refuse(s, &f->route, &f->frame, v, &m.addr);
        zmq_msg_close(&f->route);
        zmq_msg_close(&f->frame);
        return;
    }
    /* What still speaks version 2 (docs/operations.md "Protocol version 3"):
     * an upgrade's second step waits until this stops growing everywhere. */
    if (m.env->version == CPM_PROTO_VERSION_V2)
        cpm_metrics_add(s->metrics, "received.envelope_v2", 1);
    const handler_t *h = cpm_server_find_handler(s, m.env->type);
    /* A batch's items, counted in place (cheap; a malformed or oversized
     * container counts as what was read, and is refused whole later). */
    size_t weight = 1, n = 0;
    int counted_rc = 0;
    if (h && h->item) {
        /* on failure n is what was read before the container failed */
        counted_rc =
            cpm_pb_count_fields(m.env->payload.data, m.env->payload.len, CPM_SUBMIT_BATCH_MAX, &n);
        weight = n ? n : 1;
    }
    bool share = take_share(s, ctx.transport_user, weight);
    if (h && h->keep_frame && share && (m.frame = malloc(zmq_msg_size(&f->frame)))) {
        memcpy(m.frame, zmq_msg_data(&f->frame), zmq_msg_size(&f->frame));
        m.frame_len = zmq_msg_size(&f->frame);
    }
    zmq_msg_close(&f->frame);
    if (h && h->keep_frame && share && !m.frame) {
        cpm_error_t e;
        cpm_error_set(&e, CPM_E_INTERNAL, "", "out of memory keeping the signed request");
        cpm_server_send_error(s, &f->route, m.env, &e);
    } else if (!share) {
        refuse_busy(s, &f->route, &m);
    } else if (!h) {
        cpm_error_t e;
        cpm_error_set(&e, CPM_E_FORBIDDEN, "type", "%s does not serve %s", s->self,
                      cpm_msg_type_name(m.env->type));
        cpm_server_count(s, "rejected", "not_served");
        cpm_server_send_error(s, &f->route, m.env, &e);
    } else if (!h->write || (h->reads && h->reads(s, &m))) {
        cpm_server_answer_now(s, &f->route, &m, h);
    } else {
        pending_t *p = &s->group[s->ngroup++];
        memset(p, 0, sizeof *p);
        zmq_msg_init(&p->route);
        zmq_msg_move(&p->route, &f->route);
        p->msg = m;
        p->h = h;
        p->counted_rc = counted_rc;
        p->counted = n;
        if (h->item)
            s->recv->items += weight;
        return;
    }
    cpm_msg_clear(&m);
    zmq_msg_close(&f->route);
}

/* A message of more than one frame, or of one: not our framing. */
static void refuse_framing(cpm_server_t *s)
{
    static cpm_ratelimit_t framing_log = CPM_RATELIMIT_INIT(20, 10000);
    cpm_metrics_add(s->metrics, "received", 1);
    cpm_server_count(s, "rejected", "framing");
    uint64_t dropped = 0;
    if (cpm_ratelimit_allow(&framing_log, cpm_mono_ms(), &dropped))
        cpm_warn("refused a message of more than one frame%s", cpm_ratelimit_note(dropped));
}

/* Receive up to max frames into the empty batch, while the group they would
 * join (of ngroup requests) has room for them. Returns the frames taken off
 * the socket (refused framing included); *empty: the socket had no more. */
static size_t receive(cpm_server_t *s, cpm_server_recv_t *r, size_t max, size_t ngroup, bool *empty)
{
    size_t taken = 0;
    *empty = false;
    while (taken < max && ngroup + r->n < GROUP_MAX) {
        zmq_msg_t f[2];
        int n = cpm_sock_recv(s->router, f, 2, ZMQ_DONTWAIT);
        if (n == 0 || n == -1) {
            *empty = true;
            break;
        }
        taken++;
        if (n == CPM_SOCK_TOO_MANY_FRAMES) {
            refuse_framing(s);
            continue;
        }
        if (n != 2) {
            cpm_metrics_add(s->metrics, "received", 1);
            cpm_server_count(s, "rejected", "framing");
            for (int i = 0; i < n; i++)
                zmq_msg_close(&f[i]);
            continue;
        }
        cpm_metrics_add(s->metrics, "received", 1);
        turn_frame_t *t = &r->frames[r->n++];
        zmq_msg_init(&t->route);
        zmq_msg_init(&t->frame);
        zmq_msg_move(&t->route, &f[0]);
        zmq_msg_move(&t->frame, &f[1]);
        zmq_msg_close(&f[0]);
        zmq_msg_close(&f[1]);
    }
    return taken;
}

static void precheck_one(void *ctx, size_t i)
{
    cpm_server_recv_t *r = ctx;
    turn_frame_t *t = &r->frames[r->first + i];
    cpm_verifier_precheck(r->reg, zmq_msg_data(&t->frame), zmq_msg_size(&t->frame),
                          &r->pre[r->first + i]);
}

/* Take the requests of one turn: at most TURN_FRAMES of them and TURN_MS of
 * work, so that the group's commit, delivery, ZAP and the registry reload
 * come round however many requests wait (the rest wait in the socket, within
 * its high-water mark, or, the rest of a batch, held here). */
void cpm_server_take_turn(cpm_server_t *s)
{
    cpm_server_recv_t *r = s->recv;
    int64_t end = cpm_mono_ms() + TURN_MS;
    s->nshares = 0;
    r->items = 0;
    size_t taken = 0;
    bool cut = false, empty = false;
    uint64_t version = cpm_registry_version(s->reg);
    for (;;) {
        /* Held frames keep their checks unless the registry changed since. */
        bool check = r->pre_version != version;
        if (r->first == r->n) { /* nothing held: the next batch */
            /* The socket was found empty: asking again costs libzmq two
             * system calls and mostly finds nothing (a client sends its next
             * request on a reply, which comes after the commit); what came
             * meanwhile is the next turn's, which follows at once. */
            if (empty)
                break;
            if (taken >= TURN_FRAMES || s->ngroup >= GROUP_MAX) {
                cut = true;
                break;
            }
            size_t room = TURN_FRAMES - taken;
            r->first = r->n = 0;
            taken += receive(s, r, room < VERIFY_BATCH ? room : VERIFY_BATCH, s->ngroup, &empty);
            if (r->n == 0 && empty)
                break;
            check = true;
        }
        if (check) {
            r->reg = s->reg;
            r->pre_version = version;
            if (r->n - r->first > 1 && cpm_vpool_threads(r->pool) > 1)
                cpm_metrics_add(s->metrics, "verify.parallel_batches", 1);
            cpm_vpool_run(r->pool, r->n - r->first, precheck_one, r);
        }
        while (r->first < r->n && !cut) {
            size_t i = r->first++;
            dispatch(s, &r->frames[i], &r->pre[i]);
            cut = cpm_mono_ms() >= end || r->items >= TURN_ITEMS;
        }
        if (cut)
            break;
    }
    if (cut)
        cpm_metrics_add(s->metrics, "loop.turns_cut", 1);
}

/* While a group's commit waits for the disk, the loop thread has nothing to
 * do and the pool's threads are idle: under load (many clients, so frames
 * wait in the socket) the next turn's first batch is received now and its
 * signatures checked on the pool meanwhile. Those frames were the next
 * turn's anyway: they are held, and dispatched first, in arrival order, as a
 * cut turn's are (a registry changed in between checks them again). The
 * next turn may so take up to VERIFY_BATCH frames more than TURN_FRAMES, as
 * after a cut one. They join the next group, which starts empty. */
bool cpm_server_recv_prefetch_start(cpm_server_t *s)
{
    cpm_server_recv_t *r = s->recv;
    if (!r || r->first < r->n || cpm_vpool_threads(r->pool) < 2)
        return false;
    bool empty = false;
    r->first = r->n = 0;
    receive(s, r, VERIFY_BATCH, 0, &empty);
    if (r->n == 0)
        return false;
    r->reg = s->reg;
    r->pre_version = cpm_registry_version(s->reg);
    cpm_metrics_add(s->metrics, "verify.prefetched", r->n);
    cpm_vpool_start(r->pool, r->n, precheck_one, r);
    return true;
}

void cpm_server_recv_prefetch_finish(cpm_server_t *s)
{
    cpm_server_recv_t *r = s->recv;
    cpm_vpool_finish(r->pool, r->n, precheck_one, r);
}

void cpm_server_recv_drop_held(cpm_server_t *s)
{
    cpm_server_recv_t *r = s->recv;
    if (!r)
        return;
    for (; r->first < r->n; r->first++) {
        zmq_msg_close(&r->frames[r->first].route);
        zmq_msg_close(&r->frames[r->first].frame);
        cpm_server_count(s, "rejected", "rebind");
    }
}
