/* cpmesh-monitor: the city's effectiveness reports (issue 10), on the city
 * node. It reads every intake, routing and inspection event stream of the
 * registry with cpm_subscriber (fetching in its tick), keeps per-case and
 * per-record facts in its own store with each source's cursor written in the
 * same transaction (exactly once across a crash), and answers
 * MonitorReportQuery for coordinators (monitor_facts, monitor_eff,
 * monitor_render).
 *
 *   cpmesh-monitor --config monitor.yaml   (needs rules: for the calendar
 *                                           and the jurisdiction lineage) */
#include "cpm_client.h"
#include "cpm_grant.h"
#include "cpm_log.h"
#include "cpm_rules.h"
#include "cpm_service.h"
#include "cpm_evqueue.h"
#include "cpm_subscriber.h"
#include "cpm_util.h"
#include "monitor.pb-c.h"
#include "monitor_agg.h"
#include "monitor_eff.h"
#include "monitor_facts.h"
#include "monitor_html.h"
#include "monitor_render.h"
#include "monitor_targets.h"
#include "monitor_triage.h"

#include <libgen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASES_MAX 5000000ULL /* case facts kept; new cases beyond are counted, not kept */
#define TICK_BUDGET 2000     /* events fetched, then applied, per tick */
#define REBUILD_BUDGET 5000  /* facts added to the aggregates per tick while rebuilding */
#define TICK_EVERY_MS 200
#define SWEEP_BACKOFF_MS 5000 /* between sweeps while a source does not answer */

struct cpm_svc {
    cpm_rules_t *rules;
    mon_cal_t *cal;
    mon_targets_t *targets; /* targets.csv beside the rules; NULL when absent */
    mon_map_t *map;         /* reform-2025/boundaries.geojson beside the rules; NULL when absent */
    cpm_client_t *client;
    cpm_subscriber_t *sub[3]; /* intake, routing, inspection (never itself) */
    cpm_server_t *srv;
    /* Events fetched by the sweep (outside any transaction), applied after
     * in one short write transaction. */
    cpm_evqueue_t *q;
    monitor_agg_pos_t agg; /* rebuilding the aggregates (stage 3: they are ready) */
    int failed;            /* sources that could not be read in the last sweep */
    uint64_t applied;
    int64_t last_ms;
};

static void count(cpm_svc_t *s, const char *name, uint64_t n)
{
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
        count(s, "monitor.events_refused", 1);
    cpm_info("monitor: %s/%s: notice %d %s", node, service, (int)what, detail ? detail : "");
}

static const char *const SOURCES[3] = {"intake", "routing", "inspection"};

static void seek_one(void *ctx, const char *node, const char *service, uint64_t seq,
                     const uint8_t hash[32])
{
    cpm_svc_t *s = ctx;
    for (int i = 0; i < 3; i++)
        if (!strcmp(service, SOURCES[i]) &&
            cpm_subscriber_seek(s->sub[i], node, service, seq, hash) != 0)
            cpm_info("monitor: stored cursor of %s/%s is not a source now", node, service);
}

static void drop_sub(cpm_svc_t *s)
{
    for (int i = 0; i < 3; i++)
        cpm_subscriber_destroy(&s->sub[i]);
    cpm_client_destroy(&s->client);
}

/* A subscriber at the cursors of the store (its own cursor store unused:
 * ours is written with the facts). */
static int make_sub(cpm_svc_t *s)
{
    cpm_server_t *srv = s->srv;
    cpm_error_t err = {0};
    if (cpm_client_new(&s->client, cpm_server_zctx(srv), cpm_server_registry(srv),
                       cpm_server_identity(srv), "monitor.sub", &err) != 0) {
        cpm_info("monitor: client: %s", err.message);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        cpm_sub_opts_t o = {.start_seq = 1,
                            .fetch_timeout_ms = 300, /* the loop waits on it: keep it short */
                            .on_event = on_event,
                            .on_notice = on_notice,
                            .arg = s};
        o.filter.service = SOURCES[i];
        if (cpm_subscriber_new(&s->sub[i], cpm_server_zctx(srv), cpm_server_registry(srv),
                               cpm_server_identity(srv), s->client, &o, &err) != 0) {
            cpm_info("monitor: subscriber of %s: %s", SOURCES[i], err.message);
            drop_sub(s);
            return -1;
        }
    }
    MDB_txn *txn;
    int rc = cpm_store_begin(cpm_server_store(srv), false, &txn);
    if (rc == 0) {
        rc = monitor_cursors(cpm_server_store(srv), txn, seek_one, s);
        cpm_store_abort(&txn);
    }
    if (rc != 0)
        drop_sub(s);
    return rc;
}

