/* routing_categorize: see routing_categorize.h. */
#include "routing_categorize.h"
#include "cpm_case.h"
#include "cpm_text.h"
#include "routing_domain.h"
#include "routing_transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The choice in the history: who, from what to what, and what the model said. */
static int history_push(Cpm__StatusReply *r, int64_t at_ms, const char *actor, const char *note)
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
    e->state = r->state; /* a choice of category does not move the state */
    e->actor = strdup(actor);
    e->note = strdup(note);
    if (!e->actor || !e->note) {
        free(e->actor);
        free(e->note);
        free(e);
        return CPM_E_INTERNAL;
    }
    r->history[r->n_history++] = e;
    return 0;
}

static bool is_coordinator(const Cpm__Member *m)
{
    return m && m->role && (!strcmp(m->role, "coordinator") || !strcmp(m->role, "city"));
}

/* What routing_case_assign may still move. */
static bool movable(Cpm__CaseState s)
{
    return s == CPM__CASE_STATE__CASE_STATE_UNASSIGNED ||
           s == CPM__CASE_STATE__CASE_STATE_REFUSED ||
           (cpm_case_is_open(s) && s != CPM__CASE_STATE__CASE_STATE_RECEIVED);
}

static int check(const cpm_rules_t *rules, const Cpm__Member *asker, const Cpm__CaseAssign *q,
                 cpm_error_t *err)
{
    char esc[96];
    if (!is_coordinator(asker))
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "only the city's coordinators choose a case's category");
    if (!cpm_text_ticket_valid(q->ticket, NULL))
        return cpm_error_set(err, CPM_E_INVALID, "ticket", "ticket must be <PREFIX>-<digits>");
    if (!cpm_text_slug_valid(q->category) || !cpm_rules_has_category(rules, q->category))
        return cpm_error_set(err, CPM_E_INVALID, "category",
                             "category \"%s\" is not a category of the routing rules",
                             cpm_text_esc(q->category, esc, sizeof esc));
    if (*q->agency && !cpm_text_member_valid(q->agency))
        return cpm_error_set(err, CPM_E_INVALID, "agency", "agency \"%s\" is not a member id",
                             cpm_text_esc(q->agency, esc, sizeof esc));
    if (!cpm_text_utf8_valid(q->note, strlen(q->note)) || strlen(q->note) > 500)
        return cpm_error_set(err, CPM_E_INVALID, "note", "note must be UTF-8, at most 500 bytes");
    return 0;
}

/* Record the choice in r (the register's record, stored here) and c (the
 * kept copy, may be NULL), and publish it. */
static int record_choice(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                         const Cpm__Member *asker, const Cpm__CaseAssign *q, Cpm__StatusReply *r,
                         Cpm__Complaint *c, int64_t now_ms)
{
    /* The suggestion the choice answers: the record's own after a first
     * choice, else what intake recorded on the complaint. */
    if (!*r->category_by && c) {
        int rc = routing_set_str(&r->category_suggested, c->category_suggested);
        if (rc)
            return rc;
        r->suggestion_pm = c->suggestion_pm;
    }
    char note[800];
    int n = snprintf(note, sizeof note, "category %s -> %s", *r->category ? r->category : "(none)",
                     q->category);
    if (*r->category_suggested)
        n += snprintf(note + n, sizeof note - (size_t)n, " (model suggested %s, %u%%)",
                      r->category_suggested, (r->suggestion_pm + 5) / 10);
    else
        n += snprintf(note + n, sizeof note - (size_t)n, " (no suggestion)");
    /* The person's free text stays in the case history: the event log is
     * read by subscribers (watchers, the exchange feed, the monitor), so the
     * event's note says only what changed and what the model said. */
    char hist[sizeof note + 512]; /* the note is at most 500 bytes (checked above) */
    int rc;
    if (snprintf(hist, sizeof hist, "%s%s%s", note, *q->note ? ": " : "", q->note) < 0)
        return CPM_E_INTERNAL;
    if ((rc = history_push(r, now_ms, asker->id, hist)) ||
        (rc = routing_set_str(&r->category, q->category)) ||
        (rc = routing_set_str(&r->category_by, "person")) ||
        (rc = routing_set_str(&r->category_chosen_by, asker->id)) ||
        (rc = cpm_store_put_msg(st, txn, ROUTING_CASES_DB, r->ticket, &r->base)))
        return rc;
    /* The copy travels with every later move: it says the chosen category. */
    if (c &&
        ((rc = routing_set_str(&c->category, q->category)) || (rc = routing_copy_put(st, txn, c))))
        return rc;
    cpm_event_t ev = {.kind = "case.categorized",
                      .ticket = r->ticket,
                      .agency = r->agency,
                      .area = r->area,
                      .category = q->category,
                      .state = r->state,
                      .rule = r->rule_id,
                      .actor = asker->id,
                      .note = note,
                      .suggested = r->category_suggested,
                      .suggestion_pm = r->suggestion_pm,
                      .category_by = "person"};
    return fx->event(fx->ctx, txn, &ev);
}

