/* cpmesh-inspection: one agency's cases. Receives the cases routing assigns
 * here, lets its officers accept, refuse or resolve them, and reports every
 * change back to routing.
 *
 *   cpmesh-inspection --config inspection.yaml */
#include "cpm_log.h"
#include "cpm_ratelimit.h"
#include "cpm_service.h"
#include "cpm_util.h"
#include "inspection_domain.h"
#include "inspection_plan.h"
#include "inspection_review.h"
#include "inspection_field.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cpm_svc {
    inspection_t in;
    char routing[128];              /* the routing member of the current registry */
    inspection_checklists_t *lists; /* config checklists; NULL: none */
    inspection_plans_t plans;
    inspection_field_t field;       /* field sync (inspection_field.h) */
    cpm_sweep_cursor_t acts_cursor; /* where the acts retention goes on next tick */
};

/* The transport key of member, to re-seal a contact for it. */
static const uint8_t *peer_key(void *ctx, const char *member)
{
    const Cpm__Member *m = cpm_registry_member(cpm_server_registry(ctx), member);
    return m && m->curve_pk.len == 32 ? m->curve_pk.data : NULL;
}

static void count(void *ctx, const char *counter)
{
    cpm_metrics_add(cpm_server_metrics(ctx), counter, 1);
}

/* Field sync: the evidence folder under data_dir (bytes never in LMDB). */
static int field_init(cpm_server_t *srv, cpm_svc_t *s)
{
    const cpm_config_t *cfg = cpm_server_config(srv);
    char dir[1200];
    cpm_error_t e = {0};
    snprintf(dir, sizeof dir, "%s/evidence", cfg->data_dir);
    inspection_field_t f = {
        cfg->node, cpm_server_registry(srv), NULL, cfg->field_share_contact, &s->in, count, srv};
    f.evidence = cpm_evidence_open(dir, (uint64_t)cfg->evidence_max_mb << 20, &e);
    if (!f.evidence) {
        cpm_error("evidence folder: %s", e.message);
        return -1;
    }
    s->field = f;
    return 0;
}

static int init(cpm_server_t *srv, cpm_svc_t **st)
{
    cpm_svc_t *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    const cpm_identity_t *id = cpm_server_identity(srv);
    const cpm_config_t *cfg = cpm_server_config(srv);
    inspection_t in = {cfg->node,
                       s->routing,
                       id->curve_pk,
                       id->curve_sk,
                       (int64_t)cfg->reopen_period_s * 1000,
                       (int64_t)cfg->max_skew_s * 1000,
                       peer_key,
                       count,
                       srv,
                       (int64_t)cfg->acts_window_days * 86400000LL};
    s->in = in;
    cpm_error_t err = {0};
    if (cfg->checklists && inspection_checklists_load(cfg->checklists, &s->lists, &err) != 0) {
        cpm_log(CPM_LOG_ERROR, "checklists: %s", err.message);
        free(s);
        return -1;
    }
    inspection_plans_t plans = {cfg->node, s->lists, cpm_server_registry(srv)};
    s->plans = plans;
    if (field_init(srv, s) != 0) {
        inspection_checklists_destroy(&s->lists);
        free(s);
        return -1;
    }
    *st = s;
    return 0;
}

static void fini(cpm_svc_t **st)
{
    if (*st) {
        inspection_checklists_destroy(&(*st)->lists);
        cpm_evidence_destroy(&(*st)->field.evidence);
    }
    free(*st);
    *st = NULL;
}

static void registry_changed(cpm_svc_t *st, cpm_server_t *srv)
{
    const Cpm__Member *routing = cpm_server_find_service(srv, "routing");
    snprintf(st->routing, sizeof st->routing, "%s", routing ? routing->id : "");
    st->plans.reg = cpm_server_registry(srv);
    st->field.reg = cpm_server_registry(srv);
}

static int on_assignment(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                         ProtobufCMessage *rec, cpm_error_t *err)
{
    cpm_effects_t fx = cpm_server_effects(srv);
    return inspection_apply_assignment(&st->in, cpm_server_store(srv), txn, &fx,
                                       (const Cpm__Assignment *)rec, cpm_now_ms(), err);
}

/* An officer of this agency looks at a case: its state and, opened here
 * with this node's key, the consumer's contact. Nothing changes. */
