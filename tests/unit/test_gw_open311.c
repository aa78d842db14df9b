/* gw_open311 without sockets: the handlers over a fake backend (intake and
 * routing), a client list signed here (by a root key made here), and the
 * writers: the form's fields mapped onto the Complaint, idempotency keys,
 * the standard's errors for a bad key, a forged list, an unknown service,
 * bad coordinates; a request's fields from routing's public view; XML
 * escaping and ISO 8601 times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_docsig.h"
#include "cpm_util.h"
#include "gw_open311_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct {
    int submits;
    int statuses;         /* status queries asked of routing */
    Cpm__Complaint *last; /* a packed-and-unpacked copy of the last submit */
} fake_t;

static int fake_submit(void *arg, const Cpm__Complaint *c, Cpm__SubmitReply **out, cpm_error_t *err)
{
    fake_t *f = arg;
    f->submits++;
    uint8_t buf[8192];
    size_t n = cpm__complaint__pack(c, buf);
    if (f->last)
        cpm__complaint__free_unpacked(f->last, NULL);
    f->last = cpm__complaint__unpack(NULL, n, buf);
    if (!strcmp(c->description, "too long"))
        return cpm_error_set(err, CPM_E_TOO_LARGE, "consumer_email", "email is too long");
    *out = calloc(1, sizeof **out);
    cpm__submit_reply__init(*out);
    (*out)->ticket = strdup("DOIT-00000007");
    (*out)->lookup_code = strdup("");
    return 0;
}

static int fake_status(void *arg, const char *ticket, Cpm__StatusReply **out, cpm_error_t *err)
{
    ((fake_t *)arg)->statuses++;
    if (strcmp(ticket, "DOIT-00000007") != 0)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "ticket", "unknown");
    Cpm__StatusReply *r = calloc(1, sizeof *r);
    cpm__status_reply__init(r);
    r->ticket = strdup(ticket);
    r->state = CPM__CASE_STATE__CASE_STATE_RESOLVED;
    r->outcome = CPM__OUTCOME__OUTCOME_MEDIATED;
    r->agency = strdup("hn.d.hoan-kiem");
    r->category = strdup("food_safety");
    r->area = strdup("hoan-kiem");
    r->received_ms = 1767225600000LL; /* 2026-01-01T00:00:00Z */
    r->resolve_due_ms = 1767225600000LL + 86400000LL;
    *out = r;
    return 0;
}

static int fake_list(void *arg, const Cpm__CaseListQuery *q, Cpm__CaseListReply **out,
                     cpm_error_t *err)
{
    (void)arg, (void)q, (void)out;
    return cpm_error_set(err, CPM_E_UNAVAILABLE, "", "down");
}

static void fake_name(void *arg, const char *id, char *out, size_t cap)
{
    (void)arg;
    snprintf(out, cap, "%s", !strcmp(id, "hn.d.hoan-kiem") ? "Hoan Kiem <office> & co" : "");
}

static int fake_with(void *arg, int (*fn)(const cpm_registry_t *reg, void *a), void *a)
{
    (void)arg;
    return fn(NULL, a); /* signer "root" needs no registry */
}

typedef struct {
    fake_t fake;
    gw_open311_t *o;
    char dir[256], clients[300];
    uint8_t root_pk[32], root_sk[64];
} fx_t;

/* The limits' clock (gw_open311_int.h clock_ms): moved by the tests only. */
static int64_t fake_now_ms = 1000000;

static int64_t fake_clock(void)
{
    return fake_now_ms;
}

/* rate: the rate_per_min field as JSON text, or NULL for none. */
static void write_list_rate(fx_t *x, const uint8_t sk[64], int version, const char *key,
                            const char *rate)
{
    char hex[65], doc[512], sighex[129], file[1200], extra[64] = "";
    gw_clients_key_hash(key, hex);
    if (rate)
        snprintf(extra, sizeof extra, ",\"rate_per_min\":%s", rate);
    snprintf(doc, sizeof doc,
             "{\"version\":%d,\"clients\":[{\"id\":\"demo-app\",\"name\":\"Demo\","
             "\"key_sha256\":\"%s\",\"channel\":\"app\"%s}]}",
             version, hex, extra);
    uint8_t sig[64];
    assert_int_equal(cpm_docsig_sign(GW_CLIENTS_DOMAIN, (uint8_t *)doc, strlen(doc), sk, sig), 0);
    sodium_bin2hex(sighex, sizeof sighex, sig, sizeof sig);
    json_t *f = json_pack("{s:s,s:s,s:s}", "doc", doc, "signer", "root", "signature", sighex);
    char *t = json_dumps(f, 0);
    snprintf(file, sizeof file, "%s", t);
    free(t);
    json_decref(f);
    assert_int_equal(cpm_write_file(x->clients, file, strlen(file), 0644), 0);
}

