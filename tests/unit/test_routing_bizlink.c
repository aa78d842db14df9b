/* routing_bizlink through routing_apply_complaint on a real store: a web
 * form with the name and the address, a hotline note with only the address,
 * a letter with the name and its legal forms and a later one with the name
 * only all count for one business; another name at a known address is
 * another business; names stay apart at one address; the same address in
 * another area is another place; the links are swept with the clusters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "fixtures/domain/routing_fixture.h"
#include "routing_bizlink.h"
#include "routing_clusters.h"
#include "routing_domain.h"

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"
#define DAY (86400LL * 1000)

static const char *const dbs[] = ROUTING_DBS;
#define T0 dom_vn_time(2026, 3, 2, 10, 0)

typedef dom_env_t fixture_t;

static int setup(void **state)
{
    routing_dupes_set_window(30 * DAY);
    *state = dom_env_new(sizeof(fixture_t), "routing", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         T0 + 60 * 1000);
    return 0;
}

/* Route a complaint; returns its linked_to (static buffer). */
static const char *route(fixture_t *f, int n, uint8_t k, const char *channel, const char *business,
                         const char *address, const char *area, int64_t at)
{
    uint8_t key[32] = {k};
    const char *ticket = rfx_route(f, &(rfx_complaint_t){.n = n,
                                                         .key = key,
                                                         .channel = channel,
                                                         .business = business,
                                                         .address = address,
                                                         .area = area,
                                                         .category = "food_safety",
                                                         .description = "Thức ăn ôi thiu.",
                                                         .at = at});
    return rfx_linked_to(f, ticket);
}

static Cpm__ClustersReply *all(fixture_t *f)
{
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__ClustersReply *r = NULL;
    assert_int_equal(routing_clusters(f->st, txn, 1, 0, &r), 0);
    cpm_store_abort(&txn);
    return r;
}

static void test_channels_link(void **state)
{
    fixture_t *f = *state;
    /* web: the name and the address */
    route(f, 1, 2, "web", "Phở Gia Truyền Bát Đàn", "12 Phố Hàng Bạc, Hoàn Kiếm", "hoan-kiem", T0);
    /* hotline: no name, the address as the operator noted it */
    route(f, 2, 1, "hotline", "không rõ", "so 12 P. Hang Bac, HK, HN", "hoan-kiem", T0 + DAY);
    /* letter: the name with its legal forms (the same normal form), same address */
    route(f, 3, 3, "letter", "Cty TNHH Phở Gia Truyền Bát Đàn", "Số 12 Hàng Bạc", "hoan-kiem",
          T0 + 2 * DAY);
    /* social: the name, no address; and the hotline's consumer again by name */
    route(f, 4, 4, "social", "pho gia truyen bat dan", NULL, "hoan-kiem", T0 + 3 * DAY);
    assert_string_equal(
        route(f, 5, 1, "web", "Phở Gia Truyền Bát Đàn", "", "hoan-kiem", T0 + 4 * DAY),
        "HK-00000002"); /* one consumer's repeat, linked across channels */
    Cpm__ClustersReply *r = all(f);
    assert_int_equal(r->n_clusters, 1);
    const Cpm__Cluster *cl = r->clusters[0];
    assert_int_equal(cl->cases, 5);
    assert_int_equal(cl->consumers, 4);
    assert_string_equal(cl->first_ticket, "HK-00000001");
    assert_string_equal(cl->business, "pho gia truyen bat dan"); /* the first name that came */
    assert_string_equal(cl->address, "house=12 street=hang bac");
    routing_clusters_free(&r);

    /* the same address in another area: another place */
    route(f, 6, 6, "hotline", "Chưa rõ tên", "12 Hàng Bạc", "ba-dinh", T0 + 5 * DAY);
    r = all(f);
    assert_int_equal(r->n_clusters, 2);
    routing_clusters_free(&r);
}

/* A named complaint at an address where another business was seen is its
 * own business: one complaint giving that address (a new shop in the same
 * premises, or a wrong house) does not merge the name's later complaints,
 * at its real address too, into the other's cluster; a complaint with no
 * name there counts for the business seen there last. */
