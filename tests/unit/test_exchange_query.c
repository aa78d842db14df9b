/* exchange_query on a real store, no sockets: the filters (business with its
 * match line, tax code by its digits, area, period on time and month
 * fields), removed records left out, redaction with the withheld fields
 * listed, a refusal as a signed answer naming "<dataset>.<field>", the
 * answer signed and bound to the request's hash, msg_id and log entry,
 * paging with next_after, and bad queries refused naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_envelope.h"
#include "exchange_domain.h"
#include "exchange_log.h"
#include "exchange_query.h"
#include "exchange_records.h"

#define NOW_MS 1796000000000LL
#define MARCH_10 1773100800000LL /* 2026-03-10 00:00 UTC */
static const char *const dbs[] = {EXCHANGE_DATABASES, NULL};

typedef struct {
    dom_env_t e; /* first: dom_env_new allocates the whole struct */
    cpm_identity_t id;
    cpm_sender_t signer;
    exchange_t x;
    Cpm__ExchangePolicy policy;
    Cpm__PolicyRule rules[3], *rp[3];
} qenv_t;

static char *WL_FIELDS[] = {"business", "tax_code", "area", "from"};
static char *PW_FIELDS[] = {"product", "brand", "hazard", "date"};
static char *PW_PERSONAL[] = {"reporter_phone"};
static char *ANY[] = {"*"};
static char *DOIT[] = {"hn.doit"};
static char *COORD[] = {"coordinator"};