static void write_list(fx_t *x, const uint8_t sk[64], int version, const char *key)
{
    write_list_rate(x, sk, version, key, NULL);
}

static int setup(void **state)
{
    fx_t *x = calloc(1, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "/tmp/test_gw_open311.XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    snprintf(x->clients, sizeof x->clients, "%s/clients.signed", x->dir);
    crypto_sign_keypair(x->root_pk, x->root_sk);
    write_list(x, x->root_sk, 1, "good-key");
    o311_backend_t be = {fake_submit, fake_status, fake_list, fake_name, fake_with, &x->fake};
    char store[300], rules[1024];
    snprintf(store, sizeof store, "%s/open311", x->dir);
    cpm_error_t err = {0};
    assert_int_equal(o311_new_with(&x->o, &be, store, x->clients, x->root_pk, &err), 0);
    const char *src = getenv("CPM_SOURCE_DIR");
    snprintf(rules, sizeof rules, "%s/deploy/hanoi/routing.yaml", src ? src : ".");
    assert_int_equal(o311_cats_load(x->o, rules, &err), 0);
    x->o->clock_ms = fake_clock;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx_t *x = *state;
    gw_open311_destroy(&x->o);
    if (x->fake.last)
        cpm__complaint__free_unpacked(x->fake.last, NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", x->dir);
    assert_int_equal(system(cmd), 0);
    free(x);
    return 0;
}

static int call(fx_t *x, const char *method, const char *path, const char *body, gw_resp_t *rs)
{
    static const gw_kv_t hdr[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
    gw_req_t rq = {.method = method,
                   .path = path,
                   .headers = hdr,
                   .n_headers = 1,
                   .body = (const uint8_t *)(body ? body : ""),
                   .body_len = body ? strlen(body) : 0,
                   .peer = "127.0.0.1"};
    gw_resp_init(rs);
    /* no gateway context: counters are not kept in unit tests */
    o311_post_request(x->o, NULL, &rq, rs, strstr(path, ".xml") ? O311_XML : O311_JSON);
    return rs->status;
}

#define GOOD                                                                                       \
    "api_key=good-key&service_code=food_safety&lat=21.0285&long=105.8542"                          \
    "&address_string=12+H%C3%A0ng+B%E1%BA%A1c&first_name=An&last_name=Nguyen&phone=0912345678"     \
    "&email=an%40example.vn&description=Food+poisoning&attribute%5Bbusiness_name%5D=Pho+Co"

static void test_post_maps_fields(void **state)
{
    fx_t *x = *state;
    gw_resp_t rs;
    assert_int_equal(call(x, "POST", "/open311/v2/requests.json", GOOD, &rs), 200);
    assert_non_null(strstr(rs.body, "\"service_request_id\":\"DOIT-00000007\""));
    assert_null(strstr(rs.body, "0912345678"));
    gw_resp_clear(&rs);
    const Cpm__Complaint *c = x->fake.last;
    assert_string_equal(c->channel, "web");
    assert_string_equal(c->category, "food_safety");
    assert_true(c->has_point);
    assert_true(c->lat > 21.02 && c->lat < 21.03 && c->lon > 105.85 && c->lon < 105.86);
    assert_string_equal(c->location, "12 Hàng Bạc");
    assert_string_equal(c->consumer_name, "An Nguyen");
    assert_string_equal(c->consumer_phone, "0912345678");
    assert_string_equal(c->consumer_email, "an@example.vn");
    assert_string_equal(c->business_name, "Pho Co");
    assert_int_equal(strlen(c->client_ref), 5 + O311_TOKEN_LEN);
    char ref[64];
    snprintf(ref, sizeof ref, "%s", c->client_ref);
    /* the same request again: the same idempotency key */
    assert_int_equal(call(x, "POST", "/open311/v2/requests.json", GOOD, &rs), 200);
    gw_resp_clear(&rs);
    assert_string_equal(x->fake.last->client_ref, ref);
    /* the token leads to the ticket */
    char ticket[64];
    assert_int_equal(o311_token_get(x->o, ref + 5, ticket, sizeof ticket), 0);
    assert_string_equal(ticket, "DOIT-00000007");
    /* another client_ref: another key */
    assert_int_equal(call(x, "POST", "/open311/v2/requests.json", GOOD "&client_ref=r1", &rs), 200);
    gw_resp_clear(&rs);
    assert_string_not_equal(x->fake.last->client_ref, ref);
}

static void refused(fx_t *x, const char *body, int status, const char *field)
{
    gw_resp_t rs;
    int before = x->fake.submits;
    assert_int_equal(call(x, "POST", "/open311/v2/requests.json", body, &rs), status);
    if (!strstr(rs.body, field))
        fail_msg("%s: want %s in %s", body, field, rs.body);
    json_t *e = json_loads(rs.body, 0, NULL);
    assert_true(json_is_array(e));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(e, 0), "code")), status);
    json_decref(e);
    gw_resp_clear(&rs);
    assert_int_equal(x->fake.submits, before); /* nothing reached intake */
}

