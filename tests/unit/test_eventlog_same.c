/* Tests that cpm_eventlog_append (its hash input gathered in a buffer, its
 * put an append) stores the same bytes as the code as it was
 * (tests/unit/fixtures/eventlog_ref.h): the same events appended to two
 * stores, one by each, give byte-identical "events" records and the same
 * head and head hash in "meta"; cpm_event_hash equals the old hash for
 * events of every shape (empty fields, record fields, issue 12's fields,
 * strings longer than the buffer); and a log whose head fell behind its
 * events is still overwritten as before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures/eventlog_ref.h"
#include "fixtures/store/store_fixture.h"

typedef struct {
    stx_t *fa, *fb; /* their open transactions aborted: each test begins its own */
    cpm_store_t *a, *b;
} fixture_t;

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char longtext[3000];

/* A string of shape r: NULL, empty, short, Vietnamese, or longer than the
 * hash buffer (512 bytes) at one of several lengths. */
static const char *pick(uint64_t r)
{
    static const char *const S[] = {
        NULL,
        "",
        "x",
        "complaint.received",
        "HK-00000042",
        "hn.attp",
        "hoan-kiem",
        "food_safety",
        "Cửa hàng Phở Thìn, 13 Lò Đúc",
        "rule 7: food_safety -> hn.attp",
    };
    size_t n = sizeof S / sizeof *S;
    if (r % 13 < n)
        return S[r % 13];
    static const size_t LONG[] = {470, 480, 500, 511, 512, 513, 1024, 2999};
    return longtext + sizeof longtext - 1 - LONG[(r / 13) % 8];
}

static void draw(cpm_event_t *e)
{
    memset(e, 0, sizeof *e);
    const char **str[] = {&e->kind,      &e->ticket,     &e->agency,     &e->area,     &e->category,
                          &e->rule,      &e->actor,      &e->note,       &e->business, &e->address,
                          &e->violation, &e->tax_code,   &e->inspection, &e->channel,  &e->product,
                          &e->suggested, &e->category_by};
    uint64_t shape = next();
    for (size_t i = 0; i < sizeof str / sizeof *str; i++) {
        /* records and issue 12's fields only now and then, so that both
         * the events with and without them are drawn */
        bool rare = i >= 8;
        *str[i] = rare && (shape >> i) % 3 ? NULL : pick(next());
    }
    e->state = (Cpm__CaseState)(next() % 9);
    if (shape % 5 == 0)
        e->fine_vnd = (int64_t)(next() % 100000000) - 1000;
    if (shape % 7 == 0)
        e->outcome = (Cpm__Outcome)(next() % 4);
    if (shape % 11 == 0)
        e->suggestion_pm = (uint32_t)(next() % 1001);
}

static int setup(void **state)
{
    for (size_t i = 0; i + 1 < sizeof longtext; i++)
        longtext[i] = "Phở bò tái "[i % 12] ? "Phở bò tái "[i % 12] : 'x';
    fixture_t *f = calloc(1, sizeof *f);
    f->fa = stx_new("eventlog-same");
    f->fb = stx_new("eventlog-same");
    cpm_store_abort(&f->fa->txn);
    cpm_store_abort(&f->fb->txn);
    f->a = f->fa->s;
    f->b = f->fb->s;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    void *st = f->fa;
    stx_teardown(&st);
    st = f->fb;
    stx_teardown(&st);
    free(f);
    return 0;
}

/* Every record of db in a and b, byte for byte. */
static void same_db(fixture_t *f, const char *db, size_t *records)
{
    MDB_txn *ta, *tb;
    MDB_cursor *ca, *cb;
    assert_int_equal(cpm_store_begin(f->a, false, &ta), 0);
    assert_int_equal(cpm_store_begin(f->b, false, &tb), 0);
    assert_int_equal(mdb_cursor_open(ta, cpm_store_dbi(f->a, db), &ca), 0);
    assert_int_equal(mdb_cursor_open(tb, cpm_store_dbi(f->b, db), &cb), 0);
    MDB_val ka, va, kb, vb;
    int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST), rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
    *records = 0;
    while (ra == 0 && rb == 0) {
        assert_int_equal(ka.mv_size, kb.mv_size);
        assert_memory_equal(ka.mv_data, kb.mv_data, ka.mv_size);
        assert_int_equal(va.mv_size, vb.mv_size);
        assert_memory_equal(va.mv_data, vb.mv_data, va.mv_size);
        ++*records;
        ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
        rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
    }
    assert_int_equal(ra, MDB_NOTFOUND);
    assert_int_equal(rb, MDB_NOTFOUND);
    mdb_cursor_close(ca);
    mdb_cursor_close(cb);
    cpm_store_abort(&ta);
    cpm_store_abort(&tb);
}

