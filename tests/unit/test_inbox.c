/* Tests for cpm_inbox: high-water marks and dead letters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_err.h"
#include "cpm_inbox.h"
#include "cpm_util.h"
#include "fixtures/store/store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S1 "hn.d.hoan-kiem/intake>hn.doit/routing"
#define S2 "hn.d.ba-dinh/intake>hn.doit/routing"

typedef stx_t fixture_t;

static int setup(void **state)
{
    *state = stx_new("inbox");
    return 0;
}

static void test_hwm(void **state)
{
    fixture_t *f = *state;
    uint64_t hwm = 77;
    assert_int_equal(cpm_inbox_hwm(f->s, f->txn, S1, &hwm), 0);
    assert_int_equal(hwm, 0);
    assert_int_equal(cpm_inbox_set(f->s, f->txn, S1, 41), 0);
    assert_int_equal(cpm_inbox_set(f->s, f->txn, S2, 7), 0);
    assert_int_equal(cpm_inbox_set(f->s, f->txn, S1, 42), 0);
    assert_int_equal(cpm_inbox_hwm(f->s, f->txn, S1, &hwm), 0);
    assert_int_equal(hwm, 42);
    assert_int_equal(cpm_inbox_hwm(f->s, f->txn, S2, &hwm), 0);
    assert_int_equal(hwm, 7);
    /* The documented layout: stream name -> seq BE in "inbox". */
    const void *v;
    size_t len;
    assert_int_equal(cpm_store_get(f->s, f->txn, "inbox", S1, strlen(S1), &v, &len), 0);
    assert_int_equal(len, 8);
    assert_int_equal(cpm_get_be64(v), 42);
    assert_int_equal(cpm_store_commit(f->txn), 0);
    f->txn = NULL;

    stx_close(f);
    stx_open(f, 0);
    assert_int_equal(cpm_inbox_hwm(f->s, f->txn, S1, &hwm), 0);
    assert_int_equal(hwm, 42);
}

static void test_hwm_abort_discards(void **state)
{
    fixture_t *f = *state;
    uint64_t hwm;
    assert_int_equal(cpm_inbox_set(f->s, f->txn, S1, 5), 0);
    assert_int_equal(cpm_store_commit(f->txn), 0);
    assert_int_equal(cpm_store_begin(f->s, true, &f->txn), 0);
    assert_int_equal(cpm_inbox_set(f->s, f->txn, S1, 6), 0);
    cpm_store_abort(&f->txn);
    assert_int_equal(cpm_store_begin(f->s, false, &f->txn), 0);
    assert_int_equal(cpm_inbox_hwm(f->s, f->txn, S1, &hwm), 0);
    assert_int_equal(hwm, 5);
}

static void test_dead_letter(void **state)
{
    fixture_t *f = *state;
    uint64_t n = 9;
    assert_int_equal(cpm_inbox_dead_count(f->s, f->txn, &n), 0);
    assert_int_equal(n, 0);
    const uint8_t rec[] = {0x0a, 0x00, 0xff, 0x01};
    assert_int_equal(
        cpm_inbox_dead_letter(f->s, f->txn, S1, 3, "payload cannot be decoded", rec, sizeof rec),
        0);
    assert_int_equal(cpm_inbox_dead_letter(f->s, f->txn, S1, 4, NULL, NULL, 0), 0);
    assert_int_equal(cpm_inbox_dead_letter(f->s, f->txn, S2, 3, "x", rec, 1), 0);
    assert_int_equal(cpm_inbox_dead_count(f->s, f->txn, &n), 0);
    assert_int_equal(n, 3);

    /* The documented layout: key stream \0 seq BE, value reason \0 rec. */
    uint8_t key[sizeof S1 + 8];
    memcpy(key, S1, sizeof S1);
    cpm_put_be64(key + sizeof S1, 3);
    const void *v;
    size_t len;
    assert_int_equal(cpm_store_get(f->s, f->txn, "dead", key, sizeof key, &v, &len), 0);
    const char want[] = "payload cannot be decoded\0\x0a\x00\xff\x01";
    assert_int_equal(len, sizeof want - 1);
    assert_memory_equal(v, want, len);
    cpm_put_be64(key + sizeof S1, 4);
    assert_int_equal(cpm_store_get(f->s, f->txn, "dead", key, sizeof key, &v, &len), 0);
    assert_int_equal(len, 1); /* empty reason, empty record */
    assert_int_equal(((const uint8_t *)v)[0], 0);

    /* The same (stream, seq) again replaces rather than adds. */
    assert_int_equal(cpm_inbox_dead_letter(f->s, f->txn, S1, 4, "again", rec, 2), 0);
    assert_int_equal(cpm_inbox_dead_count(f->s, f->txn, &n), 0);
    assert_int_equal(n, 3);

    cpm_store_abort(&f->txn);
    assert_int_equal(cpm_store_begin(f->s, false, &f->txn), 0);
    assert_int_equal(cpm_inbox_dead_count(f->s, f->txn, &n), 0);
    assert_int_equal(n, 0); /* aborted */
}

