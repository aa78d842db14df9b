/* Tests for cpm_text (UTF-8, identifier forms, escaping), cpm_fields (checks
 * of delivered records) and cpm_log (one escaped line per message). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cpm_fields.h"
#include "cpm_log.h"
#include "cpm_seal.h"
#include "cpm_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VALID(s) assert_true(cpm_text_utf8_valid(s, sizeof(s) - 1))
#define INVALID(s) assert_false(cpm_text_utf8_valid(s, sizeof(s) - 1))

static void test_utf8(void **state)
{
    (void)state;
    VALID("");
    VALID("Vi\xe1\xbb\x87t Nam"); /* Việt Nam */
    VALID("\xf0\x9f\x98\x80");    /* U+1F600 */
    VALID("\xf4\x8f\xbf\xbf");    /* U+10FFFF */
    INVALID("\xff");              /* never a lead */
    INVALID("\xc0\xaf");          /* overlong '/' */
    INVALID("\xe0\x80\xaf");      /* overlong, 3 bytes */
    INVALID("\xed\xa0\x80");      /* surrogate D800 */
    INVALID("\xf4\x90\x80\x80");  /* above U+10FFFF */
    INVALID("\xe1\xbb");          /* truncated */
    INVALID("\x80");              /* lone continuation */
    INVALID("ok\xc3");            /* truncated at the end */
}

/* The validator as it was before its ASCII fast path: one sequence at a
 * time, by the rules of RFC 3629 (the reference the fast one must match). */
static bool reference_utf8(const unsigned char *p, size_t len)
{
    const unsigned char *end = p + len;
    while (p < end) {
        unsigned c = *p, lo = 0x80, hi = 0xBF;
        size_t n;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            n = 1;
        else if (c == 0xE0)
            n = 2, lo = 0xA0;
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
            n = 2;
        else if (c == 0xED)
            n = 2, hi = 0x9F;
        else if (c == 0xF0)
            n = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3)
            n = 3;
        else if (c == 0xF4)
            n = 3, hi = 0x8F;
        else
            return false;
        if ((size_t)(end - p) < n + 1 || p[1] < lo || p[1] > hi)
            return false;
        for (size_t i = 2; i <= n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += n + 1;
    }
    return true;
}

static void same_as_reference(const unsigned char *b, size_t len)
{
    bool want = reference_utf8(b, len);
    if (cpm_text_utf8_valid((const char *)b, len) != want) {
        char hex[3 * 64 + 1] = "";
        for (size_t i = 0; i < len && i < 64; i++)
            snprintf(hex + 3 * i, 4, "%02x ", b[i]);
        fail_msg("cpm_text_utf8_valid(%s) is not %d", hex, want);
    }
}

/* Every string of 1 to 3 bytes, the 4-byte ones over the bytes at the
 * edges of the ranges, and random mixes of ASCII runs and sequences (valid,
 * truncated, overlong) at every offset of the 8-byte ASCII fast path. */
static void test_utf8_same_as_reference(void **state)
{
    (void)state;
    unsigned char b[64];
    for (unsigned x = 0; x < 1u << 24; x++) {
        b[0] = (unsigned char)(x >> 16), b[1] = (unsigned char)(x >> 8), b[2] = (unsigned char)x;
        if (x < 1u << 8)
            same_as_reference(b + 2, 1);
        if (x < 1u << 16)
            same_as_reference(b + 1, 2);
        same_as_reference(b, 3);
    }
    static const unsigned char edge[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                         0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xF4, 0xFF};
    for (unsigned lead = 0xC0; lead <= 0xFF; lead++)
        for (size_t i = 0; i < sizeof edge; i++)
            for (size_t j = 0; j < sizeof edge; j++)
                for (size_t k = 0; k < sizeof edge; k++) {
                    b[0] = (unsigned char)lead, b[1] = edge[i], b[2] = edge[j], b[3] = edge[k];
                    same_as_reference(b, 4);
                }
    static const char *const piece[] = {"a",
                                        "Hoan Kiem ",
                                        "\xe1\xbb\x87",
                                        "\xc3\xa0",
                                        "\xf0\x9f\x98\x80",
                                        "\xe1\xbb",
                                        "\xc3",
                                        "\xf0\x9f\x98",
                                        "\x80",
                                        "\xff",
                                        "\xed\xa0\x80",
                                        "\xe0\x80\xaf",
                                        "\xf4\x90\x80\x80",
                                        "\xc0\xaf",
                                        "0123456"};
    unsigned seed = 12345;
    for (int round = 0; round < 200000; round++) {
        size_t len = 0;
        while (len < 40) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = (seed >> 16) % 100;
            /* mostly valid pieces, so that a bad one is found at any offset */
            const char *pc = piece[r < 80 ? r % 5 : r < 97 ? 5 + r % 9 : 14];
            size_t pl = strlen(pc);
            if (len + pl > sizeof b)
                break;
            memcpy(b + len, pc, pl);
            len += pl;
            if ((seed >> 8) % 7 == 0)
                break;
        }
        for (size_t cut = 0; cut <= len; cut += 1 + len / 5)
            same_as_reference(b, len - cut);
        same_as_reference(b, len);
    }
}

