/* Tests for the bounded clusters and the retention of routing's duplicate
 * and cluster indexes (routing_clusters, routing_dupes_sweep), through
 * routing_apply_complaint on a real store: the rank index gives the same list
 * as a full scan, pages join up, bad cursors are refused; link entries,
 * consumers and clusters are deleted after their windows in bounded steps,
 * never before; "case.linked" names the first case's agency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "fixtures/domain/routing_fixture.h"
#include "routing_clusters.h"
#include "routing_domain.h"
#include "routing_dupes.h"

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
    *state = dom_env_new(sizeof(fixture_t), "routing", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         T0 + 60 * 1000);
    return 0;
}

static void route(fixture_t *f, int n, uint8_t consumer, const char *business, int64_t at)
{
    uint8_t key[32] = {consumer};
    rfx_route(f, &(rfx_complaint_t){
                     .n = n, .key = consumer ? key : NULL, .business = business, .at = at});
}

static size_t entries(fixture_t *f, const char *db)
{
    return dom_entries(f->st, db);
}

/* Entries of one kind in "clusters" (routing_clusters.h: told by their key
 * length), with those of old_db (where a store from before kept them). */
static size_t kind_entries(fixture_t *f, size_t klen, const char *old_db)
{
    return dom_keys_of_len(f->st, ROUTING_CLUSTERS_DB, klen) + (old_db ? entries(f, old_db) : 0);
}
#define LINKS(f) kind_entries(f, ROUTING_CLUSTER_DUPE_KEY_LEN, ROUTING_DUPES_DB)
#define MEMBERS(f) kind_entries(f, ROUTING_CLUSTER_MEMBER_KEY_LEN, ROUTING_CLUSTER_MEMBERS_DB)
#define AGGREGATES(f) kind_entries(f, ROUTING_CLUSTER_KEY_LEN, NULL)

static Cpm__ClustersReply *query(fixture_t *f, uint32_t min, uint32_t max, const char *after,
                                 int want_rc)
{
    Cpm__ClustersQuery q = CPM__CLUSTERS_QUERY__INIT;
    q.min_consumers = min;
    q.max = max;
    q.after = (char *)after;
    Cpm__ClustersReply *r = NULL;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, false);
    assert_int_equal(routing_clusters_page(f->st, txn, &q, &r, &err), want_rc);
    cpm_store_abort(&txn);
    if (want_rc)
        assert_string_equal(err.field, "after");
    return r;
}

typedef struct {
    Cpm__Cluster *cl;
    char key[33]; /* its business id: the order among equals */
} scanned_t;

static int by_rank(const void *a, const void *b)
{
    const scanned_t *p = a, *q = b;
    const Cpm__Cluster *x = p->cl, *y = q->cl;
    if (x->consumers != y->consumers)
        return x->consumers > y->consumers ? -1 : 1;
    if (x->cases != y->cases)
        return x->cases > y->cases ? -1 : 1;
    return strcmp(p->key, q->key);
}

/* The rank index answers what a scan of every aggregate would, in pages. */
static void test_rank_matches_scan(void **state)
{
    fixture_t *f = *state;
    uint32_t seed = 7;
    char biz[32];
    for (int n = 1; n <= 400; n++) {
        seed = seed * 1103515245u + 12345u;
        snprintf(biz, sizeof biz, "Shop %u", (seed >> 8) % 25);
        route(f, n, (uint8_t)(1 + (seed >> 16) % 12), biz, T0 + n * 1000);
    }
    /* the scan: every aggregate, sorted as the reply must be */
    scanned_t all[64];
    size_t n_all = 0;
    MDB_txn *txn = dom_begin(f->st, false);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, cpm_store_dbi(f->st, ROUTING_CLUSTERS_DB), &cur), 0);
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != ROUTING_CLUSTER_KEY_LEN)
            continue; /* a business's other entries (routing_clusters.h) */
        Cpm__Cluster *cl = cpm__cluster__unpack(NULL, v.mv_size, v.mv_data);
        assert_non_null(cl);
        if (cl->consumers >= 2) {
            all[n_all].cl = cl;
            snprintf(all[n_all++].key, 33, "%.*s", (int)k.mv_size, (const char *)k.mv_data);
        } else
            cpm__cluster__free_unpacked(cl, NULL);
    }
    mdb_cursor_close(cur);
    cpm_store_abort(&txn);
    assert_int_equal(n_all, 25);
    qsort(all, n_all, sizeof *all, by_rank);
    /* pages of 4 join up into the scan's list */
    char after[64] = "";
    size_t at = 0;
    for (int page = 0; page < 20; page++) {
        Cpm__ClustersReply *r = query(f, 0, 4, after, 0);
        for (size_t i = 0; i < r->n_clusters; i++, at++) {
            assert_true(at < n_all);
            assert_string_equal(r->clusters[i]->business, all[at].cl->business);
            assert_int_equal(r->clusters[i]->consumers, all[at].cl->consumers);
            assert_int_equal(r->clusters[i]->cases, all[at].cl->cases);
        }
        bool more = r->truncated;
        if (more) {
            assert_int_equal(strlen(r->next_after), ROUTING_CLUSTER_CURSOR_LEN);
            snprintf(after, sizeof after, "%s", r->next_after);
        } else {
            assert_string_equal(r->next_after, "");
        }
        routing_clusters_free(&r);
        if (!more)
            break;
    }
    assert_int_equal(at, n_all);
    /* one query from the top, as before */
    Cpm__ClustersReply *r = NULL;
    txn = dom_begin(f->st, false);
    assert_int_equal(routing_clusters(f->st, txn, 0, 0, &r), 0);
    cpm_store_abort(&txn);
    assert_int_equal(r->n_clusters, n_all);
    assert_false(r->truncated);
    for (size_t i = 0; i < n_all; i++) {
        assert_int_equal(r->clusters[i]->consumers, all[i].cl->consumers);
        assert_true(r->clusters[i]->first_ms >= T0 &&
                    r->clusters[i]->first_ms <= r->clusters[i]->last_ms);
        cpm__cluster__free_unpacked(all[i].cl, NULL);
    }
    routing_clusters_free(&r);
    /* a cursor that no reply gave: refused, naming the field */
    assert_null(query(f, 0, 4, "zz", CPM_E_INVALID));
    assert_null(query(f, 0, 4, "0123456789abcdef0123456789abcdef0123456789abcdeF", CPM_E_INVALID));
}

