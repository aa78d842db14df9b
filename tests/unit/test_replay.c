/* Tests of cpm_replay: the sliding window against a simple model, principals, forgetting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HORIZON 60000

static void test_new_and_destroy(void **state)
{
    (void)state;
    assert_null(cpm_replay_new(0));
    assert_null(cpm_replay_new(-5));
    cpm_replay_t *r = cpm_replay_new(HORIZON);
    assert_non_null(r);
    assert_int_equal(cpm_replay_size(r), 0);
    cpm_replay_destroy(&r);
    assert_null(r);
    cpm_replay_destroy(&r);
    cpm_replay_destroy(NULL);
    assert_int_equal(cpm_replay_size(NULL), 0);
    assert_int_equal(cpm_replay_check(NULL, "a/b", 1, 0), -1);
}

static void test_basic(void **state)
{
    (void)state;
    cpm_replay_t *r = cpm_replay_new(HORIZON);
    assert_int_equal(cpm_replay_check(r, NULL, 1, 0), -1);
    assert_int_equal(cpm_replay_check(r, "a/x", 100, 0), 0);
    assert_int_equal(cpm_replay_check(r, "a/x", 100, 0), -1);
    assert_int_equal(cpm_replay_check(r, "a/x", 101, 0), 0);
    assert_int_equal(cpm_replay_check(r, "a/x", 99, 0), 0); /* late, inside the window */
    assert_int_equal(cpm_replay_check(r, "a/x", 99, 0), -1);
    assert_int_equal(cpm_replay_check(r, "a/x", 101, 0), -1);
    /* Another principal, even with the same member, has its own numbers. */
    assert_int_equal(cpm_replay_check(r, "a/y", 100, 0), 0);
    assert_int_equal(cpm_replay_check(r, "b/x", 100, 0), 0);
    assert_int_equal(cpm_replay_size(r), 3);
    cpm_replay_destroy(&r);
}

static void test_window_edges(void **state)
{
    (void)state;
    cpm_replay_t *r = cpm_replay_new(HORIZON);
    const uint64_t top = 1000000;
    assert_int_equal(cpm_replay_check(r, "p", top, 0), 0);
    /* The oldest number still inside the window, then the first outside. */
    assert_int_equal(cpm_replay_check(r, "p", top - (CPM_REPLAY_WINDOW - 1), 0), 0);
    assert_int_equal(cpm_replay_check(r, "p", top - (CPM_REPLAY_WINDOW - 1), 0), -1);
    assert_int_equal(cpm_replay_check(r, "p", top - CPM_REPLAY_WINDOW, 0), -1);
    assert_int_equal(cpm_replay_check(r, "p", 0, 0), -1);
    /* A jump past the whole window forgets the old bits: they are now too old. */
    assert_int_equal(cpm_replay_check(r, "p", top + 5000, 0), 0);
    assert_int_equal(cpm_replay_check(r, "p", top, 0), -1);
    assert_int_equal(cpm_replay_check(r, "p", top + 5000 - 1, 0), 0);
    /* Numbers near the top of the range do not wrap. */
    assert_int_equal(cpm_replay_check(r, "q", UINT64_MAX, 0), 0);
    assert_int_equal(cpm_replay_check(r, "q", UINT64_MAX, 0), -1);
    assert_int_equal(cpm_replay_check(r, "q", UINT64_MAX - 1, 0), 0);
    assert_int_equal(cpm_replay_check(r, "q", 0, 0), -1);
    cpm_replay_destroy(&r);
}

/* Shifts by every distance that crosses a word boundary in a different way. */
static void test_shifts_keep_bits(void **state)
{
    (void)state;
    const uint64_t steps[] = {1, 2, 63, 64, 65, 127, 128, 129, 500, 1000, 1023};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        cpm_replay_t *r = cpm_replay_new(HORIZON);
        uint64_t base = 10000;
        /* Seen: base, base-3, base-70 (bits 0, 3, 70). */
        assert_int_equal(cpm_replay_check(r, "p", base, 0), 0);
        assert_int_equal(cpm_replay_check(r, "p", base - 3, 0), 0);
        assert_int_equal(cpm_replay_check(r, "p", base - 70, 0), 0);
        assert_int_equal(cpm_replay_check(r, "p", base + steps[i], 0), 0);
        uint64_t top = base + steps[i];
        const uint64_t seen[] = {base, base - 3, base - 70};
        for (size_t k = 0; k < 3; k++) {
            /* Seen numbers are refused, inside the window or below it. */
            assert_int_equal(cpm_replay_check(r, "p", seen[k], 0), -1);
        }
        /* Unseen numbers between them are still accepted when in the window. */
        const uint64_t fresh[] = {base - 1, base - 2, base - 69, base - 71, base + 1};
        for (size_t k = 0; k < 5; k++) {
            if (fresh[k] >= top)
                continue;
            int want = top - fresh[k] < CPM_REPLAY_WINDOW ? 0 : -1;
            assert_int_equal(cpm_replay_check(r, "p", fresh[k], 0), want);
        }
        cpm_replay_destroy(&r);
    }
}

