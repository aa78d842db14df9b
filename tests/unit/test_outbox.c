/* Tests for cpm_outbox: numbering, reading in batches, acks, streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_err.h"
#include "cpm_outbox.h"
#include "cpm_util.h"
#include "fixtures/store/store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S1 "hn.d.hoan-kiem/intake>hn.doit/routing"
#define S2 "hn.d.hoan-kiem/intake>hn.doit/routing2" /* S1 is a prefix of S2 */

typedef stx_t fixture_t;

static int setup(void **state)
{
    *state = stx_new("outbox");
    return 0;
}

/* Put a record whose bytes are "<tag>:<seq-as-expected>" padded to len. */
static uint64_t put_rec(fixture_t *f, const char *stream, size_t len, char fill)
{
    uint8_t buf[4096];
    assert_true(len <= sizeof buf);
    memset(buf, fill, len);
    uint64_t seq = 0;
    assert_int_equal(cpm_outbox_put(f->s, f->txn, stream, buf, len, &seq), 0);
    return seq;
}

static void commit_and_renew(fixture_t *f)
{
    assert_int_equal(cpm_store_commit(f->txn), 0);
    assert_int_equal(cpm_store_begin(f->s, true, &f->txn), 0);
}

static void test_put_numbers_each_stream(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(put_rec(f, S1, 10, 'a'), 1);
    assert_int_equal(put_rec(f, S1, 10, 'b'), 2);
    assert_int_equal(put_rec(f, S2, 10, 'x'), 1);
    assert_int_equal(put_rec(f, S1, 0, 'c'), 3); /* empty record is allowed */
    assert_int_equal(cpm_outbox_put(f->s, f->txn, S1, (const uint8_t *)"z", 1, NULL), 0);

    /* The documented layout: key stream \0 seq BE, next in meta. */
    uint8_t key[sizeof S1 + 8];
    memcpy(key, S1, sizeof S1);
    cpm_put_be64(key + sizeof S1, 2);
    const void *v;
    size_t len;
    assert_int_equal(cpm_store_get(f->s, f->txn, "outbox", key, sizeof key, &v, &len), 0);
    assert_int_equal(len, 10);
    assert_memory_equal(v, "bbbbbbbbbb", 10);
    uint64_t next;
    assert_int_equal(cpm_store_get_u64(f->s, f->txn, "outbox.next:" S1, &next), 0);
    assert_int_equal(next, 5);
    uint64_t depth;
    assert_int_equal(cpm_outbox_depth(f->s, f->txn, S1, &depth), 0);
    assert_int_equal(depth, 4);
    assert_int_equal(cpm_outbox_depth(f->s, f->txn, S2, &depth), 0);
    assert_int_equal(depth, 1);
    assert_int_equal(cpm_outbox_depth(f->s, f->txn, "never/x>y/z", &depth), 0);
    assert_int_equal(depth, 0);
}

