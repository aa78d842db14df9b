/* cpm_stream: the one home of stream names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_stream.h"
#include "cpm_util.h"

#include <stdio.h>
#include <string.h>

static void build_parse_round_trip(void **state)
{
    char s[CPM_STREAM_MAX];
    assert_int_equal(cpm_stream_build(s, sizeof s, "hn.a.x", "intake", "hn.doit", "routing"), 0);
    assert_string_equal(s, "hn.a.x/intake>hn.doit/routing");
    cpm_stream_parts_t p;
    assert_int_equal(cpm_stream_parse(s, &p), 0);
    assert_string_equal(p.from.member, "hn.a.x");
    assert_string_equal(p.from.service, "intake");
    assert_string_equal(p.to.member, "hn.doit");
    assert_string_equal(p.to.service, "routing");
    char pre[64];
    assert_int_equal(cpm_stream_sender_prefix(s, pre, sizeof pre), 0);
    assert_string_equal(pre, "hn.a.x/");
}

static void bad_names_are_refused(void **state)
{
    char s[16];
    assert_int_equal(cpm_stream_build(s, sizeof s, "a", "b", "c", "d/e"), CPM_E_INVALID);
    assert_int_equal(cpm_stream_build(s, sizeof s, "", "b", "c", "d"), CPM_E_INVALID);
    assert_int_equal(cpm_stream_build(s, sizeof s, "aaaaaaaaaaaaaaaaaaaa", "b", "c", "d"),
                     CPM_E_TOO_LARGE);
    cpm_stream_parts_t p;
    const char *bad[] = {"a/b", "a/b>c", "a>c/d", "a/b>c/d>e/f", "/b>c/d", "a/b>c/", "a/b/x>c/d"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(cpm_stream_parse(bad[i], &p), CPM_E_INVALID);
    cpm_stream_end_t e;
    assert_int_equal(cpm_stream_parse_end("m/s", &e), 0);
    assert_int_equal(cpm_stream_parse_end("m/s>x/y", &e), CPM_E_INVALID);
}

/* Built by hand: the exact fit and one byte short, at every size. */
static void build_fits_exactly_or_refuses(void **state)
{
    const char *want = "m/s>t/u";
    for (size_t n = 0; n <= 12; n++) {
        char out[16];
        memset(out, '#', sizeof out);
        int rc = cpm_stream_build(out, n, "m", "s", "t", "u");
        if (n >= strlen(want) + 1) {
            assert_int_equal(rc, 0);
            assert_string_equal(out, want);
        } else {
            assert_int_equal(rc, CPM_E_TOO_LARGE);
        }
        assert_int_equal(out[n], '#'); /* nothing written past n bytes */
    }
}

/* cpm_str_copy and cpm_str_num give what snprintf gives, cut or not. */
static void copies_as_snprintf_does(void **state)
{
    const char *src[] = {"", "a", "Phường Hoàn Kiếm", "0123456789abcdef"};
    for (size_t i = 0; i < sizeof src / sizeof *src; i++)
        for (size_t cap = 1; cap <= 20; cap++) {
            char a[24], b[24];
            memset(a, '#', sizeof a);
            memset(b, '#', sizeof b);
            int w = snprintf(a, cap, "%s", src[i]);
            size_t got = cpm_str_copy(b, cap, src[i]);
            assert_int_equal(got, (size_t)w);
            assert_memory_equal(a, b, sizeof a);
        }
    const uint64_t v[] = {0, 7, 12345678, 123456789, UINT64_MAX};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        for (size_t cap = 1; cap <= 40; cap++) {
            char a[48], b[48];
            memset(a, '#', sizeof a);
            memset(b, '#', sizeof b);
            int w = snprintf(a, cap, "%s%08llu", "HN-C", (unsigned long long)v[i]);
            size_t got = cpm_str_num(b, cap, "HN-C", v[i], 8);
            assert_int_equal(got, (size_t)w);
            assert_memory_equal(a, b, sizeof a);
        }
}

static void marks(void **state)
{
    char m[CPM_STREAM_MARK_MAX];
    assert_int_equal(cpm_stream_mark("a/b>c/d", 0, m, sizeof m), 0);
    assert_string_equal(m, "a/b>c/d");
    assert_int_equal(cpm_stream_mark("a/b>c/d", 0x2a, m, sizeof m), 0);
    assert_string_equal(m, "a/b>c/d@000000000000002a");
    char small[8];
    assert_int_equal(cpm_stream_mark("a/b>c/d", 1, small, sizeof small), CPM_E_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_parse_round_trip),
        cmocka_unit_test(bad_names_are_refused),
        cmocka_unit_test(marks),
        cmocka_unit_test(build_fits_exactly_or_refuses),
        cmocka_unit_test(copies_as_snprintf_does),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
