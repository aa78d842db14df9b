/* cpm_stream: the one home of stream names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_stream.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
