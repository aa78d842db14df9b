/* Tests for intake_lookup: the codes are HMAC-SHA-256 of the ticket under
 * the store's secret, computed here the plain way (one crypto_auth_hmacsha256
 * with the key read from the store), whatever intake_lookup_code remembers
 * between calls: the same ticket twice, another ticket, a key created in a
 * transaction that is then aborted, another store, a key changed under it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_err.h"
#include "fixtures/store/store_fixture.h"
#include "intake_lookup.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define KEY_NAME "intake.lookup_key"

typedef stx_t fixture_t;

static int setup(void **state)
{
    assert_true(sodium_init() >= 0);
    intake_lookup_forget();
    *state = stx_new("lookup");
    return 0;
}

static int teardown(void **state)
{
    intake_lookup_forget();
    return stx_teardown(state);
}

/* The code of ticket the way intake made it before any caching. */
static void reference_code(const uint8_t key[32], const char *ticket,
                           char out[CPM_TEXT_CODE_LEN + 1])
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const uint8_t *)ticket, strlen(ticket), key);
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | mac[i];
    for (int i = 0; i < CPM_TEXT_CODE_LEN; i++)
        out[i] = alphabet[(bits >> (59 - 5 * i)) & 31];
    out[CPM_TEXT_CODE_LEN] = 0;
}

static void store_key(cpm_store_t *s, MDB_txn *txn, uint8_t key[32])
{
    const void *v;
    size_t len;
    assert_int_equal(cpm_store_get(s, txn, "meta", KEY_NAME, strlen(KEY_NAME), &v, &len), 0);
    assert_int_equal(len, 32);
    memcpy(key, v, 32);
}

/* intake_lookup_code of ticket in txn equals the reference under the key
 * the store holds in txn. */
static void expect_reference(cpm_store_t *s, MDB_txn *txn, const char *ticket)
{
    char got[CPM_TEXT_CODE_LEN + 1], want[CPM_TEXT_CODE_LEN + 1];
    uint8_t key[32];
    assert_int_equal(intake_lookup_code(s, txn, ticket, got), 0);
    store_key(s, txn, key);
    reference_code(key, ticket, want);
    assert_string_equal(got, want);
    assert_true(cpm_text_code_valid(got));
}

static void test_codes_are_the_plain_hmac(void **state)
{
    fixture_t *f = *state;
    char ticket[32];
    for (int i = 1; i <= 200; i++) {
        snprintf(ticket, sizeof ticket, "HK-%08d", i);
        expect_reference(f->s, f->txn, ticket);
        expect_reference(f->s, f->txn, ticket); /* asked twice, as intake does */
    }
    expect_reference(f->s, f->txn, "");
    expect_reference(f->s, f->txn, "HK-00000001");
    /* Longer than the remembered ticket: computed every time, still right. */
    char lng[200];
    memset(lng, 'A', sizeof lng - 1);
    lng[sizeof lng - 1] = 0;
    expect_reference(f->s, f->txn, lng);
    lng[150] = 'B';
    expect_reference(f->s, f->txn, lng);
}

/* Codes differ from ticket to ticket: nothing stale is handed back. */
static void test_next_ticket_is_not_the_last_code(void **state)
{
    fixture_t *f = *state;
    char a[CPM_TEXT_CODE_LEN + 1], b[CPM_TEXT_CODE_LEN + 1], a2[CPM_TEXT_CODE_LEN + 1];
    assert_int_equal(intake_lookup_code(f->s, f->txn, "HK-00000001", a), 0);
    assert_int_equal(intake_lookup_code(f->s, f->txn, "HK-00000002", b), 0);
    assert_int_equal(intake_lookup_code(f->s, f->txn, "HK-00000001", a2), 0);
    assert_string_not_equal(a, b);
    assert_string_equal(a, a2);
}

/* The key created in an aborted transaction is gone: the next code is made
 * with the key the store then creates, as without any caching. */
