/* Tests for cpm_delivery: the receiving half of reliable delivery on a real
 * store, without sockets: in-order batches, duplicates, gaps, dead letters,
 * store errors that abort the batch, and marks that survive a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_delivery.h"
#include "cpm_inbox.h"
#include "cpm_stream.h"
#include "cpm_util.h"
#include "fixtures/domain/domain_fixture.h"

#define S1 "hn.d.hoan-kiem/intake>hn.doit/routing"
#define S2 "hn.d.ba-dinh/intake>hn.doit/routing"

/* The test's apply(): a record "bad" is invalid, "full", "io" and "bug" are
 * store errors, "deny" and "garbage" are other refusals, "big" writes more
 * than a tiny map holds; anything else is stored under "applied:<rec>" in
 * "meta" so the test can see the effect commit or vanish with the mark. */
typedef struct {
    cpm_store_t *st;
    char seen[32][32]; /* records apply() was called with, in order */
    size_t n;
} applier_t;

static int apply_rec(void *ctx, MDB_txn *txn, const uint8_t *rec, size_t len, cpm_error_t *err)
{
    applier_t *a = ctx;
    char r[32];
    snprintf(r, sizeof r, "%.*s", (int)len, (const char *)rec);
    if (a->n < 32)
        snprintf(a->seen[a->n++], sizeof a->seen[0], "%s", r);
    if (!strcmp(r, "bad"))
        return cpm_error_set(err, CPM_E_INVALID, "area", "area is not known.");
    if (!strcmp(r, "deny"))
        return cpm_error_set(err, CPM_E_FORBIDDEN, "intake_node", "intake_node is not the sender");
    if (!strcmp(r, "garbage"))
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "record", "record is not a Complaint");
    if (!strcmp(r, "full"))
        return CPM_E_STORE_FULL;
    if (!strcmp(r, "io"))
        return CPM_E_STORE_IO;
    if (!strcmp(r, "bug"))
        return CPM_E_INTERNAL;
    char key[64];
    snprintf(key, sizeof key, "applied:%s", r);
    if (!strcmp(r, "big")) {
        static uint8_t blob[256 * 1024];
        return cpm_store_put(a->st, txn, "meta", key, strlen(key), blob, sizeof blob);
    }
    return cpm_store_put(a->st, txn, "meta", key, strlen(key), "1", 1);
}

/* The environment's effects seam is unused: delivery has none. */
typedef struct {
    dom_env_t env; /* first, for dom_env_teardown */
    applier_t ap;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = dom_env_new(sizeof *f, "delivery", NULL, 0, "", 0);
    f->ap.st = f->env.st;
    *state = f;
    return 0;
}

/* Apply recs (C strings) as one batch in one write transaction and commit it
 * when the call succeeds; returns cpm_delivery_apply's code. */
static int deliver(fixture_t *f, const char *stream, uint64_t first_seq, const char *const *recs,
                   size_t n, cpm_delivery_result_t *res)
{
    const uint8_t *ptrs[16];
    size_t lens[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = (const uint8_t *)recs[i];
        lens[i] = strlen(recs[i]);
    }
    f->ap.n = 0;
    MDB_txn *txn = dom_begin(f->env.st, true);
    return dom_end(txn, cpm_delivery_apply(f->env.st, txn, stream, first_seq, ptrs, lens, n,
                                           apply_rec, &f->ap, res));
}

static uint64_t hwm(cpm_store_t *st, const char *stream)
{
    MDB_txn *txn;
    uint64_t v = 99;
    assert_int_equal(cpm_store_begin(st, false, &txn), 0);
    assert_int_equal(cpm_inbox_hwm(st, txn, stream, &v), 0);
    cpm_store_abort(&txn);
    return v;
}

static uint64_t dead_count(cpm_store_t *st)
{
    MDB_txn *txn;
    uint64_t n = 99;
    assert_int_equal(cpm_store_begin(st, false, &txn), 0);
    assert_int_equal(cpm_inbox_dead_count(st, txn, &n), 0);
    cpm_store_abort(&txn);
    return n;
}

/* 1 when the effect of record r is committed. */
static int applied(cpm_store_t *st, const char *r)
{
    MDB_txn *txn;
    char key[64];
    const void *v;
    size_t vlen;
    snprintf(key, sizeof key, "applied:%s", r);
    assert_int_equal(cpm_store_begin(st, false, &txn), 0);
    int rc = cpm_store_get(st, txn, "meta", key, strlen(key), &v, &vlen);
    cpm_store_abort(&txn);
    assert_true(rc == 0 || rc == CPM_E_NOT_FOUND);
    return rc == 0;
}

