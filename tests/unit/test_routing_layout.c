/* Tests for where routing keeps a business's entries (routing_clusters.h):
 * its aggregate, themes, consumers and duplicate links all under keys that
 * begin with the business in "clusters", so that a complaint dirties one
 * leaf of one B-tree for them, not one of each of four; and a store written
 * before (consumers in "clusters.members", themes in "clusters.themes", links
 * in "dupes") keeps giving the same answers as a store written after, its
 * entries moved when next written and swept as before; and one whose rank
 * index is in "clusters.rank" (hex keys) has it moved at start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_util.h"
#include "fixtures/domain/domain_fixture.h"
#include "fixtures/domain/routing_fixture.h"
#include "routing_bizlink.h"
#include "routing_clusters.h"
#include "routing_domain.h"
#include "routing_dupes.h"
#include "routing_themes.h"

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"
#define DAY (86400LL * 1000)
#define WINDOW (365 * DAY)

static const char *const dbs[] = ROUTING_DBS;
#define T0 dom_vn_time(2026, 3, 2, 10, 0)

typedef dom_env_t fixture_t;

static int setup(void **state)
{
    routing_dupes_set_window(30 * DAY);
    routing_themes_set_window(WINDOW);
    *state = dom_env_new(sizeof(fixture_t), "routing-layout", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         T0 + 60 * 1000);
    return 0;
}

static void route(fixture_t *f, int n, uint8_t consumer, const char *business, int64_t at)
{
    uint8_t key[32] = {consumer};
    rfx_route(f, &(rfx_complaint_t){
                     .n = n,
                     .key = key,
                     .business = business,
                     .address = "12 Hang Bac",
                     .description = "Bát phở tính gấp đôi giá trên thực đơn, nhân viên thô lỗ",
                     .at = at,
                 });
}

static size_t entries(fixture_t *f, const char *db)
{
    return dom_entries(f->st, db);
}

/* Keys of "clusters" of length klen. */
static size_t kind(fixture_t *f, size_t klen)
{
    return dom_keys_of_len(f->st, ROUTING_CLUSTERS_DB, klen);
}

/* Put the store back in the layout before the move: every consumer, link
 * and themes entry of "clusters" into its old database under its old key,
 * as the routing of earlier versions wrote them. */
static void unmove(fixture_t *f)
{
    enum { MAX = 64 };
    struct {
        uint8_t key[ROUTING_CLUSTER_DUPE_KEY_LEN], val[8192];
        size_t klen, vlen;
    } *e = calloc(MAX, sizeof *e);
    assert_non_null(e);
    size_t n = 0;
    MDB_txn *txn = dom_begin(f->st, true);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, cpm_store_dbi(f->st, ROUTING_CLUSTERS_DB), &cur), 0);
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size == ROUTING_CLUSTER_KEY_LEN)
            continue;
        assert_true(n < MAX && v.mv_size <= sizeof e[n].val);
        memcpy(e[n].key, k.mv_data, k.mv_size);
        memcpy(e[n].val, v.mv_data, v.mv_size);
        e[n].klen = k.mv_size;
        e[n++].vlen = v.mv_size;
    }
    mdb_cursor_close(cur);
    for (size_t i = 0; i < n; i++) {
        const char *old = ROUTING_THEMES_DB;
        size_t oklen = ROUTING_CLUSTER_KEY_LEN;
        if (e[i].klen == ROUTING_CLUSTER_SEEN_KEY_LEN) {
            /* an alias's last use: it was in the alias (b + at) */
            uint8_t alias[ROUTING_CLUSTER_KEY_LEN + 8];
            assert_int_equal(e[i].vlen, 8);
            memcpy(alias, e[i].key, ROUTING_CLUSTER_KEY_LEN);
            memcpy(alias + ROUTING_CLUSTER_KEY_LEN, e[i].val, 8);
            assert_int_equal(cpm_store_put(f->st, txn, ROUTING_BIZLINK_DB,
                                           e[i].key + ROUTING_CLUSTER_KEY_LEN + 2,
                                           ROUTING_CLUSTER_KEY_LEN, alias, sizeof alias),
                             0);
            assert_int_equal(cpm_store_del(f->st, txn, ROUTING_CLUSTERS_DB, e[i].key, e[i].klen),
                             0);
            continue;
        }
        if (e[i].klen == ROUTING_CLUSTER_MEMBER_KEY_LEN)
            old = ROUTING_CLUSTER_MEMBERS_DB, oklen = ROUTING_CLUSTER_MEMBER_KEY_LEN;
        else if (e[i].klen == ROUTING_CLUSTER_DUPE_KEY_LEN)
            old = ROUTING_DUPES_DB, oklen = ROUTING_CLUSTER_MEMBER_KEY_LEN;
        else
            assert_int_equal(e[i].klen, ROUTING_CLUSTER_THEMES_KEY_LEN);
        assert_int_equal(cpm_store_put(f->st, txn, old, e[i].key, oklen, e[i].val, e[i].vlen), 0);
        assert_int_equal(cpm_store_del(f->st, txn, ROUTING_CLUSTERS_DB, e[i].key, e[i].klen), 0);
    }
    assert_int_equal(dom_end(txn, 0), 0);
    free(e);
}

