/* cpmesh-routing: the city's register of every case. Routes each complaint
 * to the responsible agency by the rule table, delivers it to that agency's
 * inspection service, follows its state and answers status queries.
 *
 *   cpmesh-routing --config routing.yaml */
#include "cpm_grant.h"
#include "cpm_log.h"
#include "cpm_ratelimit.h"
#include "cpm_rules.h"
#include "cpm_rules_watch.h"
#include "cpm_service.h"
#include "cpm_util.h"
#include "routing_bounds.h"
#include "routing_categorize.h"
#include "routing_clusters.h"
#include "routing_deadlines.h"
#include "routing_contact.h"
#include "routing_deliver.h"
#include "routing_domain.h"
#include "routing_list.h"
#include "routing_report.h"
#include "routing_watch.h"
#include "routing_reorg.h"
#include "routing_transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The service cases are assigned to: routing sends it the assignments, so a
 * rule may only name an agency that runs it. */
#define ASSIGNED_TO "inspection"

struct cpm_svc {
    cpm_rules_watch_t *watch; /* owns rules, reloads them in place */
    cpm_rules_t *rules;
};

static int on_complaint(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                        ProtobufCMessage *rec, cpm_error_t *err)
{
    Cpm__Complaint *c =
        (Cpm__Complaint *)rec; /* the library's copy: the clear contact is dropped */
    cpm_effects_t fx = cpm_server_effects(srv);
    routing_took_t took;
    /* made ahead on the verification pool when the batch was (see below) */
    int rc =
        routing_take_complaint(st->rules, cpm_server_registry(srv), cpm_server_store(srv), txn, &fx,
                               m->env->sender, c, cpm_now_ms(), &took, cpm_svc_prepared(srv), err);
    /* Routing never holds a contact in clear: an intake that sends one
     * (an old version) loses it here, counted and logged. */
    if (took.clear_dropped) {
        cpm_metrics_add(cpm_server_metrics(srv), "contact.clear_dropped", 1);
        cpm_warn("%s sent the contact of %s in clear; dropped (intake must seal it)",
                 m->env->sender, c->ticket);
    }
    if (took.unreadable)
        cpm_metrics_add(cpm_server_metrics(srv), "contact.unreadable", 1);
    return rc;
}

static int on_update(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *rec, cpm_error_t *err)
{
    cpm_effects_t fx = cpm_server_effects(srv);
    const Cpm__CaseUpdate *u = (const Cpm__CaseUpdate *)rec;
    if (routing_contact_is_follow(u)) { /* the contact follows a moved case */
        int frc = routing_contact_follow(cpm_server_store(srv), txn, &fx, m->env->sender, u, err);
        cpm_metrics_add(cpm_server_metrics(srv), frc ? "contact.refused" : "contact.followed", 1);
        if (frc)
            cpm_warn("contact for %s from %s refused: %s", u->ticket, m->env->sender, err->message);
        return frc;
    }
    int rc = routing_apply_update(st->rules, cpm_server_registry(srv), cpm_server_store(srv), txn,
                                  &fx, m->env->sender, u, err);
    if (rc != 0 && !strcmp(err->field, "signed_action")) /* an act its officer did not sign */
        cpm_metrics_add(cpm_server_metrics(srv), "signed_acts.refused", 1);
    if (rc != 0 || u->state != CPM__CASE_STATE__CASE_STATE_REFUSED)
        return rc;
    /* "Not ours": route it again, or to the coordinators (routing_transfer). */
    bool unassigned = false;
    rc = routing_return(st->rules, cpm_server_registry(srv), cpm_server_store(srv), txn, &fx,
                        u->ticket, m->env->sender, cpm_now_ms(), &unassigned, err);
    if (rc == 0 && unassigned) {
        cpm_metrics_add(cpm_server_metrics(srv), "cases.unassigned", 1);
        cpm_info("case %s returned twice: with the city's coordinators", u->ticket);
    }
    return rc;
}

/* A coordinator chooses a case's category, and so where it goes. */
static int on_categorize(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                         const Cpm__CaseAssign *q, cpm_reply_t *reply, cpm_error_t *err)
{
    cpm_effects_t fx = cpm_server_effects(srv);
    routing_categorized_t out;
    int rc = routing_categorize(st->rules, cpm_server_registry(srv), cpm_server_store(srv), txn,
                                &fx, m->member, q, cpm_now_ms(), &out, err);
    if (rc != 0) {
        cpm_metrics_add(cpm_server_metrics(srv), "case_categorize.refused", 1);
        cpm_warn("category of %s by %s refused: %s", q->ticket, m->env->sender, err->message);
        return rc;
    }
    cpm_metrics_add(cpm_server_metrics(srv), "case_categorize.done", 1);
    cpm_info("case %s: category %s chosen by %s, with %s%s", q->ticket, q->category, m->env->sender,
             *out.agency ? out.agency : "(coordinators)", out.duplicate ? " (it already was)" : "");
    Cpm__CaseAssignReply r = CPM__CASE_ASSIGN_REPLY__INIT;
    r.ticket = q->ticket;
    r.agency = out.agency;
    r.state = out.state;
    r.duplicate = out.duplicate;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_CASE_ASSIGN_REPLY, &r.base);
}