static void test_post_refusals(void **state)
{
    fx_t *x = *state;
    refused(x, "api_key=bad-key&service_code=food_safety", 403, "api_key");
    refused(x, "service_code=food_safety", 403, "api_key");
    refused(x, "api_key=good-key&service_code=nope&lat=1&long=1&description=d", 400,
            "service_code");
    refused(x, "api_key=good-key&service_code=food_safety&lat=x&long=1", 400, "lat");
    refused(x, "api_key=good-key&service_code=food_safety&lat=1&long=181", 400, "long");
    refused(x, "api_key=good-key&service_code=food_safety&description=d", 400, "location");
    refused(x, "api_key=good-key&service_code=food_safety&lat=1&long=1", 400, "description");
    refused(x, "api_key=good-key&service_code=food_safety&lat=1&long=1&description=d", 400,
            "business_name");
    refused(x, "api_key=good-key&api_key=good-key", 400, "api_key is given twice");
    refused(x, "api_key=%zz", 400, "escape");
    refused(x, "api_key=good-key&description=%00", 400, "escape"); /* a NUL byte */
    { /* a raw NUL byte inside a field: refused, not cut there */
        static const char raw[] = GOOD "\0tail";
        static const gw_kv_t hdr[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
        gw_req_t rq = {.method = "POST",
                       .path = "/open311/v2/requests.json",
                       .headers = hdr,
                       .n_headers = 1,
                       .body = (const uint8_t *)raw,
                       .body_len = sizeof raw - 1,
                       .peer = "127.0.0.1"};
        gw_resp_t rs;
        gw_resp_init(&rs);
        int before = x->fake.submits;
        o311_post_request(x->o, NULL, &rq, &rs, O311_JSON);
        assert_int_equal(rs.status, 400);
        assert_non_null(strstr(rs.body, "NUL"));
        assert_int_equal(x->fake.submits, before);
        gw_resp_clear(&rs);
    }
    refused(x, GOOD "&client_ref=no+spaces", 400, "client_ref");
    refused(x, GOOD "&attribute%5Bcolour%5D=red", 400, "attribute[colour]");
    /* intake's refusal names the Open311 field */
    gw_resp_t rs;
    assert_int_equal(call(x, "POST", "/open311/v2/requests.json",
                          "api_key=good-key&service_code=food_safety&lat=1&long=1&description="
                          "too+long&attribute%5Bbusiness_name%5D=B",
                          &rs),
                     400);
    assert_non_null(strstr(rs.body, "email"));
    gw_resp_clear(&rs);
}

static size_t occurrences(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *at = text; (at = strstr(at, what)) != NULL; at++)
        n++;
    return n;
}

/* Refused POSTs are all counted but logged at most every 10 s, saying how
 * many went unlogged: anyone can send them as fast as they like. */