static const char *linked_to(fixture_t *f, int n, char out[64])
{
    char ticket[32];
    snprintf(ticket, sizeof ticket, "HK-%08d", n);
    int rc;
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__StatusReply *r = routing_status(f->st, txn, ticket, &rc);
    cpm_store_abort(&txn);
    assert_non_null(r);
    snprintf(out, 64, "%s", r->linked_to);
    cpm__status_reply__free_unpacked(r, NULL);
    return out;
}

/* The clusters reply, as text: what a coordinator is answered. */
static void answer(fixture_t *f, char *out, size_t cap)
{
    Cpm__ClustersQuery q = CPM__CLUSTERS_QUERY__INIT;
    q.min_consumers = 1;
    Cpm__ClustersReply *r = NULL;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, false);
    assert_int_equal(routing_clusters_page(f->st, txn, &q, &r, &err), 0);
    cpm_store_abort(&txn);
    size_t w = 0;
    out[0] = 0;
    for (size_t i = 0; i < r->n_clusters; i++) {
        const Cpm__Cluster *c = r->clusters[i];
        w += (size_t)snprintf(out + w, cap - w, "%s|%u|%u|%s|%lld|%lld|%u themes:", c->business,
                              c->consumers, c->cases, c->first_ticket, (long long)c->first_ms,
                              (long long)c->last_ms, c->themes_dropped);
        for (size_t j = 0; j < c->n_themes; j++) {
            w += (size_t)snprintf(out + w, cap - w, " %u/%u", c->themes[j]->count,
                                  c->themes[j]->consumers);
            for (size_t t = 0; t < c->themes[j]->n_tickets; t++)
                w += (size_t)snprintf(out + w, cap - w, ",%s", c->themes[j]->tickets[t]);
            for (size_t t = 0; t < c->themes[j]->n_words; t++)
                w += (size_t)snprintf(out + w, cap - w, ";%s", c->themes[j]->words[t]);
        }
        w += (size_t)snprintf(out + w, cap - w, "\n");
        assert_true(w < cap);
    }
    routing_clusters_free(&r);
}

static void sweep_all(fixture_t *f, int64_t now, size_t *dupes, size_t *members, size_t *clusters)
{
    cpm_sweep_cursor_t dc = {0};
    routing_clusters_sweep_t cc = {0};
    *dupes = *members = *clusters = 0;
    for (int i = 0; i < 60; i++) {
        size_t d = 0, m = 0, c = 0;
        MDB_txn *txn = dom_begin(f->st, true);
        assert_int_equal(dom_end(txn, routing_dupes_sweep(f->st, txn, now, 3, &dc, &d)), 0);
        txn = dom_begin(f->st, true);
        assert_int_equal(
            dom_end(txn, routing_clusters_sweep(f->st, txn, now, WINDOW, 3, &cc, &m, &c)), 0);
        *dupes += d;
        *members += m;
        *clusters += c;
    }
}

