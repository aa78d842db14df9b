/* Tests for cpm_flusher: a flush asked for is done once, in ticket order;
 * the eventfd wakes a poll(2) when it is and is emptied by the question; a
 * failed flush is reported once (to the next start, wait or done that takes
 * it), and a question that does not take errors sees it as not done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_flusher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int temp_file(char *path, size_t n)
{
    snprintf(path, n, "/tmp/cpm-flusher-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "record", 6), 6);
    return fd;
}

/* Poll the eventfd until readable (at most 10 s: the flush of 6 bytes). */
static bool readable(cpm_flusher_t *f, int ms)
{
    struct pollfd p = {.fd = cpm_flusher_fd(f), .events = POLLIN};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void test_done_in_order_and_wakes_a_poll(void **state)
{
    (void)state;
    char path[64];
    int fd = temp_file(path, sizeof path);
    cpm_flusher_t *f = cpm_flusher_new();
    assert_non_null(f);
    int err = -1;
    assert_false(cpm_flusher_done(f, 1, &err)); /* nothing asked yet */
    assert_false(readable(f, 0));
    assert_int_equal(cpm_flusher_start(f, fd, 1), 0);
    assert_true(readable(f, 10000));
    assert_true(cpm_flusher_done(f, 1, &err));
    assert_int_equal(err, 0);
    assert_false(readable(f, 0)); /* emptied by the question */
    assert_false(cpm_flusher_done(f, 2, &err));
    /* The next start waits for a running flush: two in a row, the second
     * done implies the first. */
    assert_int_equal(cpm_flusher_start(f, fd, 2), 0);
    assert_int_equal(cpm_flusher_start(f, fd, 3), 0);
    assert_int_equal(cpm_flusher_wait(f), 0);
    assert_true(cpm_flusher_done(f, 2, &err));
    assert_true(cpm_flusher_done(f, 3, NULL));
    assert_false(cpm_flusher_done(f, 4, &err));
    assert_int_equal(cpm_flusher_count(f), 3);
    cpm_flusher_destroy(&f);
    assert_null(f);
    close(fd);
    unlink(path);
}

static void test_failed_flush_reported_once(void **state)
{
    (void)state;
    char path[64];
    int fd = temp_file(path, sizeof path);
    cpm_flusher_t *f = cpm_flusher_new();
    assert_non_null(f);
    /* A descriptor that is not open: fdatasync fails with EBADF. */
    int bad = open("/dev/null", O_RDONLY);
    assert_true(bad >= 0);
    close(bad);
    assert_int_equal(cpm_flusher_start(f, bad, 1), 0);
    assert_true(readable(f, 10000));
    int err = 0;
    assert_false(cpm_flusher_done(f, 1, NULL)); /* not taken: seen as not done */
    assert_true(cpm_flusher_done(f, 1, &err));
    assert_int_equal(err, EBADF);
    assert_true(cpm_flusher_done(f, 1, &err));
    assert_int_equal(err, 0); /* once */
    /* A failure not yet taken is what the next start reports; nothing
     * starts then. */
    assert_int_equal(cpm_flusher_start(f, bad, 2), 0);
    assert_int_equal(cpm_flusher_start(f, fd, 3), EBADF);
    assert_false(cpm_flusher_done(f, 3, &err));
    assert_int_equal(cpm_flusher_start(f, fd, 3), 0);
    assert_int_equal(cpm_flusher_wait(f), 0);
    assert_true(cpm_flusher_done(f, 3, &err));
    assert_int_equal(err, 0);
    /* And what wait reports. */
    assert_int_equal(cpm_flusher_start(f, bad, 4), 0);
    assert_int_equal(cpm_flusher_wait(f), EBADF);
    assert_int_equal(cpm_flusher_wait(f), 0);
    cpm_flusher_destroy(&f);
    close(fd);
    unlink(path);
}

/* Destroyed with a flush asked for: waits for it, then stops. */
static void test_destroy_waits(void **state)
{
    (void)state;
    char path[64];
    int fd = temp_file(path, sizeof path);
    cpm_flusher_t *f = cpm_flusher_new();
    assert_non_null(f);
    assert_int_equal(cpm_flusher_start(f, fd, 7), 0);
    cpm_flusher_destroy(&f);
    assert_null(f);
    cpm_flusher_destroy(&f); /* NULL: nothing */
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_done_in_order_and_wakes_a_poll),
        cmocka_unit_test(test_failed_flush_reported_once),
        cmocka_unit_test(test_destroy_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