static void test_identifiers(void **state)
{
    (void)state;
    assert_true(cpm_text_ticket_valid("HK-00000001", NULL));
    assert_true(cpm_text_ticket_valid("DOIT-1", "DOIT"));
    assert_false(cpm_text_ticket_valid("DOIT-1", "HK"));
    assert_false(cpm_text_ticket_valid("HK-0001\x1b[31m", NULL));
    assert_false(cpm_text_ticket_valid("HK-", NULL));
    assert_false(cpm_text_ticket_valid("-1", NULL));
    assert_false(cpm_text_ticket_valid("hk-1", NULL));
    assert_false(cpm_text_ticket_valid("HK-1\nX", NULL));
    assert_false(cpm_text_ticket_valid("HK-123456789012345678901", NULL)); /* 21 digits */
    assert_false(cpm_text_ticket_valid("ABCDEFGHIJKLMNOPQ-1", NULL));      /* prefix of 17 */
    assert_false(cpm_text_ticket_valid(NULL, NULL));

    assert_true(cpm_text_slug_valid("hoan-kiem"));
    assert_true(cpm_text_slug_valid("food_safety"));
    assert_false(cpm_text_slug_valid(""));
    assert_false(cpm_text_slug_valid("-x"));
    assert_false(cpm_text_slug_valid("Food"));
    assert_false(cpm_text_slug_valid("pricing\xff"));
    char long_slug[80];
    memset(long_slug, 'a', 65);
    long_slug[65] = 0;
    assert_false(cpm_text_slug_valid(long_slug));
    long_slug[64] = 0;
    assert_true(cpm_text_slug_valid(long_slug));

    assert_true(cpm_text_member_valid("officer.hn.d.hoan-kiem"));
    assert_false(cpm_text_member_valid(".hidden"));
    assert_false(cpm_text_member_valid("a b"));
    assert_true(cpm_text_label_valid("R01-food-urgent"));
    assert_false(cpm_text_label_valid("R01 food"));
    assert_true(cpm_text_code_valid("7KQ2M9XD4P"));
    assert_false(cpm_text_code_valid("7KQ2M9XD4"));  /* 9 */
    assert_false(cpm_text_code_valid("7KQ2M9XD4I")); /* I is not in the alphabet */
    assert_false(cpm_text_code_valid("7kq2m9xd4p")); /* lowercase */
}

static const char *esc(const char *s, size_t len)
{
    static char out[512];
    cpm_text_escape(s, len, out, sizeof out);
    return out;
}
#define ESC(s) esc(s, sizeof(s) - 1)

static void test_escape(void **state)
{
    (void)state;
    assert_string_equal(ESC("plain text"), "plain text");
    assert_string_equal(ESC("Vi\xe1\xbb\x87t Nam"), "Vi\xe1\xbb\x87t Nam");
    assert_string_equal(ESC("a\nb\rc\td\\e"), "a\\nb\\rc\\td\\\\e");
    assert_string_equal(ESC("\x1b[31mred\x07"), "\\x1b[31mred\\x07");
    assert_string_equal(ESC("x\x7f"), "x\\x7f");
    assert_string_equal(ESC("nul\0byte"), "nul\\x00byte");
    assert_string_equal(ESC("bad\xff\xfe"), "bad\\xff\\xfe");
    assert_string_equal(ESC("\xc0\xaf"), "\\xc0\\xaf");
    assert_string_equal(ESC("csi\xc2\x9b"
                            "31m"),
                        "csi\\xc2\\x9b31m"); /* C1 CSI */
    assert_string_equal(ESC("rtl\xe2\x80\xae"), "rtl\\u202e");
    assert_string_equal(ESC("ls\xe2\x80\xa8"), "ls\\u2028");
    assert_true(cpm_text_needs_escape("\x1b", 1));
    assert_false(cpm_text_needs_escape("Vi\xe1\xbb\x87t", 6));

    /* never cut inside an escape or a character; always terminated */
    char small[6];
    assert_int_equal(cpm_text_escape("ab\x1b", 3, small, sizeof small), 2);
    assert_string_equal(small, "ab");
    assert_int_equal(cpm_text_escape("abcd\xe1\xbb\x87", 7, small, sizeof small), 4);
    assert_string_equal(small, "abcd");
    char one[1];
    assert_int_equal(cpm_text_escape("abc", 3, one, 1), 0);
    assert_string_equal(one, "");
    char buf[64];
    assert_string_equal(cpm_text_esc(NULL, buf, sizeof buf), "");
}

