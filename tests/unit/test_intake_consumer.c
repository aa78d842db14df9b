/* Tests for intake_consumer: the phone's normal form, the consumer key (one
 * consumer in every spelling of the phone; email when there is no phone;
 * keyed: another secret gives another key) and the secret file's checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "intake_consumer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_phone(void **state)
{
    (void)state;
    const char *same[] = {"0912 345 678",  "+84 912 345 678",   "84912345678",
                          "0084912345678", "(+84) 912.345.678", "0912-345-678"};
    char out[32];
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        assert_true(intake_phone_normalise(same[i], out, sizeof out));
        assert_string_equal(out, "0912345678");
    }
    assert_true(intake_phone_normalise("024 3825 1234", out, sizeof out));
    assert_string_equal(out, "02438251234");
    assert_false(intake_phone_normalise("", out, sizeof out));
    assert_false(intake_phone_normalise("no digits", out, sizeof out));
    assert_false(intake_phone_normalise(NULL, out, sizeof out));
}

static void test_key(void **state)
{
    (void)state;
    uint8_t s1[32] = {7}, s2[32] = {8}, a[32], b[32];
    assert_true(intake_consumer_key(s1, "+84 912 345 678", "", a));
    assert_true(intake_consumer_key(s1, "0912345678", "other@example.vn", b));
    assert_memory_equal(a, b, 32); /* the phone decides when there is one */
    assert_true(intake_consumer_key(s2, "0912345678", "", b));
    assert_memory_not_equal(a, b, 32); /* keyed */
    assert_true(intake_consumer_key(s1, "", " Lan.Nguyen@Example.VN ", a));
    assert_true(intake_consumer_key(s1, NULL, "lan.nguyen@example.vn", b));
    assert_memory_equal(a, b, 32);
    assert_true(intake_consumer_key(s1, "0912345678", "", b));
    assert_memory_not_equal(a, b, 32);
    assert_false(intake_consumer_key(s1, "", "", a));
    assert_false(intake_consumer_key(s1, "n/a", "  ", a));
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    chmod(path, mode);
}

static void test_secret_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/cpm-consumer-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/consumer.key", dir);
    uint8_t buf[33] = {1, 2, 3}, s[32];
    cpm_error_t err = {0};
    write_file(path, buf, 32, 0600);
    assert_int_equal(intake_consumer_secret_load(path, s, &err), 0);
    assert_memory_equal(s, buf, 32);
    write_file(path, buf, 32, 0644);
    assert_int_equal(intake_consumer_secret_load(path, s, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "consumer_key_file");
    assert_non_null(strstr(err.message, "readable by others"));
    write_file(path, buf, 33, 0600);
    assert_int_equal(intake_consumer_secret_load(path, s, &err), CPM_E_INVALID);
    assert_non_null(strstr(err.message, "32 bytes"));
    unlink(path);
    assert_int_equal(intake_consumer_secret_load(path, s, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "consumer_key_file");
    assert_int_equal(intake_consumer_secret_load(dir, s, &err), CPM_E_INVALID);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phone),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_secret_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