static void test_read_copies_and_limits(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 5; i++)
        put_rec(f, S1, 100, (char)('a' + i));
    put_rec(f, S2, 100, 'x');
    commit_and_renew(f);

    cpm_outbox_batch_t b;
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 2, 10, 1 << 20, &b), 0);
    cpm_store_abort(&f->txn); /* the copies outlive the transaction */
    assert_int_equal(b.first_seq, 2);
    assert_int_equal(b.n, 4); /* 2..5, not S2's record */
    for (size_t i = 0; i < b.n; i++) {
        assert_int_equal(b.lens[i], 100);
        assert_int_equal(b.recs[i][0], 'b' + (int)i);
        assert_int_equal(b.recs[i][99], 'b' + (int)i);
    }
    cpm_outbox_batch_clear(&b);
    assert_int_equal(b.n, 0);
    assert_null(b.recs);
    cpm_outbox_batch_clear(&b); /* twice is fine */
    cpm_outbox_batch_clear(NULL);
    assert_int_equal(cpm_store_begin(f->s, false, &f->txn), 0);

    /* max_n */
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 1, 2, 1 << 20, &b), 0);
    assert_int_equal(b.first_seq, 1);
    assert_int_equal(b.n, 2);
    cpm_outbox_batch_clear(&b);
    /* max_bytes: 250 holds two records of 100, not three */
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 1, 10, 250, &b), 0);
    assert_int_equal(b.n, 2);
    cpm_outbox_batch_clear(&b);
    /* exactly 300 holds three */
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 1, 10, 300, &b), 0);
    assert_int_equal(b.n, 3);
    cpm_outbox_batch_clear(&b);
    /* a first record bigger than max_bytes still comes, alone */
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 3, 10, 10, &b), 0);
    assert_int_equal(b.first_seq, 3);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.recs[0][0], 'c');
    cpm_outbox_batch_clear(&b);
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 3, 10, 0, &b), 0);
    assert_int_equal(b.n, 1);
    cpm_outbox_batch_clear(&b);
    /* from 0 means from the first kept record */
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S2, 0, 10, 1 << 20, &b), 0);
    assert_int_equal(b.first_seq, 1);
    assert_int_equal(b.n, 1);
    cpm_outbox_batch_clear(&b);
    /* past the end, and an unknown stream: nothing */
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 6, 10, 1 << 20, &b), 0);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.first_seq, 6);
    assert_null(b.recs);
    cpm_outbox_batch_clear(&b);
    assert_int_equal(cpm_outbox_read(f->s, f->txn, "a/b>c/d", 1, 10, 1 << 20, &b), 0);
    assert_int_equal(b.n, 0);
}

/* Each stream gets a random, non-zero epoch with its first record, kept for
 * good; another stream (or a store created anew) gets another. */
static void test_epoch(void **state)
{
    fixture_t *f = *state;
    uint64_t e1 = 1, e2 = 1, again = 0;
    assert_int_equal(cpm_outbox_epoch(f->s, f->txn, S1, &e1), 0);
    assert_int_equal(e1, 0); /* no record yet */
    put_rec(f, S1, 10, 'a');
    assert_int_equal(cpm_outbox_epoch(f->s, f->txn, S1, &e1), 0);
    assert_true(e1 != 0);
    put_rec(f, S1, 10, 'b');
    commit_and_renew(f);
    assert_int_equal(cpm_outbox_epoch(f->s, f->txn, S1, &again), 0);
    assert_true(again == e1);
    put_rec(f, S2, 10, 'c');
    assert_int_equal(cpm_outbox_epoch(f->s, f->txn, S2, &e2), 0);
    assert_true(e2 != 0 && e2 != e1);
    assert_int_equal(cpm_outbox_epoch(f->s, f->txn, "", &e2), CPM_E_INVALID);
}

static void test_ack(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 1000; i++) /* spans many pages: cursor deletes must not skip */
        put_rec(f, S1, 200, 'a');
    put_rec(f, S2, 10, 'x');
    commit_and_renew(f);

    uint64_t acked = 99, depth;
    assert_int_equal(cpm_outbox_acked(f->s, f->txn, S1, &acked), 0);
    assert_int_equal(acked, 0);
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 700), 0);
    commit_and_renew(f);
    assert_int_equal(cpm_outbox_acked(f->s, f->txn, S1, &acked), 0);
    assert_int_equal(acked, 700);
    assert_int_equal(cpm_outbox_depth(f->s, f->txn, S1, &depth), 0);
    assert_int_equal(depth, 300);

    /* Exactly 701..1000 are left, and the other stream is untouched. */
    cpm_outbox_batch_t b;
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 1, 5000, SIZE_MAX, &b), 0);
    assert_int_equal(b.first_seq, 701);
    assert_int_equal(b.n, 300);
    cpm_outbox_batch_clear(&b);
    MDB_stat st;
    assert_int_equal(mdb_stat(f->txn, cpm_store_dbi(f->s, "outbox"), &st), 0);
    assert_int_equal(st.ms_entries, 301);

    /* Old and repeated acks change nothing. */
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 5), 0);
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 700), 0);
    assert_int_equal(cpm_outbox_acked(f->s, f->txn, S1, &acked), 0);
    assert_int_equal(acked, 700);

    /* Acking everything empties the stream; numbering continues. */
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 1000), 0);
    assert_int_equal(cpm_outbox_depth(f->s, f->txn, S1, &depth), 0);
    assert_int_equal(depth, 0);
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 1, 10, 100, &b), 0);
    assert_int_equal(b.n, 0);
    assert_int_equal(put_rec(f, S1, 5, 'n'), 1001);
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 0, 10, 100, &b), 0);
    assert_int_equal(b.first_seq, 1001);
    assert_int_equal(b.n, 1);
    cpm_outbox_batch_clear(&b);
    assert_int_equal(mdb_stat(f->txn, cpm_store_dbi(f->s, "outbox"), &st), 0);
    assert_int_equal(st.ms_entries, 2);
}