static void test_in_order(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b1[] = {"a", "b", "c"};
    assert_int_equal(deliver(f, S1, 1, b1, 3, &res), 0);
    assert_int_equal(res.hwm, 3);
    assert_int_equal(res.applied, 3);
    assert_int_equal(res.duplicates, 0);
    assert_int_equal(res.dead_letters, 0);
    assert_int_equal(res.gap, 0);
    assert_int_equal(f->ap.n, 3);
    assert_string_equal(f->ap.seen[0], "a");
    assert_string_equal(f->ap.seen[2], "c");
    assert_int_equal(hwm(f->env.st, S1), 3);
    assert_true(applied(f->env.st, "a") && applied(f->env.st, "b") && applied(f->env.st, "c"));

    const char *b2[] = {"d"};
    assert_int_equal(deliver(f, S1, 4, b2, 1, &res), 0);
    assert_int_equal(res.hwm, 4);
    assert_int_equal(res.applied, 1);
    assert_int_equal(hwm(f->env.st, S1), 4);
    /* another stream keeps its own mark */
    assert_int_equal(hwm(f->env.st, S2), 0);
    const char *b3[] = {"x"};
    assert_int_equal(deliver(f, S2, 1, b3, 1, &res), 0);
    assert_int_equal(hwm(f->env.st, S2), 1);
    assert_int_equal(hwm(f->env.st, S1), 4);
}

static void test_duplicates(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b1[] = {"a", "b", "c"};
    assert_int_equal(deliver(f, S1, 1, b1, 3, &res), 0);

    /* the same batch again: nothing is applied twice, the mark stays */
    assert_int_equal(deliver(f, S1, 1, b1, 3, &res), 0);
    assert_int_equal(res.duplicates, 3);
    assert_int_equal(res.applied, 0);
    assert_int_equal(res.hwm, 3);
    assert_int_equal(res.gap, 0);
    assert_int_equal(f->ap.n, 0);

    /* an overlapping batch: the old part is skipped, the new part applied */
    const char *b2[] = {"b", "c", "d", "e"};
    assert_int_equal(deliver(f, S1, 2, b2, 4, &res), 0);
    assert_int_equal(res.duplicates, 2);
    assert_int_equal(res.applied, 2);
    assert_int_equal(res.hwm, 5);
    assert_int_equal(f->ap.n, 2);
    assert_string_equal(f->ap.seen[0], "d");
    assert_string_equal(f->ap.seen[1], "e");
    assert_int_equal(hwm(f->env.st, S1), 5);
}

static void test_gap(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b1[] = {"a", "b"};
    assert_int_equal(deliver(f, S1, 1, b1, 2, &res), 0);

    const char *b2[] = {"d", "e"};
    assert_int_equal(deliver(f, S1, 4, b2, 2, &res), 0); /* 3 is missing */
    assert_int_equal(res.gap, 1);
    assert_int_equal(res.applied, 0);
    assert_int_equal(res.duplicates, 0);
    assert_int_equal(res.hwm, 2); /* what to acknowledge: the old mark */
    assert_int_equal(f->ap.n, 0);
    assert_false(applied(f->env.st, "d"));
    assert_int_equal(hwm(f->env.st, S1), 2);

    /* a first batch that does not start at 1 is a gap as well */
    assert_int_equal(deliver(f, S2, 2, b2, 2, &res), 0);
    assert_int_equal(res.gap, 1);
    assert_int_equal(res.hwm, 0);
    assert_int_equal(hwm(f->env.st, S2), 0);

    /* after the gap is filled the stream moves on */
    const char *b3[] = {"c", "d", "e"};
    assert_int_equal(deliver(f, S1, 3, b3, 3, &res), 0);
    assert_int_equal(res.gap, 0);
    assert_int_equal(res.applied, 3);
    assert_int_equal(hwm(f->env.st, S1), 5);
}

static void test_first_seq_zero(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"a"};
    /* seq 0 does not exist: treated as a gap on a new and on a used stream */
    assert_int_equal(deliver(f, S1, 0, b, 1, &res), 0);
    assert_int_equal(res.gap, 1);
    assert_int_equal(res.applied, 0);
    assert_int_equal(res.duplicates, 0);
    assert_int_equal(f->ap.n, 0);
    assert_int_equal(hwm(f->env.st, S1), 0);
    assert_int_equal(deliver(f, S1, 1, b, 1, &res), 0);
    assert_int_equal(deliver(f, S1, 0, b, 1, &res), 0);
    assert_int_equal(res.gap, 1);
    assert_int_equal(res.duplicates, 0);
    assert_int_equal(res.hwm, 1);
    assert_int_equal(f->ap.n, 0);
}

