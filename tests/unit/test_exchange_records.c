/* exchange_records, exchange_publish and exchange_log on a real store:
 * versions and sequence, superseded versions leave the sequence, unchanged
 * versions write nothing, the bound per dataset, publishing by hand with its
 * authorization, idempotency and proof-log entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_xlog.h"
#include "exchange_domain.h"
#include "exchange_log.h"
#include "exchange_publish.h"
#include "exchange_records.h"

#define NOW_MS 1796000000000LL
static const char *const dbs[] = {EXCHANGE_DATABASES, NULL};

static int setup(void **state)
{
    *state = dom_env_new(sizeof(dom_env_t), "xrec", dbs, 0, "hn.qltt/exchange", NOW_MS);
    return 0;
}

static Cpm__DataField F(const char *n, const char *v)
{
    Cpm__DataField f = CPM__DATA_FIELD__INIT;
    f.name = (char *)n;
    f.value = (char *)v;
    return f;
}

static int put(dom_env_t *e, MDB_txn *txn, const char *key, const char *reason, uint32_t max,
               Cpm__DataRecord *out, bool *unchanged, cpm_error_t *err)
{
    Cpm__DataField a = F("business", "Công ty TNHH Phở Cồ"), b = F("reason", reason);
    Cpm__DataField *fs[] = {&a, &b};
    Cpm__DataRecord r = CPM__DATA_RECORD__INIT;
    r.dataset = "watchlist";
    r.key = (char *)key;
    r.fields = fs;
    r.n_fields = 2;
    r.at_ms = e->now;
    int rc = exchange_records_put(e->st, txn, "hn.qltt", max, &r, unchanged, err);
    if (out)
        *out = r;
    return rc;
}

static int collect(void *arg, const Cpm__DataRecord *r)
{
    char *s = arg;
    size_t n = strlen(s);
    snprintf(s + n, 256 - n, "%s:%llu ", r->key, (unsigned long long)r->seq);
    return 0;
}

static void test_versions_and_sequence(void **state)
{
    dom_env_t *e = *state;
    MDB_txn *txn;
    cpm_error_t err = {0};
    Cpm__DataRecord r;
    bool same;
    assert_int_equal(cpm_store_begin(e->st, true, &txn), 0);
    assert_int_equal(put(e, txn, "W1", "fake goods", 10, &r, &same, &err), 0);
    assert_int_equal(r.version, 1);
    assert_int_equal(r.seq, 1);
    assert_int_equal(put(e, txn, "W2", "overpricing", 10, &r, &same, &err), 0);
    assert_int_equal(r.seq, 2);
    /* the same fields again: nothing new */
    assert_int_equal(put(e, txn, "W1", "fake goods", 10, &r, &same, &err), 0);
    assert_true(same);
    assert_int_equal(r.version, 1);
    /* a change: version 2 with the next seq; W1's old seq leaves the index */
    assert_int_equal(put(e, txn, "W1", "fake goods, again", 10, &r, &same, &err), 0);
    assert_false(same);
    assert_int_equal(r.version, 2);
    assert_int_equal(r.seq, 3);
    char seen[256] = "";
    uint64_t last = 0;
    assert_int_equal(exchange_records_since(e->st, txn, "watchlist", 0, 100, collect, seen, &last),
                     0);
    assert_string_equal(seen, "W2:2 W1:3 ");
    assert_int_equal(last, 3);
    seen[0] = 0;
    assert_int_equal(exchange_records_since(e->st, txn, "watchlist", 2, 100, collect, seen, &last),
                     0);
    assert_string_equal(seen, "W1:3 ");
    seen[0] = 0;
    char lastkey[64];
    assert_int_equal(exchange_records_each(e->st, txn, "watchlist", "W1", 100, collect, seen,
                                           lastkey, sizeof lastkey),
                     0);
    assert_string_equal(seen, "W2:2 ");
    /* the bound: a third key over max 2 is refused, a new version is not */
    assert_int_equal(put(e, txn, "W3", "x", 2, &r, &same, &err), CPM_E_STORE_FULL);
    assert_string_equal(err.field, "dataset");
    assert_int_equal(put(e, txn, "W2", "y", 2, &r, &same, &err), 0);
    cpm_store_abort(&txn);
}

