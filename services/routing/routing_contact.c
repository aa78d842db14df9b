/* routing_contact: see routing_contact.h. */
#include "routing_contact.h"
#include "cpm_case.h"
#include "cpm_seal.h"
#include "cpm_text.h"
#include "routing_domain.h"
#include "routing_transfer.h"

#include <string.h>

bool routing_contact_is_follow(const Cpm__CaseUpdate *u)
{
    return u->sealed_contact.len > 0 || (u->contact_for && *u->contact_for);
}

int routing_contact_follow(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                           const char *sender, const Cpm__CaseUpdate *u, cpm_error_t *err)
{
    char esc[96];
    if (!cpm_text_ticket_valid(u->ticket, NULL))
        return cpm_error_set(err, CPM_E_INVALID, "ticket", "ticket must be <PREFIX>-<digits>");
    if (!u->sealed_contact.len)
        return cpm_error_set(err, CPM_E_INVALID, "sealed_contact",
                             "contact_for without a sealed contact");
    if (u->sealed_contact.len > CPM_SEAL_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "sealed_contact",
                             "sealed_contact is %zu bytes, more than %d", u->sealed_contact.len,
                             CPM_SEAL_MAX);
    if (!cpm_text_member_valid(u->contact_for))
        return cpm_error_set(err, CPM_E_INVALID, "contact_for", "contact_for must be a member id");
    int rc;
    Cpm__StatusReply *r = routing_status(st, txn, u->ticket, &rc);
    if (!r)
        return rc == CPM_E_NOT_FOUND ? cpm_error_set(err, rc, "ticket", "ticket %s is not known",
                                                     cpm_text_esc(u->ticket, esc, sizeof esc))
                                     : rc;
    Cpm__Complaint *c = NULL;
    if (!*r->previous_agency || strcmp(r->previous_agency, sender) != 0) {
        rc = cpm_error_set(err, CPM_E_FORBIDDEN, "agency",
                           "%s sent a contact for %s, which it did not hand over", sender,
                           u->ticket);
        goto out;
    }
    if (!*r->agency || strcmp(r->agency, u->contact_for) != 0 || !cpm_case_is_open(r->state)) {
        rc = cpm_error_set(err, CPM_E_CONFLICT, "contact_for",
                           "the contact of %s is sealed for %s; the case is with %s", u->ticket,
                           u->contact_for, *r->agency ? r->agency : "no agency");
        goto out;
    }
    if (!(c = routing_copy_get(st, txn, u->ticket, &rc))) {
        if (rc == CPM_E_NOT_FOUND)
            rc = cpm_error_set(err, CPM_E_CONFLICT, "ticket",
                               "case %s was routed before routing kept complaints", u->ticket);
        goto out;
    }
    /* The kept copy with the new sealed bytes, only in the outbox record. */
    c->sealed_contact.data = u->sealed_contact.data;
    c->sealed_contact.len = u->sealed_contact.len;
    char *keep_for = c->contact_for;
    c->contact_for = u->contact_for;
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = c;
    a.agency = r->agency;
    a.rule_id = r->rule_id;
    a.rules_version = r->rules_version;
    a.routed_ms = r->routed_ms;
    a.accept_due_ms = r->accept_due_ms;
    a.previous_agency = (char *)sender;
    a.reason = (char *)"the consumer's contact follows the case";
    a.returns = r->returns;
    a.contact_only = true;
    rc = fx->send(fx->ctx, txn, r->agency, "inspection", &a.base);
    c->sealed_contact.data = NULL; /* u's */
    c->sealed_contact.len = 0;
    c->contact_for = keep_for;
out:
    cpm__complaint__free_unpacked(c, NULL);
    cpm__status_reply__free_unpacked(r, NULL);
    return rc;
}