/* A model that remembers every number: accept iff unseen and within the
 * window below the highest number. */
static void test_against_model(void **state)
{
    (void)state;
    cpm_replay_t *r = cpm_replay_new(HORIZON);
    enum { SPAN = 40000 };
    uint8_t *seen = calloc(SPAN, 1);
    uint64_t top = 0;
    int have_top = 0;
    unsigned rnd = 12345;
    uint64_t centre = 5000;
    for (int i = 0; i < 200000; i++) {
        rnd = rnd * 1103515245u + 12345u;
        unsigned x = (rnd >> 8) % 3000;
        if ((rnd >> 4) % 50 == 0 && centre + 3000 < SPAN - 3000)
            centre += (rnd >> 12) % 300; /* drift forward, sometimes by a lot */
        uint64_t seq = centre - 1500 + x;
        int want;
        if (!have_top || seq > top)
            want = 0;
        else
            want = (!seen[seq] && top - seq < CPM_REPLAY_WINDOW) ? 0 : -1;
        int got = cpm_replay_check(r, "model", seq, 0);
        if (got != want)
            fail_msg("step %d: seq %llu top %llu: got %d want %d", i, (unsigned long long)seq,
                     (unsigned long long)top, got, want);
        if (want == 0) {
            seen[seq] = 1;
            if (!have_top || seq > top)
                top = seq;
            have_top = 1;
        }
    }
    free(seen);
    cpm_replay_destroy(&r);
}

static void test_forget_idle(void **state)
{
    (void)state;
    cpm_replay_t *r = cpm_replay_new(1000);
    int64_t t = 1767225600000;
    assert_int_equal(cpm_replay_check(r, "old/a", 50, t), 0);
    assert_int_equal(cpm_replay_check(r, "busy/a", 50, t), 0);
    assert_int_equal(cpm_replay_check(r, "busy/a", 51, t + 900), 0);
    assert_int_equal(cpm_replay_size(r), 2);
    /* Within the horizon the state is kept. */
    assert_int_equal(cpm_replay_check(r, "old/a", 50, t + 1000), -1);
    /* A refusal does not count as activity, so old/a goes idle from t. */
    assert_int_equal(cpm_replay_check(r, "busy/a", 52, t + 1500), 0);
    assert_int_equal(cpm_replay_check(r, "busy/b", 1, t + 2100), 0);
    /* The sweep at t + 2100 forgot old/a (idle since t), kept busy/a (t + 1500). */
    assert_int_equal(cpm_replay_size(r), 2);
    assert_int_equal(cpm_replay_check(r, "busy/a", 52, t + 2100), -1);
    /* A forgotten principal starts afresh; the clock-skew check is what
     * refuses its old messages. */
    assert_int_equal(cpm_replay_check(r, "old/a", 50, t + 2100), 0);
    assert_int_equal(cpm_replay_size(r), 3);
    /* An entry gone idle since the last sweep (busy/a, last fresh at t + 1500)
     * is reset when met, exactly as if it had been swept. */
    assert_int_equal(cpm_replay_check(r, "busy/a", 52, t + 2600), 0);
    assert_int_equal(cpm_replay_size(r), 3);
    assert_int_equal(cpm_replay_check(r, "busy/a", 52, t + 2600), -1);
    assert_int_equal(cpm_replay_check(r, "busy/a", 51, t + 2600), 0);
    cpm_replay_destroy(&r);
}

static void test_many_principals(void **state)
{
    (void)state;
    cpm_replay_t *r = cpm_replay_new(HORIZON);
    char p[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(p, sizeof p, "m%d/cli.%d", i, i);
        assert_int_equal(cpm_replay_check(r, p, 7, 0), 0);
    }
    assert_int_equal(cpm_replay_size(r), 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(p, sizeof p, "m%d/cli.%d", i, i);
        assert_int_equal(cpm_replay_check(r, p, 7, 0), -1);
        assert_int_equal(cpm_replay_check(r, p, 8, 0), 0);
    }
    assert_int_equal(cpm_replay_size(r), 5000);
    cpm_replay_destroy(&r);
}

