/* Tests for routing_transfer on a real store, without sockets: the kept
 * complaint copy (no contact), returns re-routed by the next matching rule
 * skipping agencies that returned the case, two returns to the coordinators,
 * a coordinator's assignment by hand (roles, unknown agency, closed case),
 * and the withdrawal notice to the agency that held the case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_case.h"
#include "routing_domain.h"
#include "routing_transfer.h"

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"
#define RECEIVED dom_vn_time(2026, 3, 2, 10, 0)

static const char *const dbs[] = ROUTING_DBS;
static uint8_t SEALED[] = "\x01opaque sealed contact bytes\x02";

static int setup(void **state)
{
    *state = dom_env_new(sizeof(dom_env_t), "rtransfer", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         RECEIVED + 60 * 1000);
    return 0;
}

/* An urgent food case in hoan-kiem: R01 (hn.attp) decides; R02 (@area ->
 * hn.d.hoan-kiem) is the next rule that matches. */
static void route(dom_env_t *f, const char *ticket, bool urgent)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "hotline";
    c.sealed_contact.data = SEALED;
    c.sealed_contact.len = sizeof SEALED;
    c.contact_for = urgent ? "hn.attp" : "hn.d.hoan-kiem";
    c.business_name = "Pho Ngon Co.";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "Food poisoning after lunch.";
    c.intake_node = INTAKE;
    c.urgent = urgent;
    c.received_ms = RECEIVED;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    int rc = dom_end(txn, routing_apply_complaint(f->rules, f->reg, f->st, txn, &f->fx, INTAKE, &c,
                                                  f->now, &err));
    if (rc != 0)
        fail_msg("route %s: %s", ticket, err.message);
}

static Cpm__StatusReply *status(dom_env_t *f, const char *ticket)
{
    int rc;
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__StatusReply *r = routing_status(f->st, txn, ticket, &rc);
    cpm_store_abort(&txn);
    assert_non_null(r);
    return r;
}

/* agency refuses ticket, as routing's on_update does: the update, then the return. */
static bool refuse(dom_env_t *f, const char *ticket, const char *agency)
{
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)ticket;
    u.state = CPM__CASE_STATE__CASE_STATE_REFUSED;
    u.agency = (char *)agency;
    u.actor = "officer.7";
    u.note = "not our field";
    u.at_ms = f->now;
    cpm_error_t err = {0};
    bool unassigned = false;
    MDB_txn *txn = dom_begin(f->st, true);
    int rc = routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx, agency, &u, &err);
    if (rc == 0)
        rc = routing_return(f->rules, f->reg, f->st, txn, &f->fx, ticket, agency, f->now,
                            &unassigned, &err);
    if (dom_end(txn, rc) != 0)
        fail_msg("refuse %s by %s: %s", ticket, agency, err.message);
    return unassigned;
}

static Cpm__Assignment *sent(dom_env_t *f, size_t i)
{
    assert_true(i < f->rec.n_sent);
    assert_string_equal(f->rec.sent[i].type, "Assignment");
    Cpm__Assignment *a = cpm__assignment__unpack(NULL, f->rec.sent[i].len, f->rec.sent[i].rec);
    assert_non_null(a);
    return a;
}

static void test_copy_without_contact(void **state)
{
    dom_env_t *f = *state;
    route(f, "HK-00000001", false);
    int rc;
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__Complaint *c = routing_copy_get(f->st, txn, "HK-00000001", &rc);
    cpm_store_abort(&txn);
    assert_non_null(c);
    assert_int_equal(c->sealed_contact.len, 0);
    assert_string_equal(c->contact_for, "");
    assert_string_equal(c->business_name, "Pho Ngon Co.");
    cpm__complaint__free_unpacked(c, NULL);
}