static void test_post_refusals_log_at_a_pace(void **state)
{
    fx_t *x = *state;
    char path[300], text[8192];
    snprintf(path, sizeof path, "%s/stderr.log", x->dir);
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    for (int i = 0; i < 50; i++)
        refused(x, "api_key=bad-key&service_code=food_safety", 403, "api_key");
    fake_now_ms += O311_LOG_EVERY_MS;
    refused(x, "api_key=bad-key&service_code=food_safety", 403, "api_key");
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    close(fd);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    text[fread(text, 1, sizeof text - 1, in)] = 0;
    fclose(in);
    assert_int_equal(occurrences(text, "POST requests refused"), 2);
    assert_int_equal(occurrences(text, "; 49 more refused unlogged"), 1);
}

/* A leaked key cannot fill intake's store: POSTs per application are
 * limited by the list's rate_per_min (429 in the standard's format,
 * counted open311.refused.rate), nothing reaching intake. */
static void test_post_rate_per_app(void **state)
{
    fx_t *x = *state;
    write_list_rate(x, x->root_sk, 2, "good-key", "3");
    gw_resp_t rs;
    for (int i = 0; i < 3; i++) {
        char body[600];
        snprintf(body, sizeof body, "%s&client_ref=r%d", GOOD, i);
        assert_int_equal(call(x, "POST", "/open311/v2/requests.json", body, &rs), 200);
        gw_resp_clear(&rs);
    }
    refused(x, GOOD "&client_ref=r3", 429, "too many requests");
    refused(x, GOOD "&client_ref=r4", 429, "\"code\":429");
    fake_now_ms += 20000; /* 3 a minute: one more after 20 s */
    assert_int_equal(call(x, "POST", "/open311/v2/requests.json", GOOD "&client_ref=r5", &rs), 200);
    gw_resp_clear(&rs);
    refused(x, GOOD "&client_ref=r6", 429, "too many requests");
    /* a bad rate_per_min refuses the list, naming the field */
    write_list_rate(x, x->root_sk, 3, "good-key", "0");
    gw_clients_t *c = NULL;
    cpm_error_t err = {0};
    assert_int_equal(gw_clients_load(x->clients, NULL, x->root_pk, &c, &err), CPM_E_INVALID);
    assert_non_null(strstr(err.message, "clients[0].rate_per_min"));
    write_list_rate(x, x->root_sk, 3, "good-key", "\"many\"");
    assert_int_equal(gw_clients_load(x->clients, NULL, x->root_pk, &c, &err), CPM_E_INVALID);
    /* without the field: the default, 60 a minute */
    write_list_rate(x, x->root_sk, 4, "good-key", NULL);
    assert_int_equal(gw_clients_load(x->clients, NULL, x->root_pk, &c, &err), 0);
    gw_client_t app;
    assert_true(gw_clients_check(c, "good-key", &app));
    assert_int_equal(app.rate_per_min, 0);
    gw_clients_destroy(&c);
}

/* Anonymous reads are limited per address: 20 at once, then 10 a second;
 * another address is not affected; refusals are counted. */