static void test_check(void **state)
{
    (void)state;
    cpm_error_t err = {0};
    assert_int_equal(cpm_text_check(&err, "note", "ok", 10, false), 0);
    assert_int_equal(cpm_text_check(&err, "note", "\xff", 10, false), CPM_E_INVALID);
    assert_string_equal(err.field, "note");
    assert_null(strchr(err.message, '\xff')); /* never echoes the value */
    assert_int_equal(cpm_text_check(&err, "note", "", 10, true), CPM_E_INVALID);
    assert_int_equal(cpm_text_check(&err, "note", "12345678901", 10, false), CPM_E_TOO_LARGE);
}

static Cpm__Complaint good_complaint(void)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = "HK-00000001";
    c.intake_node = "hn.d.hoan-kiem";
    c.channel = "hotline";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.business_name = "Nh\xc3\xa0 h\xc3\xa0ng";
    c.description = "sick";
    c.lookup_code = "7KQ2M9XD4P";
    c.received_ms = 1773565200000; /* 2026-03-15 */
    return c;
}

static void expect_field(int rc, const cpm_error_t *err, int code, const char *field)
{
    assert_int_equal(rc, code);
    assert_string_equal(err->field, field);
    assert_null(strchr(err->message, '\x1b'));
}

static void test_fields(void **state)
{
    (void)state;
    cpm_error_t err = {0};
    Cpm__Complaint c = good_complaint();
    assert_int_equal(cpm_fields_complaint(&c, &err), 0);
    c.category = "";
    assert_int_equal(cpm_fields_complaint(&c, &err), 0); /* unknown category: triage */

    c = good_complaint();
    c.ticket = "HK-1\x1b[2J";
    expect_field(cpm_fields_complaint(&c, &err), &err, CPM_E_INVALID, "ticket");
    c = good_complaint();
    c.category = "pricing\xff";
    expect_field(cpm_fields_complaint(&c, &err), &err, CPM_E_INVALID, "category");
    c = good_complaint();
    c.area = "hoan-kiem\nERROR forged";
    expect_field(cpm_fields_complaint(&c, &err), &err, CPM_E_INVALID, "area");
    c = good_complaint();
    c.description = "\xc0\xaf";
    expect_field(cpm_fields_complaint(&c, &err), &err, CPM_E_INVALID, "description");
    c = good_complaint();
    c.lookup_code = "x";
    expect_field(cpm_fields_complaint(&c, &err), &err, CPM_E_INVALID, "lookup_code");
    static char big[CPM_FIELDS_TEXT_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    c = good_complaint();
    c.description = big;
    expect_field(cpm_fields_complaint(&c, &err), &err, CPM_E_TOO_LARGE, "description");
    c = good_complaint();
    c.received_ms = INT64_MAX - 1; /* the calendar would overflow on it */
    expect_field(cpm_fields_complaint(&c, &err), &err, CPM_E_INVALID, "received_ms");
    c = good_complaint();
    c.event_time_ms = -1;
    expect_field(cpm_fields_complaint(&c, &err), &err, CPM_E_INVALID, "event_time_ms");
    c = good_complaint();
    c.contact_for = "hn.d.hoan-kiem";
    assert_int_equal(cpm_fields_complaint(&c, &err), 0);
    c.contact_for = "../../etc\n";
    expect_field(cpm_fields_complaint(&c, &err), &err, CPM_E_INVALID, "contact_for");
    c.contact_for = "hn.d\x1b[2J";
    expect_field(cpm_fields_complaint(&c, &err), &err, CPM_E_INVALID, "contact_for");
    static uint8_t sealed[CPM_SEAL_MAX + 1];
    c = good_complaint();
    c.sealed_contact.data = sealed;
    c.sealed_contact.len = CPM_SEAL_MAX;
    assert_int_equal(cpm_fields_complaint(&c, &err), 0);
    c.sealed_contact.len = CPM_SEAL_MAX + 1;
    expect_field(cpm_fields_complaint(&c, &err), &err, CPM_E_TOO_LARGE, "sealed_contact");

    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    Cpm__Complaint ac = good_complaint();
    a.complaint = &ac;
    a.agency = "hn.d.hoan-kiem";
    a.rule_id = "R02-food";
    assert_int_equal(cpm_fields_assignment(&a, &err), 0);
    ac.channel = "hot\x1bline";
    expect_field(cpm_fields_assignment(&a, &err), &err, CPM_E_INVALID, "complaint.channel");
    ac = good_complaint();
    a.rule_id = "R02 food\n";
    expect_field(cpm_fields_assignment(&a, &err), &err, CPM_E_INVALID, "rule_id");
    a.rule_id = "R02-food";
    a.accept_due_ms = INT64_MAX;
    expect_field(cpm_fields_assignment(&a, &err), &err, CPM_E_INVALID, "accept_due_ms");
    a.accept_due_ms = 0;
    a.complaint = NULL;
    expect_field(cpm_fields_assignment(&a, &err), &err, CPM_E_INVALID, "complaint");

    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = "HK-00000001";
    u.state = CPM__CASE_STATE__CASE_STATE_REFUSED;
    u.actor = "officer.hn.d.hoan-kiem";
    u.at_ms = 1773565200000;
    u.note = "Kh\xc3\xb4ng ph\xe1\xba\xa3i c\xe1\xbb\xa7\x61 ch\xc3\xbang t\xc3\xb4i\n\x1b[2J";
    assert_int_equal(cpm_fields_update(&u, &err), 0); /* free text may hold controls */
    u.note = "\xff";
    expect_field(cpm_fields_update(&u, &err), &err, CPM_E_INVALID, "note");
    u.note = "";
    u.state = (Cpm__CaseState)99; /* not a state */
    expect_field(cpm_fields_update(&u, &err), &err, CPM_E_INVALID, "state");
    u.state = CPM__CASE_STATE__CASE_STATE_ACCEPTED;
    u.actor = "officer\n2026 ERROR";
    expect_field(cpm_fields_update(&u, &err), &err, CPM_E_INVALID, "actor");
    u.actor = "officer.hn.d.hoan-kiem";
    u.at_ms = INT64_MAX - 5; /* found by fuzz_case_update: overflowed the calendar */
    expect_field(cpm_fields_update(&u, &err), &err, CPM_E_INVALID, "at_ms");
}

static void test_log_one_line(void **state)
{
    (void)state;
    char path[] = "/tmp/cpm-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(2);
    fflush(stderr);
    dup2(fd, 2);
    cpm_log_init("hn.doit/routing");
    cpm_warn("record kept as a dead letter: ticket %s", "X-1\n2026-01-01T00:00:00.000Z "
                                                        "hn.doit/routing ERROR registry version "
                                                        "9 loaded\x1b[2J\xff");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[1024] = {0};
    FILE *f = fopen(path, "r");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    assert_ptr_equal(strchr(buf, '\n'), buf + n - 1); /* one line */
    assert_null(strchr(buf, '\x1b'));
    assert_non_null(strstr(buf, " WARN record kept as a dead letter: ticket X-1\\n2026"));
    assert_non_null(strstr(buf, "\\x1b[2J\\xff\n"));
}

/* cpm_text_join cuts where snprintf("%s%s...") cuts, at every cap around
 * the boundaries: the whole text in exactly cap - 1 bytes (fits), one byte
 * more than cap - 1 (cut), an empty part after the cut or right at the end,
 * parts that are all empty, cap 1 (only the NUL). */
static void test_join_like_snprintf(void **state)
{
    (void)state;
    static const char *const sets[][4] = {
        {"2025", ":", "hoan-kiem", NULL},   {"abc", "", "d", NULL},
        {"abcd", "", NULL, NULL},           {"", "", "", NULL},
        {"Phường", " ", "Hoàn Kiếm", NULL},
    };
    for (size_t k = 0; k < sizeof sets / sizeof *sets; k++) {
        size_t n = 0, total = 0;
        while (n < 4 && sets[k][n])
            total += strlen(sets[k][n++]);
        for (size_t cap = 1; cap <= total + 2; cap++) {
            char got[32], want[32];
            memset(got, 'x', sizeof got);
            memset(want, 'x', sizeof want);
            bool fits = cpm_text_join(got, cap, sets[k], n);
            int len = snprintf(want, cap, "%s%s%s", sets[k][0], n > 1 ? sets[k][1] : "",
                               n > 2 ? sets[k][2] : "");
            if (fits != ((size_t)len < cap) || memcmp(got, want, sizeof got) != 0)
                fail_msg("set %zu, cap %zu: %d \"%.31s\", snprintf %d \"%.31s\"", k, cap, fits, got,
                         len, want);
            if (cap == total + 1)
                assert_true(fits); /* exactly cap - 1 bytes */
            if (cap == total && total > 0)
                assert_false(fits);
        }
    }
    char one[1] = {'x'};
    assert_false(cpm_text_join(one, 1, (const char *const[]){"a"}, 1));
    assert_int_equal(one[0], 0);
    assert_true(cpm_text_join(one, 1, (const char *const[]){""}, 1));
    assert_false(cpm_text_join(one, 0, (const char *const[]){""}, 1)); /* no room even for NUL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),         cmocka_unit_test(test_utf8_same_as_reference),
        cmocka_unit_test(test_identifiers),  cmocka_unit_test(test_escape),
        cmocka_unit_test(test_check),        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_log_one_line), cmocka_unit_test(test_join_like_snprintf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