static void test_named_at_known_address(void **state)
{
    fixture_t *f = *state;
    route(f, 1, 1, "web", "Phở Cổ", "12 Hàng Bạc", "hoan-kiem", T0);
    route(f, 2, 2, "web", "Bánh Mì Hạnh", "Số 12 Hàng Bạc", "hoan-kiem", T0 + DAY);
    route(f, 3, 3, "web", "Bánh Mì Hạnh", "30 Hàng Bè", "hoan-kiem", T0 + 2 * DAY);
    route(f, 4, 4, "hotline", "không rõ", "12 P. Hàng Bạc", "hoan-kiem", T0 + 3 * DAY);
    Cpm__ClustersReply *r = all(f);
    assert_int_equal(r->n_clusters, 2);
    for (size_t i = 0; i < r->n_clusters; i++) {
        if (!strcmp(r->clusters[i]->business, "pho co"))
            assert_int_equal(r->clusters[i]->cases, 1);
        else {
            assert_string_equal(r->clusters[i]->business, "banh mi hanh");
            assert_int_equal(r->clusters[i]->cases, 3);
        }
    }
    routing_clusters_free(&r);
}

/* Two businesses known by name at one address (a market's stalls) stay
 * apart; a complaint with no name there goes to the one seen last. */
static void test_known_names_stay(void **state)
{
    fixture_t *f = *state;
    route(f, 1, 1, "web", "Bún Chả Hương", "", "hoan-kiem", T0);
    route(f, 2, 2, "web", "Nem Rán Lan", "5 Đồng Xuân", "hoan-kiem", T0 + 1);
    route(f, 3, 3, "web", "Bún Chả Hương", "5 Đồng Xuân", "hoan-kiem", T0 + 2);
    route(f, 4, 4, "hotline", "?", "số 5 phố Đồng Xuân", "hoan-kiem", T0 + 3);
    Cpm__ClustersReply *r = all(f);
    assert_int_equal(r->n_clusters, 2);
    for (size_t i = 0; i < r->n_clusters; i++) {
        if (!strcmp(r->clusters[i]->business, "bun cha huong"))
            assert_int_equal(r->clusters[i]->cases, 3); /* its own, and the last seen there */
        else
            assert_int_equal(r->clusters[i]->cases, 1);
    }
    routing_clusters_free(&r);
}

/* No name (a placeholder) and no exact address: nothing counted. */
static void test_nothing_to_key(void **state)
{
    fixture_t *f = *state;
    route(f, 1, 1, "hotline", "không rõ", "Phố Hàng Bạc", "hoan-kiem", T0);
    route(f, 2, 1, "hotline", "N/A", NULL, "hoan-kiem", T0 + 1);
    route(f, 3, 1, "hotline", "Cửa hàng", "", "hoan-kiem", T0 + 2);
    Cpm__ClustersReply *r = all(f);
    assert_int_equal(r->n_clusters, 0);
    routing_clusters_free(&r);
}

static void test_sweep(void **state)
{
    fixture_t *f = *state;
    route(f, 1, 1, "hotline", "ko ro", "12 Hàng Bạc", "hoan-kiem", T0);
    route(f, 2, 2, "web", "Pho A", "12 Hàng Bạc", "hoan-kiem", T0 + 10 * DAY);
    cpm_sweep_cursor_t cur = {0};
    size_t deleted = 0;
    MDB_txn *txn = dom_begin(f->st, true); /* window 15 days at T0 + 20: nothing older */
    assert_int_equal(dom_end(txn, routing_bizlink_sweep(f->st, txn, T0 + 20 * DAY, 15 * DAY, 100,
                                                        &cur, &deleted)),
                     0);
    assert_int_equal(deleted, 0);
    txn = dom_begin(f->st, true); /* at T0 + 30 both last seen at T0 + 10: gone */
    assert_int_equal(dom_end(txn, routing_bizlink_sweep(f->st, txn, T0 + 30 * DAY, 15 * DAY, 100,
                                                        &cur, &deleted)),
                     0);
    assert_int_equal(deleted, 1); /* the address (a name is never linked through it) */
}