static void put(qenv_t *q, const char *dataset, const char *key, bool removed, int n, ...)
{
    Cpm__DataField fs[16], *fp[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        cpm__data_field__init(&fs[i]);
        fs[i].name = va_arg(ap, char *);
        fs[i].value = va_arg(ap, char *);
        fp[i] = &fs[i];
    }
    va_end(ap);
    Cpm__DataRecord r = CPM__DATA_RECORD__INIT;
    r.dataset = (char *)dataset;
    r.key = (char *)key;
    r.fields = fp;
    r.n_fields = (size_t)n;
    r.removed = removed;
    r.at_ms = NOW_MS;
    MDB_txn *txn = dom_begin(q->e.st, true);
    cpm_error_t err = {0};
    assert_int_equal(exchange_records_put(q->e.st, txn, "hn.qltt", 1000, &r, NULL, &err), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
}

static int setup(void **state)
{
    qenv_t *q = dom_env_new(sizeof(qenv_t), "xq", dbs, 0, "hn.qltt/exchange", NOW_MS);
    dom_identity("hn.qltt", &q->id);
    cpm_sender_init(&q->signer, &q->id, "exchange");
    exchange_t x = {"hn.qltt", 1000, NULL, &q->id, 300000, NULL, NULL};
    q->x = x;
    cpm__exchange_policy__init(&q->policy);
    q->policy.agency = "hn.qltt";
    q->policy.version = 1;
    for (int i = 0; i < 3; i++) {
        cpm__policy_rule__init(&q->rules[i]);
        q->rp[i] = &q->rules[i];
        q->rules[i].agencies = ANY;
        q->rules[i].n_agencies = 1;
    }
    q->rules[0].dataset = "watchlist";
    q->rules[0].fields = WL_FIELDS;
    q->rules[0].n_fields = 4;
    q->rules[1].dataset = "product_warnings";
    q->rules[1].fields = PW_FIELDS;
    q->rules[1].n_fields = 4;
    q->rules[2].dataset = "product_warnings";
    q->rules[2].agencies = DOIT;
    q->rules[2].roles = COORD;
    q->rules[2].n_roles = 1;
    q->rules[2].fields = PW_PERSONAL;
    q->rules[2].n_fields = 1;
    q->rules[2].purpose = "product recall follow-up";
    q->policy.rules = q->rp;
    q->policy.n_rules = 3;
    char march[24], april[24];
    snprintf(march, sizeof march, "%lld", MARCH_10);
    snprintf(april, sizeof april, "%lld", MARCH_10 + 31 * 86400000LL);
    put(q, "watchlist", "W1", false, 5, "business", "Công ty TNHH Phở Cồ", "tax_code", "0101234567",
        "area", "hoan-kiem", "reason", "ngộ độc thực phẩm", "from", march);
    put(q, "watchlist", "W2", false, 3, "business", "Cửa hàng Bánh Mì Hà Nội", "area", "ba-dinh",
        "from", april);
    put(q, "watchlist", "W3", true, 2, "business", "Phở Cồ Hàng Bông", "area", "hoan-kiem");
    put(q, "product_warnings", "P1", false, 5, "product", "Sữa bột X", "brand",
        "Công ty CP Sữa Việt", "hazard", "melamine", "date", march, "reporter_phone", "0912345678");
    put(q, "complaint_stats", "hoan-kiem|food|2026-03", false, 4, "area", "hoan-kiem", "category",
        "food", "month", "2026-03", "count", "3");
    *state = q;
    return 0;
}

static int teardown(void **state)
{
    qenv_t *q = *state;
    cpm_identity_wipe(&q->id);
    return dom_env_teardown(state);
}

static const uint8_t FRAME[] = "the signed request frame, as received";

/* Run query qq as member of agency/role; the decoded answer (owned) or NULL
 * with *rc set. *env_out (may be NULL) gets the answer's envelope fields. */
static Cpm__ExchangeAnswer *ask(qenv_t *q, const char *member, const char *agency, const char *role,
                                const Cpm__ExchangeQuery *qq, int *rc, cpm_error_t *err,
                                Cpm__Envelope **env_out)
{
    exchange_query_req_t req = {{member, agency, role, FRAME, sizeof FRAME}, "cli.1", "m123"};
    MDB_txn *txn = dom_begin(q->e.st, true);
    uint8_t *frame = NULL;
    size_t len = 0;
    *rc = exchange_query(&q->x, &q->policy, &q->signer, q->e.st, txn, &q->e.fx, &req, qq, NOW_MS,
                         &frame, &len, err);
    if (*rc != 0) {
        cpm_store_abort(&txn);
        return NULL;
    }
    assert_int_equal(cpm_store_commit(txn), 0);
    cpm_slice_t envb, sig;
    assert_int_equal(cpm_envelope_parse_signed(frame, len, &envb, &sig), 0);
    assert_int_equal(cpm_envelope_verify_sig(CPM_PROTO_VERSION, envb.data, envb.len, sig.data,
                                             sig.len, q->id.sign_pk),
                     0);
    Cpm__Envelope *env = cpm__envelope__unpack(NULL, envb.len, envb.data);
    assert_non_null(env);
    assert_int_equal(env->type, CPM__MSG_TYPE__MSG_EXCHANGE_ANSWER_SIGNED);
    Cpm__ExchangeAnswer *a =
        cpm__exchange_answer__unpack(NULL, env->payload.len, env->payload.data);
    assert_non_null(a);
    if (env_out)
        *env_out = env;
    else
        cpm__envelope__free_unpacked(env, NULL);
    free(frame);
    return a;
}

static const char *val(const Cpm__DataRecord *r, const char *name)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (!strcmp(r->fields[i]->name, name))
            return r->fields[i]->value;
    return NULL;
}

