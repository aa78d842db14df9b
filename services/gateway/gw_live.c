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

/* An event of the ring. From the subscriber it is kept as its fields and
 * made into JSON when a reader first reaches it (nothing is rendered while
 * nobody watches: the rendering was most of the gateway's CPU under load);
 * from gw_live_push, as the JSON given. */
#define EV_STRS 6 /* node, service, kind, ticket, area, category */
/* A bound of an event's JSON: every byte of its strings escaped (\u00XX,
 * six bytes), plus the names, numbers and punctuation (at most about 160). */
#define EV_ESCAPED 6
#define EV_FIXED 200
typedef struct {
    char *json;   /* NULL until rendered */
    char *agency; /* the event's agency, for the readers' scope */
    char *strs;   /* the EV_STRS fields, each ended by a zero byte; NULL: json given */
    int64_t seq, at_ms;
    int state;
    bool failed; /* could not be rendered: every reader steps over it */
} ev_t;

typedef struct reader reader_t;

struct gw_live {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    ev_t ring[GW_LIVE_RING];
    uint64_t head;     /* events pushed; ring[i % GW_LIVE_RING] holds event i */
    uint64_t wakes;    /* gw_live_wake calls: a waiting reader rechecks its session */
    reader_t *readers; /* open streams (to count them per session, member, in all) */
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

struct reader {
    gw_live_t *l;
    reader_t *next;
    gw_auth_t *auth; /* NULL: no session to check (tests) */
    char sid[GW_AUTH_ID_HEX + 1];
    char member[128]; /* the grant's member id (cpm_grant_t's size) */
    bool all;         /* sees every event; else only those of agency */
    char agency[128];
    uint64_t pos;
    char pending[GW_LIVE_EVENT_MAX + 64]; /* what did not fit in the last buffer */
    size_t pend_len, pend_off;
};

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
        free(l->ring[i].json), free(l->ring[i].agency), free(l->ring[i].strs);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
    *p = NULL;
}

/* Into the next slot (the oldest event falls off); takes json, agency and
 * strs. */
static void put(gw_live_t *l, ev_t *e)
{
    pthread_mutex_lock(&l->lock);
    ev_t *slot = &l->ring[l->head % GW_LIVE_RING];
    free(slot->json), free(slot->agency), free(slot->strs);
    *slot = *e;
    l->head++;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

void gw_live_push(gw_live_t *l, const char *json, const char *agency)
{
    ev_t e = {.json = strndup(json, GW_LIVE_EVENT_MAX), .agency = strdup(agency ? agency : "")};
    if (!e.json || !e.agency) {
        free(e.json), free(e.agency);
        return;
    }
    put(l, &e);
}

/* An event's public projection as JSON (f: node, service, kind, ticket,
 * area, category), malloc'd; NULL when out of memory or a string is not
 * UTF-8 (the subscriber's checks let no such event through). */
static char *render(const char *const f[EV_STRS], const char *agency, int64_t seq, int64_t at_ms,
                    int state)
{
    json_t *o =
        json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:i}", "node", f[0], "service", f[1], "seq",
                  (json_int_t)seq, "at_ms", (json_int_t)at_ms, "kind", f[2], "ticket", f[3],
                  "agency", agency, "area", f[4], "category", f[5], "state", state);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    return s;
}

/* Under the lock: e's JSON, rendered now if it was not yet; NULL when it
 * cannot be (then marked failed, and every reader steps over it). One
 * render holds the lock for a few microseconds; a reader far behind renders
 * at most what fits its buffer per read (about 250 bytes an event). */
