/* cpmesh-inspection: one agency's cases. Receives the cases routing assigns
 * here, lets its officers accept, refuse or resolve them, and reports every
 * change back to routing.
 *
 *   cpmesh-inspection --config inspection.yaml */
#include "cpm_config.h"
#include "cpm_log.h"
#include "cpm_retention.h"
#include "cpm_pbcheck.h"
#include "cpm_server.h"
#include "cpm_util.h"
#include "inspection_domain.h"

#include <stdio.h>
#include <string.h>

static inspection_t domain(cpm_server_t *srv)
{
    const Cpm__Member *routing = cpm_server_find_service(srv, "routing");
    const cpm_identity_t *id = cpm_server_identity(srv);
    inspection_t in = {cpm_server_config(srv)->node, routing ? routing->id : "", id->curve_pk,
                       id->curve_sk};
    return in;
}

static int on_assignment(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m, const uint8_t *rec,
                         size_t len, cpm_error_t *err)
{
    Cpm__Assignment *a = cpm__assignment__unpack(cpm_pb_budget(len), len, rec);
    if (!a)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "record", "record is not an Assignment");
    if (cpm_pbcheck_or_free(&a->base, err) != 0)
        return err->code;
    cpm_effects_t fx = cpm_server_effects(srv);
    inspection_t in = domain(srv);
    int rc =
        inspection_apply_assignment(&in, cpm_server_store(srv), txn, &fx, a, cpm_now_ms(), err);
    cpm__assignment__free_unpacked(a, NULL);
    return rc;
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
static bool action_reads(const cpm_msg_t *m)
{
    Cpm__CaseAction *a = cpm__case_action__unpack(NULL, m->env->payload.len, m->env->payload.data);
    bool reads = a && a->action && !strcmp(a->action, "show");
    cpm__case_action__free_unpacked(a, NULL);
    return reads;
}

static int on_action(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m, cpm_reply_t *reply,
                     cpm_error_t *err)
{
    /* Responsibility is per agency: only its own officers act on its cases. */
    if (strcmp(m->member->agency, cpm_server_config(srv)->node) != 0)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "%s belongs to %s and cannot act on cases of %s", m->env->sender,
                             m->member->agency, cpm_server_config(srv)->node);
    Cpm__CaseAction *a = cpm__case_action__unpack(cpm_pb_budget(m->env->payload.len),
                                                  m->env->payload.len, m->env->payload.data);
    if (!a)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "payload", "payload is not a CaseAction");
    if (cpm_pbcheck_or_free(&a->base, err) != 0)
        return err->code;
    inspection_t in = domain(srv);
    if (a->action && !strcmp(a->action, "show")) {
        int rc = show(srv, txn, &in, a, reply, err);
        cpm__case_action__free_unpacked(a, NULL);
        return rc;
    }
    cpm_effects_t fx = cpm_server_effects(srv);
    const char *state = NULL;
    bool dup = false;
    int rc = inspection_act(&in, cpm_server_store(srv), txn, &fx, m->env->sender, a, cpm_now_ms(),
                            &state, &dup, err);
    if (rc == 0) {
        Cpm__CaseActionReply r = CPM__CASE_ACTION_REPLY__INIT;
        r.ticket = a->ticket;
        r.state = (char *)state;
        r.duplicate = dup;
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_CASE_ACTION_REPLY, &r.base);
    }
    cpm__case_action__free_unpacked(a, NULL);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--config") != 0) {
        fprintf(stderr, "usage: cpmesh-inspection --config FILE.yaml\n");
        return 2;
    }
    char err[512];
    cpm_config_t *cfg = cpm_config_load(argv[2], err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "cpmesh-inspection: %s: %s\n", argv[2], err);
        return 1;
    }
    static const char *dbs[] = INSPECTION_DBS;
    cpm_server_t *srv = cpm_server_new(cfg, dbs);
    int rc = 1;
    if (srv) {
        cpm_server_on_batch(srv, CPM__MSG_TYPE__MSG_ASSIGN_BATCH, on_assignment);
        cpm_server_on_request(srv, CPM__MSG_TYPE__MSG_CASE_ACTION, true, on_action);
        cpm_server_reads_when(srv, CPM__MSG_TYPE__MSG_CASE_ACTION, action_reads);
        cpm_server_outbound(srv, "routing", CPM__MSG_TYPE__MSG_UPDATE_BATCH);
        cpm_server_on_tick(srv, cpm_retention_tick);
        rc = cpm_server_run(srv) == 0 ? 0 : 1;
    }
    cpm_server_destroy(&srv);
    cpm_config_destroy(&cfg);
    return rc;
}
