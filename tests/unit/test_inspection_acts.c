/* Tests for the bounded memory of offline acts (inspection_acts) through
 * inspection_act on a real store: an act with a client_id must say when it
 * happened; ids are forgotten after the window in bounded steps, never
 * before; a replay of a forgotten act is refused (and counted), so nothing is
 * applied twice; entries stored without a time get a full window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "inspection_domain.h"

#define NODE "hn.d.hoan-kiem"
#define ROUTING "hn.doit"
#define OFFICER "officer.hk.3"
#define DAY (86400LL * 1000)

static const char *const dbs[] = INSPECTION_DBS;

typedef dom_env_t fixture_t;

static size_t too_old;
static void count(void *ctx, const char *counter)
{
    (void)ctx;
    too_old += !strcmp(counter, "case.act_too_old");
}

static const inspection_t node = {
    .node = NODE, .routing = ROUTING, .count = count, .acts_window_ms = 90 * DAY};
static const inspection_actor_t officer = {OFFICER, CPM_CASE_BY_OFFICER, NULL, 0, ""};

static int setup(void **state)
{
    too_old = 0;
    *state = dom_env_new(sizeof(fixture_t), "inspection", dbs, 0, NODE "/inspection",
                         dom_vn_time(2026, 3, 2, 11, 0));
    return 0;
}

static void assign(fixture_t *f, const char *ticket)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "hotline";
    c.business_name = "Pho Ngon Co.";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "Food poisoning after lunch.";
    c.intake_node = NODE;
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = &c;
    a.agency = NODE;
    a.rule_id = "R02-food";
    a.routed_ms = f->now - 1000;
    a.accept_due_ms = f->now + 10 * DAY;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(
        dom_end(txn, inspection_apply_assignment(&node, f->st, txn, &f->fx, &a, f->now, &err)), 0);
}

static int act(fixture_t *f, const char *ticket, Cpm__CaseActionKind kind, const char *client_id,
               int64_t acted_ms, bool *dup, cpm_error_t *err)
{
    Cpm__CaseAction a = CPM__CASE_ACTION__INIT;
    a.ticket = (char *)ticket;
    a.action = kind;
    a.client_id = (char *)client_id;
    a.acted_ms = acted_ms;
    Cpm__CaseState to;
    memset(err, 0, sizeof *err);
    MDB_txn *txn = dom_begin(f->st, true);
    return dom_end(txn,
                   inspection_act(&node, f->st, txn, &f->fx, &officer, &a, f->now, &to, dup, err));
}

static size_t sweep(fixture_t *f, int64_t now, size_t max, cpm_sweep_cursor_t *cur)
{
    size_t deleted = 0;
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(dom_end(txn, inspection_acts_sweep(f->st, txn, node.acts_window_ms, now, max,
                                                        cur, &deleted)),
                     0);
    return deleted;
}

static size_t entries(fixture_t *f)
{
    return dom_entries(f->st, INSPECTION_ACTS_DB);
}

static void test_forgotten_act_refused(void **state)
{
    fixture_t *f = *state;
    assign(f, "HK-00000001");
    bool dup = false;
    cpm_error_t err;
    const Cpm__CaseActionKind ACCEPT = CPM__CASE_ACTION_KIND__CASE_ACTION_ACCEPT;
    /* a client id without the act's time: refused, naming acted_ms */
    assert_int_equal(act(f, "HK-00000001", ACCEPT, "tablet-1.0001", 0, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "acted_ms");
    int64_t acted = f->now;
    assert_int_equal(act(f, "HK-00000001", ACCEPT, "tablet-1.0001", acted, &dup, &err), 0);
    assert_false(dup);
    size_t sent = f->rec.n_sent;
    /* remembered inside the window: a replay is a duplicate */
    cpm_sweep_cursor_t cur = {0};
    assert_int_equal(sweep(f, acted + 89 * DAY, 100, &cur), 0);
    f->now = acted + 89 * DAY;
    assert_int_equal(act(f, "HK-00000001", ACCEPT, "tablet-1.0001", acted, &dup, &err), 0);
    assert_true(dup);
    assert_int_equal(too_old, 0);
    /* forgotten after it; the replay is refused, nothing applied again */
    assert_int_equal(sweep(f, acted + 91 * DAY, 100, &cur), 1);
    assert_int_equal(entries(f), 0);
    f->now = acted + 91 * DAY;
    assert_int_equal(act(f, "HK-00000001", ACCEPT, "tablet-1.0001", acted, &dup, &err),
                     CPM_E_INVALID);
    assert_string_equal(err.field, "acted_ms");
    assert_int_equal(too_old, 1);
    assert_int_equal(f->rec.n_sent, sent);
}

static void test_sweep_bounded(void **state)
{
    fixture_t *f = *state;
    char ticket[32], id[32];
    int64_t t0 = f->now;
    for (int i = 0; i < 10; i++) {
        snprintf(ticket, sizeof ticket, "HK-%08d", i + 1);
        snprintf(id, sizeof id, "tablet-1.%04d", i);
        assign(f, ticket);
        bool dup;
        cpm_error_t err;
        assert_int_equal(act(f, ticket, CPM__CASE_ACTION_KIND__CASE_ACTION_ACCEPT, id,
                             t0 + (i < 4 ? 0 : 30 * DAY), &dup, &err),
                         0);
        if (i == 3)
            f->now = t0 + 30 * DAY;
    }
    /* an entry stored before times were kept: a full window from the sweep */
    Cpm__CaseActionReply old = CPM__CASE_ACTION_REPLY__INIT;
    old.ticket = "HK-00000001";
    old.state = CPM__CASE_STATE__CASE_STATE_ACCEPTED;
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(dom_end(txn, inspection_acts_put(f->st, txn, OFFICER, "legacy.1", &old)), 0);
    assert_int_equal(entries(f), 11);
    /* 100 days on, 3 looked at per step: the 4 of day 0 go, over steps */
    cpm_sweep_cursor_t cur = {0};
    int64_t now = t0 + 100 * DAY;
    size_t total = 0;
    for (int step = 0; step < 4; step++) {
        size_t d = sweep(f, now, 3, &cur);
        assert_true(d <= 3);
        total += d;
    }
    assert_int_equal(total, 4);
    assert_int_equal(entries(f), 7);
    /* the legacy entry got now as its time: still there 89 days later */
    for (int step = 0; step < 4; step++)
        total += sweep(f, now + 89 * DAY, 3, &cur);
    assert_int_equal(entries(f), 1);
    for (int step = 0; step < 4; step++)
        total += sweep(f, now + 91 * DAY, 3, &cur);
    assert_int_equal(entries(f), 0);
    assert_int_equal(total, 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forgotten_act_refused, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_bounded, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