static void test_filters(void **state)
{
    qenv_t *q = *state;
    int rc;
    cpm_error_t err = {0};
    Cpm__ExchangeQuery qq = CPM__EXCHANGE_QUERY__INIT;
    qq.dataset = "watchlist";
    qq.business = "cong ty tnhh pho co"; /* accents and form as typed differently */
    Cpm__ExchangeAnswer *a = ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL);
    assert_non_null(a);
    assert_int_equal(a->n_records, 1); /* W3 (also "Phở Cồ") is removed */
    assert_string_equal(a->records[0]->key, "W1");
    assert_non_null(strstr(a->records[0]->match, "pho co"));
    assert_string_equal(a->next_after, "");
    cpm__exchange_answer__free_unpacked(a, NULL);
    /* tax code by its digits */
    qq.business = "";
    qq.tax_code = "0101-234567";
    a = ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL);
    assert_int_equal(a->n_records, 1);
    assert_string_equal(a->records[0]->key, "W1");
    cpm__exchange_answer__free_unpacked(a, NULL);
    /* area */
    qq.tax_code = "";
    qq.area = "ba-dinh";
    a = ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL);
    assert_int_equal(a->n_records, 1);
    assert_string_equal(a->records[0]->key, "W2");
    cpm__exchange_answer__free_unpacked(a, NULL);
    /* period on the time field "from": from April on, only W2 */
    qq.area = "";
    qq.from_ms = MARCH_10 + 10 * 86400000LL;
    a = ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL);
    assert_int_equal(a->n_records, 1);
    assert_string_equal(a->records[0]->key, "W2");
    cpm__exchange_answer__free_unpacked(a, NULL);
    /* a month matches when its range in Vietnam's time overlaps */
    assert_true(exchange_query_in_period("2026-03", true, MARCH_10, MARCH_10));
    /* 2026-02-28 17:00 UTC is already March 1 in Hanoi */
    assert_true(exchange_query_in_period("2026-03", true, 0, 1772298000000LL));
    assert_false(exchange_query_in_period("2026-03", true, 0, 1772298000000LL - 1));
    assert_false(exchange_query_in_period("2026-13", true, 0, 0));
    assert_false(exchange_query_in_period("", false, 0, 0));
}

static void test_redaction_and_personal(void **state)
{
    qenv_t *q = *state;
    int rc;
    cpm_error_t err = {0};
    Cpm__ExchangeQuery qq = CPM__EXCHANGE_QUERY__INIT;
    qq.dataset = "watchlist";
    Cpm__ExchangeAnswer *a = ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL);
    assert_int_equal(a->n_records, 2);
    assert_null(val(a->records[0], "reason")); /* not named: not shared */
    assert_string_equal(val(a->records[0], "business"), "Công ty TNHH Phở Cồ");
    bool listed = false;
    for (size_t i = 0; i < a->n_withheld_fields; i++)
        listed |= !strcmp(a->withheld_fields[i], "reason");
    assert_true(listed);
    cpm__exchange_answer__free_unpacked(a, NULL);
    /* the own agency sees everything */
    a = ask(q, "officer.hn.qltt", "hn.qltt", "officer", &qq, &rc, &err, NULL);
    assert_string_equal(val(a->records[0], "reason"), "ngộ độc thực phẩm");
    assert_int_equal(a->n_withheld_fields, 0);
    cpm__exchange_answer__free_unpacked(a, NULL);
    /* a personal field: refused without the purpose, as a signed answer */
    char *want[] = {"product", "reporter_phone"};
    qq.dataset = "product_warnings";
    qq.fields = want;
    qq.n_fields = 2;
    a = ask(q, "coordinator.hn.doit", "hn.doit", "coordinator", &qq, &rc, &err, NULL);
    assert_int_equal(a->refused_code, 403);
    assert_string_equal(a->refused_field, "product_warnings.reporter_phone");
    assert_true(a->refusal[0]);
    assert_int_equal(a->n_records, 0);
    cpm__exchange_answer__free_unpacked(a, NULL);
    /* with the purpose, but an agency the rule does not name: refused */
    qq.purpose = "product recall follow-up";
    a = ask(q, "officer.hn.d.ba-dinh", "hn.d.ba-dinh", "officer", &qq, &rc, &err, NULL);
    assert_int_equal(a->refused_code, 403);
    assert_string_equal(a->refused_field, "product_warnings.reporter_phone");
    cpm__exchange_answer__free_unpacked(a, NULL);
    /* the named receiver with the purpose: given */
    a = ask(q, "coordinator.hn.doit", "hn.doit", "coordinator", &qq, &rc, &err, NULL);
    assert_int_equal(a->refused_code, 0);
    assert_int_equal(a->n_records, 1);
    assert_string_equal(val(a->records[0], "reporter_phone"), "0912345678");
    cpm__exchange_answer__free_unpacked(a, NULL);
    /* a filter on a field the policy withholds (area is not shared for
     * product_warnings) would reveal it record by record: refused */
    qq.n_fields = 0;
    qq.purpose = "";
    qq.area = "hoan-kiem";
    a = ask(q, "officer.hn.d.ba-dinh", "hn.d.ba-dinh", "officer", &qq, &rc, &err, NULL);
    assert_int_equal(a->refused_code, 403);
    assert_string_equal(a->refused_field, "product_warnings.area");
    assert_int_equal(a->n_records, 0);
    cpm__exchange_answer__free_unpacked(a, NULL);
    qq.area = "";
    /* no policy at all: nothing for another agency */
    qq.n_fields = 0;
    qq.dataset = "watchlist";
    exchange_query_req_t req = {
        {"officer.hn.doit", "hn.doit", "officer", FRAME, sizeof FRAME}, "cli.1", "m1"};
    MDB_txn *txn = dom_begin(q->e.st, true);
    uint8_t *frame = NULL;
    size_t len = 0;
    assert_int_equal(exchange_query(&q->x, NULL, &q->signer, q->e.st, txn, &q->e.fx, &req, &qq,
                                    NOW_MS, &frame, &len, &err),
                     0);
    cpm_store_abort(&txn);
    assert_non_null(frame);
    free(frame);
}

