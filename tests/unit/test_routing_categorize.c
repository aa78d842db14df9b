/* Tests for routing_categorize on a real store, without sockets: a
 * coordinator's choice of category beside the model's suggestion (record,
 * history, kept copy, event case.categorized with fields 22-25 in the hash
 * chain), routed again by the rules for the new category, or to the agency
 * given; a confirmation of the suggestion; a delivery twice; refusals (role,
 * unknown category naming the field, closed case with an agency); the
 * status views (50-53 in full and agency views, never public). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_case.h"
#include "routing_categorize.h"
#include "routing_domain.h"
#include "routing_transfer.h"

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"
#define RECEIVED dom_vn_time(2026, 3, 2, 10, 0)

static const char *const dbs[] = ROUTING_DBS;

static int setup(void **state)
{
    *state = dom_env_new(sizeof(dom_env_t), "rcategorize", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         RECEIVED + 60 * 1000);
    return 0;
}

/* A complaint intake could not categorize: "other" (R16 -> hn.doit, the
 * triage agency), with the model's suggestion below the threshold; by
 * "model": routed by the suggestion. */
static void route(dom_env_t *f, const char *ticket, const char *category, const char *suggested,
                  uint32_t pm, const char *by)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "hotline";
    c.business_name = "Quan Com Binh Dan";
    c.area = "hoan-kiem";
    c.category = (char *)category;
    c.description = "An uong xong bi dau bung.";
    c.intake_node = INTAKE;
    c.received_ms = RECEIVED;
    c.category_suggested = (char *)suggested;
    c.suggestion_pm = pm;
    c.category_by = (char *)by;
    c.model_version = "hanoi-triage-1/00000000";
    c.lookup_code = "ABCDEFGHJK";
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    int rc = dom_end(txn, routing_apply_complaint(f->rules, f->reg, f->st, txn, &f->fx, INTAKE, &c,
                                                  f->now, &err));
    if (rc != 0)
        fail_msg("route %s: %s", ticket, err.message);
}

