/* exchange_policy: the policy in force comes from the signed file; a newer
 * version replaces it; an older one is refused, also after a restart (the
 * highest version in force is remembered in the store). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_util.h"
#include "cpm_xpolicy_doc.h"
#include "exchange_domain.h"
#include "exchange_policy.h"

static const char *const dbs[] = {EXCHANGE_DATABASES, NULL};
static int refused;

static void count(void *ctx, const char *counter)
{
    (void)ctx;
    if (!strcmp(counter, "exchange.policy_refused"))
        refused++;
}

static void write_policy(const char *path, uint64_t version)
{
    static char *ALL[] = {"*"};
    static char *FIELDS[] = {"business"};
    Cpm__PolicyRule r = CPM__POLICY_RULE__INIT;
    Cpm__PolicyRule *rules[] = {&r};
    r.dataset = "watchlist";
    r.agencies = ALL;
    r.n_agencies = 1;
    r.fields = FIELDS;
    r.n_fields = 1;
    Cpm__ExchangePolicy p = CPM__EXCHANGE_POLICY__INIT;
    p.agency = "hn.qltt";
    p.version = version;
    p.rules = rules;
    p.n_rules = 1;
    cpm_identity_t id;
    dom_identity("hn.qltt", &id);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(cpm_xpolicy_sign(&p, id.sign_sk, &buf, &len), 0);
    assert_int_equal(cpm_write_file(path, buf, len, 0600), 0);
    free(buf);
    cpm_identity_wipe(&id);
}

static void test_older_refused_across_restarts(void **state)
{
    (void)state;
    dom_env_t e;
    dom_env_open(&e, "xpol", dbs, DOM_REGISTRY, "hn.qltt/exchange", 0);
    exchange_t x = {"hn.qltt", 100, e.reg, NULL, 300000, count, NULL};
    char path[128];
    snprintf(path, sizeof path, "%s/policy.signed", e.dir);
    write_policy(path, 5);
    exchange_policy_t *p = exchange_policy_new(path, &x, e.st);
    assert_non_null(exchange_policy_current(p));
    assert_int_equal(exchange_policy_current(p)->version, 5);
    exchange_policy_destroy(&p);
    /* an older file restored while the service was down: refused at start */
    write_policy(path, 3);
    refused = 0;
    p = exchange_policy_new(path, &x, e.st);
    assert_null(exchange_policy_current(p));
    assert_int_equal(refused, 1);
    /* a newer one is taken on the next look */
    write_policy(path, 6);
    exchange_policy_tick(p, &x);
    assert_non_null(exchange_policy_current(p));
    assert_int_equal(exchange_policy_current(p)->version, 6);
    exchange_policy_destroy(&p);
    dom_env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_older_refused_across_restarts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
