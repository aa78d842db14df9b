/* Deadlines at routing, per generation and after a reopening: a case gets
 * the deadlines of the generation that routed it; a reopened case gets a
 * new accept deadline (take it up again) and resolve deadline, both counted
 * from the reopening, loses the overdue flags of its last period, and gets
 * one reminder and one escalation for each new deadline. Real LMDB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_case.h"
#include "routing_deadlines.h"
#include "routing_domain.h"
#include "routing_watch.h"

#include <unistd.h>

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"
#define AG "hn.d.hoan-kiem"
#define T1 "HK-00000001"

static const char *const dbs[] = ROUTING_DBS;

typedef dom_env_t fixture_t;

static int setup(void **state)
{
    *state = dom_env_new(sizeof(fixture_t), "reopen", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         dom_vn_time(2026, 3, 2, 10, 0));
    return 0;
}

static void route_at(fixture_t *f, const char *ticket, int64_t received)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "web";
    c.business_name = "Shop";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "stale food";
    c.intake_node = INTAKE;
    c.received_ms = received;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    int rc =
        routing_apply_complaint(f->rules, f->reg, f->st, txn, &f->fx, INTAKE, &c, received, &err);
    if (rc != 0)
        fail_msg("route %s: %s", ticket, err.message);
    assert_int_equal(cpm_store_commit(txn), 0);
}

static void update(fixture_t *f, const char *ticket, const char *state, int64_t at)
{
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)ticket;
    u.state = cpm_case_state_parse(state);
    u.agency = AG;
    u.actor = "officer.hn.d.hoan-kiem";
    u.at_ms = at;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    int rc = routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx, AG, &u, &err);
    if (rc != 0)
        fail_msg("update %s -> %s: %s", ticket, state, err.message);
    assert_int_equal(cpm_store_commit(txn), 0);
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

/* One watch round at now: its stats (events recorded in f->rec). */
static routing_watch_stats_t tick(fixture_t *f, int64_t now)
{
    routing_watch_stats_t s;
    dom_fx_clear(&f->rec);
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(routing_watch_tick(f->rules, f->st, txn, &f->fx, now, 1000, &s), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
    return s;
}

/* Exactly one reminder then exactly one escalation for the open deadline
 * what, due at due, and nothing more after. */
static void once_each(fixture_t *f, const char *what, int64_t due)
{
    char want[32];
    snprintf(want, sizeof want, "deadline=%s", what);
    int64_t moment = cpm_rules_sub_working_days(f->rules, due, cpm_rules_remind_days(f->rules));
    routing_watch_stats_t s = tick(f, moment - 1);
    assert_int_equal(s.reminders + s.escalated, 0);
    s = tick(f, moment + 1);
    assert_int_equal(s.reminders, 1);
    assert_int_equal(s.escalated, 0);
    assert_string_equal(f->rec.events[0].kind, "case.reminder");
    assert_non_null(strstr(f->rec.events[0].detail, want));
    s = tick(f, due - 1);
    assert_int_equal(s.reminders + s.escalated, 0);
    s = tick(f, due + 1);
    assert_int_equal(s.reminders, 0);
    assert_int_equal(s.escalated, 1);
    assert_string_equal(f->rec.events[0].kind, "case.escalated");
    assert_non_null(strstr(f->rec.events[0].detail, want));
    s = tick(f, due + 100LL * 86400000);
    assert_int_equal(s.reminders + s.escalated, 0);
}

static void test_reopen_restarts_deadlines(void **state)
{
    fixture_t *f = *state;
    route_at(f, T1, f->now);
    update(f, T1, "accepted", dom_vn_time(2026, 3, 3, 9, 0));
    Cpm__StatusReply *r = status(f, T1);
    int64_t old_resolve = r->resolve_due_ms;
    cpm__status_reply__free_unpacked(r, NULL);
    /* the first period: its resolve deadline is reminded and escalated */
    once_each(f, "resolve", old_resolve);
    r = status(f, T1);
    assert_true(r->overdue);
    cpm__status_reply__free_unpacked(r, NULL);
    update(f, T1, "resolved", old_resolve + 86400000);

    /* reopened on Monday 1 June 2026: take it up again by Monday 15 June
     * (10 working days), resolve by 30 working days from the reopening */
    int64_t reopen = dom_vn_time(2026, 6, 1, 10, 0);
    update(f, T1, "reopened", reopen);
    r = status(f, T1);
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_REOPENED);
    assert_int_equal(r->accept_due_ms, dom_vn_day_end(2026, 6, 15));
    assert_int_equal(r->resolve_due_ms, cpm_rules_add_working_days(f->rules, reopen, 30));
    assert_true(r->resolve_due_ms > dom_vn_day_end(2026, 7, 10));
    assert_false(r->overdue);
    assert_string_equal(r->overdue_deadline, "");
    assert_int_equal(r->overdue_since_ms, 0);
    assert_int_equal(r->escalated_ms, 0);
    int64_t due;
    assert_string_equal(routing_watch_open_deadline(r, &due), "accept");
    assert_int_equal(due, r->accept_due_ms);
    assert_false(routing_watch_is_overdue(r));
    int64_t new_resolve = r->resolve_due_ms;
    cpm__status_reply__free_unpacked(r, NULL);

    /* the new period: one reminder and one escalation for the accept... */
    once_each(f, "accept", dom_vn_day_end(2026, 6, 15));
    r = status(f, T1);
    assert_true(routing_watch_is_overdue(r));
    assert_string_equal(r->overdue_deadline, "accept");
    cpm__status_reply__free_unpacked(r, NULL);
    /* ...and, once taken up, for the resolve deadline of the reopening */
    update(f, T1, "in_progress", dom_vn_time(2026, 6, 17, 9, 0));
    r = status(f, T1);
    assert_int_equal(r->resolve_due_ms, new_resolve);
    assert_false(routing_watch_is_overdue(r));
    cpm__status_reply__free_unpacked(r, NULL);
    once_each(f, "resolve", new_resolve);
}

