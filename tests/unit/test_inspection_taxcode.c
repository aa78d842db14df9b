/* inspection_plan's tax_code and inspection_review's violation.recorded
 * events on a real store, no sockets: valid and invalid tax codes (400
 * naming tax_code, nothing written), the code kept in the inspection and the
 * violation record, and one violation.recorded event per record with the
 * record fields (what the exchange's violations dataset is made from). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "inspection_domain.h"
#include "inspection_review.h"

#define NODE "hn.d.hoan-kiem"
#define INSP1 "inspector1." NODE

static const char *const dbs[] = INSPECTION_DBS;
static const inspection_t cases = {.node = NODE, .routing = "hn.doit"};
static const inspection_who_t officer = {"officer." NODE, "officer", NODE};

typedef struct {
    dom_env_t env; /* first: dom_env_teardown frees it */
    cpm_registry_t *reg;
    inspection_plans_t p;
} fixture_t;

static cpm_registry_t *registry(void)
{
    Cpm__Member *ms[] = {dom_member_of(NODE, "department", NODE),
                         dom_member_of(INSP1, "inspector", NODE),
                         dom_member_of("officer." NODE, "officer", NODE)};
    return dom_registry_of(ms, sizeof ms / sizeof *ms);
}

static int setup(void **state)
{
    assert_true(sodium_init() >= 0);
    fixture_t *f = dom_env_new(sizeof *f, "insptax", dbs, 0, NODE "/inspection",
                               dom_vn_time(2026, 3, 2, 11, 0));
    f->reg = registry();
    inspection_plans_t p = {NODE, NULL, f->reg};
    f->p = p;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cpm_registry_destroy(&f->reg);
    return dom_env_teardown(state);
}

/* Plan a campaign inspection of business with tax; its id into id. */
static int plan(fixture_t *f, char **businesses, size_t n, const char *tax, char id[64],
                cpm_error_t *err)
{
    Cpm__InspectionPlan pl = CPM__INSPECTION_PLAN__INIT;
    pl.campaign = "tet-2027";
    pl.businesses = businesses;
    pl.n_businesses = n;
    pl.address = "12 Hàng Bạc";
    pl.area = "hoan-kiem";
    pl.category = "food_safety";
    pl.tax_code = (char *)tax;
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    MDB_txn *txn = dom_begin(f->env.st, true);
    int rc = dom_end(txn, inspection_plan_new(&f->p, f->env.st, txn, &f->env.fx, &officer, &pl,
                                              f->env.now, &r, err));
    if (rc == 0) {
        assert_string_equal(r.inspections[0]->tax_code, tax);
        snprintf(id, 64, "%s", r.inspections[0]->id);
    }
    inspection_reply_clear(&r);
    return rc;
}

static void test_tax_code_checked(void **state)
{
    fixture_t *f = *state;
    char *one[] = {"Công ty TNHH Phở Cồ"}, *two[] = {"A", "B"};
    char id[64];
    cpm_error_t err = {0};
    const char *good[] = {"", "0101234567", "0101234567-001"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_int_equal(plan(f, one, 1, good[i], id, &err), 0);
    const char *bad[] = {"010123456",      "01012345678",     "010123456a", "0101234567-01",
                         "0101234567_001", "0101234567-0011", "-010123456", "0101234567-"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(plan(f, one, 1, bad[i], id, &err), CPM_E_INVALID);
        assert_string_equal(err.field, "tax_code");
    }
    memset(&err, 0, sizeof err);
    assert_int_equal(plan(f, two, 2, "0101234567", id, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "tax_code");
    assert_int_equal(plan(f, two, 2, "", id, &err), 0);
}

static void test_review_emits_violation_recorded(void **state)
{
    fixture_t *f = *state;
    char *one[] = {"Công ty TNHH Phở Cồ"};
    char id[64];
    cpm_error_t err = {0};
    assert_int_equal(plan(f, one, 1, "0101234567-001", id, &err), 0);
    Cpm__InspectionAssign a = CPM__INSPECTION_ASSIGN__INIT;
    a.id = id;
    a.lead = INSP1;
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    MDB_txn *txn = dom_begin(f->env.st, true);
    assert_int_equal(dom_end(txn, inspection_plan_assign(&f->p, f->env.st, txn, &f->env.fx,
                                                         &officer, &a, f->env.now, &r, &err)),
                     0);
    inspection_reply_clear(&r);
    Cpm__InspectionReview rv = CPM__INSPECTION_REVIEW__INIT;
    rv.id = id;
    rv.outcome = CPM__OUTCOME__OUTCOME_FINED;
    rv.fine_vnd = 3000000;
    txn = dom_begin(f->env.st, true);
    assert_int_equal(dom_end(txn, inspection_review(&f->p, &cases, f->env.st, txn, &f->env.fx,
                                                    &officer, &rv, f->env.now, &r, &err)),
                     0);
    inspection_reply_clear(&r);

    /* the summary record keeps the tax code */
    char key[80];
    snprintf(key, sizeof key, "%s\x1f-", id);
    ProtobufCMessage *m;
    txn = dom_begin(f->env.st, false);
    assert_int_equal(cpm_store_get_msg(f->env.st, txn, INSPECTION_VIOLATIONS_DB, key,
                                       &cpm__violation_record__descriptor, &m),
                     0);
    assert_string_equal(((Cpm__ViolationRecord *)m)->tax_code, "0101234567-001");
    protobuf_c_message_free_unpacked(m, NULL);
    Cpm__Event **evs;
    size_t n;
    assert_int_equal(cpm_eventlog_read(f->env.st, txn, 1, 100, &evs, &n), 0);
    cpm_store_abort(&txn);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        const Cpm__Event *ev = evs[i];
        if (strcmp(ev->kind, "violation.recorded") != 0)
            continue;
        found++;
        assert_string_equal(ev->agency, NODE);
        assert_string_equal(ev->area, "hoan-kiem");
        assert_string_equal(ev->category, "food_safety");
        assert_string_equal(ev->business, "Công ty TNHH Phở Cồ");
        assert_string_equal(ev->address, "12 Hàng Bạc");
        assert_string_equal(ev->violation, "");
        assert_int_equal(ev->fine_vnd, 3000000);
        assert_string_equal(ev->tax_code, "0101234567-001");
        assert_string_equal(ev->inspection, id);
        assert_string_equal(ev->note, "summary");
        assert_true(cpm_event_has_record(ev));
    }
    cpm_eventlog_free(&evs, n);
    assert_int_equal(found, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tax_code_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_review_emits_violation_recorded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
