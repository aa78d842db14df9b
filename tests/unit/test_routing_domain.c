/* Tests for routing_domain on a real store, without sockets: routing by the
 * rule table and the registry, the case record (rule, deadlines, history, no
 * personal data), the Assignment queued for the agency, idempotent delivery,
 * and case updates (who may send them, which moves are legal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_case.h"
#include "cpm_envelope.h"
#include "routing_casewire.h"
#include "routing_domain.h"

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"
#define PHONE "0912 345 678"
#define EMAIL "lan.nguyen@example.vn"
#define NAME "Nguyen Thi Lan"

static const char *const dbs[] = ROUTING_DBS;

/* Monday 2 March 2026, a plain working week in Vietnam; routing runs a
 * minute later (f->now) */
#define RECEIVED dom_vn_time(2026, 3, 2, 10, 0)

typedef dom_env_t fixture_t;

static int setup(void **state)
{
    *state = dom_env_new(sizeof(fixture_t), "routing", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         RECEIVED + 60 * 1000);
    return 0;
}

/* What routing sees of a contact: bytes it cannot open (intake sealed them
 * to the agency's key); only that they pass through unchanged matters. */
static uint8_t SEALED[] = "\x01opaque sealed contact bytes\x02";

/* A complaint as intake delivers it (strings borrowed from literals): the
 * contact sealed for the area office the rules choose for food safety
 * in hoan-kiem, the clear fields empty. */
static Cpm__Complaint complaint(const char *ticket, const char *category, const char *area,
                                bool urgent)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "hotline";
    c.sealed_contact.data = SEALED;
    c.sealed_contact.len = sizeof SEALED;
    c.contact_for = "hn.d.hoan-kiem";
    c.business_name = "Pho Ngon Co.";
    c.business_address = "12 Hang Bac";
    c.area = (char *)area;
    c.category = (char *)category;
    c.description = "Food poisoning after lunch.";
    c.client_ref = "ref-1";
    c.intake_node = INTAKE;
    c.urgent = urgent;
    return c;
}

static int route(fixture_t *f, const char *sender, const Cpm__Complaint *c, cpm_error_t *err)
{
    MDB_txn *txn = dom_begin(f->st, true);
    return dom_end(
        txn, routing_apply_complaint(f->rules, f->reg, f->st, txn, &f->fx, sender, c, f->now, err));
}

static void route_ok(fixture_t *f, const char *ticket, const char *category, const char *area,
                     bool urgent)
{
    Cpm__Complaint c = complaint(ticket, category, area, urgent);
    c.received_ms = RECEIVED;
    cpm_route_t sealed_for; /* intake seals for the agency the same rules choose */
    cpm_rules_route(f->rules, f->reg, category, area, urgent, &sealed_for);
    c.contact_for = sealed_for.agency;
    cpm_error_t err = {0};
    int rc = route(f, INTAKE, &c, &err);
    if (rc != 0)
        fail_msg("route %s: %d %s: %s", ticket, rc, err.field, err.message);
}

static int update(fixture_t *f, const char *sender, const char *ticket, const char *state,
                  int64_t at, const char *note, cpm_error_t *err)
{
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)ticket;
    u.state = cpm_case_state_parse(state);
    u.agency = (char *)sender;
    u.actor = "officer.7";
    u.note = (char *)note;
    u.at_ms = at;
    MDB_txn *txn = dom_begin(f->st, true);
    return dom_end(txn,
                   routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx, sender, &u, err));
}

static Cpm__StatusReply *status(fixture_t *f, const char *ticket)
{
    MDB_txn *txn;
    int rc = -1;
    assert_int_equal(cpm_store_begin(f->st, false, &txn), 0);
    Cpm__StatusReply *r = routing_status(f->st, txn, ticket, &rc);
    cpm_store_abort(&txn);
    if (r)
        assert_int_equal(rc, 0);
    return r;
}

/* The stored bytes of a case, to show that something changed nothing. */
static size_t case_bytes(fixture_t *f, const char *ticket, uint8_t *out, size_t cap)
{
    return dom_value_bytes(f->st, "cases", ticket, out, cap);
}

static uint64_t event_head(fixture_t *f)
{
    MDB_txn *txn = dom_begin(f->st, false);
    uint64_t h = dom_event_head(f->st, txn);
    cpm_store_abort(&txn);
    return h;
}

