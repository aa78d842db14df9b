/* gw_prom: the health collector and GET /metrics (gw_prom.h). */
#include "gw_prom.h"

#include "cpm_log.h"
#include "cpm_util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A health answer shared by the cache and the scrapes rendering it: the
 * last reference frees it, so a scrape renders outside the lock. */
typedef struct {
    atomic_int refs;
    Cpm__HealthReply *h;
} answer_t;

static answer_t *answer_new(Cpm__HealthReply *h)
{
    answer_t *a = malloc(sizeof *a);
    if (!a) {
        cpm__health_reply__free_unpacked(h, NULL);
        return NULL;
    }
    atomic_init(&a->refs, 1);
    a->h = h;
    return a;
}

static void answer_release(answer_t *a)
{
    if (a && atomic_fetch_sub(&a->refs, 1) == 1) {
        cpm__health_reply__free_unpacked(a->h, NULL);
        free(a);
    }
}

uint64_t gw_prom_cap(Cpm__HealthReply *h)
{
    uint64_t dropped = 0;
    if (!h)
        return 0;
    for (size_t i = GW_PROM_COUNTERS_MAX; i < h->n_counters; i++, dropped++)
        cpm__counter__free_unpacked(h->counters[i], NULL);
    if (h->n_counters > GW_PROM_COUNTERS_MAX)
        h->n_counters = GW_PROM_COUNTERS_MAX;
    for (size_t i = GW_PROM_PEERS_MAX; i < h->n_peers; i++, dropped++)
        cpm__peer_status__free_unpacked(h->peers[i], NULL);
    if (h->n_peers > GW_PROM_PEERS_MAX)
        h->n_peers = GW_PROM_PEERS_MAX;
    return dropped;
}

typedef struct {
    char node[128], service[64];
    char msg_id[33]; /* the request in flight ("" when none) */
    int64_t sent_mono;
    bool up;
    int64_t last_ok_ms, rtt_ms;
    answer_t *a;        /* the last answer when up (one reference) */
    uint64_t truncated; /* what gw_prom_cap dropped of it */
    int said;           /* what the log last said: 0 nothing, 1 answers, 2 does not */
} target_t;

struct gw_prom {
    pthread_mutex_t lock; /* t, n, now_ms: the tick writes, HTTP threads render */
    void *zctx;
    const cpm_identity_t *id;
    const cpm_registry_t *reg; /* the server's (main thread only) */
    cpm_client_t **clients;    /* target i asks through clients[i / GW_PROM_PER_CLIENT] */
    bool *stale;               /* per client: a request of it went unanswered */
    size_t n_clients;
    target_t *t;
    size_t n;
    int64_t now_ms; /* wall clock at the last tick (HTTP threads must not read the clock) */
    int64_t next_round;
    int64_t round_ms; /* metrics_every_s */
    size_t cursor;    /* where the next tick starts reading (fair under the budget) */
    size_t send_next; /* the next target this round asks (n: all asked) */
};

/* Client k, new (closing the one it replaces: its links and what waits on
 * them). */
static int make_client(gw_prom_t *p, size_t k, cpm_error_t *err)
{
    char inst[32];
    snprintf(inst, sizeof inst, "gateway.prom.%zu", k);
    cpm_client_destroy(&p->clients[k]);
    p->stale[k] = false;
    return cpm_client_new(&p->clients[k], p->zctx, p->reg, p->id, inst, err);
}

static void close_clients(gw_prom_t *p)
{
    for (size_t i = 0; i < p->n_clients; i++)
        cpm_client_destroy(&p->clients[i]);
    free(p->clients);
    free(p->stale);
    p->clients = NULL;
    p->stale = NULL;
    p->n_clients = 0;
    for (size_t i = 0; i < p->n; i++)
        p->t[i].msg_id[0] = 0; /* nothing is awaited on closed links */
    p->send_next = p->n;
}

