#include "cpm_subscriber.h"
#include "cpm_eventlog.h"
#include "cpm_store.h"
#include "cpm_transport.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SUB_DB "cursor"
#define SUB_MAP (8u << 20) /* a cursor is ~300 bytes a source */
#define SUB_MAX_POLL 256

typedef struct {
    char member[128];
    char service[32];
    char key[200];
    void *sub;
    uint64_t last;
    uint8_t hash[32];
    bool have_hash;
    bool unreachable; /* told already */
} src_t;

struct cpm_subscriber {
    const cpm_registry_t *reg;
    cpm_client_t *client;
    cpm_verifier_t *verifier;
    cpm_store_t *store;
    cpm_sub_opts_t o;
    char node[128], service[32], kind[64];
    src_t *srcs;
    size_t n;
    uint64_t refused;
};

static void notice(cpm_subscriber_t *s, src_t *src, cpm_sub_notice_t what, const char *detail)
{
    if (s->o.on_notice)
        s->o.on_notice(s->o.arg, src->member, src->service, what, detail ? detail : "");
}

static bool wanted(const cpm_subscriber_t *s, const Cpm__Event *ev)
{
    return !*s->kind || strncmp(ev->kind ? ev->kind : "", s->kind, strlen(s->kind)) == 0;
}

/* Check ev against the chain, deliver it (if the filter wants it) and move
 * the cursor. false when refused. */
static bool deliver(cpm_subscriber_t *s, src_t *src, const Cpm__Event *ev)
{
    Cpm__Event *one[1] = {(Cpm__Event *)ev};
    bool chain_ok = ev->seq == src->last + 1 &&
                    cpm_eventlog_verify_chain(one, 1, src->have_hash ? src->hash : NULL) == 0;
    if (!chain_ok && !s->o.accept_broken) {
        s->refused++;
        char d[80];
        snprintf(d, sizeof d, "event %llu", (unsigned long long)ev->seq);
        notice(s, src, CPM_SUB_BROKEN_CHAIN, d);
        return false;
    }
    if (wanted(s, ev) && s->o.on_event)
        s->o.on_event(s->o.arg, src->member, src->service, ev, chain_ok);
    src->last = ev->seq;
    if (ev->hash.len == 32) {
        memcpy(src->hash, ev->hash.data, 32);
        src->have_hash = true;
    }
    return true;
}

/* Fetch and deliver everything after src->last; events delivered or -1. */
static long catch_up(cpm_subscriber_t *s, src_t *src, long budget)
{
    long total = 0;
    for (;;) {
        Cpm__EventsFetch q = CPM__EVENTS_FETCH__INIT;
        q.from_seq = src->last + 1;
        q.max = 1000;
        cpm_msg_t reply = {0};
        cpm_error_t err = {0};
        if (cpm_client_call(s->client, src->member, src->service, CPM__MSG_TYPE__MSG_EVENTS_FETCH,
                            &q.base, s->o.fetch_timeout_ms, &reply, &err) != 0) {
            if (!src->unreachable) /* once, until it answers again */
                notice(s, src, CPM_SUB_UNREACHABLE, err.message);
            src->unreachable = true;
            return total ? total : -1;
        }
        if (src->unreachable)
            notice(s, src, CPM_SUB_REACHABLE, NULL);
        src->unreachable = false;
        Cpm__EventBatch *b =
            cpm__event_batch__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
        cpm_msg_clear(&reply);
        if (!b)
            return -1;
        size_t n = 0;
        bool broken = false;
        for (size_t i = 0; i < b->n_events && (budget <= 0 || total < budget) && !broken; i++) {
            if (b->events[i]->seq != src->last + 1)
                continue;
            if (!deliver(s, src, b->events[i])) {
                broken = true;
                break;
            }
            total++, n++;
        }
        bool more = !broken && n > 0 && src->last < b->head_seq && (budget <= 0 || total < budget);
        cpm__event_batch__free_unpacked(b, NULL);
        if (!more)
            return total;
    }
}

static void cursor_load(cpm_subscriber_t *s)
{
    MDB_txn *txn = NULL;
    if (!s->store || cpm_store_begin(s->store, false, &txn) != 0)
        return;
    for (size_t i = 0; i < s->n; i++) {
        const void *v;
        size_t len;
        src_t *src = &s->srcs[i];
        if (cpm_store_get(s->store, txn, SUB_DB, src->key, strlen(src->key), &v, &len) != 0 ||
            len != 41)
            continue;
        const uint8_t *p = v;
        src->last = 0;
        for (int k = 0; k < 8; k++)
            src->last = src->last << 8 | p[k];
        memcpy(src->hash, p + 8, 32);
        src->have_hash = p[40] != 0;
    }
    cpm_store_abort(&txn);
}

