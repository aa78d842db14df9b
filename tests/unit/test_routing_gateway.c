/* Routing and the web gateway (role gateway, Open311): the public view of
 * any ticket without a lookup code (no rule, no actors, no notes, no signed
 * acts), and lists of every case in the public projection; other members
 * without a code or a role still see nothing. Real LMDB, no sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_case.h"
#include "routing_domain.h"
#include "routing_list.h"

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"

static const char *const dbs[] = ROUTING_DBS;

typedef dom_env_t fixture_t;

static int setup(void **state)
{
    *state = dom_env_new(sizeof(fixture_t), "gwview", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         dom_vn_time(2027, 1, 25, 10, 0));
    return 0;
}

static void route_as(fixture_t *f, const char *ticket, const char *category, int64_t received_ms)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "web";
    c.business_name = "Shop";
    c.area = "hoan-kiem";
    c.category = (char *)category;
    c.description = "a complaint";
    c.intake_node = INTAKE;
    c.received_ms = received_ms;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    int rc =
        routing_apply_complaint(f->rules, f->reg, f->st, txn, &f->fx, INTAKE, &c, f->now, &err);
    if (rc != 0)
        fail_msg("route %s: %s", ticket, err.message);
    assert_int_equal(cpm_store_commit(txn), 0);
    if (strcmp(category, "food_safety") != 0)
        return; /* routed elsewhere: not the district's to accept */
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)ticket;
    u.state = CPM__CASE_STATE__CASE_STATE_ACCEPTED;
    u.agency = INTAKE;
    u.actor = "officer.hn.d.hoan-kiem";
    u.note = "called the consumer at home";
    u.at_ms = f->now + 1000;
    txn = dom_begin(f->st, true);
    rc = routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx, INTAKE, &u, &err);
    if (rc != 0)
        fail_msg("update %s: %s", ticket, err.message);
    assert_int_equal(cpm_store_commit(txn), 0);
}

static void route(fixture_t *f, const char *ticket)
{
    route_as(f, ticket, "food_safety", f->now);
}

static Cpm__Member member(const char *id, const char *role, const char *agency)
{
    Cpm__Member m = CPM__MEMBER__INIT;
    m.id = (char *)id;
    m.role = (char *)role;
    m.agency = (char *)agency;
    return m;
}

static Cpm__StatusReply *ask(fixture_t *f, const Cpm__Member *asker, const char *ticket, int *rc)
{
    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = (char *)ticket;
    bool hidden;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__StatusReply *r = routing_status_for(f->st, txn, asker, &q, rc, &hidden, &err);
    cpm_store_abort(&txn);
    return r;
}

static void test_gateway_gets_public_view(void **state)
{
    fixture_t *f = *state;
    route(f, "HK-00000001");
    Cpm__Member gw = member("hn.gw", "gateway", "hn.gw");
    int rc;
    Cpm__StatusReply *r = ask(f, &gw, "HK-00000001", &rc);
    assert_int_equal(rc, 0);
    assert_non_null(r);
    assert_string_equal(r->view, "public");
    assert_string_equal(r->rule_id, "");
    assert_string_equal(r->intake_node, "");
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_ACCEPTED);
    assert_string_equal(r->agency, INTAKE);
    assert_true(r->n_history > 0);
    for (size_t i = 0; i < r->n_history; i++) {
        assert_string_equal(r->history[i]->actor, "");
        assert_string_equal(r->history[i]->note, "");
        assert_int_equal(r->history[i]->signed_action.len, 0);
    }
    cpm__status_reply__free_unpacked(r, NULL);
    /* unknown tickets stay unknown */
    assert_null(ask(f, &gw, "HK-00000009", &rc));
    assert_int_equal(rc, CPM_E_NOT_FOUND);
    /* an operator without the lookup code still sees nothing */
    Cpm__Member op = member("operator.hn.doit", "operator", "hn.doit");
    assert_null(ask(f, &op, "HK-00000001", &rc));
    assert_int_equal(rc, CPM_E_NOT_FOUND);
}

