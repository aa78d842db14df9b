#include "cpm_pump.h"
#include "cpm_stream.h"
#include "cpm_delivery.h"
#include "cpm_err.h"
#include "cpm_inbox.h"
#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "cpm_outbox.h"
#include "cpm_ratelimit.h"
#include "cpm_transport.h"
#include "cpm_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_BYTES (1u << 20)
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
/* An ack is kept in memory and recorded with the others once the oldest
 * waits this long, or this many records are acknowledged and not recorded
 * (see record_acks). */
#define ACK_RECORD_MS 50
#define ACK_RECORD_MAX 1024

typedef struct {
    char name[CPM_STREAM_MAX];
    char peer_member[CPM_STREAM_MEMBER_MAX];
    char peer_service[CPM_STREAM_SERVICE_MAX];
    Cpm__MsgType type;
    void *sock;
    void *monitor;  /* handshake and disconnect events of sock */
    int monitor_fd; /* its ZMQ_FD, polled as a plain descriptor; -1: none */
    /* What cpm_pump_run must look at (see cpm_pump_polled): the monitor or
     * the socket may hold something. Set when a link opens. */
    int look_monitor, look_acks;
    int connected;
    char endpoint[256];
    uint8_t server_pk[32];
    uint64_t tail;           /* highest seq known committed */
    uint64_t acked;          /* highest seq the peer acknowledged */
    uint64_t inflight_last;  /* last seq of the batch in flight, 0 if none */
    char inflight_id[33];    /* msg_id of its latest sending */
    int attempts;            /* sends of the batch in flight */
    int64_t due_ms;          /* monotonic time of the next (re)send */
    int was_down;            /* the link went down since it last came up */
    int64_t early_resend_ms; /* when a reconnect last brought a resend forward (0: never) */
    int64_t last_ack_ms;
    uint64_t retries;
    int halted;           /* the peer holds more than this store: restored from an older copy */
    int probed;           /* the peer has told us its mark since we started */
    uint64_t start_tail;  /* our tail when we started: all the peer can have */
    int ack_unrecorded;   /* acked is ahead of the store: see record_acks */
    int ack_failed;       /* recording it failed (said once until it succeeds) */
    int recording;        /* in the transaction record_acks is committing */
    int64_t ack_since;    /* monotonic ms of the oldest ack not recorded */
    uint64_t recorded;    /* the ack as the store holds it */
    int64_t unsent_since; /* monotonic ms the oldest record not yet sent was committed; 0:
                           * none, or known at start (goes at once) */
    size_t unsent_bytes;  /* about the bytes of the records committed since unsent_since
                           * and not yet sent: a full batch's worth does not linger */
} stream_t;

typedef struct {
    char service[32];
    Cpm__MsgType type;
    cpm_pump_acked_fn acked; /* optional: see cpm_pump_on_acked */
    void *acked_ctx;
} route_t;

struct cpm_pump {
    void *zctx;
    cpm_store_t *store;
    cpm_sender_t *sender;
    char self[160];
    cpm_verifier_t *verifier;
    cpm_metrics_t *metrics;
    size_t batch_max;
    stream_t *streams;
    size_t n, cap;
    route_t routes[8];
    size_t nroutes;
    const cpm_registry_t *reg; /* during cpm_pump_run only */
    int hooked;                /* records through an acked hook, committed this turn */
    int hooked_pending;        /* the same, in the transaction not yet committed */
    int64_t linger_ms;         /* cpm_pump_set_linger */
    int polled;                /* cpm_pump_polled was called: look only where it said */
};

cpm_pump_t *cpm_pump_new(void *zctx, cpm_store_t *store, cpm_sender_t *sender, const char *self,
                         cpm_verifier_t *verifier, cpm_metrics_t *metrics, size_t batch_max)
{
    cpm_pump_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->zctx = zctx;
    p->store = store;
    p->sender = sender;
    snprintf(p->self, sizeof p->self, "%s", self);
    p->verifier = verifier;
    p->metrics = metrics;
    p->batch_max = batch_max ? batch_max : CPM_DELIVERY_BATCH_DEFAULT;
    return p;
}

static void record_acks(cpm_pump_t *p, int64_t now, int final);

static void close_link(stream_t *s)
{
    cpm_sock_monitor_close(s->sock, &s->monitor);
    cpm_sock_close(&s->sock);
    s->connected = 0;
    s->monitor_fd = -1;
}

/* ZeroMQ heartbeats (see cpm_transport.c) turn a dead peer into a
 * disconnect; the monitor tells us, so health can say which peer is down.
 * A batch in flight when the link went down went with the old connection:
 * once the peer is back it is sent again at once, not after the backoff
 * (up to 8 s; a peer paused for a few seconds then waited that long). At
 * most once per BACKOFF_MAX_MS: a link that keeps dropping (a peer that
 * takes the handshake and hangs up) gets the backoff's pace, not a batch
 * per reconnect. */
