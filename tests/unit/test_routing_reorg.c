/* Tests for routing_reorg on a real store: a register routed under the 2024
 * generation (30 districts), then the 2025 generation takes effect: an open
 * case whose district's successors all map to one agency moves there (a
 * transfer, notice to the old agency), a split district's case goes to triage
 * with the candidates, a case whose agency stays (a department) only gets its
 * new generation, a closed case is unchanged; bounded steps with a cursor,
 * an aborted step redone without a duplicate, and nothing more once applied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_case.h"
#include "routing_domain.h"
#include "routing_reorg.h"
#include "routing_transfer.h"

#define SELF "hn.doit/routing"
#define MS_2025_03_02 1740902400000LL
#define MS_2025_08_01 1754006400000LL

static const char *const dbs[] = ROUTING_DBS;

static const char HEAD[] =
    "version: %d\neffective_from: \"2024-01-01\"\ntriage: hn.doit\n"
    "deadlines: {accept_working_days: 10, resolve_working_days: 30}\n"
    "categories: [{slug: food_safety}, {slug: pricing}]\n"
    "rules:\n"
    "  - {id: R01, category: food_safety, agency: \"@area\"}\n"
    "  - {id: R02, category: pricing, agency: hn.qltt}\n"
    "places_dir: %s/deploy/hanoi/reform-2025\n"
    "agencies: [hn.qltt]\n"
    "generations:\n"
    "  - {id: \"2024\", valid_from: \"2008-08-01\", %s units: districts, agency_prefix: hn.d.}\n";

static cpm_rules_t *rules(int version, const char *gen2025)
{
    char path[] = "/tmp/cpm-reorg-rules-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f, HEAD, version, getenv("CPM_SOURCE_DIR"), gen2025 ? "valid_to: \"2025-06-30\"," : "");
    if (gen2025)
        fputs(gen2025, f);
    fclose(f);
    cpm_rules_t *r = NULL;
    cpm_error_t err = {0};
    if (cpm_rules_load(path, &r, &err) != 0)
        fail_msg("rules: %s", err.message);
    unlink(path);
    return r;
}

static int setup(void **state)
{
    if (!getenv("CPM_SOURCE_DIR"))
        fail_msg("CPM_SOURCE_DIR is not set (run under ctest)");
    dom_env_t *f = dom_env_new(sizeof(dom_env_t), "reorg", dbs, 0, SELF, MS_2025_03_02);
    f->rules = rules(1, NULL);
    *state = f;
    return 0;
}

static void route(dom_env_t *f, const char *ticket, const char *cat, const char *area)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "web";
    c.business_name = "Shop";
    c.area = (char *)area;
    c.category = (char *)cat;
    c.description = "a complaint";
    c.intake_node = "hn.d.hoan-kiem";
    c.received_ms = MS_2025_03_02;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    if (dom_end(txn, routing_apply_complaint(f->rules, NULL, f->st, txn, &f->fx, "hn.d.hoan-kiem",
                                             &c, MS_2025_03_02, &err)) != 0)
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

static int step(dom_env_t *f, size_t max, routing_reorg_stats_t *s, bool commit)
{
    MDB_txn *txn = dom_begin(f->st, true);
    int rc = routing_reorg_step(f->rules, NULL, f->st, txn, &f->fx, MS_2025_08_01, max, s);
    if (commit)
        return dom_end(txn, rc);
    cpm_store_abort(&txn); /* as a SIGKILL before the commit */
    return rc;
}

