#include "cpm_server.h"
#include "cpm_server_int.h"
#include "cpm_envelope.h"
#include "cpm_eventlog.h"
#include "cpm_inbox.h"
#include "cpm_log.h"
#include "cpm_outbox.h"
#include "cpm_pump.h"
#include "cpm_transport.h"
#include "cpm_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#define REGISTRY_SEEN_KEY "registry.version"

int cpm_reply_set(cpm_reply_t *r, Cpm__MsgType type, const ProtobufCMessage *payload)
{
    size_t len = protobuf_c_message_get_packed_size(payload);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return CPM_E_INTERNAL;
    protobuf_c_message_pack(payload, buf);
    free(r->buf);
    r->type = type;
    r->buf = buf;
    r->len = len;
    return 0;
}

static int remember_registry_version(cpm_server_t *s);

int cpm_server_load_registry(cpm_server_t *s, bool first)
{
    struct stat st;
    if (stat(s->cfg->registry, &st) != 0) {
        if (first)
            cpm_error("registry %s: %s", s->cfg->registry, strerror(errno));
        return -1;
    }
    if (!first && st.st_mtim.tv_sec == s->reg_stat.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == s->reg_stat.st_mtim.tv_nsec && st.st_ino == s->reg_stat.st_ino &&
        st.st_size == s->reg_stat.st_size)
        return 0;
    s->reg_stat = st;
    cpm_error_t err = {0};
    cpm_registry_t *r = NULL;
    if (cpm_registry_load(s->cfg->registry, s->root_pk, &r, &err) != 0) {
        cpm_warn("registry %s refused: %s", s->cfg->registry, err.message);
        cpm_metrics_add(s->metrics, "registry.refused", 1);
        return -1;
    }
    if (s->reg && cpm_registry_version(r) <= cpm_registry_version(s->reg)) {
        if (cpm_registry_version(r) < cpm_registry_version(s->reg)) {
            cpm_warn("registry version %llu refused: older than the current %llu",
                     (unsigned long long)cpm_registry_version(r),
                     (unsigned long long)cpm_registry_version(s->reg));
            cpm_metrics_add(s->metrics, "registry.refused", 1);
        }
        cpm_registry_destroy(&r);
        return 0;
    }
    if (s->reg)
        cpm_info("registry version %llu loaded (was %llu)",
                 (unsigned long long)cpm_registry_version(r),
                 (unsigned long long)cpm_registry_version(s->reg));
    char who[128] = "";
    bool lost = s->reg && cpm_zap_lost_access(s->reg, r, who, sizeof who);
    cpm_registry_destroy(&s->reg);
    s->reg = r;
    if (s->zap)
        cpm_zap_set_registry(s->zap, r);
    cpm_metrics_add(s->metrics, "registry.loaded", 1);
    if (s->store && remember_registry_version(s) != 0)
        cpm_warn("cannot record registry version %llu in the store",
                 (unsigned long long)cpm_registry_version(r));
    if (lost && s->router) {
        /* Connections admitted under the old registry stay open otherwise:
         * ZeroMQ cannot drop one peer of a bound socket, so drop them all;
         * every peer reconnects and passes ZAP under this registry. */
        cpm_warn("registry version %llu takes access from %s (and perhaps others): dropping "
                 "every connection",
                 (unsigned long long)cpm_registry_version(r), who);
        if (cpm_server_rebind(s) != 0)
            return -1;
    }
    return 0;
}

/* Record the registry version now in force, so that a restart refuses an
 * older file (a rollback to a registry that still admits revoked keys). */
static int remember_registry_version(cpm_server_t *s)
{
    MDB_txn *txn = NULL;
    uint64_t seen = 0, now = cpm_registry_version(s->reg);
    int rc = cpm_store_begin(s->store, true, &txn);
    if (rc == 0)
        rc = cpm_store_get_u64(s->store, txn, REGISTRY_SEEN_KEY, &seen);
    if (rc == 0 && now > seen)
        rc = cpm_store_put_u64(s->store, txn, REGISTRY_SEEN_KEY, now);
    if (rc == 0 && now > seen)
        return cpm_store_commit(txn);
    cpm_store_abort(&txn);
    return rc;
}

/* At start: refuse a registry file older than the newest this store has
 * accepted. The service stops (rather than running on a registry that may
 * still admit revoked members) with a line saying what to install. */
