/* exchange_subs narrowing, against the policy the city deploys
 * (deploy/hanoi/exchange-policy.yaml, as deploy/local/up fills it in for
 * hn.qltt): who reported an unsafe product (reporter_name, reporter_phone,
 * personal fields of product_warnings) is given to a coordinator of hn.doit
 * asking with the purpose "product recall follow-up" -- by a query, where the
 * purpose is stated per request -- and is never delivered on a subscription:
 * not with the purpose, not without it, not to another agency. A
 * subscription's records land in the subscriber agency's store, readable by
 * all its people, so exchange_subs narrows every subscription to non-personal
 * fields (narrow() in services/exchange/exchange_subs.c). This test fails if
 * that narrowing is removed: the policy alone would let the coordinator's
 * subscription with the purpose carry the reporter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_xpolicy.h"
#include "cpm_xpolicy_doc.h"
#include "exchange_domain.h"
#include "exchange_records.h"
#include "exchange_subs.h"
#include "fixtures/domain/domain_fixture.h"

#define NOW_MS 1796000000000LL
#define PURPOSE "product recall follow-up"
static const char *const dbs[] = {EXCHANGE_DATABASES, NULL};

typedef struct {
    dom_env_t e;
    exchange_t x;
    Cpm__ExchangePolicy *policy;
} fx_t;

static void count(void *ctx, const char *c)
{
    (void)ctx, (void)c;
}

/* The deployed policy with up's substitutions for hn.qltt. */
static Cpm__ExchangePolicy *deployed_policy(void)
{
    const char *src = getenv("CPM_SOURCE_DIR");
    assert_non_null(src);
    char path[512];
    snprintf(path, sizeof path, "%s/deploy/hanoi/exchange-policy.yaml", src);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    char tmp[] = "/tmp/test-xnarrow-policy-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    FILE *out = fdopen(fd, "w");
    assert_non_null(out);
    char line[1024];
    while (fgets(line, sizeof line, in)) {
        char *a = strstr(line, "@AGENCY@"), *v = strstr(line, "@VERSION@");
        if (a)
            fprintf(out, "%.*shn.qltt%s", (int)(a - line), line, a + 8);
        else if (v)
            fprintf(out, "%.*s1%s", (int)(v - line), line, v + 9);
        else
            fputs(line, out);
    }
    fclose(in);
    fclose(out);
    Cpm__ExchangePolicy *p = NULL;
    cpm_error_t err = {0};
    int rc = cpm_xpolicy_from_yaml(tmp, &p, &err);
    unlink(tmp);
    if (rc != 0)
        fail_msg("policy: %s %s", err.field, err.message);
    return p;
}

/* The publisher hn.qltt; the city (hn.doit) and an area office run
 * exchanges; a coordinator of the city and an officer of the area. */
static cpm_registry_t *registry(void)
{
    Cpm__Member *ms[] = {dom_member("hn.qltt", "department", NULL, "exchange"),
                         dom_member("hn.doit", "city", NULL, "exchange"),
                         dom_member("hn.d.hoan-kiem", "area", "hoan-kiem", "exchange"),
                         dom_member_of("coordinator.hn.doit", "coordinator", "hn.doit"),
                         dom_member_of("officer.hk", "officer", "hn.d.hoan-kiem")};
    return dom_registry_of(ms, sizeof ms / sizeof *ms);
}

static int setup(void **state)
{
    fx_t *f = dom_env_new(sizeof *f, "xnarrow", dbs, 0, "hn.qltt/exchange", NOW_MS);
    f->e.reg = registry();
    exchange_t x = {"hn.qltt", 3, f->e.reg, NULL, 300000, count, f};
    f->x = x;
    f->policy = deployed_policy();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    cpm__exchange_policy__free_unpacked(f->policy, NULL);
    return dom_env_teardown(state);
}

static const exchange_sender_t COORD = {"coordinator.hn.doit", "hn.doit", "coordinator",
                                        (const uint8_t *)"frame", 5};
static const exchange_sender_t OFFICER = {"officer.hk", "hn.d.hoan-kiem", "officer",
                                          (const uint8_t *)"frame", 5};

static bool has(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

static void subscribe(fx_t *f, const exchange_sender_t *who, const char *purpose)
{
    Cpm__ExchangeSubscribe s = CPM__EXCHANGE_SUBSCRIBE__INIT;
    s.dataset = "product_warnings";
    s.purpose = (char *)purpose;
    exchange_sub_reply_t r;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->e.st, true);
    int rc = dom_end(txn, exchange_subscribe(&f->x, f->policy, f->e.st, txn, &f->e.fx, who, &s,
                                             f->e.now, &r, &err));
    if (rc != 0)
        fail_msg("subscribe %s: %d %s %s", who->id, rc, err.field, err.message);
    /* The reply says what this subscription will not get. */
    assert_true(has(r.r.withheld_fields, r.r.n_withheld_fields, "reporter_name"));
    assert_true(has(r.r.withheld_fields, r.r.n_withheld_fields, "reporter_phone"));
}