static void test_reorganization(void **state)
{
    dom_env_t *f = *state;
    /* tay-ho (2024) and all its successors: one node, by overrides */
    const char *succ[16];
    bool whole;
    size_t n = cpm_rules_successors(f->rules, "2024", "tay-ho", succ, 16, &whole);
    assert_true(n >= 1);
    route(f, "HK-00000001", "food_safety", "tay-ho");    /* -> hn.d.tay-ho; moves */
    route(f, "HK-00000002", "food_safety", "hoan-kiem"); /* split: triage */
    route(f, "HK-00000003", "pricing", "hoan-kiem");     /* hn.qltt: stays, relabelled */
    route(f, "HK-00000004", "food_safety", "ba-dinh");   /* resolved: unchanged */
    Cpm__StatusReply *r = status(f, "HK-00000001");
    assert_string_equal(r->generation, "2024");
    assert_string_equal(r->agency, "hn.d.tay-ho");
    cpm__status_reply__free_unpacked(r, NULL);
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = "HK-00000004";
    u.agency = "hn.d.ba-dinh";
    u.actor = "officer";
    u.note = "";
    u.at_ms = MS_2025_03_02;
    cpm_error_t err = {0};
    u.state = CPM__CASE_STATE__CASE_STATE_ACCEPTED;
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(dom_end(txn, routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx,
                                                       "hn.d.ba-dinh", &u, &err)),
                     0);
    u.state = CPM__CASE_STATE__CASE_STATE_RESOLVED;
    txn = dom_begin(f->st, true);
    assert_int_equal(dom_end(txn, routing_apply_update(f->rules, f->reg, f->st, txn, &f->fx,
                                                       "hn.d.ba-dinh", &u, &err)),
                     0);
    uint8_t closed[8192];
    size_t closed_len = dom_value_bytes(f->st, "cases", "HK-00000004", closed, sizeof closed);

    /* nothing to do while 2024 is in force and already the only one */
    routing_reorg_stats_t s;
    assert_int_equal(step(f, 10, &s, true), 0);
    assert_int_equal(s.moved + s.triaged + s.relabelled, 0);

    /* the reform: tay-ho's successors all to the first one's node */
    char gen[2048];
    int len = snprintf(gen, sizeof gen,
                       "  - id: \"2025\"\n    valid_from: \"2025-07-01\"\n    units: communes\n"
                       "    agency_prefix: hn.w.\n    agencies: {");
    for (size_t i = 0; i < n; i++)
        len += snprintf(gen + len, sizeof gen - (size_t)len, "%s%s: hn.w.%s", i ? ", " : "",
                        succ[i], succ[0]);
    snprintf(gen + len, sizeof gen - (size_t)len, "}\n");
    char first[80];
    snprintf(first, sizeof first, "hn.w.%s", succ[0]);
    cpm_rules_destroy(&f->rules);
    f->rules = rules(2, gen);
    dom_fx_clear(&f->rec);

    /* a step that dies before its commit leaves nothing behind */
    assert_int_equal(step(f, 1, &s, false), 0);
    assert_int_equal(s.moved, 1);
    dom_fx_clear(&f->rec);
    size_t moved = 0, triaged = 0, relabelled = 0, steps = 0;
    do {
        assert_int_equal(step(f, 1, &s, true), 0);
        moved += s.moved, triaged += s.triaged, relabelled += s.relabelled;
        assert_true(++steps < 20);
    } while (!s.finished);
    assert_int_equal(moved, 1);
    assert_int_equal(triaged, 1);
    assert_int_equal(relabelled, 1);

    r = status(f, "HK-00000001");
    assert_string_equal(r->agency, first);
    assert_string_equal(r->generation, "2025");
    assert_string_equal(r->previous_agency, "hn.d.tay-ho");
    assert_string_equal(r->rule_id, "reorg");
    cpm__status_reply__free_unpacked(r, NULL);
    r = status(f, "HK-00000002");
    assert_string_equal(r->agency, "hn.doit");
    assert_string_equal(r->area, "");
    assert_string_equal(r->generation, "2025");
    Cpm__StatusEntry *t = r->history[r->n_history - 2];
    assert_int_equal(t->state, CPM__CASE_STATE__CASE_STATE_TRANSFERRED);
    assert_non_null(strstr(t->note, "was split; candidates: 2025:"));
    cpm__status_reply__free_unpacked(r, NULL);
    r = status(f, "HK-00000003");
    assert_string_equal(r->agency, "hn.qltt");
    assert_string_equal(r->generation, "2025");
    cpm__status_reply__free_unpacked(r, NULL);
    dom_value_unchanged(f->st, "cases", "HK-00000004", closed, closed_len);

    /* each move once: HK-1 to its new node and a notice to the old; HK-2 to triage and a notice */
    size_t to_new = 0, notices = 0;
    for (size_t i = 0; i < f->rec.n_sent; i++) {
        Cpm__Assignment *a = cpm__assignment__unpack(NULL, f->rec.sent[i].len, f->rec.sent[i].rec);
        assert_non_null(a);
        assert_true(a->complaint && *a->complaint->area); /* receivers require a unit slug */
        to_new += !a->withdrawn;
        notices += a->withdrawn;
        cpm__assignment__free_unpacked(a, NULL);
    }
    assert_int_equal(to_new, 2);
    assert_int_equal(notices, 2);

    /* applied: nothing more */
    dom_fx_clear(&f->rec);
    assert_int_equal(step(f, 10, &s, true), 0);
    assert_int_equal(s.scanned, 0);
    assert_int_equal(f->rec.n_sent, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reorganization, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
