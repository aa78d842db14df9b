/* cpmesh-routing: the city's register of every case. Routes each complaint
 * to the responsible agency by the rule table, delivers it to that agency's
 * inspection service, follows its state and answers status queries.
 *
 *   cpmesh-routing --config routing.yaml */
#include "cpm_config.h"
#include "cpm_log.h"
#include "cpm_retention.h"
#include "cpm_pbcheck.h"
#include "cpm_ratelimit.h"
#include "cpm_rules.h"
#include "cpm_server.h"
#include "cpm_util.h"
#include "routing_deadlines.h"
#include "routing_domain.h"

#include <stdio.h>
#include <string.h>

static int on_complaint(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m, const uint8_t *rec,
                        size_t len, cpm_error_t *err)
{
    Cpm__Complaint *c = cpm__complaint__unpack(cpm_pb_budget(len), len, rec);
    if (!c)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "record", "record is not a Complaint");
    if (cpm_pbcheck_or_free(&c->base, err) != 0) /* unknown fields would be forwarded */
        return err->code;
    /* Routing never holds a contact in clear: an intake that sends one
     * (an old version) loses it here, counted and logged. */
    if (routing_contact_drop_clear(c)) {
        cpm_metrics_add(cpm_server_metrics(srv), "contact.clear_dropped", 1);
        cpm_warn("%s sent the contact of %s in clear; dropped (intake must seal it)",
                 m->env->sender, c->ticket);
    }
    int known;
    Cpm__StatusReply *old = routing_status(cpm_server_store(srv), txn, c->ticket, &known);
    bool fresh = old == NULL;
    cpm__status_reply__free_unpacked(old, NULL);
    cpm_effects_t fx = cpm_server_effects(srv);
    int rc = routing_apply_complaint(cpm_server_ctx(srv), cpm_server_registry(srv),
                                     cpm_server_store(srv), txn, &fx, m->env->sender, c,
                                     cpm_now_ms(), err);
    Cpm__StatusReply *now =
        rc == 0 && fresh ? routing_status(cpm_server_store(srv), txn, c->ticket, &known) : NULL;
    if (now && routing_contact_unreadable(c, now->agency))
        cpm_metrics_add(cpm_server_metrics(srv), "contact.unreadable", 1);
    cpm__status_reply__free_unpacked(now, NULL);
    cpm__complaint__free_unpacked(c, NULL);
    return rc;
}

static int on_update(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m, const uint8_t *rec,
                     size_t len, cpm_error_t *err)
{
    Cpm__CaseUpdate *u = cpm__case_update__unpack(cpm_pb_budget(len), len, rec);
    if (!u)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "record", "record is not a CaseUpdate");
    if (cpm_pbcheck_or_free(&u->base, err) != 0)
        return err->code;
    cpm_effects_t fx = cpm_server_effects(srv);
    int rc = routing_apply_update(cpm_server_ctx(srv), cpm_server_store(srv), txn, &fx,
                                  m->env->sender, u, err);
    cpm__case_update__free_unpacked(u, NULL);
    return rc;
}

/* Scoped by who asks (routing_status_for): officers see their agency's
 * cases, coordinators all, the public view needs the ticket's lookup code. */
static int on_status(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m, cpm_reply_t *reply,
                     cpm_error_t *err)
{
    Cpm__StatusQuery *q = cpm__status_query__unpack(cpm_pb_budget(m->env->payload.len),
                                                    m->env->payload.len, m->env->payload.data);
    if (!q)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "payload", "payload is not a StatusQuery");
    if (cpm_pbcheck_or_free(&q->base, err) != 0)
        return err->code;
    const Cpm__Member *asker = cpm_registry_member(cpm_server_registry(srv), m->env->sender);
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
    cpm__status_query__free_unpacked(q, NULL);
    return rc;
}

static int check_deadlines(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    cpm_effects_t fx = cpm_server_effects(srv);
    size_t n = 0;
    int rc = routing_deadlines_check(cpm_server_store(srv), txn, &fx, cpm_now_ms(), 1000, &n);
    if (rc == 0 && n > 0) {
        cpm_metrics_add(cpm_server_metrics(srv), "deadlines.overdue", n);
        cpm_info("%zu case deadline%s passed", n, n == 1 ? "" : "s");
    }
    return rc;
}

/* Once a second: report deadlines that passed (one "case.overdue" each). */
static void on_tick(cpm_server_t *srv)
{
    int rc = cpm_server_write(srv, check_deadlines, NULL);
    if (rc != 0)
        cpm_warn("deadline check failed: %s", cpm_err_name(rc));
    cpm_retention_tick(srv);
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--config") != 0) {
        fprintf(stderr, "usage: cpmesh-routing --config FILE.yaml\n");
        return 2;
    }
    char err[512];
    cpm_config_t *cfg = cpm_config_load(argv[2], err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "cpmesh-routing: %s: %s\n", argv[2], err);
        return 1;
    }
    cpm_rules_t *rules = cpm_rules_load(cfg->rules, err, sizeof err);
    if (!rules) {
        fprintf(stderr, "cpmesh-routing: rules %s: %s\n", cfg->rules, err);
        cpm_config_destroy(&cfg);
        return 1;
    }
    static const char *dbs[] = ROUTING_DBS;
    cpm_server_t *srv = cpm_server_new(cfg, dbs);
    int rc = 1;
    if (srv) {
        cpm_server_set_ctx(srv, rules);
        cpm_server_on_batch(srv, CPM__MSG_TYPE__MSG_CASE_BATCH, on_complaint);
        cpm_server_on_batch(srv, CPM__MSG_TYPE__MSG_UPDATE_BATCH, on_update);
        cpm_server_on_request(srv, CPM__MSG_TYPE__MSG_STATUS_QUERY, false, on_status);
        cpm_server_outbound(srv, "inspection", CPM__MSG_TYPE__MSG_ASSIGN_BATCH);
        cpm_server_on_tick(srv, on_tick);
        rc = cpm_server_run(srv) == 0 ? 0 : 1;
    }
    cpm_server_destroy(&srv);
    cpm_rules_destroy(&rules);
    cpm_config_destroy(&cfg);
    return rc;
}