static void test_ack_beyond_last_is_conflict(void **state)
{
    fixture_t *f = *state;
    put_rec(f, S1, 1, 'a');
    put_rec(f, S1, 1, 'a');
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 3), CPM_E_CONFLICT);
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, "no/such>stream/x", 1), CPM_E_CONFLICT);
    uint64_t acked;
    assert_int_equal(cpm_outbox_acked(f->s, f->txn, S1, &acked), 0);
    assert_int_equal(acked, 0);
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 2), 0);
}

static void test_streams(void **state)
{
    fixture_t *f = *state;
    char **names = (char **)1;
    size_t n = 9;
    assert_int_equal(cpm_outbox_streams(f->s, f->txn, &names, &n), 0);
    assert_int_equal(n, 0);
    assert_null(names);

    put_rec(f, S2, 1, 'a');
    put_rec(f, S1, 1, 'a');
    put_rec(f, S1, 1, 'a');
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 2), 0); /* acked streams still listed */
    /* Neighbouring meta keys must not be taken for streams. */
    assert_int_equal(cpm_store_put_u64(f->s, f->txn, "outbox.nexu", 1), 0);
    assert_int_equal(cpm_store_put_u64(f->s, f->txn, "outbox.nex", 1), 0);
    assert_int_equal(cpm_store_put_u64(f->s, f->txn, "outbox.next:", 1), 0);
    commit_and_renew(f);
    assert_int_equal(cpm_outbox_streams(f->s, f->txn, &names, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], S1); /* key order */
    assert_string_equal(names[1], S2);
    cpm_outbox_streams_free(&names, n);
    assert_null(names);
    cpm_outbox_streams_free(&names, 0);
    cpm_outbox_streams_free(NULL, 0);
}

static void test_persists_across_reopen(void **state)
{
    fixture_t *f = *state;
    put_rec(f, S1, 3, 'a');
    put_rec(f, S1, 3, 'b');
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 1), 0);
    assert_int_equal(cpm_store_commit(f->txn), 0);
    f->txn = NULL;
    cpm_store_destroy(&f->s);
    char err[256];
    f->s = cpm_store_open(f->dir, 0, NULL, err, sizeof err);
    assert_non_null(f->s);
    assert_int_equal(cpm_store_begin(f->s, true, &f->txn), 0);
    uint64_t acked, depth;
    assert_int_equal(cpm_outbox_acked(f->s, f->txn, S1, &acked), 0);
    assert_int_equal(acked, 1);
    assert_int_equal(cpm_outbox_depth(f->s, f->txn, S1, &depth), 0);
    assert_int_equal(depth, 1);
    assert_int_equal(put_rec(f, S1, 3, 'c'), 3);
    cpm_outbox_batch_t b;
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 0, 10, 100, &b), 0);
    assert_int_equal(b.first_seq, 2);
    assert_int_equal(b.n, 2);
    assert_memory_equal(b.recs[0], "bbb", 3);
    assert_memory_equal(b.recs[1], "ccc", 3);
    cpm_outbox_batch_clear(&b);
}

