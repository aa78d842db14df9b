/* exchange_subs and exchange_received on a real store with the effects
 * seam: who may subscribe, what the policy lets through (redaction), a
 * delivery queued exactly once with its cursor and log entry, suspension
 * when the policy changes, cancel; at the subscriber: newer versions
 * replace, older ones are ignored, the bound, who may list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "exchange_domain.h"
#include "exchange_log.h"
#include "exchange_received.h"
#include "exchange_records.h"
#include "exchange_subs.h"

#define NOW_MS 1796000000000LL
#define STREAM "hn.qltt/exchange>hn.d.hoan-kiem/exchange"
static const char *const dbs[] = {EXCHANGE_DATABASES, NULL};

typedef struct {
    dom_env_t e;
    exchange_t x;
    char counted[1024];
} fx_t;

static void count(void *ctx, const char *c)
{
    fx_t *f = ctx;
    size_t n = strlen(f->counted);
    snprintf(f->counted + n, sizeof f->counted - n, "%s ", c);
}

/* Agencies running an exchange, one running only intake, and an officer of
 * hoan-kiem (agency hn.d.hoan-kiem). */
static cpm_registry_t *registry(void)
{
    Cpm__Member *ms[] = {dom_member("hn.qltt", "department", NULL, "exchange"),
                         dom_member("hn.d.hoan-kiem", "area", "hoan-kiem", "exchange"),
                         dom_member("hn.d.ba-dinh", "area", "ba-dinh", "intake"),
                         dom_member_of("officer.hk", "officer", "hn.d.hoan-kiem")};
    return dom_registry_of(ms, sizeof ms / sizeof *ms);
}

static int setup(void **state)
{
    fx_t *f = dom_env_new(sizeof *f, "xsubs", dbs, 0, "hn.qltt/exchange", NOW_MS);
    f->e.reg = registry();
    exchange_t x = {"hn.qltt", 3, f->e.reg, NULL, 300000, count, f};
    f->x = x;
    *state = f;
    return 0;
}

/* watchlist to every agency (may subscribe); product_warnings without the
 * reporter and without subscribing. */
static char *ALL[] = {"*"};
static char *WFIELDS[] = {"business", "area", "reason"};
static char *PFIELDS[] = {"product", "hazard"};
static Cpm__PolicyRule RW = {PROTOBUF_C_MESSAGE_INIT(&cpm__policy_rule__descriptor),
                             "watchlist",
                             1,
                             ALL,
                             0,
                             NULL,
                             3,
                             WFIELDS,
                             "",
                             true};
static Cpm__PolicyRule RP = {PROTOBUF_C_MESSAGE_INIT(&cpm__policy_rule__descriptor),
                             "product_warnings",
                             1,
                             ALL,
                             0,
                             NULL,
                             2,
                             PFIELDS,
                             "",
                             false};
static Cpm__PolicyRule *RULES[] = {&RW, &RP};
static Cpm__ExchangePolicy POLICY = {
    PROTOBUF_C_MESSAGE_INIT(&cpm__exchange_policy__descriptor), "hn.qltt", 1, 0, 2, RULES};

static const exchange_sender_t OFFICER = {"officer.hk", "hn.d.hoan-kiem", "officer",
                                          (const uint8_t *)"frame", 5};

static int sub(fx_t *f, const Cpm__ExchangePolicy *p, const exchange_sender_t *who,
               const char *dataset, const char *area, bool cancel, exchange_sub_reply_t *out,
               cpm_error_t *err)
{
    Cpm__ExchangeSubscribe s = CPM__EXCHANGE_SUBSCRIBE__INIT;
    s.dataset = (char *)dataset;
    s.area = (char *)area;
    s.cancel = cancel;
    MDB_txn *txn = dom_begin(f->e.st, true);
    return dom_end(
        txn, exchange_subscribe(&f->x, p, f->e.st, txn, &f->e.fx, who, &s, f->e.now, out, err));
}

