/* exchange_feed's mapping on a real store, no sockets: violation.recorded ->
 * violations (one record per event, all record fields, stable key),
 * complaint.received -> complaint_stats and consultation.recorded ->
 * hotline_stats (count per key and Vietnam month), other events ignored, a
 * record the schema refuses named, and the cursor kept in "xfeed". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "exchange_domain.h"
#include "exchange_feed.h"
#include "exchange_records.h"

#define NOW_MS 1796000000000LL /* 2026-11-29 */
static const char *const dbs[] = {EXCHANGE_DATABASES, NULL};
static const exchange_t X = {"hn.d.hoan-kiem", 1000, NULL, NULL, 0, NULL, NULL};

static int setup(void **state)
{
    *state = dom_env_new(sizeof(dom_env_t), "xfeed", dbs, 0, "hn.d.hoan-kiem/exchange", NOW_MS);
    return 0;
}

static Cpm__Event event(uint64_t seq, int64_t at, const char *kind)
{
    Cpm__Event ev = CPM__EVENT__INIT;
    ev.seq = seq;
    ev.at_ms = at;
    ev.kind = (char *)kind;
    return ev;
}

static int apply(dom_env_t *e, MDB_txn *txn, const char *service, const Cpm__Event *ev,
                 cpm_error_t *err)
{
    return exchange_feed_apply(&X, e->st, txn, X.node, service, ev, err);
}

static void want(dom_env_t *e, MDB_txn *txn, const char *dataset, const char *key,
                 const char *field, const char *value)
{
    Cpm__DataRecord *r;
    assert_int_equal(exchange_records_get(e->st, txn, dataset, key, &r), 0);
    assert_string_equal(exchange_record_value(r, field), value);
    assert_string_equal(r->publisher, "hn.d.hoan-kiem");
    cpm__data_record__free_unpacked(r, NULL);
}

static void test_violations(void **state)
{
    dom_env_t *e = *state;
    MDB_txn *txn;
    cpm_error_t err = {0};
    assert_int_equal(cpm_store_begin(e->st, true, &txn), 0);
    Cpm__Event ev = event(7, NOW_MS, "violation.recorded");
    ev.ticket = "HK-2026-000001";
    ev.agency = "hn.d.hoan-kiem";
    ev.area = "hoan-kiem";
    ev.category = "food";
    ev.business = "Công ty TNHH Phở Cồ";
    ev.address = "12 Hàng Bạc";
    ev.violation = "ATTP-01";
    ev.fine_vnd = 5000000;
    ev.tax_code = "0101234567-001";
    ev.inspection = "hn.d.hoan-kiem/I3";
    assert_int_equal(apply(e, txn, "inspection", &ev, &err), 0);
    const char *key = "hn.d.hoan-kiem/I3#ATTP-01#7";
    want(e, txn, "violations", key, "inspection", "hn.d.hoan-kiem/I3");
    want(e, txn, "violations", key, "business", "Công ty TNHH Phở Cồ");
    want(e, txn, "violations", key, "tax_code", "0101234567-001");
    want(e, txn, "violations", key, "address", "12 Hàng Bạc");
    want(e, txn, "violations", key, "area", "hoan-kiem");
    want(e, txn, "violations", key, "category", "food");
    want(e, txn, "violations", key, "violation", "ATTP-01");
    want(e, txn, "violations", key, "fine_vnd", "5000000");
    want(e, txn, "violations", key, "date", "1796000000000");

    /* the summary of an inspection without a coded finding */
    Cpm__Event sum = ev;
    sum.seq = 8;
    sum.violation = "";
    sum.tax_code = "";
    sum.fine_vnd = 7000000;
    assert_int_equal(apply(e, txn, "inspection", &sum, &err), 0);
    want(e, txn, "violations", "hn.d.hoan-kiem/I3#summary#8", "fine_vnd", "7000000");
    want(e, txn, "violations", "hn.d.hoan-kiem/I3#summary#8", "violation", "");
    uint64_t head;
    assert_int_equal(exchange_records_head(e->st, txn, "violations", &head), 0);
    assert_int_equal(head, 2);

    /* the same kind from another service, and other kinds: ignored */
    Cpm__Event other = ev;
    other.seq = 9;
    assert_int_equal(apply(e, txn, "intake", &other, &err), 0);
    other.kind = "inspection.reviewed";
    assert_int_equal(apply(e, txn, "inspection", &other, &err), 0);
    assert_int_equal(exchange_records_head(e->st, txn, "violations", &head), 0);
    assert_int_equal(head, 2);
    cpm_store_abort(&txn);
}

