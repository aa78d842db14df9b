#include "inspection_domain.h"
#include "inspection_transfer.h"
#include "cpm_case.h"
#include "cpm_fields.h"
#include "cpm_text.h"

#include "cpm_seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_MAX 2000

/* The case, or NULL with *rc: CPM_E_NOT_FOUND, a store error, or
 * CPM_E_INTERNAL for a record that does not decode. */
static Cpm__InspectionCase *load_case(cpm_store_t *st, MDB_txn *txn, const char *ticket, int *rc)
{
    ProtobufCMessage *m = NULL;
    *rc = cpm_store_get_msg(st, txn, INSPECTION_CASES_DB, ticket, &cpm__inspection_case__descriptor,
                            &m);
    if (*rc == CPM_E_BAD_MESSAGE)
        *rc = CPM_E_INTERNAL;
    return *rc == 0 ? (Cpm__InspectionCase *)m : NULL;
}

Cpm__InspectionCase *inspection_case(cpm_store_t *st, MDB_txn *txn, const char *ticket)
{
    int rc;
    return load_case(st, txn, ticket, &rc);
}

/* Tell the event log about a new state and, for an officer's answer,
 * routing. "assigned" is not sent: routing learns it from the delivery's
 * acknowledgement. */
static int announce(const inspection_t *in, MDB_txn *txn, const cpm_effects_t *fx,
                    const Cpm__Assignment *a, Cpm__CaseState state, const char *actor,
                    const char *note, int64_t now_ms)
{
    const char *ticket = a->complaint->ticket;
    int rc = 0;
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)ticket;
    u.state = state;
    u.agency = (char *)in->node;
    u.actor = (char *)actor;
    u.note = (char *)(note ? note : "");
    u.at_ms = now_ms;
    if (state != CPM__CASE_STATE__CASE_STATE_ASSIGNED)
        rc = fx->send(fx->ctx, txn, in->routing, "routing", &u.base);
    if (rc != 0)
        return rc;
    char kind[48];
    snprintf(kind, sizeof kind, "case.%s", cpm_case_state_name(state));
    /* The officer's note stays out: notes may name the consumer. */
    cpm_event_t ev = {.kind = kind,
                      .ticket = ticket,
                      .agency = in->node,
                      .area = a->complaint->area,
                      .category = a->complaint->category,
                      .state = state,
                      .rule = a->rule_id,
                      .actor = actor};
    return fx->event(fx->ctx, txn, &ev);
}

int inspection_apply_assignment(const inspection_t *in, cpm_store_t *st, MDB_txn *txn,
                                const cpm_effects_t *fx, const Cpm__Assignment *a, int64_t now_ms,
                                cpm_error_t *err)
{
    char e1[96], e2[96];
    if (!a->complaint || !a->complaint->ticket || !*a->complaint->ticket)
        return cpm_error_set(err, CPM_E_INVALID, "complaint.ticket", "assignment without ticket");
    if (!a->agency || strcmp(a->agency, in->node) != 0)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "agency", "case %s is for %s, not %s",
                             cpm_text_esc(a->complaint->ticket, e1, sizeof e1),
                             cpm_text_esc(a->agency, e2, sizeof e2), in->node);
    /* Routing is another node: its text reaches our store, events and log. */
    int frc = cpm_fields_assignment(a, err);
    if (frc != 0)
        return frc;
    const char *ticket = a->complaint->ticket;
    if (a->withdrawn) /* the case left this agency (inspection_transfer) */
        return inspection_withdraw(in, st, txn, fx, a, now_ms, err);
    if ((frc = inspection_transfer_check(a, err)) != 0)
        return frc;
    const void *v;
    size_t vlen;
    int rc = cpm_store_get(st, txn, INSPECTION_CASES_DB, ticket, strlen(ticket), &v, &vlen);
    if (rc == 0 && !inspection_takes_back(st, txn, a))
        return 0;
    if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return rc;
    Cpm__InspectionCase c = CPM__INSPECTION_CASE__INIT;
    Cpm__StatusEntry e = CPM__STATUS_ENTRY__INIT, *hist[1] = {&e};
    c.assignment = (Cpm__Assignment *)a;
    c.state = CPM__CASE_STATE__CASE_STATE_ASSIGNED;
    e.at_ms = now_ms;
    e.state = CPM__CASE_STATE__CASE_STATE_ASSIGNED;
    e.actor = (char *)in->node;
    c.history = hist;
    c.n_history = 1;
    if ((rc = cpm_store_put_msg(st, txn, INSPECTION_CASES_DB, ticket, &c.base)) != 0)
        return rc;
    return announce(in, txn, fx, a, CPM__CASE_STATE__CASE_STATE_ASSIGNED, in->node, "", now_ms);
}