static void read_monitor(cpm_pump_t *p, stream_t *s, int64_t now)
{
    int event;
    /* Read until empty: only then does the next event make the monitor's
     * descriptor readable again (libzmq wakes a reader whose pipe it found
     * empty), which is what cpm_pump_polled waits for. */
    s->look_monitor = 0;
    while ((event = cpm_sock_monitor_event(s->monitor)) > 0) {
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && !s->connected) {
            s->connected = 1;
            cpm_info("%s: peer connected", s->name);
            int again = s->was_down;
            s->was_down = 0;
            if (again && s->inflight_last && s->due_ms > now &&
                (!s->early_resend_ms || now - s->early_resend_ms >= BACKOFF_MAX_MS)) {
                s->due_ms = now;
                s->early_resend_ms = now;
                cpm_metrics_add(p->metrics, "delivery.resent_on_reconnect", 1);
            }
        } else if (event == ZMQ_EVENT_DISCONNECTED && s->connected) {
            s->connected = 0;
            s->was_down = 1;
            cpm_warn("%s: peer down", s->name);
            cpm_metrics_add(p->metrics, "delivery.peer_down", 1);
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            cpm_warn("%s: peer refused our transport key", s->name);
            cpm_metrics_add(p->metrics, "delivery.peer_refused", 1);
        }
    }
}

void cpm_pump_destroy(cpm_pump_t **pp)
{
    if (!pp || !*pp)
        return;
    cpm_pump_t *p = *pp;
    record_acks(p, cpm_mono_ms(), 1); /* a clean stop resends nothing */
    for (size_t i = 0; i < p->n; i++)
        close_link(&p->streams[i]);
    free(p->streams);
    free(p);
    *pp = NULL;
}

void cpm_pump_set_linger(cpm_pump_t *p, uint32_t ms)
{
    p->linger_ms = ms;
}

int cpm_pump_outbound(cpm_pump_t *p, const char *peer_service, Cpm__MsgType type)
{
    if (p->nroutes == sizeof p->routes / sizeof p->routes[0])
        return -1;
    route_t *r = &p->routes[p->nroutes++];
    snprintf(r->service, sizeof r->service, "%s", peer_service);
    r->type = type;
    return 0;
}

int cpm_pump_on_acked(cpm_pump_t *p, const char *peer_service, cpm_pump_acked_fn fn, void *ctx)
{
    for (size_t i = 0; i < p->nroutes; i++)
        if (strcmp(p->routes[i].service, peer_service) == 0) {
            p->routes[i].acked = fn;
            p->routes[i].acked_ctx = ctx;
            return 0;
        }
    return -1;
}

int cpm_pump_stream_name(const cpm_pump_t *p, const char *peer_member, const char *peer_service,
                         char *out, size_t n)
{
    cpm_stream_parts_t me;
    if (cpm_stream_parse_end(p->self, &me.from) != 0)
        return -1;
    int rc = cpm_stream_build(out, n, me.from.member, me.from.service, peer_member, peer_service);
    return rc == 0 ? 0 : -1;
}

static const route_t *route_of(const cpm_pump_t *p, const stream_t *s)
{
    for (size_t i = 0; i < p->nroutes; i++)
        if (strcmp(p->routes[i].service, s->peer_service) == 0)
            return &p->routes[i];
    return NULL;
}

/* Acks of this stream run a hook whose effects (events) are published once
 * committed: they are recorded durably. */
static int hooked(const cpm_pump_t *p, const stream_t *s)
{
    const route_t *r = route_of(p, s);
    return r && r->acked;
}

static stream_t *find_stream(cpm_pump_t *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->streams[i].name, name) == 0)
            return &p->streams[i];
    return NULL;
}

/* A stream named "<self>><member>/<service>" with a known route, or NULL. */
static stream_t *add_stream(cpm_pump_t *p, const char *name)
{
    cpm_stream_parts_t parts, me;
    if (strlen(name) >= sizeof p->streams[0].name || cpm_stream_parse(name, &parts) != 0 ||
        cpm_stream_parse_end(p->self, &me.from) != 0 ||
        strcmp(parts.from.member, me.from.member) != 0 ||
        strcmp(parts.from.service, me.from.service) != 0)
        return NULL;
    const route_t *route = NULL;
    for (size_t i = 0; i < p->nroutes; i++)
        if (strcmp(p->routes[i].service, parts.to.service) == 0)
            route = &p->routes[i];
    if (!route)
        return NULL;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        stream_t *s = realloc(p->streams, cap * sizeof *s);
        if (!s)
            return NULL;
        p->streams = s;
        p->cap = cap;
    }
    stream_t *s = &p->streams[p->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->peer_member, sizeof s->peer_member, "%s", parts.to.member);
    snprintf(s->peer_service, sizeof s->peer_service, "%s", parts.to.service);
    s->type = route->type;
    s->monitor_fd = -1;
    return s;
}

