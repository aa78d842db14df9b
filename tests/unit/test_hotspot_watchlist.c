/* exchange_feed's hotspot case on a real store, no sockets: hotspot.confirmed
 * of a business alert -> a watchlist record keyed by the alert id (business,
 * address, area, reason = a generated "hotspot H7 confirmed by <actor>", never
 * the coordinator's free text, from = the decision, until 90 days
 * later); a confirmed area or product alert, a dismissal, an alert opening
 * and the same kind from another service make no record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "exchange_domain.h"
#include "exchange_feed.h"
#include "exchange_records.h"
#include "fixtures/domain/domain_fixture.h"

#define NOW_MS 1796000000000LL /* 2026-11-29 */
static const char *const dbs[] = {EXCHANGE_DATABASES, NULL};
static const exchange_t X = {"hn.doit", 1000, NULL, NULL, 0, NULL, NULL};

static int setup(void **state)
{
    *state = dom_env_new(sizeof(dom_env_t), "xhot", dbs, 0, "hn.doit/exchange", NOW_MS);
    return 0;
}

static Cpm__Event confirmed(uint64_t seq, const char *id, const char *kind)
{
    Cpm__Event ev = CPM__EVENT__INIT;
    ev.seq = seq;
    ev.at_ms = NOW_MS;
    ev.kind = "hotspot.confirmed";
    ev.ticket = (char *)id;
    ev.rule = (char *)kind;
    ev.area = "hoan-kiem";
    ev.category = "food_safety";
    ev.business = "Cửa hàng Phở Gà Hàng Bạc";
    ev.address = "12 Hàng Bạc";
    ev.actor = "coordinator.hn.doit";
    ev.note = "Nhiều ca ngộ độc, đã xác minh";
    return ev;
}

static void test_confirmed_business(void **state)
{
    dom_env_t *e = *state;
    MDB_txn *txn;
    cpm_error_t err = {0};
    assert_int_equal(cpm_store_begin(e->st, true, &txn), 0);
    Cpm__Event ev = confirmed(3, "H7", "business");
    assert_int_equal(exchange_feed_apply(&X, e->st, txn, X.node, "hotspot", &ev, &err), 0);
    Cpm__DataRecord *r = NULL;
    assert_int_equal(exchange_records_get(e->st, txn, "watchlist", "H7", &r), 0);
    assert_string_equal(exchange_record_value(r, "business"), "Cửa hàng Phở Gà Hàng Bạc");
    assert_string_equal(exchange_record_value(r, "address"), "12 Hàng Bạc");
    assert_string_equal(exchange_record_value(r, "area"), "hoan-kiem");
    /* generated: the coordinator's free text is not shared */
    assert_string_equal(exchange_record_value(r, "reason"),
                        "hotspot H7 confirmed by coordinator.hn.doit");
    assert_string_equal(exchange_record_value(r, "from"), "1796000000000");
    assert_string_equal(exchange_record_value(r, "until"), "1803776000000");
    assert_string_equal(r->publisher, "hn.doit");
    cpm__data_record__free_unpacked(r, NULL);

    /* no record from these */
    Cpm__Event other[4] = {confirmed(4, "H8", "area_category"), confirmed(5, "H9", "product"),
                           confirmed(6, "H10", "business"), confirmed(7, "H11", "business")};
    other[2].kind = "hotspot.dismissed";
    other[3].kind = "hotspot.alert";
    const char *ids[] = {"H8", "H9", "H10", "H11"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(exchange_feed_apply(&X, e->st, txn, X.node, "hotspot", &other[i], &err),
                         0);
        assert_int_equal(exchange_records_get(e->st, txn, "watchlist", ids[i], &r),
                         CPM_E_NOT_FOUND);
    }
    Cpm__Event elsewhere = confirmed(8, "H12", "business");
    assert_int_equal(exchange_feed_apply(&X, e->st, txn, X.node, "intake", &elsewhere, &err), 0);
    assert_int_equal(exchange_records_get(e->st, txn, "watchlist", "H12", &r), CPM_E_NOT_FOUND);
    cpm_store_abort(&txn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_confirmed_business, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