int cpm_subscriber_save(cpm_subscriber_t *s)
{
    if (!s->store)
        return 0;
    MDB_txn *txn = NULL;
    int rc = cpm_store_begin(s->store, true, &txn);
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        uint8_t v[41];
        for (int k = 0; k < 8; k++)
            v[k] = (uint8_t)(s->srcs[i].last >> (56 - 8 * k));
        memcpy(v + 8, s->srcs[i].hash, 32);
        v[40] = s->srcs[i].have_hash;
        rc = cpm_store_put(s->store, txn, SUB_DB, s->srcs[i].key, strlen(s->srcs[i].key), v,
                           sizeof v);
    }
    if (rc == 0)
        rc = cpm_store_commit(txn);
    else
        cpm_store_abort(&txn);
    if (rc != 0 && s->n > 0)
        notice(s, &s->srcs[0], CPM_SUB_CURSOR_SAVE, s->o.cursor_dir);
    return rc;
}

static src_t *add_source(cpm_subscriber_t *s, const char *member, const char *service)
{
    src_t *src = &s->srcs[s->n++];
    snprintf(src->member, sizeof src->member, "%s", member);
    snprintf(src->service, sizeof src->service, "%s", service);
    snprintf(src->key, sizeof src->key, "%s/%s", member, service);
    return src;
}

static int list_sources(cpm_subscriber_t *s, void *zctx, const cpm_identity_t *id)
{
    const Cpm__Registry *doc = cpm_registry_doc(s->reg);
    size_t cap = 1;
    for (size_t i = 0; i < doc->n_members; i++)
        cap += doc->members[i]->n_services;
    s->srcs = calloc(cap, sizeof *s->srcs);
    if (!s->srcs)
        return -1;
    if (s->o.fetch_only && *s->node && *s->service) {
        add_source(s, s->node, s->service);
        return 0;
    }
    for (size_t i = 0; i < doc->n_members; i++) {
        const Cpm__Member *m = doc->members[i];
        if (*s->node && strcmp(s->node, m->id) != 0)
            continue;
        for (size_t k = 0; k < m->n_services; k++) {
            const Cpm__ServiceEndpoint *ep = m->services[k];
            if ((*s->service && strcmp(s->service, ep->name) != 0) ||
                !(ep->pub_endpoint && *ep->pub_endpoint))
                continue;
            src_t *src = add_source(s, m->id, ep->name);
            if (s->o.fetch_only)
                continue;
            src->sub = cpm_sock_client(zctx, ZMQ_SUB, id, m->curve_pk.data, ep->pub_endpoint);
            if (src->sub)
                zmq_setsockopt(src->sub, ZMQ_SUBSCRIBE, "", 0);
        }
    }
    return 0;
}

int cpm_subscriber_new(cpm_subscriber_t **out, void *zctx, const cpm_registry_t *reg,
                       const cpm_identity_t *id, cpm_client_t *client, const cpm_sub_opts_t *o,
                       cpm_error_t *err)
{
    *out = NULL;
    cpm_subscriber_t *s = calloc(1, sizeof *s);
    if (!s)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    s->reg = reg;
    s->client = client;
    s->o = *o;
    if (s->o.fetch_timeout_ms <= 0)
        s->o.fetch_timeout_ms = 2000;
    snprintf(s->node, sizeof s->node, "%s", o->filter.node ? o->filter.node : "");
    snprintf(s->service, sizeof s->service, "%s", o->filter.service ? o->filter.service : "");
    snprintf(s->kind, sizeof s->kind, "%s", o->filter.kind_prefix ? o->filter.kind_prefix : "");
    s->o.filter = (cpm_sub_filter_t){s->node, s->service, s->kind};
    s->verifier = cpm_verifier_new(300000);
    if (!s->verifier || list_sources(s, zctx, id) != 0) {
        cpm_subscriber_destroy(&s);
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    }
    for (size_t i = 0; o->start_seq > 1 && i < s->n; i++)
        s->srcs[i].last = o->start_seq - 1;
    if (o->cursor_dir) {
        static const char *const dbs[] = {SUB_DB, NULL};
        char e[300];
        s->store = cpm_store_open(o->cursor_dir, SUB_MAP, dbs, e, sizeof e);
        if (!s->store) {
            cpm_subscriber_destroy(&s);
            return cpm_error_set(err, CPM_E_INVALID, "cursor", "cursor %s: %s", o->cursor_dir, e);
        }
        if (!o->from_start)
            cursor_load(s);
    }
    *out = s;
    return 0;
}

/* Where the caller cannot act on a failed save: cpm_subscriber_save has told
 * the notice callback already (CPM_SUB_CURSOR_SAVE). */
