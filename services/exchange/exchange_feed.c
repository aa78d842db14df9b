/* exchange_feed: datasets from this node's own events. See exchange_feed.h. */
#include "exchange_feed.h"

#include "cpm_client.h"
#include "cpm_log.h"
#include "cpm_ratelimit.h"
#include "cpm_subscriber.h"
#include "cpm_util.h"
#include "exchange_records.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VN_OFFSET_MS (7 * 3600 * 1000LL) /* Asia/Ho_Chi_Minh: UTC+7 all year */
#define FETCH_TIMEOUT_MS 300             /* per EventsFetch: the loop must not wait long */
#define RETRY_MS 5000                    /* a source that did not answer is asked again after */
#define CURSOR_LEN 40                    /* seq (u64 BE) || hash (32) */

/* ---- the mapping (pure) ---------------------------------------------------- */

void exchange_feed_month(int64_t at_ms, char out[8])
{
    time_t t = (time_t)((at_ms + VN_OFFSET_MS) / 1000);
    struct tm tm;
    if (at_ms < 0 || !gmtime_r(&t, &tm)) {
        snprintf(out, 8, "1970-01");
        return;
    }
    unsigned y = (unsigned)(tm.tm_year + 1900) % 10000u, m = (unsigned)(tm.tm_mon + 1) % 13u;
    snprintf(out, 8, "%04u-%02u", y, m);
}

static const char *str(const char *s)
{
    return s ? s : "";
}

static Cpm__DataField field(const char *name, const char *value)
{
    Cpm__DataField f = CPM__DATA_FIELD__INIT;
    f.name = (char *)name;
    f.value = (char *)str(value);
    return f;
}

static int put(const exchange_t *x, cpm_store_t *st, MDB_txn *txn, const char *dataset,
               const char *key, Cpm__DataField *fs, size_t n, int64_t at_ms, cpm_error_t *err)
{
    Cpm__DataField *ptr[EXCHANGE_RECORD_FIELDS_MAX];
    for (size_t i = 0; i < n; i++)
        ptr[i] = &fs[i];
    Cpm__DataRecord r = CPM__DATA_RECORD__INIT;
    r.dataset = (char *)dataset;
    r.key = (char *)key;
    r.fields = ptr;
    r.n_fields = n;
    r.at_ms = at_ms;
    return exchange_records_put(st, txn, x->node, x->max_records, &r, NULL, err);
}

/* One violation per event: the seq makes the key unique and stable (an
 * event is applied once, and the same event always gives the same key). */
static int violation(const exchange_t *x, cpm_store_t *st, MDB_txn *txn, const Cpm__Event *ev,
                     cpm_error_t *err)
{
    char key[EXCHANGE_KEY_MAX], fine[24], date[24];
    const char *what = *str(ev->violation) ? ev->violation : "summary";
    int n = snprintf(key, sizeof key, "%s#%s#%" PRIu64, str(ev->inspection), what, ev->seq);
    if (n < 0 || (size_t)n >= sizeof key) /* a long code: the seq alone keeps it unique */
        n = snprintf(key, sizeof key, "%.80s#%" PRIu64, str(ev->inspection), ev->seq);
    snprintf(fine, sizeof fine, "%" PRId64, ev->fine_vnd > 0 ? ev->fine_vnd : 0);
    snprintf(date, sizeof date, "%" PRId64, ev->at_ms > 0 ? ev->at_ms : 0);
    Cpm__DataField fs[] = {
        field("inspection", ev->inspection),
        field("business", ev->business),
        field("tax_code", ev->tax_code),
        field("address", ev->address),
        field("area", ev->area),
        field("category", ev->category),
        field("violation", ev->violation),
        field("fine_vnd", fine),
        field("date", date),
    };
    return put(x, st, txn, "violations", key, fs, sizeof fs / sizeof *fs, ev->at_ms, err);
}

/* A coordinator confirmed a hotspot alert about a business (docs/protocol.md
 * 25.4): watched for 90 days from the decision, key = the alert's id. */