/* A coordinator gives a case to an agency by hand (routing_case_assign). */
static int on_case_assign(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                          ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    const Cpm__CaseAssign *q = (const Cpm__CaseAssign *)payload;
    cpm_effects_t fx = cpm_server_effects(srv);
    if (*q->category) /* a coordinator's choice of category (routing_categorize) */
        return on_categorize(st, srv, txn, m, q, reply, err);
    Cpm__CaseState state = CPM__CASE_STATE__CASE_STATE_UNSPECIFIED;
    bool dup = false;
    int rc = routing_case_assign(st->rules, cpm_server_registry(srv), cpm_server_store(srv), txn,
                                 &fx, m->member, q, cpm_now_ms(), &state, &dup, err);
    if (rc != 0) {
        cpm_metrics_add(cpm_server_metrics(srv), "case_assign.refused", 1);
        cpm_warn("case assign of %s by %s refused: %s", q->ticket, m->env->sender, err->message);
        return rc;
    }
    cpm_metrics_add(cpm_server_metrics(srv), "case_assign.done", 1);
    cpm_info("case %s assigned to %s by %s%s", q->ticket, q->agency, m->env->sender,
             dup ? " (it already was)" : "");
    Cpm__CaseAssignReply r = CPM__CASE_ASSIGN_REPLY__INIT;
    r.ticket = q->ticket;
    r.agency = q->agency;
    r.state = state;
    r.duplicate = dup;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_CASE_ASSIGN_REPLY, &r.base);
}

/* The agency's node acknowledged an assignment: the case is assigned. Only
 * the Assignment's ticket is needed, read from its bytes. */
static int on_delivered(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const char *agency,
                        const uint8_t *rec, size_t len)
{
    (void)st;
    char ticket[ROUTING_TICKET_MAX];
    if (routing_assignment_ticket(rec, len, ticket) != 0) {
        /* our own record: only a bug or a damaged store gets here */
        cpm_error("%s/%s: an acknowledged assignment does not read (%zu bytes); passed over",
                  agency, ASSIGNED_TO, len);
        return 0;
    }
    cpm_effects_t fx = cpm_server_effects(srv);
    return routing_assignment_delivered_ticket(cpm_server_store(srv), txn, &fx, agency, ticket,
                                               cpm_now_ms());
}

/* Scoped by who asks (routing_status_for): officers see their agency's
 * cases, coordinators all, the public view needs the ticket's lookup code. */
static int on_status(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    const Cpm__StatusQuery *q = (const Cpm__StatusQuery *)payload;
    const Cpm__Member *asker =
        cpm_grant_asker(srv, m, &q->on_behalf, "status_query", "routing", err);
    if (!asker)
        return err->code;
    int rc;
    bool hidden;
    Cpm__StatusReply *r =
        routing_status_for(cpm_server_store(srv), txn, asker, q, &rc, &hidden, err);
    if (r) {
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_STATUS_REPLY, &r->base);
    } else if (hidden) { /* a case exists but was not shown: someone may be guessing */
        cpm_metrics_add(cpm_server_metrics(srv), "status.not_visible", 1);
        static cpm_ratelimit_t hidden_log = CPM_RATELIMIT_INIT(20, 10000);
        uint64_t dropped = 0;
        if (cpm_ratelimit_allow(&hidden_log, cpm_mono_ms(), &dropped))
            cpm_info("status of %s not shown to %s (%s)%s", q->ticket, m->env->sender,
                     *q->lookup_code ? "wrong lookup code" : "not its agency's case",
                     cpm_ratelimit_note(dropped));
    }
    cpm__status_reply__free_unpacked(r, NULL);
    return rc;
}