int cpm_pump_load(cpm_pump_t *p)
{
    MDB_txn *txn;
    char **names = NULL;
    size_t n = 0;
    if (cpm_store_begin(p->store, false, &txn) != 0)
        return -1;
    int rc = cpm_outbox_streams(p->store, txn, &names, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        stream_t *s = find_stream(p, names[i]);
        if (!s)
            s = add_stream(p, names[i]);
        if (!s) {
            cpm_warn("outbox stream %s has no route in this service; left alone", names[i]);
            continue;
        }
        uint64_t depth = 0;
        int halted = 0;
        if (cpm_outbox_acked(p->store, txn, s->name, &s->acked) != 0 ||
            cpm_outbox_depth(p->store, txn, s->name, &depth) != 0 ||
            cpm_outbox_halted(p->store, txn, s->name, &halted) != 0) {
            cpm_error("%s: cannot read its state; the stream is halted", s->name);
            halted = 1;
        }
        s->tail = s->start_tail = s->acked + depth;
        s->recorded = s->acked;
        s->halted = halted != 0; /* a halt outlives restarts until an operator acts */
        if (s->halted)
            cpm_error("%s: halted (see earlier logs); nothing is sent on it", s->name);
    }
    cpm_outbox_streams_free(&names, n);
    cpm_store_abort(&txn);
    return rc == 0 ? 0 : -1;
}

void cpm_pump_committed(cpm_pump_t *p, const char *stream, uint64_t seq, size_t bytes,
                        int64_t now_ms)
{
    stream_t *s = find_stream(p, stream);
    if (!s && (s = add_stream(p, stream)) != NULL)
        s->probed = 1; /* born in this run, under a new epoch: nothing to learn */
    if (!s) {
        cpm_error("record committed on stream %s that has no route", stream);
        return;
    }
    if (seq > s->tail) {
        if (s->unsent_since == 0)
            s->unsent_since = now_ms > 0 ? now_ms : 1; /* 0 means none */
        s->tail = seq;
        s->unsent_bytes += bytes;
    }
}

/* Records in one batch: batch_max, at most what a receiver always takes
 * (CPM_DELIVERY_BATCH_RECORDS; the configuration refuses more, this holds
 * for any caller of cpm_pump_new). */
static size_t batch_records(const cpm_pump_t *p)
{
    return p->batch_max < CPM_DELIVERY_BATCH_RECORDS ? p->batch_max : CPM_DELIVERY_BATCH_RECORDS;
}

/* (Re)connect when the registry's endpoint or key for the peer changed. */
static int ensure_socket(cpm_pump_t *p, stream_t *s)
{
    const Cpm__Member *m = cpm_registry_member(p->reg, s->peer_member);
    const Cpm__ServiceEndpoint *ep = m ? cpm_member_service(m, s->peer_service) : NULL;
    if (!ep || m->curve_pk.len != 32) {
        cpm_metrics_add(p->metrics, "delivery.no_peer", 1);
        return -1;
    }
    if (s->sock && strcmp(s->endpoint, ep->endpoint) == 0 &&
        memcmp(s->server_pk, m->curve_pk.data, 32) == 0)
        return 0;
    close_link(s);
    s->sock = cpm_sock_client_monitored(
        p->zctx, ZMQ_DEALER, p->sender->id, m->curve_pk.data, ep->endpoint,
        ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
        &s->monitor);
    if (!s->sock)
        return -1;
    size_t fdlen = sizeof s->monitor_fd;
    if (!s->monitor || zmq_getsockopt(s->monitor, ZMQ_FD, &s->monitor_fd, &fdlen) != 0)
        s->monitor_fd = -1;             /* then read on every turn, as any unpolled stream */
    s->look_monitor = s->look_acks = 1; /* nothing polled yet on the new link */
    snprintf(s->endpoint, sizeof s->endpoint, "%s", ep->endpoint);
    memcpy(s->server_pk, m->curve_pk.data, 32);
    return 0;
}