static void publish(fx_t *f, const char *key)
{
    Cpm__DataField a = {PROTOBUF_C_MESSAGE_INIT(&cpm__data_field__descriptor), "product",
                        "Sữa bột XYZ"},
                   b = {PROTOBUF_C_MESSAGE_INIT(&cpm__data_field__descriptor), "hazard",
                        "melamine"},
                   c = {PROTOBUF_C_MESSAGE_INIT(&cpm__data_field__descriptor), "reporter_name",
                        "Nguyễn Văn A"},
                   d = {PROTOBUF_C_MESSAGE_INIT(&cpm__data_field__descriptor), "reporter_phone",
                        "0912345678"};
    Cpm__DataField *fs[] = {&a, &b, &c, &d};
    Cpm__DataRecord r = CPM__DATA_RECORD__INIT;
    r.dataset = "product_warnings";
    r.key = (char *)key;
    r.fields = fs;
    r.n_fields = 4;
    r.at_ms = f->e.now;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->e.st, true);
    assert_int_equal(
        dom_end(txn, exchange_records_put(f->e.st, txn, "hn.qltt", 100, &r, NULL, &err)), 0);
}

/* Deliver; every record sent (to any subscriber) has the product and no
 * reporter. Returns how many went to subscriber. */
static size_t deliver(fx_t *f, const char *subscriber)
{
    dom_fx_clear(&f->e.rec);
    exchange_subs_stats_t s;
    MDB_txn *txn = dom_begin(f->e.st, true);
    assert_int_equal(
        dom_end(txn, exchange_subs_tick(&f->x, f->policy, f->e.st, txn, &f->e.fx, f->e.now, &s)),
        0);
    size_t n = 0;
    for (size_t i = 0; i < f->e.rec.n_sent; i++) {
        Cpm__ExchangeDelivery *d =
            cpm__exchange_delivery__unpack(NULL, f->e.rec.sent[i].len, f->e.rec.sent[i].rec);
        assert_non_null(d);
        bool product = false;
        for (size_t j = 0; j < d->record->n_fields; j++) {
            const char *name = d->record->fields[j]->name;
            product = product || !strcmp(name, "product");
            if (!strncmp(name, "reporter_", 9))
                fail_msg("%s delivered to %s on subscription %s", name, f->e.rec.sent[i].member,
                         d->subscription);
        }
        assert_true(product);
        cpm__exchange_delivery__free_unpacked(d, NULL);
        n += !strcmp(f->e.rec.sent[i].member, subscriber);
    }
    return n;
}

/* The policy gives the reporter only to the city's coordinator with the
 * purpose (what a query gets): so it is the narrowing that keeps it off
 * subscriptions below. */
static void test_policy_gives_reporter_with_purpose(void **state)
{
    fx_t *f = *state;
    const cpm_xdataset_t *d = cpm_xschema_find("product_warnings");
    assert_non_null(d);
    uint64_t rep = 0;
    for (size_t i = 0; i < d->n_fields; i++)
        if (!strncmp(d->fields[i].name, "reporter_", 9))
            rep |= 1ULL << i;
    assert_int_not_equal(rep, 0);
    cpm_xgrant_t g;
    cpm_xpolicy_decide(f->policy, "hn.qltt", d, "hn.doit", "coordinator", PURPOSE, NULL, 0, &g);
    assert_true(g.allowed);
    assert_true(g.subscribe);
    assert_int_equal(g.shared & rep, rep);
    cpm_xpolicy_decide(f->policy, "hn.qltt", d, "hn.doit", "coordinator", "", NULL, 0, &g);
    assert_int_equal(g.shared & rep, 0);
    cpm_xpolicy_decide(f->policy, "hn.qltt", d, "hn.d.hoan-kiem", "officer", PURPOSE, NULL, 0, &g);
    assert_true(g.allowed);
    assert_int_equal(g.shared & rep, 0);
}

static void test_subscription_never_carries_reporter(void **state)
{
    fx_t *f = *state;
    /* The city's coordinator, with the purpose: subscribed, the reporter withheld. */
    subscribe(f, &COORD, PURPOSE);
    subscribe(f, &OFFICER, PURPOSE); /* another agency, with the purpose */
    publish(f, "PW-1");
    assert_int_equal(f->e.rec.n_sent, 0);
    assert_int_equal(deliver(f, "hn.doit"), 1);
    assert_int_equal(f->e.rec.n_sent, 2); /* and one to hn.d.hoan-kiem, checked alike */
    /* The same subscription without the purpose. */
    subscribe(f, &COORD, "");
    publish(f, "PW-2");
    assert_int_equal(deliver(f, "hn.doit"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_gives_reporter_with_purpose),
        cmocka_unit_test(test_subscription_never_carries_reporter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