/* Routed again by the rules for the new category: moved when they name
 * another agency than the one holding it (or it is with nobody). */
static int reroute(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                   MDB_txn *txn, const cpm_effects_t *fx, const Cpm__Member *asker,
                   const Cpm__StatusReply *r, const Cpm__Complaint *c, int64_t now_ms,
                   cpm_error_t *err)
{
    cpm_route_t route;
    cpm_route_query_t rq = {
        r->generation, r->received_ms, r->category, r->area, c && c->urgent, NULL, 0};
    cpm_rules_route_q(rules, reg, &rq, &route);
    bool held = r->state != CPM__CASE_STATE__CASE_STATE_REFUSED &&
                r->state != CPM__CASE_STATE__CASE_STATE_UNASSIGNED;
    if (held && !strcmp(route.agency, r->agency))
        return 0;
    char reason[400];
    snprintf(reason, sizeof reason, "category %s chosen by %s: rule %s", r->category, asker->id,
             route.rule_id);
    routing_move_t mv = {route.agency,       route.rule_id, asker->id, reason,
                         held && *r->agency, NULL,          NULL};
    return routing_transfer(rules, st, txn, fx, r->ticket, &mv, now_ms, err);
}

int routing_categorize(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                       MDB_txn *txn, const cpm_effects_t *fx, const Cpm__Member *asker,
                       const Cpm__CaseAssign *q, int64_t now_ms, routing_categorized_t *out,
                       cpm_error_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = check(rules, asker, q, err);
    if (rc != 0)
        return rc;
    Cpm__StatusReply *r = routing_status(st, txn, q->ticket, &rc);
    if (!r)
        return rc == CPM_E_NOT_FOUND
                   ? cpm_error_set(err, rc, "ticket", "ticket %s is not known", q->ticket)
                   : rc;
    int crc;
    Cpm__Complaint *c = routing_copy_get(st, txn, q->ticket, &crc);
    if (!c && crc != CPM_E_NOT_FOUND) {
        rc = crc;
        goto out;
    }
    out->state = r->state;
    snprintf(out->agency, sizeof out->agency, "%s", r->agency);
    /* Delivered again, or chosen again: nothing new to say. */
    if (!strcmp(r->category_by, "person") && !strcmp(r->category, q->category) &&
        (!*q->agency || !strcmp(r->agency, q->agency))) {
        out->duplicate = true;
        goto out;
    }
    bool can_move = movable(r->state);
    if (*q->agency && !can_move) {
        rc = cpm_error_set(
            err, CPM_E_CONFLICT, "state", "case %s is %s: it cannot be assigned", q->ticket,
            cpm_case_state_name(r->state) ? cpm_case_state_name(r->state) : "closed");
        goto out;
    }
    if ((rc = record_choice(st, txn, fx, asker, q, r, c, now_ms)) != 0)
        goto out;
    if (*q->agency) {
        Cpm__CaseState state;
        bool same;
        rc = routing_case_assign(rules, reg, st, txn, fx, asker, q, now_ms, &state, &same, err);
    } else if (can_move) {
        rc = reroute(rules, reg, st, txn, fx, asker, r, c, now_ms, err);
    }
    if (rc != 0)
        goto out;
    cpm__status_reply__free_unpacked(r, NULL);
    if (!(r = routing_status(st, txn, q->ticket, &rc)))
        goto out;
    out->state = r->state;
    snprintf(out->agency, sizeof out->agency, "%s", r->agency);
out:
    cpm__complaint__free_unpacked(c, NULL);
    cpm__status_reply__free_unpacked(r, NULL);
    return rc;
}

int routing_categorize_fill(cpm_store_t *st, MDB_txn *txn, Cpm__StatusReply *r)
{
    if (*r->category_by) /* a person chose: the record holds it all */
        return 0;
    int rc;
    Cpm__Complaint *c = routing_copy_get(st, txn, r->ticket, &rc);
    if (!c)
        return rc == CPM_E_NOT_FOUND ? 0 : rc;
    if ((rc = routing_set_str(&r->category_suggested, c->category_suggested)) == 0 &&
        (rc = routing_set_str(&r->category_by, c->category_by)) == 0)
        r->suggestion_pm = c->suggestion_pm;
    cpm__complaint__free_unpacked(c, NULL);
    return rc;
}