static int64_t backoff_ms(int attempts)
{
    int64_t ms = BACKOFF_MIN_MS;
    for (int i = 1; i < attempts && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

/* A sending that did not get out: always counted (counter, PeerStatus
 * retries) and said, at a bounded rate, so that no stream can stop making
 * progress in silence. */
static void send_failed(cpm_pump_t *p, stream_t *s, const char *counter, const char *why)
{
    static cpm_ratelimit_t rate = CPM_RATELIMIT_INIT(10, 60000);
    uint64_t dropped = 0;
    cpm_metrics_add(p->metrics, counter, 1);
    cpm_metrics_add(p->metrics, "retried", 1);
    s->retries++;
    s->attempts++;
    if (cpm_ratelimit_allow(&rate, cpm_mono_ms(), &dropped))
        cpm_error("%s: batch from %llu not sent: %s; trying again in %lld ms%s", s->name,
                  (unsigned long long)(s->acked + 1), why, (long long)(s->due_ms - cpm_mono_ms()),
                  cpm_ratelimit_note(dropped));
}

/* A record larger than any receiver takes (CPM_DELIVERY_RECORD_MAX) can never
 * be sent. It is kept here as a dead letter, under this stream and its
 * number (once: counted and logged when first found), and travels as a
 * tombstone, an empty record, which the receiver passes over (see
 * cpm_delivery.h): the records after it are not held up. 0 or a store error
 * (then nothing is sent). */
static int set_aside_unsendable(cpm_pump_t *p, stream_t *s, cpm_outbox_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->lens[i] <= CPM_DELIVERY_RECORD_MAX)
            continue;
        uint64_t seq = b->first_seq + i;
        MDB_txn *txn = NULL;
        int exists = 0, rc = cpm_store_begin(p->store, true, &txn);
        if (rc == 0)
            rc = cpm_inbox_dead_exists(p->store, txn, s->name, seq, &exists);
        if (rc == 0 && !exists) {
            char why[160];
            snprintf(why, sizeof why, "unsendable: %zu bytes, over the %u bytes a record may have",
                     b->lens[i], CPM_DELIVERY_RECORD_MAX);
            rc = cpm_inbox_dead_letter(p->store, txn, s->name, seq, why, b->recs[i], b->lens[i]);
        }
        if (rc == 0)
            rc = cpm_store_commit(txn);
        else
            cpm_store_abort(&txn);
        if (rc != 0)
            return rc;
        if (!exists) {
            cpm_metrics_add(p->metrics, "delivery.unsendable", 1);
            cpm_error("%s: record %llu is %zu bytes, more than a receiver takes (%u): kept here "
                      "as a dead letter and sent as an empty tombstone",
                      s->name, (unsigned long long)seq, b->lens[i], CPM_DELIVERY_RECORD_MAX);
        }
        free(b->recs[i]);
        b->recs[i] = NULL;
        b->lens[i] = 0;
    }
    return 0;
}

static void send_batch(cpm_pump_t *p, stream_t *s, int64_t now)
{
    s->due_ms = now + backoff_ms(s->attempts + 1);
    if (ensure_socket(p, s) != 0) {
        s->attempts++;
        return;
    }
    MDB_txn *txn;
    cpm_outbox_batch_t b = {0};
    int rc = cpm_store_begin(p->store, false, &txn);
    if (rc != 0) {
        send_failed(p, s, "delivery.read_failed", cpm_err_name(rc));
        return;
    }
    uint64_t epoch = 0;
    /* Never more records than a receiver takes, whatever batch_max says. */
    size_t max_n = batch_records(p);
    /* Until the peer has answered once, only records we held at start go:
     * its ack is checked against start_tail (apply_ack), so a record
     * committed since (while the peer was down, say) would make a healthy
     * peer look like it holds more than this store. */
    if (!s->probed && s->start_tail - s->acked < max_n)
        max_n = (size_t)(s->start_tail - s->acked);
    /* After it, only what it was told was committed (cpm_pump_committed):
     * a record the store shows may not be durable yet (a group whose flush
     * runs beside the next: cpm_server_held.c). */
    if (s->probed && s->tail - s->acked < max_n)
        max_n = s->tail > s->acked ? (size_t)(s->tail - s->acked) : 0;
    if (max_n > 0)
        rc = cpm_outbox_read(p->store, txn, s->name, s->acked + 1, max_n, BATCH_BYTES, &b);
    else
        b.first_seq = s->acked + 1; /* an empty batch: only asks the peer's mark */
    if (rc == 0)
        rc = cpm_outbox_epoch(p->store, txn, s->name, &epoch);
    cpm_store_abort(&txn);
    size_t bytes = 0; /* as committed: before tombstones empty any (unsent_bytes counts them) */
    for (size_t i = 0; rc == 0 && i < b.n; i++)
        bytes += b.lens[i];
    if (rc == 0)
        rc = set_aside_unsendable(p, s, &b);
    if (rc != 0) {
        cpm_outbox_batch_clear(&b);
        send_failed(p, s, "delivery.read_failed", cpm_err_name(rc));
        return;
    }
    if (b.n == 0 && s->probed) { /* nothing there after all: our tail was ahead of the store */
        s->tail = s->acked;
        s->unsent_since = 0;
        s->unsent_bytes = 0;
        cpm_outbox_batch_clear(&b);
        return;
    }
    /* Until the peer has answered once, even an empty batch goes out: its
     * answer says whether the peer holds more than this store (see
     * apply_ack). */
    Cpm__DeliveryBatch db = CPM__DELIVERY_BATCH__INIT;
    ProtobufCBinaryData *recs = calloc(b.n + 1, sizeof *recs);
    if (!recs) {
        cpm_outbox_batch_clear(&b);
        send_failed(p, s, "delivery.seal_failed", "out of memory");
        return;
    }
    for (size_t i = 0; i < b.n; i++) {
        recs[i].data = b.recs[i];
        recs[i].len = b.lens[i];
    }
    db.stream = s->name;
    db.first_seq = b.n ? b.first_seq : s->acked + 1;
    db.epoch = epoch;
    db.n_records = b.n;
    db.records = recs;
    char recipient[200];
    snprintf(recipient, sizeof recipient, "%s/%s", s->peer_member, s->peer_service);
    uint8_t *frame = NULL;
    size_t len = 0;
    char msg_id[33];
    if (cpm_sender_seal(p->sender, s->type, recipient, NULL, &db.base, msg_id, &frame, &len) != 0) {
        send_failed(p, s, "delivery.seal_failed", "the batch cannot be sealed");
    } else if (zmq_send(s->sock, frame, len, ZMQ_DONTWAIT) == (int)len) {
        s->inflight_last = b.n ? b.first_seq + b.n - 1 : s->acked;
        if (s->inflight_last >= s->tail) {
            s->unsent_since = 0; /* else the rest goes as soon as this batch is acked */
            s->unsent_bytes = 0;
        } else {
            s->unsent_bytes -= s->unsent_bytes < bytes ? s->unsent_bytes : bytes;
        }
        memcpy(s->inflight_id, msg_id, sizeof msg_id);
        if (s->attempts > 0) {
            s->retries++;
            cpm_metrics_add(p->metrics, "retried", 1);
        }
        s->attempts++;
        cpm_metrics_add(p->metrics, "delivery.batches_sent", 1);
    } else {
        send_failed(p, s, "delivery.send_failed", zmq_strerror(zmq_errno()));
    }
    free(frame);
    free(recs);
    cpm_outbox_batch_clear(&b);
}