static int watch_hotspot(const exchange_t *x, cpm_store_t *st, MDB_txn *txn, const Cpm__Event *ev,
                         cpm_error_t *err)
{
    char from[24], until[24], reason[400];
    int64_t at = ev->at_ms > 0 ? ev->at_ms : 0;
    /* A generated reason: the coordinator's free text (names, homes) stays
     * in the hotspot service's own alert and event. */
    snprintf(reason, sizeof reason, "hotspot %.40s confirmed by %.128s", str(ev->ticket),
             str(ev->actor));
    snprintf(from, sizeof from, "%" PRId64, at);
    snprintf(until, sizeof until, "%" PRId64, at + (int64_t)90 * 86400000);
    Cpm__DataField fs[] = {
        field("business", ev->business), field("tax_code", ""),   field("address", ev->address),
        field("area", ev->area),         field("reason", reason), field("from", from),
        field("until", until),
    };
    return put(x, st, txn, "watchlist", str(ev->ticket), fs, sizeof fs / sizeof *fs, at, err);
}

/* count + 1 of dataset/key, whose other fields are fs (count is added). */
static int count_up(const exchange_t *x, cpm_store_t *st, MDB_txn *txn, const char *dataset,
                    const char *key, Cpm__DataField *fs, size_t n, int64_t at_ms, cpm_error_t *err)
{
    Cpm__DataRecord *old = NULL;
    int rc = exchange_records_get(st, txn, dataset, key, &old);
    if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return rc;
    unsigned long long count = old ? strtoull(exchange_record_value(old, "count"), NULL, 10) : 0;
    cpm__data_record__free_unpacked(old, NULL);
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", count + 1);
    fs[n] = field("count", buf);
    return put(x, st, txn, dataset, key, fs, n + 1, at_ms, err);
}

static int stat_key(char *key, const char *a, const char *b, const char *c, cpm_error_t *err)
{
    int n = snprintf(key, EXCHANGE_KEY_MAX, "%s|%s|%s", a, b, c);
    if (n < 0 || n >= EXCHANGE_KEY_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "key", "key \"%.40s...\" is too long", key);
    return 0;
}

int exchange_feed_apply(const exchange_t *x, cpm_store_t *st, MDB_txn *txn, const char *node,
                        const char *service, const Cpm__Event *ev, cpm_error_t *err)
{
    (void)node; /* every source is this node's own */
    const char *kind = str(ev->kind);
    char month[8], key[EXCHANGE_KEY_MAX];
    exchange_feed_month(ev->at_ms, month);
    int rc;
    if (!strcmp(service, "inspection") && !strcmp(kind, "violation.recorded"))
        return violation(x, st, txn, ev, err);
    if (!strcmp(service, "intake") && !strcmp(kind, "complaint.received")) {
        if ((rc = stat_key(key, str(ev->area), str(ev->category), month, err)) != 0)
            return rc;
        Cpm__DataField fs[4] = {field("area", ev->area), field("category", ev->category),
                                field("month", month)};
        return count_up(x, st, txn, "complaint_stats", key, fs, 3, ev->at_ms, err);
    }
    if (!strcmp(service, "hotspot") && !strcmp(kind, "hotspot.confirmed") &&
        !strcmp(str(ev->rule), "business"))
        return watch_hotspot(x, st, txn, ev, err);
    if (!strcmp(service, "intake") && !strcmp(kind, "consultation.recorded")) {
        if ((rc = stat_key(key, month, str(ev->category), str(ev->channel), err)) != 0)
            return rc;
        Cpm__DataField fs[4] = {field("month", month), field("category", ev->category),
                                field("channel", ev->channel)};
        return count_up(x, st, txn, "hotline_stats", key, fs, 3, ev->at_ms, err);
    }
    return 0;
}

static int cursor_key(char *k, size_t cap, const char *node, const char *service)
{
    int n = snprintf(k, cap, "%s/%s", node, service);
    return n > 0 && (size_t)n < cap ? n : -1;
}