static void test_bad_input(void **state)
{
    fixture_t *f = *state;
    char longname[600];
    memset(longname, 's', 481);
    longname[481] = 0;
    const char *bad[] = {NULL, "", longname};
    uint64_t v;
    char **names;
    size_t n;
    cpm_outbox_batch_t b;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cpm_outbox_put(f->s, f->txn, bad[i], (const uint8_t *)"r", 1, &v),
                         CPM_E_INVALID);
        assert_int_equal(cpm_outbox_read(f->s, f->txn, bad[i], 1, 1, 1, &b), CPM_E_INVALID);
        assert_int_equal(b.n, 0);
        assert_int_equal(cpm_outbox_ack(f->s, f->txn, bad[i], 1), CPM_E_INVALID);
        assert_int_equal(cpm_outbox_acked(f->s, f->txn, bad[i], &v), CPM_E_INVALID);
        assert_int_equal(cpm_outbox_depth(f->s, f->txn, bad[i], &v), CPM_E_INVALID);
    }
    /* The longest allowed name works end to end. */
    longname[480] = 0;
    assert_int_equal(put_rec(f, longname, 4, 'l'), 1);
    assert_int_equal(cpm_outbox_read(f->s, f->txn, longname, 1, 1, 1, &b), 0);
    assert_int_equal(b.n, 1);
    cpm_outbox_batch_clear(&b);
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, longname, 1), 0);
    assert_int_equal(cpm_outbox_streams(f->s, f->txn, &names, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], longname);
    cpm_outbox_streams_free(&names, n);

    assert_int_equal(cpm_outbox_put(f->s, f->txn, S1, NULL, 5, &v), CPM_E_INVALID);
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 1, 0, 100, &b), CPM_E_INVALID);
    /* A corrupt counter is reported, not trusted. */
    assert_int_equal(
        cpm_store_put(f->s, f->txn, "meta", "outbox.next:" S1, 12 + strlen(S1), "x", 1), 0);
    assert_int_equal(cpm_outbox_put(f->s, f->txn, S1, (const uint8_t *)"r", 1, &v), CPM_E_INTERNAL);
    assert_int_equal(cpm_outbox_depth(f->s, f->txn, S1, &v), CPM_E_INTERNAL);
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 1), CPM_E_INTERNAL);
}

static void test_store_full_leaves_outbox_unchanged(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = stx_open_small(f);
    MDB_txn *txn;
    uint8_t rec[2000];
    memset(rec, 'r', sizeof rec);
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_outbox_put(s, txn, S1, rec, 10, NULL), 0);
    assert_int_equal(cpm_store_commit(txn), 0);

    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    int rc = 0;
    for (int i = 0; i < 200 && rc == 0; i++)
        rc = cpm_outbox_put(s, txn, S1, rec, sizeof rec, NULL);
    if (rc == 0)
        rc = cpm_store_commit(txn);
    else
        cpm_store_abort(&txn);
    assert_int_equal(rc, CPM_E_STORE_FULL);

    uint64_t depth;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_outbox_depth(s, txn, S1, &depth), 0);
    assert_int_equal(depth, 1);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
}

/* A reference is read as the bytes it refers to, in order among plain
 * records, and counted at their size against max_bytes. */
static void test_ref_read_as_its_bytes(void **state)
{
    fixture_t *f = *state;
    uint8_t big[300];
    memset(big, 'b', sizeof big);
    assert_int_equal(cpm_store_put(f->s, f->txn, CPM_DB_DEAD, "held:1", 6, big, sizeof big), 0);
    assert_int_equal(cpm_store_put(f->s, f->txn, CPM_DB_DEAD, "held:2", 6, "two", 3), 0);
    uint64_t seq = 0;
    put_rec(f, S1, 10, 'a');
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, S1, CPM_DB_DEAD, "held:1", 6, &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, S1, CPM_DB_DEAD, "held:2", 6, &seq), 0);
    assert_int_equal(seq, 3);
    put_rec(f, S1, 10, 'c');
    commit_and_renew(f);

    cpm_outbox_batch_t b;
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 1, 10, 1 << 20, &b), 0);
    assert_int_equal(b.n, 4);
    assert_int_equal(b.lens[1], sizeof big);
    assert_memory_equal(b.recs[1], big, sizeof big);
    assert_int_equal(b.lens[2], 3);
    assert_memory_equal(b.recs[2], "two", 3);
    assert_int_equal(b.recs[3][0], 'c');
    cpm_outbox_batch_clear(&b);
    /* 10 + 300 > 200: the reference's bytes count, not its own few */
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 1, 10, 200, &b), 0);
    assert_int_equal(b.n, 1);
    cpm_outbox_batch_clear(&b);
    /* a reference first in a batch goes whatever its size */
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 2, 10, 100, &b), 0);
    assert_int_equal(b.first_seq, 2);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.lens[0], sizeof big);
    cpm_outbox_batch_clear(&b);
    /* acked, the references go; the bytes they referred to stay */
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 3), 0);
    const void *v;
    size_t vlen;
    assert_int_equal(cpm_store_get(f->s, f->txn, CPM_DB_DEAD, "held:1", 6, &v, &vlen), 0);
    assert_int_equal(vlen, sizeof big);
}