/* Stop a stream and remember it in the store: nothing more is sent or
 * deleted on it, across restarts, until an operator acts. */
static void halt(cpm_pump_t *p, stream_t *s, const char *why)
{
    if (!s->halted)
        cpm_error("%s: %s. Stream halted; nothing on it is deleted", s->name, why);
    s->halted = 1;
    cpm_metrics_add(p->metrics, "delivery.rewound", 1);
    MDB_txn *txn = NULL;
    if (cpm_store_begin(p->store, true, &txn) == 0) {
        if (cpm_outbox_halt(p->store, txn, s->name) == 0) {
            if (cpm_store_commit(txn) != 0)
                cpm_error("%s: cannot record the halt; it holds until restart only", s->name);
        } else
            cpm_store_abort(&txn);
    }
}

static void apply_ack(cpm_pump_t *p, stream_t *s, const Cpm__Ack *ack, const char *corr,
                      int64_t now)
{
    if (strcmp(ack->stream ? ack->stream : "", s->name) != 0) {
        cpm_warn("ack for stream %s arrived on %s; ignored", ack->stream, s->name);
        cpm_metrics_add(p->metrics, "delivery.ack_mismatch", 1);
        return;
    }
    s->last_ack_ms = cpm_now_ms();
    if (ack->error_code != 0) {
        cpm_warn("%s: peer could not apply the batch: %u %s", s->name, ack->error_code,
                 ack->error ? ack->error : "");
        cpm_metrics_add(p->metrics, "delivery.peer_errors", 1);
        s->due_ms = now + backoff_ms(s->attempts);
        return;
    }
    /* The peer can hold only what we wrote: before its first answer since we
     * started, no more than our tail at start (records numbered since may
     * reuse numbers it has, if this store is an older copy); after it, no
     * more than our tail. And its mark never goes back. */
    char why[200];
    uint64_t limit = s->probed ? s->tail : s->start_tail;
    if (ack->acked_seq > limit) {
        snprintf(why, sizeof why,
                 "the peer has applied up to %llu but this store held only up to %llu: "
                 "restored from an older copy?",
                 (unsigned long long)ack->acked_seq, (unsigned long long)limit);
        halt(p, s, why);
        return;
    }
    if (ack->acked_seq < s->acked && strcmp(corr, s->inflight_id) == 0) {
        snprintf(why, sizeof why,
                 "the peer's mark went back from %llu to %llu: was its store reset or restored?",
                 (unsigned long long)s->acked, (unsigned long long)ack->acked_seq);
        halt(p, s, why);
        return;
    }
    s->probed = 1;
    uint64_t acked = ack->acked_seq;
    if (acked > s->acked) {
        /* Recorded later with other acks (record_acks); until then a crash
         * only resends records the peer drops as duplicates. */
        cpm_metrics_add(p->metrics, "delivered", acked - s->acked);
        s->acked = acked;
        if (!s->ack_unrecorded)
            s->ack_since = now;
        s->ack_unrecorded = 1;
    }
    if (s->inflight_last && s->acked >= s->inflight_last) {
        s->inflight_last = 0;
        s->attempts = 0;
        s->due_ms = now; /* send the next batch at once */
    } else if (s->inflight_last && strcmp(corr, s->inflight_id) == 0) {
        /* The answer to our latest sending applied only part (a gap on its
         * side): resend the rest now. An older sending's answer says
         * nothing about the latest one, which is still on its way. */
        s->inflight_last = 0;
        s->due_ms = now + BACKOFF_MIN_MS;
    }
}