static void put(fx_t *f, const char *key, const char *area, const char *reason)
{
    Cpm__DataField a = {PROTOBUF_C_MESSAGE_INIT(&cpm__data_field__descriptor), "business",
                        "Công ty TNHH Phở Cổ"},
                   b = {PROTOBUF_C_MESSAGE_INIT(&cpm__data_field__descriptor), "area",
                        (char *)area},
                   c = {PROTOBUF_C_MESSAGE_INIT(&cpm__data_field__descriptor), "tax_code",
                        "0101234567"},
                   d = {PROTOBUF_C_MESSAGE_INIT(&cpm__data_field__descriptor), "reason",
                        (char *)reason};
    Cpm__DataField *fs[] = {&a, &b, &c, &d};
    Cpm__DataRecord r = CPM__DATA_RECORD__INIT;
    r.dataset = "watchlist";
    r.key = (char *)key;
    r.fields = fs;
    r.n_fields = 4;
    r.at_ms = f->e.now;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->e.st, true);
    assert_int_equal(
        dom_end(txn, exchange_records_put(f->e.st, txn, "hn.qltt", 100, &r, NULL, &err)), 0);
}

static size_t tick(fx_t *f, const Cpm__ExchangePolicy *p, exchange_subs_stats_t *s)
{
    dom_fx_clear(&f->e.rec);
    MDB_txn *txn = dom_begin(f->e.st, true);
    assert_int_equal(
        dom_end(txn, exchange_subs_tick(&f->x, p, f->e.st, txn, &f->e.fx, f->e.now, s)), 0);
    return f->e.rec.n_sent;
}

static bool due(fx_t *f, const Cpm__ExchangePolicy *p)
{
    MDB_txn *txn = dom_begin(f->e.st, false);
    bool d = exchange_subs_due(&f->x, p, f->e.st, txn);
    cpm_store_abort(&txn);
    return d;
}

