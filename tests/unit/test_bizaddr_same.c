/* Tests that cpm_bizaddr_normal without snprintf gives the same bytes as the
 * code as it was (with snprintf; its digests recorded below when both ran
 * side by side), the whole result struct compared: hand-written Hanoi addresses (Vietnamese,
 * unaccented, old district names, lanes, floors, ranges), empty and NULL, addresses past
 * CPM_BIZADDR_IN_MAX cut inside a character, words past a token's size,
 * streets past CPM_BIZADDR_STREET_MAX, bytes that are not UTF-8, and a
 * hundred thousand addresses drawn from the pieces addresses are made of. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cpm_bizaddr.h"

#include <sodium.h>

/* Each input's answer and whole result struct (char arrays only: no padding;
 * the function clears it first) go into a digest per test, compared with the
 * digest the code as it was (before the rewrite without snprintf) gave for
 * the same inputs. A changed byte for any input changes the digest. */
static crypto_hash_sha256_state digest;

static void feed(crypto_hash_sha256_state *st, bool r, const cpm_bizaddr_t *a)
{
    uint8_t rb = r;
    crypto_hash_sha256_update(st, &rb, 1);
    crypto_hash_sha256_update(st, (const uint8_t *)a, sizeof *a);
}

static void same(const char *addr)
{
    cpm_bizaddr_t b;
    memset(&b, 0x5a, sizeof b); /* it clears it first: a byte left would differ */
    feed(&digest, cpm_bizaddr_normal(addr, &b), &b);
}

static int start(void **state)
{
    (void)state;
    crypto_hash_sha256_init(&digest);
    return 0;
}

static void check(const char *want)
{
    uint8_t h[32];
    char hex[65];
    crypto_hash_sha256_final(&digest, h);
    sodium_bin2hex(hex, sizeof hex, h, 32);
    if (strcmp(hex, want) != 0)
        fail_msg("the normal forms changed for these inputs: digest %s, was %s", hex, want);
}

static const char *const WRITTEN[] = {
    "",
    " ",
    ",,,",
    "Số 12 P. Hàng Bạc, Hoàn Kiếm, HN",
    "12 hang bac",
    "12 Phố Hàng Bạc",
    "số 7 ngách 3 ngõ 12 Phố Huế, Hai Bà Trưng, Hà Nội",
    "7 ngõ 12/3 Đường Láng, Đống Đa",
    "12 ngõ 5 Chùa Bộc",
    "Hàng Bạc số 12, Hoàn Kiếm",
    "12 P. Hàng Bạc, P. Hàng Đào, Q. Hoàn Kiếm, TP. Hà Nội, Việt Nam",
    "Tầng 3, số 25 Lý Thường Kiệt, Hoàn Kiếm",
    "Kiot 5 chợ Đồng Xuân",
    "12-14 Tràng Tiền - Hoàn Kiếm",
    "12 Hàng Bạc Hoàn Kiếm",
    "SN 45 ngõ 102 Trường Chinh, Phương Mai, Đống Đa, HN",
    "nhà số 8, hẻm 4, kiệt 9 Nguyễn Trãi, Thanh Xuân",
    "ng 5 ngh 7 số 3 Kim Mã Ba Đình",
    "Phường Hàng Trống, Quận Hoàn Kiếm",
    "Đại lộ Thăng Long km 8, Nam Từ Liêm",
    "12a Hàng Bè",
    "12/3/7 Hàng Bè (cạnh chợ)",
    "123 Đ. Giải Phóng; Hoàng Mai; Hà Nội",
    "số 1 Tràng Thi, Hà Tây",          /* an old province */
    "5 Quang Trung, Hà Đông, Hà Tây",  /* an old district's town */
    "3 Phố Mới, thị xã Sơn Tây",       /* a district once a town */
    "45 Trần Phú, Từ Liêm",            /* Từ Liêm before its split */
    "9 Lê Lợi, huyện Từ Liêm, Hà Tây", /* the same, older */
    "Khu tập thể Kim Liên, nhà B7, phòng 204",
    "tang 2 lau 3 so 4 pho hue",
    "p hang bac p hang dao",
    "d lang dg lang duong lang",
    "HANOI 12 HANG BAC",
    "12\\3 Hàng Bạc",
    "12 - 14 Hàng Bạc",
    "-12 Hàng Bạc-",
    "12/ Hàng Bạc",
    "/12 Hàng Bạc",
    "12 / 3 Hàng Bạc",
    "số số số 12",
    "ngõ ngõ 12",
    "12\n Hàng Bạc\r\nHoàn Kiếm",
    "Ｈàng　Bạc １２", /* full-width forms */
    "ĐĐĐ đđđ Đường Đê La Thành",
    "Phở Thìn, 13 Lò Đúc",
    "13 Lò Đúc Hai Bà Trưng Hà Nội Việt Nam",
    "0 0 0 0",
    "00012 Hàng Bạc",
    "12 12 12 Hàng Bạc",
    "Hàng Bạc",
    "ngõ 5",
    "Quận Hoàn Kiếm",
    "vn",
    NULL,
};

static void test_written(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof WRITTEN / sizeof *WRITTEN; i++)
        same(WRITTEN[i]);
    check("2df0b63b1501b67af69276d9f8ddb4ff758cc64c62ca872198de35a1dfe80c45");
}