static void sweep_all(fixture_t *f, int64_t now, size_t *dupes, size_t *members, size_t *clusters)
{
    cpm_sweep_cursor_t dc = {0};
    routing_clusters_sweep_t cc = {0};
    *dupes = *members = *clusters = 0;
    /* steps of 2 until a pass found nothing more: bounded, resumable */
    for (int i = 0; i < 1000; i++) {
        size_t d = 0, m = 0, c = 0;
        MDB_txn *txn = dom_begin(f->st, true);
        assert_int_equal(dom_end(txn, routing_dupes_sweep(f->st, txn, now, 2, &dc, &d)), 0);
        txn = dom_begin(f->st, true);
        assert_int_equal(
            dom_end(txn, routing_clusters_sweep(f->st, txn, now, WINDOW, 2, &cc, &m, &c)), 0);
        *dupes += d;
        *members += m;
        *clusters += c;
        if (i > 40)
            break;
    }
}

static uint32_t consumers_of(fixture_t *f, const char *business)
{
    Cpm__ClustersReply *r = query(f, 1, 0, "", 0);
    uint32_t n = 0;
    for (size_t i = 0; i < r->n_clusters; i++)
        if (!strcmp(r->clusters[i]->business, business))
            n = r->clusters[i]->consumers;
    routing_clusters_free(&r);
    return n;
}

static void test_retention(void **state)
{
    fixture_t *f = *state;
    route(f, 1, 1, "Pho Ngon", T0);
    route(f, 2, 2, "Pho Ngon", T0 + DAY);
    route(f, 3, 3, "Bun Cha", T0 + DAY);
    route(f, 4, 1, "Bun Cha", T0 + 200 * DAY);
    assert_int_equal(LINKS(f), 4);
    assert_int_equal(MEMBERS(f), 4);
    size_t d, m, c;
    /* inside every window: nothing goes */
    sweep_all(f, T0 + 30 * DAY, &d, &m, &c);
    assert_int_equal(d + m + c, 0);
    /* the link window and its grace passed for the first three */
    sweep_all(f, T0 + 39 * DAY, &d, &m, &c);
    assert_int_equal(d, 3);
    assert_int_equal(m + c, 0);
    assert_int_equal(LINKS(f), 1);
    /* a year after: consumers 1, 2 (Pho Ngon) and 3 (Bun Cha) forgotten;
     * Pho Ngon, silent for a year, deleted; Bun Cha heard on day 200 stays */
    sweep_all(f, T0 + DAY + WINDOW + 1, &d, &m, &c);
    assert_int_equal(m, 3);
    assert_int_equal(c, 1);
    assert_int_equal(AGGREGATES(f), 1);
    assert_int_equal(entries(f, ROUTING_CLUSTER_RANK_DB), 1);
    assert_int_equal(consumers_of(f, "bun cha"), 1);
    assert_int_equal(consumers_of(f, "pho ngon"), 0);
    /* Pho Ngon again: a new life, consumer 2 counted once */
    route(f, 5, 2, "Pho Ngon", T0 + 400 * DAY);
    route(f, 6, 2, "Pho Ngon", T0 + 401 * DAY);
    assert_int_equal(consumers_of(f, "pho ngon"), 1);
    /* everything old enough goes, the rank with it */
    sweep_all(f, T0 + 2000 * DAY, &d, &m, &c);
    assert_int_equal(LINKS(f), 0);
    assert_int_equal(MEMBERS(f), 0);
    assert_int_equal(AGGREGATES(f), 0);
    assert_int_equal(entries(f, ROUTING_CLUSTER_RANK_DB), 0);
}