static void test_return_next_rule_then_coordinators(void **state)
{
    dom_env_t *f = *state;
    route(f, "HK-00000002", true);
    Cpm__StatusReply *r = status(f, "HK-00000002");
    assert_string_equal(r->agency, "hn.attp");
    cpm__status_reply__free_unpacked(r, NULL);
    dom_fx_clear(&f->rec);

    /* first return: the next matching rule (R02, @area), attp skipped */
    assert_false(refuse(f, "HK-00000002", "hn.attp"));
    r = status(f, "HK-00000002");
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_ROUTED);
    assert_string_equal(r->agency, "hn.d.hoan-kiem");
    assert_string_equal(r->rule_id, "R02-food");
    assert_string_equal(r->previous_agency, "hn.attp");
    assert_int_equal(r->returns, 1);
    assert_int_equal(r->n_refused_by, 1);
    assert_string_equal(r->refused_by[0], "hn.attp");
    /* history: ..., refused (with its reason), transferred, routed */
    assert_true(r->n_history >= 5);
    Cpm__StatusEntry *t = r->history[r->n_history - 2];
    assert_int_equal(t->state, CPM__CASE_STATE__CASE_STATE_TRANSFERRED);
    assert_string_equal(t->actor, "routing");
    assert_non_null(strstr(t->note, "not our field"));
    assert_int_equal(r->history[r->n_history - 3]->state, CPM__CASE_STATE__CASE_STATE_REFUSED);
    cpm__status_reply__free_unpacked(r, NULL);
    /* one new assignment, and a notice to the agency that refused (its copy
     * stays refused; it is told so that the consumer's contact follows) */
    assert_int_equal(f->rec.n_sent, 2);
    assert_string_equal(f->rec.sent[0].member, "hn.d.hoan-kiem");
    assert_string_equal(f->rec.sent[1].member, "hn.attp");
    Cpm__Assignment *w = sent(f, 1);
    assert_true(w->withdrawn);
    assert_string_equal(w->transferred_to, "hn.d.hoan-kiem");
    cpm__assignment__free_unpacked(w, NULL);
    Cpm__Assignment *a = sent(f, 0);
    assert_false(a->withdrawn);
    assert_string_equal(a->previous_agency, "hn.attp");
    assert_int_equal(a->returns, 1);
    assert_int_equal(a->complaint->sealed_contact.len, 0);
    assert_non_null(strstr(a->reason, "not our field"));
    cpm__assignment__free_unpacked(a, NULL);
    bool transferred = false;
    for (size_t i = 0; i < f->rec.n_events; i++)
        transferred |= !strcmp(f->rec.events[i].kind, "case.transferred") &&
                       !strcmp(f->rec.events[i].agency, "hn.d.hoan-kiem");
    assert_true(transferred);

    /* a second copy of the same refusal changes nothing */
    dom_fx_clear(&f->rec);
    bool unassigned = true;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(
        dom_end(txn, routing_return(f->rules, f->reg, f->st, txn, &f->fx, "HK-00000002", "hn.attp",
                                    f->now, &unassigned, &err)),
        0);
    assert_false(unassigned);
    assert_int_equal(f->rec.n_sent, 0);

    /* second return: the coordinators */
    assert_true(refuse(f, "HK-00000002", "hn.d.hoan-kiem"));
    r = status(f, "HK-00000002");
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_UNASSIGNED);
    assert_string_equal(r->agency, "");
    assert_int_equal(r->returns, 2);
    cpm__status_reply__free_unpacked(r, NULL);
    assert_int_equal(f->rec.n_sent, 0);
    assert_string_equal(f->rec.events[f->rec.n_events - 1].kind, "case.unassigned");
}

/* A refusal by the triage agency when no other rule matches: coordinators. */
static void test_return_from_triage(void **state)
{
    dom_env_t *f = *state;
    route(f, "HK-00000003", false); /* R02 -> hn.d.hoan-kiem */
    assert_false(refuse(f, "HK-00000003", "hn.d.hoan-kiem"));
    Cpm__StatusReply *r = status(f, "HK-00000003");
    assert_string_equal(r->agency, "hn.doit"); /* no other rule: triage */
    assert_string_equal(r->rule_id, "triage");
    cpm__status_reply__free_unpacked(r, NULL);
    assert_true(refuse(f, "HK-00000003", "hn.doit"));
}

static int assign(dom_env_t *f, const char *as, const char *role, const char *ticket,
                  const char *agency, bool *dup, cpm_error_t *err)
{
    Cpm__Member m = CPM__MEMBER__INIT;
    m.id = (char *)as;
    m.role = (char *)role;
    m.agency = "hn.doit";
    Cpm__CaseAssign q = CPM__CASE_ASSIGN__INIT;
    q.ticket = (char *)ticket;
    q.agency = (char *)agency;
    q.note = "fits the market office";
    Cpm__CaseState st;
    MDB_txn *txn = dom_begin(f->st, true);
    return dom_end(txn, routing_case_assign(f->rules, f->reg, f->st, txn, &f->fx, &m, &q, f->now,
                                            &st, dup, err));
}

