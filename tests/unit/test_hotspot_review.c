/* hotspot on a real store, no sockets: the review's defects. A complaint
 * dated beyond max_skew of the clock is refused and moves nothing; an
 * open alert's texts stay those of its opening; eviction follows the
 * detector's processing order and keeps (or finds again) a key's open
 * alert; an unreadable state leaves no LRU entry behind; a filtered list
 * looks at a bounded number of alerts; decided alerts are purged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "hotspot_alerts.h"
#include "hotspot_detect.h"
#include "hotspot_keys.h"

#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define NOW 1796000000000LL /* the clock of these tests */

static const char *const dbs[] = {HOTSPOT_KEYS_DB,    HOTSPOT_LRU_DB,  HOTSPOT_ALERTS_DB,
                                  HOTSPOT_CURSORS_DB, HOTSPOT_OPEN_DB, NULL};

typedef struct {
    char dir[64];
    cpm_store_t *st;
    hotspot_t *h;
    hotspot_counts_t c;
    uint64_t seq;
} env_t;

static void env_open(env_t *e, uint32_t keys_max)
{
    dom_tmpdir(e->dir, "hsrev");
    e->st = dom_open(e->dir, 64u << 20, dbs);
    hotspot_cfg_t cfg = {48, 28, 5, 1000, keys_max, 300};
    cpm_error_t err = {0};
    assert_int_equal(hotspot_new(&e->h, e->st, &cfg, &err), 0);
}

static void env_close(env_t *e)
{
    hotspot_destroy(&e->h);
    cpm_store_destroy(&e->st);
    dom_rmdir(e->dir);
}

