#include "cpm_client.h"
#include "cpm_merkle.h"
#include "cpm_transport.h"
#include "cpm_util.h"
#include "cpm_zpoll.h"

#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* Links kept open at once; the least recently used is closed beyond that
 * (a client fanning out to the whole registry reconnects, which is cheap). */
#define CLIENT_LINKS 32
/* Requests a link remembers as awaiting an answer; a reply to none of them
 * is refused. Older ones are forgotten (their late answers then too). */
#define CLIENT_PENDING 1024
/* take_pending walks the ring back from next_pending across the wrap of an
 * unsigned: right only when the ring's size divides 2^32 */
_Static_assert((CLIENT_PENDING & (CLIENT_PENDING - 1)) == 0, "CLIENT_PENDING: a power of two");

/* A batch request awaiting its group receipt: what each item's leaf must
 * name (docs/protocol.md "Group receipts"). */
typedef struct {
    char msg_id[33];
    uint32_t n;
    uint8_t hashes[CPM_SUBMIT_BATCH_MAX][32];
    uint64_t seen; /* items met in the receipt being checked */
} batch_t;

typedef struct {
    char peer[200];                      /* "<member>/<service>", "" when free */
    char member[128];                    /* who its replies must be signed by */
    char instance[CPM_INSTANCE_MAX + 1]; /* ... and sealed as: "<service>.reply" */
    void *sock;
    void *monitor; /* tells a refused handshake */
    uint64_t used; /* for LRU */
    char pending[CLIENT_PENDING][33];
    unsigned next_pending;
    uint8_t sent_hash[32]; /* SHA-256 of the last frame sent (cpm_client_sent_hash) */
    bool sent_any;
    batch_t *batches; /* the pending ones among pending[], oldest first */
    size_t nbatches;
} link_t;

struct cpm_client {
    void *zctx;
    const cpm_registry_t *reg;
    const cpm_identity_t *id;
    cpm_verifier_t *verifier;
    cpm_sender_t sender;
    char instance[64];
    char self[200];
    link_t links[CLIENT_LINKS];
    uint64_t clock;
    uint64_t refused;
};

int cpm_client_new(cpm_client_t **out, void *zctx, const cpm_registry_t *reg,
                   const cpm_identity_t *id, const char *instance, cpm_error_t *err)
{
    *out = NULL;
    if (!zctx || !reg || !id)
        return cpm_error_set(err, CPM_E_INVALID, "client", "no context, registry or identity");
    cpm_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    c->zctx = zctx;
    c->reg = reg;
    c->id = id;
    if (instance) {
        snprintf(c->instance, sizeof c->instance, "%s", instance);
    } else {
        /* A fresh instance per run, never a reused pid: receivers remember
         * each instance's highest sequence for ten minutes, and a run started
         * after the clock stepped back would otherwise be refused as a replay. */
        char rnd[33];
        cpm_random_id(rnd);
        snprintf(c->instance, sizeof c->instance, "cli.%d.%.12s", (int)getpid(), rnd);
    }
    snprintf(c->self, sizeof c->self, "%s/%s", id->id, c->instance);
    cpm_sender_init(&c->sender, id, c->instance);
    c->verifier = cpm_verifier_new(300000);
    if (!c->verifier) {
        free(c);
        return cpm_error_set(err, CPM_E_INTERNAL, "", "cannot make a verifier");
    }
    *out = c;
    return 0;
}

static void unlink_peer(link_t *l)
{
    cpm_sock_monitor_close(l->sock, &l->monitor);
    cpm_sock_close(&l->sock);
    l->peer[0] = 0;
    memset(l->pending, 0, sizeof l->pending);
    l->sent_any = false;
    free(l->batches);
    l->batches = NULL;
    l->nbatches = 0;
}

static batch_t *find_batch(link_t *l, const char *msg_id)
{
    for (size_t i = 0; i < l->nbatches; i++)
        if (strcmp(l->batches[i].msg_id, msg_id) == 0)
            return &l->batches[i];
    return NULL;
}

static void forget_batch(link_t *l, const char *msg_id)
{
    batch_t *b = find_batch(l, msg_id);
    if (!b)
        return;
    size_t i = (size_t)(b - l->batches);
    memmove(b, b + 1, (l->nbatches - i - 1) * sizeof *b);
    l->nbatches--;
}

/* Forget msg_id as pending; false when it never was (or is forgotten).
 * Newest first: an answer is usually for one of the last requests sent (as
 * many back as the caller keeps in flight), so a full scan of the ring (a
 * thousand string compares per answer, 15% of a busy batch client's CPU) is
 * left for late and unknown answers. */
