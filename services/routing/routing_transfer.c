/* routing_transfer: see routing_transfer.h. */
#include "routing_transfer.h"
#include "cpm_case.h"
#include "cpm_text.h"
#include "routing_deadlines.h"
#include "routing_domain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int routing_copy_put(cpm_store_t *st, MDB_txn *txn, const Cpm__Complaint *c)
{
    /* A shallow copy: the contact stays out of routing's store. The sealed
     * card opens only for the agency intake sealed it to, and the ticket in
     * it binds it to this case; passing it on would only give the next
     * agency an unreadable blob. */
    Cpm__Complaint k = *c;
    k.sealed_contact.data = NULL;
    k.sealed_contact.len = 0;
    k.contact_for = (char *)"";
    k.consumer_name = k.consumer_phone = k.consumer_email = (char *)"";
    return cpm_store_put_msg(st, txn, ROUTING_COPIES_DB, c->ticket, &k.base);
}

Cpm__Complaint *routing_copy_get(cpm_store_t *st, MDB_txn *txn, const char *ticket, int *rc)
{
    ProtobufCMessage *m = NULL;
    *rc = cpm_store_get_msg(st, txn, ROUTING_COPIES_DB, ticket, &cpm__complaint__descriptor, &m);
    if (*rc == CPM_E_BAD_MESSAGE)
        *rc = CPM_E_INTERNAL;
    return *rc == 0 ? (Cpm__Complaint *)m : NULL;
}

int routing_set_str(char **field, const char *v)
{
    char *n = strdup(v ? v : "");
    if (!n)
        return CPM_E_INTERNAL;
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = n;
    return 0;
}

/* Append a history entry (a copy of e) to r, owned by r. */
static int history_push(Cpm__StatusReply *r, int64_t at_ms, Cpm__CaseState state, const char *actor,
                        const char *note)
{
    Cpm__StatusEntry **h = realloc(r->history, (r->n_history + 1) * sizeof *h);
    if (!h)
        return CPM_E_INTERNAL;
    r->history = h;
    Cpm__StatusEntry *e = malloc(sizeof *e);
    if (!e)
        return CPM_E_INTERNAL;
    cpm__status_entry__init(e);
    e->at_ms = at_ms;
    e->state = state;
    e->actor = strdup(actor ? actor : "");
    e->note = strdup(note ? note : "");
    if (!e->actor || !e->note) {
        free(e->actor);
        free(e->note);
        free(e);
        return CPM_E_INTERNAL;
    }
    r->history[r->n_history++] = e;
    return 0;
}

/* The deadline the case holds in its state leaves the index. */
static int clear_deadline(cpm_store_t *st, MDB_txn *txn, const Cpm__StatusReply *r)
{
    if (r->state == CPM__CASE_STATE__CASE_STATE_ROUTED ||
        r->state == CPM__CASE_STATE__CASE_STATE_ASSIGNED)
        return routing_deadline_clear(st, txn, r->accept_due_ms, r->ticket);
    return routing_deadline_clear(st, txn, r->resolve_due_ms, r->ticket);
}

