/* Tests that cpm_bizkey_make, with its placeholders looked up by first byte
 * and its strings joined by copies instead of snprintf (cpm_bizname_normal
 * too, at every output size), gives the same struct, byte for byte, as the
 * code as it was (its digests recorded below when it ran on the same
 * inputs): names and addresses drawn from the pieces they are made of
 * (forms, placeholders, Vietnamese with and without marks, houses and lanes,
 * names and streets past the label's precisions), in a few areas and none.
 * A changed byte for any input changes the digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cpm_bizkey.h"
#include "cpm_bizname.h"
#include "fixtures/same_digest.h"

#include <sodium.h>

static uint64_t x = 0x0123456789abcdefULL;
static uint32_t rnd(uint32_t n)
{
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return (uint32_t)(x >> 11) % n;
}

static const char *const NAME_PIECES[] = {
    "Công ty TNHH",
    "Phở",
    "Thìn",
    "Shop",
    "X",
    "không rõ",
    "ko ro",
    "Quán",
    "quan an",
    "Cửa hàng",
    "tạp hoá",
    "Siêu thị",
    "Mini",
    "24h",
    "Điện Máy Xanh",
    "cty",
    "CP",
    "unknown",
    "na",
    "N/A",
    "Bún Chả Hương Liên",
    "Nhà hàng",
    "Sen Tây Hồ",
    "ĐẶC SẢN",
    "-",
    "&",
    "1",
    "xx",
    "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "Bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"};
static const char *const ADDR_PIECES[] = {
    "12",
    "Số 12",
    "12a",
    "12/3/7",
    "ngõ 5",
    "ngách 3",
    "P.",
    "Phố",
    "Hàng Bạc",
    "Đường Láng",
    "Hoàn Kiếm",
    "Q. Hoàn Kiếm",
    "Hà Nội",
    "Tầng 3",
    "Kiot 5",
    "chợ Đồng Xuân",
    ",",
    "-",
    "Lý Thường Kiệt",
    "Phương Mai",
    "Đống Đa",
    "HN",
    "km 8",
    "Đại lộ Thăng Long",
    "Nguyễn Văn Cừuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu",
    "1234567890123456789012345678901234567890123456789"};
static const char *const AREAS[] = {"hoan-kiem", "ba-dinh", "", NULL};

static void draw(char *out, size_t cap, const char *const *pieces, size_t n_pieces, size_t max)
{
    size_t n = rnd((uint32_t)max + 1), len = 0;
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        int k =
            snprintf(out + len, cap - len, "%s%s", i ? " " : "", pieces[rnd((uint32_t)n_pieces)]);
        if (k < 0 || (size_t)k >= cap - len)
            break;
        len += (size_t)k;
    }
}

static void test_drawn(void **state)
{
    (void)state;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    char name[512], addr[512];
    for (int i = 0; i < 30000; i++) {
        draw(name, sizeof name, NAME_PIECES, sizeof NAME_PIECES / sizeof *NAME_PIECES, 5);
        draw(addr, sizeof addr, ADDR_PIECES, sizeof ADDR_PIECES / sizeof *ADDR_PIECES, 7);
        cpm_bizkey_t bk;
        memset(&bk, 0x5a, sizeof bk); /* it clears it first: a byte left would differ */
        /* Drawn one by one: the order in which a call's arguments are
         * evaluated is unspecified (gcc, which recorded the digest, went
         * from the last; clang goes from the first). */
        const char *area = AREAS[rnd(4)];
        const char *a = rnd(7) ? addr : NULL;
        const char *n = rnd(9) ? name : NULL;
        int rc = cpm_bizkey_make(n, a, area, &bk);
        crypto_hash_sha256_update(&st, (const uint8_t *)&rc, sizeof rc);
        crypto_hash_sha256_update(&st, (const uint8_t *)&bk, sizeof bk);
    }
    same_digest_check(&st, "the business keys",
                      "dd3c763509913b59ab143b3d5c5ccaed0368e1d6350b15b306d03df929f69e79");
}

/* cpm_bizname_normal (what cpm_bizkey_make calls) at output sizes that cut
 * its result, with and without the forms asked for. */
static void test_normal_cut(void **state)
{
    (void)state;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    static const size_t CAPS[] = {1, 2, 3, 5, 8, 17, 40, 256};
    char name[512];
    x = 0x5555aaaa12345678ULL;
    for (int i = 0; i < 5000; i++) {
        draw(name, sizeof name, NAME_PIECES, sizeof NAME_PIECES / sizeof *NAME_PIECES, 5);
        for (size_t c = 0; c < sizeof CAPS / sizeof *CAPS; c++) {
            char out[256], forms[64];
            memset(out, 0x5a, sizeof out);
            memset(forms, 0x5a, sizeof forms);
            bool r = cpm_bizname_normal(name, out, CAPS[c], c % 2 ? forms : NULL,
                                        c % 2 ? sizeof forms : 0);
            crypto_hash_sha256_update(&st, (const uint8_t *)&r, 1);
            crypto_hash_sha256_update(&st, (const uint8_t *)out, sizeof out);
            crypto_hash_sha256_update(&st, (const uint8_t *)forms, sizeof forms);
        }
    }
    same_digest_check(&st, "the normal names",
                      "c641166c72b4742124277e4acd48440f9d3a4e73f3bf748adcf82ee8d346367f");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drawn),
        cmocka_unit_test(test_normal_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
