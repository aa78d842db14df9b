/* routing_themes through routing_apply_complaint on a real store: similar
 * descriptions about one business form one theme, different ones do not; at
 * most ROUTING_THEMES_MAX themes (the 17th drops the weakest, counted); long
 * and hostile texts are bounded; the themes database keeps no description. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "fixtures/domain/routing_fixture.h"
#include "cpm_bizkey.h"
#include "routing_clusters.h"
#include "routing_domain.h"
#include "routing_themes.h"

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"
#define DAY (86400LL * 1000)

static const char *const dbs[] = ROUTING_DBS;
#define T0 dom_vn_time(2026, 3, 2, 10, 0)

typedef dom_env_t fixture_t;

static int setup(void **state)
{
    routing_dupes_set_window(30 * DAY);
    routing_themes_set_window(365 * DAY);
    *state = dom_env_new(sizeof(fixture_t), "routing", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         T0 + 60 * 1000);
    return 0;
}

/* One consumer's complaint (key byte k; 0: no consumer key) about business with description;
 * ahead: what routing_dupes_link takes from it made first (routing_dupes_pre_new,
 * as routing does on its pool for a batch). */
static void route_as(fixture_t *f, int n, uint8_t k, const char *business, const char *description,
                     int64_t at, bool ahead)
{
    uint8_t key[32] = {k};
    rfx_route(f, &(rfx_complaint_t){.n = n,
                                    .key = k ? key : NULL,
                                    .channel = "web",
                                    .business = business,
                                    .category = "food_safety",
                                    .description = description,
                                    .at = at,
                                    .ahead = ahead});
}

static void route(fixture_t *f, int n, uint8_t k, const char *business, const char *description,
                  int64_t at)
{
    route_as(f, n, k, business, description, at, false);
}

/* Made-up complaints about one pho shop: five consumers tell of the same
 * problem (a cockroach in the bowl) in their own words, with and without
 * diacritics; three tell of other things. */
static const char *const ALIKE[] = {
    "Tôi ăn phở bò ở quán thì thấy con gián trong bát phở, rất mất vệ sinh.",
    "Trong bát phở có con gián chết, quán phở không đảm bảo vệ sinh an toàn thực phẩm.",
    "an pho thay gian trong bat pho, quan mat ve sinh qua",
    "Phát hiện gián trong bát phở bò tái, nhân viên quán còn cãi lại. Mất vệ sinh!",
    "Con gián nằm trong bát phở của con tôi, quán phở bẩn, mất vệ sinh thực phẩm.",
};
static const char *const OTHER[] = {
    "Quán tính tiền sai, thu 150 nghìn cho hai bát nhưng bảng giá ghi 45 nghìn một bát.",
    "Nhân viên thu ngân thái độ thô lỗ, quát mắng khách khi hỏi lại hóa đơn.",
    "Mua sữa chua mang về thì hết hạn sử dụng từ tuần trước, bao bì phồng.",
};

/* The threshold, measured: every alike pair at least ROUTING_THEMES_MIN_PM
 * against the first, every other text below it against all alike ones. */
static void test_similarity(void **state)
{
    (void)state;
    uint32_t a[5][ROUTING_THEMES_K], o[3][ROUTING_THEMES_K];
    for (int i = 0; i < 5; i++)
        assert_true(routing_themes_signature(ALIKE[i], a[i]) > 0);
    for (int i = 0; i < 3; i++)
        assert_true(routing_themes_signature(OTHER[i], o[i]) > 0);
    unsigned min_alike = 1000, max_other = 0;
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++) {
            unsigned pm = routing_themes_similarity(a[i], a[j]);
            print_message("alike %d-%d: %u\n", i, j, pm);
            if (pm < min_alike)
                min_alike = pm;
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++) {
            unsigned pm = routing_themes_similarity(o[i], a[j]);
            if (pm > max_other)
                max_other = pm;
        }
    print_message("min alike %u, max other %u, threshold %u\n", min_alike, max_other,
                  ROUTING_THEMES_MIN_PM);
    assert_true(max_other < ROUTING_THEMES_MIN_PM);
    assert_true(min_alike >= ROUTING_THEMES_MIN_PM);
    assert_int_equal(routing_themes_similarity(a[0], a[0]), 1000);
    /* nothing to compare: empty, function words only */
    uint32_t s[ROUTING_THEMES_K];
    assert_int_equal(routing_themes_signature("", s), 0);
    assert_int_equal(routing_themes_signature(NULL, s), 0);
    assert_int_equal(routing_themes_signature("tôi thì là và của", s), 0);
}