static void test_routes_by_rules(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *ticket, *category, *area;
        bool urgent;
        const char *agency, *rule, *reason;
    } want[] = {
        {"HK-00000001", "food_safety", "hoan-kiem", false, "hn.d.hoan-kiem", "R02-food", NULL},
        {"HK-00000002", "food_safety", "hoan-kiem", true, "hn.attp", "R01-food-urgent", NULL},
        {"HK-00000003", "pricing", "hoan-kiem", false, "hn.qltt", "R04-pricing", NULL},
        /* @area follows the registry's office, whatever its id */
        {"HK-00000004", "tourism_services", "cau-giay", false, "office-cg", "R14-tourism", NULL},
        /* @area without an office: triage, and the reason says why */
        {"HK-00000005", "food_safety", "tay-ho", false, "hn.doit", "triage",
         "no node for unit 2025:tay-ho"},
        /* an office without an inspection service */
        {"HK-00000006", "contracts_warranty", "ba-dinh", false, "hn.doit", "triage",
         "member hn.d.ba-dinh has no inspection service"},
        /* an agency that is not a member */
        {"HK-00000007", "health_pharma", "hoan-kiem", false, "hn.doit", "triage",
         "agency hn.doh is not in the registry"},
        /* no category */
        {"HK-00000008", "", "hoan-kiem", false, "hn.doit", "triage", "no category given"},
    };
    size_t n = sizeof want / sizeof *want;
    for (size_t i = 0; i < n; i++) {
        route_ok(f, want[i].ticket, want[i].category, want[i].area, want[i].urgent);
        Cpm__StatusReply *r = status(f, want[i].ticket);
        assert_non_null(r);
        assert_string_equal(r->agency, want[i].agency);
        assert_string_equal(r->rule_id, want[i].rule);
        assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_ROUTED);
        assert_int_equal(r->n_history, 2);
        if (want[i].reason)
            assert_non_null(strstr(r->history[1]->note, want[i].reason));
        cpm__status_reply__free_unpacked(r, NULL);

        /* the Assignment goes to the agency's inspection service */
        assert_int_equal(f->rec.n_sent, i + 1);
        assert_string_equal(f->rec.sent[i].member, want[i].agency);
        assert_string_equal(f->rec.sent[i].service, "inspection");
        assert_string_equal(f->rec.sent[i].type, "Assignment");
        /* and the event names the agency and the rule */
        assert_int_equal(f->rec.n_events, i + 1);
        assert_string_equal(f->rec.events[i].kind, "case.routed");
        assert_string_equal(f->rec.events[i].ticket, want[i].ticket);
        assert_string_equal(f->rec.events[i].agency, want[i].agency);
        assert_string_equal(f->rec.events[i].rule, want[i].rule);
        assert_int_equal(f->rec.events[i].state, CPM__CASE_STATE__CASE_STATE_ROUTED);
        if (want[i].reason)
            assert_non_null(strstr(f->rec.events[i].detail, want[i].reason));
    }
    /* triage collected four cases on one stream, numbered 1..4 */
    MDB_txn *txn = dom_begin(f->st, false);
    assert_int_equal(dom_outbox_depth(f->st, txn, SELF ">hn.doit/inspection"), 4);
    assert_int_equal(dom_outbox_depth(f->st, txn, SELF ">hn.qltt/inspection"), 1);
    assert_int_equal(dom_outbox_nstreams(f->st, txn), 5);
    assert_int_equal(dom_event_head(f->st, txn), n);
    cpm_store_abort(&txn);
}

static void test_case_record(void **state)
{
    fixture_t *f = *state;
    route_ok(f, "HK-00000001", "food_safety", "hoan-kiem", false);
    Cpm__StatusReply *r = status(f, "HK-00000001");
    assert_non_null(r);
    assert_string_equal(r->ticket, "HK-00000001");
    assert_string_equal(r->area, "hoan-kiem");
    assert_string_equal(r->category, "food_safety");
    assert_string_equal(r->intake_node, INTAKE);
    assert_int_equal(r->received_ms, RECEIVED);
    assert_int_equal(r->routed_ms, f->now);
    /* 10 working days after Mon 2 March 2026: the end of Mon 16 March, VN time */
    assert_int_equal(r->accept_due_ms, dom_vn_day_end(2026, 3, 16));
    assert_int_equal(r->resolve_due_ms, 0);
    assert_int_equal(r->n_history, 2);
    assert_int_equal(r->history[0]->state, CPM__CASE_STATE__CASE_STATE_RECEIVED);
    assert_int_equal(r->history[0]->at_ms, RECEIVED);
    assert_string_equal(r->history[0]->actor, INTAKE);
    assert_int_equal(r->history[1]->state, CPM__CASE_STATE__CASE_STATE_ROUTED);
    assert_int_equal(r->history[1]->at_ms, f->now);
    assert_string_equal(r->history[1]->actor, "R02-food");
    cpm__status_reply__free_unpacked(r, NULL);

    /* no personal data in the stored record, anywhere */
    uint8_t buf[8192];
    size_t len = case_bytes(f, "HK-00000001", buf, sizeof buf);
    assert_false(dom_contains(buf, len, PHONE));
    assert_false(dom_contains(buf, len, EMAIL));
    assert_false(dom_contains(buf, len, NAME));
    /* nor in the event */
    assert_false(dom_contains(f->rec.events[0].detail, strlen(f->rec.events[0].detail), PHONE));
    assert_false(dom_contains(f->rec.events[0].detail, strlen(f->rec.events[0].detail), NAME));

    /* received_ms absent: routing's own clock stands in */
    Cpm__Complaint c = complaint("HK-00000002", "pricing", "hoan-kiem", false);
    cpm_error_t err = {0};
    assert_int_equal(route(f, INTAKE, &c, &err), 0);
    r = status(f, "HK-00000002");
    assert_non_null(r);
    assert_int_equal(r->received_ms, f->now);
    cpm__status_reply__free_unpacked(r, NULL);
}

static void test_assignment_carries_contact(void **state)
{
    fixture_t *f = *state;
    route_ok(f, "HK-00000001", "food_safety", "hoan-kiem", false);
    MDB_txn *txn;
    cpm_outbox_batch_t b;
    assert_int_equal(cpm_store_begin(f->st, false, &txn), 0);
    dom_outbox_record(f->st, txn, SELF ">hn.d.hoan-kiem/inspection", 1, &b);
    Cpm__Assignment *a = cpm__assignment__unpack(NULL, b.lens[0], b.recs[0]);
    assert_non_null(a);
    assert_string_equal(a->agency, "hn.d.hoan-kiem");
    assert_string_equal(a->rule_id, "R02-food");
    assert_int_equal(a->routed_ms, f->now);
    assert_int_equal(a->accept_due_ms, dom_vn_day_end(2026, 3, 16));
    assert_int_equal(a->resolve_due_ms, 0);
    assert_non_null(a->complaint);
    assert_string_equal(a->complaint->ticket, "HK-00000001");
    /* the sealed contact passes through, unchanged and unread */
    assert_int_equal(a->complaint->sealed_contact.len, sizeof SEALED);
    assert_memory_equal(a->complaint->sealed_contact.data, SEALED, sizeof SEALED);
    assert_string_equal(a->complaint->contact_for, "hn.d.hoan-kiem");
    assert_string_equal(a->complaint->consumer_phone, "");
    assert_string_equal(a->complaint->business_name, "Pho Ngon Co.");
    assert_string_equal(a->complaint->description, "Food poisoning after lunch.");
    assert_string_equal(a->complaint->intake_node, INTAKE);
    cpm__assignment__free_unpacked(a, NULL);
    cpm_outbox_batch_clear(&b);
    cpm_store_abort(&txn);
}