/* Fetch (the subscriber waits on sources, up to its fetch timeout each),
 * outside any transaction. */
static void fetch(cpm_svc_t *s)
{
    long left = TICK_BUDGET;
    s->failed = 0;
    for (int i = 0; i < 3 && left > 0 && !cpm_evqueue_bad(s->q); i++) {
        int failed = 0;
        long n = cpm_subscriber_sweep(s->sub[i], left, &failed);
        left -= n > 0 ? n : 0;
        s->failed += failed;
    }
}

/* Apply what fetch kept: a short transaction (no waiting on the network). */
static int apply(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    cpm_svc_t *s = ctx;
    (void)srv;
    for (size_t i = 0; i < cpm_evqueue_len(s->q); i++) {
        const cpm_evq_item_t *e = cpm_evqueue_at(s->q, i);
        int rc = monitor_apply(cpm_server_store(s->srv), txn, s->rules, s->cal, CASES_MAX, e->node,
                               e->service, e->ev);
        if (rc < 0)
            return rc;
        bool tfull = false; /* the model's accuracy (monitor_triage), with the same cursor */
        int trc = rc == MON_ALREADY ? 0
                                    : monitor_triage_apply(cpm_server_store(s->srv), txn, CASES_MAX,
                                                           e->service, e->ev, &tfull);
        if (trc != 0)
            return -trc;
        if (tfull)
            count(s, "monitor.triage_full", 1);
        if (rc == MON_FULL)
            count(s, "monitor.cases_full", 1);
        else if (rc == MON_ALREADY) /* a source sent again what was applied */
            count(s, "monitor.events_already", 1);
        else if (rc == MON_APPLIED)
            s->applied++;
    }
    return 0;
}

static int rebuild(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    cpm_svc_t *s = ctx;
    if (monitor_agg_ready(cpm_server_store(srv), txn)) {
        s->agg.stage = 3;
        return 0;
    }
    int rc = monitor_agg_rebuild(cpm_server_store(srv), txn, s->cal, &s->agg, REBUILD_BUDGET);
    return rc == 0 || rc == 1 ? 0 : rc; /* 1: done (stage 3) */
}

static void on_tick(cpm_svc_t *s, cpm_server_t *srv)
{
    int64_t now = cpm_now_ms();
    if (now - s->last_ms < TICK_EVERY_MS)
        return;
    s->last_ms = now;
    if (s->agg.stage != 3) {
        /* After an upgrade: the aggregates are rebuilt a bounded step per
         * tick before any event is applied (the sources keep them). */
        if (cpm_server_write(srv, rebuild, s) != 0) {
            count(s, "monitor.rebuild_failed", 1);
            s->agg.stage = 0; /* the step was rolled back: from the start */
        }
        return;
    }
    if (!s->sub[0] && make_sub(s) != 0)
        return;
    uint64_t before = s->applied;
    fetch(s);
    int rc = cpm_evqueue_bad(s->q)   ? -1
             : cpm_evqueue_len(s->q) ? cpm_server_write(srv, apply, s)
                                     : 0;
    cpm_evqueue_clear(s->q);
    if (rc != 0) {
        /* Not applied: the subscriber's cursors moved past events whose
         * facts were not kept; start again from the stored cursors. */
        count(s, "monitor.sweep_failed", 1);
        s->applied = before;
        drop_sub(s);
        return;
    }
    if (s->applied > before)
        count(s, "monitor.events_applied", s->applied - before);
    /* A source that does not answer costs the loop a fetch timeout on every
     * sweep: while one is away, sweep every few seconds only. */
    if (s->failed > 0)
        s->last_ms = now + SWEEP_BACKOFF_MS - TICK_EVERY_MS;
}

static bool is_coordinator(const Cpm__Member *m)
{
    return m && (!strcmp(m->role, "coordinator") || !strcmp(m->role, "city"));
}

