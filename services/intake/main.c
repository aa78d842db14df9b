/* cpmesh-intake: records complaints and hotline consultations from every
 * channel and forwards complaints to routing.
 *
 *   cpmesh-intake --config intake.yaml */
#include "cpm_config.h"
#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "cpm_rules.h"
#include "cpm_server.h"
#include "cpm_util.h"
#include "intake_domain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static intake_t *domain(cpm_server_t *srv)
{
    intake_t *in = cpm_server_ctx(srv);
    const Cpm__Member *routing = cpm_server_find_service(srv, "routing");
    intake_set_routing(in, routing ? routing->id : NULL); /* follows registry reloads */
    return in;
}

static int on_submit(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m, cpm_reply_t *reply,
                     cpm_error_t *err)
{
    Cpm__Complaint *c = cpm__complaint__unpack(NULL, m->env->payload.len, m->env->payload.data);
    if (!c)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "payload", "payload is not a Complaint");
    if (cpm_pbcheck_or_free(&c->base, err) != 0) /* unknown fields would be stored */
        return err->code;
    cpm_effects_t fx = cpm_server_effects(srv);
    char ticket[INTAKE_TICKET_MAX];
    bool dup = false;
    int rc = intake_submit(domain(srv), cpm_server_store(srv), txn, &fx, m->env->sender, c,
                           cpm_now_ms(), ticket, &dup, err);
    cpm__complaint__free_unpacked(c, NULL);
    if (rc != 0)
        return rc;
    Cpm__SubmitReply r = CPM__SUBMIT_REPLY__INIT;
    r.ticket = ticket;
    r.duplicate = dup;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_SUBMIT_REPLY, &r.base);
}

static int on_consult(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m, cpm_reply_t *reply,
                      cpm_error_t *err)
{
    Cpm__Consultation *c =
        cpm__consultation__unpack(NULL, m->env->payload.len, m->env->payload.data);
    if (!c)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "payload", "payload is not a Consultation");
    if (cpm_pbcheck_or_free(&c->base, err) != 0)
        return err->code;
    cpm_effects_t fx = cpm_server_effects(srv);
    char id[INTAKE_TICKET_MAX];
    bool dup = false;
    int rc = intake_consult(domain(srv), cpm_server_store(srv), txn, &fx, m->env->sender, c,
                            cpm_now_ms(), id, &dup, err);
    cpm__consultation__free_unpacked(c, NULL);
    if (rc != 0)
        return rc;
    Cpm__SubmitReply r = CPM__SUBMIT_REPLY__INIT;
    r.ticket = id;
    r.duplicate = dup;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_CONSULTATION_REPLY, &r.base);
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--config") != 0) {
        fprintf(stderr, "usage: cpmesh-intake --config FILE.yaml\n");
        return 2;
    }
    char err[512];
    cpm_config_t *cfg = cpm_config_load(argv[2], err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "cpmesh-intake: %s: %s\n", argv[2], err);
        return 1;
    }
    cpm_rules_t *rules = cpm_rules_load(cfg->rules, err, sizeof err);
    if (!rules) {
        fprintf(stderr, "cpmesh-intake: rules %s: %s\n", cfg->rules, err);
        cpm_config_destroy(&cfg);
        return 1;
    }
    static const char *dbs[] = INTAKE_DBS;
    cpm_server_t *srv = cpm_server_new(cfg, dbs);
    int rc = 1;
    const Cpm__Member *me = srv ? cpm_registry_member(cpm_server_registry(srv), cfg->node) : NULL;
    intake_t *in = NULL;
    if (me && (!me->ticket_prefix || !*me->ticket_prefix))
        cpm_error("member %s has no ticket_prefix in the registry", cfg->node);
    else if (me)
        in = intake_new(rules, cfg->node, me->ticket_prefix, NULL);
    if (in) {
        cpm_server_set_ctx(srv, in);
        cpm_server_on_request(srv, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, true, on_submit);
        cpm_server_on_request(srv, CPM__MSG_TYPE__MSG_RECORD_CONSULTATION, true, on_consult);
        cpm_server_outbound(srv, "routing", CPM__MSG_TYPE__MSG_CASE_BATCH);
        rc = cpm_server_run(srv) == 0 ? 0 : 1;
    }
    intake_destroy(&in);
    cpm_server_destroy(&srv);
    cpm_rules_destroy(&rules);
    cpm_config_destroy(&cfg);
    return rc;
}
