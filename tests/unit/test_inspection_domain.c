/* Tests for inspection_domain on a real store, without sockets: storing the
 * cases routing assigns, officers' actions (accept, refuse, resolve), what is
 * reported back to routing and logged, and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_seal.h"
#include "cpm_case.h"
#include "inspection_domain.h"

#define NODE "hn.d.hoan-kiem"
#define ROUTING "hn.doit"
#define STREAM NODE "/inspection>" ROUTING "/routing"
#define OFFICER "officer.hk.3"
#define PHONE "0912 345 678"
#define NAME "Nguyen Thi Lan"

static const char *const dbs[] = INSPECTION_DBS;

static const inspection_t node = {.node = NODE, .routing = ROUTING};

typedef dom_env_t fixture_t;

static int setup(void **state)
{
    *state = dom_env_new(sizeof(fixture_t), "inspection", dbs, 0, NODE "/inspection",
                         dom_vn_time(2026, 3, 2, 11, 0));
    return 0;
}

/* Assign ticket to agency, its contact sealed (as intake does) for the
 * member sealed_for (NULL: no contact) in a card naming card_ticket. */
static int assign_with(fixture_t *f, const char *ticket, const char *agency, const char *sealed_for,
                       const char *card_ticket, cpm_error_t *err)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "hotline";
    uint8_t *sealed = NULL;
    if (sealed_for) {
        Cpm__ContactCard k = CPM__CONTACT_CARD__INIT;
        k.ticket = (char *)card_ticket;
        k.name = NAME;
        k.phone = PHONE;
        cpm_identity_t key;
        dom_identity(sealed_for, &key);
        assert_int_equal(cpm_seal_contact(&k, key.curve_pk, &sealed, &c.sealed_contact.len), 0);
        cpm_identity_wipe(&key);
        c.sealed_contact.data = sealed;
        c.contact_for = (char *)sealed_for;
    }
    c.business_name = "Pho Ngon Co.";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "Food poisoning after lunch.";
    c.intake_node = NODE;
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = &c;
    a.agency = (char *)agency;
    a.rule_id = "R02-food";
    a.routed_ms = f->now - 1000;
    a.accept_due_ms = dom_vn_day_end(2026, 3, 16);
    MDB_txn *txn = dom_begin(f->st, true);
    int rc = dom_end(txn, inspection_apply_assignment(&node, f->st, txn, &f->fx, &a, f->now, err));
    free(sealed);
    return rc;
}

static int assign(fixture_t *f, const char *ticket, const char *agency, cpm_error_t *err)
{
    return assign_with(f, ticket, agency, NODE, ticket, err);
}

static void assign_ok(fixture_t *f, const char *ticket)
{
    cpm_error_t err = {0};
    int rc = assign(f, ticket, NODE, &err);
    if (rc != 0)
        fail_msg("assign %s: %d %s: %s", ticket, rc, err.field, err.message);
}

static const inspection_actor_t officer = {OFFICER, CPM_CASE_BY_OFFICER, NULL, 0, ""};

/* Act as who with a (ticket and action set by the caller); st gets the new
 * state's word. */
static int act_as(fixture_t *f, const inspection_actor_t *who, Cpm__CaseAction *a, const char **st,
                  bool *dup, cpm_error_t *err)
{
    Cpm__CaseState to = CPM__CASE_STATE__CASE_STATE_UNSPECIFIED;
    MDB_txn *txn = dom_begin(f->st, true);
    int rc = dom_end(txn, inspection_act(&node, f->st, txn, &f->fx, who, a, f->now, &to, dup, err));
    if (rc == 0)
        *st = cpm_case_state_name(to);
    return rc;
}

/* The action as the protocol carries it (an enum); resolve says "mediated". */
static int act_kind(fixture_t *f, const char *ticket, Cpm__CaseActionKind action, const char *note,
                    const char **st, bool *dup, cpm_error_t *err)
{
    Cpm__CaseAction a = CPM__CASE_ACTION__INIT;
    a.ticket = (char *)ticket;
    a.action = action;
    a.note = (char *)note;
    if (action == CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE)
        a.outcome = CPM__OUTCOME__OUTCOME_MEDIATED;
    return act_as(f, &officer, &a, st, dup, err);
}