static int check_registry_rollback(cpm_server_t *s)
{
    MDB_txn *txn = NULL;
    uint64_t seen = 0;
    int rc = cpm_store_begin(s->store, false, &txn);
    if (rc == 0)
        rc = cpm_store_get_u64(s->store, txn, REGISTRY_SEEN_KEY, &seen);
    cpm_store_abort(&txn);
    if (rc != 0) {
        cpm_error("store: cannot read the registry version seen: %s", cpm_err_name(rc));
        return -1;
    }
    if (cpm_registry_version(s->reg) < seen) {
        cpm_metrics_add(s->metrics, "registry.refused", 1);
        cpm_error("registry %s refused: version %llu is older than version %llu, which this "
                  "service has already accepted; install the current registry",
                  s->cfg->registry, (unsigned long long)cpm_registry_version(s->reg),
                  (unsigned long long)seen);
        return -1;
    }
    return remember_registry_version(s) == 0 ? 0 : -1;
}

/* A store whose outbox a newer build wrote, with records still waiting, is
 * not run by this build (cpm_outbox_format_open): it might send them as
 * something else. */
static int check_outbox_format(cpm_server_t *s)
{
    MDB_txn *txn = NULL;
    uint64_t lowered = 0;
    cpm_error_t e = {0};
    int rc = cpm_store_begin(s->store, true, &txn);
    if (rc == 0 && (rc = cpm_outbox_format_open(s->store, txn, &lowered, &e)) == 0)
        rc = cpm_store_commit(txn);
    else
        cpm_store_abort(&txn);
    if (rc == CPM_E_CONFLICT) {
        cpm_error("store %s: %s; not starting", s->cfg->data_dir, e.message);
        return -1;
    }
    if (rc == CPM_E_STORE_FULL) { /* a full store must still start and drain */
        cpm_warn("store %s: full: its outbox format is not marked this time", s->cfg->data_dir);
        return 0;
    }
    if (rc != 0) {
        cpm_error("store %s: cannot read or mark its outbox format: %s; not starting",
                  s->cfg->data_dir, cpm_err_name(rc));
        return -1;
    }
    if (lowered)
        cpm_warn("store %s: outbox.format %llu (a newer build's) is now %d: its outbox was empty",
                 s->cfg->data_dir, (unsigned long long)lowered, CPM_OUTBOX_FORMAT);
    return 0;
}

/* Descriptors: each connection holds one, and the default soft limit (1024)
 * is reached by a thousand idle connections. Raise the soft limit to the hard
 * one (LimitNOFILE in the systemd unit) and say what we got. */
static void raise_descriptor_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            cpm_warn("cannot raise the descriptor limit from %llu: %s", (unsigned long long)was,
                     strerror(errno));
            return;
        }
    }
    cpm_info("descriptor limit %llu", (unsigned long long)rl.rlim_cur);
}

