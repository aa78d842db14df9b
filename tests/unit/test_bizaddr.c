/* cpm_bizaddr: the ways people write one Hanoi address compare equal, and
 * different places do not; bounded on long and hostile input. */
#include "cpm_bizaddr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const char *norm(const char *a)
{
    static cpm_bizaddr_t r;
    cpm_bizaddr_normal(a, &r);
    return r.normal;
}

static void test_forms(void **state)
{
    (void)state;
    cpm_bizaddr_t a;
    assert_true(cpm_bizaddr_normal("Số 12 P. Hàng Bạc, Hoàn Kiếm, HN", &a));
    assert_string_equal(cpm_bizaddr_house(&a), "12");
    assert_string_equal(cpm_bizaddr_street(&a), "hang bac");
    assert_string_equal(a.normal, "house=12 street=hang bac");
    assert_true(cpm_bizaddr_exact(&a));
    assert_string_equal(norm("12A Hàng Bạc"), "house=12a street=hang bac");
    assert_string_equal(norm("số 7 ngách 3 ngõ 12 Hàng Bạc"), "house=12/3/7 street=hang bac");
    assert_string_equal(norm("12 ngõ 5 Hàng Bạc"), "house=5/12 street=hang bac");
    assert_string_equal(norm("Hàng Bạc"), "street=hang bac");
    assert_string_equal(norm("Ngõ 5 Hàng Bạc"), "street=hang bac"); /* a lane is not a house */
    assert_true(cpm_bizaddr_normal("Phố Hàng Bạc", &a));
    assert_false(cpm_bizaddr_exact(&a));
    assert_false(cpm_bizaddr_normal("", &a));
    assert_false(cpm_bizaddr_normal(NULL, &a));
    assert_false(cpm_bizaddr_normal("Hà Nội", &a));
    assert_false(cpm_bizaddr_normal(",,,//--", &a));
    assert_false(cpm_bizaddr_normal("Quận Hoàn Kiếm, Hà Nội", &a));
}

/* Pairs written for one place: each must give the same exact form. */
static const char *const SAME[][2] = {
    {"Số 12 P. Hàng Bạc, Hoàn Kiếm, HN", "12 hang bac"},
    {"12 Phố Hàng Bạc", "12 hang bac"},
    {"số nhà 12, phố Hàng Bạc, phường Hàng Đào, quận Hoàn Kiếm, Hà Nội", "12 Hang Bac"},
    {"12 Hàng Bạc - Hoàn Kiếm - Hà Nội", "So 12 Pho Hang Bac"},
    {"SN 12 Ph. Hàng Bạc", "12 HÀNG BẠC"},
    {"12 Hàng Bạc, P. Hàng Đào, Q. Hoàn Kiếm, TP Hà Nội", "12 hàng bạc"},
    {"12 P.Hàng Bạc P.Hàng Đào Q.Hoàn Kiếm", "12 Hàng Bạc"},
    {"12 Hàng Bạc Hoàn Kiếm", "12 Hàng Bạc"},
    {"Số 12, P. Hàng Bạc, Hoàn Kiếm", "12 Hàng Bạc, Hà Nội"},
    {"12A Hàng Bạc", "số 12a phố hàng bạc"},
    {"45 Đường Láng, Đống Đa", "45 Láng"},
    {"45 Đ. Láng, Q. Đống Đa, Hà Nội", "so 45 duong Lang"},
    {"45 Đg Láng", "45 đường Láng, Đống Đa, HN"},
    {"số 7 ngõ 12 Láng Hạ", "12/7 Láng Hạ"},
    {"số 7 ngõ 12 Láng Hạ", "7 ng. 12 Láng Hạ"},
    {"Ngõ 12/3 Láng Hạ số 7", "số 7 ngách 3 ngõ 12 Láng Hạ"},
    {"số 7 ngách 3 ngõ 12 Láng Hạ", "12/3/7 Láng Hạ"},
    {"15 hẻm 4 Trần Duy Hưng", "4/15 Trần Duy Hưng"},
    {"15 ngõ 4 Trần Duy Hưng, Cầu Giấy", "Số 15, ngõ 4, Trần Duy Hưng"},
    {"144 Cầu Giấy", "144 đường Cầu Giấy, quận Cầu Giấy, Hà Nội"},
    {"144 Cau Giay, Cau Giay, Ha Noi", "144 Cầu Giấy Cầu Giấy"},
    {"3 Phố Huế", "số 3 Huế, Hai Bà Trưng"},
    {"3 Ph. Huế, Hai Bà Trưng, Hà Nội, Việt Nam", "3 pho hue"},
    {"Tầng 2, 88 Xã Đàn", "88 Xã Đàn, Đống Đa"},
    {"88 Phố Xã Đàn, Phường Nam Đồng", "88 xa dan"},
    {"Kiot 3, 12-14 Hàng Bạc", "12-14 Hàng Bạc"},
    {"Hàng Bạc số 12, Hoàn Kiếm", "12 Hàng Bạc"},
    {"(12 Hàng Bạc)", "12 Hang Bac; Hoan Kiem"},
    {"Số 1 Đại lộ Thăng Long", "1 Thăng Long"},
    {"NGÕ 5 NGÁCH 2 SỐ 9 HOÀNG QUỐC VIỆT", "9 ngách 2 ngõ 5 Hoàng Quốc Việt"},
    {"12 Ha\xcc\x80ng Ba\xcc\xa3"
     "c",
     "12 Hàng Bạc"}, /* decomposed (NFD) */
};