/* The table is bounded in all: when it is full, the member holding the most
 * principals gives one up, so a newcomer of another member still fits. */
static void test_bounded(void **state)
{
    (void)state;
    cpm_replay_t *r = cpm_replay_new(1000);
    char p[48];
    int64_t t = 1767225600000;
    int members = CPM_REPLAY_MAX / CPM_REPLAY_PER_MEMBER + 1;
    for (int i = 0; i < CPM_REPLAY_MAX; i++) {
        snprintf(p, sizeof p, "m%d/inst.%d", i % members, i);
        assert_int_equal(cpm_replay_check(r, p, 7, t), 0);
    }
    assert_int_equal(cpm_replay_size(r), CPM_REPLAY_MAX);
    assert_int_equal(cpm_replay_check(r, "other/one-too-many", 1, t + 10), 0);
    assert_int_equal(cpm_replay_size(r), CPM_REPLAY_MAX);
    assert_int_equal(cpm_replay_evicted(r), 1);
    assert_int_equal(cpm_replay_check(r, "m5/inst.5", 8, t + 10), 0); /* known: fine */
    /* after the horizon everyone but inst.5 and the newcomer is idle */
    assert_int_equal(cpm_replay_check(r, "m7/newcomer", 100, t + 1005), 0);
    assert_true(cpm_replay_size(r) <= 4);
    cpm_replay_destroy(&r);
}

/* One member inventing instances evicts only its own principals: another
 * member's principals keep their windows (a replay of theirs is still
 * refused) and its newcomers are admitted. */
static void test_member_cannot_evict_others(void **state)
{
    (void)state;
    cpm_replay_t *r = cpm_replay_new(HORIZON);
    char p[48];
    int64_t t = 1767225600000;
    assert_int_equal(cpm_replay_check(r, "good/svc", 100, t), 0);
    for (int i = 0; i < 3 * CPM_REPLAY_MAX / 2; i++) {
        snprintf(p, sizeof p, "evil/inst.%d", i);
        assert_int_equal(cpm_replay_check(r, p, 1000 + (uint64_t)i, t + 1), 0);
    }
    assert_int_equal(cpm_replay_size(r), CPM_REPLAY_PER_MEMBER + 1);
    assert_int_equal(cpm_replay_check(r, "good/svc", 100, t + 2), -1); /* still known */
    assert_int_equal(cpm_replay_check(r, "good/svc", 101, t + 2), 0);
    assert_int_equal(cpm_replay_check(r, "good/cli.1", 5, t + 2), 0);
    assert_int_equal(cpm_replay_check(r, "other/cli.1", 5, t + 2), 0);
    assert_int_equal(cpm_replay_size(r), CPM_REPLAY_PER_MEMBER + 3);
    cpm_replay_destroy(&r);
}

/* An evicted principal cannot replay: its member's floor is above every
 * number it saw. A new principal of that member above the floor is admitted;
 * the floor lapses after one horizon, when the clock-skew check takes over. */
static void test_eviction_keeps_replays_out(void **state)
{
    (void)state;
    cpm_replay_t *r = cpm_replay_new(1000);
    char p[48];
    int64_t t = 1767225600000;
    assert_int_equal(cpm_replay_check(r, "m/first", 5000, t), 0);
    for (int i = 0; i < CPM_REPLAY_PER_MEMBER; i++) {
        snprintf(p, sizeof p, "m/inst.%d", i);
        assert_int_equal(cpm_replay_check(r, p, 6000 + (uint64_t)i, t + 1), 0);
    }
    assert_int_equal(cpm_replay_evicted(r), 1);
    assert_int_equal(cpm_replay_check(r, "m/first", 5000, t + 2), -1); /* replay */
    assert_int_equal(cpm_replay_check(r, "m/first", 4999, t + 2), -1);
    assert_int_equal(cpm_replay_check(r, "m/next", 5001, t + 2), 0);
    assert_int_equal(cpm_replay_check(r, "x/first", 5000, t + 2), 0); /* other members */
    assert_int_equal(cpm_replay_check(r, "m/late", 10, t + 1500), 0); /* floor lapsed */
    cpm_replay_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_destroy),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_shifts_keep_bits),
        cmocka_unit_test(test_against_model),
        cmocka_unit_test(test_forget_idle),
        cmocka_unit_test(test_many_principals),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_member_cannot_evict_others),
        cmocka_unit_test(test_eviction_keeps_replays_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
