#include "routing_domain.h"

#include "cpm_pbcheck.h"
#include "cpm_case.h"
#include "cpm_envelope.h"
#include "cpm_keys.h"
#include "cpm_fields.h"
#include "cpm_text.h"
#include "cpm_keyhist.h"
#include "cpm_verifier.h"
#include "cpm_util.h"
#include "routing_casewire.h"
#include "routing_deadlines.h"
#include "routing_transfer.h"
#include "routing_dupes.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Cpm__StatusReply *routing_status(cpm_store_t *st, MDB_txn *txn, const char *ticket, int *rc)
{
    ProtobufCMessage *m = NULL;
    *rc = cpm_store_get_msg(st, txn, ROUTING_CASES_DB, ticket, &cpm__status_reply__descriptor, &m);
    if (*rc == CPM_E_BAD_MESSAGE)
        *rc = CPM_E_INTERNAL;
    return *rc == 0 ? (Cpm__StatusReply *)m : NULL;
}

/* Append a history entry to r. The entry's strings are borrowed and must
 * outlive the pack of r; history_free releases the added entries. */
static int history_add(Cpm__StatusReply *r, Cpm__StatusEntry *e)
{
    Cpm__StatusEntry **h = realloc(r->history, (r->n_history + 1) * sizeof *h);
    if (!h)
        return CPM_E_INTERNAL;
    r->history = h;
    r->history[r->n_history++] = e;
    return 0;
}

int routing_apply_complaint(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                            MDB_txn *txn, const cpm_effects_t *fx, const char *sender,
                            const Cpm__Complaint *c, int64_t now_ms, cpm_error_t *err)
{
    bool unreadable;
    return routing_route_complaint(rules, reg, st, txn, fx, sender, c, now_ms, &unreadable, NULL,
                                   err);
}