static Cpm__ClustersReply *clusters(fixture_t *f, uint32_t themes)
{
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__ClustersQuery q = CPM__CLUSTERS_QUERY__INIT;
    q.min_consumers = 1;
    q.themes = themes;
    Cpm__ClustersReply *r = NULL;
    cpm_error_t err;
    assert_int_equal(routing_clusters_page(f->st, txn, &q, &r, &err), 0);
    cpm_store_abort(&txn);
    return r;
}

static bool has_word(const Cpm__ClusterTheme *t, const char *w)
{
    for (size_t i = 0; i < t->n_words; i++)
        if (!strcmp(t->words[i], w))
            return true;
    return false;
}

static void test_one_theme(void **state)
{
    fixture_t *f = *state;
    int n = 1; /* interleaved: alike and other complaints over a week */
    for (int i = 0; i < 5; i++) {
        route(f, n++, (uint8_t)(i + 1), "Phở Ngon", ALIKE[i], T0 + i * DAY);
        if (i < 3)
            route(f, n++, (uint8_t)(i + 10), "Pho Ngon", OTHER[i], T0 + i * DAY + 1000);
    }
    Cpm__ClustersReply *r = clusters(f, 0);
    assert_int_equal(r->n_clusters, 1);
    const Cpm__Cluster *cl = r->clusters[0];
    assert_int_equal(cl->cases, 8);
    assert_int_equal(cl->n_themes, 1); /* singletons are not shown */
    const Cpm__ClusterTheme *t = cl->themes[0];
    assert_int_equal(t->count, 5);
    assert_int_equal(t->consumers, 5);
    assert_int_equal(t->first_ms, T0);
    assert_int_equal(t->last_ms, T0 + 4 * DAY);
    assert_int_equal(t->n_tickets, 5);
    assert_string_equal(t->tickets[0], "HK-00000001");
    assert_true(t->n_words >= 3 && t->n_words <= ROUTING_THEMES_SHOW_WORDS);
    assert_true(has_word(t, "gian"));
    assert_true(has_word(t, "pho"));
    assert_int_equal(cl->themes_dropped, 0);
    routing_clusters_free(&r);

    /* The themes database holds no description: no word of one that is not
     * a characteristic word, no run of its bytes. */
    MDB_txn *txn = dom_begin(f->st, false);
    MDB_cursor *cur;
    /* themes live next to their aggregate: b "/t" in "clusters" */
    assert_int_equal(mdb_cursor_open(txn, cpm_store_dbi(f->st, ROUTING_CLUSTERS_DB), &cur), 0);
    MDB_val k, v;
    size_t records = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        records += k.mv_size == ROUTING_CLUSTER_THEMES_KEY_LEN;
        assert_null(memmem(v.mv_data, v.mv_size, "nghìn", strlen("nghìn")));
        assert_null(memmem(v.mv_data, v.mv_size, "thô lỗ", strlen("thô lỗ")));
        assert_null(memmem(v.mv_data, v.mv_size, "bat pho", strlen("bat pho")));
        assert_null(memmem(v.mv_data, v.mv_size, "gián", strlen("gián")));
    }
    mdb_cursor_close(cur);
    cpm_store_abort(&txn);
    assert_int_equal(records, 1);
}

/* Made ahead (routing_dupes_pre_new, on the pool for a batch) or here, the
 * same themes: the same complaints about two businesses, one each way;
 * among them one with a description of no word, one of only function words
 * and one without a consumer key; and one whose business name folds to
 * nothing (no name, no address: nothing to count) each way. */
