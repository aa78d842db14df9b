/* routing_watch and routing_list with a fake now: a reminder before and an
 * escalation after each deadline, each exactly once (also when a tick's
 * transaction is lost), the overdue flag and which deadline, per-category
 * deadlines across Tet 2027, and the case list's scope, filters and pages.
 * Real LMDB, no sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_case.h"
#include "routing_deadlines.h"
#include "routing_domain.h"
#include "routing_list.h"
#include "routing_watch.h"

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"
#define DAY (24LL * 3600 * 1000)

static const char *const dbs[] = ROUTING_DBS;

typedef dom_env_t fixture_t;

/* Monday 25 January 2027, 10:00: the accept deadline (10 working days, Tet
 * off on 5 and 8-11 February) is the end of Monday 15 February; the
 * reminder (2 working days before) the end of Thursday 4 February. */
static int setup(void **state)
{
    *state = dom_env_new(sizeof(fixture_t), "watch", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         dom_vn_time(2027, 1, 25, 10, 0));
    return 0;
}

static void route(fixture_t *f, const char *ticket, const char *category)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "web";
    c.business_name = "Shop";
    c.area = "hoan-kiem";
    c.category = (char *)category;
    c.description = "a complaint";
    c.intake_node = INTAKE;
    c.received_ms = f->now;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    int rc =
        routing_apply_complaint(f->rules, f->reg, f->st, txn, &f->fx, INTAKE, &c, f->now, &err);
    if (rc != 0)
        fail_msg("route %s: %s", ticket, err.message);
    assert_int_equal(cpm_store_commit(txn), 0);
}

static void update(fixture_t *f, const char *ticket, const char *agency, const char *state,
                   int64_t at)
{
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)ticket;
    u.state = cpm_case_state_parse(state);
    u.agency = (char *)agency;
    u.actor = "officer";
    u.at_ms = at;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    int rc = routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx, agency, &u, &err);
    if (rc != 0)
        fail_msg("update %s -> %s: %s", ticket, state, err.message);
    assert_int_equal(cpm_store_commit(txn), 0);
}