int exchange_feed_cursor_get(cpm_store_t *st, MDB_txn *txn, const char *node, const char *service,
                             uint64_t *seq, uint8_t hash[32])
{
    char k[160];
    const void *v;
    size_t len;
    *seq = 0;
    memset(hash, 0, 32);
    int n = cursor_key(k, sizeof k, node, service);
    if (n < 0)
        return CPM_E_INVALID;
    int rc = cpm_store_get(st, txn, EXCHANGE_FEED_DB, k, (size_t)n, &v, &len);
    if (rc == CPM_E_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (len != CURSOR_LEN)
        return CPM_E_INTERNAL;
    *seq = cpm_get_be64(v);
    memcpy(hash, (const uint8_t *)v + 8, 32);
    return 0;
}

int exchange_feed_cursor_put(cpm_store_t *st, MDB_txn *txn, const char *node, const char *service,
                             uint64_t seq, const uint8_t hash[32])
{
    char k[160];
    uint8_t v[CURSOR_LEN];
    int n = cursor_key(k, sizeof k, node, service);
    if (n < 0)
        return CPM_E_INVALID;
    cpm_put_be64(v, seq);
    memcpy(v + 8, hash, 32);
    return cpm_store_put(st, txn, EXCHANGE_FEED_DB, k, (size_t)n, v, sizeof v);
}

/* ---- the feed (subscriber, batch, one write per tick) ---------------------- */

typedef struct {
    uint8_t *bytes; /* the packed Event (on_event's is valid only during the call) */
    size_t len;
} held_t;

typedef struct {
    exchange_feed_t *f;
    const char *service;
    cpm_subscriber_t *sub;
    uint64_t seq;     /* the committed cursor */
    uint8_t hash[32]; /* its hash */
    held_t *batch;
    size_t n, cap;
    bool lost;           /* an event could not be held: later ones wait for the next tick */
    int64_t next_try_ms; /* monotonic: after a failed read, the loop is not held each tick */
    bool unreachable, broken, stalled; /* told once per state change */
} source_t;

struct exchange_feed {
    const exchange_t *x;
    cpm_client_t *client;
    source_t src[3]; /* intake, inspection, hotspot */
    size_t n_src;
    bool made; /* sources made for the current registry */
    cpm_ratelimit_t refused_log;
};

static const char *const SERVICES[] = {"intake", "inspection", "hotspot"};

exchange_feed_t *exchange_feed_new(const exchange_t *x)
{
    exchange_feed_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->x = x;
    f->refused_log = (cpm_ratelimit_t)CPM_RATELIMIT_INIT(5, 60000);
    return f;
}

static void batch_clear(source_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->batch[i].bytes);
    s->n = 0;
}

static void sources_drop(exchange_feed_t *f)
{
    for (size_t i = 0; i < f->n_src; i++) {
        cpm_subscriber_destroy(&f->src[i].sub);
        batch_clear(&f->src[i]);
        free(f->src[i].batch);
    }
    memset(f->src, 0, sizeof f->src);
    f->n_src = 0;
    f->made = false;
}

void exchange_feed_destroy(exchange_feed_t **p)
{
    if (!p || !*p)
        return;
    sources_drop(*p);
    cpm_client_destroy(&(*p)->client);
    free(*p);
    *p = NULL;
}

void exchange_feed_registry_changed(exchange_feed_t *f)
{
    /* the subscribers borrow the registry: made again with the new one */
    if (f)
        sources_drop(f);
    if (f && f->client)
        cpm_client_set_registry(f->client, f->x->reg);
}

