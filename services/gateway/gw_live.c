/* gw_live: see gw_live.h. */
#include "gw_live.h"

#include "cpm_log.h"
#include "cpm_subscriber.h"
#include "cpm_util.h"
#include "gw_auth.h"
#include "gw_ctx.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gw_live {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *ring[GW_LIVE_RING];
    uint64_t head; /* events pushed; ring[i % GW_LIVE_RING] holds event i */
    bool stopping;
    int wait_ms;
    /* main thread only */
    void *zctx;
    const cpm_config_t *cfg;
    const cpm_identity_t *id;
    cpm_registry_t *reg;
    cpm_client_t *client;
    cpm_subscriber_t *sub;
    bool remake;
    int64_t retry_ms;
};

typedef struct {
    gw_live_t *l;
    uint64_t pos;
    char pending[GW_LIVE_EVENT_MAX + 64]; /* what did not fit in the last buffer */
    size_t pend_len, pend_off;
} reader_t;

int gw_live_new(gw_live_t **out, void *zctx, const cpm_config_t *cfg, const cpm_identity_t *id)
{
    gw_live_t *l = calloc(1, sizeof *l);
    if (!l)
        return -1;
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    l->wait_ms = 15000;
    l->zctx = zctx, l->cfg = cfg, l->id = id;
    l->remake = true;
    *out = l;
    return 0;
}

static void unmake(gw_live_t *l)
{
    cpm_subscriber_destroy(&l->sub);
    cpm_client_destroy(&l->client);
    cpm_registry_destroy(&l->reg);
}

void gw_live_destroy(gw_live_t **p)
{
    if (!p || !*p)
        return;
    gw_live_t *l = *p;
    unmake(l);
    for (size_t i = 0; i < GW_LIVE_RING; i++)
        free(l->ring[i]);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
    *p = NULL;
}

void gw_live_push(gw_live_t *l, const char *json)
{
    char *copy = strndup(json, GW_LIVE_EVENT_MAX);
    if (!copy)
        return;
    pthread_mutex_lock(&l->lock);
    char **slot = &l->ring[l->head % GW_LIVE_RING];
    free(*slot);
    *slot = copy;
    l->head++;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

uint64_t gw_live_head(gw_live_t *l)
{
    pthread_mutex_lock(&l->lock);
    uint64_t h = l->head;
    pthread_mutex_unlock(&l->lock);
    return h;
}

void gw_live_set_wait(gw_live_t *l, int ms)
{
    l->wait_ms = ms;
}

void gw_live_stop(gw_live_t *l)
{
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

/* The public projection of an event: what any logged-in person may see. */
static void on_event(void *arg, const char *node, const char *service, const Cpm__Event *ev,
                     bool chain_ok)
{
    (void)chain_ok;
    gw_live_t *l = arg;
    json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:i}", "node", node, "service",
                          service, "seq", (json_int_t)ev->seq, "at_ms", (json_int_t)ev->at_ms,
                          "kind", ev->kind, "ticket", ev->ticket, "agency", ev->agency, "area",
                          ev->area, "category", ev->category, "state", (int)ev->state);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (s && strlen(s) <= GW_LIVE_EVENT_MAX)
        gw_live_push(l, s);
    free(s);
    json_decref(o);
}

static int make(gw_live_t *l)
{
    cpm_error_t err = {0};
    cpm_public_t root;
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/live-cursor", l->cfg->data_dir);
    int rc = cpm_public_load(&root, l->cfg->root_public, &err);
    if (rc == 0)
        rc = cpm_registry_load(l->cfg->registry, root.sign_pk, &l->reg, &err);
    if (rc == 0)
        rc = cpm_client_new(&l->client, l->zctx, l->reg, l->id, "gateway.live", &err);
    if (rc == 0 && cpm_mkdirs(dir, 0700) != 0)
        rc = cpm_error_set(&err, CPM_E_STORE_IO, "data_dir", "cannot create %s", dir);
    cpm_sub_opts_t o = {.cursor_dir = dir, .on_event = on_event, .arg = l, .fetch_timeout_ms = 500};
    if (rc == 0)
        rc = cpm_subscriber_new(&l->sub, l->zctx, l->reg, l->id, l->client, &o, &err);
    if (rc != 0) {
        cpm_warn("gateway: live events not available: %s", err.message);
        unmake(l);
    }
    return rc;
}