static int on_report(cpm_svc_t *s, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    const Cpm__MonitorReportQuery *q = (const Cpm__MonitorReportQuery *)payload;
    const Cpm__Member *asker =
        cpm_grant_asker(srv, m, &q->on_behalf, "monitor_report", "monitor", err);
    if (!asker) {
        count(s, "monitor.report_refused", 1);
        return err->code;
    }
    if (!is_coordinator(asker)) {
        count(s, "monitor.report_refused", 1);
        return cpm_error_set(err, CPM_E_FORBIDDEN, "role",
                             "reports are for the city's coordinators; %s is %s", asker->id,
                             asker->role);
    }
    int64_t now = cpm_now_ms();
    mon_query_t mq = {.now_ms = now, .agency = q->agency};
    if (mon_period_parse(q->period, &mq.from_ms, &mq.to_ms) != 0) {
        count(s, "monitor.report_refused", 1);
        return cpm_error_set(err, CPM_E_INVALID, "period",
                             "period is YYYY, YYYY-MM, YYYY-Qn or YYYY-MM-DD..YYYY-MM-DD");
    }
    const char *fmt = *q->format ? q->format : "text";
    bool html = !strcmp(fmt, "html");
    if (strcmp(fmt, "text") && strcmp(fmt, "json") && strcmp(fmt, "csv") && !html) {
        count(s, "monitor.report_refused", 1);
        return cpm_error_set(err, CPM_E_INVALID, "format", "format is text, json, csv or html");
    }
    mon_area_t *areas = NULL;
    size_t n_areas = 0;
    if (*q->area) {
        if (monitor_areas(s->rules, q->area, now, &areas, &n_areas) != 0) {
            count(s, "monitor.report_refused", 1);
            return cpm_error_set(err, CPM_E_INVALID, "area",
                                 "area is not a unit of the rules' generations");
        }
        mq.areas = areas, mq.n_areas = n_areas;
    }
    mon_eff_t *e = calloc(1, sizeof *e);
    /* Whole months from the aggregates (no walk of the facts); any other
     * query walks the facts of its period only; every fact only while the
     * aggregates are being rebuilt after an upgrade. */
    cpm_store_t *st = cpm_server_store(srv);
    bool ready = monitor_agg_ready(st, txn), agg = ready && monitor_agg_covers(&mq);
    int rc = !e      ? -1
             : agg   ? monitor_agg_compute(st, txn, s->cal, &mq, e)
             : ready ? monitor_agg_scan(st, txn, s->cal, &mq, e)
                     : monitor_compute(st, txn, s->cal, &mq, e);
    count(s,
          agg     ? "monitor.reports_aggregated"
          : ready ? "monitor.reports_period_walk"
                  : "monitor.reports_full_walk",
          1);
    free(areas);
    char *body = NULL;
    size_t len = 0;
    mon_title_t t = {q->period, q->agency, q->area, 0, 0};
    MDB_stat ms;
    if (mdb_stat(txn, cpm_store_dbi(cpm_server_store(srv), "mon_cases"), &ms) == 0)
        t.cases_known = ms.ms_entries;
    if (rc == 0)
        rc = cpm_store_get_u64(cpm_server_store(srv), txn, MONITOR_SEEN_KEY, &t.events_seen);
    if (rc == 0 && (html ? monitor_render_html(&t, e, s->map, &body, &len)
                         : monitor_render(fmt, &t, e, &body, &len)) != 0)
        rc = -1;
    free(e);
    if (rc != 0) {
        free(body);
        return cpm_error_set(err, rc < 0 ? CPM_E_INTERNAL : rc, "", "report failed");
    }
    Cpm__MonitorReportReply r = CPM__MONITOR_REPORT_REPLY__INIT;
    r.format = (char *)fmt;
    r.body.data = (uint8_t *)body, r.body.len = len;
    r.events_applied = t.events_seen;
    r.cases_known = t.cases_known;
    rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_MONITOR_REPORT_REPLY, &r.base);
    free(body);
    count(s, "monitor.reports", 1);
    return rc;
}

/* The category model's accuracy in production: coordinators only. */
static int on_triage_stats(cpm_svc_t *s, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                           ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    const Cpm__TriageStatsQuery *q = (const Cpm__TriageStatsQuery *)payload;
    const Cpm__Member *asker =
        cpm_grant_asker(srv, m, &q->on_behalf, "triage_stats", "monitor", err);
    if (!asker || !is_coordinator(asker)) {
        count(s, "monitor.triage_refused", 1);
        cpm_info("triage stats refused to %s", m->env->sender);
        return asker ? cpm_error_set(err, CPM_E_FORBIDDEN, "role",
                                     "triage stats are for the city's coordinators; %s is %s",
                                     asker->id, asker->role)
                     : err->code;
    }
    Cpm__TriageStatsReply *r = NULL;
    int rc =
        monitor_triage_stats(cpm_server_store(srv), txn, q->from_ms, q->to_ms, cpm_now_ms(), &r);
    if (rc == CPM_E_INVALID) {
        count(s, "monitor.triage_refused", 1);
        rc = cpm_error_set(err, rc, "to_ms", "to_ms must be after from_ms (and from_ms >= 0)");
    } else if (rc != 0) {
        rc = cpm_error_set(err, rc < 0 ? CPM_E_INTERNAL : rc, "", "triage stats failed");
    } else {
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_TRIAGE_STATS_REPLY, &r->base);
        count(s, "monitor.triage_stats", 1);
    }
    monitor_triage_free(&r);
    return rc;
}

