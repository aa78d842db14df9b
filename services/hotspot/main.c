/* cpmesh-hotspot: unusual rises of complaints as they form (issue 12), on
 * the city node. It reads every node's intake event stream with
 * cpm_subscriber (fetching in its tick, never another service's store),
 * applies complaint.received to the detector (hotspot_detect) with each
 * source's cursor in the same write transaction (exactly once across a
 * crash), and answers the coordinators' list and decide requests
 * (hotspot_alerts). docs/protocol.md 25, docs/operations.md "Hotspots".
 *
 *   cpmesh-hotspot --config hotspot.yaml   (hotspot_* settings optional) */
#include "cpm_client.h"
#include "cpm_log.h"
#include "cpm_retention.h"
#include "cpm_service.h"
#include "cpm_evqueue.h"
#include "cpm_subscriber.h"
#include "cpm_util.h"
#include "hotspot.pb-c.h"
#include "hotspot_alerts.h"
#include "hotspot_detect.h"
#include "hotspot_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_BUDGET 2000 /* events fetched, then applied, per tick */
#define TICK_EVERY_MS 200
#define SWEEP_BACKOFF_MS 5000 /* between sweeps while a source does not answer */
#define NAME_MAX_ 128
#define PURGE_EVERY_MS 60000 /* a retention step of the decided alerts */
#define PURGE_STEP 500       /* alerts looked at per step */
#define FUTURE_LOG_MS 60000  /* at most one log line a minute for complaints dated ahead */

struct cpm_svc {
    hotspot_t *det;
    cpm_client_t *client;
    cpm_subscriber_t *sub; /* every node's intake */
    cpm_server_t *srv;
    /* Events fetched by the sweep (outside any transaction), applied after
     * in one short write transaction. */
    cpm_evqueue_t *q;
    hotspot_counts_t counts;
    int failed;
    int64_t last_ms;
    cpm_sweep_cursor_t purge; /* where the retention of decided alerts goes on */
    int64_t purge_ms, future_log_ms;
    uint64_t future_unlogged;
};

static void count(cpm_svc_t *s, const char *name, uint64_t n)
{
    if (n)
        cpm_metrics_add(cpm_server_metrics(s->srv), name, n);
}

/* Called during the sweep, outside any transaction: keep a copy. */
static void on_event(void *arg, const char *node, const char *service, const Cpm__Event *ev,
                     bool chain_ok)
{
    (void)chain_ok;
    cpm_svc_t *s = arg;
    cpm_evqueue_push(s->q, node, service, ev);
}

static void on_notice(void *arg, const char *node, const char *service, cpm_sub_notice_t what,
                      const char *detail)
{
    cpm_svc_t *s = arg;
    if (what == CPM_SUB_BROKEN_CHAIN || what == CPM_SUB_REFUSED_PUB)
        count(s, "hotspot.events_refused", 1);
    cpm_info("hotspot: %s/%s: notice %d %s", node, service, (int)what, detail ? detail : "");
}

static void seek_one(void *ctx, const char *node, const char *service, uint64_t seq,
                     const uint8_t hash[32])
{
    cpm_svc_t *s = ctx;
    if (!strcmp(service, "intake") && cpm_subscriber_seek(s->sub, node, service, seq, hash) != 0)
        cpm_info("hotspot: stored cursor of %s/%s is not a source now", node, service);
}

static void drop_sub(cpm_svc_t *s)
{
    cpm_subscriber_destroy(&s->sub);
    cpm_client_destroy(&s->client);
}

/* A subscriber at the cursors of the store (its own cursor store unused:
 * ours is written with the detector's state). */
static int make_sub(cpm_svc_t *s)
{
    cpm_server_t *srv = s->srv;
    cpm_error_t err = {0};
    if (cpm_client_new(&s->client, cpm_server_zctx(srv), cpm_server_registry(srv),
                       cpm_server_identity(srv), "hotspot.sub", &err) != 0) {
        cpm_info("hotspot: client: %s", err.message);
        return -1;
    }
    cpm_sub_opts_t o = {.start_seq = 1,
                        .fetch_timeout_ms = 300, /* the loop waits on it: keep it short */
                        .on_event = on_event,
                        .on_notice = on_notice,
                        .arg = s};
    o.filter.service = "intake";
    if (cpm_subscriber_new(&s->sub, cpm_server_zctx(srv), cpm_server_registry(srv),
                           cpm_server_identity(srv), s->client, &o, &err) != 0) {
        cpm_info("hotspot: subscriber: %s", err.message);
        drop_sub(s);
        return -1;
    }
    MDB_txn *txn;
    int rc = cpm_store_begin(cpm_server_store(srv), false, &txn);
    if (rc == 0) {
        rc = hotspot_cursors(s->det, txn, seek_one, s);
        cpm_store_abort(&txn);
    }
    if (rc != 0)
        drop_sub(s);
    return rc;
}