static void *bind_again(cpm_server_t *s, void **sock, int type, const char *ep)
{
    cpm_sock_close(sock);
    /* The old listener is closed by libzmq's I/O thread shortly after. */
    for (int i = 0; i < 100 && !*sock; i++) {
        *sock = cpm_sock_server_quiet(s->zctx, type, &s->id, ep);
        if (!*sock)
            nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    if (!*sock)
        cpm_error("cannot bind %s again: %s", ep, zmq_strerror(zmq_errno()));
    return *sock;
}

int cpm_server_rebind(cpm_server_t *s)
{
    cpm_metrics_add(s->metrics, "transport.rebinds", 1);
    cpm_server_recv_drop_held(s); /* they came on connections now gone */
    if (!bind_again(s, &s->router, ZMQ_ROUTER, s->bind_ep) ||
        !bind_again(s, &s->pub, ZMQ_PUB, s->pub_ep))
        return -1;
    cpm_info("every connection dropped; listening again on %s, publishing on %s", s->bind_ep,
             s->pub_ep);
    return 0;
}

static int open_sockets(cpm_server_t *s)
{
    const Cpm__Member *me = cpm_registry_member(s->reg, s->cfg->node);
    const Cpm__ServiceEndpoint *ep = me ? cpm_member_service(me, s->cfg->service) : NULL;
    if (!ep) {
        cpm_error("the registry lists no service %s for member %s", s->cfg->service, s->cfg->node);
        return -1;
    }
    if (me->curve_pk.len != 32 || memcmp(me->curve_pk.data, s->id.curve_pk, 32) != 0 ||
        me->sign_pk.len != 32 || memcmp(me->sign_pk.data, s->id.sign_pk, 32) != 0) {
        cpm_error("identity %s does not match the registry's keys for %s", s->cfg->identity,
                  s->cfg->node);
        return -1;
    }
    s->zap = cpm_zap_new(s->zctx, s->metrics);
    if (!s->zap)
        return -1;
    cpm_zap_set_registry(s->zap, s->reg);
    const char *bind = s->cfg->bind ? s->cfg->bind : ep->endpoint;
    const char *pub = s->cfg->pub_bind ? s->cfg->pub_bind : ep->pub_endpoint;
    snprintf(s->bind_ep, sizeof s->bind_ep, "%s", bind);
    snprintf(s->pub_ep, sizeof s->pub_ep, "%s", pub);
    s->router = cpm_sock_server(s->zctx, ZMQ_ROUTER, &s->id, bind);
    s->pub = cpm_sock_server(s->zctx, ZMQ_PUB, &s->id, pub);
    if (!s->router || !s->pub)
        return -1;
    cpm_info("listening on %s, publishing on %s", bind, pub);
    return 0;
}

cpm_server_t *cpm_server_new(const cpm_config_t *cfg, const char *const *extra_dbs)
{
    cpm_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = cfg;
    s->started_ms = cpm_now_ms();
    snprintf(s->self, sizeof s->self, "%s/%s", cfg->node, cfg->service);
    cpm_log_init(s->self);
    raise_descriptor_limit();
    char err[256];
    cpm_public_t root;
    s->metrics = cpm_metrics_new();
    s->verifier = cpm_verifier_new((int64_t)cfg->max_skew_s * 1000);
    s->group = calloc(GROUP_MAX, sizeof *s->group);
    if (!s->metrics || !s->verifier || !s->group)
        goto fail;
    /* the version every frame of this process goes in (checked by the
     * configuration: 2 or 3); replies follow their request's */
    if (cpm_envelope_set_send_version(cfg->envelope_version) != 0) {
        cpm_error("envelope_version %u is not sent by this build", cfg->envelope_version);
        goto fail;
    }
    if (cfg->envelope_version != CPM_PROTO_VERSION)
        cpm_warn("sending envelope version %u (envelope_version): for an upgrade only",
                 cfg->envelope_version);
    if (!(s->recv = cpm_server_recv_new(cfg->verify_threads))) {
        cpm_error("cannot start %u verify_threads", cfg->verify_threads);
        goto fail;
    }
    cpm_error_t kerr;
    if (cpm_identity_load(&s->id, cfg->identity, &kerr) != 0) {
        cpm_error("identity: %s", kerr.message);
        goto fail;
    }
    if (cpm_public_load(&root, cfg->root_public, &kerr) != 0) {
        cpm_error("root key: %s", kerr.message);
        goto fail;
    }
    memcpy(s->root_pk, root.sign_pk, 32);
    if (cpm_server_load_registry(s, true) != 0 || !s->reg)
        goto fail;
    cpm_store_opts_t so = {.map_size = (size_t)cfg->map_size_mb << 20,
                           .map_max = (size_t)cfg->map_max_mb << 20,
                           .journal = cfg->store_journal,
                           .journal_seg_bytes = (size_t)cfg->journal_segment_mb << 20,
                           .checkpoint_ms = cfg->journal_checkpoint_ms};
    s->store = cpm_store_open_with(cfg->data_dir, &so, extra_dbs, err, sizeof err);
    if (!s->store) {
        cpm_error("store %s: %s", cfg->data_dir, err);
        goto fail;
    }
    if (check_registry_rollback(s) != 0 || check_outbox_format(s) != 0)
        goto fail;
    s->zctx = zmq_ctx_new();
    if (!s->zctx || open_sockets(s) != 0)
        goto fail;
    char instance[64];
    cpm_sender_init(&s->sender, &s->id, cfg->service);
    snprintf(instance, sizeof instance, "%s.reply", cfg->service);
    cpm_sender_init(&s->reply_sender, &s->id, instance);
    snprintf(instance, sizeof instance, "%s.pub", cfg->service);
    cpm_sender_init(&s->pub_sender, &s->id, instance);
    cpm_sender_t *senders[3] = {&s->sender, &s->reply_sender, &s->pub_sender};
    for (int i = 0; i < 3; i++)
        if (cpm_seqres_start(&s->seqres[i], s->store, senders[i], cpm_now_us()) != 0)
            cpm_warn("cannot reserve sequence numbers for %s: a restart after the clock "
                     "stepped back may be refused as a replay",
                     senders[i]->instance);
    s->pump = cpm_pump_new(s->zctx, s->store, &s->sender, s->self, s->verifier, s->metrics,
                           cfg->batch_max);
    if (!s->pump)
        goto fail;
    cpm_pump_set_linger(s->pump, cfg->delivery_linger_ms);
    MDB_txn *txn;
    if (cpm_store_begin(s->store, false, &txn) != 0)
        goto fail;
    /* Without the head the service would publish from sequence 0. */
    int hrc = cpm_eventlog_head(s->store, txn, &s->published, NULL);
    cpm_store_abort(&txn);
    if (hrc != 0) {
        cpm_error("cannot read the event log head (%s); not starting", cpm_err_name(hrc));
        goto fail;
    }
    cpm_server_checkpoint_init(s);
    if (cpm_server_on_request(s, CPM__MSG_TYPE__MSG_EVENTS_FETCH, false,
                              cpm_server_handle_events_fetch) != 0 ||
        cpm_server_on_request(s, CPM__MSG_TYPE__MSG_HEALTH_QUERY, false,
                              cpm_server_handle_health) != 0)
        goto fail;
    return s;
fail:
    cpm_server_destroy(&s);
    return NULL;
}

void cpm_server_destroy(cpm_server_t **p)
{
    if (!p || !*p)
        return;
    cpm_server_t *s = *p;
    cpm_server_recv_destroy(&s->recv); /* its held frames before the sockets */
    cpm_server_held_free(s);
    cpm_pump_destroy(&s->pump);
    cpm_sock_close(&s->router);
    cpm_sock_close(&s->pub);
    cpm_zap_destroy(&s->zap);
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    cpm_store_destroy(&s->store);
    cpm_registry_destroy(&s->reg);
    cpm_verifier_destroy(&s->verifier);
    cpm_metrics_destroy(&s->metrics);
    cpm_rgroup_destroy(&s->rgroup);
    cpm_identity_wipe(&s->id);
    free(s->group);
    free(s->queued);
    free(s->items);
    free(s);
    *p = NULL;
}

static handler_t *add_handler(cpm_server_t *s, Cpm__MsgType type)
{
    for (size_t i = 0; i < s->nhandlers; i++)
        if (s->handlers[i].type == type)
            return &s->handlers[i];
    if (s->nhandlers == MAX_HANDLERS) {
        cpm_error("cannot handle %s: already %d message types (MAX_HANDLERS)",
                  cpm_msg_type_name(type), MAX_HANDLERS);
        return NULL;
    }
    handler_t *h = &s->handlers[s->nhandlers++];
    memset(h, 0, sizeof *h);
    h->type = type;
    return h;
}

int cpm_server_on_request(cpm_server_t *s, Cpm__MsgType type, bool write, cpm_handle_fn fn)
{
    handler_t *h = add_handler(s, type);
    if (!h)
        return -1;
    h->write = write;
    h->handle = fn;
    return 0;
}

int cpm_server_keep_frame(cpm_server_t *s, Cpm__MsgType type)
{
    for (size_t i = 0; i < s->nhandlers; i++)
        if (s->handlers[i].type == type && !s->handlers[i].batch) {
            s->handlers[i].keep_frame = true;
            return 0;
        }
    return -1;
}

int cpm_server_reads_when(cpm_server_t *s, Cpm__MsgType type, cpm_reads_fn reads)
{
    for (size_t i = 0; i < s->nhandlers; i++)
        if (s->handlers[i].type == type && s->handlers[i].write && !s->handlers[i].batch) {
            s->handlers[i].reads = reads;
            return 0;
        }
    return -1;
}

int cpm_server_on_batch(cpm_server_t *s, Cpm__MsgType type, cpm_apply_fn fn)
{
    handler_t *h = add_handler(s, type);
    if (!h)
        return -1;
    h->write = true;
    h->batch = true;
    h->apply = fn;
    return 0;
}

int cpm_server_prepare_batch(cpm_server_t *s, Cpm__MsgType type, cpm_prepare_fn prepare,
                             cpm_release_fn release)
{
    for (size_t i = 0; i < s->nhandlers && prepare && release; i++)
        if (s->handlers[i].type == type && s->handlers[i].batch) {
            s->handlers[i].prepare = prepare;
            s->handlers[i].release = release;
            return 0;
        }
    return -1;
}

void *cpm_server_prepared(cpm_server_t *s, const uint8_t *rec)
{
    /* records are applied in order: the next one is almost always it (a
     * run applied again starts over: then a search) */
    size_t n = s->prep.n, i = s->prep.next;
    if (!s->prep.out || !rec)
        return NULL;
    if (i >= n || s->prep.recs[i] != rec)
        for (i = 0; i < n && s->prep.recs[i] != rec; i++)
            ;
    if (i == n)
        return NULL;
    s->prep.next = i + 1;
    /* not prepared yet: the apply function does without */
    if (!atomic_load_explicit(&s->prep.ready[i], memory_order_acquire))
        return NULL;
    cpm_metrics_add(s->metrics, "delivery.records_prepared", 1);
    return s->prep.out[i];
}

int cpm_server_on_items(cpm_server_t *s, Cpm__MsgType type, cpm_item_fn fn)
{
    handler_t *h = add_handler(s, type);
    if (!h)
        return -1;
    h->write = true;
    h->item = fn;
    return 0;
}

int cpm_server_outbound(cpm_server_t *s, const char *peer_service, Cpm__MsgType type)
{
    return cpm_pump_outbound(s->pump, peer_service, type);
}

/* Queue a record for peer_member's peer_service: its bytes (packed, len), or
 * a reference to those stored in db under key (db not NULL; len their
 * length). */
static int queue_record(cpm_server_t *s, MDB_txn *txn, const char *peer_member,
                        const char *peer_service, const uint8_t *packed, size_t len, const char *db,
                        const void *key, size_t klen)
{
    if (s->nqueued == s->capqueued) {
        size_t cap = s->capqueued ? s->capqueued * 2 : 256;
        queued_t *q = realloc(s->queued, cap * sizeof *q);
        if (!q)
            return CPM_E_INTERNAL;
        s->queued = q;
        s->capqueued = cap;
    }
    queued_t *q = &s->queued[s->nqueued];
    if (cpm_pump_stream_name(s->pump, peer_member, peer_service, q->stream, sizeof q->stream))
        return CPM_E_INVALID;
    q->bytes = len; /* a stored record's: the length its service gave */
    int rc = db ? cpm_outbox_put_ref(s->store, txn, q->stream, db, key, klen, &q->seq)
                : cpm_outbox_put(s->store, txn, q->stream, packed, len, &q->seq);
    if (rc == 0)
        s->nqueued++;
    return rc;
}

static int send_packed(cpm_server_t *s, MDB_txn *txn, const char *peer_member,
                       const char *peer_service, const uint8_t *packed, size_t len)
{
    return queue_record(s, txn, peer_member, peer_service, packed, len, NULL, NULL, 0);
}

int cpm_server_send_record(cpm_server_t *s, MDB_txn *txn, const char *peer_member,
                           const char *peer_service, const ProtobufCMessage *rec)
{
    size_t len = protobuf_c_message_get_packed_size(rec);
    uint8_t stackbuf[4096], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return CPM_E_INTERNAL;
    protobuf_c_message_pack(rec, buf);
    int rc = send_packed(s, txn, peer_member, peer_service, buf, len);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

int cpm_server_event(cpm_server_t *s, MDB_txn *txn, const cpm_event_t *ev)
{
    return cpm_eventlog_append(s->store, txn, cpm_now_ms(), ev, NULL);
}

static int fx_send(void *ctx, MDB_txn *txn, const char *member, const char *service,
                   const ProtobufCMessage *rec)
{
    return cpm_server_send_record(ctx, txn, member, service, rec);
}

static int fx_send_packed(void *ctx, MDB_txn *txn, const char *member, const char *service,
                          const ProtobufCMessage *rec, const uint8_t *packed, size_t len)
{
    (void)rec;
    return send_packed(ctx, txn, member, service, packed, len);
}

static int fx_send_stored(void *ctx, MDB_txn *txn, const char *member, const char *service,
                          const char *db, const void *key, size_t klen, size_t len)
{
    return queue_record(ctx, txn, member, service, NULL, len, db, key, klen);
}

static int fx_event(void *ctx, MDB_txn *txn, const cpm_event_t *ev)
{
    return cpm_server_event(ctx, txn, ev);
}

cpm_effects_t cpm_server_effects(cpm_server_t *s)
{
    cpm_effects_t fx = {fx_send, fx_event, s, fx_send_packed, fx_send_stored};
    return fx;
}

void cpm_server_on_tick(cpm_server_t *s, cpm_tick_fn fn)
{
    s->tick = fn;
}

cpm_store_t *cpm_server_store(cpm_server_t *s)
{
    return s->store;
}
const cpm_registry_t *cpm_server_registry(cpm_server_t *s)
{
    return s->reg;
}
const cpm_identity_t *cpm_server_identity(cpm_server_t *s)
{
    return &s->id;
}
const cpm_config_t *cpm_server_config(cpm_server_t *s)
{
    return s->cfg;
}
cpm_metrics_t *cpm_server_metrics(cpm_server_t *s)
{
    return s->metrics;
}

void *cpm_server_zctx(cpm_server_t *s)
{
    return s->zctx;
}

const Cpm__Member *cpm_server_find_service(cpm_server_t *s, const char *service)
{
    return cpm_registry_find_service(s->reg, service);
}