static void test_key_of_an_aborted_transaction_is_not_kept(void **state)
{
    fixture_t *f = *state;
    char first[CPM_TEXT_CODE_LEN + 1];
    assert_int_equal(intake_lookup_code(f->s, f->txn, "HK-00000001", first), 0);
    uint8_t k1[32];
    store_key(f->s, f->txn, k1);
    cpm_store_abort(&f->txn);
    assert_int_equal(cpm_store_begin(f->s, true, &f->txn), 0);
    const void *v;
    size_t len;
    assert_int_equal(cpm_store_get(f->s, f->txn, "meta", KEY_NAME, strlen(KEY_NAME), &v, &len),
                     CPM_E_NOT_FOUND);
    expect_reference(f->s, f->txn, "HK-00000001");
    uint8_t k2[32];
    store_key(f->s, f->txn, k2);
    assert_memory_not_equal(k1, k2, 32);
    char again[CPM_TEXT_CODE_LEN + 1];
    assert_int_equal(intake_lookup_code(f->s, f->txn, "HK-00000001", again), 0);
    assert_string_not_equal(first, again); /* 50 bits: equal by chance 1 in 2^50 */
}

/* A key replaced in the store (another store, a restored backup) is used
 * from the next call on, for the same ticket too. */
static void test_changed_key_is_followed(void **state)
{
    fixture_t *f = *state;
    expect_reference(f->s, f->txn, "HK-00000007");
    uint8_t other[32];
    memset(other, 0x5a, sizeof other);
    assert_int_equal(cpm_store_put(f->s, f->txn, "meta", KEY_NAME, strlen(KEY_NAME), other, 32), 0);
    char got[CPM_TEXT_CODE_LEN + 1], want[CPM_TEXT_CODE_LEN + 1];
    assert_int_equal(intake_lookup_code(f->s, f->txn, "HK-00000007", got), 0);
    reference_code(other, "HK-00000007", want);
    assert_string_equal(got, want);
    expect_reference(f->s, f->txn, "HK-00000008");
}

/* A key of another size is refused, even with a state kept from before. */
static void test_key_of_another_size_is_refused(void **state)
{
    fixture_t *f = *state;
    expect_reference(f->s, f->txn, "HK-00000001");
    assert_int_equal(cpm_store_put(f->s, f->txn, "meta", KEY_NAME, strlen(KEY_NAME), "short", 5),
                     0);
    char got[CPM_TEXT_CODE_LEN + 1];
    assert_int_equal(intake_lookup_code(f->s, f->txn, "HK-00000001", got), CPM_E_INTERNAL);
}

static void *forget_here(void *arg)
{
    (void)arg;
    intake_lookup_forget(); /* this thread kept nothing */
    intake_lookup_forget();
    return NULL;
}

/* forget wipes the calling thread's copy (any number of times, on a thread
 * that holds none too, which leaves this one's alone); the next call makes
 * the state and the code again from the key: the same code. */
static void test_forget_then_same_code(void **state)
{
    fixture_t *f = *state;
    char a[CPM_TEXT_CODE_LEN + 1], b[CPM_TEXT_CODE_LEN + 1];
    assert_int_equal(intake_lookup_code(f->s, f->txn, "HK-00000001", a), 0);
    assert_true(intake_lookup_keeps());
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, forget_here, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(intake_lookup_keeps());
    intake_lookup_forget();
    assert_false(intake_lookup_keeps());
    intake_lookup_forget();
    assert_false(intake_lookup_keeps());
    assert_int_equal(intake_lookup_code(f->s, f->txn, "HK-00000001", b), 0);
    assert_true(intake_lookup_keeps());
    assert_string_equal(a, b);
    expect_reference(f->s, f->txn, "HK-00000001");
    intake_lookup_forget();
    expect_reference(f->s, f->txn, "HK-00000002");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_codes_are_the_plain_hmac, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_ticket_is_not_the_last_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_of_an_aborted_transaction_is_not_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_key_is_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_of_another_size_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_then_same_code, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