static void save_noted(cpm_subscriber_t *s)
{
    int rc = cpm_subscriber_save(s);
    (void)rc;
}

void cpm_subscriber_destroy(cpm_subscriber_t **p)
{
    if (!p || !*p)
        return;
    cpm_subscriber_t *s = *p;
    if (s->store)
        save_noted(s);
    for (size_t i = 0; s->srcs && i < s->n; i++)
        cpm_sock_close(&s->srcs[i].sub);
    free(s->srcs);
    cpm_store_destroy(&s->store);
    cpm_verifier_destroy(&s->verifier);
    free(s);
    *p = NULL;
}

long cpm_subscriber_sweep(cpm_subscriber_t *s, long budget, int *failed)
{
    long total = 0;
    int bad = 0;
    for (size_t i = 0; i < s->n && (budget <= 0 || total < budget); i++) {
        long got = catch_up(s, &s->srcs[i], budget > 0 ? budget - total : 0);
        if (got < 0)
            bad++;
        total += got > 0 ? got : 0;
    }
    if (failed)
        *failed = bad;
    save_noted(s);
    return total;
}

/* A publication on src->sub: deliver what follows the cursor, fetch what
 * was missed. */
static long on_publication(cpm_subscriber_t *s, src_t *src, long budget)
{
    zmq_msg_t f[2];
    int parts = cpm_sock_recv(src->sub, f, 2, ZMQ_DONTWAIT);
    if (parts <= 0)
        return 0;
    long got = 0;
    cpm_msg_t m = {0};
    cpm_verify_ctx_t ctx = {.expect_sender = src->member};
    if (parts == 2 &&
        cpm_verifier_check(s->verifier, s->reg, &ctx, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]),
                           cpm_now_ms(), &m) == CPM_V_OK &&
        m.env->type == CPM__MSG_TYPE__MSG_EVENTS_PUBLISH) {
        Cpm__EventBatch *b =
            cpm__event_batch__unpack(NULL, m.env->payload.len, m.env->payload.data);
        if (b && !strcmp(b->service, src->service) && !strcmp(b->node, src->member)) {
            for (size_t i = 0; i < b->n_events && (budget <= 0 || got < budget); i++) {
                if (b->events[i]->seq <= src->last)
                    continue;
                if (b->events[i]->seq > src->last + 1) { /* a gap: fetch it */
                    long more = catch_up(s, src, budget > 0 ? budget - got : 0);
                    got += more > 0 ? more : 0;
                    if (b->events[i]->seq != src->last + 1)
                        continue;
                }
                if (!deliver(s, src, b->events[i]))
                    break;
                got++;
            }
        }
        cpm__event_batch__free_unpacked(b, NULL);
    } else {
        s->refused++;
        notice(s, src, CPM_SUB_REFUSED_PUB, NULL);
    }
    cpm_msg_clear(&m);
    for (int i = 0; i < parts; i++)
        zmq_msg_close(&f[i]);
    return got;
}

long cpm_subscriber_poll(cpm_subscriber_t *s, int timeout_ms, long budget)
{
    zmq_pollitem_t items[SUB_MAX_POLL];
    size_t k = 0;
    for (size_t i = 0; i < s->n && k < SUB_MAX_POLL; i++)
        if (s->srcs[i].sub)
            items[k++] = (zmq_pollitem_t){s->srcs[i].sub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(items, (int)k, timeout_ms) <= 0)
        return 0;
    long got = 0;
    for (size_t i = 0, j = 0; i < s->n && j < k; i++) {
        if (!s->srcs[i].sub)
            continue;
        if (items[j++].revents & ZMQ_POLLIN)
            got += on_publication(s, &s->srcs[i], budget > 0 ? budget - got : 0);
    }
    if (got > 0)
        save_noted(s);
    return got;
}

uint64_t cpm_subscriber_cursor(const cpm_subscriber_t *s, const char *node, const char *service)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->srcs[i].member, node) && !strcmp(s->srcs[i].service, service))
            return s->srcs[i].last;
    return 0;
}

uint64_t cpm_subscriber_refused(const cpm_subscriber_t *s)
{
    return s->refused;
}

int cpm_subscriber_seek(cpm_subscriber_t *s, const char *node, const char *service, uint64_t seq,
                        const uint8_t hash[32])
{
    for (size_t i = 0; i < s->n; i++) {
        src_t *src = &s->srcs[i];
        if (strcmp(src->member, node) != 0 || strcmp(src->service, service) != 0)
            continue;
        src->last = seq;
        src->have_hash = hash != NULL;
        if (hash)
            memcpy(src->hash, hash, 32);
        return 0;
    }
    return CPM_E_NOT_FOUND;
}
