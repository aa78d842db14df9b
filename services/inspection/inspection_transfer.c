/* inspection_transfer: see inspection_transfer.h. */
#include "inspection_transfer.h"
#include "inspection_contact.h"
#include "cpm_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX 1000

static Cpm__InspectionCase *load(cpm_store_t *st, MDB_txn *txn, const char *ticket, int *rc)
{
    ProtobufCMessage *m = NULL;
    *rc = cpm_store_get_msg(st, txn, INSPECTION_CASES_DB, ticket, &cpm__inspection_case__descriptor,
                            &m);
    if (*rc == CPM_E_BAD_MESSAGE)
        *rc = CPM_E_INTERNAL;
    return *rc == 0 ? (Cpm__InspectionCase *)m : NULL;
}

int inspection_withdraw(const inspection_t *in, cpm_store_t *st, MDB_txn *txn,
                        const cpm_effects_t *fx, const Cpm__Assignment *a, int64_t now_ms,
                        cpm_error_t *err)
{
    const char *ticket = a->complaint->ticket;
    /* Routing is another node: what it says reaches our store and events. */
    if (!cpm_text_member_valid(a->transferred_to))
        return cpm_error_set(err, CPM_E_INVALID, "transferred_to",
                             "a withdrawal must name the new agency as a member id");
    if (!cpm_text_utf8_valid(a->reason, strlen(a->reason)) || strlen(a->reason) > REASON_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "reason", "reason must be UTF-8, at most %d bytes",
                             REASON_MAX);
    int rc;
    Cpm__InspectionCase *c = load(st, txn, ticket, &rc);
    if (!c)
        return rc == CPM_E_NOT_FOUND ? 0 : rc;
    rc = 0;
    /* A copy that already left (the same notice again, or this agency's own
     * refusal) keeps its state; the contact it still holds follows. */
    bool left = c->state == CPM__CASE_STATE__CASE_STATE_TRANSFERRED ||
                c->state == CPM__CASE_STATE__CASE_STATE_REFUSED;
    char note[REASON_MAX + 200];
    snprintf(note, sizeof note, "to %s: %s", a->transferred_to, a->reason);
    Cpm__StatusEntry e = CPM__STATUS_ENTRY__INIT;
    e.at_ms = now_ms;
    e.state = CPM__CASE_STATE__CASE_STATE_TRANSFERRED;
    e.actor = (char *)(*in->routing ? in->routing : "routing");
    e.note = note;
    if (!left) {
        Cpm__StatusEntry **h = realloc(c->history, (c->n_history + 1) * sizeof *h);
        if (!h) {
            rc = CPM_E_INTERNAL;
            goto out;
        }
        c->history = h;
        c->history[c->n_history++] = &e;
        c->state = CPM__CASE_STATE__CASE_STATE_TRANSFERRED;
    }
    bool changed = false; /* the consumer's contact follows the case */
    rc = inspection_contact_forward(in, txn, fx, c, a->transferred_to, now_ms, &changed);
    if (rc == 0 && (!left || changed))
        rc = cpm_store_put_msg(st, txn, INSPECTION_CASES_DB, ticket, &c->base);
    if (!left)
        c->n_history--; /* e lives on this stack */
    if (rc != 0 || left)
        goto out;
    cpm_event_t ev = {.kind = "case.transferred",
                      .ticket = ticket,
                      .agency = in->node,
                      .area = a->complaint->area,
                      .category = a->complaint->category,
                      .state = CPM__CASE_STATE__CASE_STATE_TRANSFERRED,
                      .rule = a->rule_id,
                      .actor = e.actor,
                      .note = a->transferred_to};
    rc = fx->event(fx->ctx, txn, &ev);
out:
    cpm__inspection_case__free_unpacked(c, NULL);
    return rc;
}

int inspection_transfer_check(const Cpm__Assignment *a, cpm_error_t *err)
{
    if (*a->previous_agency && !cpm_text_member_valid(a->previous_agency))
        return cpm_error_set(err, CPM_E_INVALID, "previous_agency",
                             "previous_agency must be empty or a member id");
    if (!cpm_text_utf8_valid(a->reason, strlen(a->reason)) || strlen(a->reason) > REASON_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "reason", "reason must be UTF-8, at most %d bytes",
                             REASON_MAX);
    return 0;
}

bool inspection_takes_back(cpm_store_t *st, MDB_txn *txn, const Cpm__Assignment *a)
{
    int rc;
    Cpm__InspectionCase *c = load(st, txn, a->complaint->ticket, &rc);
    bool back = c &&
                (c->state == CPM__CASE_STATE__CASE_STATE_TRANSFERRED ||
                 c->state == CPM__CASE_STATE__CASE_STATE_REFUSED) &&
                c->assignment && a->routed_ms > c->assignment->routed_ms;
    cpm__inspection_case__free_unpacked(c, NULL);
    return back;
}
