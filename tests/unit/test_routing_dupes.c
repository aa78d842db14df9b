/* Tests for routing_dupes through routing_apply_complaint on a real store:
 * one consumer's complaints about one business within the window are linked
 * to the first case (never dropped), outside it not; other businesses, areas
 * and consumers are not linked; clusters count distinct consumers; the
 * coordinators' list is sorted and bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "fixtures/domain/routing_fixture.h"
#include "routing_domain.h"
#include "routing_dupes.h"

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

static uint8_t K1[32] = {1}, K2[32] = {2};

/* Route a complaint of consumer key (NULL: none) about business in area,
 * received at; returns the case's linked_to (static buffer). */
static const char *route(fixture_t *f, const char *ticket, const uint8_t *key, const char *business,
                         const char *area, int64_t at)
{
    rfx_route(f, &(rfx_complaint_t){
                     .ticket = ticket, .key = key, .business = business, .area = area, .at = at});
    return rfx_linked_to(f, ticket);
}

static void test_norm(void **state)
{
    (void)state;
    char out[64];
    assert_true(routing_business_norm("PHỞ  Ngon Co.!", out, sizeof out));
    assert_string_equal(out, "pho ngon co");
    assert_true(routing_business_norm("Pho\xcc\x9b\xcc\x89 Ngon co", out, sizeof out)); /* NFD */
    assert_true(routing_business_norm("Đông Á", out, sizeof out));
    assert_string_equal(out, "dong a");
    assert_false(routing_business_norm("  !! ", out, sizeof out));
    assert_false(routing_business_norm("", out, sizeof out));
    assert_false(routing_business_norm(NULL, out, sizeof out));
}

static size_t count_events(fixture_t *f, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < f->rec.n_events; i++)
        n += !strcmp(f->rec.events[i].kind, kind);
    return n;
}

static void test_linking(void **state)
{
    fixture_t *f = *state;
    assert_string_equal(route(f, "HK-00000001", K1, "Pho Ngon Co.", "hoan-kiem", T0), "");
    /* same consumer, same business in another spelling, ten days later */
    assert_string_equal(route(f, "HK-00000002", K1, "PHỞ NGON co", "hoan-kiem", T0 + 10 * DAY),
                        "HK-00000001");
    assert_int_equal(count_events(f, "case.linked"), 1);
    assert_int_equal(count_events(f, "case.routed"), 2); /* never dropped */
    /* another business, another area, another consumer, no consumer: not linked */
    assert_string_equal(route(f, "HK-00000003", K1, "Bun Cha 1", "hoan-kiem", T0 + DAY), "");
    assert_string_equal(route(f, "HK-00000004", K1, "Pho Ngon Co.", "ba-dinh", T0 + DAY), "");
    assert_string_equal(route(f, "HK-00000005", K2, "Pho Ngon Co.", "hoan-kiem", T0 + DAY), "");
    assert_string_equal(route(f, "HK-00000006", NULL, "Pho Ngon Co.", "hoan-kiem", T0 + DAY), "");
    /* just inside the window, then past it: a new first case */
    assert_string_equal(route(f, "HK-00000007", K1, "Pho Ngon Co", "hoan-kiem", T0 + 30 * DAY),
                        "HK-00000001");
    assert_string_equal(route(f, "HK-00000008", K1, "Pho Ngon Co", "hoan-kiem", T0 + 31 * DAY), "");
    assert_string_equal(route(f, "HK-00000009", K1, "Pho Ngon", "hoan-kiem", T0 + 32 * DAY), "");
    assert_string_equal(route(f, "HK-00000010", K1, "Pho Ngon Co", "hoan-kiem", T0 + 33 * DAY),
                        "HK-00000008");
    assert_int_equal(count_events(f, "case.linked"), 3);
    /* the same record delivered again changes nothing */
    size_t events = f->rec.n_events;
    route(f, "HK-00000010", K1, "Pho Ngon Co", "hoan-kiem", T0 + 33 * DAY);
    assert_int_equal(f->rec.n_events, events);

    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__ClustersReply *r = NULL;
    assert_int_equal(routing_clusters(f->st, txn, 0, 0, &r), 0);
    cpm_store_abort(&txn);
    assert_int_equal(r->n_clusters, 1);
    assert_string_equal(r->clusters[0]->business, "pho ngon co");
    assert_string_equal(r->clusters[0]->area, "hoan-kiem");
    assert_int_equal(r->clusters[0]->consumers, 2); /* K1, K2; the keyless one is not counted */
    assert_int_equal(r->clusters[0]->cases, 7);
    assert_string_equal(r->clusters[0]->first_ticket, "HK-00000001");
    assert_false(r->truncated);
    routing_clusters_free(&r);
    assert_null(r);
    txn = dom_begin(f->st, false);
    assert_int_equal(routing_clusters(f->st, txn, 3, 0, &r), 0);
    cpm_store_abort(&txn);
    assert_int_equal(r->n_clusters, 0);
    routing_clusters_free(&r);
}

/* Most consumers first; at most max, and truncated says there were more. */
static void test_clusters_bounded(void **state)
{
    fixture_t *f = *state;
    char ticket[32], biz[32];
    int n = 1;
    for (int b = 0; b < 6; b++) {
        snprintf(biz, sizeof biz, "Shop %d", b);
        for (int k = 0; k <= b; k++) {
            uint8_t key[32] = {(uint8_t)(10 + k)};
            snprintf(ticket, sizeof ticket, "HK-%08d", n++);
            route(f, ticket, key, biz, "hoan-kiem", T0 + n);
        }
    }
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__ClustersReply *r = NULL;
    assert_int_equal(routing_clusters(f->st, txn, 2, 3, &r), 0);
    cpm_store_abort(&txn);
    assert_int_equal(r->n_clusters, 3);
    assert_true(r->truncated);
    assert_string_equal(r->clusters[0]->business, "shop 5");
    assert_int_equal(r->clusters[0]->consumers, 6);
    assert_int_equal(r->clusters[1]->consumers, 5);
    assert_int_equal(r->clusters[2]->consumers, 4);
    routing_clusters_free(&r);
    txn = dom_begin(f->st, false);
    assert_int_equal(routing_clusters(f->st, txn, 2, 100000, &r), 0); /* capped, all fit */
    cpm_store_abort(&txn);
    assert_int_equal(r->n_clusters, 5);
    assert_false(r->truncated);
    routing_clusters_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm),
        cmocka_unit_test_setup_teardown(test_linking, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_clusters_bounded, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