static int act(fixture_t *f, const char *ticket, const char *action, const char *note,
               const char **st, bool *dup, cpm_error_t *err)
{
    return act_kind(f, ticket, cpm_case_action_parse(action), note, st, dup, err);
}

static Cpm__InspectionCase *get_case(fixture_t *f, const char *ticket)
{
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__InspectionCase *c = inspection_case(f->st, txn, ticket);
    cpm_store_abort(&txn);
    return c;
}

/* The CaseUpdate in outbox record seq of the stream to routing. */
static Cpm__CaseUpdate *queued_update(fixture_t *f, uint64_t seq)
{
    MDB_txn *txn;
    cpm_outbox_batch_t b;
    assert_int_equal(cpm_store_begin(f->st, false, &txn), 0);
    dom_outbox_record(f->st, txn, STREAM, seq, &b);
    Cpm__CaseUpdate *u = cpm__case_update__unpack(NULL, b.lens[0], b.recs[0]);
    assert_non_null(u);
    cpm_outbox_batch_clear(&b);
    cpm_store_abort(&txn);
    return u;
}

/* Events in the store and records queued for routing. */
static void assert_written(fixture_t *f, uint64_t events, uint64_t queued)
{
    MDB_txn *txn = dom_begin(f->st, false);
    assert_int_equal(dom_event_head(f->st, txn), events);
    assert_int_equal(dom_outbox_depth(f->st, txn, STREAM), queued);
    cpm_store_abort(&txn);
}

/* The stored bytes of a case, to show that something changed nothing. */
static size_t case_bytes(fixture_t *f, const char *ticket, uint8_t *out, size_t cap)
{
    return dom_value_bytes(f->st, "cases", ticket, out, cap);
}