int routing_route_complaint(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                            MDB_txn *txn, const cpm_effects_t *fx, const char *sender,
                            const Cpm__Complaint *c, int64_t now_ms, bool *routed_unreadable,
                            const routing_dupes_pre_t *pre, cpm_error_t *err)
{
    char esc_node[96], esc_ticket[96];
    *routed_unreadable = false;
    if (!c->ticket || !*c->ticket)
        return cpm_error_set(err, CPM_E_INVALID, "ticket", "the complaint has no ticket");
    if (!c->intake_node || strcmp(c->intake_node, sender) != 0)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "intake_node",
                             "intake_node %s is not the sender %s",
                             cpm_text_esc(c->intake_node, esc_node, sizeof esc_node), sender);
    /* A ticket belongs to the intake that issued it: its prefix is that
     * member's ticket_prefix, so one node cannot claim another's numbers. */
    const Cpm__Member *m = reg ? cpm_registry_member(reg, sender) : NULL;
    size_t pl = m && m->ticket_prefix ? strlen(m->ticket_prefix) : 0;
    if (reg && (!pl || strncmp(c->ticket, m->ticket_prefix, pl) != 0 || c->ticket[pl] != '-'))
        return cpm_error_set(err, CPM_E_FORBIDDEN, "ticket",
                             "ticket %s does not carry the ticket prefix of %s",
                             cpm_text_esc(c->ticket, esc_ticket, sizeof esc_ticket), sender);
    /* Whatever intake checked, this record comes from another node: its
     * text reaches routing's store, events, log and every watcher. */
    int rc = cpm_fields_complaint(c, err);
    if (rc != 0)
        return rc;
    Cpm__StatusReply *known = routing_status(st, txn, c->ticket, &rc);
    if (known) {
        /* A second copy of the same complaint changes nothing; another
         * complaint under a ticket already routed means its intake issued the
         * number twice (its store was reset or restored): keep it aside. */
        bool same = known->received_ms == c->received_ms;
        char at[40];
        cpm_format_time(known->received_ms, at, sizeof at);
        cpm__status_reply__free_unpacked(known, NULL);
        if (same)
            return 0;
        return cpm_error_set(err, CPM_E_CONFLICT, "ticket",
                             "ticket %s was already routed for another complaint received at %s: "
                             "was the store of %s reset or restored?",
                             c->ticket, at, sender);
    }
    if (rc != CPM_E_NOT_FOUND)
        return rc;
    cpm_route_t route;
    /* By (generation, unit): the generation in force when intake received it
     * (intake places in the units of today; a mesh still on an older
     * generation reads the slug in that one). */
    const Cpm__Placement *place = c->placement;
    cpm_route_query_t rq = {
        NULL, c->received_ms ? c->received_ms : now_ms, c->category, c->area, c->urgent, NULL, 0};
    cpm_rules_route_q(rules, reg, &rq, &route);
    if (place && strcmp(place->method, "triage") == 0)
        routing_triage_reason(place, rules, &route);
    char version[16]; /* recorded with the rule: the rules are reloaded while running */
    snprintf(version, sizeof version, "%u", cpm_rules_version(rules));
    int64_t received = c->received_ms ? c->received_ms : now_ms;

    Cpm__StatusReply r = CPM__STATUS_REPLY__INIT;
    r.ticket = c->ticket;
    r.state = CPM__CASE_STATE__CASE_STATE_ROUTED;
    r.agency = route.agency;
    r.rule_id = route.rule_id;
    r.rules_version = version;
    r.generation = route.generation;
    r.area = c->area;
    r.placement = c->placement; /* what was written and how intake placed it (case explain) */
    r.category = c->category;
    r.intake_node = c->intake_node;
    r.received_ms = received;
    r.routed_ms = now_ms;
    r.accept_due_ms = cpm_rules_add_working_days(
        rules, received, cpm_rules_accept_days_for(rules, c->category, route.generation));
    Cpm__StatusEntry e1 = CPM__STATUS_ENTRY__INIT, e2 = CPM__STATUS_ENTRY__INIT;
    Cpm__StatusEntry *hist[2] = {&e1, &e2};
    e1.at_ms = received;
    e1.state = CPM__CASE_STATE__CASE_STATE_RECEIVED;
    e1.actor = c->intake_node;
    e2.at_ms = now_ms;
    e2.state = CPM__CASE_STATE__CASE_STATE_ROUTED;
    e2.actor = route.rule_id;
    e2.note = route.reason;
    r.history = hist;
    r.n_history = 2;
    bool unreadable = routing_contact_unreadable(c, route.agency);
    if (unreadable)
        r.contact_for = c->contact_for;
    char linked[ROUTING_TICKET_MAX]; /* the same consumer about the same business: linked */
    if ((rc = routing_dupes_link_pre(st, txn, fx, c, now_ms, linked, pre)) != 0)
        return rc;
    r.linked_to = linked;
    if ((rc = cpm_store_put_msg(st, txn, ROUTING_CASES_DB, r.ticket, &r.base)) != 0 ||
        (rc = routing_deadline_set(st, txn, r.accept_due_ms, c->ticket, "accept")) != 0 ||
        (rc = routing_copy_put(st, txn, c)) != 0) /* to move it later (routing_transfer) */
        return rc;
    /* The consumer's key to the public view (routing_status_for). */
    if (*c->lookup_code &&
        (rc = cpm_store_put(st, txn, ROUTING_CODES_DB, c->ticket, strlen(c->ticket), c->lookup_code,
                            strlen(c->lookup_code))) != 0)
        return rc;

    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = (Cpm__Complaint *)c;
    a.agency = route.agency;
    a.rule_id = route.rule_id;
    a.rules_version = version;
    a.routed_ms = now_ms;
    a.accept_due_ms = r.accept_due_ms;
    if ((rc = fx->send(fx->ctx, txn, route.agency, "inspection", &a.base)) != 0)
        return rc;
    char note[300] = "";
    if (*route.reason)
        snprintf(note, sizeof note, "reason=%s", route.reason);
    cpm_event_t ev = {.kind = "case.routed",
                      .ticket = c->ticket,
                      .agency = route.agency,
                      .area = c->area,
                      .category = c->category,
                      .state = CPM__CASE_STATE__CASE_STATE_ROUTED,
                      .rule = route.rule_id,
                      .note = note};
    if ((rc = fx->event(fx->ctx, txn, &ev)) != 0 || !unreadable)
        return rc;
    snprintf(note, sizeof note, "sealed_for=%s", c->contact_for);
    ev.kind = "contact.unreadable";
    ev.state = CPM__CASE_STATE__CASE_STATE_UNSPECIFIED;
    rc = fx->event(fx->ctx, txn, &ev);
    *routed_unreadable = rc == 0;
    return rc;
}