static void test_same_bytes(void **state)
{
    fixture_t *f = *state;
    uint64_t total = 0;
    for (int batch = 0; batch < 40; batch++) {
        MDB_txn *ta, *tb;
        assert_int_equal(cpm_store_begin(f->a, true, &ta), 0);
        assert_int_equal(cpm_store_begin(f->b, true, &tb), 0);
        for (int i = 0; i < 100; i++) {
            cpm_event_t e;
            draw(&e);
            int64_t at = (int64_t)(next() % 4000000000000ull) - 1000;
            uint64_t sa = 0, sb = 0;
            assert_int_equal(eventlog_append_ref(f->a, ta, at, &e, &sa), 0);
            assert_int_equal(cpm_eventlog_append(f->b, tb, at, &e, &sb), 0);
            assert_int_equal(sa, sb);
            assert_int_equal(sb, ++total);
        }
        assert_int_equal(cpm_store_commit(ta), 0);
        assert_int_equal(cpm_store_commit(tb), 0);
    }
    size_t n = 0;
    same_db(f, CPM_DB_EVENTS, &n);
    assert_int_equal(n, total);
    same_db(f, CPM_DB_META, &n);
    assert_true(n >= 2); /* events.head and events.hash */
    /* and the chain the new code wrote holds */
    MDB_txn *tb;
    Cpm__Event **evs = NULL;
    assert_int_equal(cpm_store_begin(f->b, false, &tb), 0);
    assert_int_equal(cpm_eventlog_read(f->b, tb, 1, total, &evs, &n), 0);
    cpm_store_abort(&tb);
    assert_int_equal(n, total);
    assert_int_equal(cpm_eventlog_verify_chain(evs, n, NULL), 0);
    cpm_eventlog_free(&evs, n);
}

static void test_same_hash(void **state)
{
    (void)state;
    for (int r = 0; r < 20000; r++) {
        cpm_event_t e;
        draw(&e);
        Cpm__Event ev = CPM__EVENT__INIT;
        ev.seq = next();
        ev.at_ms = (int64_t)next();
        ev.kind = (char *)e.kind, ev.ticket = (char *)e.ticket, ev.agency = (char *)e.agency;
        ev.area = (char *)e.area, ev.category = (char *)e.category, ev.state = e.state;
        ev.rule = (char *)e.rule, ev.actor = (char *)e.actor, ev.note = (char *)e.note;
        ev.business = (char *)e.business, ev.address = (char *)e.address;
        ev.violation = (char *)e.violation, ev.fine_vnd = e.fine_vnd;
        ev.tax_code = (char *)e.tax_code, ev.inspection = (char *)e.inspection;
        ev.channel = (char *)e.channel, ev.outcome = e.outcome;
        ev.product = (char *)e.product, ev.suggested = (char *)e.suggested;
        ev.suggestion_pm = e.suggestion_pm, ev.category_by = (char *)e.category_by;
        uint8_t prev[32], a[32], b[32];
        for (size_t k = 0; k < 32; k++)
            prev[k] = (uint8_t)next();
        event_hash_ref(&ev, prev, a);
        cpm_event_hash(&ev, prev, b);
        assert_memory_equal(a, b, 32);
    }
}

/* A head behind its events (events.head rolled back alone): the next append
 * overwrites the event after the head, as the old put did, instead of
 * failing on the append. */
static void test_head_behind(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *st[2] = {f->a, f->b};
    for (int k = 0; k < 2; k++) {
        MDB_txn *txn;
        cpm_event_t e = {.kind = "case.created", .ticket = "HK-1"};
        assert_int_equal(cpm_store_begin(st[k], true, &txn), 0);
        for (int i = 0; i < 5; i++)
            assert_int_equal(k ? cpm_eventlog_append(st[k], txn, 1000 + i, &e, NULL)
                               : eventlog_append_ref(st[k], txn, 1000 + i, &e, NULL),
                             0);
        assert_int_equal(cpm_store_put_u64(st[k], txn, "events.head", 2), 0);
        e.ticket = "HK-2";
        uint64_t seq = 0;
        assert_int_equal(k ? cpm_eventlog_append(st[k], txn, 2000, &e, &seq)
                           : eventlog_append_ref(st[k], txn, 2000, &e, &seq),
                         0);
        assert_int_equal(seq, 3);
        assert_int_equal(cpm_store_commit(txn), 0);
    }
    size_t n = 0;
    same_db(f, CPM_DB_EVENTS, &n);
    assert_int_equal(n, 5);
    same_db(f, CPM_DB_META, &n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_behind, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
