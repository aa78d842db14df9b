/* The one case transition table (common/case/cpm_case): every allowed move
 * and every refused one over all (state, action) pairs, who may make each,
 * names both ways, outcomes, routing's view and Open311. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpm_case.h"

#define S(x) CPM__CASE_STATE__CASE_STATE_##x
#define A(x) CPM__CASE_ACTION_KIND__CASE_ACTION_##x
#define O(x) CPM__OUTCOME__OUTCOME_##x
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every value of the enums, plus one past the end. */
static const Cpm__CaseState all_states[] = {
    S(UNSPECIFIED), S(RECEIVED), S(ROUTED),      S(ASSIGNED),       S(ACCEPTED),
    S(REFUSED),     S(RESOLVED), S(TRANSFERRED), S(IN_PROGRESS),    S(WAITING_CONSUMER),
    S(CLOSED),      S(REOPENED), S(UNASSIGNED),  (Cpm__CaseState)13};
static const Cpm__CaseActionKind all_actions[] = {A(UNSPECIFIED),
                                                  A(ACCEPT),
                                                  A(REFUSE),
                                                  A(RESOLVE),
                                                  A(SHOW),
                                                  A(START),
                                                  A(WAIT),
                                                  A(RESUME),
                                                  A(CLOSE),
                                                  A(REOPEN),
                                                  A(ASSIGN),
                                                  A(TRANSFER),
                                                  (Cpm__CaseActionKind)12};

/* The expected table, written out independently of the module's: from,
 * action, to, who ("o" officer, "c" coordinator, "u" consumer). */
static const struct {
    Cpm__CaseState from;
    Cpm__CaseActionKind a;
    Cpm__CaseState to;
    const char *who;
} expected[] = {
    {S(ASSIGNED), A(ACCEPT), S(ACCEPTED), "o"},
    {S(ASSIGNED), A(REFUSE), S(REFUSED), "o"},
    {S(ACCEPTED), A(START), S(IN_PROGRESS), "o"},
    {S(ACCEPTED), A(RESOLVE), S(RESOLVED), "o"},
    {S(IN_PROGRESS), A(WAIT), S(WAITING_CONSUMER), "o"},
    {S(IN_PROGRESS), A(RESOLVE), S(RESOLVED), "o"},
    {S(WAITING_CONSUMER), A(RESUME), S(IN_PROGRESS), "o"},
    {S(WAITING_CONSUMER), A(RESOLVE), S(RESOLVED), "o"},
    {S(RESOLVED), A(CLOSE), S(CLOSED), "oc"},
    {S(RESOLVED), A(REOPEN), S(REOPENED), "cu"},
    {S(CLOSED), A(REOPEN), S(REOPENED), "cu"},
    {S(REOPENED), A(START), S(IN_PROGRESS), "o"},
    {S(REOPENED), A(RESOLVE), S(RESOLVED), "o"},
    {S(UNASSIGNED), A(ASSIGN), S(ASSIGNED), "c"},
    {S(REFUSED), A(ASSIGN), S(ASSIGNED), "c"},
    {S(ROUTED), A(TRANSFER), S(TRANSFERRED), "c"},
    {S(ASSIGNED), A(TRANSFER), S(TRANSFERRED), "c"},
    {S(ACCEPTED), A(TRANSFER), S(TRANSFERRED), "c"},
    {S(IN_PROGRESS), A(TRANSFER), S(TRANSFERRED), "c"},
    {S(WAITING_CONSUMER), A(TRANSFER), S(TRANSFERRED), "c"},
    {S(REOPENED), A(TRANSFER), S(TRANSFERRED), "c"},
    {S(UNASSIGNED), A(TRANSFER), S(TRANSFERRED), "c"},
};

static int find(Cpm__CaseState from, Cpm__CaseActionKind a)
{
    for (size_t i = 0; i < N(expected); i++)
        if (expected[i].from == from && expected[i].a == a)
            return (int)i;
    return -1;
}

/* Every (state, action) pair: allowed ones lead where the table says and
 * only for the actors it names; every other pair is refused to everyone. */
