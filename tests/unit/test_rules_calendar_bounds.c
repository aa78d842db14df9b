/* cpm_rules_add_working_days with starting times from another node that lie
 * far outside any calendar (found by tests/fuzz/fuzz_case_update: an agency's
 * CaseUpdate with at_ms near INT64_MAX made routing's deadline arithmetic
 * overflow). The deadline must be a time of the clamped calendar, never a
 * wrapped-around one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cpm_rules.h"

#include <stdio.h>
#include <stdlib.h>

#define YEAR_9999_END 253402300799999LL
#define YEAR_1_START (-62135596800000LL)

static void test_far_future_and_past_starts(void **state)
{
    (void)state;
    const char *src = getenv("CPM_SOURCE_DIR");
    char path[1024];
    assert_non_null(src);
    snprintf(path, sizeof path, "%s/deploy/hanoi/routing.yaml", src);
    cpm_rules_t *r;
    assert_int_equal(cpm_rules_load(path, &r, NULL), 0);
    int64_t starts[] = {INT64_MAX, INT64_MAX - 1181461, YEAR_9999_END + 1, INT64_MIN, -1};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        int64_t due = cpm_rules_add_working_days(r, starts[i], 30);
        assert_true(due >= YEAR_1_START);
        assert_true(due <= YEAR_9999_END + 60LL * 86400000);
    }
    /* inside the range nothing changes: a later start never gives an
     * earlier deadline */
    assert_true(cpm_rules_add_working_days(r, YEAR_9999_END, 30) >=
                cpm_rules_add_working_days(r, YEAR_9999_END - 86400000LL * 40, 30));
    cpm_rules_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_far_future_and_past_starts)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
