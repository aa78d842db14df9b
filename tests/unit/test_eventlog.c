/* Tests for cpm_eventlog: the hash definition, append, read, chain checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_err.h"
#include "cpm_eventlog.h"
#include "cpm_util.h"
#include "fixtures/store/store_fixture.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The untyped append these tests were written against: the note only. */
static int app(cpm_store_t *s, MDB_txn *txn, int64_t at_ms, const char *kind, const char *ticket,
               const char *agency, const char *note, uint64_t *seq)
{
    cpm_event_t e = {.kind = kind, .ticket = ticket, .agency = agency, .note = note};
    return cpm_eventlog_append(s, txn, at_ms, &e, seq);
}

/* Computed independently (Python hashlib) from the layout in cpm_eventlog.h. */
#define H1_HEX "5cd5eac5fa282419365c27db0fc78c9820b4aa34e2150b3335f169e8026095a5"
#define H2_HEX "51fb5aec424f00939c6fda1040e6c40c500aea251f4055a63ee868b71f85bf88"

typedef stx_t fixture_t;

static int setup(void **state)
{
    assert_true(sodium_init() >= 0);
    *state = stx_new("events");
    return 0;
}

static void commit_and_renew(fixture_t *f)
{
    assert_int_equal(cpm_store_commit(f->txn), 0);
    assert_int_equal(cpm_store_begin(f->s, true, &f->txn), 0);
}

static void append_n(fixture_t *f, int n)
{
    for (int i = 0; i < n; i++) {
        char detail[32];
        snprintf(detail, sizeof detail, "step %d", i);
        assert_int_equal(app(f->s, f->txn, 1000 + i, "case.routed", "T-9", "hn.doit", detail, NULL),
                         0);
    }
}

/* Read everything and check the chain from the zero hash. */
static size_t read_all_verified(fixture_t *f)
{
    Cpm__Event **ev;
    size_t n;
    static const uint8_t zero[32];
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 1, 100000, &ev, &n), 0);
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, zero), 0);
    uint64_t head;
    uint8_t hash[32];
    assert_int_equal(cpm_eventlog_head(f->s, f->txn, &head, hash), 0);
    assert_int_equal(head, n);
    if (n > 0)
        assert_memory_equal(hash, ev[n - 1]->hash.data, 32);
    cpm_eventlog_free(&ev, n);
    return n;
}

static void test_hash_matches_documented_layout(void **state)
{
    assert_true(sodium_init() >= 0);
    Cpm__Event ev;
    cpm__event__init(&ev);
    ev.seq = 1;
    ev.at_ms = 1700000000123;
    ev.kind = "complaint.received";
    ev.ticket = "T-1";
    ev.agency = NULL; /* NULL hashes as empty */
    ev.note = "Đơn mới";
    uint8_t zero[32] = {0}, h1[32], h2[32], want[32];
    cpm_event_hash(&ev, zero, h1);
    assert_int_equal(cpm_hex_decode(H1_HEX, want, 32), 0);
    assert_memory_equal(h1, want, 32);

    cpm__event__init(&ev);
    ev.seq = 2;
    ev.at_ms = -5; /* two's complement, big-endian */
    ev.kind = "case.routed";
    ev.ticket = "T-1";
    ev.agency = "hn.doit";
    ev.note = "";
    cpm_event_hash(&ev, h1, h2);
    assert_int_equal(cpm_hex_decode(H2_HEX, want, 32), 0);
    assert_memory_equal(h2, want, 32);

    /* Field boundaries count: moving a byte between fields changes the hash. */
    ev.ticket = "T-1h";
    ev.agency = "n.doit";
    cpm_event_hash(&ev, h1, want);
    assert_memory_not_equal(h2, want, 32);
}

static void test_empty_log(void **state)
{
    fixture_t *f = *state;
    uint64_t head = 9;
    uint8_t hash[32];
    memset(hash, 0xaa, sizeof hash);
    assert_int_equal(cpm_eventlog_head(f->s, f->txn, &head, hash), 0);
    assert_int_equal(head, 0);
    uint8_t zero[32] = {0};
    assert_memory_equal(hash, zero, 32);
    assert_int_equal(cpm_eventlog_head(f->s, f->txn, &head, NULL), 0);
    Cpm__Event **ev = (Cpm__Event **)1;
    size_t n = 9;
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 1, 10, &ev, &n), 0);
    assert_int_equal(n, 0);
    assert_null(ev);
    cpm_eventlog_free(&ev, 0);
    cpm_eventlog_free(NULL, 0);
}

