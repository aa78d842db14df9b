#include "inspection_domain.h"
#include "inspection_contact.h"
#include "inspection_transfer.h"
#include "cpm_case.h"
#include "cpm_fields.h"
#include "cpm_text.h"

#include "cpm_envelope.h"
#include "cpm_seal.h"
#include "cpm_util.h"

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

/* Tell the event log about a new state and, for an act, routing (with the
 * outcome and the actor's signed frame). "assigned" is not sent: routing
 * learns it from the delivery's acknowledgement. */
static int announce(const inspection_t *in, MDB_txn *txn, const cpm_effects_t *fx,
                    const Cpm__Assignment *a, const Cpm__StatusEntry *e, int64_t fine_vnd)
{
    const char *ticket = a->complaint->ticket;
    int rc = 0;
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)ticket;
    u.state = e->state;
    u.agency = (char *)in->node;
    u.actor = e->actor;
    u.note = (char *)(e->note ? e->note : "");
    u.at_ms = e->at_ms;
    u.outcome = e->outcome;
    u.fine_vnd = fine_vnd;
    u.signed_action = e->signed_action;
    if (e->state != CPM__CASE_STATE__CASE_STATE_ASSIGNED)
        rc = fx->send(fx->ctx, txn, in->routing, "routing", &u.base);
    if (rc != 0)
        return rc;
    char kind[48], note[64] = "";
    snprintf(kind, sizeof kind, "case.%s", cpm_case_state_name(e->state));
    /* The officer's note stays out (notes may name the consumer); the
     * outcome is one of a closed set of words. */
    if (e->outcome)
        snprintf(note, sizeof note, "outcome=%s", cpm_case_outcome_name(e->outcome));
    cpm_event_t ev = {.kind = kind,
                      .ticket = ticket,
                      .agency = in->node,
                      .area = a->complaint->area,
                      .category = a->complaint->category,
                      .state = e->state,
                      .rule = a->rule_id,
                      .actor = e->actor,
                      .note = note,
                      .outcome = e->outcome, /* the monitor counts outcomes and fines */
                      .fine_vnd = e->state == CPM__CASE_STATE__CASE_STATE_RESOLVED ? fine_vnd : 0};
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
    if (a->contact_only) /* its contact follows it here (inspection_contact) */
        return inspection_contact_receive(in, st, txn, a, err);
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
    return announce(in, txn, fx, a, &e, 0);
}

/* Check what an action carries, before the case is read. 0 or
 * CPM_E_INVALID/CPM_E_TOO_LARGE with err naming the field. */
static int check_action(const inspection_t *in, const Cpm__CaseAction *a, int64_t now_ms,
                        cpm_error_t *err)
{
    Cpm__CaseActionKind act = a->action;
    if (!a->ticket || !*a->ticket)
        return cpm_error_set(err, CPM_E_INVALID, "ticket", "ticket is required");
    if (!cpm_case_target(act) || cpm_case_at_routing(act))
        return cpm_error_set(err, CPM_E_INVALID, "action",
                             "action %d is not one of accept, refuse, start, wait, resume, "
                             "resolve, close, reopen",
                             (int)act);
    if (!cpm_text_utf8_valid(a->note, strlen(a->note)))
        return cpm_error_set(err, CPM_E_INVALID, "note", "note is not valid UTF-8");
    if (strlen(a->note) > NOTE_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "note", "note is longer than %d bytes",
                             NOTE_MAX);
    if (cpm_case_needs_note(act) && !*a->note)
        return cpm_error_set(
            err, CPM_E_INVALID, "note", "a note is required to %s a case%s",
            cpm_case_action_name(act),
            act == CPM__CASE_ACTION_KIND__CASE_ACTION_REFUSE ? ": say why it is not ours" : "");
    const char *bad = cpm_case_check_outcome(act, a->outcome, a->fine_vnd);
    if (bad && !strcmp(bad, "outcome"))
        return cpm_error_set(err, CPM_E_INVALID, "outcome",
                             act == CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE
                                 ? "resolve needs an outcome: mediated, refunded, "
                                   "replaced_or_repaired, fined, no_violation, withdrawn, referred"
                                 : "only resolve carries an outcome");
    if (bad)
        return cpm_error_set(err, CPM_E_INVALID, "fine_vnd",
                             "fine_vnd must be 1 to 10^12 VND with outcome fined, and 0 otherwise");
    if (*a->client_id && !inspection_client_id_valid(a->client_id))
        return cpm_error_set(err, CPM_E_INVALID, "client_id",
                             "client_id must be 1-%d characters of A-Z a-z 0-9 . _ -",
                             INSPECTION_CLIENT_ID_MAX);
    int64_t skew = in->max_skew_ms > 0 ? in->max_skew_ms : 300000;
    if (a->acted_ms < 0 || a->acted_ms > now_ms + skew)
        return cpm_error_set(err, CPM_E_INVALID, "acted_ms",
                             "acted_ms is in the future (more than %lld s ahead)",
                             (long long)(skew / 1000));
    return 0;
}

