/* Tests for cpm_bizname_fold's fold a character at a time: the same bytes as
 * normalising the whole text first (cpm_bizname_fold_reference) for every
 * Unicode code point alone and between letters, for Vietnamese texts, for
 * texts cut by a small output or by a length (cpm_bizname_fold_n, as routing
 * folds a description cut at a character boundary), and for bytes that are
 * not UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <unistr.h>

#include "cpm_bizname.h"
#include "cpm_bizname_int.h"

static void same(const char *text, size_t cap)
{
    char a[512], b[512], c[512];
    size_t na = cpm_bizname_fold_reference(text, a, cap);
    size_t nb = cpm_bizname_fold(text, b, cap);
    size_t nc = cpm_bizname_fold_n(text, strlen(text), c, cap);
    if (na != nb || strcmp(a, b) != 0)
        fail_msg("fold of \"%s\" (cap %zu): \"%s\" (%zu) against \"%s\" (%zu)", text, cap, a, na, b,
                 nb);
    if (nc != nb || strcmp(c, b) != 0)
        fail_msg("fold_n of \"%s\" (cap %zu): \"%s\" (%zu) against \"%s\" (%zu)", text, cap, c, nc,
                 b, nb);
}

/* Every scalar value alone, after a letter, and twice between letters. */
static void test_every_code_point(void **state)
{
    (void)state;
    for (ucs4_t uc = 1; uc <= 0x10ffff; uc++) {
        if (uc >= 0xd800 && uc <= 0xdfff)
            continue;
        uint8_t c[8];
        int l = u8_uctomb(c, uc, sizeof c);
        assert_true(l > 0);
        char text[64];
        snprintf(text, sizeof text, "%.*s", l, (const char *)c);
        same(text, 256);
        snprintf(text, sizeof text, "A%.*sb%.*s%.*sC9", l, (const char *)c, l, (const char *)c, l,
                 (const char *)c);
        same(text, 256);
    }
}

static const char *const TEXTS[] = {
    "Bát phở tính gấp đôi giá trên thực đơn, nhân viên thô lỗ",
    "Quán bún chả Hàng Mành: thịt ôi, có gián trong bếp!!! Tôi tên Nguyễn Thị Lan",
    "ĐỒ ĂN HẾT HẠN SỬ DỤNG — cửa hàng không đổi trả",
    "Giá niêm yết 25.000đ nhưng thu 40.000đ; hoá đơn? không có",
    "Ệ ệ ẫ Ẫ ỷ Ỹ ơ Ơ ư Ư ă Â đ Đ",
    "Công ty TNHH Phở Cổ Hà Nội",
    "e\xcc\x82\xcc\xa3 decomposed already, a\xcc\x81 and U+0344 \xcd\x84 x",
    "한국어 텍스트 and 日本語 mixed with ﬁ ligatures ① ２ Ω Å",
    "",
    "   ",
};

/* Every output size, and every length cut at a character boundary. */
static void test_texts_and_cuts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof TEXTS / sizeof *TEXTS; i++) {
        for (size_t cap = 2; cap <= 130; cap++)
            same(TEXTS[i], cap);
        size_t len = strlen(TEXTS[i]);
        for (size_t cut = 0; cut <= len; cut++) {
            if (((unsigned char)TEXTS[i][cut] & 0xc0) == 0x80)
                continue; /* inside a character */
            char prefix[512], a[512], b[512];
            snprintf(prefix, sizeof prefix, "%.*s", (int)cut, TEXTS[i]);
            size_t na = cpm_bizname_fold_reference(prefix, a, sizeof a);
            size_t nb = cpm_bizname_fold_n(TEXTS[i], cut, b, sizeof b);
            assert_int_equal(na, nb);
            assert_string_equal(a, b);
        }
    }
}

static void test_not_utf8(void **state)
{
    (void)state;
    same("abc \xff\xfe def", 64);
    same("\xc3 half", 64);
    same("ok \xed\xa0\x80 surrogate", 64);
    same("Ph\xe1\xbb", 64); /* a character cut short at the end */
    char out[16] = "x";
    assert_int_equal(cpm_bizname_fold(NULL, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(cpm_bizname_fold_n("a\0b", 3, out, sizeof out),
                     cpm_bizname_fold_reference("a", out, sizeof out)); /* NUL inside: up to it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_point),
        cmocka_unit_test(test_texts_and_cuts),
        cmocka_unit_test(test_not_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