static void test_append_and_read(void **state)
{
    fixture_t *f = *state;
    uint64_t seq = 0;
    assert_int_equal(
        app(f->s, f->txn, 1700000000123, "complaint.received", "T-1", NULL, "Đơn mới", &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(app(f->s, f->txn, -5, "case.routed", "T-1", "hn.doit", NULL, &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(app(f->s, f->txn, 7, NULL, NULL, NULL, NULL, &seq), 0);
    assert_int_equal(seq, 3);
    commit_and_renew(f);

    Cpm__Event **ev;
    size_t n;
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 0, 10, &ev, &n), 0);
    assert_int_equal(n, 3);
    uint8_t want[32], zero[32] = {0};
    assert_int_equal(ev[0]->seq, 1);
    assert_int_equal(ev[0]->at_ms, 1700000000123);
    assert_string_equal(ev[0]->kind, "complaint.received");
    assert_string_equal(ev[0]->ticket, "T-1");
    assert_string_equal(ev[0]->agency, "");
    assert_string_equal(ev[0]->note, "Đơn mới");
    assert_int_equal(ev[0]->prev_hash.len, 32);
    assert_memory_equal(ev[0]->prev_hash.data, zero, 32);
    assert_int_equal(cpm_hex_decode(H1_HEX, want, 32), 0);
    assert_memory_equal(ev[0]->hash.data, want, 32);
    assert_int_equal(cpm_hex_decode(H2_HEX, want, 32), 0);
    assert_memory_equal(ev[1]->hash.data, want, 32);
    assert_memory_equal(ev[1]->prev_hash.data, ev[0]->hash.data, 32);
    assert_int_equal(ev[1]->at_ms, -5);
    assert_string_equal(ev[2]->kind, "");
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, zero), 0);
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, NULL), 0);
    cpm_eventlog_free(&ev, n);
    assert_null(ev);

    uint64_t head;
    uint8_t hash[32];
    assert_int_equal(cpm_eventlog_head(f->s, f->txn, &head, hash), 0);
    assert_int_equal(head, 3);

    /* From the middle, with a limit, and past the head. */
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 2, 1, &ev, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0]->seq, 2);
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, NULL), 0);
    cpm_eventlog_free(&ev, n);
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 3, 100, &ev, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(ev[0]->hash.data, hash, 32);
    cpm_eventlog_free(&ev, n);
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 4, 100, &ev, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 1, 0, &ev, &n), CPM_E_INVALID);
}

static void test_many_and_reopen_continues_chain(void **state)
{
    fixture_t *f = *state;
    append_n(f, 150); /* more than the first read allocation */
    commit_and_renew(f);
    assert_int_equal(read_all_verified(f), 150);
    stx_close(f);
    stx_open(f, 0);
    append_n(f, 2);
    uint64_t seq;
    assert_int_equal(app(f->s, f->txn, 5, "k", "t", "a", "d", &seq), 0);
    assert_int_equal(seq, 153);
    commit_and_renew(f);
    assert_int_equal(read_all_verified(f), 153);
}

static void test_abort_leaves_head(void **state)
{
    fixture_t *f = *state;
    append_n(f, 2);
    commit_and_renew(f);
    append_n(f, 3);
    cpm_store_abort(&f->txn);
    assert_int_equal(cpm_store_begin(f->s, true, &f->txn), 0);
    assert_int_equal(read_all_verified(f), 2);
    append_n(f, 1);
    assert_int_equal(read_all_verified(f), 3);
}

/* Rewrite event 2 in the store with another detail but its old hashes. */
static void test_tampered_detail_fails_verify(void **state)
{
    fixture_t *f = *state;
    append_n(f, 3);
    Cpm__Event **ev;
    size_t n;
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 2, 1, &ev, &n), 0);
    assert_int_equal(n, 1);
    ev[0]->note[0] ^= 1;
    uint8_t buf[512], key[8];
    size_t len = cpm__event__pack(ev[0], buf);
    cpm_put_be64(key, 2);
    assert_int_equal(cpm_store_put(f->s, f->txn, "events", key, 8, buf, len), 0);
    cpm_eventlog_free(&ev, n);

    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 1, 10, &ev, &n), 0);
    assert_int_equal(n, 3);
    static const uint8_t zero[32];
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, zero), -1);
    assert_int_equal(cpm_eventlog_verify_chain(ev, 1, zero), 0); /* event 1 is still fine */
    assert_int_equal(cpm_eventlog_verify_chain(ev + 2, 1, NULL), 0);
    cpm_eventlog_free(&ev, n);
}