static void test_read_rate_per_address(void **state)
{
    fx_t *x = *state;
    gw_ctx_t gw = {0};
    pthread_mutex_init(&gw.count_lock, NULL);
    gw.pending = cpm_metrics_new();
    gw.open311 = x->o;
    gw_req_t rq = {.method = "GET", .path = "/open311/v2/services.json", .peer = "192.0.2.7"};
    gw_resp_t rs;
    for (int i = 0; i < O311_READ_BURST; i++) {
        gw_resp_init(&rs);
        gw_open311_handle(&gw, &rq, &rs);
        assert_int_equal(rs.status, 200);
        gw_resp_clear(&rs);
    }
    gw_resp_init(&rs);
    gw_open311_handle(&gw, &rq, &rs);
    assert_int_equal(rs.status, 429);
    assert_non_null(strstr(rs.body, "\"code\":429"));
    gw_resp_clear(&rs);
    assert_int_equal(cpm_metrics_get(gw.pending, "open311.refused.read_rate"), 1);
    rq.peer = "192.0.2.8";
    gw_resp_init(&rs);
    gw_open311_handle(&gw, &rq, &rs);
    assert_int_equal(rs.status, 200);
    gw_resp_clear(&rs);
    rq.peer = "192.0.2.7";
    fake_now_ms += 100; /* one token back */
    gw_resp_init(&rs);
    gw_open311_handle(&gw, &rq, &rs);
    assert_int_equal(rs.status, 200);
    gw_resp_clear(&rs);
    cpm_metrics_destroy(&gw.pending);
    pthread_mutex_destroy(&gw.count_lock);
    /* behind a proxy on loopback: the address the proxy appended */
    char who[64];
    gw_kv_t h[] = {{"X-Forwarded-For", "6.6.6.6, 203.0.113.5"}};
    gw_req_t p = {.peer = "127.0.0.1", .headers = h, .n_headers = 1};
    assert_string_equal(o311_client_addr(&p, who, sizeof who), "203.0.113.5");
    h[0].value = "203.0.113.9";
    assert_string_equal(o311_client_addr(&p, who, sizeof who), "203.0.113.9");
    p.peer = "198.51.100.1"; /* not a proxy: the header is the client's word, ignored */
    assert_string_equal(o311_client_addr(&p, who, sizeof who), "198.51.100.1");
    p.n_headers = 0;
    p.peer = "127.0.0.1";
    assert_string_equal(o311_client_addr(&p, who, sizeof who), "127.0.0.1");
    /* IPv6: one /64 is one subscriber, one bucket */
    p.peer = "2001:db8:1:2:aaaa:bbbb:cccc:dddd";
    assert_string_equal(o311_client_addr(&p, who, sizeof who), "2001:db8:1:2::/64");
    p.peer = "::ffff:198.51.100.7";
    assert_string_equal(o311_client_addr(&p, who, sizeof who), "198.51.100.7");
    p.peer = "::1", p.n_headers = 1, h[0].value = "2001:db8:1:2::99";
    assert_string_equal(o311_client_addr(&p, who, sizeof who), "2001:db8:1:2::/64");
    /* addresses rotated within a /64 share the read limit */
    gw.pending = cpm_metrics_new();
    pthread_mutex_init(&gw.count_lock, NULL);
    gw_kv_t xff[] = {{"X-Forwarded-For", ""}};
    gw_req_t v6 = {.method = "GET",
                   .path = "/open311/v2/services.json",
                   .peer = "127.0.0.1",
                   .headers = xff,
                   .n_headers = 1};
    int ok = 0;
    for (int i = 0; i < 40; i++) {
        char a[64];
        snprintf(a, sizeof a, "2001:db8:5:6::%x", i + 1);
        xff[0].value = a;
        gw_resp_init(&rs);
        gw_open311_handle(&gw, &v6, &rs);
        ok += rs.status == 200;
        gw_resp_clear(&rs);
    }
    assert_int_equal(ok, O311_READ_BURST);
    cpm_metrics_destroy(&gw.pending);
    pthread_mutex_destroy(&gw.count_lock);
}

/* GET requests?service_request_id=... from peer: the status code; the
 * body's service requests counted in *found (when not NULL), the body
 * checked to hold want (when not NULL). */
static int get_ids(gw_ctx_t *gw, const char *peer, const char *ids, size_t *found, const char *want)
{
    gw_kv_t arg[] = {{"service_request_id", ids}};
    gw_req_t rq = {.method = "GET",
                   .path = "/open311/v2/requests.json",
                   .args = arg,
                   .n_args = 1,
                   .peer = peer};
    gw_resp_t rs;
    gw_resp_init(&rs);
    gw_open311_handle(gw, &rq, &rs);
    int status = rs.status;
    if (want && !strstr(rs.body, want))
        fail_msg("want %s in %s", want, rs.body);
    if (found) {
        json_t *a = json_loads(rs.body, 0, NULL);
        *found = json_is_array(a) && status == 200 ? json_array_size(a) : 0;
        json_decref(a);
    }
    gw_resp_clear(&rs);
    return status;
}

/* One anonymous GET by service_request_id asks routing once per distinct
 * ticket, so each costs a token of the address's read limit: a list of 20
 * cannot become 20 queries per token, and a ticket given twice is asked and
 * answered once. */