static void on_event(void *arg, const char *node, const char *service, const Cpm__Event *ev,
                     bool chain_ok)
{
    (void)node;
    (void)service;
    source_t *s = arg;
    /* Only a gapless run from the committed cursor is applied: after an
     * event that could not be held, the rest is fetched again next tick. */
    if (!chain_ok || s->lost)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        held_t *b = realloc(s->batch, cap * sizeof *b);
        if (!b) {
            s->lost = true;
            return;
        }
        s->batch = b;
        s->cap = cap;
    }
    held_t *h = &s->batch[s->n];
    h->len = cpm__event__get_packed_size(ev);
    h->bytes = malloc(h->len ? h->len : 1);
    if (!h->bytes) {
        s->lost = true;
        return;
    }
    cpm__event__pack(ev, h->bytes);
    s->n++;
}

static void on_notice(void *arg, const char *node, const char *service, cpm_sub_notice_t what,
                      const char *detail)
{
    source_t *s = arg;
    const exchange_t *x = s->f->x;
    switch (what) {
    case CPM_SUB_UNREACHABLE:
        exchange_count(x, "exchange.feed_unreachable");
        if (!s->unreachable)
            cpm_warn("feed: %s/%s cannot be read: %s", node, service, detail);
        s->unreachable = true;
        break;
    case CPM_SUB_REACHABLE:
        if (s->unreachable)
            cpm_info("feed: %s/%s answers again", node, service);
        s->unreachable = false;
        break;
    case CPM_SUB_BROKEN_CHAIN:
    case CPM_SUB_REFUSED_PUB:
        exchange_count(x, "exchange.feed_broken_chain");
        if (!s->broken)
            cpm_error("feed: %s/%s: an event does not link to its chain, not applied: %s", node,
                      service, detail);
        s->broken = true;
        break;
    case CPM_SUB_CURSOR_SAVE:
        break; /* no cursor_dir: the cursor lives in "xfeed" */
    }
}

/* Does the registry list service on this node? */
static bool runs(const exchange_t *x, const char *service)
{
    const Cpm__Member *m = x->reg ? cpm_registry_member(x->reg, x->node) : NULL;
    for (size_t i = 0; m && i < m->n_services; i++)
        if (m->services[i]->name && !strcmp(m->services[i]->name, service))
            return true;
    return false;
}

static int make_sources(exchange_feed_t *f, cpm_server_t *srv)
{
    const exchange_t *x = f->x;
    cpm_error_t err = {0};
    if (!f->client &&
        cpm_client_new(&f->client, cpm_server_zctx(srv), x->reg, x->id, NULL, &err) != 0) {
        cpm_error("feed: no client: %s", err.message);
        return -1;
    }
    cpm_store_t *st = cpm_server_store(srv);
    MDB_txn *txn;
    if (cpm_store_begin(st, false, &txn) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < sizeof SERVICES / sizeof *SERVICES && rc == 0; i++) {
        if (!runs(x, SERVICES[i]))
            continue;
        source_t *s = &f->src[f->n_src];
        s->f = f;
        s->service = SERVICES[i];
        rc = exchange_feed_cursor_get(st, txn, x->node, s->service, &s->seq, s->hash);
        cpm_sub_opts_t o = {.fetch_only = true,
                            .fetch_timeout_ms = FETCH_TIMEOUT_MS,
                            .filter = {.node = x->node, .service = s->service},
                            .on_event = on_event,
                            .on_notice = on_notice,
                            .arg = s};
        if (rc == 0 && (rc = cpm_subscriber_new(&s->sub, cpm_server_zctx(srv), x->reg, x->id,
                                                f->client, &o, &err)) != 0)
            cpm_error("feed: %s/%s: %s", x->node, s->service, err.message);
        if (rc == 0 && s->seq)
            rc = cpm_subscriber_seek(s->sub, x->node, s->service, s->seq, s->hash);
        f->n_src++;
    }
    cpm_store_abort(&txn);
    if (rc != 0) {
        sources_drop(f);
        return -1;
    }
    f->made = true;
    return 0;
}

typedef struct {
    exchange_feed_t *f;
    source_t *s;
    uint64_t seq;
    uint8_t hash[32];
    size_t applied, refused;
} write_ctx_t;