void gw_live_reload(gw_live_t *l)
{
    l->remake = true;
}

void gw_live_tick(gw_live_t *l)
{
    int64_t now = cpm_mono_ms();
    if (l->remake && now >= l->retry_ms) {
        unmake(l);
        if (make(l) == 0) {
            l->remake = false;
            cpm_subscriber_sweep(l->sub, 2000, NULL); /* catch up once */
        } else {
            l->retry_ms = now + 5000;
        }
    }
    if (l->sub)
        cpm_subscriber_poll(l->sub, 0, 500);
}

void *gw_live_reader_new(gw_live_t *l, uint64_t pos)
{
    reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->l = l;
    pthread_mutex_lock(&l->lock);
    uint64_t oldest = l->head > GW_LIVE_RING ? l->head - GW_LIVE_RING : 0;
    r->pos = pos < oldest ? oldest : pos > l->head ? l->head : pos;
    pthread_mutex_unlock(&l->lock);
    return r;
}

void gw_live_reader_free(void *reader)
{
    free(reader);
}

/* Under the lock: the next thing to send into r->pending (an event, a gap
 * notice, or a keep-alive after waiting). -1 when the gateway stops. */
static int next_chunk(reader_t *r)
{
    gw_live_t *l = r->l;
    if (r->pos == l->head && !l->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += l->wait_ms / 1000;
        until.tv_nsec += (long)(l->wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L)
            until.tv_sec++, until.tv_nsec -= 1000000000L;
        while (r->pos == l->head && !l->stopping)
            if (pthread_cond_timedwait(&l->cond, &l->lock, &until) == ETIMEDOUT)
                break;
    }
    if (l->stopping)
        return -1;
    uint64_t oldest = l->head > GW_LIVE_RING ? l->head - GW_LIVE_RING : 0;
    int n;
    if (r->pos < oldest) { /* fell off the ring: say so, go on from the oldest */
        n = snprintf(r->pending, sizeof r->pending, ": gap %llu\n\n",
                     (unsigned long long)(oldest - r->pos));
        r->pos = oldest;
    } else if (r->pos < l->head) {
        n = snprintf(r->pending, sizeof r->pending, "id: %llu\ndata: %s\n\n",
                     (unsigned long long)r->pos, l->ring[r->pos % GW_LIVE_RING]);
        r->pos++;
    } else {
        n = snprintf(r->pending, sizeof r->pending, ": keep-alive\n\n");
    }
    r->pend_len = n > 0 && (size_t)n < sizeof r->pending ? (size_t)n : 0;
    r->pend_off = 0;
    return 0;
}

ssize_t gw_live_read(void *reader, uint64_t off, char *buf, size_t cap)
{
    (void)off;
    reader_t *r = reader;
    size_t n = 0;
    pthread_mutex_lock(&r->l->lock);
    do {
        if (r->pend_off == r->pend_len && next_chunk(r) != 0) {
            pthread_mutex_unlock(&r->l->lock);
            return n ? (ssize_t)n : -1;
        }
        size_t k = r->pend_len - r->pend_off;
        if (k > cap - n)
            k = cap - n;
        memcpy(buf + n, r->pending + r->pend_off, k);
        r->pend_off += k, n += k;
        /* go on without waiting while more is already in the ring */
    } while (n < cap && r->pos < r->l->head && !r->l->stopping);
    pthread_mutex_unlock(&r->l->lock);
    return (ssize_t)n;
}

int gw_live_events(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    gw_session_t s;
    if (gw_auth_require(gw, rq, rs, true, &s) != 0)
        return 0;
    gw_session_clear(&s);
    const char *last = gw_req_header(rq, "Last-Event-ID");
    uint64_t pos = last && *last ? strtoull(last, NULL, 10) + 1 : 0;
    if (!(rs->stream_arg = gw_live_reader_new(gw->live, pos)))
        return -1;
    rs->stream = gw_live_read;
    rs->stream_free = gw_live_reader_free;
    rs->content_type = "text/event-stream";
    gw_resp_header(rs, "Cache-Control", "no-store");
    return 0;
}
