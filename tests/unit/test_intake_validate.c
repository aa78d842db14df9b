/* Tests for intake_validate: every rule of a complaint and a consultation, both
 * sides of every limit, and the UTF-8 validator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "intake_validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS 1780000000000LL /* 2026-05-28 */

static cpm_rules_t *rules;
static char big[8192]; /* scratch for long strings */

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("CPM_SOURCE_DIR");
    char path[1024];
    if (!src)
        return -1;
    snprintf(path, sizeof path, "%s/deploy/hanoi/routing.yaml", src);
    cpm_error_t e;
    if (cpm_rules_load(path, &rules, &e) != 0)
        fprintf(stderr, "%s\n", e.message);
    return rules ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cpm_rules_destroy(&rules);
    return 0;
}

/* n copies of c, NUL-terminated, in big. */
static char *repeat(char c, size_t n)
{
    assert_true(n < sizeof big);
    memset(big, c, n);
    big[n] = 0;
    return big;
}

static Cpm__Complaint good_complaint(void)
{
    Cpm__Complaint c;
    cpm__complaint__init(&c);
    c.channel = "hotline";
    c.consumer_name = "Nguyễn Văn An";
    c.consumer_phone = "+84 (24) 3825-1234";
    c.consumer_email = "an.nguyen@example.vn";
    c.business_name = "Phở Bò Hàng Trống";
    c.business_address = "12 Hàng Trống, Hoàn Kiếm";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "Bát phở có ruồi. A fly in the soup.";
    c.event_time_ms = NOW_MS - 3600 * 1000;
    c.client_ref = "web:2026-05-28.0001_a-B";
    c.urgent = true;
    return c;
}

static Cpm__Consultation good_consultation(void)
{
    Cpm__Consultation c;
    cpm__consultation__init(&c);
    c.channel = "hotline";
    c.category = "pricing";
    c.summary = "Giải thích quyền đổi trả hàng. Explained the right to return goods.";
    c.duration_s = 300;
    c.client_ref = "op7:1";
    return c;
}

static void expect_ok(int rc, const cpm_error_t *e)
{
    if (rc != 0)
        fail_msg("expected success, got %d on %s: %s", rc, e->field, e->message);
}

static void expect_err(int rc, const cpm_error_t *e, int code, const char *field, const char *text)
{
    if (rc != code || e->code != code || strcmp(e->field, field) || !strstr(e->message, text))
        fail_msg("expected %d on %s (\"%s\"), got %d on %s: %s", code, field, text, rc, e->field,
                 e->message);
    /* one sentence that names the field */
    assert_non_null(strstr(e->message, field));
    assert_int_equal(e->message[strlen(e->message) - 1], '.');
}

static int check(const Cpm__Complaint *c, cpm_error_t *e)
{
    memset(e, 0, sizeof *e);
    return intake_validate_complaint(c, rules, NOW_MS, e);
}

static void test_good_complaint(void **state)
{
    (void)state;
    cpm_error_t e;
    Cpm__Complaint c = good_complaint();
    expect_ok(check(&c, &e), &e);
    assert_int_equal(e.code, 0);
    /* optional fields may be empty, and NULL from a hand-built struct counts as empty */
    c.consumer_name = c.consumer_phone = c.consumer_email = c.business_address = "";
    c.category = c.client_ref = NULL;
    c.event_time_ms = 0;
    expect_ok(check(&c, &e), &e);
    /* err may be NULL */
    assert_int_equal(intake_validate_complaint(&c, rules, NOW_MS, NULL), 0);
    c.channel = "fax";
    assert_int_equal(intake_validate_complaint(&c, rules, NOW_MS, NULL), CPM_E_INVALID);
}

static void test_no_complaint_or_rules(void **state)
{
    (void)state;
    cpm_error_t e;
    Cpm__Complaint c = good_complaint();
    expect_err(intake_validate_complaint(NULL, rules, NOW_MS, &e), &e, CPM_E_INVALID, "",
               "no complaint");
    assert_int_equal(intake_validate_complaint(&c, NULL, NOW_MS, &e), CPM_E_INTERNAL);
    assert_int_equal(e.code, CPM_E_INTERNAL);
}