static void test_empty_batch(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    assert_int_equal(deliver(f, S1, 1, NULL, 0, &res), 0);
    assert_int_equal(res.gap, 0);
    assert_int_equal(res.applied, 0);
    assert_int_equal(res.hwm, 0);
    assert_int_equal(hwm(f->env.st, S1), 0);
}

/* Read the dead letter of stream/seq: "reason\0record". */
static void check_dead(cpm_store_t *st, const char *stream, uint64_t seq, const char *reason,
                       const char *rec)
{
    uint8_t key[512];
    size_t slen = strlen(stream);
    memcpy(key, stream, slen + 1);
    cpm_put_be64(key + slen + 1, seq);
    MDB_txn *txn;
    const void *v;
    size_t vlen;
    assert_int_equal(cpm_store_begin(st, false, &txn), 0);
    assert_int_equal(cpm_store_get(st, txn, "dead", key, slen + 9, &v, &vlen), 0);
    size_t rlen = strlen(reason);
    assert_int_equal(vlen, rlen + 1 + strlen(rec));
    assert_memory_equal(v, reason, rlen + 1);
    assert_memory_equal((const char *)v + rlen + 1, rec, strlen(rec));
    cpm_store_abort(&txn);
}

static void test_dead_letters(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b1[] = {"a", "bad", "c"};
    assert_int_equal(deliver(f, S1, 1, b1, 3, &res), 0);
    assert_int_equal(res.applied, 2);
    assert_int_equal(res.dead_letters, 1);
    assert_int_equal(res.hwm, 3); /* the mark passes the bad record */
    assert_int_equal(hwm(f->env.st, S1), 3);
    assert_true(applied(f->env.st, "a"));
    assert_true(applied(f->env.st, "c"));
    assert_int_equal(dead_count(f->env.st), 1);
    check_dead(f->env.st, S1, 2, "area is not known.", "bad");

    /* any refusal that is not a store error is kept aside the same way */
    const char *b2[] = {"deny", "garbage", "d"};
    assert_int_equal(deliver(f, S1, 4, b2, 3, &res), 0);
    assert_int_equal(res.dead_letters, 2);
    assert_int_equal(res.applied, 1);
    assert_int_equal(res.hwm, 6);
    assert_int_equal(dead_count(f->env.st), 3);
    check_dead(f->env.st, S1, 4, "intake_node is not the sender", "deny");
    check_dead(f->env.st, S1, 5, "record is not a Complaint", "garbage");

    /* a dead letter delivered again is a duplicate, not a second dead letter */
    assert_int_equal(deliver(f, S1, 2, b1 + 1, 1, &res), 0);
    assert_int_equal(res.duplicates, 1);
    assert_int_equal(res.dead_letters, 0);
    assert_int_equal(dead_count(f->env.st), 3);
}

/* An empty record is a tombstone: the mark passes it, nothing is applied or
 * kept, and the records after it are applied. */
static void test_tombstone(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b1[] = {"a", "", "c"};
    assert_int_equal(deliver(f, S1, 1, b1, 3, &res), 0);
    assert_int_equal(res.applied, 2);
    assert_int_equal(res.skipped, 1);
    assert_int_equal(res.dead_letters, 0);
    assert_int_equal(res.hwm, 3);
    assert_int_equal(f->ap.n, 2); /* apply() never saw the tombstone */
    assert_int_equal(dead_count(f->env.st), 0);
    assert_true(applied(f->env.st, "c"));
}

static void test_check_batch(void **state)
{
    (void)state;
    cpm_error_t e = {0};
    size_t *lens = calloc(CPM_DELIVERY_RECORDS_MAX + 1, sizeof *lens);
    assert_int_equal(cpm_delivery_check_batch(lens, CPM_DELIVERY_RECORDS_MAX, &e), 0);
    assert_int_equal(cpm_delivery_check_batch(lens, CPM_DELIVERY_RECORDS_MAX + 1, &e),
                     CPM_E_TOO_LARGE);
    assert_string_equal(e.field, "records");
    lens[0] = CPM_DELIVERY_RECORD_MAX + 1;
    assert_int_equal(cpm_delivery_check_batch(lens, 1, &e), CPM_E_TOO_LARGE);
    lens[0] = lens[1] = lens[2] = CPM_DELIVERY_RECORD_MAX;
    assert_int_equal(cpm_delivery_check_batch(lens, 2, &e), 0);
    assert_int_equal(cpm_delivery_check_batch(lens, 3, &e), CPM_E_TOO_LARGE);
    assert_non_null(strstr(e.message, "in all"));
    free(lens);
}