/* Clusters of consumers about one business: the city's coordinators only. */
static int on_clusters(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                       ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    const Cpm__ClustersQuery *q = (const Cpm__ClustersQuery *)payload;
    const char *role = m->member->role;
    if (strcmp(role, "coordinator") != 0 && strcmp(role, "city") != 0) {
        cpm_metrics_add(cpm_server_metrics(srv), "clusters.forbidden", 1);
        cpm_info("clusters refused to %s (role %s)", m->env->sender, role);
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "clusters are for the city's coordinators; %s is %s", m->env->sender,
                             role);
    }
    Cpm__ClustersReply *r = NULL;
    int rc = routing_clusters_page(cpm_server_store(srv), txn, q, &r, err);
    if (rc == CPM_E_INVALID) {
        cpm_metrics_add(cpm_server_metrics(srv), "clusters.invalid", 1);
        cpm_info("clusters query of %s refused: %s", m->env->sender, err->message);
    }
    if (rc == 0)
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_CLUSTERS_REPLY, &r->base);
    routing_clusters_free(&r);
    return rc;
}

/* Lists of cases, scoped like status (routing_list). */
static int on_case_list(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                        ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    (void)st;
    const Cpm__CaseListQuery *q = (const Cpm__CaseListQuery *)payload;
    const Cpm__Member *asker =
        cpm_grant_asker(srv, m, &q->on_behalf, "case_list_query", "routing", err);
    if (!asker)
        return err->code;
    Cpm__CaseListReply *r = NULL;
    int rc = routing_list(cpm_server_store(srv), txn, asker, q, cpm_now_ms(), &r, err);
    if (rc == 0)
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_CASE_LIST_REPLY, &r->base);
    else if (rc == CPM_E_FORBIDDEN)
        cpm_metrics_add(cpm_server_metrics(srv), "cases.list_refused", 1);
    routing_list_free(&r);
    return rc;
}

/* Cases by area in either generation: coordinators only (routing_report). */
static int on_report(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    const Cpm__Member *asker = cpm_registry_member(cpm_server_registry(srv), m->env->sender);
    Cpm__ReportReply *r = NULL;
    int rc = routing_report(st->rules, cpm_server_store(srv), txn, asker,
                            (const Cpm__ReportQuery *)payload, cpm_now_ms(), &r, err);
    if (rc == 0) {
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_REPORT_REPLY, &r->base);
        if (r->truncated)
            cpm_metrics_add(cpm_server_metrics(srv), "report.truncated", 1);
    } else {
        cpm_metrics_add(cpm_server_metrics(srv), "report.refused", 1);
        cpm_info("report refused to %s: %s", m->env->sender, err->message);
    }
    routing_report_free(&r);
    return rc;
}

static int watch_deadlines(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    cpm_svc_t *st = ctx;
    cpm_effects_t fx = cpm_server_effects(srv);
    routing_watch_stats_t s;
    int rc = routing_watch_tick(st->rules, cpm_server_store(srv), txn, &fx, cpm_now_ms(), 1000, &s);
    if (rc != 0)
        return rc;
    cpm_metrics_t *mx = cpm_server_metrics(srv);
    cpm_metrics_add(mx, "deadlines.reminded", s.reminders);
    cpm_metrics_add(mx, "deadlines.overdue", s.escalated);
    cpm_metrics_add(mx, "deadlines.stale", s.stale);
    if (s.reminders || s.escalated)
        cpm_info("deadlines: %zu reminder%s, %zu escalated as overdue", s.reminders,
                 s.reminders == 1 ? "" : "s", s.escalated);
    return 0;
}

/* A generation that took effect: move the open cases of retired units, a
 * bounded number per tick, each step one transaction with its cursor. */
#define REORG_STEP 200
static int reorg_step(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    cpm_svc_t *st = ctx;
    cpm_effects_t fx = cpm_server_effects(srv);
    routing_reorg_stats_t s;
    int rc = routing_reorg_step(st->rules, cpm_server_registry(srv), cpm_server_store(srv), txn,
                                &fx, cpm_now_ms(), REORG_STEP, &s);
    if (rc != 0)
        return rc;
    cpm_metrics_t *m = cpm_server_metrics(srv);
    cpm_metrics_add(m, "reorg.moved", s.moved);
    cpm_metrics_add(m, "reorg.triaged", s.triaged);
    cpm_metrics_add(m, "reorg.relabelled", s.relabelled);
    if (s.moved || s.triaged || s.relabelled)
        cpm_info("reorganization to generation %s: %zu moved, %zu to triage, %zu relabelled of "
                 "%zu cases looked at",
                 s.generation, s.moved, s.triaged, s.relabelled, s.scanned);
    if (s.finished)
        cpm_info("reorganization to generation %s applied", s.generation);
    return 0;
}

/* Once a second: take a changed rules file; remind agencies of deadlines
 * that come near and escalate those that passed (routing_watch); take a
 * bounded step of a reorganization in progress (routing_reorg). */
