/* cpm_rules deadlines: per-category accept/resolve days over the defaults,
 * reminder days, and the working-day calendar across Tet 2026 and 2027 with
 * the Hanoi sample rules; load errors name the field and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static cpm_rules_t *load_hanoi(void)
{
    const char *src = getenv("CPM_SOURCE_DIR");
    char path[1024];
    if (!src)
        fail_msg("CPM_SOURCE_DIR is not set (run under ctest)");
    snprintf(path, sizeof path, "%s/deploy/hanoi/routing.yaml", src);
    cpm_rules_t *r;
    cpm_error_t e;
    if (cpm_rules_load(path, &r, &e) != 0)
        fail_msg("cannot load %s: %s", path, e.message);
    return r;
}

static int64_t vn_time(int y, int m, int d, int hh, int mm)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = hh, .tm_min = mm};
    return ((int64_t)timegm(&tm) - 7 * 3600) * 1000;
}

static int64_t vn_day_end(int y, int m, int d)
{
    return vn_time(y, m, d, 23, 59) + 59999;
}

static void test_per_category_days(void **state)
{
    (void)state;
    cpm_rules_t *r = load_hanoi();
    assert_int_equal(cpm_rules_accept_days_for(r, "food_safety", NULL), 10);
    assert_int_equal(cpm_rules_resolve_days_for(r, "food_safety", NULL), 30);
    /* complex categories: 45 working days to resolve */
    assert_int_equal(cpm_rules_resolve_days_for(r, "real_estate", NULL), 45);
    assert_int_equal(cpm_rules_resolve_days_for(r, "utilities", "2025"), 45);
    assert_int_equal(cpm_rules_accept_days_for(r, "real_estate", NULL), 10);
    /* unknown or no category: the defaults */
    assert_int_equal(cpm_rules_resolve_days_for(r, "no-such", NULL), 30);
    assert_int_equal(cpm_rules_resolve_days_for(r, NULL, NULL), 30);
    assert_int_equal(cpm_rules_remind_days(r), 2);
    cpm_rules_destroy(&r);
}

/* Received on Thursday 4 February 2027, the day before Tet's days off (5 and
 * 8-11 February): the 10 working days start on the 12th, so the accept
 * deadline is the end of Thursday 25 February, not 18 February. */
static void test_accept_deadline_after_tet_2027(void **state)
{
    (void)state;
    cpm_rules_t *r = load_hanoi();
    int64_t got = cpm_rules_add_working_days(r, vn_time(2027, 2, 4, 10, 0),
                                             cpm_rules_accept_days_for(r, "pricing", NULL));
    assert_int_equal(got, vn_day_end(2027, 2, 25));
    /* Resolve of a complex case accepted the same day: 45 working days, Tet
     * counted out: Thursday 15 April (the eve of Hung Kings day). */
    got = cpm_rules_add_working_days(r, vn_time(2027, 2, 4, 10, 0),
                                     cpm_rules_resolve_days_for(r, "real_estate", NULL));
    assert_int_equal(got, vn_day_end(2027, 4, 15));
    cpm_rules_destroy(&r);
}

/* Tet 2026 (16-20 February are days off) and the national holidays. */
static void test_holidays_2026(void **state)
{
    (void)state;
    cpm_rules_t *r = load_hanoi();
    /* Friday 13 February + 1 working day: Monday 23 February. */
    assert_int_equal(cpm_rules_add_working_days(r, vn_time(2026, 2, 13, 9, 0), 1),
                     vn_day_end(2026, 2, 23));
    /* Wednesday 29 April + 1: 30 April and 1 May are off, so Monday 4 May. */
    assert_int_equal(cpm_rules_add_working_days(r, vn_time(2026, 4, 29, 9, 0), 1),
                     vn_day_end(2026, 5, 4));
    /* Monday 31 August + 1: 1 and 2 September are off, so Thursday 3 September. */
    assert_int_equal(cpm_rules_add_working_days(r, vn_time(2026, 8, 31, 9, 0), 1),
                     vn_day_end(2026, 9, 3));
    cpm_rules_destroy(&r);
}