static bool take_pending(link_t *l, const char *msg_id)
{
    for (unsigned k = 1; *msg_id && k <= CLIENT_PENDING; k++) {
        char *slot = l->pending[(l->next_pending - k) % CLIENT_PENDING];
        if (slot[0] == msg_id[0] && strcmp(slot, msg_id) == 0) {
            slot[0] = 0;
            forget_batch(l, msg_id);
            return true;
        }
    }
    return false;
}

/* Remember msg_id as pending in the ring's next slot. The request whose
 * slot it takes is forgotten, and with it its batch entry: otherwise that
 * batch would linger and a late receipt for it would still be taken. */
static void remember_pending(link_t *l, const char *msg_id)
{
    char *slot = l->pending[l->next_pending++ % CLIENT_PENDING];
    if (slot[0])
        forget_batch(l, slot);
    memcpy(slot, msg_id, 33);
}

void cpm_client_destroy(cpm_client_t **p)
{
    if (!p || !*p)
        return;
    cpm_client_t *c = *p;
    for (int i = 0; i < CLIENT_LINKS; i++)
        unlink_peer(&c->links[i]);
    cpm_verifier_destroy(&c->verifier);
    free(c);
    *p = NULL;
}

const char *cpm_client_self(const cpm_client_t *c)
{
    return c->self;
}

uint64_t cpm_client_refused(const cpm_client_t *c)
{
    return c->refused;
}

void cpm_client_set_registry(cpm_client_t *c, const cpm_registry_t *reg)
{
    c->reg = reg;
}

static link_t *find_link(cpm_client_t *c, const char *peer)
{
    for (int i = 0; i < CLIENT_LINKS; i++)
        if (c->links[i].sock && strcmp(c->links[i].peer, peer) == 0) {
            c->links[i].used = ++c->clock;
            return &c->links[i];
        }
    return NULL;
}

static int link_to(cpm_client_t *c, const char *member, const char *service, link_t **out,
                   cpm_error_t *err)
{
    char peer[200];
    snprintf(peer, sizeof peer, "%s/%s", member, service);
    if ((*out = find_link(c, peer)))
        return 0;
    const Cpm__Member *m = cpm_registry_member(c->reg, member);
    const Cpm__ServiceEndpoint *ep = m ? cpm_member_service(m, service) : NULL;
    if (!ep)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "node", "the registry has no service %s", peer);
    link_t *l = &c->links[0];
    for (int i = 1; i < CLIENT_LINKS && l->sock; i++)
        if (!c->links[i].sock || c->links[i].used < l->used)
            l = &c->links[i];
    unlink_peer(l);
    /* Watch the handshake from before the connect, so that a refused key is
     * a clear error at once rather than a timeout. */
    l->sock = cpm_sock_client_monitored(
        c->zctx, ZMQ_DEALER, c->id, m->curve_pk.data, ep->endpoint,
        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, &l->monitor);
    if (!l->sock)
        return cpm_error_set(err, CPM_E_UNAVAILABLE, "node", "cannot connect to %s at %s", peer,
                             ep->endpoint);
    snprintf(l->peer, sizeof l->peer, "%s", peer);
    snprintf(l->member, sizeof l->member, "%s", member);
    snprintf(l->instance, sizeof l->instance, "%s.reply", service);
    l->used = ++c->clock;
    *out = l;
    return 0;
}

/* 1 when the monitor reports that the service refused our handshake. */
static int handshake_refused(link_t *l)
{
    int event;
    while ((event = cpm_sock_monitor_event(l->monitor)) > 0)
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
            event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            return 1;
    return 0;
}

int cpm_client_send(cpm_client_t *c, const char *member, const char *service, Cpm__MsgType type,
                    const ProtobufCMessage *req, char msg_id[33], cpm_error_t *err)
{
    link_t *l;
    int rc = link_to(c, member, service, &l, err);
    if (rc != 0)
        return rc;
    uint8_t *frame = NULL;
    size_t len = 0;
    if (cpm_sender_seal(&c->sender, type, l->peer, NULL, req, msg_id, &frame, &len) != 0)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "cannot sign the request");
    rc = zmq_send(l->sock, frame, len, 0) == (int)len
             ? 0
             : cpm_error_set(err, CPM_E_UNAVAILABLE, "", "cannot send to %s", l->peer);
    if (rc == 0) {
        crypto_hash_sha256(l->sent_hash, frame, len);
        l->sent_any = true;
    }
    free(frame);
    if (rc == 0)
        remember_pending(l, msg_id);
    return rc;
}