static int show(cpm_server_t *srv, MDB_txn *txn, const inspection_t *in, const Cpm__CaseAction *a,
                cpm_reply_t *reply, cpm_error_t *err)
{
    inspection_view_t v;
    int rc = inspection_show(in, cpm_server_store(srv), txn, a->ticket, &v, err);
    if (rc != 0)
        return rc;
    if (!strcmp(v.contact_status, "sealed_for_other") || !strcmp(v.contact_status, "unreadable"))
        cpm_metrics_add(cpm_server_metrics(srv), "contact.unreadable", 1);
    Cpm__CaseActionReply r = CPM__CASE_ACTION_REPLY__INIT;
    r.ticket = a->ticket;
    r.state = v.state;
    r.contact = v.contact;
    r.contact_status = (char *)v.contact_status;
    r.contact_for = v.contact_for;
    rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_CASE_ACTION_REPLY, &r.base);
    cpm__contact_card__free_unpacked(v.contact, NULL);
    return rc;
}

/* "show" writes nothing: served at once, even while the store is too full
 * for new work, by on_action all the same (one authorization). */
static bool action_reads(const ProtobufCMessage *payload)
{
    const Cpm__CaseAction *a = (const Cpm__CaseAction *)payload;
    return a->action == CPM__CASE_ACTION_KIND__CASE_ACTION_SHOW;
}

static int on_action(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    /* Responsibility is per agency: its own officers act on its cases; the
     * city's coordinators (and the consumer, through an operator) only make
     * the moves the table gives them (close, reopen), and never see the
     * contact. */
    bool own = !strcmp(m->member->agency, cpm_server_config(srv)->node);
    inspection_actor_t who = {m->env->sender, cpm_case_actor_of(m->member->role, own), m->frame,
                              m->frame_len, m->env->key_id};
    const Cpm__CaseAction *a = (const Cpm__CaseAction *)payload;
    if (!who.as || (!own && action_reads(payload))) {
        cpm_metrics_add(cpm_server_metrics(srv), "case.action_forbidden", 1);
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "%s belongs to %s and cannot act on cases of %s", m->env->sender,
                             m->member->agency, cpm_server_config(srv)->node);
    }
    if (action_reads(payload))
        return show(srv, txn, &st->in, a, reply, err);
    cpm_effects_t fx = cpm_server_effects(srv);
    Cpm__CaseState state = CPM__CASE_STATE__CASE_STATE_UNSPECIFIED;
    bool dup = false;
    int rc = inspection_act(&st->in, cpm_server_store(srv), txn, &fx, &who, a, cpm_now_ms(), &state,
                            &dup, err);
    if (rc == CPM_E_INVALID && !strcmp(err->field, "acted_ms")) {
        /* an act too old for the memory of acts, or without its time */
        static cpm_ratelimit_t act_log = CPM_RATELIMIT_INIT(20, 10000);
        uint64_t dropped;
        if (cpm_ratelimit_allow(&act_log, cpm_mono_ms(), &dropped))
            cpm_info("act of %s on %s refused: %s%s", m->env->sender, a->ticket, err->message,
                     cpm_ratelimit_note(dropped));
    }
    if (rc != 0)
        return rc;
    Cpm__CaseActionReply r = CPM__CASE_ACTION_REPLY__INIT;
    r.ticket = a->ticket;
    r.state = state;
    r.duplicate = dup;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_CASE_ACTION_REPLY, &r.base);
}

/* Once a second: a bounded step of forgetting old offline act ids. */
static void on_tick(cpm_svc_t *st, cpm_server_t *srv)
{
    inspection_acts_tick(srv, st->in.acts_window_ms, &st->acts_cursor);
}

/* Inspections (inspection_plan, inspection_review): plan, assign, review
 * and query all answer an InspectionReply; a refusal is counted. */
static int inspection_reply(cpm_server_t *srv, const cpm_msg_t *m, int rc, Cpm__InspectionReply *r,
                            cpm_reply_t *reply, const cpm_error_t *err)
{
    if (rc == 0)
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_INSPECTION_REPLY, &r->base);
    else if (rc == CPM_E_FORBIDDEN)
        cpm_metrics_add(cpm_server_metrics(srv), "inspection.forbidden", 1);
    else if (rc == CPM_E_INVALID || rc == CPM_E_CONFLICT || rc == CPM_E_TOO_LARGE ||
             rc == CPM_E_NOT_FOUND)
        cpm_metrics_add(cpm_server_metrics(srv), "inspection.refused", 1);
    if (rc != 0) /* the messages quote only ids and fields checked before */
        cpm_log(CPM_LOG_WARN, "inspection request of %s refused: %s (%s): %s", m->env->sender,
                cpm_err_name(rc), err->field, err->message);
    inspection_reply_clear(r);
    return rc;
}

#define WHO(m)                                                                                     \
    {                                                                                              \
        (m)->env->sender, (m)->member->role, (m)->member->agency                                   \
    }

static int on_plan(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                   ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    inspection_who_t who = WHO(m);
    cpm_effects_t fx = cpm_server_effects(srv);
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    int rc = inspection_plan_new(&st->plans, cpm_server_store(srv), txn, &fx, &who,
                                 (const Cpm__InspectionPlan *)payload, cpm_now_ms(), &r, err);
    return inspection_reply(srv, m, rc, &r, reply, err);
}

