/* Tests for intake_consumer: the phone's normal form, the consumer key (one
 * consumer in every spelling of the phone; email when there is no phone;
 * keyed: another secret gives another key) and the secret file's checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "intake_consumer.h"

#include <pthread.h>
#include <sodium.h>

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

/* The phone's normal form, recorded from the code before it stopped using
 * snprintf, and snprintf's way with a short buffer: false unless the whole
 * form and its NUL fit, the form cut to n-1 bytes otherwise, nothing written
 * when there is no digit. */
static void test_phone_same_as_before(void **state)
{
    (void)state;
    static const struct {
        const char *phone, *form; /* NULL: no number */
    } cases[] = {{"0912 345 678", "0912345678"},
                 {"+84 912 345 678", "0912345678"},
                 {"84912345678", "0912345678"},
                 {"0084912345678", "0912345678"},
                 {"0084", "0"},
                 {"84", "84"},
                 {"8412345678901", "8412345678901"},
                 {"841234567890", "01234567890"},
                 {"024 3825 1234", "02438251234"},
                 {"7", "7"},
                 {"+84 (0) 912 345 678", "00912345678"},
                 {"0084 0084 0084", "000840084"},
                 {"", NULL},
                 {"n/a", NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (size_t n = 0; n <= 16; n++) {
            char got[20], want[20];
            memset(got, 'x', sizeof got);
            memset(want, 'x', sizeof want);
            const char *form = cases[i].form;
            bool w = form && strlen(form) < n;
            if (form && n > 0) { /* what snprintf leaves: the form cut to n-1 */
                size_t k = strlen(form) < n - 1 ? strlen(form) : n - 1;
                memcpy(want, form, k);
                want[k] = 0;
            }
            bool g = intake_phone_normalise(cases[i].phone, got, n);
            if (g != w || memcmp(got, want, sizeof got) != 0)
                fail_msg("%s in %zu bytes: %d \"%.20s\", expected %d \"%.20s\"", cases[i].phone, n,
                         g, got, w, want);
        }
}

/* The key is the keyed BLAKE2b of the normal form, whichever secret came
 * before (the keyed state is kept between calls). */
static void test_key_is_the_keyed_hash(void **state)
{
    (void)state;
    uint8_t s1[32] = {7}, s2[32] = {8}, got[32], want[32];
    for (int round = 0; round < 3; round++) {
        const uint8_t *sec = round == 1 ? s2 : s1;
        assert_true(intake_consumer_key(sec, "+84 912 345 678", "", got));
        crypto_generichash(want, 32, (const uint8_t *)"p:0912345678", 12, sec, 32);
        assert_memory_equal(got, want, 32);
        assert_true(intake_consumer_key(sec, "", " Lan.Nguyen@Example.VN ", got));
        crypto_generichash(want, 32, (const uint8_t *)"e:lan.nguyen@example.vn", 23, sec, 32);
        assert_memory_equal(got, want, 32);
    }
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

static void *forget_here(void *arg)
{
    (void)arg;
    intake_consumer_forget(); /* this thread kept nothing */
    intake_consumer_forget();
    return NULL;
}

/* intake_consumer_forget wipes the calling thread's keyed state (any number
 * of times, on a thread that holds none too, which leaves this one's
 * alone); the next key keys a state again: the same key. */
static void test_forget_then_same_key(void **state)
{
    (void)state;
    uint8_t sec[32] = {9}, a[32], b[32], want[32];
    assert_true(intake_consumer_key(sec, "0912345678", "", a));
    assert_true(intake_consumer_keeps());
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, forget_here, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(intake_consumer_keeps());
    intake_consumer_forget();
    assert_false(intake_consumer_keeps());
    intake_consumer_forget();
    assert_false(intake_consumer_keeps());
    assert_true(intake_consumer_key(sec, "0912345678", "", b));
    assert_true(intake_consumer_keeps());
    assert_memory_equal(a, b, 32);
    crypto_generichash(want, 32, (const uint8_t *)"p:0912345678", 12, sec, 32);
    assert_memory_equal(b, want, 32);
    intake_consumer_forget();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phone),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_phone_same_as_before),
        cmocka_unit_test(test_key_is_the_keyed_hash),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_forget_then_same_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