/* Apply what the sweep kept: a short transaction (no waiting on the network). */
static int apply(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    cpm_svc_t *s = ctx;
    cpm_effects_t fx = cpm_server_effects(srv);
    memset(&s->counts, 0, sizeof s->counts);
    for (size_t i = 0; i < cpm_evqueue_len(s->q); i++) {
        const cpm_evq_item_t *e = cpm_evqueue_at(s->q, i);
        int rc =
            hotspot_apply(s->det, txn, &fx, e->node, e->service, e->ev, cpm_now_ms(), &s->counts);
        if (rc < 0)
            return -rc;
    }
    return 0;
}

static int purge(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    cpm_svc_t *s = ctx;
    cpm_sweep_stats_t stats = {0};
    int rc = hotspot_alert_purge(cpm_server_store(srv), txn, &s->purge, PURGE_STEP, cpm_now_ms(),
                                 HOTSPOT_RETENTION_MS, &stats);
    if (rc == 0)
        count(s, "hotspot.alerts_purged", stats.deleted);
    return rc;
}

static void on_tick(cpm_svc_t *s, cpm_server_t *srv)
{
    int64_t now = cpm_mono_ms();
    if (now - s->last_ms < TICK_EVERY_MS)
        return;
    s->last_ms = now;
    if (now - s->purge_ms >= PURGE_EVERY_MS) {
        s->purge_ms = now;
        if (cpm_server_write(srv, purge, s) != 0)
            count(s, "hotspot.purge_failed", 1);
    }
    if (!s->sub && make_sub(s) != 0)
        return;
    s->failed = 0;
    cpm_subscriber_sweep(s->sub, TICK_BUDGET, &s->failed);
    int rc = cpm_evqueue_bad(s->q)   ? -1
             : cpm_evqueue_len(s->q) ? cpm_server_write(srv, apply, s)
                                     : 0;
    cpm_evqueue_clear(s->q);
    if (rc != 0) {
        /* Not applied: the subscriber's cursor moved past events that were
         * not kept; start again from the stored cursors. */
        count(s, "hotspot.sweep_failed", 1);
        drop_sub(s);
        return;
    }
    hotspot_counts_t *c = &s->counts;
    count(s, "hotspot.events_applied", c->applied);
    count(s, "hotspot.events_ignored", c->ignored);
    count(s, "hotspot.events_already", c->already);
    count(s, "hotspot.events_bad", c->bad);
    count(s, "hotspot.events_future", c->future);
    s->future_unlogged += c->future;
    if (s->future_unlogged && now - s->future_log_ms >= FUTURE_LOG_MS) {
        cpm_info("hotspot: %llu complaint(s) dated more than max_skew_s ahead of the clock "
                 "refused (an intake's clock is wrong?)",
                 (unsigned long long)s->future_unlogged);
        s->future_unlogged = 0;
        s->future_log_ms = now;
    }
    count(s, "hotspot.keys_evicted", c->evicted);
    count(s, "hotspot.alerts_opened", c->opened);
    count(s, "hotspot.alerts_updated", c->updated);
    if (c->opened)
        cpm_info("hotspot: %llu alert(s) opened", (unsigned long long)c->opened);
    memset(c, 0, sizeof *c);
    if (s->failed > 0)
        s->last_ms = now + SWEEP_BACKOFF_MS - TICK_EVERY_MS;
}

static bool is_coordinator(const Cpm__Member *m)
{
    return m && (!strcmp(m->role, "coordinator") || !strcmp(m->role, "city"));
}

static int refuse(cpm_svc_t *s, const cpm_msg_t *m, const char *what, cpm_error_t *err)
{
    count(s, "hotspot.refused", 1);
    cpm_info("hotspot: %s refused to %s (role %s)", what, m->env->sender,
             m->member ? m->member->role : "?");
    return cpm_error_set(err, CPM_E_FORBIDDEN, "role",
                         "hotspots are for the city's coordinators; %s is %s", m->env->sender,
                         m->member ? m->member->role : "unknown");
}