/* Past CPM_DELIVERY_DEAD_MAX dead letters of one member, a batch that would
 * add one is refused as a whole, retryably, on any of that member's streams;
 * good records and other members are not affected. */
static void test_dead_letter_cap(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *bad[16];
    for (int i = 0; i < 16; i++)
        bad[i] = "bad";
    uint64_t seq = 1;
    while (seq <= CPM_DELIVERY_DEAD_MAX) {
        size_t n = CPM_DELIVERY_DEAD_MAX + 1 - seq < 16 ? CPM_DELIVERY_DEAD_MAX + 1 - seq : 16;
        assert_int_equal(deliver(f, S1, seq, bad, n, &res), 0);
        assert_int_equal(res.dead_letters, n);
        seq += n;
    }
    assert_int_equal(dead_count(f->env.st), CPM_DELIVERY_DEAD_MAX);
    const char *b1[] = {"ok1", "bad"};
    assert_int_equal(deliver(f, S1, seq, b1, 2, &res), CPM_E_UNAVAILABLE);
    assert_int_equal(res.stuck, 1);
    assert_int_equal(hwm(f->env.st, S1), CPM_DELIVERY_DEAD_MAX); /* nothing of it applied */
    assert_false(applied(f->env.st, "ok1"));
    assert_int_equal(dead_count(f->env.st), CPM_DELIVERY_DEAD_MAX);
    /* a fresh stream of the same member (another instance) is no way round */
    const char *fresh = "hn.d.hoan-kiem/other>hn.doit/routing";
    assert_int_equal(deliver(f, fresh, 1, b1 + 1, 1, &res), CPM_E_UNAVAILABLE);
    /* good records still pass; other members are not affected */
    assert_int_equal(deliver(f, S1, seq, b1, 1, &res), 0);
    assert_int_equal(res.applied, 1);
    assert_int_equal(deliver(f, S2, 1, b1 + 1, 1, &res), 0);
    assert_int_equal(res.dead_letters, 1);
}

/* A store error stops the batch; after abort nothing of it is visible. */
static void check_store_error(fixture_t *f, const char *rec, int code)
{
    cpm_delivery_result_t res;
    const char *b0[] = {"a"};
    assert_int_equal(deliver(f, S1, 1, b0, 1, &res), 0);
    const char *b1[] = {"b", rec, "c"};
    assert_int_equal(deliver(f, S1, 2, b1, 3, &res), code);
    assert_int_equal(f->ap.n, 2); /* "c" was never tried */
    assert_int_equal(hwm(f->env.st, S1), 1);
    assert_false(applied(f->env.st, "b"));
    assert_false(applied(f->env.st, "c"));
    assert_int_equal(dead_count(f->env.st), 0);
    /* redelivered once the store is fine again (here: without the bad one) */
    const char *b2[] = {"b", "c"};
    assert_int_equal(deliver(f, S1, 2, b2, 2, &res), 0);
    assert_int_equal(res.applied, 2);
    assert_int_equal(hwm(f->env.st, S1), 3);
}

static void test_store_full(void **state)
{
    check_store_error(*state, "full", CPM_E_STORE_FULL);
}

static void test_store_io(void **state)
{
    check_store_error(*state, "io", CPM_E_STORE_IO);
}

/* An internal error is about the record, not the store: it can never be
 * applied, so it is kept aside instead of stalling the stream forever. */
static void test_internal_error_is_a_dead_letter(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"a", "bug", "c"};
    assert_int_equal(deliver(f, S1, 1, b, 3, &res), 0);
    assert_int_equal(res.applied, 2);
    assert_int_equal(res.dead_letters, 1);
    assert_int_equal(hwm(f->env.st, S1), 3);
    assert_true(applied(f->env.st, "c"));
    assert_int_equal(dead_count(f->env.st), 1);
}

/* The store errors (cpm_err_is_store; delivery's name for it agrees). */
static void test_is_store_error(void **state)
{
    (void)state;
    const int store[] = {CPM_E_STORE_FULL, CPM_E_STORE_IO};
    const int other[] = {CPM_E_INTERNAL,    0,
                         CPM_E_INVALID,     CPM_E_FORBIDDEN,
                         CPM_E_BAD_MESSAGE, CPM_E_UNAVAILABLE,
                         CPM_E_TIMEOUT,     CPM_E_TOO_LARGE};
    for (size_t i = 0; i < sizeof store / sizeof store[0]; i++) {
        assert_true(cpm_err_is_store(store[i]));
        assert_true(cpm_delivery_is_store_error(store[i]));
    }
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        assert_false(cpm_err_is_store(other[i]));
        assert_false(cpm_delivery_is_store_error(other[i]));
    }
}