int cpm_client_send_batch(cpm_client_t *c, const char *member, const Cpm__Complaint *const *items,
                          size_t n, char msg_id[33], uint8_t (*item_hashes)[32], cpm_error_t *err)
{
    if (n == 0 || n > CPM_SUBMIT_BATCH_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "complaints",
                             "a batch holds 1 to %d complaints, not %zu", CPM_SUBMIT_BATCH_MAX, n);
    link_t *l;
    int rc = link_to(c, member, "intake", &l, err);
    if (rc != 0)
        return rc;
    batch_t b = {.n = (uint32_t)n};
    ProtobufCBinaryData bins[CPM_SUBMIT_BATCH_MAX];
    for (size_t i = 0; i < n; i++) {
        bins[i].len = cpm__complaint__get_packed_size(items[i]);
        bins[i].data = malloc(bins[i].len ? bins[i].len : 1);
        if (!bins[i].data) {
            n = i;
            rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
            break;
        }
        cpm__complaint__pack(items[i], bins[i].data);
        cpm_merkle_sha256(bins[i].data, bins[i].len, b.hashes[i]);
    }
    Cpm__SubmitBatch sb = CPM__SUBMIT_BATCH__INIT;
    sb.n_complaints = n;
    sb.complaints = bins;
    uint8_t *frame = NULL;
    size_t len = 0;
    if (rc == 0 && cpm_sender_seal(&c->sender, CPM__MSG_TYPE__MSG_SUBMIT_BATCH, l->peer, NULL,
                                   &sb.base, msg_id, &frame, &len) != 0)
        rc = cpm_error_set(err, CPM_E_INTERNAL, "", "cannot sign the request");
    for (size_t i = 0; i < n; i++)
        free(bins[i].data);
    if (rc != 0)
        return rc;
    if (l->nbatches == CLIENT_PENDING) /* its request is forgotten too by now */
        forget_batch(l, l->batches[0].msg_id);
    batch_t *grown = realloc(l->batches, (l->nbatches + 1) * sizeof *grown);
    if (!grown) {
        free(frame);
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    }
    l->batches = grown;
    rc = zmq_send(l->sock, frame, len, 0) == (int)len
             ? 0
             : cpm_error_set(err, CPM_E_UNAVAILABLE, "", "cannot send to %s", l->peer);
    if (rc == 0) {
        crypto_hash_sha256(l->sent_hash, frame, len);
        l->sent_any = true;
        memcpy(b.msg_id, msg_id, 33);
        remember_pending(l, msg_id); /* before the entry: it may free one */
        l->batches[l->nbatches++] = b;
        if (item_hashes)
            memcpy(item_hashes, b.hashes, n * 32);
    }
    free(frame);
    return rc;
}

int cpm_client_sent_hash(cpm_client_t *c, const char *member, const char *service, uint8_t out[32])
{
    char peer[sizeof c->links[0].peer];
    snprintf(peer, sizeof peer, "%s/%s", member, service);
    for (size_t i = 0; i < CLIENT_LINKS; i++) {
        link_t *l = &c->links[i];
        if (l->sock && l->sent_any && strcmp(l->peer, peer) == 0) {
            memcpy(out, l->sent_hash, 32);
            return 0;
        }
    }
    return CPM_E_NOT_FOUND;
}

int cpm_client_reply_error(const cpm_msg_t *reply, cpm_error_t *err)
{
    if (reply->env->type != CPM__MSG_TYPE__MSG_ERROR)
        return 0;
    Cpm__ErrorReply *e =
        cpm__error_reply__unpack(NULL, reply->env->payload.len, reply->env->payload.data);
    if (!e)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "undecodable error reply");
    int code = e->code ? (int)e->code : CPM_E_INTERNAL;
    cpm_error_set(err, code, e->field, "%s", e->message);
    cpm__error_reply__free_unpacked(e, NULL);
    return code;
}

/* A verified group receipt's items: each for a pending batch of ours on l,
 * naming the hash of the item we sent, every such batch answered whole.
 * 0 (those batches are answered), 1 when an item answers no pending batch
 * of ours (an unsolicited frame), CPM_E_FORBIDDEN on anything else.
 * One unknown item refuses the whole frame, answers to batches still
 * pending included (see cpm_client_recv_any): counted, and those batches
 * wait for their caller's timeout and resend. */