/* Long inputs: past the bytes looked at, cut inside a multi-byte character
 * at every offset; words longer than a token; streets longer than kept. */
static void test_long(void **state)
{
    (void)state;
    static char buf[4 * CPM_BIZADDR_IN_MAX];
    for (size_t pad = 0; pad < 8; pad++) {
        size_t n = 0;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "12 ");
        for (size_t k = 0; k < pad; k++)
            buf[n++] = 'x';
        while (n + 8 < sizeof buf)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "Hàng ");
        buf[n] = 0;
        same(buf);
        for (size_t cut = CPM_BIZADDR_IN_MAX - 6; cut < CPM_BIZADDR_IN_MAX + 6; cut++) {
            char c = buf[cut];
            buf[cut] = 0;
            same(buf);
            buf[cut] = c;
        }
    }
    /* one word of 100 letters, of 100 accented letters */
    size_t n = (size_t)snprintf(buf, sizeof buf, "12 ");
    for (size_t k = 0; k < 100; k++)
        buf[n++] = 'a';
    buf[n] = 0;
    same(buf);
    n = (size_t)snprintf(buf, sizeof buf, "12/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20 ");
    for (size_t k = 0; k < 100; k++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "ạ");
    same(buf);
    /* a street of many short words (past CPM_BIZADDR_STREET_MAX), a house of
     * many numbers (past CPM_BIZADDR_HOUSE_MAX) */
    n = (size_t)snprintf(buf, sizeof buf, "ngõ 123456789 ngách 987654321 số ");
    for (size_t k = 0; k < 30; k++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%zu/", 1000000 + k);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "1 ");
    for (size_t k = 0; k < 80; k++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s ", k % 2 ? "hang" : "bac");
    same(buf);
    for (size_t k = 0; k < 200; k++)
        buf[k] = (char)('a' + k % 26);
    buf[200] = 0;
    same(buf);
    check("6232969c26e149b8433948bbe5f9fc415bb376e9320cbb17ada2920c9894947c");
}

/* xorshift: the same draws on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const PIECES[] = {
    "số",
    "Số",
    "số nhà",
    "nhà số",
    "SN",
    "nhà",
    "ngõ",
    "Ngõ",
    "ng",
    "hẻm",
    "h",
    "kiệt",
    "k",
    "ngách",
    "ngh",
    "tầng",
    "lầu",
    "kiot",
    "ki ot",
    "quầy",
    "phòng",
    "P.",
    "Phố",
    "phố",
    "ph",
    "p",
    "Đường",
    "đường",
    "Đ.",
    "đg",
    "dg",
    "d",
    "Đại lộ",
    "phường",
    "Phường",
    "quận",
    "Q.",
    "q",
    "huyện",
    "xã",
    "thị xã",
    "TX",
    "TP.",
    "thành phố",
    "Hà Nội",
    "HN",
    "Hanoi",
    "Việt Nam",
    "vietnam",
    "VN",
    "Hàng Bạc",
    "Hàng Đào",
    "Hoàn Kiếm",
    "Ba Đình",
    "Tây Hồ",
    "Cầu Giấy",
    "Đống Đa",
    "Hai Bà Trưng",
    "Hoàng Mai",
    "Thanh Xuân",
    "Nam Từ Liêm",
    "Bắc Từ Liêm",
    "Hà Đông",
    "Sơn Tây",
    "Ba Vì",
    "Từ Liêm",
    "Hà Tây",
    "Chương Mỹ",
    "Đan Phượng",
    "Lý Thường Kiệt",
    "Trần Hưng Đạo",
    "Nguyễn Trãi",
    "Kim Mã",
    "Láng",
    "Phở",
    "chợ",
    "1",
    "12",
    "12a",
    "3B",
    "007",
    "45",
    "102",
    "99999999999999999999",
    ",",
    ";",
    "-",
    "/",
    "\\",
    "(",
    ")",
    "\n",
    ".",
    ":",
    "#",
    "&",
    "\"",
    "'",
    "  ",
    "\t",
    "\xc3",
    "\xff\xfe",
    "\xe1\xba",
    "\x80",
    "ạ",
    "Ａ",
    "đ",
    "Đ",
};

static void test_drawn(void **state)
{
    (void)state;
    size_t np = sizeof PIECES / sizeof *PIECES;
    char buf[2 * CPM_BIZADDR_IN_MAX];
    for (int r = 0; r < 100000; r++) {
        size_t n = 0, words = 1 + next() % 14;
        for (size_t k = 0; k < words; k++) {
            const char *p = PIECES[next() % np];
            size_t l = strlen(p);
            if (n + l + 2 >= sizeof buf)
                break;
            memcpy(buf + n, p, l);
            n += l;
            if (next() % 4)
                buf[n++] = ' ';
        }
        buf[n] = 0;
        same(buf);
    }
    /* bytes at random, a few hundred times */
    for (int r = 0; r < 2000; r++) {
        size_t n = next() % 300;
        for (size_t k = 0; k < n; k++) {
            buf[k] = (char)(next() % 255 + 1);
        }
        buf[n] = 0;
        same(buf);
    }
    check("9dcd2ec98b62447ef568b22494fe4c7799b417c74058787ea4627fba4d784241");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_written, start),
        cmocka_unit_test_setup(test_long, start),
        cmocka_unit_test_setup(test_drawn, start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