static void test_every_pair(void **state)
{
    (void)state;
    const struct {
        cpm_case_actor_t actor;
        char letter;
    } actors[] = {
        {CPM_CASE_BY_OFFICER, 'o'}, {CPM_CASE_BY_COORDINATOR, 'c'}, {CPM_CASE_BY_CONSUMER, 'u'}};
    int allowed = 0, refused = 0;
    for (size_t i = 0; i < N(all_states); i++)
        for (size_t j = 0; j < N(all_actions); j++) {
            Cpm__CaseState from = all_states[i];
            Cpm__CaseActionKind a = all_actions[j];
            int k = find(from, a);
            Cpm__CaseState want = k < 0 ? S(UNSPECIFIED) : expected[k].to;
            assert_int_equal(cpm_case_next(from, a), want);
            for (size_t x = 0; x < N(actors); x++) {
                bool may = k >= 0 && strchr(expected[k].who, actors[x].letter) != NULL;
                assert_int_equal(cpm_case_may(from, a, actors[x].actor), may);
            }
            if (k < 0) {
                assert_int_equal(cpm_case_who(from, a), 0);
                refused++;
            } else {
                allowed++;
            }
        }
    assert_int_equal(allowed, (int)N(expected));
    assert_int_equal(allowed + refused, (int)(N(all_states) * N(all_actions)));
    assert_false(cpm_case_may(S(ASSIGNED), A(ACCEPT), (cpm_case_actor_t)0));
}

static void test_targets(void **state)
{
    (void)state;
    for (size_t j = 0; j < N(all_actions); j++) {
        Cpm__CaseState want = S(UNSPECIFIED);
        for (size_t i = 0; i < N(expected); i++)
            if (expected[i].a == all_actions[j])
                want = expected[i].to; /* every action has one target */
        assert_int_equal(cpm_case_target(all_actions[j]), want);
    }
    assert_int_equal(cpm_case_target(A(SHOW)), S(UNSPECIFIED));
}

/* Routing follows the agency's reports: routed counts as assigned; delivery
 * ("assigned") and the city's own moves (assign, transfer) are never an
 * agency's report. */
static void test_follows(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(all_states); i++)
        for (size_t j = 0; j < N(all_states); j++) {
            Cpm__CaseState from = all_states[i], to = all_states[j];
            Cpm__CaseState eff = from == S(ROUTED) ? S(ASSIGNED) : from;
            bool want = false;
            for (size_t k = 0; k < N(expected); k++)
                if (expected[k].from == eff && expected[k].to == to && expected[k].a != A(ASSIGN) &&
                    expected[k].a != A(TRANSFER))
                    want = true;
            assert_int_equal(cpm_case_follows(from, to), want);
        }
    assert_true(cpm_case_follows(S(ROUTED), S(ACCEPTED)));
    assert_false(cpm_case_follows(S(ASSIGNED), S(TRANSFERRED)));
    assert_false(cpm_case_follows(S(UNASSIGNED), S(ASSIGNED)));
}

static void test_names(void **state)
{
    (void)state;
    const char *names[] = {NULL,      "received", "routed",      "assigned",    "accepted",
                           "refused", "resolved", "transferred", "in_progress", "waiting_consumer",
                           "closed",  "reopened", "unassigned",  NULL};
    for (size_t i = 0; i < N(all_states); i++) {
        if (names[i] == NULL) {
            assert_null(cpm_case_state_name(all_states[i]));
            continue;
        }
        assert_string_equal(cpm_case_state_name(all_states[i]), names[i]);
        assert_int_equal(cpm_case_state_parse(names[i]), all_states[i]);
    }
    assert_int_equal(cpm_case_state_parse("Accepted"), S(UNSPECIFIED));
    assert_int_equal(cpm_case_state_parse(NULL), S(UNSPECIFIED));
    const char *anames[] = {NULL,     "accept", "refuse", "resolve", "show",     "start", "wait",
                            "resume", "close",  "reopen", "assign",  "transfer", NULL};
    for (size_t i = 0; i < N(all_actions); i++) {
        if (anames[i] == NULL) {
            assert_null(cpm_case_action_name(all_actions[i]));
            continue;
        }
        assert_string_equal(cpm_case_action_name(all_actions[i]), anames[i]);
        assert_int_equal(cpm_case_action_parse(anames[i]), all_actions[i]);
    }
    assert_int_equal(cpm_case_action_parse("Close"), A(UNSPECIFIED));
    assert_int_equal(cpm_case_action_parse(""), A(UNSPECIFIED));
    const char *onames[] = {NULL,    "mediated",     "refunded",  "replaced_or_repaired",
                            "fined", "no_violation", "withdrawn", "referred"};
    for (int o = 0; o < 8; o++) {
        if (!onames[o]) {
            assert_null(cpm_case_outcome_name((Cpm__Outcome)o));
            continue;
        }
        assert_string_equal(cpm_case_outcome_name((Cpm__Outcome)o), onames[o]);
        assert_int_equal(cpm_case_outcome_parse(onames[o]), o);
    }
    assert_null(cpm_case_outcome_name((Cpm__Outcome)8));
    assert_int_equal(cpm_case_outcome_parse("fine"), O(UNSPECIFIED));
}