int inspection_act(const inspection_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                   const char *actor, const Cpm__CaseAction *a, int64_t now_ms,
                   Cpm__CaseState *state, bool *duplicate, cpm_error_t *err)
{
    Cpm__CaseActionKind act = a->action;
    Cpm__CaseState to_state = cpm_case_target(act);
    const char *to = cpm_case_state_name(to_state);
    *duplicate = false;
    if (!a->ticket || !*a->ticket)
        return cpm_error_set(err, CPM_E_INVALID, "ticket", "ticket is required");
    if (!to)
        return cpm_error_set(err, CPM_E_INVALID, "action",
                             "action %d is not one of accept, refuse, resolve", (int)act);
    if (!cpm_text_utf8_valid(a->note, strlen(a->note)))
        return cpm_error_set(err, CPM_E_INVALID, "note", "note is not valid UTF-8");
    if (strlen(a->note) > NOTE_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "note", "note is longer than %d bytes",
                             NOTE_MAX);
    if (to_state != CPM__CASE_STATE__CASE_STATE_ACCEPTED && !*a->note)
        return cpm_error_set(err, CPM_E_INVALID, "note", "a note is required to %s a case: %s",
                             cpm_case_action_name(act),
                             to_state == CPM__CASE_STATE__CASE_STATE_REFUSED
                                 ? "say why it is not ours"
                                 : "the outcome");
    int rc;
    Cpm__InspectionCase *c = load_case(st, txn, a->ticket, &rc);
    if (!c && rc == CPM_E_NOT_FOUND)
        return cpm_error_set(err, rc, "ticket", "ticket %s is not a case of %s", a->ticket,
                             in->node);
    if (!c)
        return cpm_error_set(err, rc, "ticket", "case %s cannot be read: %s", a->ticket,
                             cpm_err_name(rc));
    rc = 0;
    *state = to_state;
    if (c->state == to_state) {
        *duplicate = true;
        goto out;
    }
    if (cpm_case_next(c->state, act) != to_state) {
        const char *from = cpm_case_state_name(c->state);
        rc = cpm_error_set(err, CPM_E_CONFLICT, "action", "case %s is %s; it cannot be %s",
                           a->ticket, from ? from : "unknown", to);
        goto out;
    }
    Cpm__StatusEntry e = CPM__STATUS_ENTRY__INIT;
    e.at_ms = now_ms;
    e.state = to_state;
    e.actor = (char *)actor;
    e.note = a->note;
    Cpm__StatusEntry **h = realloc(c->history, (c->n_history + 1) * sizeof *h);
    if (!h) {
        rc = CPM_E_INTERNAL;
        goto out;
    }
    c->history = h;
    c->history[c->n_history++] = &e;
    Cpm__CaseState old = c->state;
    c->state = to_state;
    rc = cpm_store_put_msg(st, txn, INSPECTION_CASES_DB, a->ticket, &c->base);
    c->state = old;
    c->n_history--; /* e lives on this stack */
    if (rc == 0 && !c->assignment)
        rc = CPM_E_INTERNAL; /* stored without its assignment: corrupt */
    if (rc == 0)
        rc = announce(in, txn, fx, c->assignment, to_state, actor, a->note, now_ms);
out:
    cpm__inspection_case__free_unpacked(c, NULL);
    return rc;
}

int inspection_show(const inspection_t *in, cpm_store_t *st, MDB_txn *txn, const char *ticket,
                    inspection_view_t *v, cpm_error_t *err)
{
    memset(v, 0, sizeof *v);
    int rc;
    Cpm__InspectionCase *c = load_case(st, txn, ticket ? ticket : "", &rc);
    if (!c && rc == CPM_E_NOT_FOUND)
        return cpm_error_set(err, rc, "ticket", "ticket %s is not a case of %s", ticket, in->node);
    if (!c)
        return cpm_error_set(err, rc, "ticket", "case %s cannot be read: %s", ticket,
                             cpm_err_name(rc));
    v->state = c->state;
    const Cpm__Complaint *cp = c->assignment ? c->assignment->complaint : NULL;
    v->contact_status = "none";
    if (cp && cp->sealed_contact.len) {
        snprintf(v->contact_for, sizeof v->contact_for, "%s", cp->contact_for);
        if (strcmp(cp->contact_for, in->node) != 0) {
            v->contact_status = "sealed_for_other";
        } else {
            int orc = CPM_E_INVALID;
            v->contact = in->curve_sk
                             ? cpm_seal_open(cp->sealed_contact.data, cp->sealed_contact.len,
                                             in->curve_pk, in->curve_sk, ticket, &orc)
                             : NULL;
            v->contact_status = v->contact ? "open" : "unreadable";
        }
    }
    cpm__inspection_case__free_unpacked(c, NULL);
    return 0;
}