void routing_triage_reason(const Cpm__Placement *pl, const cpm_rules_t *rules, cpm_route_t *route)
{
    /* A rule that does not look at the area (a city department's category)
     * still decides; only a case that went to triage for want of a unit gets
     * the units it may be in, for the coordinator who places it by hand. */
    if (strcmp(route->agency, cpm_rules_triage(rules)) != 0)
        return;
    size_t n = 0;
    int w = snprintf(route->reason, sizeof route->reason,
                     "place may be any of %zu units:", pl->n_candidates);
    for (size_t i = 0; i < pl->n_candidates && w > 0 && (size_t)w < sizeof route->reason; i++) {
        const Cpm__PlaceCandidate *k = pl->candidates[i];
        int add = snprintf(route->reason + w, sizeof route->reason - (size_t)w, "%s %s:%s",
                           i ? "," : "", k->generation, k->code);
        if (add < 0 || (size_t)(w + add) >= sizeof route->reason - 12)
            break;
        w += add;
        n++;
    }
    if (n < pl->n_candidates && (size_t)w < sizeof route->reason)
        snprintf(route->reason + w, sizeof route->reason - (size_t)w, " +%zu more",
                 pl->n_candidates - n);
}

bool routing_contact_unreadable(const Cpm__Complaint *c, const char *agency)
{
    return c->sealed_contact.len > 0 && (!c->contact_for || strcmp(c->contact_for, agency) != 0);
}

static bool drop(char **s)
{
    if (!*s || !**s)
        return false;
    memset(*s, 0, strlen(*s)); /* our unpacked copy: do not leave it in freed memory */
    free(*s);
    *s = (char *)protobuf_c_empty_string;
    return true;
}

bool routing_contact_drop_clear(Cpm__Complaint *c)
{
    bool a = drop(&c->consumer_name), b = drop(&c->consumer_phone), d = drop(&c->consumer_email);
    return a || b || d;
}

/* Move r (routed) to assigned at at_ms, held by agency, said by actor:
 * history, store, event. The entry is the record's own (freed with it). */
static int mark_assigned(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                         Cpm__StatusReply *r, const char *agency, const char *actor, int64_t at_ms)
{
    Cpm__StatusEntry *e = malloc(sizeof *e);
    if (!e)
        return CPM_E_INTERNAL;
    cpm__status_entry__init(e);
    e->at_ms = at_ms;
    e->state = CPM__CASE_STATE__CASE_STATE_ASSIGNED;
    e->actor = strdup(actor);
    int rc = e->actor ? history_add(r, e) : CPM_E_INTERNAL;
    if (rc != 0) {
        free(e->actor);
        free(e);
        return rc;
    }
    r->state = CPM__CASE_STATE__CASE_STATE_ASSIGNED;
    if ((rc = cpm_store_put_msg(st, txn, ROUTING_CASES_DB, r->ticket, &r->base)) != 0)
        return rc;
    cpm_event_t ev = {.kind = "case.assigned",
                      .ticket = r->ticket,
                      .agency = agency,
                      .area = r->area,
                      .category = r->category,
                      .state = CPM__CASE_STATE__CASE_STATE_ASSIGNED,
                      .rule = r->rule_id,
                      .actor = actor};
    return fx->event(fx->ctx, txn, &ev);
}

/* A string of a case's bytes (len bytes at s) into out (cap): false when
 * it does not fit. */
static bool wire_str(const uint8_t *s, size_t len, char *out, size_t cap)
{
    if (len >= cap)
        return false;
    if (len)
        memcpy(out, s, len);
    out[len] = 0;
    return true;
}

