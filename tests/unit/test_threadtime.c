/* Tests for cpm_threadtime: a schedstat line is read as the kernel writes
 * it and anything else is refused; the calling thread's time on a core only
 * grows while it works; the counters' milliseconds are handed out whole,
 * without losing the fractions between two readings, and never taken back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_threadtime.h"

#include <string.h>

static void test_parse(void **state)
{
    (void)state;
    cpm_threadtime_t t = {0};
    assert_int_equal(cpm_threadtime_parse("1520113887 48811032 9123\n", &t), 0);
    assert_int_equal(t.cpu_ns, 1520113887u);
    assert_int_equal(t.wait_ns, 48811032u);
    assert_true(t.has_wait);
    assert_int_equal(cpm_threadtime_parse("0 0 1", &t), 0); /* no newline */
    assert_int_equal(t.cpu_ns, 0);
    static const char *const bad[] = {"",
                                      "\n",
                                      "12 34\n",                    /* two fields */
                                      "12 34 56 78\n",              /* four */
                                      "12 -34 56\n",                /* a sign */
                                      "12 34x 56\n",                /* not a count */
                                      "12 34 56\nmore",             /* more after the line */
                                      "99999999999999999999 1 1\n", /* past 64 bits */
                                      NULL};
    for (int i = 0; bad[i]; i++) {
        t.cpu_ns = 7;
        assert_int_equal(cpm_threadtime_parse(bad[i], &t), -1);
        assert_int_equal(t.cpu_ns, 7); /* left as it was */
    }
    assert_int_equal(cpm_threadtime_parse(NULL, &t), -1);
}

static void test_own_time_grows_with_work(void **state)
{
    (void)state;
    cpm_threadtime_t a, b;
    assert_int_equal(cpm_threadtime_now(&a), 0);
    volatile uint64_t x = 0;
    /* about 20 ms of arithmetic; nothing is asserted about how long */
    for (uint64_t i = 0; i < 20000000u; i++)
        x += i ^ (x >> 3);
    assert_int_equal(cpm_threadtime_now(&b), 0);
    assert_true(b.cpu_ns > a.cpu_ns);
    assert_true(b.wait_ns >= a.wait_ns);
    assert_int_equal(a.has_wait, b.has_wait);
}

static void test_ms_due_keeps_fractions(void **state)
{
    (void)state;
    uint64_t counted = 0, sum = 0;
    /* 0.6 ms at a time: whole ms come out as they complete */
    for (int i = 1; i <= 10; i++)
        sum += cpm_threadtime_ms_due((uint64_t)i * 600000u, &counted);
    assert_int_equal(sum, 6);
    assert_int_equal(counted, 6);
    assert_int_equal(cpm_threadtime_ms_due(5999999, &counted), 0); /* went back: nothing */
    assert_int_equal(counted, 6);
    assert_int_equal(cpm_threadtime_ms_due(9000001, &counted), 3);
    assert_int_equal(counted, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_own_time_grows_with_work),
        cmocka_unit_test(test_ms_due_keeps_fractions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
