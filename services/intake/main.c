/* cpmesh-intake: records complaints and hotline consultations from every
 * channel and forwards complaints to routing.
 *
 *   cpmesh-intake --config intake.yaml */
#include "cpm_config.h"
#include "cpm_log.h"
#include "cpm_retention.h"
#include "cpm_pbcheck.h"
#include "cpm_rules.h"
#include "cpm_server.h"
#include "cpm_util.h"
#include "intake_domain.h"
#include "intake_lookup.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static intake_t *domain(cpm_server_t *srv)
{
    intake_t *in = cpm_server_ctx(srv);
    const Cpm__Member *routing = cpm_server_find_service(srv, "routing");
    intake_set_routing(in, routing ? routing->id : NULL); /* follows registry reloads */
    intake_set_registry(in, cpm_server_registry(srv));
    return in;
}

static int on_submit(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m, cpm_reply_t *reply,
                     cpm_error_t *err)
{
    Cpm__Complaint *c = cpm__complaint__unpack(cpm_pb_budget(m->env->payload.len),
                                               m->env->payload.len, m->env->payload.data);
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
    char code[CPM_TEXT_CODE_LEN + 1];
    if ((rc = intake_lookup_code(cpm_server_store(srv), txn, ticket, code)) != 0)
        return rc;
    r.ticket = ticket;
    r.duplicate = dup;
    r.lookup_code = code;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_SUBMIT_REPLY, &r.base);
}

static int on_consult(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m, cpm_reply_t *reply,
                      cpm_error_t *err)
{
    Cpm__Consultation *c = cpm__consultation__unpack(cpm_pb_budget(m->env->payload.len),
                                                     m->env->payload.len, m->env->payload.data);
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

static int sweep_contacts(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    size_t *stripped = ctx;
    int64_t retention = (int64_t)cpm_server_config(srv)->contact_retention_s * 1000;
    return intake_contact_sweep(domain(srv), cpm_server_store(srv), txn, cpm_now_ms(), retention,
                                1000, stripped);
}

/* Once a second: strip sealed contacts whose retention after routing's
 * acknowledgement is over; dead letters past theirs. */
static void on_tick(cpm_server_t *srv)
{
    size_t stripped = 0;
    int rc = cpm_server_write(srv, sweep_contacts, &stripped);
    if (rc != 0)
        cpm_warn("contact retention sweep failed: %s", cpm_err_name(rc));
    else if (stripped > 0) {
        cpm_metrics_add(cpm_server_metrics(srv), "retention.contacts_stripped", stripped);
        cpm_info("retention: stripped the sealed contact of %zu complaint%s", stripped,
                 stripped == 1 ? "" : "s");
    }
    cpm_retention_tick(srv);
}

/* The client_ref digest key: derived from the node's signing secret, which
 * is not in the store, so a copy of the store alone cannot test guesses. */
static void ref_key(const cpm_identity_t *id, uint8_t key[32])
{
    static const char label[] = "CPMESH-INTAKE-REF-DIGEST-V1";
    crypto_generichash(key, 32, (const uint8_t *)label, sizeof label, id->sign_sk, 32);
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
        uint8_t key[32];
        ref_key(cpm_server_identity(srv), key);
        intake_set_ref_key(in, key);
        sodium_memzero(key, sizeof key);
        cpm_server_set_ctx(srv, in);
        cpm_server_on_tick(srv, on_tick);
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