#define WIRE_STR_MAX 256 /* area, category, rule id: longer ones the slow way */

/* mark_assigned on the stored bytes v (vlen) of the case ticket, by agency
 * at at_ms, without decoding them (routing_casewire.h): 0 (marked, or not
 * routed to agency: nothing to do), 1 (they are not plain fields, or a
 * string is long: decode them), or a store error. */
static int mark_assigned_wire(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                              const char *ticket, const char *agency, const void *v, size_t vlen,
                              int64_t at_ms)
{
    routing_casewire_t w;
    char area[WIRE_STR_MAX], category[WIRE_STR_MAX], rule[WIRE_STR_MAX];
    if (!routing_casewire_peek(v, vlen, &w) || !wire_str(w.area, w.area_len, area, sizeof area) ||
        !wire_str(w.category, w.category_len, category, sizeof category) ||
        !wire_str(w.rule_id, w.rule_id_len, rule, sizeof rule))
        return 1;
    if (w.state != CPM__CASE_STATE__CASE_STATE_ROUTED || w.agency_len != strlen(agency) ||
        memcmp(w.agency, agency, w.agency_len) != 0)
        return 0;
    Cpm__StatusEntry e = CPM__STATUS_ENTRY__INIT;
    e.at_ms = at_ms;
    e.state = CPM__CASE_STATE__CASE_STATE_ASSIGNED;
    e.actor = (char *)agency;
    size_t cap = vlen + 64 + protobuf_c_message_get_packed_size(&e.base);
    uint8_t stack[4096], *buf = cap <= sizeof stack ? stack : malloc(cap);
    if (!buf)
        return CPM_E_INTERNAL;
    memcpy(buf, v, vlen); /* v is the store's: read before the put */
    size_t add =
        routing_casewire_append(CPM__CASE_STATE__CASE_STATE_ASSIGNED, &e, buf + vlen, cap - vlen);
    int rc = add ? cpm_store_put(st, txn, ROUTING_CASES_DB, ticket, strlen(ticket), buf, vlen + add)
                 : CPM_E_INTERNAL;
    if (buf != stack)
        free(buf);
    if (rc != 0)
        return rc;
    cpm_event_t ev = {.kind = "case.assigned",
                      .ticket = ticket,
                      .agency = agency,
                      .area = area,
                      .category = category,
                      .state = CPM__CASE_STATE__CASE_STATE_ASSIGNED,
                      .rule = rule,
                      .actor = agency};
    return fx->event(fx->ctx, txn, &ev);
}

int routing_assignment_delivered(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                                 const char *agency, const Cpm__Assignment *a, int64_t now_ms)
{
    const char *ticket = a->complaint && a->complaint->ticket ? a->complaint->ticket : "";
    return routing_assignment_delivered_ticket(st, txn, fx, agency, ticket, now_ms);
}

/* The last string field 1 of the message in (p, end) into out; 0, or -1. */
static int last_field_1(const uint8_t *p, const uint8_t *end, const uint8_t **val, size_t *vlen)
{
    cpm_pb_field_t f;
    int more;
    while ((more = cpm_pb_next(&p, end, &f)) == 1)
        if (f.number == 1) {
            if (f.wire_type != 2)
                return -1;
            *val = f.data;
            *vlen = f.len;
        }
    return more;
}

int routing_assignment_ticket(const uint8_t *rec, size_t len, char ticket[ROUTING_TICKET_MAX])
{
    const uint8_t *p = rec, *end = rec + len, *t = NULL;
    size_t tlen = 0;
    cpm_pb_field_t f;
    int more;
    /* Assignment.complaint (1) may come in pieces, merged: its ticket (1)
     * is the last one of all of them. */
    while ((more = cpm_pb_next(&p, end, &f)) == 1)
        if (f.number == 1 && (f.wire_type != 2 || last_field_1(f.data, f.data + f.len, &t, &tlen)))
            return -1;
    if (more != 0 || tlen >= ROUTING_TICKET_MAX || (tlen && memchr(t, 0, tlen)))
        return -1;
    memcpy(ticket, t ? (const char *)t : "", tlen);
    ticket[tlen] = 0;
    return 0;
}

