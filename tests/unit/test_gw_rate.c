/* gw_rate: token buckets by name with a clock passed in: the burst, the
 * refill, names apart, the table's bound (a flood of new names replaces the
 * least recently seen, it does not grow), and the rate-limited log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "gw_rate.h"

static void test_burst_then_rate(void **state)
{
    (void)state;
    gw_rate_t *r = gw_rate_new(16);
    assert_non_null(r);
    int64_t t = 5000;
    for (int i = 0; i < 20; i++)
        assert_true(gw_rate_take(r, "10.0.0.1", 10, 20, t));
    assert_false(gw_rate_take(r, "10.0.0.1", 10, 20, t));
    assert_true(gw_rate_take(r, "10.0.0.2", 10, 20, t)); /* another name: its own bucket */
    assert_false(gw_rate_take(r, "10.0.0.1", 10, 20, t + 99));
    assert_true(gw_rate_take(r, "10.0.0.1", 10, 20, t + 100)); /* 10 a second */
    assert_false(gw_rate_take(r, "10.0.0.1", 10, 20, t + 100));
    /* a long pause refills to the burst, not beyond */
    int ok = 0;
    for (int i = 0; i < 50; i++)
        ok += gw_rate_take(r, "10.0.0.1", 10, 20, t + 3600000);
    assert_int_equal(ok, 20);
    /* a clock going back gives nothing */
    assert_false(gw_rate_take(r, "10.0.0.1", 10, 20, t));
    gw_rate_destroy(&r);
    assert_null(r);
}

static void test_bounded_table(void **state)
{
    (void)state;
    gw_rate_t *r = gw_rate_new(4);
    for (int i = 0; i < 2; i++)
        assert_true(gw_rate_take(r, "busy", 1, 2, 1000));
    assert_false(gw_rate_take(r, "busy", 1, 2, 1000));
    /* while the table has room, "busy" keeps its empty bucket */
    char name[32];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "n%d", i);
        assert_true(gw_rate_take(r, name, 1, 2, 1000));
    }
    assert_false(gw_rate_take(r, "busy", 1, 2, 1000));
    for (int i = 3; i < 1000; i++) {
        snprintf(name, sizeof name, "n%d", i);
        assert_true(gw_rate_take(r, name, 1, 2, 1001 + i));
    }
    /* a flood of new names: the table stays at 4 and "busy", least
     * recently seen, was forgotten: it starts full again (kept, a refill
     * this slow would leave it empty) */
    assert_true(gw_rate_take(r, "busy", 1e-9, 2, 2000));
    gw_rate_destroy(&r);
}

/* A request that costs n takes n tokens or none: more than the burst is
 * never granted, and a refusal leaves the bucket as it was. */
static void test_take_n(void **state)
{
    (void)state;
    gw_rate_t *r = gw_rate_new(4);
    assert_non_null(r);
    assert_false(gw_rate_take_n(r, "a", 10, 20, 21, 1000));
    assert_true(gw_rate_take_n(r, "a", 10, 20, 15, 1000));
    assert_false(gw_rate_take_n(r, "a", 10, 20, 6, 1000)); /* 5 left: none taken */
    assert_true(gw_rate_take_n(r, "a", 10, 20, 5, 1000));
    assert_false(gw_rate_take(r, "a", 10, 20, 1000));
    assert_true(gw_rate_take_n(r, "a", 10, 20, 3, 1300)); /* 0.3 s: 3 back */
    assert_false(gw_rate_take(r, "a", 10, 20, 1300));
    gw_rate_destroy(&r);
}

static void test_log_due(void **state)
{
    (void)state;
    gw_rate_t *r = gw_rate_new(1);
    uint64_t quiet = 99;
    assert_true(gw_rate_log_due(r, 0, 10000, &quiet));
    assert_int_equal(quiet, 0);
    assert_false(gw_rate_log_due(r, 5000, 10000, &quiet));
    assert_false(gw_rate_log_due(r, 9999, 10000, &quiet));
    assert_true(gw_rate_log_due(r, 10000, 10000, &quiet));
    assert_int_equal(quiet, 2);
    gw_rate_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_rate),
        cmocka_unit_test(test_bounded_table),
        cmocka_unit_test(test_take_n),
        cmocka_unit_test(test_log_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