static void test_coordinator_assigns(void **state)
{
    dom_env_t *f = *state;
    route(f, "HK-00000004", true);
    refuse(f, "HK-00000004", "hn.attp");
    assert_true(refuse(f, "HK-00000004", "hn.d.hoan-kiem"));
    bool dup = false;
    cpm_error_t err = {0};
    /* only coordinators */
    assert_int_equal(assign(f, "officer.x", "officer", "HK-00000004", "hn.qltt", &dup, &err),
                     CPM_E_FORBIDDEN);
    /* an agency with no node: 409 naming agency */
    assert_int_equal(assign(f, "coord", "coordinator", "HK-00000004", "hn.nowhere", &dup, &err),
                     CPM_E_CONFLICT);
    assert_string_equal(err.field, "agency");
    assert_non_null(strstr(err.message, "hn.nowhere"));
    assert_int_equal(assign(f, "coord", "coordinator", "HK-00000004", "hn.d.ba-dinh", &dup, &err),
                     CPM_E_CONFLICT); /* in the registry, but runs no inspection */
    assert_int_equal(assign(f, "coord", "coordinator", "HK-00009999", "hn.qltt", &dup, &err),
                     CPM_E_NOT_FOUND);
    dom_fx_clear(&f->rec);
    assert_int_equal(assign(f, "coord", "coordinator", "HK-00000004", "hn.qltt", &dup, &err), 0);
    assert_false(dup);
    Cpm__StatusReply *r = status(f, "HK-00000004");
    assert_int_equal(r->state, CPM__CASE_STATE__CASE_STATE_ROUTED);
    assert_string_equal(r->agency, "hn.qltt");
    assert_string_equal(r->rule_id, "coordinator");
    assert_string_equal(r->history[r->n_history - 2]->actor, "coord");
    cpm__status_reply__free_unpacked(r, NULL);
    /* the last agency that returned it is told, so that the contact follows */
    assert_int_equal(f->rec.n_sent, 2);
    assert_string_equal(f->rec.sent[0].member, "hn.qltt");
    assert_string_equal(f->rec.sent[1].member, "hn.d.hoan-kiem");
    Cpm__Assignment *a = sent(f, 0);
    assert_string_equal(a->previous_agency, "hn.d.hoan-kiem");
    cpm__assignment__free_unpacked(a, NULL);

    /* again: nothing new */
    dom_fx_clear(&f->rec);
    assert_int_equal(assign(f, "coord", "coordinator", "HK-00000004", "hn.qltt", &dup, &err), 0);
    assert_true(dup);
    assert_int_equal(f->rec.n_sent, 0);

    /* moving it on from an agency that holds it: the notice to the old */
    assert_int_equal(assign(f, "coord", "city", "HK-00000004", "hn.doit", &dup, &err), 0);
    assert_int_equal(f->rec.n_sent, 2);
    assert_string_equal(f->rec.sent[0].member, "hn.doit");
    assert_string_equal(f->rec.sent[1].member, "hn.qltt");
    Cpm__Assignment *w = sent(f, 1);
    assert_true(w->withdrawn);
    assert_string_equal(w->transferred_to, "hn.doit");
    assert_string_equal(w->agency, "hn.qltt");
    cpm__assignment__free_unpacked(w, NULL);
}

static void test_closed_case_not_assigned(void **state)
{
    dom_env_t *f = *state;
    route(f, "HK-00000005", false);
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = "HK-00000005";
    u.agency = "hn.d.hoan-kiem";
    u.actor = "officer.7";
    u.note = "mediated";
    u.at_ms = f->now;
    cpm_error_t err = {0};
    u.state = CPM__CASE_STATE__CASE_STATE_ACCEPTED;
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(dom_end(txn, routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx,
                                                       "hn.d.hoan-kiem", &u, &err)),
                     0);
    u.state = CPM__CASE_STATE__CASE_STATE_RESOLVED;
    txn = dom_begin(f->st, true);
    assert_int_equal(dom_end(txn, routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx,
                                                       "hn.d.hoan-kiem", &u, &err)),
                     0);
    bool dup;
    assert_int_equal(assign(f, "coord", "coordinator", "HK-00000005", "hn.qltt", &dup, &err),
                     CPM_E_CONFLICT);
    assert_string_equal(err.field, "state");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_copy_without_contact, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_return_next_rule_then_coordinators, setup,
                                        dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_return_from_triage, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_coordinator_assigns, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_closed_case_not_assigned, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