/* A real LMDB map-full inside apply(): the same contract as a reported one. */
static void test_real_map_full(void **state)
{
    fixture_t *f = *state;
    char sub[128];
    static const char *const none[] = {NULL};
    cpm_store_t *tiny = dom_open_tiny(f->env.dir, none, sub);
    applier_t ap = {.st = tiny};
    const uint8_t *recs[] = {(const uint8_t *)"a", (const uint8_t *)"big"};
    size_t lens[] = {1, 3};
    cpm_delivery_result_t res;
    MDB_txn *txn = dom_begin(tiny, true);
    assert_int_equal(cpm_delivery_apply(tiny, txn, S1, 1, recs, lens, 2, apply_rec, &ap, &res),
                     CPM_E_STORE_FULL);
    cpm_store_abort(&txn);
    assert_int_equal(hwm(tiny, S1), 0);
    assert_false(applied(tiny, "a"));
    cpm_store_destroy(&tiny);
}

static void test_persistence(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b1[] = {"a", "bad", "c"};
    assert_int_equal(deliver(f, S1, 1, b1, 3, &res), 0);
    cpm_store_destroy(&f->env.st);
    f->env.st = dom_open(f->env.dir, 0, NULL);
    f->ap.st = f->env.st;
    assert_int_equal(hwm(f->env.st, S1), 3);
    assert_int_equal(dead_count(f->env.st), 1);
    /* after a restart the sender resends from its last ack: all duplicates */
    assert_int_equal(deliver(f, S1, 1, b1, 3, &res), 0);
    assert_int_equal(res.duplicates, 3);
    assert_int_equal(res.applied, 0);
    assert_int_equal(f->ap.n, 0);
    const char *b2[] = {"d"};
    assert_int_equal(deliver(f, S1, 4, b2, 1, &res), 0);
    assert_int_equal(res.applied, 1);
    assert_int_equal(hwm(f->env.st, S1), 4);
}

static void test_bad_stream(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"a"};
    /* an empty stream name is refused before anything is applied */
    assert_int_not_equal(deliver(f, "", 1, b, 1, &res), 0);
    assert_int_equal(f->ap.n, 0);
    assert_false(applied(f->env.st, "a"));
}

/* A sender whose store was created anew numbers from 1 again under a new
 * epoch: its records get a mark of their own, not taken for duplicates. */
static void test_new_epoch_gets_its_own_mark(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    char e1[420], e2[420], plain[420];
    assert_int_equal(cpm_stream_mark(S1, 0x1111, e1, sizeof e1), 0);
    assert_int_equal(cpm_stream_mark(S1, 0x2222, e2, sizeof e2), 0);
    assert_int_equal(cpm_stream_mark(S1, 0, plain, sizeof plain), 0);
    assert_string_equal(plain, S1);
    assert_string_not_equal(e1, e2);
    assert_non_null(strstr(e1, "@0000000000001111"));
    const char *b1[] = {"a", "b", "c"};
    assert_int_equal(deliver(f, e1, 1, b1, 3, &res), 0);
    assert_int_equal(res.applied, 3);
    const char *b2[] = {"d", "e"};
    assert_int_equal(deliver(f, e2, 1, b2, 2, &res), 0); /* numbers 1, 2 again */
    assert_int_equal(res.applied, 2);
    assert_int_equal(res.duplicates, 0);
    assert_true(applied(f->env.st, "d"));
    assert_int_equal(hwm(f->env.st, e1), 3);
    assert_int_equal(hwm(f->env.st, e2), 2);
    /* and the old epoch's late resends are still duplicates */
    assert_int_equal(deliver(f, e1, 2, b1 + 1, 2, &res), 0);
    assert_int_equal(res.duplicates, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_in_order, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_gap, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_first_seq_zero, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_empty_batch, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_dead_letters, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_tombstone, setup, dom_env_teardown),
        cmocka_unit_test(test_check_batch),
        cmocka_unit_test_setup_teardown(test_dead_letter_cap, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_store_full, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_store_io, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_internal_error_is_a_dead_letter, setup,
                                        dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_new_epoch_gets_its_own_mark, setup, dom_env_teardown),
        cmocka_unit_test(test_is_store_error),
        cmocka_unit_test_setup_teardown(test_real_map_full, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_bad_stream, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