static int match_receipt(link_t *l, const cpm_receipt_t *r, cpm_error_t *err)
{
    size_t n = cpm_receipt_count(r);
    for (size_t i = 0; i < l->nbatches; i++)
        l->batches[i].seen = 0;
    for (size_t i = 0; i < n; i++) {
        const cpm_receipt_item_t *it = cpm_receipt_at(r, i);
        batch_t *b = find_batch(l, it->correlation_id);
        if (!b)
            return 1;
        if (it->item >= b->n || (b->seen >> it->item & 1) ||
            memcmp(it->item_hash, b->hashes[it->item], 32) != 0)
            return cpm_error_set(err, CPM_E_FORBIDDEN, "item_hash",
                                 "the receipt's item %u of %s is not the one we sent", it->item,
                                 it->correlation_id);
        b->seen |= 1ull << it->item;
    }
    for (size_t i = 0; i < l->nbatches; i++) {
        batch_t *b = &l->batches[i];
        uint64_t all = b->n == 64 ? ~0ull : (1ull << b->n) - 1;
        if (b->seen && b->seen != all)
            return cpm_error_set(err, CPM_E_FORBIDDEN, "proofs",
                                 "the receipt answers batch %s in part", b->msg_id);
    }
    for (size_t i = 0; i < n; i++) { /* each batch once: its items come together */
        const char *id = cpm_receipt_at(r, i)->correlation_id;
        if (i == 0 || strcmp(id, cpm_receipt_at(r, i - 1)->correlation_id) != 0)
            take_pending(l, id); /* a batch's items apart: later ones find it gone */
    }
    return 0;
}

/* A group receipt whose envelope the verifier accepted (reply): its proofs
 * checked, its items matched to our batches. As match_receipt. */
static int open_receipt(cpm_client_t *c, link_t *l, const cpm_msg_t *reply, const uint8_t *frame,
                        size_t len, cpm_receipt_t **out, cpm_error_t *err)
{
    cpm_receipt_t *r = NULL;
    if (cpm_receipt_open(reply, frame, len, c->self, &r, err) != 0)
        return CPM_E_FORBIDDEN;
    int rc = match_receipt(l, r, err);
    if (rc != 0)
        cpm_receipt_destroy(&r);
    *out = r;
    return rc;
}

