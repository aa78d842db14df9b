/* The one case transition table (common/case/cpm_case): every allowed move
 * and every refused one, names both ways, routing's view and Open311. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_case.h"

#define S(x) CPM__CASE_STATE__CASE_STATE_##x
#define A(x) CPM__CASE_ACTION_KIND__CASE_ACTION_##x

static const Cpm__CaseState all_states[] = {S(UNSPECIFIED), S(RECEIVED), S(ROUTED),  S(ASSIGNED),
                                            S(ACCEPTED),    S(REFUSED),  S(RESOLVED)};
static const Cpm__CaseActionKind all_actions[] = {A(UNSPECIFIED), A(ACCEPT), A(REFUSE), A(RESOLVE),
                                                  A(SHOW)};
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The expected table, written out independently of the module's. */
static Cpm__CaseState expected_next(Cpm__CaseState from, Cpm__CaseActionKind a)
{
    if (from == S(ASSIGNED) && a == A(ACCEPT))
        return S(ACCEPTED);
    if (from == S(ASSIGNED) && a == A(REFUSE))
        return S(REFUSED);
    if (from == S(ACCEPTED) && a == A(RESOLVE))
        return S(RESOLVED);
    return S(UNSPECIFIED);
}

static void test_every_move(void **state)
{
    (void)state;
    int allowed = 0;
    for (size_t i = 0; i < N(all_states); i++)
        for (size_t j = 0; j < N(all_actions); j++) {
            Cpm__CaseState want = expected_next(all_states[i], all_actions[j]);
            assert_int_equal(cpm_case_next(all_states[i], all_actions[j]), want);
            allowed += want != S(UNSPECIFIED);
        }
    assert_int_equal(allowed, 3);
    assert_int_equal(cpm_case_next((Cpm__CaseState)99, A(ACCEPT)), S(UNSPECIFIED));
}

static void test_targets(void **state)
{
    (void)state;
    assert_int_equal(cpm_case_target(A(ACCEPT)), S(ACCEPTED));
    assert_int_equal(cpm_case_target(A(REFUSE)), S(REFUSED));
    assert_int_equal(cpm_case_target(A(RESOLVE)), S(RESOLVED));
    assert_int_equal(cpm_case_target(A(SHOW)), S(UNSPECIFIED));
    assert_int_equal(cpm_case_target(A(UNSPECIFIED)), S(UNSPECIFIED));
}

/* Routing follows the agency's reports: routed counts as assigned; delivery
 * ("assigned") is never a move of the table. */
static void test_follows(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(all_states); i++)
        for (size_t j = 0; j < N(all_states); j++) {
            Cpm__CaseState from = all_states[i], to = all_states[j];
            Cpm__CaseState eff = from == S(ROUTED) ? S(ASSIGNED) : from;
            bool want = (eff == S(ASSIGNED) && (to == S(ACCEPTED) || to == S(REFUSED))) ||
                        (eff == S(ACCEPTED) && to == S(RESOLVED));
            assert_int_equal(cpm_case_follows(from, to), want);
        }
}

static void test_names(void **state)
{
    (void)state;
    const char *names[] = {NULL,       "received", "routed",  "assigned",
                           "accepted", "refused",  "resolved"};
    for (size_t i = 0; i < N(all_states); i++) {
        if (names[i] == NULL) {
            assert_null(cpm_case_state_name(all_states[i]));
            continue;
        }
        assert_string_equal(cpm_case_state_name(all_states[i]), names[i]);
        assert_int_equal(cpm_case_state_parse(names[i]), all_states[i]);
    }
    assert_int_equal(cpm_case_state_parse("closed"), S(UNSPECIFIED));
    assert_int_equal(cpm_case_state_parse("Accepted"), S(UNSPECIFIED));
    assert_int_equal(cpm_case_state_parse(NULL), S(UNSPECIFIED));
    const char *anames[] = {NULL, "accept", "refuse", "resolve", "show"};
    for (size_t i = 0; i < N(all_actions); i++) {
        if (anames[i] == NULL) {
            assert_null(cpm_case_action_name(all_actions[i]));
            continue;
        }
        assert_string_equal(cpm_case_action_name(all_actions[i]), anames[i]);
        assert_int_equal(cpm_case_action_parse(anames[i]), all_actions[i]);
    }
    assert_int_equal(cpm_case_action_parse("close"), A(UNSPECIFIED));
    assert_int_equal(cpm_case_action_parse(""), A(UNSPECIFIED));
}

static void test_open311(void **state)
{
    (void)state;
    assert_true(cpm_case_is_open(S(RECEIVED)));
    assert_true(cpm_case_is_open(S(ROUTED)));
    assert_true(cpm_case_is_open(S(ASSIGNED)));
    assert_true(cpm_case_is_open(S(ACCEPTED)));
    assert_false(cpm_case_is_open(S(REFUSED)));
    assert_false(cpm_case_is_open(S(RESOLVED)));
    assert_false(cpm_case_is_open(S(UNSPECIFIED)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_move), cmocka_unit_test(test_targets),
        cmocka_unit_test(test_follows),    cmocka_unit_test(test_names),
        cmocka_unit_test(test_open311),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