static int on_assign(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    inspection_who_t who = WHO(m);
    cpm_effects_t fx = cpm_server_effects(srv);
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    int rc = inspection_plan_assign(&st->plans, cpm_server_store(srv), txn, &fx, &who,
                                    (const Cpm__InspectionAssign *)payload, cpm_now_ms(), &r, err);
    return inspection_reply(srv, m, rc, &r, reply, err);
}

static int on_review(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    inspection_who_t who = WHO(m);
    cpm_effects_t fx = cpm_server_effects(srv);
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    int rc = inspection_review(&st->plans, &st->in, cpm_server_store(srv), txn, &fx, &who,
                               (const Cpm__InspectionReview *)payload, cpm_now_ms(), &r, err);
    return inspection_reply(srv, m, rc, &r, reply, err);
}

static int on_inspection_query(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                               ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    inspection_who_t who = WHO(m);
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    int rc = inspection_plan_query(&st->plans, cpm_server_store(srv), txn, &who,
                                   (const Cpm__InspectionQuery *)payload, &r, err);
    return inspection_reply(srv, m, rc, &r, reply, err);
}

static int on_field_checkout(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                             ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    Cpm__FieldCheckoutReply r;
    int rc = inspection_field_checkout(&st->field, cpm_server_store(srv), txn, m->env->sender,
                                       cpm_now_ms(), &r, err);
    if (rc != 0)
        return rc;
    rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_FIELD_CHECKOUT_REPLY, &r.base);
    inspection_field_checkout_free(&r);
    return rc;
}

static int on_field_upload(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                           ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    cpm_effects_t fx = cpm_server_effects(srv);
    Cpm__FieldUploadReply r;
    int rc = inspection_field_upload(&st->field, cpm_server_store(srv), txn, &fx, m->env->sender,
                                     (const Cpm__FieldUpload *)payload, cpm_now_ms(), &r, err);
    if (rc != 0)
        return rc;
    rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_FIELD_UPLOAD_REPLY, &r.base);
    inspection_field_upload_free(&r);
    return rc;
}

static int on_evidence_chunk(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                             ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    Cpm__EvidenceStatus r;
    int rc = inspection_field_chunk(&st->field, cpm_server_store(srv), txn, m->env->sender,
                                    (const Cpm__EvidenceChunk *)payload, &r, err);
    return rc ? rc : cpm_reply_set(reply, CPM__MSG_TYPE__MSG_EVIDENCE_REPLY, &r.base);
}

static const char *const dbs[] = INSPECTION_DBS;

static const cpm_svc_request_t requests[] = {
    /* the officer's signed act is kept in the case's history */
    {CPM__MSG_TYPE__MSG_CASE_ACTION, &cpm__case_action__descriptor, true, on_action, action_reads,
     true},
    {CPM__MSG_TYPE__MSG_INSPECTION_PLAN, &cpm__inspection_plan__descriptor, true, on_plan, NULL,
     false},
    {CPM__MSG_TYPE__MSG_INSPECTION_ASSIGN, &cpm__inspection_assign__descriptor, true, on_assign,
     NULL, false},
    {CPM__MSG_TYPE__MSG_INSPECTION_REVIEW, &cpm__inspection_review__descriptor, true, on_review,
     NULL, false},
    {CPM__MSG_TYPE__MSG_INSPECTION_QUERY, &cpm__inspection_query__descriptor, false,
     on_inspection_query, NULL, false},
    {CPM__MSG_TYPE__MSG_FIELD_CHECKOUT, &cpm__field_checkout__descriptor, true, on_field_checkout,
     NULL, false},
    {CPM__MSG_TYPE__MSG_FIELD_UPLOAD, &cpm__field_upload__descriptor, true, on_field_upload, NULL,
     false},
    /* evidence bytes go to files; the txn only reads who may send them */
    {CPM__MSG_TYPE__MSG_EVIDENCE_CHUNK, &cpm__evidence_chunk__descriptor, false, on_evidence_chunk,
     NULL, false},
    {0}};
static const cpm_svc_batch_t batches[] = {
    {CPM__MSG_TYPE__MSG_ASSIGN_BATCH, &cpm__assignment__descriptor, on_assignment, NULL, NULL},
    {0}};
static const cpm_svc_stream_t streams[] = {{"routing", CPM__MSG_TYPE__MSG_UPDATE_BATCH}, {0}};

static const cpm_service_t service = {
    .name = "inspection",
    .databases = dbs,
    .requests = requests,
    .batches = batches,
    .streams = streams,
    .init = init,
    .fini = fini,
    .registry_changed = registry_changed,
    .tick = on_tick,
};

CPM_SERVICE_MAIN(service)