/* The reminder moment: when exactly that many working days remain. */
static void test_reminder_moment_across_tet(void **state)
{
    (void)state;
    cpm_rules_t *r = load_hanoi();
    /* deadline Monday 15 February 2027: the 12th and 15th remain from the
     * end of Thursday 4 February (5 and 8-11 are Tet). */
    assert_int_equal(cpm_rules_sub_working_days(r, vn_day_end(2027, 2, 15), 2),
                     vn_day_end(2027, 2, 4));
    assert_int_equal(cpm_rules_sub_working_days(r, vn_day_end(2027, 3, 10), 2),
                     vn_day_end(2027, 3, 8));
    assert_int_equal(cpm_rules_sub_working_days(r, vn_day_end(2027, 3, 10), 0),
                     vn_day_end(2027, 3, 10));
    cpm_rules_destroy(&r);
}

static char tmpdir[64];

static cpm_rules_t *load_text(const char *text, char *err, size_t n)
{
    char path[128];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cpm_rdl_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(path, sizeof path, "%s/routing.yaml", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    cpm_rules_t *r = NULL;
    cpm_error_t e = {0};
    err[0] = 0;
    if (cpm_rules_load(path, &r, &e) != 0)
        snprintf(err, n, "%s", e.message);
    unlink(path);
    rmdir(tmpdir);
    return r;
}

#define HEAD                                                                                       \
    "version: 1\neffective_from: \"2026-01-01\"\ntriage: t\n"                                      \
    "areas: [{slug: north}]\nrules: [{id: A, category: \"*\", agency: a}]\n"

static void test_load_errors(void **state)
{
    (void)state;
    char err[512];
    cpm_rules_t *r = load_text(HEAD "deadlines: {accept_working_days: 2, resolve_working_days: 5}\n"
                                    "categories:\n"
                                    "  - {slug: food, accept_days: 3, resolve_days: 45}\n"
                                    "  - {slug: misc}\n",
                               err, sizeof err);
    assert_non_null(r);
    assert_int_equal(cpm_rules_accept_days_for(r, "food", NULL), 3);
    assert_int_equal(cpm_rules_resolve_days_for(r, "food", NULL), 45);
    assert_int_equal(cpm_rules_accept_days_for(r, "misc", NULL), 2);
    assert_int_equal(cpm_rules_remind_days(r), 2); /* the default */
    cpm_rules_destroy(&r);

    r = load_text(HEAD "deadlines: {accept_working_days: 2, resolve_working_days: 5}\n"
                       "categories:\n"
                       "  - {slug: food}\n"
                       "  - {slug: misc, resolve_days: soon}\n",
                  err, sizeof err);
    assert_null(r);
    assert_non_null(strstr(err, ":9: categories[1].resolve_days must be a whole number"));
    r = load_text(HEAD "deadlines: {accept_working_days: 2, resolve_working_days: 5,\n"
                       "            remind_days_before: -1}\n"
                       "categories: [{slug: food}]\n",
                  err, sizeof err);
    assert_null(r);
    assert_non_null(strstr(err, "deadlines.remind_days_before must be a whole number"));
    r = load_text(HEAD "deadlines: {accept_working_days: 2, resolve_working_days: 5,\n"
                       "            remind_days_before: 0}\n"
                       "categories: [{slug: food, accept_days: 0}]\n",
                  err, sizeof err);
    assert_null(r);
    assert_non_null(strstr(err, "categories[0].accept_days must be a whole number from 1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_category_days),
        cmocka_unit_test(test_accept_deadline_after_tet_2027),
        cmocka_unit_test(test_holidays_2026),
        cmocka_unit_test(test_reminder_moment_across_tet),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