int routing_assignment_delivered_ticket(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                                        const char *agency, const char *ticket, int64_t now_ms)
{
    if (!*ticket)
        return 0;
    const void *v;
    size_t vlen;
    int rc = cpm_store_get(st, txn, ROUTING_CASES_DB, ticket, strlen(ticket), &v, &vlen);
    if (rc != 0)
        return rc == CPM_E_NOT_FOUND ? 0 : rc; /* only a store error is retried */
    if ((rc = mark_assigned_wire(st, txn, fx, ticket, agency, v, vlen, now_ms)) != 1)
        return rc;
    Cpm__StatusReply *r = routing_status(st, txn, ticket, &rc);
    if (!r)
        return *ticket && rc != CPM_E_NOT_FOUND ? rc : 0; /* only a store error is retried */
    rc = 0;
    /* Once: a case past routed (an answer came first, or a second ack of
     * the same record after a restart) is left alone. */
    if (r->state == CPM__CASE_STATE__CASE_STATE_ROUTED && !strcmp(r->agency, agency))
        rc = mark_assigned(st, txn, fx, r, agency, agency, now_ms);
    cpm__status_reply__free_unpacked(r, NULL);
    return rc;
}

/* Why the key that signed an act made at at_ms does not cover that time,
 * into err: the refusal names the act's time and the key's period. */
static int key_not_valid_at(const Cpm__CaseUpdate *u, const cpm_member_key_t *k, int64_t at_ms,
                            bool acted, cpm_error_t *err)
{
    char at[40], from[40], until[40];
    cpm_format_time(at_ms, at, sizeof at);
    cpm_format_time(k->from_ms, from, sizeof from);
    cpm_format_time(k->until_ms, until, sizeof until);
    return cpm_error_set(err, CPM_E_FORBIDDEN, "signed_action",
                         "signed_action by %s: its %s %s is outside the period of the "
                         "%s key that signed it (valid from %s%s%s)",
                         u->actor, acted ? "acted_ms" : "sent_ms", at,
                         k->current ? "current" : "past", k->from_ms ? from : "the start",
                         k->until_ms ? " until " : "", k->until_ms ? until : "");
}

/* The officer's own signed act, as its agency received it, into e: anyone
 * with the registry can check who did it (docs/protocol.md 13). The agency's
 * node is another node, so routing checks it all before anything is written:
 * a case action (else CPM_E_INVALID), signed by the actor the update names
 * with one of that member's keys, the signature valid over the exact bytes
 * (else CPM_E_FORBIDDEN: the node reports an act its actor did not sign), on
 * this ticket and leading to the state reported (else CPM_E_INVALID). The key
 * is judged at the act's own time (acted_ms, else the time it was signed),
 * not at delivery (docs/protocol.md 13.1): the current key until its
 * revocation, a past key inside its period ("rotated"), a key revoked with a recorded
 * time only before it ("revoked"); anything else is CPM_E_FORBIDDEN. */