/* Run the stream's acked hook over the records acknowledged in (stored ack,
 * upto], in txn, before they are deleted. *n gets how many went through. */
static int run_acked_hook(cpm_pump_t *p, MDB_txn *txn, stream_t *s, uint64_t upto, int *n)
{
    const route_t *route = route_of(p, s);
    uint64_t from = 0;
    int rc = route && route->acked ? cpm_outbox_acked(p->store, txn, s->name, &from) : 0;
    if (!route || !route->acked || rc != 0)
        return rc;
    for (from++; rc == 0 && from <= upto;) {
        cpm_outbox_batch_t b = {0};
        uint64_t want = upto - from + 1;
        rc = cpm_outbox_read(p->store, txn, s->name, from, want < 64 ? (size_t)want : 64,
                             BATCH_BYTES, &b);
        if (rc == 0 && b.n == 0)
            rc = CPM_E_INTERNAL; /* acked records that are not there: said by the caller */
        for (size_t i = 0; rc == 0 && i < b.n; i++) {
            if (b.lens[i] > CPM_DELIVERY_RECORD_MAX)
                continue; /* went as a tombstone: the peer never had it */
            rc = route->acked(route->acked_ctx, txn, s->peer_member, s->peer_service,
                              b.first_seq + i, b.recs[i], b.lens[i]);
            *n += rc == 0;
        }
        from += b.n;
        cpm_outbox_batch_clear(&b);
    }
    return rc;
}

/* Record s's ack in txn inside a nested transaction, so that one stream's
 * failure leaves the others' acks in the group. */
static int record_ack(cpm_pump_t *p, MDB_txn *txn, stream_t *s, uint64_t upto)
{
    MDB_txn *child = NULL;
    int hooked = 0;
    int rc = cpm_store_begin_child(p->store, txn, &child);
    if (rc == 0)
        rc = run_acked_hook(p, child, s, upto, &hooked);
    if (rc == 0)
        rc = cpm_outbox_ack(p->store, child, s->name, upto);
    if (rc == 0)
        rc = cpm_store_commit(child);
    else
        cpm_store_abort(&child);
    if (rc == 0)
        p->hooked_pending += hooked; /* counted once the parent commits (settle) */
    if (rc != 0 && !s->ack_failed)
        cpm_error("%s: cannot record ack %llu: %s (tried again every 50 ms)", s->name,
                  (unsigned long long)upto, cpm_err_name(rc));
    s->ack_failed = rc != 0;
    return rc;
}

/* The parent transaction of record_ack ended with rc. */
static void settle(cpm_pump_t *p, int rc)
{
    if (rc == 0)
        p->hooked += p->hooked_pending;
    p->hooked_pending = 0;
}

/* On a full map: delete the acknowledged records of s a few at a time, each
 * step in its own durable commit, so that each needs few free pages and frees
 * pages for the next. Ends when all are recorded or one record will not go. */
static void record_ack_in_steps(cpm_pump_t *p, stream_t *s)
{
    uint64_t step = 0, stored = 0;
    for (;;) {
        MDB_txn *txn = NULL;
        int rc = cpm_store_begin(p->store, true, &txn);
        if (rc == 0)
            rc = cpm_outbox_acked(p->store, txn, s->name, &stored);
        if (rc != 0 || stored >= s->acked) {
            cpm_store_abort(&txn);
            s->ack_unrecorded = rc != 0;
            if (rc == 0)
                s->recorded = stored;
            return;
        }
        if (step == 0 || step > s->acked - stored)
            step = (s->acked - stored + 1) / 2;
        rc = record_ack(p, txn, s, stored + step);
        if (rc == 0)
            rc = cpm_store_commit(txn);
        else
            cpm_store_abort(&txn);
        settle(p, rc);
        if (rc == CPM_E_STORE_FULL && step > 1)
            step /= 2;
        else if (rc != 0)
            return;
    }
}

/* Whether s's ack is recorded in this turn: once the oldest unrecorded ack
 * waits ACK_RECORD_MS or ACK_RECORD_MAX records are unrecorded, so that at
 * low load one commit records the acks of many batches instead of one commit
 * per batch (after a failure, ACK_RECORD_MS after it). final: at stop, the
 * streams without an acked hook only (a hook's events would not be published
 * before the next start). */
static int ack_due(const cpm_pump_t *p, const stream_t *s, int64_t now, int final)
{
    if (!s->ack_unrecorded)
        return 0;
    if (final)
        return !hooked(p, s);
    return now - s->ack_since >= ACK_RECORD_MS || s->acked - s->recorded >= ACK_RECORD_MAX;
}