static void test_gateway_lists_every_case(void **state)
{
    fixture_t *f = *state;
    route(f, "HK-00000001");
    route(f, "HK-00000002");
    Cpm__Member gw = member("hn.gw", "gateway", "hn.gw");
    Cpm__CaseListQuery q = CPM__CASE_LIST_QUERY__INIT;
    Cpm__CaseListReply *r = NULL;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, false);
    assert_int_equal(routing_list(f->st, txn, &gw, &q, f->now, &r, &err), 0);
    cpm_store_abort(&txn);
    assert_int_equal(r->n_cases, 2);
    assert_string_equal(r->cases[0]->ticket, "HK-00000001");
    assert_string_equal(r->cases[0]->category, "food_safety");
    routing_list_free(&r);
    const char *agency = NULL;
    assert_int_equal(routing_list_scope(&gw, &agency), 3);
    Cpm__Member other = member("x.hn.gw", "association", "hn.gw");
    assert_int_equal(routing_list_scope(&other, &agency), 0);
}

static Cpm__CaseListReply *list(fixture_t *f, const Cpm__CaseListQuery *q, int *rc)
{
    Cpm__Member gw = member("hn.gw", "gateway", "hn.gw");
    Cpm__CaseListReply *r = NULL;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, false);
    *rc = routing_list(f->st, txn, &gw, q, f->now, &r, &err);
    cpm_store_abort(&txn);
    return r;
}

/* The received-time range and the category are applied by routing, so the
 * gateway's Open311 lists do not carry the whole register back. */
static void test_list_filters_time_and_category(void **state)
{
    fixture_t *f = *state;
    int64_t day = 86400LL * 1000;
    route_as(f, "HK-00000001", "food_safety", f->now - 100 * day);
    route_as(f, "HK-00000002", "pricing", f->now - 10 * day);
    route_as(f, "HK-00000003", "food_safety", f->now - 5 * day);
    route_as(f, "HK-00000004", "food_safety", f->now);
    Cpm__CaseListQuery q = CPM__CASE_LIST_QUERY__INIT;
    q.received_from_ms = f->now - 90 * day;
    q.received_to_ms = f->now - day;
    int rc;
    Cpm__CaseListReply *r = list(f, &q, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(r->n_cases, 2);
    assert_string_equal(r->cases[0]->ticket, "HK-00000002");
    assert_string_equal(r->cases[1]->ticket, "HK-00000003");
    routing_list_free(&r);
    q.category = "food_safety";
    r = list(f, &q, &rc);
    assert_int_equal(r->n_cases, 1);
    assert_string_equal(r->cases[0]->ticket, "HK-00000003");
    routing_list_free(&r);
    /* newest first, paged: the cursor goes on before the last ticket looked at */
    Cpm__CaseListQuery n = CPM__CASE_LIST_QUERY__INIT;
    n.newest_first = true;
    n.limit = 3;
    r = list(f, &n, &rc);
    assert_int_equal(r->n_cases, 3);
    assert_string_equal(r->cases[0]->ticket, "HK-00000004");
    assert_string_equal(r->cases[2]->ticket, "HK-00000002");
    assert_string_equal(r->next_cursor, "HK-00000002");
    char cursor[32];
    snprintf(cursor, sizeof cursor, "%s", r->next_cursor);
    routing_list_free(&r);
    n.cursor = cursor;
    r = list(f, &n, &rc);
    assert_int_equal(r->n_cases, 1);
    assert_string_equal(r->cases[0]->ticket, "HK-00000001");
    assert_string_equal(r->next_cursor, "");
    routing_list_free(&r);
    /* bad filters are refused, naming the field */
    Cpm__CaseListQuery bad = CPM__CASE_LIST_QUERY__INIT;
    bad.category = "Not A Slug";
    assert_null(list(f, &bad, &rc));
    assert_int_equal(rc, CPM_E_INVALID);
    bad.category = "";
    bad.received_from_ms = 2000;
    bad.received_to_ms = 1000;
    assert_null(list(f, &bad, &rc));
    assert_int_equal(rc, CPM_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gateway_gets_public_view, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_gateway_lists_every_case, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_list_filters_time_and_category, setup,
                                        dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
