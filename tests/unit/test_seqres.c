/* Tests of cpm_seqres: a sender's sequence keeps increasing across restarts
 * even when the clock stepped back, with one write per reservation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_seqres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cpm_store_t *open_store(char *dir)
{
    char err[256];
    cpm_store_t *st = cpm_store_open(dir, 16u << 20, NULL, err, sizeof err);
    if (!st)
        fail_msg("store: %s", err);
    return st;
}

static void test_restart_after_clock_stepped_back(void **state)
{
    (void)state;
    char dir[] = "/tmp/cpm-seqres-XXXXXX";
    assert_non_null(mkdtemp(dir));
    cpm_identity_t id;
    memset(&id, 0, sizeof id);
    const int64_t t0 = 1767225600000000; /* microseconds */

    cpm_store_t *st = open_store(dir);
    cpm_sender_t s;
    cpm_seqres_t r;
    cpm_sender_init(&s, &id, "intake");
    assert_int_equal(cpm_seqres_start(&r, st, &s, t0), 0);
    /* The sender runs for five minutes, its sequence following the clock. */
    uint64_t used = 0;
    for (int64_t t = t0; t < t0 + 300 * 1000000ll; t += 250000) {
        assert_int_equal(cpm_seqres_keep(&r, st, t), 0);
        used = s.last_seq + 1 > (uint64_t)t ? s.last_seq + 1 : (uint64_t)t; /* as seal does */
        s.last_seq = used;
        assert_true(used < r.reserved);
    }
    cpm_store_destroy(&st);

    /* Restarted after the clock stepped back ten minutes: it continues above
     * every sequence it used. */
    st = open_store(dir);
    cpm_sender_init(&s, &id, "intake");
    assert_int_equal(cpm_seqres_start(&r, st, &s, t0 - 600 * 1000000ll), 0);
    assert_true(s.last_seq >= used);
    /* Another instance's reservation is its own. */
    cpm_sender_t other;
    cpm_seqres_t ro;
    cpm_sender_init(&other, &id, "intake.reply");
    assert_int_equal(cpm_seqres_start(&ro, st, &other, t0 - 600 * 1000000ll), 0);
    assert_int_equal(other.last_seq, 0);
    cpm_store_destroy(&st);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Without activity nothing is written; the reservation moves once per half
 * of CPM_SEQRES_AHEAD_US of progress. */
static void test_one_write_per_half_reservation(void **state)
{
    (void)state;
    char dir[] = "/tmp/cpm-seqres-XXXXXX";
    assert_non_null(mkdtemp(dir));
    cpm_identity_t id;
    memset(&id, 0, sizeof id);
    cpm_store_t *st = open_store(dir);
    cpm_sender_t s;
    cpm_seqres_t r;
    cpm_sender_init(&s, &id, "x");
    const int64_t t0 = 1767225600000000;
    assert_int_equal(cpm_seqres_start(&r, st, &s, t0), 0);
    uint64_t first = r.reserved;
    assert_int_equal(cpm_seqres_keep(&r, st, t0 + CPM_SEQRES_AHEAD_US / 4), 0);
    assert_int_equal(r.reserved, first);
    assert_int_equal(cpm_seqres_keep(&r, st, t0 + CPM_SEQRES_AHEAD_US / 2 + 1), 0);
    assert_true(r.reserved > first);
    cpm_store_destroy(&st);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_after_clock_stepped_back),
        cmocka_unit_test(test_one_write_per_half_reservation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
