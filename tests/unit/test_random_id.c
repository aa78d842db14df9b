/* cpm_random_id: ids drawn from a per-thread pool of the system's generator
 * never repeat: not across pool refills, not between threads, not between a
 * process and the child it forks (which forgets its parent's pool).
 * cpm_time_ordered_id: the time first (sorts by it), random after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 2000

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void assert_distinct(char (*ids)[33], size_t n)
{
    qsort(ids, n, 33, cmp);
    for (size_t i = 1; i < n; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
}

static void assert_hex_id(const char *id)
{
    assert_int_equal(strlen(id), 32);
    assert_int_equal(strspn(id, "0123456789abcdef"), 32);
}

static void test_ids_distinct_across_refills(void **state)
{
    (void)state;
    static char ids[N][33];
    for (size_t i = 0; i < N; i++) { /* many times the pool */
        cpm_random_id(ids[i]);
        assert_hex_id(ids[i]);
    }
    assert_distinct(ids, N);
}

static char thread_ids[2][N / 2][33];

static void *draw(void *arg)
{
    char(*out)[33] = arg;
    for (size_t i = 0; i < N / 2; i++)
        cpm_random_id(out[i]);
    return NULL;
}

static void test_ids_distinct_between_threads(void **state)
{
    (void)state;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, draw, thread_ids[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_distinct(&thread_ids[0][0], N);
}

/* The parent draws once (its pool now holds more), forks; the child's next
 * id must not be the parent's next one. */
static void test_child_does_not_repeat_parent(void **state)
{
    (void)state;
    char first[33], parent_next[33], child_next[33] = "";
    cpm_random_id(first);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char id[33];
        cpm_random_id(id);
        ssize_t w = write(fds[1], id, 33);
        _exit(w == 33 ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], child_next, 33), 33);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cpm_random_id(parent_next);
    assert_hex_id(child_next);
    assert_string_not_equal(child_next, parent_next);
    assert_string_not_equal(child_next, first);
}

static void test_time_ordered_ids_sort_by_time(void **state)
{
    (void)state;
    static char ids[N][33];
    int64_t t0 = INT64_C(1764547200000); /* 2025-12-01 00:00 UTC */
    for (size_t i = 0; i < N; i++) {
        cpm_time_ordered_id(ids[i], t0 + (int64_t)(i / 4)); /* four ids per millisecond */
        assert_hex_id(ids[i]);
        if (i > 0 && i % 4 == 0) /* a later millisecond sorts after every earlier id */
            for (size_t j = 0; j < i; j++)
                assert_true(strcmp(ids[j], ids[i]) < 0);
    }
    char want[13];
    snprintf(want, sizeof want, "%012llx", (unsigned long long)t0);
    assert_memory_equal(ids[0], want, 12); /* the time, big-endian hex */
    assert_distinct(ids, N);               /* the same millisecond: told apart by 80 random bits */
    char before[33];
    cpm_time_ordered_id(before, -5); /* a clock before 1970 counts as 0 */
    assert_memory_equal(before, "000000000000", 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_distinct_across_refills),
        cmocka_unit_test(test_ids_distinct_between_threads),
        cmocka_unit_test(test_child_does_not_repeat_parent),
        cmocka_unit_test(test_time_ordered_ids_sort_by_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