/* What the tests route, in two halves (a restart may fall between). */
static void first_half(fixture_t *f)
{
    route(f, 1, 1, "Pho Ngon", T0);
    route(f, 2, 2, "Pho Ngon", T0 + DAY);
    route(f, 3, 3, "Bun Cha", T0 + DAY);
}

static void second_half(fixture_t *f)
{
    route(f, 4, 1, "Pho Ngon", T0 + 2 * DAY); /* consumer 1 again: linked, not counted again */
    route(f, 5, 4, "Pho Ngon", T0 + 3 * DAY); /* a new consumer */
    route(f, 6, 3, "Bun Cha", T0 + 60 * DAY); /* past the link window: a new first */
    route(f, 7, 3, "Bun Cha", T0 + 61 * DAY); /* linked to 6 */
}

/* A business's entries are all in "clusters", side by side; the databases
 * of the layout before stay empty. */
static void test_one_neighbourhood(void **state)
{
    fixture_t *f = *state;
    first_half(f);
    second_half(f);
    assert_int_equal(entries(f, ROUTING_CLUSTER_MEMBERS_DB), 0);
    assert_int_equal(entries(f, ROUTING_DUPES_DB), 0);
    assert_int_equal(entries(f, ROUTING_THEMES_DB), 0);
    assert_int_equal(kind(f, ROUTING_CLUSTER_KEY_LEN), 2);
    assert_int_equal(kind(f, ROUTING_CLUSTER_THEMES_KEY_LEN), 2);
    assert_int_equal(kind(f, ROUTING_CLUSTER_MEMBER_KEY_LEN), 4);
    assert_int_equal(kind(f, ROUTING_CLUSTER_DUPE_KEY_LEN), 4);
    /* in key order, each business's entries follow its aggregate */
    MDB_txn *txn = dom_begin(f->st, false);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, cpm_store_dbi(f->st, ROUTING_CLUSTERS_DB), &cur), 0);
    MDB_val k, v;
    char bid[ROUTING_CLUSTER_KEY_LEN] = {0};
    size_t businesses = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        assert_true(k.mv_size >= ROUTING_CLUSTER_KEY_LEN);
        if (k.mv_size == ROUTING_CLUSTER_KEY_LEN) {
            memcpy(bid, k.mv_data, ROUTING_CLUSTER_KEY_LEN);
            businesses++;
        } else {
            assert_memory_equal(k.mv_data, bid, ROUTING_CLUSTER_KEY_LEN);
        }
    }
    mdb_cursor_close(cur);
    cpm_store_abort(&txn);
    assert_int_equal(businesses, 2);
}

/* A store written before the move gives the same answers as one written
 * after: links found, consumers not counted twice, themes continued; what
 * is written again moves, and retention empties the old databases. */