static void test_bound_and_logged(void **state)
{
    qenv_t *q = *state;
    int rc;
    cpm_error_t err = {0};
    Cpm__ExchangeQuery qq = CPM__EXCHANGE_QUERY__INIT;
    qq.dataset = "watchlist";
    qq.area = "hoan-kiem";
    Cpm__Envelope *env = NULL;
    Cpm__ExchangeAnswer *a = ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, &env);
    uint8_t h[32];
    crypto_hash_sha256(h, FRAME, sizeof FRAME);
    assert_int_equal(a->request_hash.len, 32);
    assert_memory_equal(a->request_hash.data, h, 32);
    assert_string_equal(a->request_id, "m123");
    assert_string_equal(a->requester, "officer.hn.doit");
    assert_string_equal(a->publisher, "hn.qltt");
    assert_string_equal(env->recipient, "officer.hn.doit/cli.1");
    assert_string_equal(env->correlation_id, "m123");
    assert_string_equal(env->sender, "hn.qltt");
    assert_int_equal(a->n_records, 1);
    /* the answer names its log entry, which holds the request and the answer */
    MDB_txn *txn = dom_begin(q->e.st, false);
    uint64_t head;
    assert_int_equal(exchange_log_head(q->e.st, txn, &head, NULL), 0);
    assert_int_equal(a->log_seq, head);
    Cpm__LogRecord *lr;
    assert_int_equal(exchange_log_get(q->e.st, txn, head, &lr), 0);
    Cpm__LogEntry *le = cpm__log_entry__unpack(NULL, lr->body.len, lr->body.data);
    assert_string_equal(le->kind, "query");
    assert_string_equal(le->peer, "officer.hn.doit");
    assert_int_equal(le->request.len, sizeof FRAME);
    assert_true(le->response.len > 0);
    cpm__log_entry__free_unpacked(le, NULL);
    cpm__log_record__free_unpacked(lr, NULL);
    cpm_store_abort(&txn);
    cpm__envelope__free_unpacked(env, NULL);
    cpm__exchange_answer__free_unpacked(a, NULL);
    assert_true(q->e.rec.n_events > 0);
}