/* Bytes gone under a reference: never something else in their place, and
 * the records before it are not held up. */
static void test_ref_to_missing_bytes(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(cpm_store_put(f->s, f->txn, CPM_DB_DEAD, "held:9", 6, "x", 1), 0);
    put_rec(f, S1, 10, 'a');
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, S1, CPM_DB_DEAD, "held:9", 6, NULL), 0);
    assert_int_equal(cpm_store_del(f->s, f->txn, CPM_DB_DEAD, "held:9", 6), 0);
    put_rec(f, S1, 10, 'c');
    cpm_outbox_batch_t b;
    /* the record before it still goes: the batch ends there */
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 1, 10, 1 << 20, &b), 0);
    assert_int_equal(b.first_seq, 1);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.recs[0][0], 'a');
    cpm_outbox_batch_clear(&b);
    /* read from it: an error and nothing, not the record after it */
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S1, 2, 10, 1 << 20, &b), CPM_E_INTERNAL);
    assert_int_equal(b.n, 0);
    assert_null(b.recs);
    /* a reference to a database the store does not have */
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, S2, "nosuchdb", "k", 1, NULL), 0);
    assert_int_equal(cpm_outbox_read(f->s, f->txn, S2, 1, 10, 1 << 20, &b), CPM_E_INTERNAL);
    assert_int_equal(b.n, 0);
}

static void test_ref_bad_input(void **state)
{
    fixture_t *f = *state;
    uint64_t v = 0;
    char longkey[300];
    memset(longkey, 'k', sizeof longkey);
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, S1, "", "k", 1, &v), CPM_E_INVALID);
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, S1, NULL, "k", 1, &v), CPM_E_INVALID);
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, S1, CPM_DB_DEAD, "k", 0, &v), CPM_E_INVALID);
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, S1, CPM_DB_DEAD, NULL, 1, &v), CPM_E_INVALID);
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, S1, CPM_DB_DEAD, longkey, 256, &v),
                     CPM_E_INVALID);
    char longdb[70];
    memset(longdb, 'd', 64);
    longdb[64] = 0; /* 64 bytes: one more than a reference holds */
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, S1, longdb, "k", 1, &v), CPM_E_INVALID);
    longdb[63] = 0; /* 63: fits, though the store has no such database */
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, S2, longdb, "k", 1, &v), 0);
    assert_int_equal(cpm_outbox_put_ref(f->s, f->txn, "", CPM_DB_DEAD, "k", 1, &v), CPM_E_INVALID);
    /* a plain record may not look like a reference (no protobuf does) */
    assert_int_equal(cpm_outbox_put(f->s, f->txn, S1, (const uint8_t *)"\0R" CPM_DB_DEAD, 7, &v),
                     CPM_E_INVALID);
    assert_int_equal(cpm_outbox_put(f->s, f->txn, S1, (const uint8_t *)"\0", 1, &v), CPM_E_INVALID);
    uint64_t depth = 9;
    assert_int_equal(cpm_outbox_depth(f->s, f->txn, S1, &depth), 0);
    assert_int_equal(depth, 0);
    /* an empty record (a tombstone's shape) is still a record */
    assert_int_equal(cpm_outbox_put(f->s, f->txn, S1, (const uint8_t *)"", 0, &v), 0);
    assert_int_equal(v, 1);
}

/* The format mark: set on a store from before; a newer build's mark is
 * refused while records wait (naming the field), and lowered once none do. */