static void test_verify_rejects(void **state)
{
    fixture_t *f = *state;
    append_n(f, 4);
    Cpm__Event **ev;
    size_t n;
    static const uint8_t zero[32];
    uint8_t other[32];
    memset(other, 1, sizeof other);
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 1, 10, &ev, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, zero), 0);

    /* a wrong starting hash */
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, other), -1);
    assert_int_equal(cpm_eventlog_verify_chain(ev + 1, 3, zero), -1);
    assert_int_equal(cpm_eventlog_verify_chain(ev + 1, 3, ev[0]->hash.data), 0);
    /* a gap in seq */
    Cpm__Event *gap[3] = {ev[0], ev[1], ev[3]};
    assert_int_equal(cpm_eventlog_verify_chain(gap, 3, zero), -1);
    /* reordered */
    Cpm__Event *swapped[2] = {ev[1], ev[0]};
    assert_int_equal(cpm_eventlog_verify_chain(swapped, 2, NULL), -1);
    /* each field of one event changed in turn */
    ev[2]->at_ms++;
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, zero), -1);
    ev[2]->at_ms--;
    ev[2]->kind[0] ^= 1;
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, zero), -1);
    ev[2]->kind[0] ^= 1;
    ev[2]->hash.data[31] ^= 1;
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, zero), -1);
    ev[2]->hash.data[31] ^= 1;
    ev[2]->prev_hash.data[0] ^= 1;
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, zero), -1);
    ev[2]->prev_hash.data[0] ^= 1;
    ev[2]->seq = 9;
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, zero), -1);
    ev[2]->seq = 3;
    ev[2]->hash.len = 31;
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, zero), -1);
    ev[2]->hash.len = 32;
    assert_int_equal(cpm_eventlog_verify_chain(ev, n, zero), 0); /* all restored */
    /* trusting events[0] needs a 32-byte prev_hash */
    ev[1]->prev_hash.len = 0;
    assert_int_equal(cpm_eventlog_verify_chain(ev + 1, 1, NULL), -1);
    ev[1]->prev_hash.len = 32;
    /* seq 1 must start from the zero hash, even when trusted */
    ev[0]->prev_hash.data[5] = 1;
    assert_int_equal(cpm_eventlog_verify_chain(ev, 1, NULL), -1);
    ev[0]->prev_hash.data[5] = 0;
    ev[0]->seq = 0;
    assert_int_equal(cpm_eventlog_verify_chain(ev, 1, zero), -1);
    ev[0]->seq = 1;
    /* degenerate input */
    assert_int_equal(cpm_eventlog_verify_chain(ev, 0, NULL), 0);
    assert_int_equal(cpm_eventlog_verify_chain(NULL, 2, zero), -1);
    Cpm__Event *holey[2] = {ev[0], NULL};
    assert_int_equal(cpm_eventlog_verify_chain(holey, 2, zero), -1);
    cpm_eventlog_free(&ev, n);
}

static void test_corrupt_store_is_reported(void **state)
{
    fixture_t *f = *state;
    append_n(f, 2);
    Cpm__Event **ev;
    size_t n;
    uint64_t head, seq;
    /* undecodable event bytes */
    uint8_t key[8];
    cpm_put_be64(key, 2);
    assert_int_equal(cpm_store_put(f->s, f->txn, "events", key, 8, "\xff\xff\xff", 3), 0);
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 1, 10, &ev, &n), CPM_E_INTERNAL);
    assert_int_equal(n, 0);
    assert_null(ev);
    /* an event stored under the wrong seq */
    cpm_put_be64(key, 1);
    const void *v;
    size_t len;
    assert_int_equal(cpm_store_get(f->s, f->txn, "events", key, 8, &v, &len), 0);
    uint8_t copy[512];
    memcpy(copy, v, len);
    cpm_put_be64(key, 2);
    assert_int_equal(cpm_store_put(f->s, f->txn, "events", key, 8, copy, len), 0);
    assert_int_equal(cpm_eventlog_read(f->s, f->txn, 2, 10, &ev, &n), CPM_E_INTERNAL);
    /* a head hash that is not 32 bytes, or missing */
    assert_int_equal(cpm_store_put(f->s, f->txn, "meta", "events.hash", 11, "short", 5), 0);
    assert_int_equal(cpm_eventlog_head(f->s, f->txn, &head, copy), CPM_E_INTERNAL);
    assert_int_equal(app(f->s, f->txn, 1, "k", "", "", "", &seq), CPM_E_INTERNAL);
    assert_int_equal(cpm_store_del(f->s, f->txn, "meta", "events.hash", 11), 0);
    assert_int_equal(cpm_eventlog_head(f->s, f->txn, &head, copy), CPM_E_INTERNAL);
}

static void test_append_store_full(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = stx_open_small(f);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(app(s, txn, 1, "k", "t", "a", "fits", NULL), 0);
    assert_int_equal(cpm_store_commit(txn), 0);

    char *big = malloc(200 * 1024);
    assert_non_null(big);
    memset(big, 'd', 200 * 1024 - 1);
    big[200 * 1024 - 1] = 0;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(app(s, txn, 2, "k", "t", "a", big, NULL), CPM_E_STORE_FULL);
    cpm_store_abort(&txn);
    free(big);

    uint64_t head;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_eventlog_head(s, txn, &head, NULL), 0);
    assert_int_equal(head, 1);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_matches_documented_layout),
        cmocka_unit_test_setup_teardown(test_empty_log, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_append_and_read, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_many_and_reopen_continues_chain, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_head, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_tampered_detail_fails_verify, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_verify_rejects, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_store_is_reported, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_append_store_full, setup, stx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
