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

/* Texts drawn from characters of every kind the fold treats apart (ASCII
 * letters, digits and separators, Vietnamese letters precomposed and
 * decomposed, đ, marks alone, letters of other scripts, characters past the
 * fold's table, characters whose decomposition has many parts), at every
 * output size up to past their fold. */
static void test_drawn(void **state)
{
    (void)state;
    static const char *const PIECES[] = {"a",
                                         "Z",
                                         "9",
                                         " ",
                                         ",",
                                         "-",
                                         "\t",
                                         "ph",
                                         "Ở",
                                         "ở",
                                         "ệ",
                                         "Ệ",
                                         "đ",
                                         "Đ",
                                         "ư",
                                         "ơ",
                                         "â",
                                         "a\xcc\x81",
                                         "o\xcc\x9b\xcc\x83",
                                         "\xcc\x81",
                                         "\xcc\xa3\xcc\x82",
                                         "ﬁ",
                                         "Å",
                                         "Ω",
                                         "ǅ",
                                         "ᾏ",
                                         "한",
                                         "日",
                                         "①",
                                         "２",
                                         "\xe1\xbe\x8f\xcc\x81",
                                         "ǖ",
                                         "Ǻ",
                                         "ȁ",
                                         "ẫ",
                                         "ỹ",
                                         "Ỷ"};
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 3000; i++) {
        char text[256];
        size_t len = 0;
        text[0] = 0;
        for (int w = 0; w < 24; w++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *p = PIECES[x % (sizeof PIECES / sizeof *PIECES)];
            size_t l = strlen(p);
            if (len + l >= sizeof text)
                break;
            memcpy(text + len, p, l + 1);
            len += l;
        }
        for (size_t cap = 2; cap <= 72; cap += 1 + (size_t)(x >> 60) % 3)
            same(text, cap);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_point),
        cmocka_unit_test(test_texts_and_cuts),
        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_drawn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