static void test_format_mark(void **state)
{
    fixture_t *f = *state;
    uint64_t mark = 9, lowered = 9;
    cpm_error_t e = {0};
    assert_int_equal(cpm_store_get_u64(f->s, f->txn, "outbox.format", &mark), 0);
    assert_int_equal(mark, 0); /* a store from before */
    assert_int_equal(cpm_outbox_format_open(f->s, f->txn, &lowered, &e), 0);
    assert_int_equal(lowered, 0);
    assert_int_equal(cpm_store_get_u64(f->s, f->txn, "outbox.format", &mark), 0);
    assert_int_equal(mark, CPM_OUTBOX_FORMAT);

    /* a newer build ran this store and left 2 records unacknowledged */
    put_rec(f, S1, 10, 'a');
    put_rec(f, S1, 10, 'b');
    put_rec(f, S2, 10, 'c');
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S2, 1), 0);
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 0), 0);
    assert_int_equal(cpm_store_put_u64(f->s, f->txn, "outbox.format", CPM_OUTBOX_FORMAT + 1), 0);
    assert_int_equal(cpm_outbox_format_open(f->s, f->txn, &lowered, &e), CPM_E_CONFLICT);
    assert_string_equal(e.field, "outbox.format");
    assert_non_null(strstr(e.message, "2 records wait for their peers (streams: 1)"));
    assert_non_null(strstr(e.message, "outbox 0"));
    assert_int_equal(cpm_store_get_u64(f->s, f->txn, "outbox.format", &mark), 0);
    assert_int_equal(mark, CPM_OUTBOX_FORMAT + 1); /* left as it was */

    /* one still waits: still refused */
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 1), 0);
    assert_int_equal(cpm_outbox_format_open(f->s, f->txn, &lowered, &e), CPM_E_CONFLICT);
    assert_non_null(strstr(e.message, " and 1 records wait"));
    /* every record acknowledged: nothing to misread, the mark is ours again */
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S1, 2), 0);
    assert_int_equal(cpm_outbox_format_open(f->s, f->txn, &lowered, &e), 0);
    assert_int_equal(lowered, CPM_OUTBOX_FORMAT + 1);
    assert_int_equal(cpm_store_get_u64(f->s, f->txn, "outbox.format", &mark), 0);
    assert_int_equal(mark, CPM_OUTBOX_FORMAT);
    assert_int_equal(cpm_outbox_format_open(f->s, f->txn, &lowered, &e), 0);
    assert_int_equal(lowered, 0);

    /* a halted stream never drains: the refusal says so, not only "run the
     * newer one until outbox 0" */
    int h = 1;
    assert_int_equal(cpm_outbox_halted(f->s, f->txn, S2, &h), 0);
    assert_int_equal(h, 0);
    put_rec(f, S2, 10, 'd');
    assert_int_equal(cpm_outbox_halt(f->s, f->txn, S2), 0);
    assert_int_equal(cpm_outbox_halted(f->s, f->txn, S2, &h), 0);
    assert_int_equal(h, 1);
    assert_int_equal(cpm_outbox_halted(f->s, f->txn, S1, &h), 0);
    assert_int_equal(h, 0);
    assert_int_equal(cpm_store_put_u64(f->s, f->txn, "outbox.format", CPM_OUTBOX_FORMAT + 1), 0);
    assert_int_equal(cpm_outbox_format_open(f->s, f->txn, &lowered, &e), CPM_E_CONFLICT);
    assert_string_equal(e.field, "outbox.format");
    assert_non_null(strstr(e.message, "1 records wait for their peers (streams: 1, halted: 1)"));
    assert_non_null(strstr(e.message, "newest copy"));
    /* a halted stream with nothing waiting holds nothing to misread */
    assert_int_equal(cpm_outbox_ack(f->s, f->txn, S2, 2), 0);
    assert_int_equal(cpm_outbox_format_open(f->s, f->txn, &lowered, &e), 0);
    assert_int_equal(lowered, CPM_OUTBOX_FORMAT + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_numbers_each_stream, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_read_copies_and_limits, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_ack, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_epoch, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_ack_beyond_last_is_conflict, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_streams, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_persists_across_reopen, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_store_full_leaves_outbox_unchanged, setup,
                                        stx_teardown),
        cmocka_unit_test_setup_teardown(test_ref_read_as_its_bytes, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_ref_to_missing_bytes, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_ref_bad_input, setup, stx_teardown),
        cmocka_unit_test_setup_teardown(test_format_mark, setup, stx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