static void test_paging(void **state)
{
    qenv_t *q = *state;
    char key[16], name[64];
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof key, "X%d", i);
        snprintf(name, sizeof name, "Shop Phở Cồ %d", i);
        put(q, "watchlist", key, false, 1, "business", name);
    }
    int rc, seen = 0;
    cpm_error_t err = {0};
    Cpm__ExchangeQuery qq = CPM__EXCHANGE_QUERY__INIT;
    qq.dataset = "watchlist";
    qq.business = "pho co";
    qq.max = 3;
    char after[64] = "";
    for (int page = 0; page < 5; page++) {
        qq.after = after;
        Cpm__ExchangeAnswer *a =
            ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL);
        assert_true(a->n_records <= 3);
        seen += (int)a->n_records;
        snprintf(after, sizeof after, "%s", a->next_after);
        cpm__exchange_answer__free_unpacked(a, NULL);
        if (!after[0])
            break;
    }
    assert_int_equal(seen, 8); /* W1 and X0..X6; W3 removed */
    assert_string_equal(after, "");
}

/* At most EXCHANGE_QUERY_SCAN records are read per request: a query that
 * matches nothing in a large dataset ends with next_after, and the next
 * page reads on from there. */
static void test_scan_bound(void **state)
{
    qenv_t *q = *state;
    MDB_txn *txn = dom_begin(q->e.st, true);
    cpm_error_t err = {0};
    char key[16], name[32];
    for (int i = 0; i < EXCHANGE_QUERY_SCAN + 5; i++) {
        snprintf(key, sizeof key, "Y%06d", i);
        snprintf(name, sizeof name, "Shop %d", i);
        Cpm__DataField f = CPM__DATA_FIELD__INIT, *fp = &f;
        f.name = "business";
        f.value = name;
        Cpm__DataRecord r = CPM__DATA_RECORD__INIT;
        r.dataset = "watchlist";
        r.key = key;
        r.fields = &fp;
        r.n_fields = 1;
        r.at_ms = NOW_MS;
        assert_int_equal(exchange_records_put(q->e.st, txn, "hn.qltt", 100000, &r, NULL, &err), 0);
    }
    assert_int_equal(cpm_store_commit(txn), 0);
    int rc;
    Cpm__ExchangeQuery qq = CPM__EXCHANGE_QUERY__INIT;
    qq.dataset = "watchlist";
    qq.business = "no such business anywhere";
    Cpm__ExchangeAnswer *a = ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL);
    assert_int_equal(a->n_records, 0);
    assert_true(a->next_after[0]);
    char after[64];
    snprintf(after, sizeof after, "%s", a->next_after);
    cpm__exchange_answer__free_unpacked(a, NULL);
    qq.after = after;
    a = ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL);
    assert_int_equal(a->n_records, 0);
    assert_string_equal(a->next_after, "");
    cpm__exchange_answer__free_unpacked(a, NULL);
}

static void test_bad_queries(void **state)
{
    qenv_t *q = *state;
    int rc;
    cpm_error_t err = {0};
    Cpm__ExchangeQuery qq = CPM__EXCHANGE_QUERY__INIT;
    qq.dataset = "nope";
    assert_null(ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL));
    assert_int_equal(rc, CPM_E_INVALID);
    assert_string_equal(err.field, "dataset");
    qq.dataset = "watchlist";
    qq.max = 501;
    assert_null(ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL));
    assert_string_equal(err.field, "max");
    qq.max = 0;
    qq.from_ms = 2000;
    qq.to_ms = 1000;
    assert_null(ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL));
    assert_string_equal(err.field, "to_ms");
    qq.from_ms = qq.to_ms = 0;
    qq.tax_code = "01x";
    assert_null(ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL));
    assert_string_equal(err.field, "tax_code");
    qq.tax_code = "";
    char big[400];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    qq.business = big;
    assert_null(ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL));
    assert_string_equal(err.field, "business");
    qq.business = "";
    char *bad[] = {"no_such"};
    qq.fields = bad;
    qq.n_fields = 1;
    assert_null(ask(q, "officer.hn.doit", "hn.doit", "officer", &qq, &rc, &err, NULL));
    assert_string_equal(err.field, "fields");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redaction_and_personal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound_and_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_queries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