/* resolve needs an outcome; a fine exactly with "fined"; nothing else
 * carries either. */
static void test_outcome_rules(void **state)
{
    (void)state;
    assert_string_equal(cpm_case_check_outcome(A(RESOLVE), O(UNSPECIFIED), 0), "outcome");
    assert_string_equal(cpm_case_check_outcome(A(RESOLVE), (Cpm__Outcome)99, 0), "outcome");
    assert_null(cpm_case_check_outcome(A(RESOLVE), O(MEDIATED), 0));
    assert_string_equal(cpm_case_check_outcome(A(RESOLVE), O(MEDIATED), 5), "fine_vnd");
    assert_string_equal(cpm_case_check_outcome(A(RESOLVE), O(FINED), 0), "fine_vnd");
    assert_string_equal(cpm_case_check_outcome(A(RESOLVE), O(FINED), -1), "fine_vnd");
    assert_string_equal(cpm_case_check_outcome(A(RESOLVE), O(FINED), 1000000000001LL), "fine_vnd");
    assert_null(cpm_case_check_outcome(A(RESOLVE), O(FINED), 5000000));
    assert_string_equal(cpm_case_check_outcome(A(ACCEPT), O(MEDIATED), 0), "outcome");
    assert_string_equal(cpm_case_check_outcome(A(CLOSE), O(UNSPECIFIED), 7), "fine_vnd");
    assert_null(cpm_case_check_outcome(A(START), O(UNSPECIFIED), 0));
    assert_true(cpm_case_needs_note(A(REFUSE)));
    assert_true(cpm_case_needs_note(A(WAIT)));
    assert_true(cpm_case_needs_note(A(REOPEN)));
    assert_false(cpm_case_needs_note(A(ACCEPT)));
    assert_false(cpm_case_needs_note(A(START)));
}

static void test_actors(void **state)
{
    (void)state;
    assert_int_equal(cpm_case_actor_of("inspector", true), CPM_CASE_BY_OFFICER);
    assert_int_equal(cpm_case_actor_of("coordinator", true), CPM_CASE_BY_OFFICER);
    assert_int_equal(cpm_case_actor_of("coordinator", false), CPM_CASE_BY_COORDINATOR);
    assert_int_equal(cpm_case_actor_of("city", false), CPM_CASE_BY_COORDINATOR);
    assert_int_equal(cpm_case_actor_of("operator", false), CPM_CASE_BY_CONSUMER);
    assert_int_equal(cpm_case_actor_of("inspector", false), 0);
    assert_int_equal(cpm_case_actor_of(NULL, false), 0);
}

static void test_open311(void **state)
{
    (void)state;
    Cpm__CaseState open[] = {S(RECEIVED),         S(ROUTED),      S(ASSIGNED),
                             S(ACCEPTED),         S(TRANSFERRED), S(IN_PROGRESS),
                             S(WAITING_CONSUMER), S(REOPENED),    S(UNASSIGNED)};
    Cpm__CaseState closed[] = {S(REFUSED), S(RESOLVED), S(CLOSED), S(UNSPECIFIED),
                               (Cpm__CaseState)13};
    for (size_t i = 0; i < N(open); i++)
        assert_true(cpm_case_is_open(open[i]));
    for (size_t i = 0; i < N(closed); i++)
        assert_false(cpm_case_is_open(closed[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),    cmocka_unit_test(test_targets),
        cmocka_unit_test(test_follows),       cmocka_unit_test(test_names),
        cmocka_unit_test(test_outcome_rules), cmocka_unit_test(test_actors),
        cmocka_unit_test(test_open311),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