static const char *json_of(ev_t *e)
{
    if (e->json || !e->strs)
        return e->json;
    const char *f[EV_STRS];
    f[0] = e->strs;
    for (size_t i = 1; i < EV_STRS; i++)
        f[i] = f[i - 1] + strlen(f[i - 1]) + 1;
    if (!(e->json = render(f, e->agency, e->seq, e->at_ms, e->state))) {
        free(e->strs);
        e->strs = NULL;
        e->failed = true;
    }
    return e->json;
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

void gw_live_wake(gw_live_t *l)
{
    pthread_mutex_lock(&l->lock);
    l->wakes++;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

void gw_live_stop(gw_live_t *l)
{
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

/* e's fields (f, of lengths len) copied into one block. 0, or -1 when out of
 * memory. */
static int pack_fields(ev_t *e, const char *const f[EV_STRS], const size_t len[EV_STRS],
                       size_t total)
{
    if (!(e->strs = malloc(total + EV_STRS)))
        return -1;
    char *w = e->strs;
    for (size_t i = 0; i < EV_STRS; i++) {
        memcpy(w, f[i], len[i] + 1);
        w += len[i] + 1;
    }
    return 0;
}

void gw_live_push_event(gw_live_t *l, const char *node, const char *service, const Cpm__Event *ev)
{
    const char *f[EV_STRS] = {node, service, ev->kind, ev->ticket, ev->area, ev->category};
    const char *agency = ev->agency ? ev->agency : "";
    size_t len[EV_STRS], total = 0;
    for (size_t i = 0; i < EV_STRS; i++) {
        f[i] = f[i] ? f[i] : "";
        total += len[i] = strlen(f[i]);
    }
    ev_t e = {.seq = (int64_t)ev->seq, .at_ms = ev->at_ms, .state = (int)ev->state};
    if ((total + strlen(agency)) * EV_ESCAPED + EV_FIXED > GW_LIVE_EVENT_MAX) {
        char *s = render(f, agency, e.seq, e.at_ms, e.state);
        if (s && strlen(s) <= GW_LIVE_EVENT_MAX)
            gw_live_push(l, s, agency);
        free(s);
        return;
    }
    if (pack_fields(&e, f, len, total) != 0 || !(e.agency = strdup(agency))) {
        free(e.strs);
        return;
    }
    put(l, &e);
}

static void on_event(void *arg, const char *node, const char *service, const Cpm__Event *ev,
                     bool chain_ok)
{
    (void)chain_ok;
    gw_live_push_event(arg, node, service, ev);
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

int gw_live_scope(const char *role, bool *all)
{
    static const char *const everything[] = {"coordinator", "city"};
    static const char *const works[] = {"department", "area", "inspector", "officer"};
    for (size_t i = 0; role && i < 2; i++)
        if (!strcmp(role, everything[i]))
            return *all = true, 0;
    for (size_t i = 0; role && i < 4; i++)
        if (!strcmp(role, works[i]))
            return *all = false, 0;
    return -1;
}

_Static_assert(GW_LIVE_PER_SESSION <= GW_LIVE_PER_MEMBER && GW_LIVE_PER_MEMBER <= GW_LIVE_MAX &&
                   GW_LIVE_MAX < GW_CONN_PER_IP,
               "a session's streams within its member's, a member's within the gateway's, "
               "and room left for pages");

/* Under the lock: whether r may join the open readers (their count for its
 * session, its member and in all). */
static gw_live_open_t room_for(const gw_live_t *l, const reader_t *r)
{
    int session = 0, member = 0, all = 0;
    for (const reader_t *o = l->readers; o; o = o->next) {
        session += *r->sid && !strcmp(o->sid, r->sid);
        member += *r->member && !strcmp(o->member, r->member);
        all++;
    }
    if (session >= GW_LIVE_PER_SESSION)
        return GW_LIVE_SESSION_FULL;
    if (member >= GW_LIVE_PER_MEMBER)
        return GW_LIVE_MEMBER_FULL;
    return all >= GW_LIVE_MAX ? GW_LIVE_FULL : GW_LIVE_OPENED;
}

gw_live_open_t gw_live_reader_open(gw_live_t *l, uint64_t pos, gw_auth_t *auth, const char *sid,
                                   const char *member, const char *role, const char *agency,
                                   void **out)
{
    *out = NULL;
    reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return GW_LIVE_NO_MEMORY;
    if (gw_live_scope(role, &r->all) != 0) {
        free(r);
        return GW_LIVE_NOT_IN_SCOPE;
    }
    r->l = l, r->auth = auth;
    snprintf(r->sid, sizeof r->sid, "%s", sid ? sid : "");
    snprintf(r->member, sizeof r->member, "%s", member ? member : "");
    snprintf(r->agency, sizeof r->agency, "%s", agency ? agency : "");
    pthread_mutex_lock(&l->lock);
    gw_live_open_t rc = room_for(l, r);
    if (rc != GW_LIVE_OPENED) {
        pthread_mutex_unlock(&l->lock);
        free(r);
        return rc;
    }
    uint64_t oldest = l->head > GW_LIVE_RING ? l->head - GW_LIVE_RING : 0;
    r->pos = pos < oldest ? oldest : pos > l->head ? l->head : pos;
    r->next = l->readers, l->readers = r;
    pthread_mutex_unlock(&l->lock);
    *out = r;
    return GW_LIVE_OPENED;
}

void gw_live_reader_free(void *reader)
{
    reader_t *r = reader;
    if (!r)
        return;
    pthread_mutex_lock(&r->l->lock);
    for (reader_t **p = &r->l->readers; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    pthread_mutex_unlock(&r->l->lock);
    free(r);
}

/* Under the lock: step over the held events r may not see. */
static void skip_hidden(reader_t *r)
{
    gw_live_t *l = r->l;
    uint64_t oldest = l->head > GW_LIVE_RING ? l->head - GW_LIVE_RING : 0;
    while (r->pos >= oldest && r->pos < l->head &&
           (l->ring[r->pos % GW_LIVE_RING].failed ||
            (!r->all && strcmp(l->ring[r->pos % GW_LIVE_RING].agency, r->agency) != 0)))
        r->pos++;
}

/* Under the lock: the next thing to send into r->pending (an event, a gap
 * notice, or a keep-alive after waiting). -1 when the gateway stops or the
 * session has ended (logout, idle or grant expiry: checked before every
 * chunk, without touching its idle time). */
static int next_chunk(reader_t *r)
{
    gw_live_t *l = r->l;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += l->wait_ms / 1000;
    until.tv_nsec += (long)(l->wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L)
        until.tv_sec++, until.tv_nsec -= 1000000000L;
    for (;;) {
        skip_hidden(r);
        uint64_t wakes = l->wakes;
        bool timed_out = false;
        while (r->pos == l->head && !l->stopping && l->wakes == wakes && !timed_out)
            timed_out = pthread_cond_timedwait(&l->cond, &l->lock, &until) == ETIMEDOUT;
        if (l->stopping || (r->auth && gw_auth_alive(r->auth, r->sid, cpm_now_ms()) != 0))
            return -1;
        skip_hidden(r);
        if (r->pos < l->head || timed_out)
            break; /* else only events of others came, or another session ended: wait on */
    }
    uint64_t oldest = l->head > GW_LIVE_RING ? l->head - GW_LIVE_RING : 0;
    int n;
    if (r->pos < oldest) { /* fell off the ring: say so, go on from the oldest */
        n = snprintf(r->pending, sizeof r->pending, ": gap %llu\n\n",
                     (unsigned long long)(oldest - r->pos));
        r->pos = oldest;
    } else if (r->pos < l->head) {
        const char *json = json_of(&l->ring[r->pos % GW_LIVE_RING]);
        n = json ? snprintf(r->pending, sizeof r->pending, "id: %llu\ndata: %s\n\n",
                            (unsigned long long)r->pos, json)
                 : snprintf(r->pending, sizeof r->pending, ": skipped %llu\n\n",
                            (unsigned long long)r->pos); /* failed just now */
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
    } while (n < cap && (skip_hidden(r), r->pos < r->l->head) && !r->l->stopping);
    pthread_mutex_unlock(&r->l->lock);
    return (ssize_t)n;
}

/* The answer to a stream gw_live_reader_open refused with why (but for want
 * of memory: the adapter's 500), counted and logged with its status. */
static void refuse(gw_ctx_t *gw, const gw_session_t *s, gw_live_open_t why, gw_resp_t *rs)
{
    if (why == GW_LIVE_NOT_IN_SCOPE) {
        gw_resp_text(rs, 403,
                     "the live events are for coordinators and for members that "
                     "work cases; role %s sees none",
                     s->grant.role);
    } else if (why == GW_LIVE_SESSION_FULL) {
        gw_resp_text(rs, 429,
                     "this session has %d event streams open already, the most "
                     "one session may have: close one",
                     GW_LIVE_PER_SESSION);
    } else if (why == GW_LIVE_MEMBER_FULL) {
        gw_count(gw, "web.stream_refused.member", 1);
        gw_resp_text(rs, 429,
                     "%s has %d event streams open already (all sessions together), the "
                     "most one member may have: close one",
                     s->grant.member, GW_LIVE_PER_MEMBER);
    } else if (why == GW_LIVE_FULL) {
        gw_count(gw, "web.stream_refused.full", 1);
        gw_resp_header(rs, "Retry-After", "60");
        gw_resp_text(rs, 503,
                     "the gateway has %d event streams open, the most it serves at once; "
                     "the rest of the dashboard works: try the live view again later",
                     GW_LIVE_MAX);
    }
    if (why != GW_LIVE_NO_MEMORY)
        gw_count(gw, "web.stream_refused", 1);
    cpm_info("gateway: event stream of %s refused (%d)", s->grant.member,
             why == GW_LIVE_NO_MEMORY ? 500 : rs->status);
}

int gw_live_events(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    gw_session_t s;
    if (gw_auth_require(gw, rq, rs, true, &s) != 0)
        return 0;
    const char *last = gw_req_header(rq, "Last-Event-ID");
    uint64_t pos = last && *last ? strtoull(last, NULL, 10) + 1 : 0;
    gw_live_open_t rc = gw_live_reader_open(gw->live, pos, gw->auth, s.id, s.grant.member,
                                            s.grant.role, s.grant.agency, &rs->stream_arg);
    if (rc != GW_LIVE_OPENED) {
        refuse(gw, &s, rc, rs);
        gw_session_clear(&s);
        return rc == GW_LIVE_NO_MEMORY ? -1 : 0;
    }
    gw_session_clear(&s);
    rs->stream = gw_live_read;
    rs->stream_free = gw_live_reader_free;
    rs->content_type = "text/event-stream";
    gw_resp_header(rs, "Cache-Control", "no-store");
    return 0;
}