int routing_transfer(const cpm_rules_t *rules, cpm_store_t *st, MDB_txn *txn,
                     const cpm_effects_t *fx, const char *ticket, const routing_move_t *mv,
                     int64_t now_ms, cpm_error_t *err)
{
    int rc;
    Cpm__StatusReply *r = routing_status(st, txn, ticket, &rc);
    if (!r)
        return rc == CPM_E_NOT_FOUND
                   ? cpm_error_set(err, rc, "ticket", "ticket %s is not known", ticket)
                   : rc;
    Cpm__Complaint *c = routing_copy_get(st, txn, ticket, &rc);
    /* The last agency that held the case (for an unassigned case, the last
     * that returned it): it may still hold the consumer's contact. */
    char *old = strdup(*r->agency ? r->agency : r->previous_agency ? r->previous_agency : "");
    char version[16], note[400];
    snprintf(version, sizeof version, "%u", cpm_rules_version(rules));
    snprintf(note, sizeof note, "from %s to %s: %s", *r->agency ? r->agency : "(coordinators)",
             mv->to, mv->reason ? mv->reason : "");
    if (!c) {
        if (rc == CPM_E_NOT_FOUND)
            rc = cpm_error_set(err, CPM_E_CONFLICT, "ticket",
                               "case %s was routed before routing kept complaints: it cannot "
                               "be moved",
                               ticket);
        goto out;
    }
    if (!old) {
        rc = CPM_E_INTERNAL;
        goto out;
    }
    if ((rc = clear_deadline(st, txn, r)) != 0)
        goto out;
    /* The register: the case is routed to its new agency, and says why. */
    if ((rc = history_push(r, now_ms, CPM__CASE_STATE__CASE_STATE_TRANSFERRED, mv->actor, note)) ||
        (rc = history_push(r, now_ms, CPM__CASE_STATE__CASE_STATE_ROUTED, mv->rule_id, "")) ||
        (rc = routing_set_str(&r->agency, mv->to)) ||
        (rc = routing_set_str(&r->previous_agency, old)) ||
        (rc = routing_set_str(&r->rule_id, mv->rule_id)) ||
        (rc = routing_set_str(&r->rules_version, version)))
        goto out;
    /* A reorganization moves the case to a unit of the new generation. */
    if (mv->area && (rc = routing_set_str(&r->area, mv->area)) != 0)
        goto out;
    /* The complaint keeps a unit slug (receivers require one): the new unit
     * when there is one, else the old (the candidates are in the reason). */
    if (mv->area && *mv->area &&
        ((rc = routing_set_str(&c->area, mv->area)) || (rc = routing_copy_put(st, txn, c))))
        goto out;
    if (mv->generation && (rc = routing_set_str(&r->generation, mv->generation)))
        goto out;
    r->state = CPM__CASE_STATE__CASE_STATE_ROUTED;
    r->routed_ms = now_ms;
    r->resolve_due_ms = 0;
    r->accept_due_ms = cpm_rules_add_working_days(
        rules, now_ms, cpm_rules_accept_days_for(rules, r->category, r->generation));
    if ((rc = cpm_store_put_msg(st, txn, ROUTING_CASES_DB, ticket, &r->base)) != 0 ||
        (rc = routing_deadline_set(st, txn, r->accept_due_ms, ticket, "accept")) != 0)
        goto out;
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = c;
    a.agency = (char *)mv->to;
    a.rule_id = (char *)mv->rule_id;
    a.rules_version = version;
    a.routed_ms = now_ms;
    a.accept_due_ms = r->accept_due_ms;
    a.previous_agency = old;
    a.reason = (char *)(mv->reason ? mv->reason : "");
    a.returns = r->returns;
    if ((rc = fx->send(fx->ctx, txn, mv->to, "inspection", &a.base)) != 0)
        goto out;
    /* The old agency's copy must stop taking actions: same stream, so the
     * notice arrives after the assignment it withdraws. A copy the agency
     * refused itself keeps its state but gets the notice too: its node is the
     * only one that can re-seal the consumer's contact for the new agency
     * (inspection_contact, routing_contact). */
    if (*old && strcmp(old, mv->to) != 0) {
        Cpm__Assignment w = a;
        w.agency = old;
        w.withdrawn = true;
        w.transferred_to = (char *)mv->to;
        w.previous_agency = (char *)"";
        if ((rc = fx->send(fx->ctx, txn, old, "inspection", &w.base)) != 0)
            goto out;
    }
    cpm_event_t ev = {.kind = "case.transferred",
                      .ticket = ticket,
                      .agency = mv->to,
                      .area = r->area,
                      .category = r->category,
                      .state = CPM__CASE_STATE__CASE_STATE_ROUTED,
                      .rule = mv->rule_id,
                      .actor = mv->actor,
                      .note = note};
    rc = fx->event(fx->ctx, txn, &ev);
out:
    free(old);
    cpm__complaint__free_unpacked(c, NULL);
    cpm__status_reply__free_unpacked(r, NULL);
    return rc;
}

/* The case goes to the city's coordinators. */
static int to_coordinators(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                           Cpm__StatusReply *r, int64_t now_ms)
{
    char note[300] = "returned by";
    for (size_t i = 0; i < r->n_refused_by; i++)
        snprintf(note + strlen(note), sizeof note - strlen(note), "%s %s", i ? "," : "",
                 r->refused_by[i]);
    int rc;
    if ((rc = history_push(r, now_ms, CPM__CASE_STATE__CASE_STATE_UNASSIGNED, "routing", note)) ||
        (rc = routing_set_str(&r->previous_agency, r->agency)) ||
        (rc = routing_set_str(&r->agency, "")))
        return rc;
    r->state = CPM__CASE_STATE__CASE_STATE_UNASSIGNED;
    if ((rc = cpm_store_put_msg(st, txn, ROUTING_CASES_DB, r->ticket, &r->base)) != 0)
        return rc;
    cpm_event_t ev = {.kind = "case.unassigned",
                      .ticket = r->ticket,
                      .agency = "",
                      .area = r->area,
                      .category = r->category,
                      .state = CPM__CASE_STATE__CASE_STATE_UNASSIGNED,
                      .rule = r->rule_id,
                      .actor = "routing",
                      .note = note};
    return fx->event(fx->ctx, txn, &ev);
}

