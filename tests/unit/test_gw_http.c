/* gw_http: routing of requests to handlers, arguments, headers, cookies,
 * responses (the gateway's HTTP layer without a listener). */
#include "gw_http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int h_exact(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    (void)gw, (void)rq;
    return gw_resp_text(rs, 200, "exact");
}

static int h_prefix(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    (void)gw;
    return gw_resp_text(rs, 200, "prefix %s", rq->path);
}

static int h_post(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    (void)gw;
    return gw_resp_text(rs, 201, "posted %zu", rq->body_len);
}

static const gw_route_t routes[] = {
    {"GET", "/a", h_exact},
    {"POST", "/a", h_post},
    {"GET", "/files/*", h_prefix},
    {NULL, NULL, NULL},
};

static gw_req_t req(const char *method, const char *path)
{
    return (gw_req_t){.method = method, .path = path, .body = (const uint8_t *)""};
}

static void test_dispatch(void **state)
{
    (void)state;
    gw_resp_t rs;
    gw_req_t rq = req("GET", "/a");
    gw_resp_init(&rs);
    assert_int_equal(gw_http_dispatch(routes, NULL, &rq, &rs), 0);
    assert_int_equal(rs.status, 200);
    assert_string_equal(rs.body, "exact\n");
    gw_resp_clear(&rs);

    rq = req("POST", "/a");
    rq.body = (const uint8_t *)"xyz", rq.body_len = 3;
    gw_resp_init(&rs);
    assert_int_equal(gw_http_dispatch(routes, NULL, &rq, &rs), 0);
    assert_int_equal(rs.status, 201);
    assert_string_equal(rs.body, "posted 3\n");
    gw_resp_clear(&rs);

    /* HEAD is served by the GET route. */
    rq = req("HEAD", "/files/x/y.css");
    gw_resp_init(&rs);
    assert_int_equal(gw_http_dispatch(routes, NULL, &rq, &rs), 0);
    assert_string_equal(rs.body, "prefix /files/x/y.css\n");
    gw_resp_clear(&rs);

    /* A known path with another method: 405 naming what is allowed. */
    rq = req("DELETE", "/a");
    gw_resp_init(&rs);
    assert_int_equal(gw_http_dispatch(routes, NULL, &rq, &rs), 0);
    assert_int_equal(rs.status, 405);
    assert_int_equal(rs.n_headers, 1);
    assert_string_equal(rs.headers[0].key, "Allow");
    assert_string_equal(rs.headers[0].value, "GET, POST");
    gw_resp_clear(&rs);

    /* Unknown paths, and a prefix without its slash, are 404. */
    const char *missing[] = {"/b", "/files", "/a/", "/"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        rq = req("GET", missing[i]);
        gw_resp_init(&rs);
        assert_int_equal(gw_http_dispatch(routes, NULL, &rq, &rs), 0);
        assert_int_equal(rs.status, 404);
        gw_resp_clear(&rs);
    }
}

static void test_args_headers_cookies(void **state)
{
    (void)state;
    gw_kv_t args[] = {{"q", "1"}, {"flag", NULL}, {"q", "2"}};
    gw_kv_t headers[] = {{"content-type", "application/x-www-form-urlencoded"},
                         {"Cookie", "theme=dark; cpm_session=abc123;other=x"}};
    gw_req_t rq = req("GET", "/a");
    rq.args = args, rq.n_args = 3, rq.headers = headers, rq.n_headers = 2;
    assert_string_equal(gw_req_arg(&rq, "q"), "1"); /* the first of a repeated key */
    assert_string_equal(gw_req_arg(&rq, "flag"), "");
    assert_null(gw_req_arg(&rq, "none"));
    assert_string_equal(gw_req_header(&rq, "Content-Type"), "application/x-www-form-urlencoded");
    assert_null(gw_req_header(&rq, "Origin"));
    char v[8];
    assert_int_equal(gw_req_cookie(&rq, "cpm_session", v, sizeof v), 0);
    assert_string_equal(v, "abc123");
    assert_int_equal(gw_req_cookie(&rq, "other", v, sizeof v), 0);
    assert_string_equal(v, "x");
    assert_int_equal(gw_req_cookie(&rq, "cpm", v, sizeof v), -1); /* a prefix is not a name */
    assert_int_equal(gw_req_cookie(&rq, "session", v, sizeof v), -1);
    char tiny[3];
    assert_int_equal(gw_req_cookie(&rq, "cpm_session", tiny, sizeof tiny), -1); /* too long */
}

static void test_response(void **state)
{
    (void)state;
    gw_resp_t rs;
    gw_resp_init(&rs);
    assert_int_equal(rs.status, 200);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(gw_resp_printf(&rs, "%s|%d", big, 42), 0); /* past the small buffer */
    assert_int_equal(rs.len, sizeof big - 1 + 3);
    assert_string_equal(rs.body + sizeof big - 1, "|42");
    for (int i = 0; i < GW_RESP_HEADERS_MAX; i++)
        assert_int_equal(gw_resp_header(&rs, "X-N", "v"), 0);
    assert_int_equal(gw_resp_header(&rs, "X-N", "v"), -1); /* full */
    gw_resp_text(&rs, 400, "field %s is wrong", "lat");
    assert_int_equal(rs.status, 400);
    assert_string_equal(rs.body, "field lat is wrong\n");
    gw_resp_clear(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_args_headers_cookies),
        cmocka_unit_test(test_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