static int signed_act(const cpm_registry_t *reg, const Cpm__CaseUpdate *u, Cpm__StatusEntry *e,
                      char key_id[CPM_KEY_ID_LEN + 1], cpm_error_t *err)
{
    if (!u->signed_action.len)
        return 0;
    cpm_slice_t envb, sig;
    cpm_envelope_view_t v;
    size_t al = strlen(u->actor);
    if (cpm_envelope_parse_signed(u->signed_action.data, u->signed_action.len, &envb, &sig) != 0 ||
        cpm_envelope_parse_view(envb.data, envb.len, &v) != 0 ||
        v.type != CPM__MSG_TYPE__MSG_CASE_ACTION || v.sender.len != al ||
        memcmp(v.sender.data, u->actor, al) != 0)
        return cpm_error_set(err, CPM_E_INVALID, "signed_action",
                             "signed_action is not a case action signed by %s", u->actor);
    const Cpm__Member *m = NULL;
    cpm_member_key_t k;
    cpm_verdict_t vd =
        cpm_verify_signed_key(reg, u->signed_action.data, u->signed_action.len, &envb, &v, &m, &k);
    if (vd != CPM_V_OK)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "signed_action",
                             "signed_action does not verify as signed by %s: %s", u->actor,
                             cpm_verdict_name(vd));
    /* Signed: now its payload may be decoded. */
    Cpm__CaseAction *a = cpm__case_action__unpack(NULL, v.payload.len, v.payload.data);
    bool acted = a && a->acted_ms;
    int64_t at_ms = acted ? a->acted_ms : v.sent_ms;
    cpm_key_standing_t standing = CPM_KEY_CURRENT;
    int rc = !a || !a->ticket || strcmp(a->ticket, u->ticket) != 0
                 ? cpm_error_set(err, CPM_E_INVALID, "signed_action",
                                 "signed_action is not an act on %s", u->ticket)
             : cpm_case_target(a->action) != u->state
                 ? cpm_error_set(err, CPM_E_INVALID, "signed_action",
                                 "signed_action does not lead to %s", cpm_case_state_name(u->state))
                 : 0;
    cpm__case_action__free_unpacked(a, NULL);
    if (rc != 0)
        return rc;
    if ((vd = cpm_keyhist_check_at(&k, at_ms, &standing)) == CPM_V_KEY_NOT_VALID_AT)
        return key_not_valid_at(u, &k, at_ms, acted, err);
    if (vd != CPM_V_OK)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "signed_action",
                             "signed_action does not verify as signed by %s: %s", u->actor,
                             cpm_verdict_name(vd));
    e->signed_action = u->signed_action;
    e->signature.data = (uint8_t *)sig.data;
    e->signature.len = sig.len;
    snprintf(key_id, CPM_KEY_ID_LEN + 1, "%.*s", (int)v.key_id.len, (const char *)v.key_id.data);
    e->key_id = key_id;
    e->key_standing = (char *)cpm_key_standing_name(standing);
    e->received_ms = v.sent_ms;
    return 0;
}