int routing_return(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                   MDB_txn *txn, const cpm_effects_t *fx, const char *ticket, const char *agency,
                   int64_t now_ms, bool *unassigned, cpm_error_t *err)
{
    int rc;
    *unassigned = false;
    Cpm__StatusReply *r = routing_status(st, txn, ticket, &rc);
    if (!r)
        return rc == CPM_E_NOT_FOUND ? 0 : rc;
    if (r->state != CPM__CASE_STATE__CASE_STATE_REFUSED || strcmp(r->agency, agency) != 0) {
        rc = 0; /* already handled */
        goto out;
    }
    /* The refusal's reason: the last history entry (routing_apply_update). */
    const char *why = r->n_history ? r->history[r->n_history - 1]->note : "";
    char reason[300];
    snprintf(reason, sizeof reason, "returned by %s: %s", agency, why);
    char **rb = realloc(r->refused_by, (r->n_refused_by + 1) * sizeof *rb);
    if (!rb || !(rb[r->n_refused_by] = strdup(agency))) {
        if (rb)
            r->refused_by = rb;
        rc = CPM_E_INTERNAL;
        goto out;
    }
    r->refused_by = rb;
    r->n_refused_by++;
    r->returns = (uint32_t)r->n_refused_by;
    int crc;
    Cpm__Complaint *c = routing_copy_get(st, txn, ticket, &crc);
    bool urgent = c && c->urgent; /* the rules match on it as they did at first */
    cpm__complaint__free_unpacked(c, NULL);
    if (!c && crc != CPM_E_NOT_FOUND) {
        rc = crc;
        goto out;
    }
    cpm_route_t route;
    cpm_route_query_t rq = {r->generation,  r->received_ms, r->category,
                            r->area,        urgent,         (const char *const *)r->refused_by,
                            r->n_refused_by};
    cpm_rules_route_q(rules, reg, &rq, &route);
    bool skip = false;
    for (size_t i = 0; i < r->n_refused_by; i++)
        skip |= !strcmp(r->refused_by[i], route.agency);
    if (r->returns >= ROUTING_RETURNS_MAX || skip) {
        *unassigned = true;
        rc = to_coordinators(st, txn, fx, r, now_ms);
        goto out;
    }
    /* Keep refused_by in the record, then move it. */
    if ((rc = cpm_store_put_msg(st, txn, ROUTING_CASES_DB, ticket, &r->base)) != 0)
        goto out;
    routing_move_t mv = {route.agency, route.rule_id, "routing", reason, false, NULL, NULL};
    rc = routing_transfer(rules, st, txn, fx, ticket, &mv, now_ms, err);
out:
    cpm__status_reply__free_unpacked(r, NULL);
    return rc;
}

int routing_case_assign(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                        MDB_txn *txn, const cpm_effects_t *fx, const Cpm__Member *asker,
                        const Cpm__CaseAssign *q, int64_t now_ms, Cpm__CaseState *state,
                        bool *duplicate, cpm_error_t *err)
{
    char esc[96];
    *duplicate = false;
    if (!asker || (strcmp(asker->role, "coordinator") && strcmp(asker->role, "city")))
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "only the city's coordinators assign cases by hand");
    if (!cpm_text_ticket_valid(q->ticket, NULL))
        return cpm_error_set(err, CPM_E_INVALID, "ticket", "ticket must be <PREFIX>-<digits>");
    if (!cpm_text_member_valid(q->agency))
        return cpm_error_set(err, CPM_E_INVALID, "agency", "agency \"%s\" is not a member id",
                             cpm_text_esc(q->agency, esc, sizeof esc));
    if (!cpm_text_utf8_valid(q->note, strlen(q->note)) || strlen(q->note) > 500)
        return cpm_error_set(err, CPM_E_INVALID, "note", "note must be UTF-8, at most 500 bytes");
    const Cpm__Member *m = reg ? cpm_registry_member(reg, q->agency) : NULL;
    if (reg && (!m || !cpm_member_service(m, "inspection")))
        return cpm_error_set(err, CPM_E_CONFLICT, "agency",
                             "agency %s has no node with an inspection service", q->agency);
    int rc;
    Cpm__StatusReply *r = routing_status(st, txn, q->ticket, &rc);
    if (!r)
        return rc == CPM_E_NOT_FOUND
                   ? cpm_error_set(err, rc, "ticket", "ticket %s is not known", q->ticket)
                   : rc;
    Cpm__CaseState from = r->state;
    bool same = !strcmp(r->agency, q->agency) && from != CPM__CASE_STATE__CASE_STATE_REFUSED;
    bool open = from == CPM__CASE_STATE__CASE_STATE_UNASSIGNED ||
                from == CPM__CASE_STATE__CASE_STATE_REFUSED ||
                (cpm_case_is_open(from) && from != CPM__CASE_STATE__CASE_STATE_RECEIVED);
    bool notify = *r->agency && from != CPM__CASE_STATE__CASE_STATE_REFUSED;
    cpm__status_reply__free_unpacked(r, NULL);
    *state = from;
    if (same) {
        *duplicate = true;
        return 0;
    }
    if (!open)
        return cpm_error_set(err, CPM_E_CONFLICT, "state", "case %s is %s: it cannot be assigned",
                             q->ticket,
                             cpm_case_state_name(from) ? cpm_case_state_name(from) : "closed");
    char reason[600];
    snprintf(reason, sizeof reason, "assigned by hand%s%s", *q->note ? ": " : "", q->note);
    routing_move_t mv = {q->agency, "coordinator", asker->id, reason, notify, NULL, NULL};
    if ((rc = routing_transfer(rules, st, txn, fx, q->ticket, &mv, now_ms, err)) == 0)
        *state = CPM__CASE_STATE__CASE_STATE_ROUTED;
    return rc;
}