static void test_bad_fields(void **state)
{
    dom_env_t *e = *state;
    MDB_txn *txn;
    cpm_error_t err = {0};
    assert_int_equal(cpm_store_begin(e->st, true, &txn), 0);
    Cpm__DataField a = F("from", "yesterday");
    Cpm__DataField *fs[] = {&a};
    Cpm__DataRecord r = CPM__DATA_RECORD__INIT;
    r.dataset = "watchlist";
    r.key = "W9";
    r.fields = fs;
    r.n_fields = 1;
    assert_int_equal(exchange_records_put(e->st, txn, "hn.qltt", 10, &r, NULL, &err),
                     CPM_E_INVALID);
    assert_string_equal(err.field, "watchlist.from");
    a = F("owner", "x");
    assert_int_equal(exchange_records_put(e->st, txn, "hn.qltt", 10, &r, NULL, &err),
                     CPM_E_INVALID);
    assert_non_null(strstr(err.message, "owner"));
    r.dataset = "nothing";
    assert_int_equal(exchange_records_put(e->st, txn, "hn.qltt", 10, &r, NULL, &err),
                     CPM_E_INVALID);
    assert_string_equal(err.field, "dataset");
    cpm_store_abort(&txn);
}

static void test_publish(void **state)
{
    dom_env_t *e = *state;
    exchange_t x = {"hn.qltt", 100, NULL, NULL, 300000, NULL, NULL};
    exchange_sender_t officer = {"officer.hn.qltt", "hn.qltt", "officer", (const uint8_t *)"frame",
                                 5};
    exchange_sender_t other = {"officer.hn.doit", "hn.doit", "officer", NULL, 0};
    Cpm__DataField a = F("product", "Sữa bột X"), b = F("hazard", "melamine");
    Cpm__DataField *fs[] = {&a, &b};
    Cpm__ExchangePublish p = CPM__EXCHANGE_PUBLISH__INIT;
    p.dataset = "product_warnings";
    p.fields = fs;
    p.n_fields = 2;
    p.client_ref = "ref-1";
    MDB_txn *txn;
    cpm_error_t err = {0};
    Cpm__ExchangePublishReply out = CPM__EXCHANGE_PUBLISH_REPLY__INIT;
    assert_int_equal(cpm_store_begin(e->st, true, &txn), 0);
    assert_int_equal(exchange_publish(&x, e->st, txn, &e->fx, &other, &p, NOW_MS, &out, &err),
                     CPM_E_FORBIDDEN);
    assert_int_equal(exchange_publish(&x, e->st, txn, &e->fx, &officer, &p, NOW_MS, &out, &err), 0);
    assert_string_equal(out.key, "P1");
    assert_false(out.duplicate);
    /* the same client_ref: the first answer */
    assert_int_equal(exchange_publish(&x, e->st, txn, &e->fx, &officer, &p, NOW_MS, &out, &err), 0);
    assert_true(out.duplicate);
    assert_string_equal(out.key, "P1");
    /* derived datasets are not published by hand */
    p.dataset = "violations";
    p.client_ref = "";
    assert_int_equal(exchange_publish(&x, e->st, txn, &e->fx, &officer, &p, NOW_MS, &out, &err),
                     CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "dataset");
    /* withdrawal: a new version marked removed */
    p.dataset = "product_warnings";
    p.key = "P1";
    p.remove = true;
    assert_int_equal(exchange_publish(&x, e->st, txn, &e->fx, &officer, &p, NOW_MS, &out, &err), 0);
    assert_int_equal(out.version, 2);
    /* two publications, two chained log entries; the first holds the frame */
    uint64_t head;
    uint8_t hash[32], prev[32] = {0}, content[32], h[32];
    assert_int_equal(exchange_log_head(e->st, txn, &head, hash), 0);
    assert_int_equal(head, 2);
    for (uint64_t s = 1; s <= head; s++) {
        Cpm__LogRecord *lr;
        assert_int_equal(exchange_log_get(e->st, txn, s, &lr), 0);
        assert_memory_equal(lr->prev_hash.data, prev, 32);
        cpm_xlog_content(lr->body.data, lr->body.len, content);
        cpm_xlog_link(prev, content, h);
        assert_memory_equal(lr->hash.data, h, 32);
        Cpm__LogEntry *le = cpm__log_entry__unpack(NULL, lr->body.len, lr->body.data);
        assert_non_null(le);
        assert_string_equal(le->kind, "publish");
        assert_int_equal(le->request.len, 5);
        cpm__log_entry__free_unpacked(le, NULL);
        memcpy(prev, h, 32);
        cpm__log_record__free_unpacked(lr, NULL);
    }
    assert_memory_equal(prev, hash, 32);
    cpm_store_abort(&txn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions_and_sequence, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_bad_fields, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_publish, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