/* One complaint about business (no area, category or product: one key). */
static void complain(env_t *e, const char *business, const char *address, int64_t at)
{
    char ticket[32];
    snprintf(ticket, sizeof ticket, "T-%llu", (unsigned long long)e->seq + 1);
    Cpm__Event ev = CPM__EVENT__INIT;
    ev.seq = ++e->seq;
    ev.at_ms = at;
    ev.kind = "complaint.received";
    ev.ticket = ticket;
    ev.business = (char *)business;
    ev.address = (char *)address;
    MDB_txn *txn = dom_begin(e->st, true);
    assert_int_equal(hotspot_apply(e->h, txn, NULL, "hn.doit", "intake", &ev, NOW, &e->c), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
}

static Cpm__HotspotListReply *list(env_t *e, const char *state, const char *after)
{
    MDB_txn *txn = dom_begin(e->st, false);
    Cpm__HotspotListQuery q = CPM__HOTSPOT_LIST_QUERY__INIT;
    q.state = (char *)state;
    q.after = (char *)after;
    q.max = 200;
    Cpm__HotspotListReply *r = NULL;
    cpm_error_t err = {0};
    assert_int_equal(hotspot_alert_list(e->st, txn, &q, &r, &err), 0);
    cpm_store_abort(&txn);
    return r;
}

/* The learning period is over: one complaint a month ago. */
static void learned(env_t *e)
{
    complain(e, "Quán Cũ", "1 Hàng Đào", NOW - 30 * DAY_MS);
}

/* 8 complaints within 4 hours before NOW (one Vietnam day): an alert
 * (floor 0.2/day). */
static void burst(env_t *e, const char *business)
{
    for (int i = 0; i < 8; i++)
        complain(e, business, "12 Hàng Bạc", NOW - 4 * HOUR_MS + i * HOUR_MS / 2);
}

static void test_future(void **state)
{
    (void)state;
    env_t e = {0};
    env_open(&e, 1000);
    /* first of all, a complaint dated in 2030 from an intake with a wrong clock */
    complain(&e, "Tiệm Bánh Mì Phượng", "12 Hàng Bạc", NOW + 1200 * DAY_MS);
    assert_int_equal(e.c.future, 1);
    assert_int_equal(e.c.applied, 0);
    learned(&e);
    assert_int_equal(e.c.applied, 1);
    burst(&e, "Tiệm Bánh Mì Phượng");
    assert_int_equal(e.c.future, 1);
    assert_int_equal(e.c.opened, 1); /* neither blinded nor its key moved to 2030 */
    complain(&e, "Tiệm Bánh Mì Phượng", "12 Hàng Bạc", NOW + 200 * 1000); /* within max_skew */
    assert_int_equal(e.c.updated, 3 + 1);
    env_close(&e);
}

static void test_frozen_texts(void **state)
{
    (void)state;
    env_t e = {0};
    env_open(&e, 1000);
    learned(&e);
    burst(&e, "Tiệm Bánh Mì Phượng");
    assert_int_equal(e.c.opened, 1);
    /* a later complaint writes a person's home where the address goes */
    complain(&e, "Tiệm Bánh Mì Phượng", "nhà chị Lan, 5 ngõ 3", NOW);
    assert_int_equal(e.c.updated, 3 + 1); /* 8 - 5 of the burst, and this one */
    Cpm__HotspotListReply *r = list(&e, "open", "");
    assert_int_equal(r->n_alerts, 1);
    assert_string_equal(r->alerts[0]->address, "12 Hàng Bạc");
    assert_string_equal(r->alerts[0]->business, "Tiệm Bánh Mì Phượng");
    assert_int_equal(r->alerts[0]->n_tickets, 9);
    hotspot_alert_list_free(&r);
    env_close(&e);
}

static bool kept(env_t *e, const char *business)
{
    char hex[33], key[40];
    assert_true(hotspot_business_key("", business, "", hex));
    snprintf(key, sizeof key, "b:%s", hex);
    hotspot_state_t *s = malloc(sizeof *s);
    bool found;
    MDB_txn *txn = dom_begin(e->st, false);
    assert_int_equal(hotspot_keys_load(e->st, txn, key, 48, s, &found), 0);
    cpm_store_abort(&txn);
    free(s);
    return found;
}

/* A lagging node's old complaint, applied last, is not the first evicted. */
static void test_evict_order(void **state)
{
    (void)state;
    env_t e = {0};
    env_open(&e, 3);
    complain(&e, "Shop B", "", NOW - 2 * HOUR_MS);
    complain(&e, "Shop C", "", NOW - HOUR_MS);
    complain(&e, "Shop A", "", NOW - 10 * DAY_MS); /* late, touched last */
    complain(&e, "Shop D", "", NOW);
    assert_int_equal(e.c.evicted, 1);
    assert_false(kept(&e, "Shop B"));
    assert_true(kept(&e, "Shop A"));
    env_close(&e);
}

/* One open alert per key, whether its key is kept or evicted anyway. */
static void test_evict_open(void **state)
{
    (void)state;
    env_t e = {0};
    env_open(&e, 3);
    learned(&e);
    burst(&e, "Shop X");
    assert_int_equal(e.c.opened, 1);
    for (int i = 0; i < 10; i++) {
        char name[24];
        snprintf(name, sizeof name, "Shop %d", i);
        complain(&e, name, "", NOW - HOUR_MS);
    }
    assert_true(kept(&e, "Shop X")); /* passed over */
    complain(&e, "Shop X", "12 Hàng Bạc", NOW);
    assert_int_equal(e.c.opened, 1);
    assert_int_equal(e.c.updated, 3 + 1);
    /* three keys, all with an open alert: a fourth evicts one anyway */
    burst(&e, "Shop Y");
    burst(&e, "Shop Z");
    assert_int_equal(e.c.opened, 3);
    complain(&e, "Shop W", "", NOW);
    MDB_txn *txn = dom_begin(e.st, false);
    uint64_t keys;
    assert_int_equal(hotspot_keys_count(e.st, txn, &keys), 0);
    assert_true(keys <= 3);
    cpm_store_abort(&txn);
    for (const char *const *b = (const char *const[]){"Shop X", "Shop Y", "Shop Z", NULL}; *b; b++)
        complain(&e, *b, "12 Hàng Bạc", NOW);
    assert_int_equal(e.c.opened, 3); /* the returning key found its open alert */
    assert_int_equal(e.c.updated, 4 + 3 + 3 + 3);
    env_close(&e);
}

/* A stored state of the wrong length: its LRU entry goes with it. */
static void test_bad_state(void **state)
{
    (void)state;
    env_t e = {0};
    env_open(&e, 1000);
    complain(&e, "Shop Q", "", NOW - DAY_MS);
    char hex[33], key[40];
    assert_true(hotspot_business_key("", "Shop Q", "", hex));
    snprintf(key, sizeof key, "b:%s", hex);
    MDB_txn *txn = dom_begin(e.st, true);
    const void *v;
    size_t n;
    assert_int_equal(cpm_store_get(e.st, txn, HOTSPOT_KEYS_DB, key, strlen(key), &v, &n), 0);
    uint8_t *cut = malloc(n);
    memcpy(cut, v, n);
    assert_int_equal(cpm_store_put(e.st, txn, HOTSPOT_KEYS_DB, key, strlen(key), cut, n - 4), 0);
    free(cut);
    assert_int_equal(cpm_store_commit(txn), 0);
    complain(&e, "Shop Q", "", NOW);
    txn = dom_begin(e.st, false);
    MDB_stat ms;
    assert_int_equal(mdb_stat(txn, cpm_store_dbi(e.st, HOTSPOT_LRU_DB), &ms), 0);
    assert_int_equal(ms.ms_entries, 1); /* no orphan */
    cpm_store_abort(&txn);
    env_close(&e);
}

static void put_alert(env_t *e, MDB_txn *txn, uint64_t n, const char *state, int64_t decided)
{
    char id[24];
    snprintf(id, sizeof id, "H%llu", (unsigned long long)n);
    Cpm__HotspotAlert a = CPM__HOTSPOT_ALERT__INIT;
    a.id = id;
    a.kind = "business";
    a.state = (char *)state;
    a.decided_ms = decided;
    assert_int_equal(hotspot_alert_put(e->st, txn, &a), 0);
}

static void test_list_bounded_and_purge(void **state)
{
    (void)state;
    env_t e = {0};
    env_open(&e, 1000);
    MDB_txn *txn = dom_begin(e.st, true);
    for (uint64_t i = 1; i <= 2500; i++)
        put_alert(&e, txn, i, "dismissed", i <= 1000 ? NOW - 400 * DAY_MS : NOW);
    put_alert(&e, txn, 2501, "open", 0);
    assert_int_equal(cpm_store_commit(txn), 0);
    Cpm__HotspotListReply *r = list(&e, "open", "");
    assert_true(r->truncated);
    assert_int_equal(r->n_alerts, 0);
    assert_string_equal(r->next_after, "H"
                                       "2000");
    hotspot_alert_list_free(&r);
    r = list(&e, "open", "H2000");
    assert_false(r->truncated);
    assert_int_equal(r->n_alerts, 1);
    assert_string_equal(r->alerts[0]->id, "H2501");
    hotspot_alert_list_free(&r);
    /* retention: the 1000 decided more than 365 days ago, in bounded steps */
    cpm_sweep_cursor_t cur = {0};
    size_t deleted = 0;
    for (int step = 0; step < 6; step++) {
        cpm_sweep_stats_t st = {0};
        txn = dom_begin(e.st, true);
        assert_int_equal(hotspot_alert_purge(e.st, txn, &cur, 500, NOW, HOTSPOT_RETENTION_MS, &st),
                         0);
        assert_true(st.looked <= 500);
        deleted += st.deleted;
        assert_int_equal(cpm_store_commit(txn), 0);
    }
    assert_int_equal(deleted, 1000);
    txn = dom_begin(e.st, false);
    Cpm__HotspotAlert *a = NULL;
    assert_int_equal(hotspot_alert_get(e.st, txn, 1000, &a), CPM_E_NOT_FOUND);
    assert_int_equal(hotspot_alert_get(e.st, txn, 2501, &a), 0);
    cpm__hotspot_alert__free_unpacked(a, NULL);
    cpm_store_abort(&txn);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_future),      cmocka_unit_test(test_frozen_texts),
        cmocka_unit_test(test_evict_order), cmocka_unit_test(test_evict_open),
        cmocka_unit_test(test_bad_state),   cmocka_unit_test(test_list_bounded_and_purge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