static void test_set_by_intake(void **state)
{
    (void)state;
    cpm_error_t e;
    Cpm__Complaint c = good_complaint();
    c.ticket = "HK-1";
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "ticket", "set by intake");
    c = good_complaint();
    c.received_ms = 1;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "received_ms", "set by intake");
    c = good_complaint();
    c.intake_node = "hn.doit";
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "intake_node", "set by intake");
}

static void test_channel(void **state)
{
    (void)state;
    cpm_error_t e;
    Cpm__Complaint c = good_complaint();
    const char *ok[] = {"hotline", "web", "walk_in", "email", "social", "letter"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        c.channel = (char *)ok[i];
        expect_ok(check(&c, &e), &e);
        assert_true(intake_channel_valid(ok[i]));
    }
    c.channel = "";
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "channel", "required");
    c.channel = NULL;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "channel", "required");
    const char *bad[] = {"fax", "Hotline", "hotline ", "walk-in"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c.channel = (char *)bad[i];
        expect_err(check(&c, &e), &e, CPM_E_INVALID, "channel", "one of hotline, web");
    }
    c.channel = repeat('w', 5000);
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "channel", "one of");
    c.channel = "web\xff";
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "channel", "UTF-8");
    assert_false(intake_channel_valid(NULL));
}

/* A text field: required or not, the limit in bytes, both sides of it. */
static void check_text_field(char **slot, const char *field, size_t max, bool required,
                             Cpm__Complaint *c)
{
    cpm_error_t e;
    char *saved = *slot;
    *slot = "";
    if (required)
        expect_err(check(c, &e), &e, CPM_E_INVALID, field, "required");
    else
        expect_ok(check(c, &e), &e);
    *slot = repeat('x', max);
    expect_ok(check(c, &e), &e);
    *slot = repeat('x', max + 1);
    expect_err(check(c, &e), &e, CPM_E_TOO_LARGE, field, "at most");
    /* the limit is in bytes, not characters: exactly max bytes of mostly
     * 3-byte characters pass, one more character does not */
    size_t n = 0;
    for (; n + 3 <= max; n += 3)
        memcpy(big + n, "\xe1\xbb\x87", 3); /* U+1EC7 */
    memset(big + n, 'y', max - n);
    memcpy(big + max, "\xe1\xbb\x87", 4); /* with the NUL */
    big[max] = 0;
    assert_int_equal(strlen(big), max);
    expect_ok(check(c, &e), &e);
    big[max] = (char)0xe1;
    assert_int_equal(strlen(big), max + 3);
    expect_err(check(c, &e), &e, CPM_E_TOO_LARGE, field, "bytes");
    *slot = "ok \xc3\x28 bad";
    expect_err(check(c, &e), &e, CPM_E_INVALID, field, "not valid UTF-8");
    *slot = saved;
}

static void test_text_fields(void **state)
{
    (void)state;
    Cpm__Complaint c = good_complaint();
    check_text_field(&c.business_name, "business_name", 200, true, &c);
    check_text_field(&c.business_address, "business_address", 300, false, &c);
    check_text_field(&c.description, "description", 4000, true, &c);
    check_text_field(&c.consumer_name, "consumer_name", 200, false, &c);
}