/* Pairs for different places: never the same exact form. */
static const char *const DIFFERENT[][2] = {
    {"12 Hàng Bạc", "14 Hàng Bạc"},
    {"12 Hàng Bạc", "12 Hàng Bè"},
    {"12 Hàng Bạc", "12A Hàng Bạc"},
    {"12 ngõ 5 Hàng Bạc", "12 Hàng Bạc"},
    {"số 7 ngõ 12 Láng Hạ", "số 12 ngõ 7 Láng Hạ"},
    {"45 Láng", "45 Láng Hạ"},
    {"3 Phố Huế", "3 Huế Hồ"},
    {"Hàng Bạc", "Hàng Bạc"}, /* no house: not exact, never linked */
    {"Ngõ 5 Hàng Bạc", "5 Hàng Bạc"},
    {"Kiot 3, 12 Hàng Bạc", "3 Hàng Bạc"},
    {"88 Xã Đàn", "88 Đàn"},
    {"144 Cầu Giấy", "14 4 Cầu Giấy"},
};

static void test_same(void **state)
{
    (void)state;
    size_t n = sizeof SAME / sizeof SAME[0], ok = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = SAME[i][0], *b = SAME[i][1];
        cpm_bizaddr_t x, y;
        bool ex = cpm_bizaddr_normal(a, &x) && cpm_bizaddr_exact(&x);
        bool ey = cpm_bizaddr_normal(b, &y) && cpm_bizaddr_exact(&y);
        if (ex && ey && strcmp(x.normal, y.normal) == 0)
            ok++;
        else
            print_message("SAME %zu: \"%s\" -> \"%s\" but \"%s\" -> \"%s\"\n", i, a, x.normal, b,
                          y.normal);
        assert_true(cpm_bizaddr_same(a, b) == (ex && ey && strcmp(x.normal, y.normal) == 0));
    }
    assert_true(n >= 25);
    assert_int_equal(ok, n);
}

static void test_different(void **state)
{
    (void)state;
    size_t n = sizeof DIFFERENT / sizeof DIFFERENT[0];
    for (size_t i = 0; i < n; i++) {
        if (cpm_bizaddr_same(DIFFERENT[i][0], DIFFERENT[i][1]))
            fail_msg("DIFFERENT %zu: \"%s\" = \"%s\" (%s)", i, DIFFERENT[i][0], DIFFERENT[i][1],
                     norm(DIFFERENT[i][0]));
    }
    assert_true(n >= 10);
}

/* Long text: only the first CPM_BIZADDR_IN_MAX bytes count, cut on a
 * character boundary; invalid UTF-8 and hostile runs never crash. */
static void test_bounds(void **state)
{
    (void)state;
    static char big[64 * 1024];
    size_t n = 0;
    n += (size_t)snprintf(big, sizeof big, "12 Hàng Bạc ");
    while (n + 4 < sizeof big) {
        memcpy(big + n, "ạ ", 4); /* 3-byte letters: the cut falls inside one */
        n += 4;
    }
    big[n] = 0;
    cpm_bizaddr_t a;
    assert_true(cpm_bizaddr_normal(big, &a));
    assert_string_equal(a.house, "12");
    assert_true(strlen(a.normal) < CPM_BIZADDR_MAX);
    memset(big, '1', sizeof big - 1); /* one enormous number */
    big[sizeof big - 1] = 0;
    assert_false(cpm_bizaddr_normal(big, &a));
    for (size_t i = 0; i + 2 < sizeof big; i += 2) { /* "1/1/1/..." */
        big[i] = '1';
        big[i + 1] = '/';
    }
    assert_false(cpm_bizaddr_normal(big, &a));
    assert_true(strlen(a.house) < CPM_BIZADDR_HOUSE_MAX);
    assert_false(cpm_bizaddr_normal("\xff\xfe\xc3 \x80\x80", &a));
    cpm_bizaddr_normal("12 \xff\xfe Hàng \xe1\xba Bạc", &a); /* whatever it is, no crash */
    for (size_t i = 0; i + 1 < sizeof big; i++)
        big[i] = "aZ9 ,/-."[i % 8];
    cpm_bizaddr_normal(big, &a);
    assert_true(strlen(a.street) < CPM_BIZADDR_STREET_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_same),
        cmocka_unit_test(test_different),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