static void test_made_ahead_the_same(void **state)
{
    fixture_t *f = *state;
    int n = 1;
    for (int ahead = 0; ahead < 2; ahead++) {
        const char *biz = ahead ? "Bún Chả Hương" : "Phở Ngon";
        for (int i = 0; i < 5; i++) {
            route_as(f, n++, (uint8_t)(i + 1), biz, ALIKE[i], T0 + i * DAY, ahead);
            if (i < 3)
                route_as(f, n++, (uint8_t)(i + 10), biz, OTHER[i], T0 + i * DAY + 1000, ahead);
        }
        route_as(f, n++, 20, biz, "!!! 123 ... 45", T0 + 5 * DAY, ahead);
        route_as(f, n++, 21, biz, "và của là thì", T0 + 5 * DAY + 1, ahead);
        route_as(f, n++, 0, biz, ALIKE[0], T0 + 5 * DAY + 2, ahead);
        route_as(f, n++, 22, "!!!", ALIKE[1], T0 + 5 * DAY + 3, ahead);
    }
    Cpm__ClustersReply *r = clusters(f, ROUTING_THEMES_MAX);
    assert_int_equal(r->n_clusters, 2);
    const Cpm__Cluster *a = r->clusters[0], *b = r->clusters[1];
    assert_int_equal(a->cases, 11);
    assert_int_equal(b->cases, 11);
    assert_int_equal(a->consumers, b->consumers);
    assert_int_equal(a->n_themes, 1);
    assert_int_equal(a->n_themes, b->n_themes);
    assert_int_equal(a->themes_dropped, b->themes_dropped);
    for (size_t i = 0; i < a->n_themes; i++) {
        const Cpm__ClusterTheme *x = a->themes[i], *y = b->themes[i];
        assert_int_equal(x->count, y->count);
        assert_int_equal(x->consumers, y->consumers);
        assert_int_equal(x->first_ms, y->first_ms);
        assert_int_equal(x->last_ms, y->last_ms);
        assert_int_equal(x->n_tickets, y->n_tickets);
        assert_int_equal(x->n_words, y->n_words);
        for (size_t w = 0; w < x->n_words; w++)
            assert_string_equal(x->words[w], y->words[w]);
    }
    routing_clusters_free(&r);
}

/* A word is shown only once 2 different consumers used it: one consumer
 * writing their name twice puts none of it on the screen. */
static void test_words_of_one_consumer(void **state)
{
    fixture_t *f = *state;
    static const char *const NAMED =
        "Tôi tên Nguyễn Thị Lan, ăn phở thấy con gián trong bát, quán mất vệ sinh.";
    route(f, 1, 7, "Phở Ngon", NAMED, T0);
    route(f, 2, 7, "Phở Ngon", NAMED, T0 + DAY);
    Cpm__ClustersReply *r = clusters(f, 0);
    assert_int_equal(r->n_clusters, 1);
    assert_int_equal(r->clusters[0]->n_themes, 1);
    const Cpm__ClusterTheme *t = r->clusters[0]->themes[0];
    assert_int_equal(t->count, 2);
    assert_int_equal(t->consumers, 1);
    assert_int_equal(t->n_words, 0); /* every word from one consumer */
    routing_clusters_free(&r);
    /* a second consumer: the words both used are shown, the name's are not */
    route(f, 3, 8, "Phở Ngon", "Ăn phở thấy con gián trong bát, quán bẩn mất vệ sinh.",
          T0 + 2 * DAY);
    r = clusters(f, 0);
    t = r->clusters[0]->themes[0];
    assert_int_equal(t->count, 3);
    assert_true(has_word(t, "gian"));
    assert_true(has_word(t, "pho"));
    assert_false(has_word(t, "nguyen"));
    assert_false(has_word(t, "lan"));
    assert_false(has_word(t, "ten"));
    routing_clusters_free(&r);
}

/* At most 16 themes per business: the 17th distinct description drops the
 * weakest (fewest complaints, then oldest), counted. */