static void test_area_and_category(void **state)
{
    (void)state;
    cpm_error_t e;
    Cpm__Complaint c = good_complaint();
    /* The place is only checked for its form here: intake_place resolves
     * it (tests/unit/test_intake_place.c). */
    c.area = "";
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "location", "location is required");
    c.area = "Hoan Kiem"; /* a name in the legacy field: a location text */
    expect_ok(check(&c, &e), &e);
    c.area = repeat('a', 1025);
    expect_err(check(&c, &e), &e, CPM_E_TOO_LARGE, "area", "at most");
    c.area = "hoan-kiem\xc0\x80";
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "area", "UTF-8");
    c.area = "";
    c.location = repeat('a', 1025);
    expect_err(check(&c, &e), &e, CPM_E_TOO_LARGE, "location", "at most");
    c.location = "P. Hang Bac \xff";
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "location", "UTF-8");
    c.location = "12 Hàng Bạc, P. Hoàn Kiếm, Hà Nội";
    expect_ok(check(&c, &e), &e);
    c.location = "";
    /* a point: only with has_point, finite, on the globe; alone it is enough */
    c.lat = 21.0287;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "lat", "without has_point");
    c.lat = 0;
    c.lon = 105.8524;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "lon", "without has_point");
    c.has_point = true;
    c.lat = 21.0287;
    expect_ok(check(&c, &e), &e);
    c.lat = 90.5;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "lat", "-90 to 90");
    c.lat = NAN;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "lat", "-90 to 90");
    c.lat = 21.0287;
    c.lon = INFINITY;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "lon", "-180 to 180");
    c.lon = -180.5;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "lon", "-180 to 180");
    c.lon = 105.8524;
    expect_ok(check(&c, &e), &e);
    /* placement is intake's answer: a client may not bring its own */
    Cpm__Placement pl = CPM__PLACEMENT__INIT;
    c.placement = &pl;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "placement", "set by intake");
    c.placement = NULL;
    c.has_point = false;
    c.lat = c.lon = 0;
    c.area = "ba-vi";
    expect_ok(check(&c, &e), &e);

    c.category = "";
    expect_ok(check(&c, &e), &e);
    c.category = "other";
    expect_ok(check(&c, &e), &e);
    c.category = "*";
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "category", "not a known category");
    c.category = "Food_Safety";
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "category", "not a known category");
    c.category = repeat('a', 300);
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "category", "not a known category");
}

static void test_event_time(void **state)
{
    (void)state;
    cpm_error_t e;
    Cpm__Complaint c = good_complaint();
    c.event_time_ms = 0;
    expect_ok(check(&c, &e), &e);
    c.event_time_ms = NOW_MS + INTAKE_FUTURE_SLACK_MS;
    expect_ok(check(&c, &e), &e);
    c.event_time_ms = NOW_MS + INTAKE_FUTURE_SLACK_MS + 1;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "event_time_ms", "in the future");
    c.event_time_ms = 946684800000LL; /* 2000-01-01T00:00:00Z */
    expect_ok(check(&c, &e), &e);
    c.event_time_ms = 946684800000LL - 1;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "event_time_ms", "before the year 2000");
    c.event_time_ms = -5;
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "event_time_ms", "before the year 2000");
}

static void test_client_ref(void **state)
{
    (void)state;
    cpm_error_t e;
    Cpm__Complaint c = good_complaint();
    c.client_ref = "";
    expect_ok(check(&c, &e), &e);
    c.client_ref = repeat('r', 64);
    expect_ok(check(&c, &e), &e);
    c.client_ref = repeat('r', 65);
    expect_err(check(&c, &e), &e, CPM_E_TOO_LARGE, "client_ref", "at most 64");
    const char *bad[] = {"a b", "a/b", "a@b", "ref\xc3\xa9", "a\tb", "#1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c.client_ref = (char *)bad[i];
        expect_err(check(&c, &e), &e, CPM_E_INVALID, "client_ref", "may hold only");
    }
    c.client_ref = "AZaz09._:-";
    expect_ok(check(&c, &e), &e);
}

static void test_phone(void **state)
{
    (void)state;
    cpm_error_t e;
    Cpm__Complaint c = good_complaint();
    const char *ok[] = {"", "024382", "+84 (24) 3825.1234-5", "0912345678"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        c.consumer_phone = (char *)ok[i];
        expect_ok(check(&c, &e), &e);
    }
    c.consumer_phone = "12345";
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "consumer_phone", "at least 6");
    c.consumer_phone = repeat('1', 20);
    expect_ok(check(&c, &e), &e);
    c.consumer_phone = repeat('1', 21);
    expect_err(check(&c, &e), &e, CPM_E_TOO_LARGE, "consumer_phone", "at most 20");
    const char *bad[] = {"0912 345 abc", "+84/912345", "(---) ...", "091234567\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c.consumer_phone = (char *)bad[i];
        expect_err(check(&c, &e), &e, CPM_E_INVALID, "consumer_phone", "may hold only");
    }
}