/* The acks that are due, in one commit. Where no acked hook ran, the commit
 * is relaxed (cpm_store_commit_relaxed: one device flush, not two): a power
 * cut may undo it, and then this store still holds the records, resends them
 * and the receiver drops them as duplicates by seq, so nothing is lost or
 * applied twice. A commit with a hook's effects is durable: its events are
 * published once it returns. Never MDB_NOSYNC: an ack recorded without its
 * pages flushed could, after a power cut, corrupt the whole store. */
static void record_acks(cpm_pump_t *p, int64_t now, int final)
{
    size_t pending = 0;
    int durable = 0;
    for (size_t i = 0; i < p->n; i++) {
        stream_t *s = &p->streams[i];
        s->recording = ack_due(p, s, now, final);
        pending += (size_t)s->recording;
        durable |= s->recording && hooked(p, s);
    }
    if (pending == 0)
        return;
    MDB_txn *txn = NULL;
    int rc = cpm_store_begin(p->store, true, &txn), full = 0, ok = 0;
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        stream_t *s = &p->streams[i];
        if (!s->recording)
            continue;
        int r = record_ack(p, txn, s, s->acked);
        full |= r == CPM_E_STORE_FULL;
        ok += r == 0;
    }
    if (rc == 0 && ok > 0) {
        rc = durable ? cpm_store_commit(txn) : cpm_store_commit_relaxed(txn);
        if (rc == 0)
            cpm_metrics_add(p->metrics,
                            durable ? "delivery.ack_commits" : "delivery.ack_commits_relaxed", 1);
    } else {
        cpm_store_abort(&txn); /* nothing in it */
    }
    settle(p, rc);
    for (size_t i = 0; i < p->n; i++) {
        stream_t *s = &p->streams[i];
        if (!s->recording)
            continue;
        if (rc == 0 && !s->ack_failed) {
            s->ack_unrecorded = 0;
            s->recorded = s->acked;
        } else {
            s->ack_since = now; /* tried again in ACK_RECORD_MS, not in a busy loop */
        }
    }
    if (rc == CPM_E_STORE_FULL || full) {
        for (size_t i = 0; i < p->n; i++)
            if (p->streams[i].recording && p->streams[i].ack_unrecorded)
                record_ack_in_steps(p, &p->streams[i]);
    } else if (rc != 0) {
        cpm_error("cannot record %zu acks: %s (tried again in 50 ms)", pending, cpm_err_name(rc));
    }
    for (size_t i = 0; i < p->n; i++)
        p->streams[i].recording = 0;
}

static void read_acks(cpm_pump_t *p, stream_t *s, int64_t now)
{
    for (;;) {
        zmq_msg_t f[1];
        int n = cpm_sock_recv(s->sock, f, 1, ZMQ_DONTWAIT);
        if (n <= 0)
            return;
        /* Replies come only from the peer we pinned by its CURVE key; any
         * correlation is fine since acks are cumulative and idempotent. */
        cpm_verify_ctx_t ctx = {
            .self = p->self, .awaiting_reply = "*", .expect_sender = s->peer_member};
        cpm_msg_t m = {0};
        cpm_verdict_t v = cpm_verifier_check(p->verifier, p->reg, &ctx, zmq_msg_data(&f[0]),
                                             zmq_msg_size(&f[0]), cpm_now_ms(), &m);
        zmq_msg_close(&f[0]);
        if (v != CPM_V_OK) {
            char name[64];
            snprintf(name, sizeof name, "rejected.%s", cpm_verdict_name(v));
            cpm_metrics_add(p->metrics, name, 1);
            cpm_warn("%s: refused a reply: %s", s->name, cpm_verdict_name(v));
            continue;
        }
        if (m.env->type == CPM__MSG_TYPE__MSG_ACK) {
            Cpm__Ack *ack = cpm__ack__unpack(cpm_pb_budget(m.env->payload.len), m.env->payload.len,
                                             m.env->payload.data);
            if (ack)
                apply_ack(p, s, ack, m.env->correlation_id, now);
            else
                cpm_metrics_add(p->metrics, "rejected.bad_payload", 1);
            cpm__ack__free_unpacked(ack, NULL);
        } else if (m.env->type == CPM__MSG_TYPE__MSG_ERROR) {
            Cpm__ErrorReply *e = cpm__error_reply__unpack(cpm_pb_budget(m.env->payload.len),
                                                          m.env->payload.len, m.env->payload.data);
            cpm_warn("%s: peer refused the batch: %u %s", s->name, e ? e->code : 0,
                     e && e->message ? e->message : "(undecodable)");
            cpm_metrics_add(p->metrics, "delivery.peer_errors", 1);
            s->due_ms = now + backoff_ms(s->attempts);
            cpm__error_reply__free_unpacked(e, NULL);
        }
        cpm_msg_clear(&m);
    }
}

/* Monotonic ms when s has a batch to (re)send, INT64_MAX when none. A new
 * batch that is not full waits until its oldest record is linger_ms old
 * (cpm_pump_set_linger); a resend, the first probe and the rest of a long
 * queue do not wait. */