static void test_second_delivery(void **state)
{
    fixture_t *f = *state;
    route_ok(f, "HK-00000001", "food_safety", "hoan-kiem", false);
    uint8_t before[8192];
    size_t lb = case_bytes(f, "HK-00000001", before, sizeof before);
    dom_fx_clear(&f->rec);

    /* the same complaint again (same ticket, same receipt), later */
    f->now += 3600 * 1000;
    route_ok(f, "HK-00000001", "pricing", "cau-giay", true);
    assert_int_equal(f->rec.n_sent, 0);
    assert_int_equal(f->rec.n_events, 0);
    dom_value_unchanged(f->st, "cases", "HK-00000001", before, lb);
    assert_int_equal(event_head(f), 1);
    MDB_txn *txn = dom_begin(f->st, false);
    assert_int_equal(dom_outbox_nstreams(f->st, txn), 1);
    assert_int_equal(dom_outbox_depth(f->st, txn, SELF ">hn.d.hoan-kiem/inspection"), 1);
    cpm_store_abort(&txn);

    /* another complaint under a ticket already routed (its intake issued the
     * number twice after a reset): refused, kept aside by the caller */
    Cpm__Complaint c = complaint("HK-00000001", "pricing", "cau-giay", false);
    c.received_ms = RECEIVED + 86400 * 1000;
    cpm_error_t err = {0};
    assert_int_equal(route(f, INTAKE, &c, &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "ticket");
    assert_non_null(strstr(err.message, "already routed for another complaint"));
    dom_value_unchanged(f->st, "cases", "HK-00000001", before, lb);
}

static void test_complaint_refused(void **state)
{
    fixture_t *f = *state;
    cpm_error_t err = {0};
    /* only the intake node that recorded it may deliver it */
    Cpm__Complaint c = complaint("HK-00000001", "food_safety", "hoan-kiem", false);
    assert_int_equal(route(f, "hn.d.ba-dinh", &c, &err), CPM_E_FORBIDDEN);
    assert_int_equal(err.code, CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "intake_node");
    assert_non_null(strstr(err.message, "intake_node"));

    c.intake_node = "";
    memset(&err, 0, sizeof err);
    assert_int_equal(route(f, INTAKE, &c, &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "intake_node");

    /* a ticket number of another intake (or none of ours) cannot be claimed */
    const char *foreign[] = {"DOIT-00000001", "HKX-00000001", "HK00000001", "H-00000001"};
    for (size_t i = 0; i < sizeof foreign / sizeof *foreign; i++) {
        c = complaint(foreign[i], "food_safety", "hoan-kiem", false);
        memset(&err, 0, sizeof err);
        assert_int_equal(route(f, INTAKE, &c, &err), CPM_E_FORBIDDEN);
        assert_string_equal(err.field, "ticket");
        assert_non_null(strstr(err.message, "ticket prefix"));
    }

    c = complaint("", "food_safety", "hoan-kiem", false);
    memset(&err, 0, sizeof err);
    assert_int_equal(route(f, INTAKE, &c, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "ticket");
    assert_non_null(strstr(err.message, "ticket"));

    int rc = -1;
    MDB_txn *txn = dom_begin(f->st, false);
    assert_null(routing_status(f->st, txn, "HK-00000001", &rc));
    assert_int_equal(rc, CPM_E_NOT_FOUND);
    assert_int_equal(dom_outbox_nstreams(f->st, txn), 0);
    assert_int_equal(dom_event_head(f->st, txn), 0);
    cpm_store_abort(&txn);
    assert_int_equal(f->rec.n_sent, 0);
    assert_int_equal(f->rec.n_events, 0);
}

static void test_updates(void **state)
{
    fixture_t *f = *state;
    const char *T = "HK-00000001", *AG = "hn.d.hoan-kiem";
    route_ok(f, T, "food_safety", "hoan-kiem", false);
    dom_fx_clear(&f->rec);
    cpm_error_t err = {0};
    int64_t t1 = dom_vn_time(2026, 3, 2, 11, 0);
    int64_t t2 = dom_vn_time(2026, 3, 3, 9, 0); /* Tuesday */

    assert_int_equal(update(f, AG, T, "assigned", t1, "", &err), 0);
    Cpm__StatusReply *r = status(f, T);
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    assert_int_equal(r->n_history, 3);
    assert_int_equal(r->history[2]->state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    assert_int_equal(r->history[2]->at_ms, t1);
    assert_string_equal(r->history[2]->actor, "officer.7");
    assert_int_equal(r->resolve_due_ms, 0);
    cpm__status_reply__free_unpacked(r, NULL);
    assert_int_equal(f->rec.n_events, 1);
    assert_string_equal(f->rec.events[0].kind, "case.assigned");
    assert_string_equal(f->rec.events[0].ticket, T);
    assert_string_equal(f->rec.events[0].agency, AG);

    assert_int_equal(update(f, AG, T, "accepted", t2, "ours", &err), 0);
    r = status(f, T);
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_ACCEPTED);
    assert_int_equal(r->n_history, 4);
    assert_int_equal(r->history[3]->state, CPM__CASE_STATE__CASE_STATE_ACCEPTED);
    assert_string_equal(r->history[3]->note, ""); /* notes stay at the agency */
    /* 30 working days after Tue 3 March 2026: the end of Tue 14 April */
    assert_int_equal(r->resolve_due_ms, dom_vn_day_end(2026, 4, 14));
    assert_int_equal(r->resolve_due_ms, cpm_rules_add_working_days(f->rules, t2, 30));
    assert_int_equal(r->accept_due_ms, dom_vn_day_end(2026, 3, 16)); /* unchanged */
    assert_string_equal(r->agency, AG);
    assert_string_equal(r->rule_id, "R02-food");
    cpm__status_reply__free_unpacked(r, NULL);
    assert_int_equal(f->rec.n_events, 2);
    assert_string_equal(f->rec.events[1].kind, "case.accepted");
    /* notes may name the consumer: they stay out of the event */
    assert_null(strstr(f->rec.events[1].detail, "ours"));

    uint8_t before[8192];
    size_t lb = case_bytes(f, T, before, sizeof before);

    /* "assigned" arriving late only confirms delivery: no error, no change */
    assert_int_equal(update(f, AG, T, "assigned", t2 + 1, "", &err), 0);
    /* the same state again: nothing new */
    assert_int_equal(update(f, AG, T, "accepted", t2 + 2, "again", &err), 0);
    dom_value_unchanged(f->st, "cases", T, before, lb);
    assert_int_equal(f->rec.n_events, 2);
    assert_int_equal(event_head(f), 3);

    /* illegal moves: 409 naming the state (400 for a state an agency never
     * reports), nothing changes */
    memset(&err, 0, sizeof err);
    assert_int_equal(update(f, AG, T, "refused", t2 + 3, "not ours", &err), CPM_E_CONFLICT);
    assert_int_equal(err.code, CPM_E_CONFLICT);
    assert_string_equal(err.field, "state");
    assert_non_null(strstr(err.message, "refused"));
    memset(&err, 0, sizeof err);
    assert_int_equal(update(f, AG, T, "routed", t2 + 3, "", &err), CPM_E_INVALID);
    assert_string_equal(err.field, "state");
    memset(&err, 0, sizeof err);
    assert_int_equal(update(f, AG, T, "transferred", t2 + 3, "", &err), CPM_E_INVALID);
    assert_string_equal(err.field, "state"); /* the city's move, never an agency's report */
    memset(&err, 0, sizeof err);
    assert_int_equal(update(f, AG, T, "closed", t2 + 3, "", &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "state"); /* accepted is not resolved yet */
    dom_value_unchanged(f->st, "cases", T, before, lb);

    assert_int_equal(update(f, AG, T, "resolved", t2 + 4, "refund paid", &err), 0);
    r = status(f, T);
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_RESOLVED);
    assert_int_equal(r->n_history, 5);
    assert_string_equal(r->history[4]->note, ""); /* the outcome stays at the agency */
    cpm__status_reply__free_unpacked(r, NULL);
    assert_string_equal(f->rec.events[2].kind, "case.resolved");
    /* routing sends nothing on updates */
    assert_int_equal(f->rec.n_sent, 0);

    /* nothing moves a resolved case */
    memset(&err, 0, sizeof err);
    assert_int_equal(update(f, AG, T, "accepted", t2 + 5, "", &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "state");
}

/* The agency node's acknowledgement of the assignment makes the case
 * assigned, once; it never moves a case that is past routed. */
static int delivered(fixture_t *f, const char *agency, const char *ticket, int64_t at)
{
    Cpm__Complaint c = complaint(ticket, "food_safety", "hoan-kiem", false);
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = &c;
    a.agency = (char *)agency;
    /* as the service has it: the ticket read from the record's bytes */
    uint8_t buf[4096];
    size_t n = cpm__assignment__pack(&a, buf);
    char t[ROUTING_TICKET_MAX];
    assert_int_equal(routing_assignment_ticket(buf, n, t), 0);
    assert_string_equal(t, ticket);
    MDB_txn *txn = dom_begin(f->st, true);
    return dom_end(txn, routing_assignment_delivered_ticket(f->st, txn, &f->fx, agency, t, at));
}

/* The ticket read from an Assignment's bytes is what the decoder finds:
 * pieces of the complaint merged (the last ticket wins, a piece without one
 * keeps the one before), none at all is "", and what does not decode or
 * does not fit is refused. */
static void test_assignment_ticket_as_decoded(void **state)
{
    (void)state;
    uint8_t buf[8192];
    char t[ROUTING_TICKET_MAX];
    Cpm__Complaint c = complaint("HK-00000042", "food_safety", "hoan-kiem", false);
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.agency = "hn.d.hoan-kiem";
    size_t n = cpm__assignment__pack(&a, buf); /* no complaint */
    assert_int_equal(routing_assignment_ticket(buf, n, t), 0);
    assert_string_equal(t, "");
    a.complaint = &c;
    n = cpm__assignment__pack(&a, buf);
    size_t one = n;
    assert_int_equal(routing_assignment_ticket(buf, n, t), 0);
    assert_string_equal(t, "HK-00000042");
    /* a second Assignment appended: its complaint merges into the first */
    Cpm__Complaint c2 = CPM__COMPLAINT__INIT;
    c2.description = "more";
    Cpm__Assignment a2 = CPM__ASSIGNMENT__INIT;
    a2.complaint = &c2;
    for (size_t k = 0; k < 2; k++) {
        c2.ticket = k ? "HK-00000043" : (char *)protobuf_c_empty_string;
        n = one + cpm__assignment__pack(&a2, buf + one);
        assert_int_equal(routing_assignment_ticket(buf, n, t), 0);
        Cpm__Assignment *d = cpm__assignment__unpack(NULL, n, buf);
        assert_non_null(d);
        assert_string_equal(t, d->complaint->ticket);
        assert_string_equal(t, k ? "HK-00000043" : "HK-00000042");
        cpm__assignment__free_unpacked(d, NULL);
    }
    /* cut short anywhere inside: refused, as the decoder refuses it */
    for (size_t cut = 1; cut < one; cut++) {
        Cpm__Assignment *d = cpm__assignment__unpack(NULL, cut, buf);
        int rc = routing_assignment_ticket(buf, cut, t);
        if (d)
            assert_int_equal(rc, 0), cpm__assignment__free_unpacked(d, NULL);
        else
            assert_int_equal(rc, -1);
    }
    /* a ticket longer than any routing keeps */
    char longt[ROUTING_TICKET_MAX + 1];
    memset(longt, 'T', ROUTING_TICKET_MAX);
    longt[ROUTING_TICKET_MAX] = 0;
    c.ticket = longt;
    n = cpm__assignment__pack(&a, buf);
    assert_int_equal(routing_assignment_ticket(buf, n, t), -1);
    /* the complaint field with another wire type */
    const uint8_t bad[] = {0x08, 0x01};
    assert_int_equal(routing_assignment_ticket(bad, sizeof bad, t), -1);
}

static void test_assignment_delivered(void **state)
{
    fixture_t *f = *state;
    const char *T = "HK-00000001", *AG = "hn.d.hoan-kiem";
    route_ok(f, T, "food_safety", "hoan-kiem", false);
    dom_fx_clear(&f->rec);
    int64_t t1 = dom_vn_time(2026, 3, 2, 11, 0);
    cpm_error_t err = {0};

    /* acknowledged by another node, or an unknown ticket: nothing */
    uint8_t before[8192];
    size_t lb = case_bytes(f, T, before, sizeof before);
    assert_int_equal(delivered(f, "hn.d.ba-dinh", T, t1), 0);
    assert_int_equal(delivered(f, AG, "HK-00000404", t1), 0);
    dom_value_unchanged(f->st, "cases", T, before, lb);
    assert_int_equal(f->rec.n_events, 0);

    assert_int_equal(delivered(f, AG, T, t1), 0);
    Cpm__StatusReply *r = status(f, T);
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    assert_int_equal(r->n_history, 3);
    assert_int_equal(r->history[2]->state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    assert_int_equal(r->history[2]->at_ms, t1);
    assert_string_equal(r->history[2]->actor, AG);
    cpm__status_reply__free_unpacked(r, NULL);
    assert_int_equal(f->rec.n_events, 1);
    assert_string_equal(f->rec.events[0].kind, "case.assigned");
    assert_int_equal(f->rec.events[0].state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    assert_string_equal(f->rec.events[0].agency, AG);
    assert_string_equal(f->rec.events[0].actor, AG);
    assert_int_equal(f->rec.n_sent, 0);

    /* a second acknowledgement (a restart resends, the node acks again) */
    lb = case_bytes(f, T, before, sizeof before);
    assert_int_equal(delivered(f, AG, T, t1 + 1), 0);
    dom_value_unchanged(f->st, "cases", T, before, lb);
    assert_int_equal(f->rec.n_events, 1);

    /* an answer, then an ack that was late: the answer stands */
    assert_int_equal(update(f, AG, T, "accepted", t1 + 2, "", &err), 0);
    lb = case_bytes(f, T, before, sizeof before);
    assert_int_equal(delivered(f, AG, T, t1 + 3), 0);
    dom_value_unchanged(f->st, "cases", T, before, lb);
}

/* The acknowledgement marks the case without decoding it: the change is
 * appended to the stored bytes (routing_casewire.h), and the record decodes
 * as the one decoding, changing and encoding it would have stored; its
 * event names the case's area, category and rule. Bytes that are not plain
 * fields are decoded, as before (an unreadable case is a store error). */
static void test_assignment_delivered_appended(void **state)
{
    fixture_t *f = *state;
    const char *T = "HK-00000001", *AG = "hn.d.hoan-kiem";
    route_ok(f, T, "food_safety", "hoan-kiem", false);
    dom_fx_clear(&f->rec);
    int64_t t1 = dom_vn_time(2026, 3, 2, 11, 0);
    static uint8_t before[8192], after[8192], want[8192], got[8192];
    size_t lb = case_bytes(f, T, before, sizeof before);
    Cpm__StatusReply *r = cpm__status_reply__unpack(NULL, lb, before);
    assert_non_null(r);
    Cpm__StatusEntry e = CPM__STATUS_ENTRY__INIT, *hist[8];
    assert_true(r->n_history < 8);
    memcpy(hist, r->history, r->n_history * sizeof *hist);
    hist[r->n_history] = &e;
    e.at_ms = t1;
    e.state = CPM__CASE_STATE__CASE_STATE_ASSIGNED;
    e.actor = (char *)AG;
    Cpm__StatusEntry **own = r->history;
    Cpm__CaseState was = r->state;
    r->history = hist;
    r->n_history++;
    r->state = CPM__CASE_STATE__CASE_STATE_ASSIGNED;
    size_t lw = cpm__status_reply__pack(r, want);
    r->history = own;
    r->n_history--;
    r->state = was;

    assert_int_equal(delivered(f, AG, T, t1), 0);
    size_t la = case_bytes(f, T, after, sizeof after);
    assert_true(la > lb);
    assert_memory_equal(after, before, lb); /* appended, not encoded again */
    Cpm__StatusReply *d = cpm__status_reply__unpack(NULL, la, after);
    assert_non_null(d);
    assert_int_equal(cpm__status_reply__pack(d, got), lw);
    assert_memory_equal(got, want, lw);
    cpm__status_reply__free_unpacked(d, NULL);
    assert_int_equal(f->rec.n_events, 1);
    assert_string_equal(f->rec.events[0].kind, "case.assigned");
    assert_string_equal(f->rec.events[0].ticket, T);
    assert_string_equal(f->rec.events[0].area, r->area);
    assert_string_equal(f->rec.events[0].category, r->category);
    assert_string_equal(f->rec.events[0].rule, r->rule_id);
    assert_string_equal(f->rec.events[0].actor, AG);
    cpm__status_reply__free_unpacked(r, NULL);

    /* the last state counts: assigned now, a second ack changes nothing */
    assert_int_equal(delivered(f, AG, T, t1 + 1), 0);
    dom_value_unchanged(f->st, "cases", T, after, la);

    /* not plain fields (a group's wire type; cut short): decoded, refused */
    routing_casewire_t w;
    static const uint8_t group[] = {0x0b, 0x0c}, cut[] = {0x1a, 0x05, 'h', 'n'};
    assert_false(routing_casewire_peek(group, sizeof group, &w));
    assert_false(routing_casewire_peek(cut, sizeof cut, &w));
    /* a field of the record in a wire type the decoder refuses (history, a
     * message, as a varint; agency, a string, as a fixed32): decoded too */
    static uint8_t badwt[8192];
    memcpy(badwt, after, la);
    badwt[la] = 12 << 3 | 0, badwt[la + 1] = 1;
    assert_false(routing_casewire_peek(badwt, la + 2, &w));
    badwt[la] = 3 << 3 | 5, memset(badwt + la + 1, 'x', 4);
    assert_false(routing_casewire_peek(badwt, la + 5, &w));
    assert_true(routing_casewire_peek(after, la, &w));
    assert_int_equal(w.state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(cpm_store_put(f->st, txn, "cases", "HK-00000002", 11, group, sizeof group), 0);
    assert_int_equal(dom_end(txn, 0), 0);
    assert_int_equal(delivered(f, AG, "HK-00000002", t1), CPM_E_INTERNAL);
}

static void test_update_refused_and_direct(void **state)
{
    fixture_t *f = *state;
    route_ok(f, "HK-00000001", "pricing", "hoan-kiem", false); /* hn.qltt */
    route_ok(f, "HK-00000002", "pricing", "hoan-kiem", false);
    cpm_error_t err = {0};
    int64_t t = dom_vn_time(2026, 3, 3, 9, 0);
    /* straight from routed, without "assigned" first */
    assert_int_equal(update(f, "hn.qltt", "HK-00000001", "refused", t, "not ours", &err), 0);
    Cpm__StatusReply *r = status(f, "HK-00000001");
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_REFUSED);
    assert_int_equal(r->n_history, 3);
    assert_string_equal(r->history[2]->note, "not ours"); /* the register keeps why */
    assert_int_equal(r->resolve_due_ms, 0);
    cpm__status_reply__free_unpacked(r, NULL);
    assert_int_equal(update(f, "hn.qltt", "HK-00000002", "accepted", t, "", &err), 0);
    r = status(f, "HK-00000002");
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_ACCEPTED);
    assert_int_equal(r->resolve_due_ms, cpm_rules_add_working_days(f->rules, t, 30));
    cpm__status_reply__free_unpacked(r, NULL);
    /* a refused case cannot be accepted afterwards */
    memset(&err, 0, sizeof err);
    assert_int_equal(update(f, "hn.qltt", "HK-00000001", "accepted", t, "", &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "state");
}

static void test_update_errors(void **state)
{
    fixture_t *f = *state;
    route_ok(f, "HK-00000001", "food_safety", "hoan-kiem", false);
    uint8_t before[8192];
    size_t lb = case_bytes(f, "HK-00000001", before, sizeof before);
    dom_fx_clear(&f->rec);
    cpm_error_t err = {0};
    int64_t t = dom_vn_time(2026, 3, 3, 9, 0);

    /* only the agency the case is assigned to */
    assert_int_equal(update(f, "hn.qltt", "HK-00000001", "accepted", t, "", &err), CPM_E_FORBIDDEN);
    assert_int_equal(err.code, CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "agency");
    assert_non_null(strstr(err.message, "hn.qltt"));
    assert_non_null(strstr(err.message, "hn.d.hoan-kiem"));
    /* ... even for a state it would otherwise ignore */
    memset(&err, 0, sizeof err);
    assert_int_equal(update(f, "hn.doit", "HK-00000001", "routed", t, "", &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "agency");

    memset(&err, 0, sizeof err);
    assert_int_equal(update(f, "hn.d.hoan-kiem", "HK-00000404", "accepted", t, "", &err),
                     CPM_E_NOT_FOUND);
    assert_int_equal(err.code, CPM_E_NOT_FOUND);
    assert_string_equal(err.field, "ticket");
    assert_non_null(strstr(err.message, "HK-00000404"));

    memset(&err, 0, sizeof err);
    assert_int_equal(update(f, "hn.d.hoan-kiem", "", "accepted", t, "", &err), CPM_E_INVALID);
    assert_string_equal(err.field, "ticket");
    assert_non_null(strstr(err.message, "ticket"));

    dom_value_unchanged(f->st, "cases", "HK-00000001", before, lb);
    assert_int_equal(f->rec.n_events, 0);
    assert_int_equal(event_head(f), 1);
}

static void test_no_registry(void **state)
{
    fixture_t *f = *state;
    /* without a registry "@area" is prefix + slug, with no membership check */
    cpm_registry_destroy(&f->reg);
    route_ok(f, "HK-00000001", "food_safety", "tay-ho", false);
    Cpm__StatusReply *r = status(f, "HK-00000001");
    assert_string_equal(r->agency, "hn.d.tay-ho");
    assert_string_equal(r->rule_id, "R02-food");
    cpm__status_reply__free_unpacked(r, NULL);
    assert_string_equal(f->rec.sent[0].member, "hn.d.tay-ho");
}

static void test_persistence(void **state)
{
    fixture_t *f = *state;
    route_ok(f, "HK-00000001", "food_safety", "hoan-kiem", false);
    cpm_store_destroy(&f->st);
    f->st = dom_open(f->dir, 0, dbs);
    f->rec.st = f->st;
    Cpm__StatusReply *r = status(f, "HK-00000001");
    assert_non_null(r);
    assert_string_equal(r->agency, "hn.d.hoan-kiem");
    cpm__status_reply__free_unpacked(r, NULL);
    dom_fx_clear(&f->rec);
    route_ok(f, "HK-00000001", "food_safety", "hoan-kiem", false); /* redelivered */
    assert_int_equal(f->rec.n_sent, 0);
    assert_int_equal(event_head(f), 1);
}

/* A contact sealed for another member than the agency routing chooses is
 * passed on, recorded in the case and announced; one sealed for the right
 * agency is not. */
static void test_contact_sealed_for_another_agency(void **state)
{
    fixture_t *f = *state;
    route_ok(f, "HK-00000001", "food_safety", "hoan-kiem", false);
    Cpm__Complaint c = complaint("HK-00000002", "pricing", "hoan-kiem", false); /* -> hn.qltt */
    c.received_ms = RECEIVED;
    assert_true(routing_contact_unreadable(&c, "hn.qltt"));
    assert_false(routing_contact_unreadable(&c, "hn.d.hoan-kiem"));
    cpm_error_t err = {0};
    assert_int_equal(route(f, INTAKE, &c, &err), 0);
    int rc;
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__StatusReply *r = routing_status(f->st, txn, "HK-00000002", &rc);
    assert_non_null(r);
    assert_string_equal(r->agency, "hn.qltt");
    assert_string_equal(r->contact_for, "hn.d.hoan-kiem");
    cpm__status_reply__free_unpacked(r, NULL);
    r = routing_status(f->st, txn, "HK-00000001", &rc);
    assert_string_equal(r->contact_for, "");
    cpm__status_reply__free_unpacked(r, NULL);
    cpm_store_abort(&txn);
    size_t unreadable = 0;
    for (size_t i = 0; i < f->rec.n_events; i++)
        if (!strcmp(f->rec.events[i].kind, "contact.unreadable")) {
            unreadable++;
            assert_string_equal(f->rec.events[i].ticket, "HK-00000002");
            assert_string_equal(f->rec.events[i].detail, "sealed_for=hn.d.hoan-kiem");
        }
    assert_int_equal(unreadable, 1);
    /* no contact at all: nothing to read, nothing unreadable */
    Cpm__Complaint bare = CPM__COMPLAINT__INIT;
    assert_false(routing_contact_unreadable(&bare, "hn.qltt"));
}

/* Clear contact fields from an intake are emptied before anything is kept. */
static void test_clear_contact_dropped(void **state)
{
    (void)state;
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = "HK-00000001";
    c.consumer_name = NAME;
    c.consumer_phone = PHONE;
    uint8_t buf[512];
    size_t len = cpm__complaint__pack(&c, buf);
    Cpm__Complaint *u = cpm__complaint__unpack(NULL, len, buf);
    assert_non_null(u);
    assert_true(routing_contact_drop_clear(u));
    assert_string_equal(u->consumer_name, "");
    assert_string_equal(u->consumer_phone, "");
    assert_string_equal(u->consumer_email, "");
    assert_false(routing_contact_drop_clear(u));
    cpm__complaint__free_unpacked(u, NULL);
}

/* Routing follows the whole walk by the one table, keeps the outcome in the
 * case and its event, and keeps the officer's signed act (checked to be a
 * case action signed by the actor named) in the history. */
static void test_update_walk_outcome(void **state)
{
    fixture_t *f = *state;
    const char *T = "HK-00000001", *AG = "hn.d.hoan-kiem";
    route_ok(f, T, "food_safety", "hoan-kiem", false);
    dom_fx_clear(&f->rec);
    cpm_error_t err = {0};
    int64_t t = dom_vn_time(2026, 3, 3, 9, 0);
    const char *walk[] = {"accepted", "in_progress", "waiting_consumer", "in_progress"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(update(f, AG, T, walk[i], t + (int64_t)i, "", &err), 0);
    /* an outcome only with resolved */
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)T;
    u.agency = (char *)AG;
    u.actor = "officer.7";
    u.note = "";
    u.at_ms = t + 10;
    u.state = CPM__CASE_STATE__CASE_STATE_WAITING_CONSUMER;
    u.outcome = CPM__OUTCOME__OUTCOME_FINED;
    MDB_txn *txn = dom_begin(f->st, true);
    memset(&err, 0, sizeof err);
    assert_int_equal(
        dom_end(txn, routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx, AG, &u, &err)),
        CPM_E_INVALID);
    assert_string_equal(err.field, "outcome");
    /* the officer's signed frame */
    cpm_identity_t key;
    dom_identity("officer.7", &key);
    cpm_sender_t snd;
    cpm_sender_init(&snd, &key, "cli.1");
    Cpm__CaseAction a = CPM__CASE_ACTION__INIT;
    a.ticket = (char *)T;
    a.action = CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE;
    a.outcome = CPM__OUTCOME__OUTCOME_FINED;
    a.fine_vnd = 15000000;
    uint8_t *frame = NULL;
    size_t flen = 0;
    assert_int_equal(cpm_sender_seal(&snd, CPM__MSG_TYPE__MSG_CASE_ACTION,
                                     "hn.d.hoan-kiem/inspection", NULL, &a.base, NULL, &frame,
                                     &flen),
                     0);
    u.state = CPM__CASE_STATE__CASE_STATE_RESOLVED;
    u.fine_vnd = 15000000;
    u.signed_action.data = frame;
    u.signed_action.len = flen;
    /* signed by someone else than the actor named: refused */
    u.actor = "officer.8";
    txn = dom_begin(f->st, true);
    memset(&err, 0, sizeof err);
    assert_int_equal(
        dom_end(txn, routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx, AG, &u, &err)),
        CPM_E_INVALID);
    assert_string_equal(err.field, "signed_action");
    u.actor = "officer.7";
    txn = dom_begin(f->st, true);
    assert_int_equal(
        dom_end(txn, routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx, AG, &u, &err)), 0);
    Cpm__StatusReply *r = status(f, T);
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_RESOLVED);
    assert_int_equal(r->outcome, CPM__OUTCOME__OUTCOME_FINED);
    assert_int_equal(r->fine_vnd, 15000000);
    Cpm__StatusEntry *e = r->history[r->n_history - 1];
    assert_int_equal(e->outcome, CPM__OUTCOME__OUTCOME_FINED);
    assert_int_equal(e->signed_action.len, flen);
    assert_memory_equal(e->signed_action.data, frame, flen);
    assert_string_equal(e->key_id, key.key_id);
    assert_int_equal(e->signature.len, 64);
    /* the signature verifies against the officer's public key */
    cpm_slice_t envb, sig;
    assert_int_equal(
        cpm_envelope_parse_signed(e->signed_action.data, e->signed_action.len, &envb, &sig), 0);
    assert_int_equal(cpm_envelope_verify_sig(CPM_PROTO_VERSION, envb.data, envb.len,
                                             e->signature.data, 64, key.sign_pk),
                     0);
    cpm__status_reply__free_unpacked(r, NULL);
    assert_string_equal(f->rec.events[f->rec.n_events - 1].kind, "case.resolved");
    assert_string_equal(f->rec.events[f->rec.n_events - 1].detail, "outcome=fined");
    /* closed, then reopened: the outcome no longer stands */
    assert_int_equal(update(f, AG, T, "closed", t + 20, "", &err), 0);
    assert_int_equal(update(f, AG, T, "reopened", t + 30, "", &err), 0);
    r = status(f, T);
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_REOPENED);
    assert_int_equal(r->outcome, 0);
    cpm__status_reply__free_unpacked(r, NULL);
    /* and a closed case cannot be accepted again */
    memset(&err, 0, sizeof err);
    assert_int_equal(update(f, AG, T, "accepted", t + 40, "", &err), CPM_E_CONFLICT);
    free(frame);
    cpm_identity_wipe(&key);
}

/* A resolve on ticket signed by signer's keys under the name "officer.7"
 * (signer "officer.8": another member's key under the actor's name). */
static uint8_t *resolve_act(const char *signer, const char *ticket, size_t *len)
{
    uint8_t seed[32];
    crypto_hash_sha256(seed, (const uint8_t *)signer, strlen(signer));
    cpm_identity_t key;
    assert_int_equal(cpm_identity_from_seed(&key, "officer.7", seed), 0);
    cpm_sender_t snd;
    cpm_sender_init(&snd, &key, "cli.1");
    Cpm__CaseAction a = CPM__CASE_ACTION__INIT;
    a.ticket = (char *)ticket;
    a.action = CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE;
    a.outcome = CPM__OUTCOME__OUTCOME_MEDIATED;
    uint8_t *frame = NULL;
    assert_int_equal(cpm_sender_seal(&snd, CPM__MSG_TYPE__MSG_CASE_ACTION,
                                     "hn.d.hoan-kiem/inspection", NULL, &a.base, NULL, &frame, len),
                     0);
    cpm_identity_wipe(&key);
    return frame;
}

/* The agency's node passes on the officer's act; routing checks the
 * signature against the registry before anything is written: a forged act
 * (a flipped signature byte, another member's key under the actor's name,
 * an act on another ticket) is refused and leaves the case as it was. */
static void test_update_signed_act_verified(void **state)
{
    fixture_t *f = *state;
    const char *T = "HK-00000001", *AG = "hn.d.hoan-kiem";
    route_ok(f, T, "food_safety", "hoan-kiem", false);
    cpm_error_t err = {0};
    int64_t t = dom_vn_time(2026, 3, 3, 9, 0);
    assert_int_equal(update(f, AG, T, "accepted", t, "", &err), 0);
    assert_int_equal(update(f, AG, T, "in_progress", t + 1, "", &err), 0);
    Cpm__StatusReply *r = status(f, T);
    size_t n_history = r->n_history;
    cpm__status_reply__free_unpacked(r, NULL);
    dom_fx_clear(&f->rec);
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)T;
    u.agency = (char *)AG;
    u.actor = "officer.7";
    u.note = "";
    u.at_ms = t + 10;
    u.state = CPM__CASE_STATE__CASE_STATE_RESOLVED;
    u.outcome = CPM__OUTCOME__OUTCOME_MEDIATED;
    size_t flen = 0, olen = 0, xlen = 0;
    uint8_t *good = resolve_act("officer.7", T, &flen);
    uint8_t *other = resolve_act("officer.8", T, &olen);
    uint8_t *elsewhere = resolve_act("officer.7", "HK-00000002", &xlen);
    uint8_t *flipped = malloc(flen);
    assert_non_null(flipped);
    memcpy(flipped, good, flen);
    cpm_slice_t envb, sig;
    assert_int_equal(cpm_envelope_parse_signed(flipped, flen, &envb, &sig), 0);
    assert_int_equal(sig.len, 64);
    ((uint8_t *)sig.data)[17] ^= 0x01;
    struct {
        uint8_t *frame;
        size_t len;
        int code;
    } bad[] = {{flipped, flen, CPM_E_FORBIDDEN},
               {other, olen, CPM_E_FORBIDDEN},
               {elsewhere, xlen, CPM_E_INVALID}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        u.signed_action.data = bad[i].frame;
        u.signed_action.len = bad[i].len;
        memset(&err, 0, sizeof err);
        MDB_txn *txn = dom_begin(f->st, true);
        assert_int_equal(
            dom_end(txn, routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx, AG, &u, &err)),
            bad[i].code);
        assert_string_equal(err.field, "signed_action");
        /* nothing written: same state, same history, no event, nothing sent */
        r = status(f, T);
        assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_IN_PROGRESS);
        assert_int_equal(r->n_history, n_history);
        cpm__status_reply__free_unpacked(r, NULL);
        assert_int_equal(f->rec.n_events, 0);
        assert_int_equal(f->rec.n_sent, 0);
    }
    /* the officer's own act, unchanged, is accepted and kept */
    u.signed_action.data = good;
    u.signed_action.len = flen;
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(
        dom_end(txn, routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx, AG, &u, &err)), 0);
    r = status(f, T);
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_RESOLVED);
    assert_int_equal(r->n_history, n_history + 1);
    assert_memory_equal(r->history[n_history]->signed_action.data, good, flen);
    cpm__status_reply__free_unpacked(r, NULL);
    free(good);
    free(other);
    free(elsewhere);
    free(flipped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routes_by_rules, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_case_record, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_assignment_carries_contact, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_second_delivery, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_complaint_refused, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_updates, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_update_walk_outcome, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_update_signed_act_verified, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_assignment_delivered, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_assignment_delivered_appended, setup,
                                        dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_update_refused_and_direct, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_update_errors, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_no_registry, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_contact_sealed_for_another_agency, setup,
                                        dom_env_teardown),
        cmocka_unit_test(test_clear_contact_dropped),
        cmocka_unit_test(test_assignment_ticket_as_decoded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