static void test_bad_input(void **state)
{
    fixture_t *f = *state;
    char longname[600];
    memset(longname, 's', 481);
    longname[481] = 0;
    const char *bad[] = {NULL, "", longname};
    uint64_t v;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cpm_inbox_hwm(f->s, f->txn, bad[i], &v), CPM_E_INVALID);
        assert_int_equal(cpm_inbox_set(f->s, f->txn, bad[i], 1), CPM_E_INVALID);
        assert_int_equal(cpm_inbox_dead_letter(f->s, f->txn, bad[i], 1, "r", NULL, 0),
                         CPM_E_INVALID);
    }
    longname[480] = 0; /* the longest name works */
    assert_int_equal(cpm_inbox_set(f->s, f->txn, longname, 3), 0);
    assert_int_equal(cpm_inbox_dead_letter(f->s, f->txn, longname, 1, "r", NULL, 0), 0);
    assert_int_equal(cpm_inbox_dead_letter(f->s, f->txn, S1, 1, "r", NULL, 3), CPM_E_INVALID);
    /* A corrupt mark is reported, not trusted. */
    assert_int_equal(cpm_store_put(f->s, f->txn, "inbox", S1, strlen(S1), "abc", 3), 0);
    assert_int_equal(cpm_inbox_hwm(f->s, f->txn, S1, &v), CPM_E_INTERNAL);
}

static void test_dead_letter_store_full(void **state)
{
    fixture_t *f = *state;
    stx_close(f);
    cpm_store_t *s = stx_open_small(f);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    static uint8_t big[256 * 1024];
    assert_int_equal(cpm_inbox_dead_letter(s, txn, S1, 1, "too big", big, sizeof big),
                     CPM_E_STORE_FULL);
    cpm_store_abort(&txn);
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    uint64_t n;
    assert_int_equal(cpm_inbox_dead_count(s, txn, &n), 0);
    assert_int_equal(n, 0);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
}

/* Usage by prefix (one member's streams), bounded; existence by key. */
static void test_dead_usage_and_exists(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn = f->txn;
    for (uint64_t seq = 1; seq <= 5; seq++)
        assert_int_equal(
            cpm_inbox_dead_letter(f->s, txn, S1, seq, "why", (const uint8_t *)"rec", 3), 0);
    assert_int_equal(cpm_inbox_dead_letter(f->s, txn, S2, 1, "why", (const uint8_t *)"rec", 3), 0);
    uint64_t n, bytes;
    assert_int_equal(cpm_inbox_dead_usage(f->s, txn, "hn.d.hoan-kiem/", 100, &n, &bytes), 0);
    assert_int_equal(n, 5);
    assert_int_equal(bytes, 5 * (4 + 3));
    assert_int_equal(cpm_inbox_dead_usage(f->s, txn, "hn.d.hoan-kiem/", 2, &n, &bytes), 0);
    assert_int_equal(n, 3); /* stops once past the bound */
    assert_int_equal(cpm_inbox_dead_usage(f->s, txn, "hn.d.cau-giay/", 100, &n, &bytes), 0);
    assert_int_equal(n, 0);
    assert_int_equal(cpm_inbox_dead_usage(f->s, txn, "", 100, &n, &bytes), CPM_E_INVALID);
    int exists = -1;
    assert_int_equal(cpm_inbox_dead_exists(f->s, txn, S1, 5, &exists), 0);
    assert_int_equal(exists, 1);
    assert_int_equal(cpm_inbox_dead_exists(f->s, txn, S1, 6, &exists), 0);
    assert_int_equal(exists, 0);
    assert_int_equal(cpm_inbox_dead_exists(f->s, txn, "", 6, &exists), CPM_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hwm, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_hwm_abort_discards, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_dead_usage_and_exists, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter_store_full, setup, stx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