/* The only alias of the store (an address's), its value into v. */
static void only_alias(fixture_t *f, uint8_t v[ROUTING_CLUSTER_KEY_LEN + 8])
{
    MDB_txn *txn = dom_begin(f->st, false);
    MDB_cursor *cur;
    MDB_val k, val;
    assert_int_equal(mdb_cursor_open(txn, cpm_store_dbi(f->st, ROUTING_BIZLINK_DB), &cur), 0);
    assert_int_equal(mdb_cursor_get(cur, &k, &val, MDB_FIRST), 0);
    assert_int_equal(val.mv_size, ROUTING_CLUSTER_KEY_LEN + 8);
    memcpy(v, val.mv_data, val.mv_size);
    assert_int_equal(mdb_cursor_get(cur, &k, &val, MDB_NEXT), MDB_NOTFOUND);
    mdb_cursor_close(cur);
    cpm_store_abort(&txn);
}

static size_t alias_sweep(fixture_t *f, int64_t now, int64_t window)
{
    cpm_sweep_cursor_t cur = {0};
    size_t deleted = 0;
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(
        dom_end(txn, routing_bizlink_sweep(f->st, txn, now, window, 100, &cur, &deleted)), 0);
    return deleted;
}

/* An address used again for the business it leads to: the alias is not
 * rewritten (when it was last used is kept next to the business, on the
 * leaf the complaint writes anyway); the sweep goes by that time, and takes
 * it along with the alias. */
static void test_alias_used_again(void **state)
{
    fixture_t *f = *state;
    uint8_t before[ROUTING_CLUSTER_KEY_LEN + 8], after[ROUTING_CLUSTER_KEY_LEN + 8];
    route(f, 1, 1, "web", "Pho A", "12 Hàng Bạc", "hoan-kiem", T0);
    only_alias(f, before);
    route(f, 2, 2, "hotline", "ko ro", "12 Hàng Bạc", "hoan-kiem", T0 + 10 * DAY);
    only_alias(f, after);
    assert_memory_equal(before, after, sizeof before); /* not written again */
    assert_int_equal(dom_keys_of_len(f->st, ROUTING_CLUSTERS_DB, ROUTING_CLUSTER_SEEN_KEY_LEN), 1);
    assert_int_equal(alias_sweep(f, T0 + 20 * DAY, 15 * DAY), 0); /* used at T0 + 10 */
    assert_int_equal(alias_sweep(f, T0 + 30 * DAY, 15 * DAY), 1);
    assert_int_equal(dom_keys_of_len(f->st, ROUTING_CLUSTERS_DB, ROUTING_CLUSTER_SEEN_KEY_LEN), 0);
}

/* A business named at many addresses: its cluster's sweep deletes a bounded
 * number of their times (one step stays short however many a sender made),
 * and the alias sweep, with the same window, takes the rest with their
 * aliases: nothing is left. */
static void test_many_aliases_swept_in_steps(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 100; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "%d Hàng Bạc", i + 1);
        route(f, i + 1, (uint8_t)(i + 1), "web", "Pho A", addr, "hoan-kiem", T0);
    }
    size_t seen = dom_keys_of_len(f->st, ROUTING_CLUSTERS_DB, ROUTING_CLUSTER_SEEN_KEY_LEN);
    assert_true(seen > 64); /* more than one step deletes */
    routing_clusters_sweep_t cur = {0};
    size_t members = 0, clusters = 0;
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(dom_end(txn, routing_clusters_sweep(f->st, txn, T0 + 30 * DAY, 15 * DAY, 500,
                                                         &cur, &members, &clusters)),
                     0);
    assert_true(clusters >= 1);
    size_t left = dom_keys_of_len(f->st, ROUTING_CLUSTERS_DB, ROUTING_CLUSTER_SEEN_KEY_LEN);
    assert_int_equal(left, seen - 64); /* the step deleted 64 of them */
    size_t aliases = 0;
    for (int i = 0;
         i < 10 && dom_keys_of_len(f->st, ROUTING_CLUSTERS_DB, ROUTING_CLUSTER_SEEN_KEY_LEN) > 0;
         i++)
        aliases += alias_sweep(f, T0 + 30 * DAY, 15 * DAY);
    assert_true(aliases >= seen);
    assert_int_equal(dom_keys_of_len(f->st, ROUTING_CLUSTERS_DB, ROUTING_CLUSTER_SEEN_KEY_LEN), 0);
}