/* New clients for the targets (dropping every link and what waits on it). */
static int open_clients(gw_prom_t *p, cpm_error_t *err)
{
    close_clients(p);
    size_t k = (p->n + GW_PROM_PER_CLIENT - 1) / GW_PROM_PER_CLIENT;
    p->clients = calloc(k ? k : 1, sizeof *p->clients);
    p->stale = calloc(k ? k : 1, sizeof *p->stale);
    if (!p->clients || !p->stale)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    p->n_clients = k;
    for (size_t i = 0; i < k; i++) {
        int rc = make_client(p, i, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The targets of reg: every service of every member, keeping what was known
 * of those that stay. */
static int load_targets(gw_prom_t *p)
{
    const Cpm__Registry *doc = cpm_registry_doc(p->reg);
    size_t n = 0;
    for (size_t i = 0; i < doc->n_members; i++)
        n += doc->members[i]->n_services;
    if (n > GW_PROM_TARGETS_MAX) {
        cpm_warn("metrics: the registry has %zu services; asking the first %d", n,
                 GW_PROM_TARGETS_MAX);
        n = GW_PROM_TARGETS_MAX;
    }
    target_t *t = calloc(n ? n : 1, sizeof *t);
    if (!t)
        return -1;
    size_t k = 0;
    /* Under the lock: moving an answer changes p->t, which scrapes read. */
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < doc->n_members && k < n; i++)
        for (size_t j = 0; j < doc->members[i]->n_services && k < n; j++, k++) {
            snprintf(t[k].node, sizeof t[k].node, "%s", doc->members[i]->id);
            snprintf(t[k].service, sizeof t[k].service, "%s", doc->members[i]->services[j]->name);
            for (size_t o = 0; o < p->n; o++)
                if (!strcmp(p->t[o].node, t[k].node) && !strcmp(p->t[o].service, t[k].service)) {
                    t[k] = p->t[o];
                    p->t[o].a = NULL; /* moved */
                    break;
                }
        }
    target_t *old = p->t;
    size_t old_n = p->n;
    p->t = t;
    p->n = n;
    p->cursor = 0;
    p->send_next = n; /* a new round starts at once */
    pthread_mutex_unlock(&p->lock);
    for (size_t o = 0; o < old_n; o++)
        answer_release(old[o].a);
    free(old);
    return 0;
}

int gw_prom_new(gw_prom_t **out, cpm_server_t *srv, cpm_error_t *err)
{
    *out = NULL;
    gw_prom_t *p = calloc(1, sizeof *p);
    if (!p)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    pthread_mutex_init(&p->lock, NULL);
    p->zctx = cpm_server_zctx(srv);
    p->id = cpm_server_identity(srv);
    p->reg = cpm_server_registry(srv);
    p->now_ms = cpm_now_ms();
    p->round_ms = (int64_t)cpm_server_config(srv)->metrics_every_s * 1000;
    int rc = load_targets(p) == 0 ? open_clients(p, err)
                                  : cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    if (rc != 0) {
        gw_prom_destroy(&p);
        return rc;
    }
    *out = p;
    return 0;
}

void gw_prom_destroy(gw_prom_t **pp)
{
    if (!pp || !*pp)
        return;
    gw_prom_t *p = *pp;
    close_clients(p);
    for (size_t i = 0; i < p->n; i++)
        answer_release(p->t[i].a);
    free(p->t);
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pp = NULL;
}

/* Publish what became of target i's request: h (taken) when it answered. */
static void settle(gw_prom_t *p, size_t i, Cpm__HealthReply *h, const char *why, cpm_metrics_t *mx)
{
    target_t *t = &p->t[i];
    if (!h && i / GW_PROM_PER_CLIENT < p->n_clients)
        p->stale[i / GW_PROM_PER_CLIENT] = true; /* its request may still be queued */
    int64_t rtt = cpm_mono_ms() - t->sent_mono;
    t->msg_id[0] = 0;
    /* Logged when it changes, not every round. */
    if (h && t->said == 2)
        cpm_info("metrics: %s/%s answers again", t->node, t->service);
    else if (!h && t->said != 2)
        cpm_warn("metrics: no health from %s/%s: %s", t->node, t->service, why);
    t->said = h ? 1 : 2;
    if (!h)
        cpm_metrics_add(mx, "metrics.unanswered", 1);
    uint64_t dropped = gw_prom_cap(h);
    if (dropped) {
        cpm_metrics_add(mx, "metrics.truncated", dropped);
        if (!t->truncated)
            cpm_warn("metrics: %s/%s answers with more than %d counters or %d streams; %llu "
                     "left out (logged once while it lasts)",
                     t->node, t->service, GW_PROM_COUNTERS_MAX, GW_PROM_PEERS_MAX,
                     (unsigned long long)dropped);
    }
    answer_t *a = h ? answer_new(h) : NULL;
    pthread_mutex_lock(&p->lock);
    answer_t *old = t->a;
    t->a = a;
    t->up = a != NULL;
    if (h)
        t->truncated = dropped;
    if (a) {
        t->last_ok_ms = p->now_ms;
        t->rtt_ms = rtt;
    }
    pthread_mutex_unlock(&p->lock);
    answer_release(old);
}

/* Read the answer of target i if it has come (1 ms at most). */
static void read_one(gw_prom_t *p, size_t i, cpm_metrics_t *mx)
{
    target_t *t = &p->t[i];
    cpm_client_t *c = p->clients[i / GW_PROM_PER_CLIENT];
    cpm_msg_t reply = {0};
    cpm_error_t err = {0};
    int rc = cpm_client_recv(c, t->node, t->service, 1, &reply, &err);
    if (rc == CPM_E_TIMEOUT) {
        if (cpm_mono_ms() - t->sent_mono > GW_PROM_TIMEOUT_MS)
            settle(p, i, NULL, "no answer in time", mx);
        return;
    }
    if (rc == 0)
        rc = cpm_client_reply_error(&reply, &err);
    Cpm__HealthReply *h = NULL;
    if (rc == 0) {
        h = cpm__health_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
        if (!h)
            snprintf(err.message, sizeof err.message, "an undecodable health reply");
    }
    cpm_msg_clear(&reply);
    settle(p, i, h, err.message, mx);
}

/* Ask the targets of this round not asked yet, while the tick's budget
 * lasts (making a link and signing cost a few ms each at a round's start). */
static void send_some(gw_prom_t *p, int64_t start, cpm_metrics_t *mx)
{
    for (; p->send_next < p->n && cpm_mono_ms() - start < GW_PROM_TICK_BUDGET_MS; p->send_next++) {
        size_t i = p->send_next;
        target_t *t = &p->t[i];
        Cpm__HealthQuery q = CPM__HEALTH_QUERY__INIT;
        cpm_error_t err = {0};
        t->sent_mono = cpm_mono_ms();
        if (cpm_client_send(p->clients[i / GW_PROM_PER_CLIENT], t->node, t->service,
                            CPM__MSG_TYPE__MSG_HEALTH_QUERY, &q.base, t->msg_id, &err) != 0)
            settle(p, i, NULL, err.message, mx);
    }
}

void gw_prom_tick(gw_prom_t *p, cpm_server_t *srv)
{
    cpm_metrics_t *mx = cpm_server_metrics(srv);
    int64_t start = cpm_mono_ms();
    pthread_mutex_lock(&p->lock);
    p->now_ms = cpm_now_ms();
    pthread_mutex_unlock(&p->lock);
    /* Read what has arrived, within the budget, starting where the last
     * tick stopped. */
    size_t i = 0;
    for (; i < p->n && cpm_mono_ms() - start < GW_PROM_TICK_BUDGET_MS; i++) {
        size_t k = (p->cursor + i) % p->n;
        if (p->t[k].msg_id[0])
            read_one(p, k, mx);
    }
    if (p->n)
        p->cursor = (p->cursor + i) % p->n;
    if (start < p->next_round) {
        send_some(p, start, mx);
        return;
    }
    p->next_round = start + p->round_ms;
    for (size_t k = 0; k < p->n; k++)
        if (p->t[k].msg_id[0])
            settle(p, k, NULL, "no answer before the next round", mx);
    cpm_error_t err = {0};
    int rc = p->n_clients == 0 ? open_clients(p, &err) : 0;
    /* One request in flight per service: a client whose request went
     * unanswered is made again, which drops what may still be queued on its
     * links (ZeroMQ would block the loop once 8 wait), so the next round's
     * request is the only one. */
    for (size_t k = 0; rc == 0 && k < p->n_clients; k++)
        if (p->stale[k])
            rc = make_client(p, k, &err);
    if (rc != 0) {
        cpm_error("metrics: %s", err.message);
        close_clients(p); /* all made again at the next round */
        return;
    }
    p->send_next = 0;
    send_some(p, start, mx);
}

void gw_prom_registry_changed(gw_prom_t *p, cpm_server_t *srv)
{
    p->reg = cpm_server_registry(srv);
    cpm_error_t err = {0};
    if (load_targets(p) != 0 || open_clients(p, &err) != 0) {
        cpm_error("metrics: cannot follow the new registry: %s",
                  err.message[0] ? err.message : "out of memory");
        close_clients(p); /* the next round tries again */
    }
    p->next_round = 0; /* ask at once */
}

bool gw_prom_allowed(const gw_req_t *rq)
{
    static const char *const proxied[] = {"Forwarded", "X-Forwarded-For", "X-Real-IP"};
    for (size_t i = 0; i < sizeof proxied / sizeof *proxied; i++)
        if (gw_req_header(rq, proxied[i]))
            return false;
    const char *a = rq->peer ? rq->peer : "";
    return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0 ||
           strncmp(a, "::ffff:127.", 11) == 0;
}

int gw_prom_handle(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    gw_prom_t *p = gw->prom;
    if (!gw_prom_allowed(rq)) {
        gw_count(gw, "metrics.refused", 1);
        cpm_warn("metrics: refused /metrics to %s%s", rq->peer ? rq->peer : "?",
                 gw_req_header(rq, "X-Forwarded-For") ? " (through a proxy)" : "");
        return gw_resp_text(rs, 403, "/metrics is served to loopback only, not through a proxy");
    }
    if (!p)
        return gw_resp_text(rs, 503, "metrics are not collected");
    /* Under the lock only the copy: names, figures and a reference to each
     * answer; rendering (the long part) runs after, so the tick's settle()
     * never waits on a scrape. */
    pthread_mutex_lock(&p->lock);
    size_t n = p->n;
    int64_t now_ms = p->now_ms;
    gw_prom_target_t *v = calloc(n ? n : 1, sizeof *v);
    target_t *c = calloc(n ? n : 1, sizeof *c);
    if (v && c)
        for (size_t i = 0; i < n; i++) {
            c[i] = p->t[i];
            if (c[i].a)
                atomic_fetch_add(&c[i].a->refs, 1);
        }
    pthread_mutex_unlock(&p->lock);
    int rc = -1;
    if (v && c) {
        for (size_t i = 0; i < n; i++)
            v[i] = (gw_prom_target_t){.node = c[i].node,
                                      .service = c[i].service,
                                      .up = c[i].up,
                                      .last_ok_ms = c[i].last_ok_ms,
                                      .rtt_ms = c[i].rtt_ms,
                                      .h = c[i].a ? c[i].a->h : NULL,
                                      .truncated = c[i].truncated};
        rc = gw_prom_render(v, n, now_ms, rs);
        for (size_t i = 0; i < n; i++)
            answer_release(c[i].a);
    }
    free(v);
    free(c);
    if (rc != 0)
        return -1;
    rs->status = 200;
    rs->content_type = GW_PROM_CONTENT_TYPE;
    gw_count(gw, "metrics.scrapes", 1);
    return 0;
}