static void test_store_from_before(void **state)
{
    fixture_t *f = *state;
    /* the reference: all in the new layout */
    fixture_t *ref = dom_env_new(sizeof(fixture_t), "routing-layout-ref", dbs,
                                 DOM_RULES | DOM_REGISTRY, SELF, T0 + 60 * 1000);
    first_half(ref);
    second_half(ref);
    /* the store from before: the first half in the old layout */
    first_half(f);
    unmove(f);
    assert_int_equal(entries(f, ROUTING_CLUSTER_MEMBERS_DB), 3);
    assert_int_equal(entries(f, ROUTING_DUPES_DB), 3);
    assert_int_equal(entries(f, ROUTING_THEMES_DB), 2);
    assert_int_equal(kind(f, ROUTING_CLUSTER_MEMBER_KEY_LEN) +
                         kind(f, ROUTING_CLUSTER_DUPE_KEY_LEN) +
                         kind(f, ROUTING_CLUSTER_THEMES_KEY_LEN),
                     0);
    second_half(f);
    char a[4096], b[4096], la[64], lb[64];
    answer(ref, a, sizeof a);
    answer(f, b, sizeof b);
    print_message("%s", b);
    assert_string_equal(a, b);
    for (int n = 1; n <= 7; n++)
        assert_string_equal(linked_to(ref, n, la), linked_to(f, n, lb));
    assert_string_equal(linked_to(f, 4, la), "HK-00000001");
    assert_string_equal(linked_to(f, 7, la), "HK-00000006");
    /* written again, moved: consumer 1 of Pho Ngon and 3 of Bun Cha, both
     * themes; consumer 2's link and count stay where they were */
    assert_int_equal(entries(f, ROUTING_CLUSTER_MEMBERS_DB), 1);
    assert_int_equal(entries(f, ROUTING_THEMES_DB), 0);
    assert_int_equal(entries(f, ROUTING_DUPES_DB), 2); /* consumer 1's first is still linked to */
    /* retention: the same deletions as the reference, the old databases
     * emptied */
    size_t d1, m1, c1, d2, m2, c2;
    sweep_all(ref, T0 + 40 * DAY, &d1, &m1, &c1);
    sweep_all(f, T0 + 40 * DAY, &d2, &m2, &c2);
    assert_int_equal(d1, d2);
    assert_int_equal(m1 + c1 + m2 + c2, 0);
    assert_int_equal(entries(f, ROUTING_DUPES_DB), 0);
    answer(ref, a, sizeof a);
    answer(f, b, sizeof b);
    assert_string_equal(a, b);
    sweep_all(ref, T0 + 70 * DAY + WINDOW, &d1, &m1, &c1);
    sweep_all(f, T0 + 70 * DAY + WINDOW, &d2, &m2, &c2);
    assert_int_equal(d1, d2);
    assert_int_equal(m1, m2);
    assert_int_equal(c1, c2);
    assert_int_equal(c2, 2);
    assert_int_equal(entries(f, ROUTING_CLUSTER_MEMBERS_DB), 0);
    assert_int_equal(entries(f, ROUTING_DUPES_DB), 0);
    assert_int_equal(entries(f, ROUTING_THEMES_DB), 0);
    assert_int_equal(entries(f, ROUTING_CLUSTERS_DB), 0);
    assert_int_equal(entries(ref, ROUTING_CLUSTERS_DB), 0);
    void *r = ref;
    dom_env_teardown(&r);
}

/* Put the rank index back as the code before kept it: "clusters.rank",
 * "%08x%08x" of (~consumers, ~cases) then the business, for every
 * aggregate; "clusters.order" emptied. The entries written. */
static size_t unrank(fixture_t *f)
{
    MDB_txn *txn = dom_begin(f->st, true);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, cpm_store_dbi(f->st, ROUTING_CLUSTERS_DB), &cur), 0);
    MDB_val k, v;
    size_t n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != ROUTING_CLUSTER_KEY_LEN)
            continue;
        Cpm__Cluster *cl = cpm__cluster__unpack(NULL, v.mv_size, v.mv_data);
        assert_non_null(cl);
        char key[ROUTING_CLUSTER_CURSOR_LEN + 1];
        snprintf(key, sizeof key, "%08x%08x%.32s", ~cl->consumers, ~cl->cases,
                 (const char *)k.mv_data);
        cpm__cluster__free_unpacked(cl, NULL);
        assert_int_equal(cpm_store_put(f->st, txn, ROUTING_CLUSTER_RANK_OLD_DB, key,
                                       ROUTING_CLUSTER_CURSOR_LEN, "", 0),
                         0);
        n++;
    }
    mdb_cursor_close(cur);
    assert_int_equal(mdb_drop(txn, cpm_store_dbi(f->st, ROUTING_CLUSTER_RANK_DB), 0), 0);
    assert_int_equal(dom_end(txn, 0), 0);
    return n;
}

/* One cluster from after (NULL: the top), with min 1 and max 1: its
 * business into business, the next cursor into next. */