static routing_watch_stats_t tick(fixture_t *f, int64_t now)
{
    routing_watch_stats_t s;
    dom_fx_clear(&f->rec);
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(routing_watch_tick(f->rules, f->st, txn, &f->fx, now, 1000, &s), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
    assert_int_equal(s.reminders + s.escalated, f->rec.n_events);
    return s;
}

static Cpm__StatusReply *status(fixture_t *f, const char *ticket)
{
    int rc;
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__StatusReply *r = routing_status(f->st, txn, ticket, &rc);
    cpm_store_abort(&txn);
    assert_non_null(r);
    return r;
}

static void test_reminder_then_escalation_once(void **state)
{
    fixture_t *f = *state;
    route(f, "HK-00000001", "food_safety");
    int64_t due = dom_vn_day_end(2027, 2, 15), remind = dom_vn_day_end(2027, 2, 4);
    Cpm__StatusReply *r = status(f, "HK-00000001");
    assert_int_equal(r->accept_due_ms, due); /* after Tet, not 8 February */
    cpm__status_reply__free_unpacked(r, NULL);

    routing_watch_stats_t s = tick(f, remind);
    assert_int_equal(s.reminders + s.escalated, 0);
    s = tick(f, remind + 1);
    assert_int_equal(s.reminders, 1);
    assert_string_equal(f->rec.events[0].kind, "case.reminder");
    assert_string_equal(f->rec.events[0].agency, "hn.d.hoan-kiem");
    assert_non_null(strstr(f->rec.events[0].detail, "deadline=accept"));
    s = tick(f, remind + 2 * DAY); /* once */
    assert_int_equal(s.reminders + s.escalated, 0);

    s = tick(f, due);
    assert_int_equal(s.escalated, 0);
    s = tick(f, due + 1);
    assert_int_equal(s.escalated, 1);
    assert_int_equal(s.reminders, 0);
    assert_string_equal(f->rec.events[0].kind, "case.escalated");
    assert_string_equal(f->rec.events[0].agency, "hn.d.hoan-kiem");
    assert_non_null(strstr(f->rec.events[0].detail, "to=coordinators"));
    r = status(f, "HK-00000001");
    assert_true(r->overdue && routing_watch_is_overdue(r));
    assert_string_equal(r->overdue_deadline, "accept");
    assert_int_equal(r->overdue_since_ms, due);
    assert_int_equal(r->escalated_ms, due + 1);
    cpm__status_reply__free_unpacked(r, NULL);
    s = tick(f, due + 100 * DAY); /* once */
    assert_int_equal(s.reminders + s.escalated, 0);

    /* Accepted late: no longer overdue; the resolve deadline now runs. */
    update(f, "HK-00000001", "hn.d.hoan-kiem", "accepted", due + 2 * DAY);
    r = status(f, "HK-00000001");
    assert_false(routing_watch_is_overdue(r));
    int64_t rdue;
    assert_string_equal(routing_watch_open_deadline(r, &rdue), "resolve");
    assert_int_equal(rdue, r->resolve_due_ms);
    cpm__status_reply__free_unpacked(r, NULL);
}

/* A tick whose transaction is lost (the process killed before commit) sent
 * nothing: the next one sends each event once. */
static void test_lost_tick_sends_once(void **state)
{
    fixture_t *f = *state;
    route(f, "HK-00000001", "food_safety");
    int64_t late = dom_vn_day_end(2027, 2, 15) + 1;
    routing_watch_stats_t s;
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(routing_watch_tick(f->rules, f->st, txn, &f->fx, late, 1000, &s), 0);
    assert_int_equal(s.reminders + s.escalated, 2);
    cpm_store_abort(&txn);
    /* a clock jump past both: reminder first, then escalation, one each */
    s = tick(f, late);
    assert_int_equal(s.reminders, 1);
    assert_int_equal(s.escalated, 1);
    assert_string_equal(f->rec.events[0].kind, "case.reminder");
    assert_string_equal(f->rec.events[1].kind, "case.escalated");
    s = tick(f, late + DAY);
    assert_int_equal(s.reminders + s.escalated, 0);
}

/* Bounded work: an escalation never overtakes its reminder. */
static void test_bounded_ticks_keep_order(void **state)
{
    fixture_t *f = *state;
    char t[32];
    for (int i = 1; i <= 3; i++) {
        snprintf(t, sizeof t, "HK-%08d", i);
        route(f, t, "food_safety");
    }
    int64_t late = dom_vn_day_end(2027, 2, 15) + 1;
    size_t reminded = 0, escalated = 0;
    for (int round = 0; round < 10 && escalated < 3; round++) {
        routing_watch_stats_t s;
        dom_fx_clear(&f->rec);
        MDB_txn *txn = dom_begin(f->st, true);
        assert_int_equal(routing_watch_tick(f->rules, f->st, txn, &f->fx, late, 1, &s), 0);
        assert_int_equal(cpm_store_commit(txn), 0);
        reminded += s.reminders;
        escalated += s.escalated;
        assert_true(escalated <= reminded);
    }
    assert_int_equal(reminded, 3);
    assert_int_equal(escalated, 3);
}

/* Per-category deadlines: a complex category resolves in 45 working days. */
static void test_per_category_resolve(void **state)
{
    fixture_t *f = *state;
    route(f, "HK-00000001", "food_safety");
    route(f, "HK-00000002", "utilities"); /* routed to hn.doit */
    int64_t at = dom_vn_time(2027, 2, 4, 10, 0);
    update(f, "HK-00000001", "hn.d.hoan-kiem", "accepted", at);
    update(f, "HK-00000002", "hn.doit", "accepted", at);
    Cpm__StatusReply *a = status(f, "HK-00000001"), *b = status(f, "HK-00000002");
    /* 30 and 45 working days from the eve of Tet 2027 */
    assert_int_equal(a->resolve_due_ms, dom_vn_day_end(2027, 3, 25));
    assert_int_equal(b->resolve_due_ms, dom_vn_day_end(2027, 4, 15));
    cpm__status_reply__free_unpacked(a, NULL);
    cpm__status_reply__free_unpacked(b, NULL);
}

/* A deadline set behind the reminder cursor (here: a complaint that reached
 * routing late, received days before one already reminded) is still
 * reminded, and what was reminded is not reminded again. */
static void test_deadline_behind_cursor_is_reminded_once(void **state)
{
    fixture_t *f = *state;
    int64_t t0 = f->now;
    route(f, "HK-00000001", "food_safety"); /* due 15 Feb, reminded end of 4 Feb */
    routing_watch_stats_t s = tick(f, dom_vn_time(2027, 2, 5, 9, 0));
    assert_int_equal(s.reminders, 1);
    f->now = t0 - 3 * DAY; /* received Friday 22 January: due Friday 12 February */
    route(f, "HK-00000002", "food_safety");
    s = tick(f, dom_vn_time(2027, 2, 5, 9, 0) + 1000);
    assert_int_equal(s.reminders, 1); /* its moment (end of 3 February) has passed */
    assert_int_equal(s.escalated, 0);
    assert_string_equal(f->rec.events[0].ticket, "HK-00000002");
    s = tick(f, dom_vn_day_end(2027, 2, 12) + 1);
    assert_int_equal(s.reminders + s.escalated, 1);
    assert_string_equal(f->rec.events[0].kind, "case.escalated");
    assert_string_equal(f->rec.events[0].ticket, "HK-00000002");
    s = tick(f, dom_vn_day_end(2027, 2, 15) + 1);
    assert_int_equal(s.reminders, 0); /* 1 was reminded before */
    assert_int_equal(s.escalated, 1);
    assert_string_equal(f->rec.events[0].ticket, "HK-00000001");
}

/* An index entry its case no longer matches is dropped without an event. */
static void test_stale_entry_dropped(void **state)
{
    fixture_t *f = *state;
    route(f, "HK-00000001", "food_safety");
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(routing_deadline_set(f->st, txn, f->now + DAY, "HK-00000001", "resolve"), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
    routing_watch_stats_t s = tick(f, f->now + 3 * DAY);
    assert_int_equal(s.reminders + s.escalated, 0);
    assert_int_equal(s.stale, 1);
}

static Cpm__Member member(const char *id, const char *role, const char *agency)
{
    Cpm__Member m = CPM__MEMBER__INIT;
    m.id = (char *)id;
    m.role = (char *)role;
    m.agency = (char *)agency;
    return m;
}

static size_t list(fixture_t *f, const Cpm__Member *asker, Cpm__CaseListQuery *q, int want_rc,
                   const char *field, char *next, size_t nlen)
{
    Cpm__CaseListReply *r = NULL;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, false);
    int rc = routing_list(f->st, txn, asker, q, f->now, &r, &err);
    cpm_store_abort(&txn);
    assert_int_equal(rc, want_rc);
    if (rc != 0) {
        assert_null(r);
        assert_string_equal(err.field, field);
        return 0;
    }
    size_t n = r->n_cases;
    if (next)
        snprintf(next, nlen, "%s", r->next_cursor);
    routing_list_free(&r);
    assert_null(r);
    return n;
}

static void test_case_list(void **state)
{
    fixture_t *f = *state;
    route(f, "HK-00000001", "food_safety");       /* hn.d.hoan-kiem */
    route(f, "HK-00000002", "counterfeit_goods"); /* hn.qltt */
    route(f, "HK-00000003", "food_safety");
    tick(f, dom_vn_day_end(2027, 2, 15) + 1); /* all overdue */
    update(f, "HK-00000003", "hn.d.hoan-kiem", "accepted", dom_vn_time(2027, 2, 16, 9, 0));
    f->now = dom_vn_time(2027, 2, 16, 10, 0);

    Cpm__Member coord = member("coordinator.hn.doit", "coordinator", "hn.doit");
    Cpm__Member qltt = member("officer.hn.qltt", "officer", "hn.qltt");
    Cpm__Member op = member("operator.hn.doit", "operator", "hn.doit");
    Cpm__CaseListQuery q = CPM__CASE_LIST_QUERY__INIT;
    assert_int_equal(list(f, &coord, &q, 0, NULL, NULL, 0), 3);
    q.overdue = true;
    assert_int_equal(list(f, &coord, &q, 0, NULL, NULL, 0), 2);
    assert_int_equal(list(f, &qltt, &q, 0, NULL, NULL, 0), 1); /* its own only */
    q.agency = "hn.d.hoan-kiem";
    assert_int_equal(list(f, &coord, &q, 0, NULL, NULL, 0), 1);
    assert_int_equal(list(f, &qltt, &q, CPM_E_FORBIDDEN, "agency", NULL, 0), 0);
    assert_int_equal(list(f, &op, &q, CPM_E_FORBIDDEN, "role", NULL, 0), 0);
    assert_int_equal(list(f, NULL, &q, CPM_E_FORBIDDEN, "role", NULL, 0), 0);
    q = (Cpm__CaseListQuery)CPM__CASE_LIST_QUERY__INIT;
    q.state = CPM__CASE_STATE__CASE_STATE_ACCEPTED;
    assert_int_equal(list(f, &coord, &q, 0, NULL, NULL, 0), 1);
    q.state = 0;
    q.due_within_ms = 60 * DAY; /* the resolve deadline of 3 */
    assert_int_equal(list(f, &coord, &q, 0, NULL, NULL, 0), 1);
    q.due_within_ms = DAY;
    assert_int_equal(list(f, &coord, &q, 0, NULL, NULL, 0), 0);
    q.due_within_ms = 0;
    q.area = "ba-dinh";
    assert_int_equal(list(f, &coord, &q, 0, NULL, NULL, 0), 0);
    q.area = "";
    /* pages */
    char cursor[64] = "";
    size_t seen = 0;
    q.limit = 2;
    do {
        q.cursor = cursor;
        seen += list(f, &coord, &q, 0, NULL, cursor, sizeof cursor);
    } while (*cursor);
    assert_int_equal(seen, 3);
    /* bad queries name the field */
    q.limit = ROUTING_LIST_MAX + 1;
    assert_int_equal(list(f, &coord, &q, CPM_E_INVALID, "limit", NULL, 0), 0);
    q.limit = 0;
    q.cursor = "not a ticket";
    assert_int_equal(list(f, &coord, &q, CPM_E_INVALID, "cursor", NULL, 0), 0);
    q.cursor = "";
    q.state = 99;
    assert_int_equal(list(f, &coord, &q, CPM_E_INVALID, "state", NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reminder_then_escalation_once, setup,
                                        dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_lost_tick_sends_once, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_bounded_ticks_keep_order, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_per_category_resolve, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_deadline_behind_cursor_is_reminded_once, setup,
                                        dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_stale_entry_dropped, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_case_list, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