/* An activity towards a programme target, signed by the agency that did it. */
static int on_record(cpm_svc_t *s, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    if (!s->targets)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "target", "the monitor has no targets.csv");
    Cpm__ProgrammeRecordReply r = CPM__PROGRAMME_RECORD_REPLY__INIT;
    int rc = mon_targets_record(s->targets, cpm_server_store(srv), txn, m->member->agency,
                                is_coordinator(m->member), (const Cpm__ProgrammeActivity *)payload,
                                m->frame, m->frame_len, &r, err);
    if (rc != 0) {
        count(s, "monitor.programme_refused", 1);
        cpm_info("programme record refused to %s: %s", m->env->sender, err->message);
        return rc;
    }
    count(s, r.duplicate ? "monitor.programme_duplicate" : "monitor.programme_recorded", 1);
    rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_PROGRAMME_RECORD_REPLY, &r.base);
    mon_targets_reply_clear(&r);
    return rc;
}

static int on_progress(cpm_svc_t *s, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                       ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    (void)m;
    if (!s->targets)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "year", "the monitor has no targets.csv");
    Cpm__ProgrammeProgressReply *r = NULL;
    int rc = mon_targets_progress(s->targets, cpm_server_store(srv), txn, cpm_server_registry(srv),
                                  ((const Cpm__ProgrammeProgressQuery *)payload)->year, &r, err);
    if (rc == 0)
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_PROGRAMME_PROGRESS_REPLY, &r->base);
    mon_targets_progress_free(&r);
    return rc;
}

static int init(cpm_server_t *srv, cpm_svc_t **st)
{
    cpm_svc_t *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->srv = srv;
    if (!(s->q = cpm_evqueue_new(TICK_BUDGET))) {
        free(s);
        return -1;
    }
    cpm_error_t err = {0};
    const char *path = cpm_server_config(srv)->rules;
    if (cpm_rules_load(path, &s->rules, &err) != 0) {
        fprintf(stderr, "cpmesh-monitor: rules %s: %s\n", path, err.message);
        cpm_evqueue_destroy(&s->q);
        free(s);
        return -1;
    }
    if (!(s->cal = monitor_cal_from_rules(s->rules))) {
        cpm_rules_destroy(&s->rules);
        cpm_evqueue_destroy(&s->q);
        free(s);
        return -1;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char tpath[1100];
    const char *d = dirname(dir); /* may be a static "." */
    snprintf(tpath, sizeof tpath, "%s/targets.csv", d);
    if (mon_targets_load(tpath, &s->targets, &err) != 0)
        cpm_info("monitor: no programme targets (%s)", err.message);
    char mpath[1100], merr[256];
    snprintf(mpath, sizeof mpath, "%s/reform-2025/boundaries.geojson", d);
    if (mon_map_load(mpath, &s->map, merr, sizeof merr) != 0)
        cpm_info("monitor: no map for HTML reports (%s)", merr);
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
    mon_cal_destroy(&s->cal);
    cpm_rules_destroy(&s->rules);
    mon_targets_destroy(&s->targets);
    mon_map_destroy(&s->map);
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
    {CPM__MSG_TYPE__MSG_MONITOR_REPORT, &cpm__monitor_report_query__descriptor, false, on_report,
     NULL, false},
    {CPM__MSG_TYPE__MSG_PROGRAMME_RECORD, &cpm__programme_activity__descriptor, true, on_record,
     NULL, true},
    {CPM__MSG_TYPE__MSG_PROGRAMME_PROGRESS, &cpm__programme_progress_query__descriptor, false,
     on_progress, NULL, false},
    {CPM__MSG_TYPE__MSG_TRIAGE_STATS, &cpm__triage_stats_query__descriptor, false, on_triage_stats,
     NULL, false},
    {0}};

static const char *const dbs[] = {MONITOR_DATABASES, MONITOR_TRIAGE_DBS, NULL};
static const char *const requires[] = {"rules", NULL};
static const cpm_service_t service = {
    .name = "monitor",
    .databases = dbs,
    .config_requires = requires,
    .requests = requests,
    .batches = NULL,
    .streams = NULL,
    .init = init,
    .fini = fini,
    .registry_changed = registry_changed,
    .tick = on_tick,
};

CPM_SERVICE_MAIN(service)
