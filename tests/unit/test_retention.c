/* Tests for cpm_retention (dead letters deleted after the retention period,
 * on an injected clock) and cpm_seal (sealed contacts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_inbox.h"
#include "cpm_retention.h"
#include "cpm_seal.h"
#include "cpm_util.h"

static const char *const dbs[] = {CPM_RETENTION_DB, NULL};
#define DAY 86400000LL
#define T0 1770000000000LL

static int setup(void **state)
{
    *state = dom_env_new(sizeof(dom_env_t), "retention", dbs, 0, "n/routing", T0);
    return 0;
}

static void dead(dom_env_t *f, const char *stream, uint64_t seq)
{
    MDB_txn *txn = dom_begin(f->st, true);
    static const uint8_t rec[] = "a record with personal data";
    dom_end(txn, cpm_inbox_dead_letter(f->st, txn, stream, seq, "invalid", rec, sizeof rec));
}

static size_t sweep(dom_env_t *f, int64_t now, size_t max)
{
    size_t n = 99;
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(dom_end(txn, cpm_retention_sweep_dead(f->st, txn, now, 30 * DAY, max, &n)), 0);
    return n;
}

static uint64_t count(dom_env_t *f, const char *db)
{
    MDB_txn *txn = dom_begin(f->st, false);
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, cpm_store_dbi(f->st, db), &st), 0);
    cpm_store_abort(&txn);
    return st.ms_entries;
}

/* A dead letter lives for the retention period after the sweep first saw it,
 * then it and its note are deleted; younger letters stay. */
static void test_dead_letters_expire(void **state)
{
    dom_env_t *f = *state;
    dead(f, "a/intake>n/routing", 1);
    dead(f, "a/intake>n/routing", 2);
    assert_int_equal(sweep(f, T0, 1000), 0); /* first seen now */
    assert_int_equal(count(f, CPM_RETENTION_DB), 2);
    dead(f, "b/intake>n/routing", 7);
    assert_int_equal(sweep(f, T0 + DAY, 1000), 0);
    assert_int_equal(sweep(f, T0 + 30 * DAY - 1, 1000), 0);
    assert_int_equal(count(f, "dead"), 3);
    assert_int_equal(sweep(f, T0 + 30 * DAY, 1000), 2);
    assert_int_equal(count(f, "dead"), 1);
    assert_int_equal(count(f, CPM_RETENTION_DB), 1);
    assert_int_equal(sweep(f, T0 + 31 * DAY, 1000), 1);
    assert_int_equal(count(f, "dead"), 0);
    assert_int_equal(count(f, CPM_RETENTION_DB), 0);
}

/* max bounds one sweep; notes of letters removed by others are dropped. */
static void test_bounded_and_orphans(void **state)
{
    dom_env_t *f = *state;
    for (uint64_t i = 1; i <= 5; i++)
        dead(f, "a/intake>n/routing", i);
    assert_int_equal(sweep(f, T0, 3), 0);
    assert_int_equal(count(f, CPM_RETENTION_DB), 3);
    assert_int_equal(sweep(f, T0, 3), 0);
    assert_int_equal(count(f, CPM_RETENTION_DB), 5);
    assert_int_equal(sweep(f, T0 + 30 * DAY, 3), 3);
    assert_int_equal(sweep(f, T0 + 30 * DAY, 3), 2);
    dead(f, "a/intake>n/routing", 9);
    assert_int_equal(sweep(f, T0 + 40 * DAY, 10), 0);
    uint8_t key[64];
    size_t sl = strlen("a/intake>n/routing");
    memcpy(key, "a/intake>n/routing", sl + 1);
    cpm_put_be64(key + sl + 1, 9);
    MDB_txn *txn = dom_begin(f->st, true);
    dom_end(txn, cpm_store_del(f->st, txn, "dead", key, sl + 9));
    assert_int_equal(sweep(f, T0 + 41 * DAY, 10), 0);
    assert_int_equal(count(f, CPM_RETENTION_DB), 0);
}

/* A sealed contact opens only with the recipient's key, only for its ticket,
 * and not once a byte has changed. */
static void test_seal(void **state)
{
    (void)state;
    cpm_identity_t a, b;
    dom_identity("agency-a", &a);
    dom_identity("agency-b", &b);
    Cpm__ContactCard k = CPM__CONTACT_CARD__INIT;
    k.ticket = "HK-00000001";
    k.name = "Nguyen Thi Lan";
    k.phone = "0912 345 678";
    assert_false(cpm_seal_card_empty(&k));
    uint8_t *s1 = NULL, *s2 = NULL;
    size_t l1 = 0, l2 = 0;
    assert_int_equal(cpm_seal_contact(&k, a.curve_pk, &s1, &l1), 0);
    assert_int_equal(cpm_seal_contact(&k, a.curve_pk, &s2, &l2), 0);
    assert_int_equal(l1, protobuf_c_message_get_packed_size(&k.base) + 48);
    assert_memory_not_equal(s1, s2, l1); /* randomized */
    assert_false(dom_contains(s1, l1, "0912"));
    int rc = -1;
    Cpm__ContactCard *o = cpm_seal_open(s1, l1, a.curve_pk, a.curve_sk, "HK-00000001", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(o->phone, "0912 345 678");
    cpm__contact_card__free_unpacked(o, NULL);
    assert_null(cpm_seal_open(s1, l1, b.curve_pk, b.curve_sk, "HK-00000001", &rc));
    assert_int_equal(rc, CPM_E_INVALID);
    assert_null(cpm_seal_open(s1, l1, a.curve_pk, a.curve_sk, "HK-00000002", &rc));
    assert_int_equal(rc, CPM_E_CONFLICT);
    s1[l1 - 1] ^= 1;
    assert_null(cpm_seal_open(s1, l1, a.curve_pk, a.curve_sk, "HK-00000001", &rc));
    assert_int_equal(rc, CPM_E_INVALID);
    assert_null(cpm_seal_open(s1, 10, a.curve_pk, a.curve_sk, "HK-00000001", &rc));
    assert_int_equal(rc, CPM_E_INVALID);
    assert_null(cpm_seal_open(s1, CPM_SEAL_MAX + 1, a.curve_pk, a.curve_sk, "x", &rc));
    assert_int_equal(rc, CPM_E_TOO_LARGE);
    free(s1);
    free(s2);
    char big[CPM_SEAL_MAX];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    k.name = big;
    assert_int_equal(cpm_seal_contact(&k, a.curve_pk, &s1, &l1), CPM_E_TOO_LARGE);
    assert_null(s1);
    Cpm__ContactCard empty = CPM__CONTACT_CARD__INIT;
    assert_true(cpm_seal_card_empty(&empty));
    cpm_identity_wipe(&a);
    cpm_identity_wipe(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dead_letters_expire, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_bounded_and_orphans, setup, dom_env_teardown),
        cmocka_unit_test(test_seal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