/* Apply s's batch and move its cursor, in the one transaction. */
static int apply_batch(cpm_server_t *srv, MDB_txn *txn, void *arg)
{
    write_ctx_t *w = arg;
    source_t *s = w->s;
    const exchange_t *x = w->f->x;
    cpm_store_t *st = cpm_server_store(srv);
    w->seq = s->seq;
    memcpy(w->hash, s->hash, 32);
    w->applied = w->refused = 0;
    for (size_t i = 0; i < s->n; i++) {
        Cpm__Event *ev = cpm__event__unpack(NULL, s->batch[i].len, s->batch[i].bytes);
        if (!ev || ev->hash.len != 32) {
            cpm__event__free_unpacked(ev, NULL);
            return CPM_E_INTERNAL;
        }
        cpm_error_t err = {0};
        int rc = exchange_feed_apply(x, st, txn, x->node, s->service, ev, &err);
        if (rc == CPM_E_INVALID) { /* this event can never make a record: skip it */
            uint64_t dropped;
            w->refused++;
            if (cpm_ratelimit_allow(&w->f->refused_log, cpm_mono_ms(), &dropped))
                cpm_warn("feed: %s/%s event %" PRIu64 " (%s) makes no record: %s: %s%s", x->node,
                         s->service, ev->seq, ev->kind, err.field, err.message,
                         cpm_ratelimit_note(dropped));
            rc = 0;
        } else if (rc == 0) {
            w->applied++;
        }
        if (rc == 0) {
            w->seq = ev->seq;
            memcpy(w->hash, ev->hash.data, 32);
        }
        cpm__event__free_unpacked(ev, NULL);
        if (rc != 0)
            return rc;
    }
    return exchange_feed_cursor_put(st, txn, x->node, s->service, w->seq, w->hash);
}

static void source_tick(exchange_feed_t *f, source_t *s, cpm_server_t *srv)
{
    const exchange_t *x = f->x;
    int failed = 0;
    if (cpm_mono_ms() < s->next_try_ms)
        return;
    long got = cpm_subscriber_sweep(s->sub, EXCHANGE_FEED_TICK_MAX, &failed);
    s->next_try_ms = failed ? cpm_mono_ms() + RETRY_MS : 0;
    if (got > 0 && s->n) {
        write_ctx_t w = {f, s, 0, {0}, 0, 0};
        int rc = cpm_server_write(srv, apply_batch, &w);
        if (rc == 0) {
            s->seq = w.seq;
            memcpy(s->hash, w.hash, 32);
            for (size_t i = 0; i < w.applied; i++)
                exchange_count(x, "exchange.feed_applied");
            for (size_t i = 0; i < w.refused; i++)
                exchange_count(x, "exchange.feed_refused");
            if (s->stalled)
                cpm_info("feed: %s/%s applies again", x->node, s->service);
            s->stalled = false;
        } else {
            exchange_count(x, "exchange.feed_stalled");
            if (!s->stalled)
                cpm_error("feed: %s/%s: the records of %zu events could not be written (%s): "
                          "retried each tick",
                          x->node, s->service, s->n, cpm_err_name(rc));
            s->stalled = true;
        }
    }
    /* whatever was not committed is read again from the committed cursor */
    if (cpm_subscriber_cursor(s->sub, x->node, s->service) != s->seq &&
        cpm_subscriber_seek(s->sub, x->node, s->service, s->seq, s->seq ? s->hash : NULL) != 0)
        sources_drop(f);
    batch_clear(s);
    s->lost = false;
    if (got > 0 && s->broken) {
        cpm_info("feed: %s/%s links again", x->node, s->service);
        s->broken = false;
    }
}

void exchange_feed_tick(exchange_feed_t *f, cpm_server_t *srv)
{
    if (!f || (!f->made && make_sources(f, srv) != 0))
        return;
    for (size_t i = 0; i < f->n_src && f->made; i++)
        source_tick(f, &f->src[i], srv);
}