static void page_of_one(fixture_t *f, const char *after, char business[64], char next[64])
{
    Cpm__ClustersQuery q = CPM__CLUSTERS_QUERY__INIT;
    q.min_consumers = 1;
    q.max = 1;
    q.after = (char *)after;
    Cpm__ClustersReply *r = NULL;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, false);
    assert_int_equal(routing_clusters_page(f->st, txn, &q, &r, &err), 0);
    cpm_store_abort(&txn);
    assert_int_equal(r->n_clusters, 1);
    snprintf(business, 64, "%s", r->clusters[0]->business);
    snprintf(next, 64, "%s", r->next_after);
    routing_clusters_free(&r);
}

/* A store written before "clusters.order" (its rank in hex in
 * "clusters.rank") answers nothing until the rank is moved, as the service
 * does at start, in bounded transactions; then the same answers as before,
 * and a cursor given out before the move pages on after it. */
static void test_rank_from_before(void **state)
{
    fixture_t *f = *state;
    first_half(f);
    second_half(f);
    route(f, 8, 5, "Cha Ca", T0 + 62 * DAY);
    char a[4096], b[4096], b1[64], c1[64], b2[64], c2[64], b3[64], c3[64];
    answer(f, a, sizeof a);
    page_of_one(f, NULL, b1, c1);
    page_of_one(f, c1, b2, c2);
    assert_int_equal(strlen(c1), ROUTING_CLUSTER_CURSOR_LEN);
    assert_int_equal(unrank(f), 3);
    MDB_txn *txn = dom_begin(f->st, true); /* not a rank key: dropped by the move */
    assert_int_equal(cpm_store_put(f->st, txn, ROUTING_CLUSTER_RANK_OLD_DB, "x", 1, "", 0), 0);
    assert_int_equal(dom_end(txn, 0), 0);
    answer(f, b, sizeof b);
    assert_string_equal(b, "");
    size_t moved = 0, txns = 0;
    assert_int_equal(routing_clusters_rank_upgrade(f->st, 2, &moved, &txns), 0);
    assert_int_equal(moved, 4);
    assert_int_equal(txns, 2); /* 2 entries per transaction */
    assert_int_equal(entries(f, ROUTING_CLUSTER_RANK_OLD_DB), 0);
    assert_int_equal(entries(f, ROUTING_CLUSTER_RANK_DB), 3);
    answer(f, b, sizeof b);
    assert_string_equal(a, b);
    page_of_one(f, c1, b3, c3);
    assert_string_equal(b3, b2);
    assert_string_equal(c3, c2);
    /* once moved, a start moves nothing */
    assert_int_equal(routing_clusters_rank_upgrade(f->st, 2, &moved, &txns), 0);
    assert_int_equal(moved, 0);
    assert_int_equal(txns, 1);
    /* rolled back and forward again: the older binary moved a cluster in
     * "clusters.rank", its entry here no longer says where it is; the
     * cluster is listed once, where it is */
    txn = dom_begin(f->st, true);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, cpm_store_dbi(f->st, ROUTING_CLUSTER_RANK_DB), &cur), 0);
    MDB_val k, v;
    assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    uint8_t stale[ROUTING_CLUSTER_RANK_KEY_LEN];
    assert_int_equal(k.mv_size, sizeof stale);
    memcpy(stale, k.mv_data, sizeof stale);
    mdb_cursor_close(cur);
    stale[7]--; /* one complaint more than it has: listed first */
    assert_int_equal(cpm_store_put(f->st, txn, ROUTING_CLUSTER_RANK_DB, stale, sizeof stale, "", 0),
                     0);
    assert_int_equal(dom_end(txn, 0), 0);
    assert_int_equal(entries(f, ROUTING_CLUSTER_RANK_DB), 4);
    answer(f, b, sizeof b);
    assert_string_equal(a, b);
    /* more stale entries in a row than a page may look at (4 x max + 16):
     * a page cut among them gives a cursor past those it looked at, and
     * paging on reaches the first cluster (it once handed back no cursor,
     * or the same one, for ever) */
    txn = dom_begin(f->st, true);
    for (int i = 2; i < 60; i++) { /* each more complaints than it has */
        uint8_t more[ROUTING_CLUSTER_RANK_KEY_LEN];
        memcpy(more, stale, sizeof more);
        more[7] = (uint8_t)(stale[7] - i);
        assert_int_equal(
            cpm_store_put(f->st, txn, ROUTING_CLUSTER_RANK_DB, more, sizeof more, "", 0), 0);
    }
    assert_int_equal(dom_end(txn, 0), 0);
    char after[64] = "", got[64] = "";
    int pages = 0;
    while (!*got) {
        assert_true(++pages <= 10);
        Cpm__ClustersQuery q = CPM__CLUSTERS_QUERY__INIT;
        q.min_consumers = 1;
        q.max = 1;
        q.after = *after ? after : NULL;
        Cpm__ClustersReply *r = NULL;
        cpm_error_t err = {0};
        txn = dom_begin(f->st, false);
        assert_int_equal(routing_clusters_page(f->st, txn, &q, &r, &err), 0);
        cpm_store_abort(&txn);
        if (r->n_clusters == 0) {
            assert_true(r->truncated);
            assert_true(strlen(r->next_after) == ROUTING_CLUSTER_CURSOR_LEN);
            assert_string_not_equal(r->next_after, after); /* it moves on */
        } else {
            snprintf(got, sizeof got, "%s", r->clusters[0]->business);
        }
        snprintf(after, sizeof after, "%s", r->next_after);
        routing_clusters_free(&r);
    }
    assert_true(pages > 1);
    assert_string_equal(got, b1);
    /* the retention passes delete the stale entries (and keep the rest):
     * one pass, in steps of 10 */
    routing_clusters_sweep_t cc = {0};
    size_t swept = 0, m = 0, c = 0;
    for (int step = 0; step < 20; step++) {
        txn = dom_begin(f->st, true);
        assert_int_equal(dom_end(txn, routing_clusters_sweep(f->st, txn, T0 + 70 * DAY, 3650 * DAY,
                                                             10, &cc, &m, &c)),
                         0);
        assert_int_equal(m + c, 0); /* nothing is old */
        swept += cc.stale;
    }
    assert_int_equal(swept, 59);
    assert_int_equal(entries(f, ROUTING_CLUSTER_RANK_DB), 3);
    answer(f, b, sizeof b);
    assert_string_equal(a, b);
}