static void test_bound(void **state)
{
    fixture_t *f = *state;
    static const char *const TOPIC[] = {
        "gian bat pho",     "tinh tien sai",           "thai do tho lo",
        "sua het han",      "hoa don khong",           "khuyen mai lua",
        "bao hanh tu choi", "shipper giao muon",       "hang nhai nhan hieu",
        "can thieu trong",  "dien thoai loi",          "phong kham vuot gia",
        "ve may bay huy",   "nuoc ngot bui",           "xang pha tap chat",
        "tour du lich doi", "karaoke on ao dem khuya",
    };
    int n = 1;
    /* the first topic twice: it must survive, a single one goes */
    route(f, n++, 1, "Shop X", "gian bat pho", T0);
    route(f, n++, 2, "Shop X", "gian bat pho", T0 + 1);
    for (int i = 1; i < 17; i++)
        route(f, n++, (uint8_t)(i + 2), "Shop X", TOPIC[i], T0 + 10 + i);
    Cpm__ClustersReply *r = clusters(f, 16);
    assert_int_equal(r->n_clusters, 1);
    assert_int_equal(r->clusters[0]->themes_dropped, 1);
    assert_int_equal(r->clusters[0]->n_themes, 1); /* the one of 2 kept; singletons hidden */
    assert_int_equal(r->clusters[0]->themes[0]->count, 2);
    routing_clusters_free(&r);
}

/* Long texts are cut (ROUTING_THEMES_TEXT_MAX bytes), one huge "word" and
 * invalid UTF-8 are harmless; a record stays bounded. */
static void test_long_texts(void **state)
{
    fixture_t *f = *state;
    static char big[60000];
    size_t n = 0;
    while (n + 40 < sizeof big)
        n += (size_t)snprintf(big + n, sizeof big - n, "gián trong bát phở số %zu ", n);
    uint32_t sig[ROUTING_THEMES_K]; /* more than intake lets through: cut, no harm */
    assert_true(routing_themes_signature(big, sig) > 0);
    big[3990] = 0; /* intake's bound is 4000 bytes */
    route(f, 1, 1, "Shop Y", big, T0);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(routing_themes_signature(big, sig), 1);
    big[3990] = 0;
    route(f, 2, 2, "Shop Y", big, T0 + 1);
    /* invalid UTF-8 never reaches themes (refused before), but the
     * signature takes it as bytes */
    assert_true(routing_themes_signature("\xff\xfe gi\xe1\xba\n\x01 pho", sig) >= 1);
    for (int i = 0; i < 40; i++) /* many alike: tickets and fingerprints bounded */
        route(f, 10 + i, (uint8_t)(i + 5), "Shop Y", "gián trong bát phở bò", T0 + 10 + i);
    Cpm__ClustersReply *r = clusters(f, 0);
    assert_int_equal(r->n_clusters, 1);
    assert_true(r->clusters[0]->n_themes >= 1);
    const Cpm__ClusterTheme *t = r->clusters[0]->themes[0];
    assert_true(t->count >= 40);
    assert_int_equal(t->n_tickets, ROUTING_THEMES_TICKETS);
    for (size_t i = 0; i < t->n_words; i++)
        assert_true(strlen(t->words[i]) < 32);
    routing_clusters_free(&r);
    MDB_txn *txn = dom_begin(f->st, false);
    const void *v;
    size_t vlen = 0;
    char bid[CPM_BIZKEY_HEX];
    cpm_bizkey_hash("hoan-kiem", "y", bid); /* "Shop Y": the shop form dropped */
    char key[ROUTING_CLUSTER_THEMES_KEY_LEN + 1];
    snprintf(key, sizeof key, "%.32s/t", bid);
    assert_int_equal(cpm_store_get(f->st, txn, ROUTING_CLUSTERS_DB, key,
                                   ROUTING_CLUSTER_THEMES_KEY_LEN, &v, &vlen),
                     0);
    cpm_store_abort(&txn);
    print_message("themes record of a busy business: %zu bytes\n", vlen);
    assert_true(vlen < 16 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_similarity),
        cmocka_unit_test_setup_teardown(test_one_theme, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_made_ahead_the_same, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_words_of_one_consumer, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_bound, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_long_texts, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