static int64_t send_at(const cpm_pump_t *p, const stream_t *s)
{
    if (s->halted || (s->tail <= s->acked && s->probed))
        return INT64_MAX;
    int64_t at = s->due_ms;
    size_t max_n = batch_records(p);
    if (p->linger_ms > 0 && s->probed && !s->inflight_last && s->unsent_since > 0 &&
        s->tail - s->acked < max_n && s->unsent_bytes < BATCH_BYTES &&
        s->unsent_since + p->linger_ms > at)
        at = s->unsent_since + p->linger_ms;
    return at;
}

size_t cpm_pump_size(const cpm_pump_t *p)
{
    return p->n;
}

int cpm_pump_poll_items(cpm_pump_t *p, zmq_pollitem_t *items, int max)
{
    int k = 0;
    for (size_t i = 0; i < p->n && k < max; i++) {
        stream_t *s = &p->streams[i];
        if (!s->sock)
            continue;
        items[k++] = (zmq_pollitem_t){s->sock, 0, ZMQ_POLLIN, 0};
        /* The monitor as a plain descriptor: a poll(2) entry costs nothing
         * more, where a socket item costs libzmq two system calls a wait. */
        if (s->monitor_fd >= 0 && k < max)
            items[k++] = (zmq_pollitem_t){NULL, s->monitor_fd, ZMQ_POLLIN, 0};
    }
    return k;
}

void cpm_pump_polled(cpm_pump_t *p, const zmq_pollitem_t *items, int n)
{
    p->polled = 1;
    /* The items are in cpm_pump_poll_items' order (per stream with a
     * socket: the socket, then its monitor), and no stream changed since:
     * one walk over both. */
    int k = 0;
    for (size_t i = 0; i < p->n && k < n; i++) {
        stream_t *s = &p->streams[i];
        if (!s->sock)
            continue;
        if (items[k].socket != s->sock)
            break; /* not the set cpm_pump_poll_items filled: look nowhere new */
        if (items[k++].revents)
            s->look_acks = 1;
        if (s->monitor_fd < 0 || k >= n)
            continue;
        if (items[k].socket || items[k].fd != s->monitor_fd)
            break;
        if (items[k++].revents)
            s->look_monitor = 1;
    }
}

int cpm_pump_run(cpm_pump_t *p, const cpm_registry_t *reg, int64_t now)
{
    p->reg = reg;
    p->hooked = 0;
    for (size_t i = 0; i < p->n; i++) {
        stream_t *s = &p->streams[i];
        /* Polled: only where the poll saw something (each look at an idle
         * socket costs libzmq two system calls, per stream, per turn). */
        if (!p->polled || s->look_monitor || s->monitor_fd < 0)
            read_monitor(p, s, now);
        if (s->sock && (!p->polled || s->look_acks)) {
            s->look_acks = 0;
            read_acks(p, s, now);
        }
        if (now >= send_at(p, s))
            send_batch(p, s, now); /* first send, next batch, or resend */
    }
    record_acks(p, now, 0);
    p->reg = NULL;
    return p->hooked;
}

int64_t cpm_pump_next_due_ms(const cpm_pump_t *p, int64_t now)
{
    int64_t best = -1;
    for (size_t i = 0; i < p->n; i++) {
        const stream_t *s = &p->streams[i];
        int64_t at = send_at(p, s);
        if (s->ack_unrecorded) {
            int64_t rec = s->ack_since + ACK_RECORD_MS;
            at = rec < at ? rec : at;
        }
        if (at == INT64_MAX)
            continue;
        int64_t d = at > now ? at - now : 0;
        if (best < 0 || d < best)
            best = d;
    }
    return best;
}

void cpm_pump_health(cpm_pump_t *p, Cpm__HealthReply *h)
{
    h->peers = calloc(p->n ? p->n : 1, sizeof *h->peers);
    if (!h->peers)
        return;
    for (size_t i = 0; i < p->n; i++) {
        stream_t *s = &p->streams[i];
        Cpm__PeerStatus *ps = calloc(1, sizeof *ps);
        if (!ps)
            break;
        cpm__peer_status__init(ps);
        ps->stream = s->name;
        /* In the store: an ack not yet recorded (record_acks) still counts, so
         * a depth of 0 means the acked hooks' effects are committed too. */
        ps->outbox_depth = s->tail - s->recorded;
        ps->acked_seq = s->acked;
        ps->last_ack_ms = s->last_ack_ms;
        ps->retries = s->retries;
        ps->connected = s->connected;
        ps->halted = s->halted;
        h->peers[h->n_peers++] = ps;
    }
}

void cpm_pump_health_free(Cpm__HealthReply *h)
{
    for (size_t i = 0; i < h->n_peers; i++)
        free(h->peers[i]);
    free(h->peers);
    h->peers = NULL;
    h->n_peers = 0;
}