static void test_email(void **state)
{
    (void)state;
    cpm_error_t e;
    Cpm__Complaint c = good_complaint();
    const char *ok[] = {"", "a@b.vn", "an.nguyen+hotline@mail.example.com",
                        "\xc4\x91@h\xc3\xa0.vn"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        c.consumer_email = (char *)ok[i];
        expect_ok(check(&c, &e), &e);
    }
    const char *bad[] = {"anexample.vn",   "@example.vn",    "an@",    "an@@example.vn",
                         "an@ex@ample.vn", "an@localhost",   "an@.vn", "an@example.",
                         "an @example.vn", "an@exam\tple.vn"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c.consumer_email = (char *)bad[i];
        expect_err(check(&c, &e), &e, CPM_E_INVALID, "consumer_email", "one '@'");
    }
    /* 254 bytes is the limit */
    repeat('a', 254);
    memcpy(big + 240, "@example.com", 12);
    big[252] = 'v';
    big[253] = 'n';
    c.consumer_email = big;
    expect_ok(check(&c, &e), &e);
    repeat('a', 255);
    memcpy(big + 240, "@example.com", 12);
    c.consumer_email = big;
    expect_err(check(&c, &e), &e, CPM_E_TOO_LARGE, "consumer_email", "at most 254");
    c.consumer_email = "an@exa\xe0\x80\xafmple.vn";
    expect_err(check(&c, &e), &e, CPM_E_INVALID, "consumer_email", "UTF-8");
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        bool ok;
    } cases[] = {
        {"", 0, true},
        {"plain ascii", 11, true},
        {"a\0b", 3, true},             /* NUL is a valid code point */
        {"\xc2\x80", 2, true},         /* U+0080, smallest 2-byte */
        {"\xdf\xbf", 2, true},         /* U+07FF */
        {"\xe0\xa0\x80", 3, true},     /* U+0800, smallest 3-byte */
        {"\xed\x9f\xbf", 3, true},     /* U+D7FF, just below surrogates */
        {"\xee\x80\x80", 3, true},     /* U+E000, just above */
        {"\xef\xbf\xbf", 3, true},     /* U+FFFF */
        {"\xf0\x90\x80\x80", 4, true}, /* U+10000, smallest 4-byte */
        {"\xf4\x8f\xbf\xbf", 4, true}, /* U+10FFFF, the last */
        {"Ti\xe1\xba\xbfng Vi\xe1\xbb\x87t", 14, true},
        {"\x80", 1, false}, /* lone continuation */
        {"\xbf", 1, false},
        {"\xc0\x80", 2, false},         /* overlong NUL */
        {"\xc1\xbf", 2, false},         /* overlong */
        {"\xe0\x9f\xbf", 3, false},     /* overlong 3-byte */
        {"\xed\xa0\x80", 3, false},     /* U+D800 surrogate */
        {"\xed\xbf\xbf", 3, false},     /* U+DFFF surrogate */
        {"\xf0\x8f\xbf\xbf", 4, false}, /* overlong 4-byte */
        {"\xf4\x90\x80\x80", 4, false}, /* U+110000 */
        {"\xf5\x80\x80\x80", 4, false},
        {"\xff", 1, false},
        {"\xc3", 1, false}, /* truncated */
        {"\xe1\x80", 2, false},
        {"\xf1\x80\x80", 3, false},
        {"\xc3\x28", 2, false}, /* bad continuation */
        {"\xe1\x28\x80", 3, false},
        {"\xe1\x80\x28", 3, false},
        {"\xf1\x80\x80\x28", 4, false},
        {"ok\xc3\xa9\xc3", 5, false}, /* good then truncated */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (intake_utf8_valid(cases[i].s, cases[i].len) != cases[i].ok)
            fail_msg("utf8 case %zu: expected %s", i, cases[i].ok ? "valid" : "invalid");
    assert_true(intake_utf8_valid(NULL, 0));
    /* the length bounds the scan: a truncated sequence beyond len is not read */
    assert_true(intake_utf8_valid("ab\xc3", 2));
}