/* A store from before whose old "dupes" holds a link dated far ahead (a
 * skewed clock wrote it): the sweep drains it too, instead of staying on the
 * old database until that date while the links in "clusters" go unswept. */
static void test_future_link_does_not_hold_the_sweep(void **state)
{
    fixture_t *f = *state;
    first_half(f); /* links in "clusters", dated T0 and T0 + DAY */
    assert_int_equal(kind(f, ROUTING_CLUSTER_DUPE_KEY_LEN), 3);
    uint8_t key[ROUTING_CLUSTER_MEMBER_KEY_LEN], val[8 + 11];
    memset(key, 'f', sizeof key);
    cpm_put_be64(val, (uint64_t)(T0 + 400 * DAY));
    memcpy(val + 8, "HK-99999999", 11);
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(cpm_store_put(f->st, txn, ROUTING_DUPES_DB, key, sizeof key, val, sizeof val),
                     0);
    assert_int_equal(dom_end(txn, 0), 0);
    size_t d, m, c;
    sweep_all(f, T0 + 40 * DAY, &d, &m, &c);
    assert_int_equal(entries(f, ROUTING_DUPES_DB), 0);
    assert_int_equal(kind(f, ROUTING_CLUSTER_DUPE_KEY_LEN), 0);
    assert_int_equal(d, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_neighbourhood, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_store_from_before, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_future_link_does_not_hold_the_sweep, setup,
                                        dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_rank_from_before, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