static void test_reopen_taken_up_in_time(void **state)
{
    fixture_t *f = *state;
    route_at(f, T1, f->now);
    update(f, T1, "accepted", dom_vn_time(2026, 3, 3, 9, 0));
    update(f, T1, "resolved", dom_vn_time(2026, 3, 10, 9, 0));
    update(f, T1, "closed", dom_vn_time(2026, 3, 11, 9, 0));
    update(f, T1, "reopened", dom_vn_time(2026, 6, 1, 10, 0));
    /* resolved straight from reopened: nothing is watched any more */
    update(f, T1, "resolved", dom_vn_time(2026, 6, 2, 10, 0));
    routing_watch_stats_t s = tick(f, dom_vn_time(2027, 6, 1, 0, 0));
    assert_int_equal(s.reminders + s.escalated, 0);
}

/* The deadlines of the generation that routed the case. */
static const char gen_rules[] =
    "version: 1\n"
    "effective_from: \"2020-01-01\"\n"
    "triage: hn.doit\n"
    "area_office_prefix: \"hn.d.\"\n"
    "deadlines: {accept_working_days: 10, resolve_working_days: 30}\n"
    "areas: [{slug: hoan-kiem}]\n"
    "categories: [{slug: food_safety, resolve_days: 45}, {slug: other}]\n"
    "rules: [{id: R1, category: \"*\", agency: \"@area\"}]\n"
    "generations:\n"
    "  - {id: \"old\", valid_from: \"2020-01-01\", valid_to: \"2025-06-30\", units: areas}\n"
    "  - id: \"new\"\n"
    "    valid_from: \"2025-07-01\"\n"
    "    units: areas\n"
    "    deadlines: {accept_working_days: 3}\n"
    "    categories: {food_safety: {resolve_days: 5}}\n";

static void test_generation_deadlines(void **state)
{
    fixture_t *f = *state;
    char dir[] = "/tmp/cpm_rro_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/routing.yaml", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(gen_rules, fp);
    assert_int_equal(fclose(fp), 0);
    cpm_rules_destroy(&f->rules);
    cpm_error_t e = {0};
    if (cpm_rules_load(path, &f->rules, &e) != 0)
        fail_msg("%s", e.message);
    unlink(path);
    rmdir(dir);
    /* received Monday 2 June 2025, "old": 10 and 45 working days */
    int64_t t_old = dom_vn_time(2025, 6, 2, 10, 0);
    route_at(f, "HK-00000001", t_old);
    /* received Monday 2 March 2026, "new": 3 and 5 */
    route_at(f, "HK-00000002", f->now);
    Cpm__StatusReply *r = status(f, "HK-00000001");
    assert_string_equal(r->generation, "old");
    assert_int_equal(r->accept_due_ms, dom_vn_day_end(2025, 6, 16));
    cpm__status_reply__free_unpacked(r, NULL);
    r = status(f, "HK-00000002");
    assert_string_equal(r->generation, "new");
    assert_int_equal(r->accept_due_ms, dom_vn_day_end(2026, 3, 5));
    cpm__status_reply__free_unpacked(r, NULL);
    /* accepted: resolve from acceptance with the case's generation */
    update(f, "HK-00000001", "accepted", dom_vn_time(2025, 6, 3, 9, 0));
    update(f, "HK-00000002", "accepted", dom_vn_time(2026, 3, 3, 9, 0));
    r = status(f, "HK-00000001");
    assert_int_equal(r->resolve_due_ms,
                     cpm_rules_add_working_days(f->rules, dom_vn_time(2025, 6, 3, 9, 0), 45));
    cpm__status_reply__free_unpacked(r, NULL);
    r = status(f, "HK-00000002");
    assert_int_equal(r->resolve_due_ms, dom_vn_day_end(2026, 3, 10));
    cpm__status_reply__free_unpacked(r, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reopen_restarts_deadlines, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_taken_up_in_time, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_generation_deadlines, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