/* ---- consultations ------------------------------------------------------ */

static int check_cons(const Cpm__Consultation *c, cpm_error_t *e)
{
    memset(e, 0, sizeof *e);
    return intake_validate_consultation(c, rules, e);
}

static void test_consultation(void **state)
{
    (void)state;
    cpm_error_t e;
    Cpm__Consultation c = good_consultation();
    expect_ok(check_cons(&c, &e), &e);
    c.category = "";
    c.client_ref = "";
    c.duration_s = 0;
    expect_ok(check_cons(&c, &e), &e);

    expect_err(intake_validate_consultation(NULL, rules, &e), &e, CPM_E_INVALID, "",
               "no consultation");
    assert_int_equal(intake_validate_consultation(&c, NULL, &e), CPM_E_INTERNAL);

    c = good_consultation();
    c.id = "c-1";
    expect_err(check_cons(&c, &e), &e, CPM_E_INVALID, "id", "set by intake");
    c = good_consultation();
    c.received_ms = NOW_MS;
    expect_err(check_cons(&c, &e), &e, CPM_E_INVALID, "received_ms", "set by intake");
    c = good_consultation();
    c.operator_ = "hn.doit.op1";
    expect_err(check_cons(&c, &e), &e, CPM_E_INVALID, "operator", "set by intake");

    c = good_consultation();
    c.channel = "";
    expect_err(check_cons(&c, &e), &e, CPM_E_INVALID, "channel", "required");
    c.channel = "telegram";
    expect_err(check_cons(&c, &e), &e, CPM_E_INVALID, "channel", "one of");
    c.channel = "walk_in";
    expect_ok(check_cons(&c, &e), &e);

    c.summary = "";
    expect_err(check_cons(&c, &e), &e, CPM_E_INVALID, "summary", "required");
    c.summary = repeat('s', 4000);
    expect_ok(check_cons(&c, &e), &e);
    c.summary = repeat('s', 4001);
    expect_err(check_cons(&c, &e), &e, CPM_E_TOO_LARGE, "summary", "at most 4000");
    c.summary = "\xed\xa0\x80";
    expect_err(check_cons(&c, &e), &e, CPM_E_INVALID, "summary", "UTF-8");
    c = good_consultation();

    c.category = "gambling";
    expect_err(check_cons(&c, &e), &e, CPM_E_INVALID, "category", "not a known category");
    c = good_consultation();

    c.duration_s = 86400;
    expect_ok(check_cons(&c, &e), &e);
    c.duration_s = 86401;
    expect_err(check_cons(&c, &e), &e, CPM_E_INVALID, "duration_s", "over one day");
    c.duration_s = UINT32_MAX;
    expect_err(check_cons(&c, &e), &e, CPM_E_INVALID, "duration_s", "over one day");
    c = good_consultation();

    c.client_ref = repeat('r', 65);
    expect_err(check_cons(&c, &e), &e, CPM_E_TOO_LARGE, "client_ref", "at most 64");
    c.client_ref = "ref 1";
    expect_err(check_cons(&c, &e), &e, CPM_E_INVALID, "client_ref", "may hold only");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_complaint), cmocka_unit_test(test_no_complaint_or_rules),
        cmocka_unit_test(test_set_by_intake),  cmocka_unit_test(test_channel),
        cmocka_unit_test(test_text_fields),    cmocka_unit_test(test_area_and_category),
        cmocka_unit_test(test_event_time),     cmocka_unit_test(test_client_ref),
        cmocka_unit_test(test_phone),          cmocka_unit_test(test_email),
        cmocka_unit_test(test_utf8),           cmocka_unit_test(test_consultation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
