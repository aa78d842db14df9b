/* Tests that cpm_delivery_apply counts each applied record once: it applies
 * a batch's new records in one nested transaction and, when apply() refuses
 * record j, undoes the run and applies the records before j again. What
 * apply() counts (cpm_metrics_add) or logs on its success path outside the
 * transaction must still happen once per record that took effect: the
 * services' batch entries count health counters there (routing's
 * contact.followed, cases.unassigned; exchange.received_stale). A batch
 * [good, refused] and an alternating one; the calls themselves stay within
 * the bound (at most twice per applied record, once per refused one). Found
 * by the round-3 review: without the muting, the counter was 2 for 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_delivery.h"
#include "cpm_metrics.h"
#include "fixtures/domain/domain_fixture.h"

#define S1 "hn.d.hoan-kiem/intake>hn.doit/routing"

typedef struct {
    dom_env_t env; /* first, for dom_env_teardown */
    cpm_metrics_t *m;
    uint64_t calls; /* apply() calls, counted outside the metrics */
} fixture_t;

static int apply_rec(void *ctx, MDB_txn *txn, const uint8_t *rec, size_t len, cpm_error_t *err)
{
    fixture_t *f = ctx;
    f->calls++;
    char key[64];
    snprintf(key, sizeof key, "applied:%.*s", (int)len, (const char *)rec);
    int rc = cpm_store_put(f->env.st, txn, "meta", key, strlen(key), "1", 1);
    if (rc != 0)
        return rc;
    if (!strncmp((const char *)rec, "bad", 3))
        return cpm_error_set(err, CPM_E_INVALID, "area", "area is not known.");
    cpm_metrics_add(f->m, "effects", 1); /* as "contact.followed" is counted */
    return 0;
}

static int setup(void **state)
{
    fixture_t *f = dom_env_new(sizeof *f, "delivery_effects", NULL, 0, "", 0);
    f->m = cpm_metrics_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cpm_metrics_destroy(&f->m);
    return dom_env_teardown(state);
}

static void deliver(fixture_t *f, uint64_t first, const char *const *recs, size_t n,
                    cpm_delivery_result_t *res)
{
    const uint8_t *p[8];
    size_t lens[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        p[i] = (const uint8_t *)recs[i];
        lens[i] = strlen(recs[i]);
    }
    MDB_txn *txn = dom_begin(f->env.st, true);
    assert_int_equal(
        dom_end(txn, cpm_delivery_apply(f->env.st, txn, S1, first, p, lens, n, apply_rec, f, res)),
        0);
}

/* One good record, then a refused one: one record took effect, so the
 * effect outside the transaction must have happened once. */
static void test_effect_once_per_applied_record(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"good", "bad"};
    deliver(f, 1, b, 2, &res);
    assert_int_equal(res.applied, 1);
    assert_int_equal(res.dead_letters, 1);
    assert_int_equal(cpm_metrics_get(f->m, "effects"), res.applied);
    assert_int_equal(f->calls, 3);     /* good, bad, good again */
    cpm_metrics_add(f->m, "after", 1); /* the thread is not left muted */
    assert_int_equal(cpm_metrics_get(f->m, "after"), 1);
}

/* A hostile sender alternates good and refused records: every good one's
 * effect is doubled. */
static void test_alternating(void **state)
{
    fixture_t *f = *state;
    cpm_delivery_result_t res;
    const char *b[] = {"g1", "bad1", "g2", "bad2", "g3", "bad3"};
    deliver(f, 1, b, 6, &res);
    assert_int_equal(res.applied, 3);
    assert_int_equal(cpm_metrics_get(f->m, "effects"), res.applied);
    assert_true(f->calls <= 2 * res.applied + res.dead_letters);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_effect_once_per_applied_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alternating, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