/* true when as may make action from some state: only then is "it already
 * was" an answer it may get. */
static bool may_ever(Cpm__CaseActionKind action, cpm_case_actor_t as)
{
    for (int s = CPM__CASE_STATE__CASE_STATE_RECEIVED; s <= CPM__CASE_STATE__CASE_STATE_UNASSIGNED;
         s++)
        if (cpm_case_may((Cpm__CaseState)s, action, as))
            return true;
    return false;
}

/* When the case was last resolved (0: never). */
static int64_t resolved_at(const Cpm__InspectionCase *c)
{
    for (size_t i = c->n_history; i-- > 0;)
        if (c->history[i]->state == CPM__CASE_STATE__CASE_STATE_RESOLVED)
            return c->history[i]->at_ms;
    return 0;
}

/* The move itself, on the loaded case c: who may, when, then record. */
static int move(const inspection_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                const inspection_actor_t *who, const Cpm__CaseAction *a, Cpm__InspectionCase *c,
                int64_t now_ms, cpm_error_t *err)
{
    Cpm__CaseActionKind act = a->action;
    Cpm__CaseState to = cpm_case_next(c->state, act);
    const char *from = cpm_case_state_name(c->state);
    if (!to)
        return cpm_error_set(err, CPM_E_CONFLICT, "action", "case %s is %s; it cannot be %s",
                             a->ticket, from ? from : "unknown",
                             cpm_case_state_name(cpm_case_target(act)));
    if (!cpm_case_may(c->state, act, who->as))
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender", "%s may not %s a case that is %s",
                             who->id, cpm_case_action_name(act), from);
    int64_t at = a->acted_ms ? a->acted_ms : now_ms;
    int64_t since = c->n_history ? c->history[0]->at_ms : 0;
    if (at < since) {
        char t[40];
        cpm_format_time(since, t, sizeof t);
        return cpm_error_set(err, CPM_E_INVALID, "acted_ms",
                             "acted_ms is before the case was assigned here (%s)", t);
    }
    int64_t period =
        in->reopen_period_ms > 0 ? in->reopen_period_ms : CPM_CASE_REOPEN_DAYS_DEFAULT * 86400000LL;
    int64_t resolved = resolved_at(c);
    if (act == CPM__CASE_ACTION_KIND__CASE_ACTION_REOPEN && at > resolved + period) {
        char t[40];
        cpm_format_time(resolved + period, t, sizeof t);
        return cpm_error_set(err, CPM_E_CONFLICT, "action",
                             "case %s can no longer be reopened: the period after its "
                             "resolution ended at %s",
                             a->ticket, t);
    }
    Cpm__StatusEntry e = CPM__STATUS_ENTRY__INIT;
    e.at_ms = at;
    e.received_ms = now_ms;
    e.state = to;
    e.actor = (char *)who->id;
    e.note = a->note;
    e.outcome = a->outcome;
    e.key_id = (char *)(who->key_id ? who->key_id : "");
    cpm_slice_t envb = {0}, sig = {0};
    if (who->frame && cpm_envelope_parse_signed(who->frame, who->frame_len, &envb, &sig) == 0) {
        e.signed_action.data = (uint8_t *)who->frame;
        e.signed_action.len = who->frame_len;
        e.signature.data = (uint8_t *)sig.data;
        e.signature.len = sig.len;
    }
    Cpm__StatusEntry **h = realloc(c->history, (c->n_history + 1) * sizeof *h);
    if (!h)
        return CPM_E_INTERNAL;
    c->history = h;
    c->history[c->n_history++] = &e;
    Cpm__CaseState old = c->state;
    c->state = to;
    int rc = cpm_store_put_msg(st, txn, INSPECTION_CASES_DB, a->ticket, &c->base);
    c->state = old;
    c->n_history--; /* e lives on this stack */
    if (rc == 0 && !c->assignment)
        rc = CPM_E_INTERNAL; /* stored without its assignment: corrupt */
    if (rc == 0)
        rc = announce(in, txn, fx, c->assignment, &e, a->fine_vnd);
    return rc;
}

