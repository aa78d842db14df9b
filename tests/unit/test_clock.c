/* cpm_clock: the test offset behind cpm_now_ms. A file named by
 * CPM_CLOCK_OFFSET_FILE moves the wall clock of every process that reads
 * it; a missing, garbled, foreign or non-regular file counts as 0; a change
 * is seen within CPM_CLOCK_REREAD_MS; the monotonic clock never moves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_clock.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY (86400000LL)

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cpm_clock_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/offset", dir);
    return setenv(CPM_CLOCK_ENV, path, 1);
}

static int teardown(void **state)
{
    (void)state;
    unsetenv(CPM_CLOCK_ENV);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *text)
{
    assert_int_equal(cpm_write_file(path, text, strlen(text), 0600), 0);
}

/* Wait out the re-read bound (a property of the module, not a guess). */
static void past_reread(void)
{
    int64_t end = cpm_mono_ms() + CPM_CLOCK_REREAD_MS + 5;
    while (cpm_mono_ms() < end)
        usleep(5000);
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* now - real, within the few ms between two readings */
static int64_t offset_seen(void)
{
    int64_t before = real_ms(), now = cpm_now_ms(), after = real_ms();
    assert_true(now - after <= now - before);
    return now - before;
}

static void assert_about(int64_t got, int64_t want)
{
    if (got < want - 1000 || got > want + 1000)
        fail_msg("offset %lld, expected about %lld", (long long)got, (long long)want);
}

static void test_parse(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(cpm_clock_parse("864000000\n", &ms), 0);
    assert_int_equal(ms, 10 * DAY);
    assert_int_equal(cpm_clock_parse("  -5 ", &ms), 0);
    assert_int_equal(ms, -5);
    assert_int_equal(cpm_clock_parse("0", &ms), 0);
    assert_int_equal(ms, 0);
    const char *bad[] = {"",
                         "\n",
                         "ten",
                         "10 days",
                         "1e9",
                         "99999999999999999999",
                         "5000000000000",
                         "-5000000000000",
                         "1\n2\n",
                         NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(cpm_clock_parse(bad[i], &ms), -1);
    assert_int_equal(cpm_clock_parse(NULL, &ms), -1);
}

static void test_offset_moves_now_and_is_reread(void **state)
{
    (void)state;
    put("864000000\n");
    past_reread();
    assert_int_equal(cpm_clock_offset_ms(), 10 * DAY);
    assert_about(offset_seen(), 10 * DAY);
    /* microseconds agree with milliseconds */
    assert_true(cpm_now_us() / 1000 - cpm_now_ms() <= 1);
    int64_t mono = cpm_mono_ms();
    put("1728000000\n");
    past_reread();
    assert_about(offset_seen(), 20 * DAY);
    assert_true(cpm_mono_ms() - mono < DAY); /* timeouts are not moved */
}

static void test_bad_files_count_as_zero(void **state)
{
    (void)state;
    put("864000000\n");
    past_reread();
    assert_int_equal(cpm_clock_offset_ms(), 10 * DAY);
    put("ten days\n"); /* garbled */
    past_reread();
    assert_int_equal(cpm_clock_offset_ms(), 0);
    assert_about(offset_seen(), 0);
    unlink(path); /* missing */
    past_reread();
    assert_int_equal(cpm_clock_offset_ms(), 0);
    char target[160];
    snprintf(target, sizeof target, "%s/target", dir); /* a symlink is not followed */
    assert_int_equal(cpm_write_file(target, "864000000", 9, 0600), 0);
    assert_int_equal(symlink(target, path), 0);
    past_reread();
    assert_int_equal(cpm_clock_offset_ms(), 0);
    unlink(path);
    assert_int_equal(mkdir(path, 0700), 0); /* not a regular file */
    past_reread();
    assert_int_equal(cpm_clock_offset_ms(), 0);
    rmdir(path);
}

static void test_without_environment(void **state)
{
    (void)state;
    put("864000000\n");
    unsetenv(CPM_CLOCK_ENV);
    past_reread();
    assert_int_equal(cpm_clock_offset_ms(), 0);
    assert_about(offset_seen(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test_setup_teardown(test_offset_moves_now_and_is_reread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files_count_as_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_environment, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