static int categorize(dom_env_t *f, const char *as, const char *role, const char *ticket,
                      const char *category, const char *agency, routing_categorized_t *out,
                      cpm_error_t *err)
{
    Cpm__Member m = CPM__MEMBER__INIT;
    m.id = (char *)as;
    m.role = (char *)role;
    m.agency = "hn.doit";
    Cpm__CaseAssign q = CPM__CASE_ASSIGN__INIT;
    q.ticket = (char *)ticket;
    q.agency = (char *)agency;
    q.category = (char *)category;
    q.note = "read the letter";
    MDB_txn *txn = dom_begin(f->st, true);
    return dom_end(
        txn, routing_categorize(f->rules, f->reg, f->st, txn, &f->fx, &m, &q, f->now, out, err));
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

/* The last event of the log, as the wire carries it (hash chain checked). */
static Cpm__Event *last_event(dom_env_t *f)
{
    Cpm__Event **evs = NULL;
    size_t n = 0;
    MDB_txn *txn = dom_begin(f->st, false);
    assert_int_equal(cpm_eventlog_read(f->st, txn, 1, 1000, &evs, &n), 0);
    cpm_store_abort(&txn);
    assert_true(n > 0);
    assert_int_equal(cpm_eventlog_verify_chain(evs, n, NULL), 0);
    Cpm__Event *last = evs[n - 1];
    evs[n - 1] = NULL;
    cpm_eventlog_free(&evs, n - 1);
    return last;
}

static size_t count_kind(dom_env_t *f, const char *kind)
{
    size_t k = 0;
    for (size_t i = 0; i < f->rec.n_events; i++)
        k += !strcmp(f->rec.events[i].kind, kind);
    return k;
}

static void test_choice_reroutes_by_rules(void **state)
{
    dom_env_t *f = *state;
    route(f, "HK-00000001", "other", "food_safety", 620, "");
    Cpm__StatusReply *r = status(f, "HK-00000001");
    assert_string_equal(r->agency, "hn.doit");
    cpm__status_reply__free_unpacked(r, NULL);
    dom_fx_clear(&f->rec);

    routing_categorized_t out;
    cpm_error_t err = {0};
    assert_int_equal(
        categorize(f, "hn.coord", "coordinator", "HK-00000001", "food_safety", "", &out, &err), 0);
    assert_false(out.duplicate);
    /* R02-food: @area -> the hoan-kiem office */
    assert_string_equal(out.agency, "hn.d.hoan-kiem");
    assert_int_equal(out.state, CPM__CASE_STATE__CASE_STATE_ROUTED);
    r = status(f, "HK-00000001");
    assert_string_equal(r->category, "food_safety");
    assert_string_equal(r->category_by, "person");
    assert_string_equal(r->category_chosen_by, "hn.coord");
    assert_string_equal(r->category_suggested, "food_safety");
    assert_int_equal(r->suggestion_pm, 620);
    assert_string_equal(r->agency, "hn.d.hoan-kiem");
    assert_string_equal(r->rule_id, "R02-food");
    bool noted = false;
    for (size_t i = 0; i < r->n_history; i++)
        noted |= !strcmp(r->history[i]->note, "category other -> food_safety (model suggested "
                                              "food_safety, 62%): read the letter") &&
                 !strcmp(r->history[i]->actor, "hn.coord");
    assert_true(noted);
    cpm__status_reply__free_unpacked(r, NULL);
    /* the new agency gets the case with the chosen category; the old is told */
    assert_int_equal(f->rec.n_sent, 2);
    assert_string_equal(f->rec.sent[0].member, "hn.d.hoan-kiem");
    Cpm__Assignment *a = cpm__assignment__unpack(NULL, f->rec.sent[0].len, f->rec.sent[0].rec);
    assert_non_null(a);
    assert_string_equal(a->complaint->category, "food_safety");
    cpm__assignment__free_unpacked(a, NULL);
    /* events: the choice, then the move */
    assert_int_equal(f->rec.n_events, 2);
    assert_string_equal(f->rec.events[0].kind, "case.categorized");
    assert_string_equal(f->rec.events[0].category, "food_safety");
    assert_string_equal(f->rec.events[0].actor, "hn.coord");
    assert_string_equal(f->rec.events[1].kind, "case.transferred");
    Cpm__Event *ev = NULL;
    {
        Cpm__Event **evs = NULL;
        size_t n = 0;
        MDB_txn *txn = dom_begin(f->st, false);
        assert_int_equal(cpm_eventlog_read(f->st, txn, 1, 100, &evs, &n), 0);
        cpm_store_abort(&txn);
        assert_int_equal(cpm_eventlog_verify_chain(evs, n, NULL), 0);
        for (size_t i = 0; i < n && !ev; i++)
            if (!strcmp(evs[i]->kind, "case.categorized"))
                ev = evs[i], evs[i] = NULL;
        cpm_eventlog_free(&evs, n);
    }
    assert_non_null(ev);
    assert_string_equal(ev->suggested, "food_safety");
    assert_int_equal(ev->suggestion_pm, 620);
    assert_string_equal(ev->category_by, "person");
    /* the coordinator's free text stays in the history, out of the event log */
    assert_string_equal(ev->note,
                        "category other -> food_safety (model suggested food_safety, 62%)");
    assert_null(strstr(f->rec.events[0].detail, "read the letter"));
    /* fields 22-25 are in the hash: changing one breaks it */
    uint8_t h[32];
    cpm_event_hash(ev, ev->prev_hash.data, h);
    assert_memory_equal(h, ev->hash.data, 32);
    ev->suggestion_pm = 999;
    cpm_event_hash(ev, ev->prev_hash.data, h);
    assert_memory_not_equal(h, ev->hash.data, 32);
    cpm__event__free_unpacked(ev, NULL);

    /* delivered again: nothing new */
    dom_fx_clear(&f->rec);
    assert_int_equal(
        categorize(f, "hn.coord", "coordinator", "HK-00000001", "food_safety", "", &out, &err), 0);
    assert_true(out.duplicate);
    assert_int_equal(f->rec.n_events, 0);
    assert_int_equal(f->rec.n_sent, 0);
}

static void test_confirm_and_agency_given(void **state)
{
    dom_env_t *f = *state;
    /* routed by the model; a person confirms it: an event, no move */
    route(f, "HK-00000002", "pricing", "pricing", 910, "model");
    dom_fx_clear(&f->rec);
    routing_categorized_t out;
    cpm_error_t err = {0};
    assert_int_equal(categorize(f, "hn.coord", "city", "HK-00000002", "pricing", "", &out, &err),
                     0);
    assert_false(out.duplicate);
    assert_string_equal(out.agency, "hn.qltt");
    assert_int_equal(count_kind(f, "case.categorized"), 1);
    assert_int_equal(count_kind(f, "case.transferred"), 0);
    assert_int_equal(f->rec.n_sent, 0);
    Cpm__Event *ev = last_event(f);
    assert_string_equal(ev->kind, "case.categorized");
    assert_string_equal(ev->suggested, "pricing");
    assert_string_equal(ev->category, "pricing");
    cpm__event__free_unpacked(ev, NULL);

    /* a category and an agency: assigned there as by hand */
    dom_fx_clear(&f->rec);
    assert_int_equal(categorize(f, "hn.coord", "coordinator", "HK-00000002", "counterfeit_goods",
                                "hn.attp", &out, &err),
                     0);
    assert_string_equal(out.agency, "hn.attp");
    Cpm__StatusReply *r = status(f, "HK-00000002");
    assert_string_equal(r->category, "counterfeit_goods");
    assert_string_equal(r->rule_id, "coordinator");
    assert_string_equal(r->category_suggested, "pricing"); /* the suggestion stays beside it */
    cpm__status_reply__free_unpacked(r, NULL);
    assert_int_equal(count_kind(f, "case.categorized"), 1);
    assert_int_equal(count_kind(f, "case.transferred"), 1);
}

static void test_refusals(void **state)
{
    dom_env_t *f = *state;
    route(f, "HK-00000003", "other", "", 0, "");
    routing_categorized_t out;
    cpm_error_t err = {0};
    dom_fx_clear(&f->rec);
    assert_int_equal(
        categorize(f, "officer.7", "officer", "HK-00000003", "food_safety", "", &out, &err),
        CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "sender");
    assert_int_equal(
        categorize(f, "hn.coord", "coordinator", "HK-00000003", "fortune_telling", "", &out, &err),
        CPM_E_INVALID);
    assert_string_equal(err.field, "category");
    assert_non_null(strstr(err.message, "fortune_telling"));
    assert_int_equal(
        categorize(f, "hn.coord", "coordinator", "HK-00000003", "Bad Slug!", "", &out, &err),
        CPM_E_INVALID);
    assert_string_equal(err.field, "category");
    assert_int_equal(
        categorize(f, "hn.coord", "coordinator", "HK-00009999", "pricing", "", &out, &err),
        CPM_E_NOT_FOUND);
    /* an agency with no inspection node: nothing of the choice stays */
    assert_int_equal(categorize(f, "hn.coord", "coordinator", "HK-00000003", "pricing",
                                "hn.d.ba-dinh", &out, &err),
                     CPM_E_CONFLICT);
    assert_string_equal(err.field, "agency");
    Cpm__StatusReply *r = status(f, "HK-00000003");
    assert_string_equal(r->category, "other");
    assert_string_equal(r->category_by, "");
    cpm__status_reply__free_unpacked(r, NULL);
    /* without a suggestion: the history says so */
    assert_int_equal(
        categorize(f, "hn.coord", "coordinator", "HK-00000003", "pricing", "", &out, &err), 0);
    r = status(f, "HK-00000003");
    assert_string_equal(r->agency, "hn.qltt");
    assert_non_null(strstr(r->history[r->n_history - 3]->note, "(no suggestion)"));
    cpm__status_reply__free_unpacked(r, NULL);
}

static Cpm__StatusReply *view(dom_env_t *f, const char *id, const char *role, const char *agency,
                              const char *code)
{
    Cpm__Member m = CPM__MEMBER__INIT;
    m.id = (char *)id;
    m.role = (char *)role;
    m.agency = (char *)agency;
    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = "HK-00000004";
    q.lookup_code = (char *)code;
    int rc;
    bool hidden;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__StatusReply *r = routing_status_for(f->st, txn, &m, &q, &rc, &hidden, &err);
    cpm_store_abort(&txn);
    assert_non_null(r);
    return r;
}

static void test_status_views(void **state)
{
    dom_env_t *f = *state;
    route(f, "HK-00000004", "other", "telecom", 410, "");
    /* before any choice: the suggestion from the kept complaint */
    Cpm__StatusReply *r = view(f, "hn.coord", "coordinator", "hn.doit", "");
    assert_string_equal(r->view, "full");
    assert_string_equal(r->category_suggested, "telecom");
    assert_int_equal(r->suggestion_pm, 410);
    assert_string_equal(r->category_by, "");
    cpm__status_reply__free_unpacked(r, NULL);
    routing_categorized_t out;
    cpm_error_t err = {0};
    assert_int_equal(categorize(f, "hn.coord", "coordinator", "HK-00000004", "advertising",
                                "hn.doit", &out, &err),
                     0);
    r = view(f, "officer.9", "officer", "hn.doit", "");
    assert_string_equal(r->view, "agency");
    assert_string_equal(r->category_by, "person");
    assert_string_equal(r->category_chosen_by, "hn.coord");
    assert_string_equal(r->category_suggested, "telecom");
    cpm__status_reply__free_unpacked(r, NULL);
    r = view(f, "", "", "", "ABCDEFGHJK");
    assert_string_equal(r->view, "public");
    assert_string_equal(r->category, "advertising");
    assert_string_equal(r->category_suggested, "");
    assert_int_equal(r->suggestion_pm, 0);
    assert_string_equal(r->category_by, "");
    assert_string_equal(r->category_chosen_by, "");
    cpm__status_reply__free_unpacked(r, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_choice_reroutes_by_rules, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_confirm_and_agency_given, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_status_views, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