/* A complaint delivered late (received before the last one) is the alias's
 * last use, as when the alias held it: the time is the last complaint's,
 * not the latest. */
static void test_alias_used_late(void **state)
{
    fixture_t *f = *state;
    route(f, 1, 1, "web", "Pho A", "12 Hàng Bạc", "hoan-kiem", T0 + 10 * DAY);
    route(f, 2, 2, "hotline", "ko ro", "12 Hàng Bạc", "hoan-kiem", T0 + 2 * DAY);
    assert_int_equal(alias_sweep(f, T0 + 16 * DAY, 15 * DAY), 0);
    assert_int_equal(alias_sweep(f, T0 + 18 * DAY, 15 * DAY), 1);
}

/* A store written before: an alias without its time next to the business
 * was last used when the alias says. */
static void test_alias_from_before(void **state)
{
    fixture_t *f = *state;
    route(f, 1, 1, "web", "Pho A", "12 Hàng Bạc", "hoan-kiem", T0);
    uint8_t v[ROUTING_CLUSTER_KEY_LEN + 8];
    only_alias(f, v);
    /* as the code before left it: the alias with its time, nothing else */
    MDB_txn *txn = dom_begin(f->st, true);
    MDB_cursor *cur;
    MDB_val k, val;
    assert_int_equal(mdb_cursor_open(txn, cpm_store_dbi(f->st, ROUTING_CLUSTERS_DB), &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT))
        if (k.mv_size == ROUTING_CLUSTER_SEEN_KEY_LEN)
            assert_int_equal(mdb_cursor_del(cur, 0), 0);
    mdb_cursor_close(cur);
    assert_int_equal(dom_end(txn, 0), 0);
    assert_int_equal(dom_keys_of_len(f->st, ROUTING_CLUSTERS_DB, ROUTING_CLUSTER_SEEN_KEY_LEN), 0);
    assert_int_equal(alias_sweep(f, T0 + 14 * DAY, 15 * DAY), 0);
    assert_int_equal(alias_sweep(f, T0 + 16 * DAY, 15 * DAY), 1);
}

/* The key drops the legal and shop forms ("Công ty TNHH Phở Cổ" = "Phở Cổ");
 * a business stored before, under its name with the forms, keeps its
 * cluster: once a complaint spelled as stored arrives, every spelling with
 * or without the forms counts there. */
static void test_forms_and_stored_clusters(void **state)
{
    fixture_t *f = *state;
    cpm_bizkey_t bk;
    assert_int_equal(cpm_bizkey_make("Công ty TNHH Phở Cổ", "", "hoan-kiem", &bk), 0);
    assert_string_not_equal(bk.key, bk.legacy_key);
    /* as routing stored it before: the cluster under the name with its forms */
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    uint8_t key[32] = {99};
    c.ticket = "HK-00000090";
    c.business_name = "Công ty TNHH Phở Cổ";
    c.area = "hoan-kiem";
    c.consumer_key.data = key;
    c.consumer_key.len = 32;
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(
        dom_end(txn, routing_clusters_count(f->st, txn, bk.legacy_key, bk.name, "", &c, T0, NULL)),
        0);
    /* the same spelling finds the stored cluster and links the new key to it */
    route(f, 91, 1, "hotline", "CÔNG TY TNHH PHỞ CỔ", "", "hoan-kiem", T0 + DAY);
    route(f, 92, 2, "web", "Phở Cổ", "", "hoan-kiem", T0 + 2 * DAY);
    route(f, 93, 3, "social", "cty tnhh pho co", "", "hoan-kiem", T0 + 3 * DAY);
    Cpm__ClustersReply *r = all(f);
    assert_int_equal(r->n_clusters, 1);
    assert_int_equal(r->clusters[0]->cases, 4);
    assert_int_equal(r->clusters[0]->consumers, 4);
    routing_clusters_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_channels_link, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_alias_used_again, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_alias_used_late, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_alias_from_before, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_named_at_known_address, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_known_names_stay, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_nothing_to_key, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_many_aliases_swept_in_steps, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_forms_and_stored_clusters, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