int routing_apply_update(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                         MDB_txn *txn, const cpm_effects_t *fx, const char *sender,
                         const Cpm__CaseUpdate *u, cpm_error_t *err)
{
    int rc;
    char esc[96];
    if (!u->ticket || !*u->ticket)
        return cpm_error_set(err, CPM_E_INVALID, "ticket", "the update has no ticket");
    if (u->at_ms <= 0)
        return cpm_error_set(err, CPM_E_INVALID, "at_ms", "the update has no time");
    Cpm__StatusReply *r = routing_status(st, txn, u->ticket, &rc);
    if (!r)
        return rc == CPM_E_NOT_FOUND ? cpm_error_set(err, rc, "ticket", "ticket %s is not known",
                                                     cpm_text_esc(u->ticket, esc, sizeof esc))
                                     : rc;
    if (strcmp(r->agency, sender) != 0) {
        rc = cpm_error_set(err, CPM_E_FORBIDDEN, "agency",
                           "%s reported on %s, which is assigned to %s", sender, u->ticket,
                           r->agency);
        goto out;
    }
    /* The agency's node is another node: what it says reaches our store,
     * events and log only in the forms they allow. */
    if ((rc = cpm_fields_update(u, err)) != 0)
        goto out;
    Cpm__CaseState from = r->state, to = u->state;
    const char *to_name = cpm_case_state_name(to);
    if (from == to)
        goto out; /* nothing new */
    /* "assigned" only confirms delivery, which routing learns from the
     * agency node's acknowledgement (routing_assignment_delivered); a node
     * may still say it (version 1 did). It moves routed on and never moves a
     * case backwards. Every other report follows the one table, and may come
     * straight from routed. */
    bool delivered = to == CPM__CASE_STATE__CASE_STATE_ASSIGNED;
    if (delivered) {
        if (from == CPM__CASE_STATE__CASE_STATE_ROUTED)
            rc = mark_assigned(st, txn, fx, r, sender, u->actor, u->at_ms);
        goto out;
    }
    if (!cpm_case_follows(from, to)) {
        rc = cpm_error_set(err, CPM_E_CONFLICT, "state", "case %s is %s; cannot become %s",
                           u->ticket, cpm_case_state_name(from), to_name);
        goto out;
    }
    Cpm__StatusEntry e = CPM__STATUS_ENTRY__INIT;
    char key_id[CPM_KEY_ID_LEN + 1] = "";
    if ((rc = signed_act(reg, u, &e, key_id, err)) != 0) /* checked before anything is written */
        goto out;
    /* Move the deadlines the register watches: the accept deadline ends with
     * any answer, the resolve deadline runs from acceptance to resolution. */
    if ((from == CPM__CASE_STATE__CASE_STATE_ROUTED ||
         from == CPM__CASE_STATE__CASE_STATE_ASSIGNED) &&
        (rc = routing_deadline_clear(st, txn, r->accept_due_ms, u->ticket)) != 0)
        goto out;
    if (to == CPM__CASE_STATE__CASE_STATE_RESOLVED && r->resolve_due_ms &&
        (rc = routing_deadline_clear(st, txn, r->resolve_due_ms, u->ticket)) != 0)
        goto out;
    Cpm__CaseState old_state = r->state;
    r->state = to;
    /* The outcome is the case's while it stands: a reopened case has none
     * (its history keeps the earlier one). */
    if (to == CPM__CASE_STATE__CASE_STATE_RESOLVED || to == CPM__CASE_STATE__CASE_STATE_REOPENED) {
        r->outcome = u->outcome;
        r->fine_vnd = u->fine_vnd;
    }
    if (to == CPM__CASE_STATE__CASE_STATE_ACCEPTED) {
        r->resolve_due_ms = cpm_rules_add_working_days(
            rules, u->at_ms, cpm_rules_resolve_days_for(rules, r->category, r->generation));
        if ((rc = routing_deadline_set(st, txn, r->resolve_due_ms, u->ticket, "resolve")) != 0) {
            r->state = old_state;
            goto out;
        }
    }
    /* Reopened: a new period with its own deadlines (routing_deadlines.h). */
    if ((rc = routing_deadlines_reopen(rules, st, txn, r, from, to, u->at_ms)) != 0) {
        r->state = old_state;
        goto out;
    }
    e.at_ms = u->at_ms;
    e.state = to;
    e.actor = u->actor;
    /* Officers' notes stay at the agency (they may name the consumer); the
     * register keeps only why a case was refused, which routing needs. */
    e.note = to == CPM__CASE_STATE__CASE_STATE_REFUSED ? u->note : "";
    e.outcome = u->outcome;
    size_t n_before = r->n_history;
    if ((rc = history_add(r, &e)) == 0)
        rc = cpm_store_put_msg(st, txn, ROUTING_CASES_DB, r->ticket, &r->base);
    if (r->n_history > n_before)
        r->n_history--; /* e is on our stack: do not let free_unpacked see it */
    r->state = old_state;
    if (rc != 0)
        goto out;
    char kind[48], note[64] = "";
    snprintf(kind, sizeof kind, "case.%s", to_name);
    if (u->outcome)
        snprintf(note, sizeof note, "outcome=%s", cpm_case_outcome_name(u->outcome));
    /* No officer's note: notes may name the consumer. */
    cpm_event_t ev = {.kind = kind,
                      .ticket = u->ticket,
                      .agency = sender,
                      .area = r->area,
                      .category = r->category,
                      .state = to,
                      .rule = r->rule_id,
                      .actor = u->actor,
                      .note = note,
                      .outcome = u->outcome, /* the monitor counts outcomes and fines */
                      .fine_vnd = to == CPM__CASE_STATE__CASE_STATE_RESOLVED ? u->fine_vnd : 0};
    rc = fx->event(fx->ctx, txn, &ev);
out:
    cpm__status_reply__free_unpacked(r, NULL);
    return rc;
}