static void test_refusals(void **state)
{
    fx_t *f = *state;
    exchange_sub_reply_t r;
    cpm_error_t err = {0};
    /* the requester's agency runs no exchange */
    exchange_sender_t bd = {"hn.d.ba-dinh", "hn.d.ba-dinh", "area", NULL, 0};
    assert_int_equal(sub(f, &POLICY, &bd, "watchlist", "", false, &r, &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "sender");
    /* the policy does not let anyone subscribe to product_warnings */
    assert_int_equal(sub(f, &POLICY, &OFFICER, "product_warnings", "", false, &r, &err),
                     CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "product_warnings");
    /* no policy: nothing for other agencies */
    assert_int_equal(sub(f, NULL, &OFFICER, "watchlist", "", false, &r, &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "watchlist");
    assert_non_null(strstr(f->counted, "exchange.subscribe_refused"));
    /* a filter on a field the dataset lacks, an unknown dataset */
    Cpm__ExchangeSubscribe s = CPM__EXCHANGE_SUBSCRIBE__INIT;
    s.dataset = "complaint_stats";
    s.business = "x";
    MDB_txn *txn = dom_begin(f->e.st, true);
    assert_int_equal(dom_end(txn, exchange_subscribe(&f->x, &POLICY, f->e.st, txn, &f->e.fx,
                                                     &OFFICER, &s, NOW_MS, &r, &err)),
                     CPM_E_INVALID);
    assert_string_equal(err.field, "business");
    assert_int_equal(sub(f, &POLICY, &OFFICER, "nope", "", false, &r, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "dataset");
    /* cancel of nothing */
    assert_int_equal(sub(f, &POLICY, &OFFICER, "watchlist", "", true, &r, &err), CPM_E_NOT_FOUND);
    assert_int_equal(f->e.rec.n_events, 0);
}

static void test_deliver_once_filtered_redacted(void **state)
{
    fx_t *f = *state;
    exchange_sub_reply_t r;
    cpm_error_t err = {0};
    exchange_subs_stats_t s;
    put(f, "W1", "hoan-kiem", "before"); /* before the subscription: not delivered */
    assert_int_equal(sub(f, &POLICY, &OFFICER, "watchlist", "hoan-kiem", false, &r, &err), 0);
    assert_int_equal(r.r.start_seq, 1);
    assert_false(r.r.duplicate);
    assert_string_equal(r.r.id, "hn.d.hoan-kiem/watchlist");
    assert_int_equal(r.r.n_withheld_fields, 4); /* tax_code, address, from, until */
    assert_int_equal(f->e.rec.n_events, 1);
    assert_string_equal(f->e.rec.events[0].kind, "exchange.subscribed");
    assert_false(due(f, &POLICY));
    put(f, "W2", "ba-dinh", "elsewhere");
    put(f, "W3", "hoan-kiem", "here");
    assert_true(due(f, &POLICY));
    uint64_t head0;
    MDB_txn *txn = dom_begin(f->e.st, false);
    assert_int_equal(exchange_log_head(f->e.st, txn, &head0, NULL), 0);
    cpm_store_abort(&txn);
    assert_int_equal(tick(f, &POLICY, &s), 1);
    assert_int_equal(s.delivered, 1);
    assert_int_equal(s.passed, 1);
    assert_string_equal(f->e.rec.sent[0].stream, STREAM);
    Cpm__ExchangeDelivery *d =
        cpm__exchange_delivery__unpack(NULL, f->e.rec.sent[0].len, f->e.rec.sent[0].rec);
    assert_non_null(d);
    assert_string_equal(d->record->key, "W3");
    assert_string_equal(d->subscription, "hn.d.hoan-kiem/watchlist");
    assert_int_equal(d->record->n_fields, 3); /* tax_code withheld */
    for (size_t i = 0; i < d->record->n_fields; i++)
        assert_string_not_equal(d->record->fields[i]->name, "tax_code");
    cpm__exchange_delivery__free_unpacked(d, NULL);
    /* the delivery is in the proof log, in the same transaction */
    uint64_t head1;
    Cpm__LogRecord *lr = NULL;
    txn = dom_begin(f->e.st, false);
    assert_int_equal(exchange_log_head(f->e.st, txn, &head1, NULL), 0);
    assert_int_equal(head1, head0 + 1);
    assert_int_equal(exchange_log_get(f->e.st, txn, head1, &lr), 0);
    Cpm__LogEntry *le = cpm__log_entry__unpack(NULL, lr->body.len, lr->body.data);
    assert_string_equal(le->kind, "delivery");
    assert_string_equal(le->peer, "hn.d.hoan-kiem");
    cpm__log_entry__free_unpacked(le, NULL);
    cpm__log_record__free_unpacked(lr, NULL);
    assert_int_equal(dom_outbox_depth(f->e.st, txn, STREAM), 1);
    cpm_store_abort(&txn);
    /* exactly once: nothing due, a second tick queues nothing */
    assert_false(due(f, &POLICY));
    assert_int_equal(tick(f, &POLICY, &s), 0);
    /* a new version is delivered again; the same subscription again keeps its cursor */
    put(f, "W3", "hoan-kiem", "changed");
    assert_int_equal(sub(f, &POLICY, &OFFICER, "watchlist", "hoan-kiem", false, &r, &err), 0);
    assert_true(r.r.duplicate);
    assert_int_equal(r.r.start_seq, 3);
    assert_int_equal(tick(f, &POLICY, &s), 1);
    /* policy withdrawn: suspended (once), cursor kept; back: resumed */
    put(f, "W4", "hoan-kiem", "while suspended");
    assert_true(due(f, NULL));
    assert_int_equal(tick(f, NULL, &s), 0);
    assert_int_equal(s.suspended, 1);
    assert_false(due(f, NULL));
    assert_int_equal(tick(f, NULL, &s), 0);
    assert_int_equal(s.suspended, 0);
    assert_non_null(strstr(f->counted, "exchange.subscription_suspended"));
    assert_int_equal(tick(f, &POLICY, &s), 1);
    assert_int_equal(s.resumed, 1);
    /* cancel: nothing more */
    assert_int_equal(sub(f, &POLICY, &OFFICER, "watchlist", "", true, &r, &err), 0);
    assert_true(r.r.cancelled);
    put(f, "W5", "hoan-kiem", "after cancel");
    assert_false(due(f, &POLICY));
    assert_int_equal(tick(f, &POLICY, &s), 0);
}

static int apply(fx_t *f, const char *pub, const char *key, uint64_t version, uint64_t seq,
                 bool *stale, cpm_error_t *err)
{
    Cpm__DataField a = {PROTOBUF_C_MESSAGE_INIT(&cpm__data_field__descriptor), "business",
                        "Shop Hoa"};
    Cpm__DataField *fs[] = {&a};
    Cpm__DataRecord r = CPM__DATA_RECORD__INIT;
    r.dataset = "watchlist";
    r.key = (char *)key;
    r.version = version;
    r.seq = seq;
    r.publisher = (char *)pub;
    r.fields = fs;
    r.n_fields = 1;
    Cpm__ExchangeDelivery d = CPM__EXCHANGE_DELIVERY__INIT;
    d.subscription = "hn.qltt/watchlist";
    d.record = &r;
    const Cpm__Member *pm = cpm_registry_member(f->e.reg, "hn.d.hoan-kiem");
    f->x.node = "hn.qltt"; /* receiving here from hoan-kiem's exchange */
    MDB_txn *txn = dom_begin(f->e.st, true);
    return dom_end(
        txn, exchange_received_apply(&f->x, f->e.st, txn, &f->e.fx, pm, &d, f->e.now, stale, err));
}

static size_t listing(fx_t *f, const exchange_sender_t *who, const char *after, int *rc, char *next,
                      uint64_t *v1)
{
    Cpm__ExchangeReceivedQuery q = CPM__EXCHANGE_RECEIVED_QUERY__INIT;
    q.max = 2;
    q.after = (char *)after;
    Cpm__ExchangeReceivedReply *r = NULL;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->e.st, false);
    *rc = exchange_received_query(&f->x, f->e.st, txn, who, &q, &r, &err);
    cpm_store_abort(&txn);
    size_t n = r ? r->n_records : 0;
    if (r) {
        snprintf(next, 128, "%s", r->next_after);
        if (n && v1)
            *v1 = r->records[0]->version;
    }
    exchange_received_free(&r);
    return n;
}

static void test_received(void **state)
{
    fx_t *f = *state;
    cpm_error_t err = {0};
    bool stale;
    assert_int_equal(apply(f, "hn.d.hoan-kiem", "W1", 2, 5, &stale, &err), 0);
    assert_false(stale);
    assert_int_equal(f->e.rec.n_events, 1);
    assert_string_equal(f->e.rec.events[0].kind, "exchange.received");
    assert_null(strstr(f->e.rec.events[0].detail, "Shop Hoa")); /* no field values */
    /* older and equal versions: ignored, nothing written */
    assert_int_equal(apply(f, "hn.d.hoan-kiem", "W1", 1, 2, &stale, &err), 0);
    assert_true(stale);
    assert_int_equal(apply(f, "hn.d.hoan-kiem", "W1", 2, 5, &stale, &err), 0);
    assert_true(stale);
    assert_int_equal(f->e.rec.n_events, 1);
    assert_int_equal(apply(f, "hn.d.hoan-kiem", "W1", 3, 9, &stale, &err), 0);
    assert_false(stale);
    /* a record of another publisher, forwarded: refused */
    assert_int_equal(apply(f, "hn.doit", "W9", 1, 1, &stale, &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "record.publisher");
    /* the bound (3 per publisher and dataset) */
    assert_int_equal(apply(f, "hn.d.hoan-kiem", "W2", 1, 10, &stale, &err), 0);
    assert_int_equal(apply(f, "hn.d.hoan-kiem", "W3", 1, 11, &stale, &err), 0);
    assert_int_equal(apply(f, "hn.d.hoan-kiem", "W4", 1, 12, &stale, &err), CPM_E_CONFLICT);
    assert_non_null(strstr(f->counted, "exchange.received_full"));
    /* listing: own agency's people only, paged */
    exchange_sender_t own = {"officer.q", "hn.qltt", "officer", NULL, 0};
    int rc;
    char next[128];
    uint64_t v1 = 0;
    assert_int_equal(listing(f, &OFFICER, "", &rc, next, NULL), 0);
    assert_int_equal(rc, CPM_E_FORBIDDEN);
    assert_int_equal(listing(f, &own, "", &rc, next, &v1), 2);
    assert_int_equal(rc, 0);
    assert_int_equal(v1, 3); /* W1 at its latest version */
    assert_string_equal(next, "hn.d.hoan-kiem watchlist W2");
    char after[128];
    snprintf(after, sizeof after, "%s", next);
    assert_int_equal(listing(f, &own, after, &rc, next, NULL), 1);
    assert_string_equal(next, "");
    /* the arrival index holds one entry per live version */
    MDB_txn *txn = dom_begin(f->e.st, false);
    MDB_stat ms;
    assert_int_equal(mdb_stat(txn, cpm_store_dbi(f->e.st, EXCHANGE_RECEIVED_SEQ_DB), &ms), 0);
    assert_int_equal(ms.ms_entries, 3);
    cpm_store_abort(&txn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusals, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_deliver_once_filtered_redacted, setup,
                                        dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_received, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