static void test_read_by_ids_costs_a_token_per_ticket(void **state)
{
    fx_t *x = *state;
    gw_ctx_t gw = {0};
    pthread_mutex_init(&gw.count_lock, NULL);
    gw.pending = cpm_metrics_new();
    gw.open311 = x->o;
    size_t found = 0;
    /* repeats: asked once, answered once; unknown ones left out */
    x->fake.statuses = 0;
    assert_int_equal(
        get_ids(&gw, "192.0.2.20", "DOIT-00000007,DOIT-00000007,DOIT-00000008", &found, NULL), 200);
    assert_int_equal(found, 1);
    assert_int_equal(x->fake.statuses, 2);
    /* 10 distinct tickets cost 10 tokens: two such GETs empty a bucket of 20 */
    char ten[400] = "", twenty[800] = "", more[900];
    for (int i = 1; i <= 20; i++) {
        char t[24];
        snprintf(t, sizeof t, "%sDOIT-%08d", i == 1 ? "" : ",", i);
        if (i <= 10)
            strcat(ten, t);
        strcat(twenty, t);
    }
    x->fake.statuses = 0;
    assert_int_equal(get_ids(&gw, "192.0.2.21", ten, NULL, NULL), 200);
    assert_int_equal(get_ids(&gw, "192.0.2.21", ten, NULL, NULL), 200);
    assert_int_equal(x->fake.statuses, 20);
    assert_int_equal(get_ids(&gw, "192.0.2.21", ten, NULL, NULL), 429);
    assert_int_equal(get_ids(&gw, "192.0.2.21", "DOIT-00000007", NULL, NULL), 429);
    assert_int_equal(x->fake.statuses, 20); /* nothing asked once refused */
    assert_int_equal(cpm_metrics_get(gw.pending, "open311.refused.read_rate"), 2);
    /* a full bucket grants the most one GET may ask */
    assert_int_equal(get_ids(&gw, "192.0.2.22", twenty, &found, NULL), 200);
    assert_int_equal(x->fake.statuses, 40);
    assert_int_equal(found, 1); /* only DOIT-00000007 is known to the fake */
    /* one more is refused naming the field, before any query */
    snprintf(more, sizeof more, "%s,DOIT-00000021", twenty);
    assert_int_equal(
        get_ids(&gw, "192.0.2.23", more, NULL, "service_request_id is a comma list of at most 20"),
        400);
    assert_int_equal(x->fake.statuses, 40);
    cpm_metrics_destroy(&gw.pending);
    pthread_mutex_destroy(&gw.count_lock);
}

typedef struct {
    int calls;
    Cpm__CaseListQuery seen;
    char category[65];
} list_spy_t;

static list_spy_t spy;

/* A register that never ends: every page says there is more. */
static int endless_list(void *arg, const Cpm__CaseListQuery *q, Cpm__CaseListReply **out,
                        cpm_error_t *err)
{
    (void)arg, (void)err;
    spy.calls++;
    spy.seen = *q;
    snprintf(spy.category, sizeof spy.category, "%s", q->category);
    Cpm__CaseListReply *r = calloc(1, sizeof *r);
    cpm__case_list_reply__init(r);
    r->next_cursor = strdup("DOIT-00000001");
    *out = r;
    return 0;
}

/* GET requests hands its filters to routing and asks a few pages at most,
 * saying in a header that the window was cut. */
static void test_list_filters_and_page_cap(void **state)
{
    fx_t *x = *state;
    x->o->be.list = endless_list;
    memset(&spy, 0, sizeof spy);
    static const gw_kv_t args[] = {{"service_code", "food_safety"},
                                   {"start_date", "2026-03-01T00:00:00Z"},
                                   {"end_date", "2026-03-15T00:00:00Z"}};
    gw_req_t rq = {.method = "GET",
                   .path = "/open311/v2/requests.json",
                   .args = args,
                   .n_args = 3,
                   .peer = "192.0.2.9"};
    gw_resp_t rs;
    gw_resp_init(&rs);
    assert_int_equal(o311_get_requests(x->o, NULL, &rq, &rs, O311_JSON), 0);
    assert_int_equal(rs.status, 200);
    assert_int_equal(spy.calls, O311_LIST_PAGES);
    assert_true(spy.calls <= 4);
    assert_string_equal(spy.category, "food_safety");
    assert_int_equal(spy.seen.received_from_ms, 1772323200000LL);
    assert_int_equal(spy.seen.received_to_ms, 1773532800000LL);
    assert_true(spy.seen.newest_first);
    bool cut = false;
    for (size_t i = 0; i < rs.n_headers; i++)
        cut |= !strcmp(rs.headers[i].key, O311_CUT_HEADER);
    assert_true(cut);
    gw_resp_clear(&rs);
}