static void test_assignment(void **state)
{
    fixture_t *f = *state;
    assign_ok(f, "HK-00000001");
    Cpm__InspectionCase *c = get_case(f, "HK-00000001");
    assert_non_null(c);
    assert_int_equal(c->state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    assert_non_null(c->assignment);
    assert_string_equal(c->assignment->agency, NODE);
    assert_string_equal(c->assignment->rule_id, "R02-food");
    assert_int_equal(c->assignment->accept_due_ms, dom_vn_day_end(2026, 3, 16));
    /* the agency keeps the consumer's contact (it has to call back), sealed
     * to its own key: at rest nothing of it is in clear */
    assert_string_equal(c->assignment->complaint->contact_for, NODE);
    assert_true(c->assignment->complaint->sealed_contact.len > 0);
    uint8_t raw[8192];
    size_t rawlen = case_bytes(f, "HK-00000001", raw, sizeof raw);
    assert_false(dom_contains(raw, rawlen, PHONE));
    assert_false(dom_contains(raw, rawlen, NAME));
    assert_int_equal(c->n_history, 1);
    assert_int_equal(c->history[0]->state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    assert_int_equal(c->history[0]->at_ms, f->now);
    assert_string_equal(c->history[0]->actor, NODE);
    cpm__inspection_case__free_unpacked(c, NULL);

    assert_int_equal(f->rec.n_events, 1);
    assert_string_equal(f->rec.events[0].kind, "case.assigned");
    assert_string_equal(f->rec.events[0].ticket, "HK-00000001");
    assert_string_equal(f->rec.events[0].agency, NODE);
    assert_null(strstr(f->rec.events[0].detail, PHONE));
    assert_int_equal(f->rec.n_sent, 0);
    /* routing learns "assigned" from the delivery's acknowledgement: nothing is sent */
    assert_written(f, 1, 0);

    /* the same assignment again changes nothing */
    uint8_t before[8192];
    size_t lb = case_bytes(f, "HK-00000001", before, sizeof before);
    f->now += 5000;
    assign_ok(f, "HK-00000001");
    dom_value_unchanged(f->st, "cases", "HK-00000001", before, lb);
    assert_int_equal(f->rec.n_events, 1);
    assert_int_equal(f->rec.n_sent, 0);
    assert_written(f, 1, 0);

    /* persistence */
    cpm_store_destroy(&f->st);
    f->st = dom_open(f->dir, 0, dbs);
    f->rec.st = f->st;
    c = get_case(f, "HK-00000001");
    assert_non_null(c);
    assert_int_equal(c->state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    cpm__inspection_case__free_unpacked(c, NULL);
    assert_null(get_case(f, "HK-00000002"));
}

static void test_assignment_refused(void **state)
{
    fixture_t *f = *state;
    cpm_error_t err = {0};
    assert_int_equal(assign(f, "HK-00000001", "hn.qltt", &err), CPM_E_FORBIDDEN);
    assert_int_equal(err.code, CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "agency");
    assert_non_null(strstr(err.message, "hn.qltt"));
    assert_non_null(strstr(err.message, NODE));
    memset(&err, 0, sizeof err);
    assert_int_equal(assign(f, "HK-00000001", "", &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "agency");
    memset(&err, 0, sizeof err);
    assert_int_equal(assign(f, "", NODE, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "complaint.ticket");
    assert_non_null(strstr(err.message, "ticket"));

    /* an assignment without a complaint at all */
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.agency = NODE;
    MDB_txn *txn;
    memset(&err, 0, sizeof err);
    assert_int_equal(cpm_store_begin(f->st, true, &txn), 0);
    assert_int_equal(inspection_apply_assignment(&node, f->st, txn, &f->fx, &a, f->now, &err),
                     CPM_E_INVALID);
    cpm_store_abort(&txn);
    assert_string_equal(err.field, "complaint.ticket");

    assert_null(get_case(f, "HK-00000001"));
    assert_int_equal(f->rec.n_events, 0);
    assert_int_equal(f->rec.n_sent, 0);
    assert_written(f, 0, 0);
}

static void test_accept_resolve(void **state)
{
    fixture_t *f = *state;
    assign_ok(f, "HK-00000001");
    const char *st = NULL;
    bool dup = true;
    cpm_error_t err = {0};

    f->now += 60 * 1000;
    assert_int_equal(act(f, "HK-00000001", "accept", "", &st, &dup, &err), 0);
    assert_string_equal(st, "accepted");
    assert_false(dup);
    Cpm__InspectionCase *c = get_case(f, "HK-00000001");
    assert_int_equal(c->state, CPM__CASE_STATE__CASE_STATE_ACCEPTED);
    assert_int_equal(c->n_history, 2);
    assert_int_equal(c->history[1]->state, CPM__CASE_STATE__CASE_STATE_ACCEPTED);
    assert_string_equal(c->history[1]->actor, OFFICER);
    assert_int_equal(c->history[1]->at_ms, f->now);
    cpm__inspection_case__free_unpacked(c, NULL);
    assert_int_equal(f->rec.n_events, 2);
    assert_string_equal(f->rec.events[1].kind, "case.accepted");
    assert_string_equal(f->rec.events[1].agency, NODE);
    assert_string_equal(f->rec.events[1].actor, OFFICER);
    assert_int_equal(f->rec.events[1].state, CPM__CASE_STATE__CASE_STATE_ACCEPTED);
    assert_written(f, 2, 1);
    Cpm__CaseUpdate *u = queued_update(f, 1);
    assert_int_equal(u->state, CPM__CASE_STATE__CASE_STATE_ACCEPTED);
    assert_string_equal(u->actor, OFFICER);
    assert_string_equal(u->agency, NODE);
    assert_int_equal(u->at_ms, f->now);
    cpm__case_update__free_unpacked(u, NULL);

    /* the same action again: duplicate, nothing new */
    uint8_t before[8192];
    size_t lb = case_bytes(f, "HK-00000001", before, sizeof before);
    dup = false;
    st = NULL;
    assert_int_equal(act(f, "HK-00000001", "accept", "", &st, &dup, &err), 0);
    assert_true(dup);
    assert_string_equal(st, "accepted");
    dom_value_unchanged(f->st, "cases", "HK-00000001", before, lb);
    assert_written(f, 2, 1);
    assert_int_equal(f->rec.n_events, 2);

    /* accepted cannot become refused */
    memset(&err, 0, sizeof err);
    assert_int_equal(act(f, "HK-00000001", "refuse", "not ours", &st, &dup, &err), CPM_E_CONFLICT);
    assert_int_equal(err.code, CPM_E_CONFLICT);
    assert_string_equal(err.field, "action");
    assert_non_null(strstr(err.message, "accepted"));
    assert_written(f, 2, 1);

    /* resolve needs the outcome */
    memset(&err, 0, sizeof err);
    Cpm__CaseAction bare = CPM__CASE_ACTION__INIT;
    bare.ticket = "HK-00000001";
    bare.action = CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE;
    assert_int_equal(act_as(f, &officer, &bare, &st, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "outcome");
    assert_non_null(strstr(err.message, "outcome"));
    assert_written(f, 2, 1);

    f->now += 60 * 1000;
    assert_int_equal(act(f, "HK-00000001", "resolve", "Refund paid; shop fined.", &st, &dup, &err),
                     0);
    assert_string_equal(st, "resolved");
    assert_false(dup);
    c = get_case(f, "HK-00000001");
    assert_int_equal(c->state, CPM__CASE_STATE__CASE_STATE_RESOLVED);
    assert_int_equal(c->n_history, 3);
    assert_string_equal(c->history[2]->note, "Refund paid; shop fined.");
    cpm__inspection_case__free_unpacked(c, NULL);
    assert_written(f, 3, 2);
    u = queued_update(f, 2);
    assert_int_equal(u->state, CPM__CASE_STATE__CASE_STATE_RESOLVED);
    assert_string_equal(u->note, "Refund paid; shop fined.");
    cpm__case_update__free_unpacked(u, NULL);
    /* the note stays out of the event log */
    assert_null(strstr(f->rec.events[2].detail, "Refund"));

    /* resolved again (with its note): duplicate */
    assert_int_equal(act(f, "HK-00000001", "resolve", "again", &st, &dup, &err), 0);
    assert_true(dup);
    assert_written(f, 3, 2);
    /* nothing leaves resolved */
    memset(&err, 0, sizeof err);
    assert_int_equal(act(f, "HK-00000001", "accept", "", &st, &dup, &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "action");
}

static void test_refuse(void **state)
{
    fixture_t *f = *state;
    assign_ok(f, "HK-00000001");
    assign_ok(f, "HK-00000002");
    const char *st = NULL;
    bool dup = true;
    cpm_error_t err = {0};

    /* refuse needs a reason */
    assert_int_equal(act(f, "HK-00000001", "refuse", "", &st, &dup, &err), CPM_E_INVALID);
    assert_int_equal(err.code, CPM_E_INVALID);
    assert_string_equal(err.field, "note");
    assert_non_null(strstr(err.message, "note"));
    assert_false(dup);
    assert_written(f, 2, 0);

    assert_int_equal(act(f, "HK-00000001", "refuse", "Business is in Ba Dinh.", &st, &dup, &err),
                     0);
    assert_string_equal(st, "refused");
    assert_false(dup);
    Cpm__CaseUpdate *u = queued_update(f, 1);
    assert_string_equal(u->ticket, "HK-00000001");
    assert_int_equal(u->state, CPM__CASE_STATE__CASE_STATE_REFUSED);
    assert_string_equal(u->note, "Business is in Ba Dinh.");
    cpm__case_update__free_unpacked(u, NULL);
    assert_string_equal(f->rec.events[2].kind, "case.refused");
    assert_written(f, 3, 1);

    assert_int_equal(act(f, "HK-00000001", "refuse", "still not ours", &st, &dup, &err), 0);
    assert_true(dup);
    assert_written(f, 3, 1);

    /* a refused case cannot be resolved or accepted */
    memset(&err, 0, sizeof err);
    assert_int_equal(act(f, "HK-00000001", "resolve", "done", &st, &dup, &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "action");
    memset(&err, 0, sizeof err);
    assert_int_equal(act(f, "HK-00000001", "accept", "", &st, &dup, &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "action");
    /* a fresh case cannot be resolved before it is accepted */
    memset(&err, 0, sizeof err);
    assert_int_equal(act(f, "HK-00000002", "resolve", "done", &st, &dup, &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "action");
    assert_non_null(strstr(err.message, "assigned"));
    assert_written(f, 3, 1);
    Cpm__InspectionCase *c = get_case(f, "HK-00000002");
    assert_int_equal(c->state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    assert_int_equal(c->n_history, 1);
    cpm__inspection_case__free_unpacked(c, NULL);
}

static void test_act_errors(void **state)
{
    fixture_t *f = *state;
    assign_ok(f, "HK-00000001");
    const char *st = NULL;
    bool dup = true;
    cpm_error_t err = {0};

    static const char *bad_actions[] = {"assign", "transfer", "", "ACCEPT", "accepted", "show"};
    for (size_t i = 0; i < sizeof bad_actions / sizeof *bad_actions; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(act(f, "HK-00000001", bad_actions[i], "x", &st, &dup, &err),
                         CPM_E_INVALID);
        assert_int_equal(err.code, CPM_E_INVALID);
        assert_string_equal(err.field, "action");
        assert_non_null(strstr(err.message, "action"));
    }
    /* A value of the enum this build does not know, as a newer client may send. */
    memset(&err, 0, sizeof err);
    assert_int_equal(act_kind(f, "HK-00000001", (Cpm__CaseActionKind)99, "x", &st, &dup, &err),
                     CPM_E_INVALID);
    assert_string_equal(err.field, "action");

    memset(&err, 0, sizeof err);
    assert_int_equal(act(f, "HK-00000404", "accept", "", &st, &dup, &err), CPM_E_NOT_FOUND);
    assert_int_equal(err.code, CPM_E_NOT_FOUND);
    assert_string_equal(err.field, "ticket");
    assert_non_null(strstr(err.message, "HK-00000404"));

    memset(&err, 0, sizeof err);
    assert_int_equal(act(f, "", "accept", "", &st, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "ticket");
    assert_non_null(strstr(err.message, "ticket"));

    /* notes up to 2000 bytes; one more is too large */
    char note[2002];
    memset(note, 'n', 2001);
    note[2001] = '\0';
    memset(&err, 0, sizeof err);
    assert_int_equal(act(f, "HK-00000001", "refuse", note, &st, &dup, &err), CPM_E_TOO_LARGE);
    assert_int_equal(err.code, CPM_E_TOO_LARGE);
    assert_string_equal(err.field, "note");
    assert_non_null(strstr(err.message, "note"));
    assert_non_null(strstr(err.message, "2000"));
    assert_false(dup);

    assert_written(f, 1, 0);
    Cpm__InspectionCase *c = get_case(f, "HK-00000001");
    assert_int_equal(c->state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    cpm__inspection_case__free_unpacked(c, NULL);

    note[2000] = '\0';
    assert_int_equal(act(f, "HK-00000001", "refuse", note, &st, &dup, &err), 0);
    assert_string_equal(st, "refused");
    assert_written(f, 2, 1);
}

static int show(const inspection_t *in, fixture_t *f, const char *ticket, inspection_view_t *v,
                cpm_error_t *err)
{
    MDB_txn *txn = dom_begin(f->st, false);
    int rc = inspection_show(in, f->st, txn, ticket, v, err);
    cpm_store_abort(&txn);
    return rc;
}

/* Officers of the agency see the contact, opened with the node's key; a
 * contact sealed for someone else, or that does not open, is said to be so. */
static void test_show_opens_contact(void **state)
{
    fixture_t *f = *state;
    cpm_identity_t key;
    dom_identity(NODE, &key);
    inspection_t in = {NODE, ROUTING, key.curve_pk, key.curve_sk, 0, 0, NULL, NULL, NULL, 0};
    cpm_error_t err = {0};
    inspection_view_t v;

    assign_ok(f, "HK-00000001");
    assert_int_equal(show(&in, f, "HK-00000001", &v, &err), 0);
    assert_int_equal(v.state, CPM__CASE_STATE__CASE_STATE_ASSIGNED);
    assert_string_equal(v.contact_status, "open");
    assert_string_equal(v.contact_for, NODE);
    assert_non_null(v.contact);
    assert_string_equal(v.contact->name, NAME);
    assert_string_equal(v.contact->phone, PHONE);
    cpm__contact_card__free_unpacked(v.contact, NULL);

    /* sealed for another agency (rules changed, triage): not ours to open */
    assert_int_equal(assign_with(f, "HK-00000002", NODE, "hn.qltt", "HK-00000002", &err), 0);
    assert_int_equal(show(&in, f, "HK-00000002", &v, &err), 0);
    assert_string_equal(v.contact_status, "sealed_for_other");
    assert_string_equal(v.contact_for, "hn.qltt");
    assert_null(v.contact);

    /* a card of another case, copied onto this one: refused */
    assert_int_equal(assign_with(f, "HK-00000003", NODE, NODE, "HK-00000001", &err), 0);
    assert_int_equal(show(&in, f, "HK-00000003", &v, &err), 0);
    assert_string_equal(v.contact_status, "unreadable");
    assert_null(v.contact);

    /* no contact given */
    assert_int_equal(assign_with(f, "HK-00000004", NODE, NULL, NULL, &err), 0);
    assert_int_equal(show(&in, f, "HK-00000004", &v, &err), 0);
    assert_string_equal(v.contact_status, "none");

    /* a node without its key cannot open anything */
    inspection_t keyless = {NODE, ROUTING, NULL, NULL, 0, 0, NULL, NULL, NULL, 0};
    assert_int_equal(show(&keyless, f, "HK-00000001", &v, &err), 0);
    assert_string_equal(v.contact_status, "unreadable");

    /* the wrong key does not open it either */
    cpm_identity_t other;
    dom_identity("hn.qltt", &other);
    inspection_t wrong = {NODE, ROUTING, other.curve_pk, other.curve_sk, 0, 0, NULL, NULL, NULL, 0};
    assert_int_equal(show(&wrong, f, "HK-00000001", &v, &err), 0);
    assert_string_equal(v.contact_status, "unreadable");
    cpm_identity_wipe(&other);

    assert_int_equal(show(&in, f, "HK-00000099", &v, &err), CPM_E_NOT_FOUND);
    assert_string_equal(err.field, "ticket");
    cpm_identity_wipe(&key);
}

/* The whole walk at the agency: start, wait, resume, resolve with a fine,
 * close, reopen (coordinator) within the period and not after it; who may do
 * what; the outcome travels to routing and into the event (as a word). */
static void test_lifecycle_walk(void **state)
{
    fixture_t *f = *state;
    assign_ok(f, "HK-00000001");
    const char *st = NULL;
    bool dup = false;
    cpm_error_t err = {0};
    const char *walk[] = {"accept", "start", "wait", "resume"};
    const char *want[] = {"accepted", "in_progress", "waiting_consumer", "in_progress"};
    for (size_t i = 0; i < 4; i++) {
        f->now += 1000;
        assert_int_equal(
            act(f, "HK-00000001", walk[i], "what the consumer must send", &st, &dup, &err), 0);
        assert_string_equal(st, want[i]);
        assert_false(dup);
    }
    /* wait needs a note (what is awaited) */
    memset(&err, 0, sizeof err);
    assert_int_equal(act(f, "HK-00000001", "wait", "", &st, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "note");
    /* fined needs the fine, and only fined carries one */
    Cpm__CaseAction r = CPM__CASE_ACTION__INIT;
    r.ticket = "HK-00000001";
    r.action = CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE;
    r.outcome = CPM__OUTCOME__OUTCOME_FINED;
    memset(&err, 0, sizeof err);
    assert_int_equal(act_as(f, &officer, &r, &st, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "fine_vnd");
    r.outcome = CPM__OUTCOME__OUTCOME_REFUNDED;
    r.fine_vnd = 5;
    memset(&err, 0, sizeof err);
    assert_int_equal(act_as(f, &officer, &r, &st, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "fine_vnd");
    r.outcome = CPM__OUTCOME__OUTCOME_FINED;
    r.fine_vnd = 15000000;
    f->now += 1000;
    int64_t resolved = f->now;
    assert_int_equal(act_as(f, &officer, &r, &st, &dup, &err), 0);
    assert_string_equal(st, "resolved");
    Cpm__CaseUpdate *u = queued_update(f, 5);
    assert_int_equal(u->state, CPM__CASE_STATE__CASE_STATE_RESOLVED);
    assert_int_equal(u->outcome, CPM__OUTCOME__OUTCOME_FINED);
    assert_int_equal(u->fine_vnd, 15000000);
    cpm__case_update__free_unpacked(u, NULL);
    assert_string_equal(f->rec.events[f->rec.n_events - 1].detail, "outcome=fined");
    /* an officer may close, but not reopen: that is the consumer's or the city's */
    f->now += 1000;
    assert_int_equal(act(f, "HK-00000001", "close", "", &st, &dup, &err), 0);
    assert_string_equal(st, "closed");
    memset(&err, 0, sizeof err);
    assert_int_equal(act(f, "HK-00000001", "reopen", "consumer not refunded", &st, &dup, &err),
                     CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "sender");
    inspection_actor_t coord = {"coordinator.hn.doit", CPM_CASE_BY_COORDINATOR, NULL, 0, ""};
    Cpm__CaseAction ro = CPM__CASE_ACTION__INIT;
    ro.ticket = "HK-00000001";
    ro.action = CPM__CASE_ACTION_KIND__CASE_ACTION_REOPEN;
    ro.note = "consumer not refunded";
    /* a coordinator may not start the work either */
    Cpm__CaseAction sa = CPM__CASE_ACTION__INIT;
    sa.ticket = "HK-00000001";
    sa.action = CPM__CASE_ACTION_KIND__CASE_ACTION_START;
    memset(&err, 0, sizeof err);
    assert_int_equal(act_as(f, &coord, &sa, &st, &dup, &err), CPM_E_CONFLICT); /* closed */
    /* just inside the 30 days */
    f->now = resolved + 30LL * 86400000;
    assert_int_equal(act_as(f, &coord, &ro, &st, &dup, &err), 0);
    assert_string_equal(st, "reopened");
    memset(&err, 0, sizeof err);
    assert_int_equal(act_as(f, &coord, &sa, &st, &dup, &err), CPM_E_FORBIDDEN);
    f->now += 1000;
    assert_int_equal(act(f, "HK-00000001", "start", "", &st, &dup, &err), 0);
    assert_int_equal(act(f, "HK-00000001", "resolve", "", &st, &dup, &err), 0);
    resolved = f->now;
    /* one millisecond after the period: refused, nothing written */
    f->now = resolved + 30LL * 86400000 + 1;
    size_t sent = f->rec.n_sent;
    memset(&err, 0, sizeof err);
    assert_int_equal(act_as(f, &coord, &ro, &st, &dup, &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "action");
    assert_non_null(strstr(err.message, "period"));
    assert_int_equal(f->rec.n_sent, sent);
    Cpm__InspectionCase *c = get_case(f, "HK-00000001");
    assert_int_equal(c->state, CPM__CASE_STATE__CASE_STATE_RESOLVED);
    cpm__inspection_case__free_unpacked(c, NULL);
}

/* An offline act: applied once per (actor, client_id), with its own time and
 * the receipt time beside it; bounded in time; the signed frame is kept. */
static void test_offline_act(void **state)
{
    fixture_t *f = *state;
    int64_t assigned = f->now;
    assign_ok(f, "HK-00000001");
    assign_ok(f, "HK-00000002");
    const char *st = NULL;
    bool dup = true;
    cpm_error_t err = {0};
    uint8_t frame[100];
    memset(frame, 0, sizeof frame);
    /* a SignedEnvelope: field 1 (envelope, 10 bytes), field 2 (signature, 64 bytes) */
    frame[0] = 0x0a;
    frame[1] = 10;
    frame[12] = 0x12;
    frame[13] = 64;
    memset(frame + 14, 0xab, 64);
    inspection_actor_t who = {OFFICER, CPM_CASE_BY_OFFICER, frame, 78, "0011223344556677"};
    Cpm__CaseAction a = CPM__CASE_ACTION__INIT;
    a.ticket = "HK-00000001";
    a.action = CPM__CASE_ACTION_KIND__CASE_ACTION_ACCEPT;
    a.client_id = "tablet-7.0001";
    f->now += 3600 * 1000; /* sent an hour after it happened */
    a.acted_ms = assigned + 60 * 1000;
    assert_int_equal(act_as(f, &who, &a, &st, &dup, &err), 0);
    assert_false(dup);
    Cpm__InspectionCase *c = get_case(f, "HK-00000001");
    assert_int_equal(c->n_history, 2);
    assert_int_equal(c->history[1]->at_ms, assigned + 60 * 1000);
    assert_int_equal(c->history[1]->received_ms, f->now);
    assert_string_equal(c->history[1]->key_id, "0011223344556677");
    assert_int_equal(c->history[1]->signed_action.len, 78);
    assert_memory_equal(c->history[1]->signed_action.data, frame, 78);
    assert_int_equal(c->history[1]->signature.len, 64);
    assert_int_equal(c->history[1]->signature.data[0], 0xab);
    cpm__inspection_case__free_unpacked(c, NULL);
    Cpm__CaseUpdate *u = queued_update(f, 1);
    assert_int_equal(u->at_ms, assigned + 60 * 1000);
    assert_int_equal(u->signed_action.len, 78);
    cpm__case_update__free_unpacked(u, NULL);
    size_t sent = f->rec.n_sent, events = f->rec.n_events;
    /* sent again, later: the first answer, nothing applied twice */
    f->now += 1000;
    dup = false;
    assert_int_equal(act_as(f, &who, &a, &st, &dup, &err), 0);
    assert_true(dup);
    assert_string_equal(st, "accepted");
    assert_int_equal(f->rec.n_sent, sent);
    assert_int_equal(f->rec.n_events, events);
    /* the same client id for another case is a conflict */
    a.ticket = "HK-00000002";
    memset(&err, 0, sizeof err);
    assert_int_equal(act_as(f, &who, &a, &st, &dup, &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "client_id");
    /* before the case was assigned here, in the future, a bad id: refused */
    a.client_id = "tablet-7.0002";
    a.acted_ms = assigned - 1;
    memset(&err, 0, sizeof err);
    assert_int_equal(act_as(f, &who, &a, &st, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "acted_ms");
    a.acted_ms = f->now + 301 * 1000;
    memset(&err, 0, sizeof err);
    assert_int_equal(act_as(f, &who, &a, &st, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "acted_ms");
    a.acted_ms = 0;
    a.client_id = "tablet 7";
    memset(&err, 0, sizeof err);
    assert_int_equal(act_as(f, &who, &a, &st, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "client_id");
    assert_int_equal(f->rec.n_sent, sent);
    /* another actor's client id of the same text is its own */
    inspection_actor_t other = {"officer.hk.4", CPM_CASE_BY_OFFICER, NULL, 0, ""};
    a.client_id = "tablet-7.0001";
    a.acted_ms = f->now; /* an act with a client id carries its time */
    assert_int_equal(act_as(f, &other, &a, &st, &dup, &err), 0);
    assert_false(dup);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_assignment, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_assignment_refused, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_accept_resolve, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_walk, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_offline_act, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_refuse, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_act_errors, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_show_opens_contact, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