int inspection_act(const inspection_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                   const inspection_actor_t *who, const Cpm__CaseAction *a, int64_t now_ms,
                   Cpm__CaseState *state, bool *duplicate, cpm_error_t *err)
{
    *duplicate = false;
    int rc = check_action(in, a, now_ms, err);
    if (rc != 0)
        return rc;
    /* The memory of act ids is bounded in time (inspection_acts.h): an act
     * it may have forgotten is refused, so none is ever applied twice. */
    if (*a->client_id && !a->acted_ms)
        return cpm_error_set(err, CPM_E_INVALID, "acted_ms",
                             "an act with a client_id must carry acted_ms (when it happened)");
    if (a->acted_ms && inspection_acts_too_old(in->acts_window_ms, a->acted_ms, now_ms)) {
        if (in->count)
            in->count(in->ctx, "case.act_too_old");
        return cpm_error_set(err, CPM_E_INVALID, "acted_ms",
                             "acted_ms is more than %lld days ago: acts are remembered, and "
                             "accepted, for acts_window_days only",
                             (long long)(inspection_acts_window(in->acts_window_ms) / 86400000LL));
    }
    /* An offline act sent again: the first answer, nothing applied twice. */
    if (*a->client_id) {
        Cpm__CaseActionReply *first = inspection_acts_get(st, txn, who->id, a->client_id, &rc);
        if (first) {
            bool same = !strcmp(first->ticket, a->ticket);
            *state = first->state;
            *duplicate = same;
            cpm__case_action_reply__free_unpacked(first, NULL);
            return same ? 0
                        : cpm_error_set(err, CPM_E_CONFLICT, "client_id",
                                        "client_id %s was used by %s for another case",
                                        a->client_id, who->id);
        }
        if (rc != CPM_E_NOT_FOUND)
            return rc;
    }
    Cpm__InspectionCase *c = load_case(st, txn, a->ticket, &rc);
    if (!c && rc == CPM_E_NOT_FOUND)
        return cpm_error_set(err, rc, "ticket", "ticket %s is not a case of %s", a->ticket,
                             in->node);
    if (!c)
        return cpm_error_set(err, rc, "ticket", "case %s cannot be read: %s", a->ticket,
                             cpm_err_name(rc));
    Cpm__CaseState to = cpm_case_target(a->action);
    if (c->state == to && !cpm_case_next(c->state, a->action) && may_ever(a->action, who->as)) {
        *duplicate = true; /* already there, by this action (a resend without client_id) */
        rc = 0;
    } else {
        rc = move(in, st, txn, fx, who, a, c, now_ms, err);
    }
    *state = to;
    cpm__inspection_case__free_unpacked(c, NULL);
    if (rc == 0 && *a->client_id) {
        Cpm__CaseActionReply r = CPM__CASE_ACTION_REPLY__INIT;
        r.ticket = a->ticket;
        r.state = to;
        r.acted_ms = a->acted_ms;
        rc = inspection_acts_put(st, txn, who->id, a->client_id, &r);
    }
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