static void test_forged_or_older_list_refused(void **state)
{
    fx_t *x = *state;
    gw_resp_t rs;
    assert_int_equal(call(x, "POST", "/open311/v2/requests.json", GOOD, &rs), 200);
    gw_resp_clear(&rs);
    /* a list signed by another key, naming another API key: refused, the old stays */
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    usleep(20000); /* a new mtime for the file */
    write_list(x, sk, 5, "forged-key");
    refused(x, "api_key=forged-key&service_code=food_safety", 403, "api_key");
    assert_int_equal(call(x, "POST", "/open311/v2/requests.json", GOOD, &rs), 200);
    gw_resp_clear(&rs);
    /* an older version, properly signed: refused too */
    usleep(20000);
    write_list(x, x->root_sk, 0 + 1, "older-key");
    refused(x, "api_key=older-key&service_code=food_safety", 403, "api_key");
}

static void test_request_of_public_view(void **state)
{
    fx_t *x = *state;
    gw_resp_t rs;
    gw_resp_init(&rs);
    assert_int_equal(o311_get_request(x->o, NULL, "DOIT-00000007", &rs, O311_JSON), 0);
    json_t *a = json_loads(rs.body, 0, NULL), *r = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "closed");
    assert_string_equal(json_string_value(json_object_get(r, "status_notes")),
                        "resolved: mediated");
    assert_string_equal(json_string_value(json_object_get(r, "service_name")), "An toàn thực phẩm");
    assert_string_equal(json_string_value(json_object_get(r, "agency_responsible")),
                        "Hoan Kiem <office> & co");
    assert_string_equal(json_string_value(json_object_get(r, "requested_datetime")),
                        "2026-01-01T07:00:00+07:00");
    assert_string_equal(json_string_value(json_object_get(r, "expected_datetime")),
                        "2026-01-02T07:00:00+07:00");
    assert_true(json_is_null(json_object_get(r, "description")));
    json_decref(a);
    gw_resp_clear(&rs);
    gw_resp_init(&rs);
    o311_get_request(x->o, NULL, "DOIT-00000007", &rs, O311_XML);
    assert_non_null(strstr(rs.body, "<agency_responsible>Hoan Kiem &lt;office&gt; &amp; co<"));
    gw_resp_clear(&rs);
    gw_resp_init(&rs);
    o311_get_request(x->o, NULL, "DOIT-00000008", &rs, O311_XML);
    assert_int_equal(rs.status, 404);
    assert_non_null(strstr(rs.body, "<errors><error><code>404</code>"));
    gw_resp_clear(&rs);
}

static void test_xml_and_times(void **state)
{
    (void)state;
    gw_resp_t rs;
    gw_resp_init(&rs);
    assert_int_equal(o311_xml_text(&rs, "<a href='x'>&\"\x01\xff ok</a>"), 0);
    assert_string_equal(rs.body, "&lt;a href=&apos;x&apos;&gt;&amp;&quot;\xEF\xBF\xBD\xEF\xBF\xBD "
                                 "ok&lt;/a&gt;");
    gw_resp_clear(&rs);
    int64_t ms;
    assert_int_equal(o311_parse_time("2026-01-01T07:00:00+07:00", &ms), 0);
    assert_int_equal(ms, 1767225600000LL);
    assert_int_equal(o311_parse_time("2026-01-01T00:00:00.250Z", &ms), 0);
    assert_int_equal(ms, 1767225600000LL);
    assert_int_equal(o311_parse_time("2026-01-01", &ms), 0);
    assert_int_equal(ms, 1767225600000LL - 7 * 3600000LL);
    assert_int_equal(o311_parse_time("2026-02-31", &ms), -1);
    assert_int_equal(o311_parse_time("2026-01-01T00:00:00", &ms), -1);
    assert_int_equal(o311_parse_time("yesterday", &ms), -1);
    char buf[32];
    assert_string_equal(o311_time(1767225600000LL, buf), "2026-01-01T07:00:00+07:00");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_post_maps_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_or_older_list_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_rate_per_app, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_rate_per_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_refusals_log_at_a_pace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_by_ids_costs_a_token_per_ticket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters_and_page_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_of_public_view, setup, teardown),
        cmocka_unit_test(test_xml_and_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