/* A cluster deleted and born again is not discounted when a consumer of its
 * earlier life is forgotten later; that consumer, back, counts again. */
static void test_retention_new_life(void **state)
{
    fixture_t *f = *state;
    route(f, 1, 1, "Pho Ngon", T0);
    route(f, 2, 2, "Pho Ngon", T0 + 10 * DAY);
    /* one entry per step: the aggregate comes first among its business's
     * entries (routing_clusters.h), so the cluster goes and both consumers
     * of its earlier life are left for a later step */
    int64_t now = T0 + 10 * DAY + WINDOW + 1;
    routing_clusters_sweep_t cc = {0};
    size_t m, c;
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(dom_end(txn, routing_clusters_sweep(f->st, txn, now, WINDOW, 1, &cc, &m, &c)),
                     0);
    assert_int_equal(m, 0);
    assert_int_equal(c, 1);
    assert_int_equal(MEMBERS(f), 2);
    /* a new life: consumer 3 */
    route(f, 3, 3, "Pho Ngon", now + 1);
    assert_int_equal(consumers_of(f, "pho ngon"), 1);
    /* consumers 1 and 2 of the old life forgotten now: the new life keeps
     * its count */
    txn = dom_begin(f->st, true);
    assert_int_equal(
        dom_end(txn, routing_clusters_sweep(f->st, txn, now + 2, WINDOW, 10, &cc, &m, &c)), 0);
    assert_int_equal(m, 2);
    assert_int_equal(c, 0);
    assert_int_equal(consumers_of(f, "pho ngon"), 1);
    /* consumer 1 back: counted again, once */
    route(f, 4, 1, "Pho Ngon", now + 3);
    route(f, 5, 1, "Pho Ngon", now + 4);
    assert_int_equal(consumers_of(f, "pho ngon"), 2);
}

/* "case.linked" carries the agency and area of the first case. */
static void test_linked_agency(void **state)
{
    fixture_t *f = *state;
    route(f, 1, 1, "Pho Ngon", T0);
    route(f, 2, 1, "Pho Ngon", T0 + DAY);
    int rc;
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__StatusReply *first = routing_status(f->st, txn, "HK-00000001", &rc);
    cpm_store_abort(&txn);
    assert_non_null(first);
    assert_true(*first->agency);
    size_t linked = 0;
    for (size_t i = 0; i < f->rec.n_events; i++) {
        if (strcmp(f->rec.events[i].kind, "case.linked") != 0)
            continue;
        linked++;
        assert_string_equal(f->rec.events[i].ticket, "HK-00000002");
        assert_string_equal(f->rec.events[i].agency, first->agency);
        assert_string_equal(f->rec.events[i].area, "hoan-kiem");
    }
    assert_int_equal(linked, 1);
    cpm__status_reply__free_unpacked(first, NULL);
}

/* The same when the first case's agency is longer than any member id (read
 * from the whole record then, not from its two fields). */
static void test_linked_agency_long(void **state)
{
    fixture_t *f = *state;
    route(f, 1, 1, "Pho Ngon", T0);
    int rc;
    MDB_txn *txn = dom_begin(f->st, true);
    Cpm__StatusReply *first = routing_status(f->st, txn, "HK-00000001", &rc);
    assert_non_null(first);
    char agency[301];
    memset(agency, 'a', 300);
    agency[300] = 0;
    char *was = first->agency;
    first->agency = agency; /* borrowed until the put */
    assert_int_equal(cpm_store_put_msg(f->st, txn, ROUTING_CASES_DB, "HK-00000001", &first->base),
                     0);
    first->agency = was;
    cpm__status_reply__free_unpacked(first, NULL);
    assert_int_equal(cpm_store_commit(txn), 0);
    route(f, 2, 1, "Pho Ngon", T0 + DAY);
    size_t linked = 0;
    for (size_t i = 0; i < f->rec.n_events; i++) {
        if (strcmp(f->rec.events[i].kind, "case.linked") != 0)
            continue;
        linked++;
        /* as long as the recorder keeps (its buffer), all of it */
        assert_int_equal(strspn(f->rec.events[i].agency, "a"), strlen(f->rec.events[i].agency));
        assert_int_equal(strlen(f->rec.events[i].agency), sizeof f->rec.events[i].agency - 1 < 300
                                                              ? sizeof f->rec.events[i].agency - 1
                                                              : 300);
        assert_string_equal(f->rec.events[i].area, "hoan-kiem");
    }
    assert_int_equal(linked, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rank_matches_scan, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_retention_new_life, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_linked_agency, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_linked_agency_long, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