static void on_tick(cpm_svc_t *st, cpm_server_t *srv)
{
    /* 1 (taken), 0, or the code of a refusal, which is counted and logged
     * inside: the rules in force stay, so there is nothing more to do here. */
    int watched = cpm_rules_watch_check(st->watch, cpm_server_metrics(srv));
    (void)watched;
    int rc = cpm_server_write(srv, watch_deadlines, st);
    if (rc != 0)
        cpm_warn("deadline watch failed: %s", cpm_err_name(rc));
    if ((rc = cpm_server_write(srv, reorg_step, st)) != 0)
        cpm_warn("reorganization step failed (retried next tick): %s", cpm_err_name(rc));
    routing_bounds_tick(srv);
}

static void fini(cpm_svc_t **st)
{
    if (!*st)
        return;
    cpm_rules_watch_destroy(&(*st)->watch);
    free(*st);
    *st = NULL;
}

static int init(cpm_server_t *srv, cpm_svc_t **out)
{
    const char *path = cpm_server_config(srv)->rules;
    cpm_svc_t *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    *out = st;
    cpm_error_t rerr;
    if (cpm_rules_watch_new(path, ASSIGNED_TO, &st->watch, &rerr) != 0) {
        fprintf(stderr, "cpmesh-routing: rules %s: %s\n", path, rerr.message);
        return -1;
    }
    st->rules = cpm_rules_watch_rules(st->watch);
    routing_dupes_set_window((int64_t)cpm_server_config(srv)->link_window_s * 1000);
    routing_themes_set_window((int64_t)cpm_server_config(srv)->clusters_window_days * 86400000LL);
    /* A store written before "clusters.order": its rank index moved before
     * anything is served (a clusters query reads the new one only). */
    size_t moved = 0, txns = 0;
    int rc = routing_clusters_rank_upgrade(cpm_server_store(srv), 5000, &moved, &txns);
    if (rc != 0) {
        fprintf(stderr, "cpmesh-routing: moving the clusters' rank index: %s\n", cpm_err_name(rc));
        return -1;
    }
    if (moved)
        cpm_info("clusters: %zu rank entries moved to %s in %zu transactions", moved,
                 ROUTING_CLUSTER_RANK_DB, txns);
    return 0;
}

static const char *const dbs[] = ROUTING_DBS;
static const char *const requires[] = {"rules", NULL};

static const cpm_svc_request_t requests[] = {
    {CPM__MSG_TYPE__MSG_STATUS_QUERY, &cpm__status_query__descriptor, false, on_status, NULL,
     false},
    {CPM__MSG_TYPE__MSG_CASE_LIST_QUERY, &cpm__case_list_query__descriptor, false, on_case_list,
     NULL, false},
    {CPM__MSG_TYPE__MSG_CASE_ASSIGN, &cpm__case_assign__descriptor, true, on_case_assign, NULL,
     false},
    {CPM__MSG_TYPE__MSG_CLUSTERS_QUERY, &cpm__clusters_query__descriptor, false, on_clusters, NULL,
     false},
    {CPM__MSG_TYPE__MSG_REPORT_QUERY, &cpm__report_query__descriptor, false, on_report, NULL,
     false},
    {0}};
/* What routing_dupes_link takes from a complaint alone (its business's key,
 * its description folded, cut into words, hashed and signed): ~45k of the
 * ~207k instructions of routing a complaint, made for a whole batch at once
 * on the verification pool's threads while the records wait to be applied. */
static void *prepare_complaint(const ProtobufCMessage *rec)
{
    return routing_dupes_pre_new((const Cpm__Complaint *)rec);
}

static void release_complaint(void *p)
{
    routing_dupes_pre_t *pre = p;
    routing_dupes_pre_destroy(&pre);
}

static const cpm_svc_batch_t batches[] = {
    {CPM__MSG_TYPE__MSG_CASE_BATCH, &cpm__complaint__descriptor, on_complaint, prepare_complaint,
     release_complaint},
    {CPM__MSG_TYPE__MSG_UPDATE_BATCH, &cpm__case_update__descriptor, on_update, NULL, NULL},
    {0}};
static const cpm_svc_stream_t streams[] = {{ASSIGNED_TO, CPM__MSG_TYPE__MSG_ASSIGN_BATCH}, {0}};
static const cpm_svc_acked_t acked[] = {{ASSIGNED_TO, NULL, NULL, on_delivered}, {0}};

static const cpm_service_t service = {
    .name = "routing",
    .databases = dbs,
    .config_requires = requires,
    .requests = requests,
    .batches = batches,
    .streams = streams,
    .acked = acked,
    .init = init,
    .fini = fini,
    .tick = on_tick,
};

CPM_SERVICE_MAIN(service)