static int recv_on(cpm_client_t *c, link_t *l, int timeout_ms, cpm_msg_t *reply,
                   cpm_receipt_t **receipt, cpm_error_t *err)
{
    int64_t deadline = cpm_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - cpm_mono_ms();
        zmq_pollitem_t it[2] = {{l->sock, 0, ZMQ_POLLIN, 0}, {l->monitor, 0, ZMQ_POLLIN, 0}};
        if (left <= 0 || cpm_zpoll(it, l->monitor ? 2 : 1, (long)left) <= 0)
            return cpm_error_set(err, CPM_E_TIMEOUT, "", "no answer from %s within %d ms", l->peer,
                                 timeout_ms);
        if (handshake_refused(l))
            return cpm_error_set(err, CPM_E_FORBIDDEN, "as",
                                 "%s refused the CURVE handshake: the key of %s is not in its "
                                 "registry",
                                 l->peer, c->id->id);
        if (!(it[0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t f[1];
        if (cpm_sock_recv(l->sock, f, 1, 0) != 1)
            continue;
        cpm_verify_ctx_t ctx = {.self = c->self, .awaiting_reply = "*", .expect_sender = l->member};
        const uint8_t *buf = zmq_msg_data(&f[0]);
        size_t len = zmq_msg_size(&f[0]), signed_len = len;
        /* A group receipt: its fields 1 and 2 are a plain signed envelope,
         * verified as any reply; its proofs (field 3) are checked after. */
        cpm_slice_t envs, sig, proofs;
        bool has_proofs =
            cpm_receipt_parse_frame(buf, len, &envs, &sig, &proofs, &signed_len) == 0 &&
            signed_len < len;
        if (!has_proofs)
            signed_len = len; /* the verifier refuses what is not a plain envelope */
        cpm_verdict_t v =
            cpm_verifier_check(c->verifier, c->reg, &ctx, buf, signed_len, cpm_now_ms(), reply);
        if (v == CPM_V_OK && has_proofs != (reply->env->type == CPM__MSG_TYPE__MSG_GROUP_RECEIPT)) {
            cpm_msg_clear(reply); /* proofs on another reply, or a receipt without */
            v = CPM_V_MALFORMED;
        }
        if (v != CPM_V_OK) {
            zmq_msg_close(&f[0]);
            c->refused++;
            return cpm_error_set(err, cpm_verdict_code(v), "reply", "refused the reply of %s: %s",
                                 l->peer, cpm_verdict_name(v));
        }
        if (has_proofs) {
            int rc = CPM_E_FORBIDDEN;
            if (receipt)
                rc = open_receipt(c, l, reply, buf, len, receipt, err);
            else
                cpm_error_set(err, rc, "reply", "a group receipt where a reply was awaited");
            cpm_msg_clear(reply);
            zmq_msg_close(&f[0]);
            if (rc == 0)
                return 0;
            c->refused++;
            if (rc == 1 || !receipt)
                continue; /* answers nothing we wait for: dropped, the wait goes on */
            return rc;
        }
        zmq_msg_close(&f[0]);
        /* Signed by the peer member, but by the instance of another of its
         * services: not the answer of the service we asked (a member's
         * services share its key; cpm_server seals answers as
         * "<service>.reply"). */
        if (strcmp(reply->env->sender_instance, l->instance) != 0) {
            c->refused++;
            cpm_error_set(err, CPM_E_FORBIDDEN, "reply.sender_instance",
                          "refused the reply of %s: sealed by instance \"%s\", not \"%s\"", l->peer,
                          reply->env->sender_instance, l->instance);
            cpm_msg_clear(reply);
            return err->code;
        }
        /* Signed by the peer, but an answer to no request of ours (or one
         * answered already): dropped, and the wait goes on. */
        if (!take_pending(l, reply->env->correlation_id)) {
            c->refused++;
            cpm_msg_clear(reply);
            continue;
        }
        return 0;
    }
}

int cpm_client_recv(cpm_client_t *c, const char *member, const char *service, int timeout_ms,
                    cpm_msg_t *reply, cpm_error_t *err)
{
    char peer[200];
    snprintf(peer, sizeof peer, "%s/%s", member, service);
    link_t *l = find_link(c, peer);
    if (!l)
        return cpm_error_set(err, CPM_E_INVALID, "node", "no request is pending at %s", peer);
    return recv_on(c, l, timeout_ms, reply, NULL, err);
}

int cpm_client_recv_any(cpm_client_t *c, const char *member, const char *service, int timeout_ms,
                        cpm_msg_t *reply, cpm_receipt_t **receipt, cpm_error_t *err)
{
    *receipt = NULL;
    memset(reply, 0, sizeof *reply);
    char peer[200];
    snprintf(peer, sizeof peer, "%s/%s", member, service);
    link_t *l = find_link(c, peer);
    if (!l)
        return cpm_error_set(err, CPM_E_INVALID, "node", "no request is pending at %s", peer);
    return recv_on(c, l, timeout_ms, reply, receipt, err);
}

int cpm_client_call(cpm_client_t *c, const char *member, const char *service, Cpm__MsgType type,
                    const ProtobufCMessage *req, int timeout_ms, cpm_msg_t *reply, cpm_error_t *err)
{
    char msg_id[33];
    link_t *l = NULL;
    int rc = cpm_client_send(c, member, service, type, req, msg_id, err);
    if (rc == 0) {
        char peer[200];
        snprintf(peer, sizeof peer, "%s/%s", member, service);
        l = find_link(c, peer);
    }
    while (rc == 0) {
        rc = recv_on(c, l, timeout_ms, reply, NULL, err);
        if (rc != 0)
            break;
        if (strcmp(reply->env->correlation_id, msg_id) != 0) {
            cpm_msg_clear(reply); /* a late answer to an earlier request */
            continue;
        }
        rc = cpm_client_reply_error(reply, err);
        if (rc != 0)
            cpm_msg_clear(reply);
        break;
    }
    if (rc != 0 && l) /* a fresh link next time: never read a stale answer */
        unlink_peer(l);
    return rc;
}

int cpm_client_call_retry(cpm_client_t *c, const char *member, const char *service,
                          Cpm__MsgType type, const ProtobufCMessage *req, int timeout_ms,
                          int attempts, cpm_msg_t *reply, cpm_error_t *err)
{
    int rc = CPM_E_INTERNAL;
    for (int i = 0; i < (attempts > 0 ? attempts : 1); i++) {
        rc = cpm_client_call(c, member, service, type, req, timeout_ms, reply, err);
        if (rc == 0 || !cpm_err_retryable(rc))
            break;
    }
    return rc;
}
