/* routing_deadlines + routing_watch: accept and resolve deadlines become one
 * "case.escalated" event each when they pass (after their reminder), and stop
 * being watched once met. Real LMDB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "routing_deadlines.h"
#include "cpm_case.h"
#include "routing_domain.h"
#include "routing_watch.h"

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"
#define DAY (24LL * 3600 * 1000)

static const char *const dbs[] = ROUTING_DBS;

/* f->now: when the next complaint is received, and routed */
typedef dom_env_t fixture_t;

static int setup(void **state)
{
    /* Monday: accept by Mon 16 March */
    *state = dom_env_new(sizeof(fixture_t), "deadlines", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         dom_vn_time(2026, 3, 2, 10, 0));
    return 0;
}

static void route(fixture_t *f, const char *ticket)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "web";
    c.business_name = "Shop";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "stale food";
    c.intake_node = INTAKE;
    c.received_ms = f->now;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(
        routing_apply_complaint(f->rules, f->reg, f->st, txn, &f->fx, INTAKE, &c, f->now, &err), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
}

static void update(fixture_t *f, const char *ticket, const char *state, int64_t at)
{
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)ticket;
    u.state = cpm_case_state_parse(state);
    u.agency = "hn.d.hoan-kiem";
    u.actor = "officer.hn.d.hoan-kiem";
    u.at_ms = at;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    int rc = routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx, "hn.d.hoan-kiem", &u, &err);
    if (rc != 0)
        fail_msg("update %s -> %s: %s", ticket, state, err.message);
    assert_int_equal(cpm_store_commit(txn), 0);
}

/* The i-th escalation among the recorded events. */
static const dom_event_t *esc(fixture_t *f, size_t i)
{
    for (size_t k = 0; k < f->rec.n_events; k++)
        if (!strcmp(f->rec.events[k].kind, "case.escalated") && i-- == 0)
            return &f->rec.events[k];
    fail_msg("no escalation %zu", i);
    return NULL;
}

/* Run the watch at now (at most max of each); returns how many deadlines it
 * escalated. */
static size_t check_max(fixture_t *f, int64_t now, size_t max)
{
    routing_watch_stats_t s;
    dom_fx_clear(&f->rec);
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(routing_watch_tick(f->rules, f->st, txn, &f->fx, now, max, &s), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
    assert_int_equal(s.escalated + s.reminders, f->rec.n_events);
    return s.escalated;
}

static size_t check(fixture_t *f, int64_t now)
{
    return check_max(f, now, 1000);
}

static void test_accept_deadline_reported_once(void **state)
{
    fixture_t *f = *state;
    route(f, "HK-00000001");
    int64_t due = dom_vn_day_end(2026, 3, 16);
    assert_int_equal(check(f, due - 1), 0);
    assert_int_equal(check(f, due + 1), 1);
    assert_string_equal(esc(f, 0)->ticket, "HK-00000001");
    assert_string_equal(esc(f, 0)->agency, "hn.d.hoan-kiem");
    assert_non_null(strstr(esc(f, 0)->detail, "deadline=accept"));
    assert_int_equal(check(f, due + 10 * DAY), 0); /* reported once */
}

static void test_met_deadlines_are_not_reported(void **state)
{
    fixture_t *f = *state;
    route(f, "HK-00000001");
    update(f, "HK-00000001", "assigned", f->now + 1000); /* delivery: still due */
    update(f, "HK-00000001", "accepted", f->now + DAY);
    update(f, "HK-00000001", "resolved", f->now + 2 * DAY);
    route(f, "HK-00000002");
    update(f, "HK-00000002", "refused", f->now + DAY);
    assert_int_equal(check(f, f->now + 400 * DAY), 0);
}

static void test_resolve_deadline_runs_from_acceptance(void **state)
{
    fixture_t *f = *state;
    route(f, "HK-00000001");
    route(f, "HK-00000002");
    update(f, "HK-00000001", "accepted", dom_vn_time(2026, 3, 3, 9, 0));
    /* accept deadline of 2 passes; 1 now waits for resolution (30 working
     * days from 3 March, past the 30 April / 1 May holidays) */
    assert_int_equal(check(f, dom_vn_day_end(2026, 3, 16) + 1), 1);
    assert_string_equal(esc(f, 0)->ticket, "HK-00000002");
    int rc;
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__StatusReply *r = routing_status(f->st, txn, "HK-00000001", &rc);
    assert_non_null(r);
    int64_t resolve_due = r->resolve_due_ms;
    cpm__status_reply__free_unpacked(r, NULL);
    cpm_store_abort(&txn);
    assert_true(resolve_due > dom_vn_time(2026, 4, 10, 0, 0));
    assert_int_equal(check(f, resolve_due - 1), 0);
    assert_int_equal(check(f, resolve_due + 1), 1);
    assert_string_equal(esc(f, 0)->ticket, "HK-00000001");
    assert_non_null(strstr(esc(f, 0)->detail, "deadline=resolve"));
}

static void test_check_respects_max_and_order(void **state)
{
    fixture_t *f = *state;
    char t[32];
    for (int i = 1; i <= 5; i++) {
        snprintf(t, sizeof t, "HK-%08d", i);
        f->now = dom_vn_time(2026, 3, 2 + i, 10, 0); /* later days, later deadlines */
        route(f, t);
    }
    assert_int_equal(check_max(f, dom_vn_time(2027, 1, 1, 0, 0), 2), 2);
    assert_string_equal(esc(f, 0)->ticket, "HK-00000001");
    assert_string_equal(esc(f, 1)->ticket, "HK-00000002");
    assert_int_equal(check(f, dom_vn_time(2027, 1, 1, 0, 0)), 3);
    assert_string_equal(esc(f, 2)->ticket, "HK-00000005");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accept_deadline_reported_once, setup,
                                        dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_met_deadlines_are_not_reported, setup,
                                        dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_resolve_deadline_runs_from_acceptance, setup,
                                        dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_check_respects_max_and_order, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