static void test_stats(void **state)
{
    dom_env_t *e = *state;
    MDB_txn *txn;
    cpm_error_t err = {0};
    assert_int_equal(cpm_store_begin(e->st, true, &txn), 0);
    /* 2026-11-30 16:59:59.999 UTC is 23:59 in Hanoi: November; a
     * millisecond later it is December there (and still November in UTC) */
    int64_t nov_last = 1796057999999LL, dec_first = nov_last + 1;
    for (int i = 0; i < 3; i++) {
        Cpm__Event ev = event(1 + (uint64_t)i, i < 2 ? nov_last : dec_first, "complaint.received");
        ev.area = "hoan-kiem";
        ev.category = "food";
        ev.channel = "web";
        assert_int_equal(apply(e, txn, "intake", &ev, &err), 0);
    }
    want(e, txn, "complaint_stats", "hoan-kiem|food|2026-11", "count", "2");
    want(e, txn, "complaint_stats", "hoan-kiem|food|2026-11", "month", "2026-11");
    want(e, txn, "complaint_stats", "hoan-kiem|food|2026-11", "area", "hoan-kiem");
    want(e, txn, "complaint_stats", "hoan-kiem|food|2026-12", "count", "1");
    /* not placed: an empty area is a row of its own */
    Cpm__Event un = event(4, nov_last, "complaint.received");
    un.category = "food";
    assert_int_equal(apply(e, txn, "intake", &un, &err), 0);
    want(e, txn, "complaint_stats", "|food|2026-11", "count", "1");

    for (int i = 0; i < 2; i++) {
        Cpm__Event ev = event(5 + (uint64_t)i, nov_last, "consultation.recorded");
        ev.category = "telecom";
        ev.channel = i ? "web" : "hotline";
        assert_int_equal(apply(e, txn, "intake", &ev, &err), 0);
    }
    Cpm__Event again = event(7, nov_last, "consultation.recorded");
    again.category = "telecom";
    again.channel = "hotline";
    assert_int_equal(apply(e, txn, "intake", &again, &err), 0);
    want(e, txn, "hotline_stats", "2026-11|telecom|hotline", "count", "2");
    want(e, txn, "hotline_stats", "2026-11|telecom|hotline", "channel", "hotline");
    want(e, txn, "hotline_stats", "2026-11|telecom|web", "count", "1");

    /* an area the schema refuses: named, nothing written */
    Cpm__Event bad = event(8, nov_last, "complaint.received");
    bad.area = "Not A Slug";
    assert_int_equal(apply(e, txn, "intake", &bad, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "complaint_stats.area");
    cpm_store_abort(&txn);
}

static void test_cursor(void **state)
{
    dom_env_t *e = *state;
    MDB_txn *txn;
    uint64_t seq;
    uint8_t hash[32], h[32];
    assert_int_equal(cpm_store_begin(e->st, true, &txn), 0);
    assert_int_equal(exchange_feed_cursor_get(e->st, txn, X.node, "intake", &seq, hash), 0);
    assert_int_equal(seq, 0);
    memset(h, 0xab, sizeof h);
    assert_int_equal(exchange_feed_cursor_put(e->st, txn, X.node, "intake", 41, h), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
    assert_int_equal(cpm_store_begin(e->st, false, &txn), 0);
    assert_int_equal(exchange_feed_cursor_get(e->st, txn, X.node, "intake", &seq, hash), 0);
    assert_int_equal(seq, 41);
    assert_memory_equal(hash, h, 32);
    assert_int_equal(exchange_feed_cursor_get(e->st, txn, X.node, "inspection", &seq, hash), 0);
    assert_int_equal(seq, 0);
    cpm_store_abort(&txn);
    char m[8];
    exchange_feed_month(0, m);
    assert_string_equal(m, "1970-01");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_violations, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_cursor, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
