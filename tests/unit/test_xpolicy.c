/* cpm_xpolicy: rules by agency and role, field by field, purpose for
 * personal data, refusals naming the dataset or field, the own agency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_xpolicy.h"

#include <stdlib.h>
#include <string.h>

static char *ALL[] = {"*"};
static char *DOIT[] = {"hn.doit"};
static char *COORD[] = {"coordinator"};
static char *V_FIELDS[] = {"business", "area", "fine_vnd", "date"};
static char *P_FIELDS[] = {"product", "hazard", "reporter_name", "reporter_phone"};

static Cpm__ExchangePolicy *policy(void)
{
    static Cpm__PolicyRule r1 = CPM__POLICY_RULE__INIT, r2 = CPM__POLICY_RULE__INIT;
    static Cpm__PolicyRule *rules[] = {&r1, &r2};
    static Cpm__ExchangePolicy p = CPM__EXCHANGE_POLICY__INIT;
    r1.dataset = "violations";
    r1.agencies = ALL;
    r1.n_agencies = 1;
    r1.fields = V_FIELDS;
    r1.n_fields = 4;
    r1.subscribe = true;
    r2.dataset = "product_warnings";
    r2.agencies = DOIT;
    r2.n_agencies = 1;
    r2.roles = COORD;
    r2.n_roles = 1;
    r2.fields = P_FIELDS;
    r2.n_fields = 4;
    r2.purpose = "recall follow-up";
    p.agency = "hn.qltt";
    p.rules = rules;
    p.n_rules = 2;
    return &p;
}

static void test_fields_and_refusals(void **state)
{
    (void)state;
    const cpm_xdataset_t *v = cpm_xschema_find("violations");
    const cpm_xdataset_t *pw = cpm_xschema_find("product_warnings");
    cpm_xgrant_t g;
    char buf[256];
    cpm_xpolicy_decide(policy(), "hn.qltt", v, "hn.d.ba-dinh", "officer", "", NULL, 0, &g);
    assert_true(g.allowed);
    assert_true(g.subscribe);
    assert_non_null(strstr(cpm_xpolicy_withheld(&g, v, buf, sizeof buf), "tax_code"));
    assert_null(strstr(buf, "business"));
    /* asking for a field not named */
    const char *want[] = {"business", "tax_code"};
    cpm_xpolicy_decide(policy(), "hn.qltt", v, "hn.d.ba-dinh", "officer", "", want, 2, &g);
    assert_false(g.allowed);
    assert_int_equal(g.code, 403);
    assert_string_equal(g.field, "violations.tax_code");
    /* a dataset without a rule for the agency */
    cpm_xpolicy_decide(policy(), "hn.qltt", pw, "hn.d.ba-dinh", "coordinator", "", NULL, 0, &g);
    assert_false(g.allowed);
    assert_string_equal(g.field, "product_warnings");
    /* the right agency but another role */
    cpm_xpolicy_decide(policy(), "hn.qltt", pw, "hn.doit", "officer", "", NULL, 0, &g);
    assert_false(g.allowed);
    /* personal fields need the purpose the rule names */
    cpm_xpolicy_decide(policy(), "hn.qltt", pw, "hn.doit", "coordinator", "", NULL, 0, &g);
    assert_true(g.allowed);
    assert_non_null(strstr(cpm_xpolicy_withheld(&g, pw, buf, sizeof buf), "reporter_phone"));
    const char *phone[] = {"reporter_phone"};
    cpm_xpolicy_decide(policy(), "hn.qltt", pw, "hn.doit", "coordinator", "marketing", phone, 1,
                       &g);
    assert_false(g.allowed);
    assert_string_equal(g.field, "product_warnings.reporter_phone");
    assert_non_null(strstr(g.reason, "personal data"));
    cpm_xpolicy_decide(policy(), "hn.qltt", pw, "hn.doit", "coordinator", "recall follow-up", phone,
                       1, &g);
    assert_true(g.allowed);
    /* the own agency sees everything; no policy shares nothing with others */
    cpm_xpolicy_decide(NULL, "hn.qltt", pw, "hn.qltt", "officer", "", NULL, 0, &g);
    assert_true(g.allowed);
    assert_int_equal(g.withheld, 0);
    cpm_xpolicy_decide(NULL, "hn.qltt", v, "hn.doit", "coordinator", "", NULL, 0, &g);
    assert_false(g.allowed);
    assert_non_null(strstr(g.reason, "no signed access policy"));
}

static void test_filters_only_on_shared_fields(void **state)
{
    (void)state;
    const cpm_xdataset_t *v = cpm_xschema_find("violations");
    cpm_xgrant_t g = {.allowed = true};
    assert_true(
        cpm_xpolicy_may_filter(policy(), "hn.qltt", v, "hn.doit", "officer", "", "business", &g));
    assert_true(cpm_xpolicy_may_filter(policy(), "hn.qltt", v, "hn.doit", "officer", "", NULL, &g));
    assert_false(
        cpm_xpolicy_may_filter(policy(), "hn.qltt", v, "hn.doit", "officer", "", "tax_code", &g));
    assert_false(g.allowed);
    assert_string_equal(g.field, "violations.tax_code");
}

static void test_redact(void **state)
{
    (void)state;
    const cpm_xdataset_t *v = cpm_xschema_find("violations");
    cpm_xgrant_t g;
    cpm_xpolicy_decide(policy(), "hn.qltt", v, "hn.doit", "coordinator", "", NULL, 0, &g);
    Cpm__DataField a = CPM__DATA_FIELD__INIT, b = CPM__DATA_FIELD__INIT;
    a.name = "business";
    a.value = "Phở Cồ";
    b.name = "tax_code";
    b.value = "0101234567";
    Cpm__DataField *fs[] = {&a, &b};
    Cpm__DataRecord r = CPM__DATA_RECORD__INIT, out;
    r.dataset = "violations";
    r.key = "k";
    r.fields = fs;
    r.n_fields = 2;
    assert_int_equal(cpm_xpolicy_redact(&g, v, &r, &out), 0);
    assert_int_equal(out.n_fields, 1);
    assert_string_equal(out.fields[0]->name, "business");
    free(out.fields);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_and_refusals),
        cmocka_unit_test(test_filters_only_on_shared_fields),
        cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