static int on_list(cpm_svc_t *s, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                   ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    if (!is_coordinator(m->member))
        return refuse(s, m, "list", err);
    Cpm__HotspotListReply *r = NULL;
    int rc = hotspot_alert_list(cpm_server_store(srv), txn, (const Cpm__HotspotListQuery *)payload,
                                &r, err);
    if (rc != 0) {
        count(s, "hotspot.invalid", 1);
        return err->code ? err->code : cpm_error_set(err, rc, "", "list failed");
    }
    rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_HOTSPOT_LIST_REPLY, &r->base);
    hotspot_alert_list_free(&r);
    count(s, "hotspot.lists", 1);
    return rc;
}

static int on_decide(cpm_svc_t *s, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    if (!is_coordinator(m->member))
        return refuse(s, m, "decision", err);
    const Cpm__HotspotDecision *d = (const Cpm__HotspotDecision *)payload;
    cpm_effects_t fx = cpm_server_effects(srv);
    Cpm__HotspotAlert *a = NULL;
    int rc = hotspot_alert_decide(cpm_server_store(srv), txn, &fx, m->env->sender, cpm_now_ms(), d,
                                  &a, err);
    if (rc != 0) {
        count(s, "hotspot.decide_refused", 1);
        cpm_info("hotspot: decision on %s refused to %s: %s", d->id, m->env->sender, err->message);
        return rc;
    }
    count(s, d->confirm ? "hotspot.alerts_confirmed" : "hotspot.alerts_dismissed", 1);
    cpm_info("hotspot: %s %s by %s", a->id, a->state, m->env->sender);
    Cpm__HotspotDecisionReply r = CPM__HOTSPOT_DECISION_REPLY__INIT;
    r.alert = a;
    rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_HOTSPOT_DECIDE_REPLY, &r.base);
    cpm__hotspot_alert__free_unpacked(a, NULL);
    return rc;
}

static int init(cpm_server_t *srv, cpm_svc_t **st)
{
    cpm_svc_t *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->srv = srv;
    const cpm_config_t *cfg = cpm_server_config(srv);
    hotspot_cfg_t hc = {cfg->hotspot_window_h, cfg->hotspot_history_days, cfg->hotspot_min_count,
                        cfg->hotspot_p_max_e6, cfg->hotspot_keys_max,     cfg->max_skew_s};
    cpm_error_t err = {0};
    if (!(s->q = cpm_evqueue_new(TICK_BUDGET)) ||
        hotspot_new(&s->det, cpm_server_store(srv), &hc, &err) != 0) {
        fprintf(stderr, "cpmesh-hotspot: %s: %s\n", err.field, err.message);
        cpm_evqueue_destroy(&s->q);
        free(s);
        return -1;
    }
    cpm_info("hotspot: window %u h, history %u days, min %u, p < %u/1e6, at most %u keys",
             hc.window_h, hc.history_days, hc.min_count, hc.p_max_e6, hc.keys_max);
    *st = s;
    return 0;
}

static void fini(cpm_svc_t **st)
{
    cpm_svc_t *s = *st;
    if (!s)
        return;
    drop_sub(s);
    cpm_evqueue_clear(s->q);
    cpm_evqueue_destroy(&s->q);
    hotspot_destroy(&s->det);
    free(s);
    *st = NULL;
}

/* The subscriber borrows the registry: make a new one with the new version. */
static void registry_changed(cpm_svc_t *st, cpm_server_t *srv)
{
    (void)srv;
    drop_sub(st);
}

static const cpm_svc_request_t requests[] = {
    /* type, payload descriptor, write, entry, reads-only predicate, keep frame */
    {CPM__MSG_TYPE__MSG_HOTSPOT_LIST, &cpm__hotspot_list_query__descriptor, false, on_list, NULL,
     false},
    {CPM__MSG_TYPE__MSG_HOTSPOT_DECIDE, &cpm__hotspot_decision__descriptor, true, on_decide, NULL,
     false},
    {0}};

static const char *const dbs[] = {HOTSPOT_KEYS_DB,
                                  HOTSPOT_LRU_DB,
                                  HOTSPOT_OPEN_DB,
                                  HOTSPOT_ALERTS_DB,
                                  HOTSPOT_CURSORS_DB,
                                  CPM_RETENTION_DB,
                                  NULL};
static const cpm_service_t service = {
    .name = "hotspot",
    .databases = dbs,
    .config_requires = NULL,
    .requests = requests,
    .batches = NULL,
    .streams = NULL,
    .init = init,
    .fini = fini,
    .registry_changed = registry_changed,
    .tick = on_tick,
};

CPM_SERVICE_MAIN(service)
