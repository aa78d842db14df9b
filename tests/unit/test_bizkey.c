/* cpm_bizkey: the key of a named business is exactly the id routing has
 * always stored (BLAKE2b-128 of "<area>\x1f<folded name>"); a business with
 * no name gets its exact address's key; the two kinds never collide. */
#include "cpm_bizkey.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* Vectors computed independently (Python hashlib.blake2b, digest_size=16). */
#define OLD_PHO_NGON_CO "f9b726ba92cd42b3ed4f2a114bd4bcdd"  /* hoan-kiem \x1f pho ngon co */
#define ADDR_12_HANG_BAC "8ad4bf0e70f73831a4004ad6f1b418b4" /* ... house=12 street=hang bac */
#define OLD_CTY_PHO_CO "c90ebd48157766277ddedb3f1754c0dd"   /* ... cong ty tnhh pho co */

static void test_name_key_unchanged(void **state)
{
    (void)state;
    cpm_bizkey_t k;
    assert_int_equal(cpm_bizkey_make("PHỞ  Ngon Co.!", NULL, "hoan-kiem", &k), 0);
    assert_string_equal(k.key, OLD_PHO_NGON_CO);
    assert_true(k.by_name);
    assert_string_equal(k.addr_key, "");
    /* the address does not change a named business's key */
    assert_int_equal(
        cpm_bizkey_make("Pho Ngon Co", "Số 12 P. Hàng Bạc, Hoàn Kiếm, HN", "hoan-kiem", &k), 0);
    assert_string_equal(k.key, OLD_PHO_NGON_CO);
    assert_string_equal(k.addr_key, ADDR_12_HANG_BAC);
    assert_string_equal(k.address, "house=12 street=hang bac");
    assert_string_equal(k.label, "pho ngon co @ 12 hang bac");
    /* the legal and shop forms are dropped from the key, so that "Công ty
     * TNHH Phở Cổ" and "Phở Cổ" are one business; legacy_key is the id
     * routing stored before (forms kept), which routing links to */
    assert_int_equal(cpm_bizkey_make("Công ty TNHH Phở Cổ", "", "hoan-kiem", &k), 0);
    assert_string_equal(k.legacy_key, OLD_CTY_PHO_CO);
    assert_string_equal(k.name, "cong ty tnhh pho co");
    cpm_bizkey_t k2;
    assert_int_equal(cpm_bizkey_make("Phở Cổ", "", "hoan-kiem", &k2), 0);
    assert_string_equal(k.key, k2.key);
    assert_string_equal(k2.key, k2.legacy_key);
    assert_int_equal(cpm_bizkey_make("Cty TNHH MTV phở cổ", "", "hoan-kiem", &k2), 0);
    assert_string_equal(k.key, k2.key);
    /* a name that is a form and a placeholder ("Shop X") keeps its folded name */
    assert_int_equal(cpm_bizkey_make("Shop X", "", "hoan-kiem", &k2), 0);
    assert_true(k2.by_name);
    assert_string_equal(k2.key, k2.legacy_key);
}

static void test_address_key(void **state)
{
    (void)state;
    cpm_bizkey_t k, k2;
    assert_int_equal(cpm_bizkey_make("", "12 Phố Hàng Bạc", "hoan-kiem", &k), 0);
    assert_false(k.by_name);
    assert_string_equal(k.key, ADDR_12_HANG_BAC);
    assert_string_equal(k.addr_key, ADDR_12_HANG_BAC);
    assert_string_equal(k.label, "@ 12 hang bac");
    assert_int_equal(cpm_bizkey_make("  !! ", "so 12 hang bac, HN", "hoan-kiem", &k2), 0);
    assert_string_equal(k2.key, k.key);
    /* placeholders are no name */
    static const char *const none[] = {"không rõ", "Chưa rõ tên", "N/A", "KHÔNG BIẾT",
                                       "Shop",     "cửa hàng",    "quán"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        assert_int_equal(cpm_bizkey_make(none[i], "Số 12 Hàng Bạc", "hoan-kiem", &k2), 0);
        assert_string_equal(k2.key, ADDR_12_HANG_BAC);
        assert_false(k2.by_name);
        assert_int_equal(cpm_bizkey_make(none[i], "", "hoan-kiem", &k2), -1);
    }
    assert_int_equal(cpm_bizkey_make("Shop Hoa", "", "hoan-kiem", &k2), 0); /* a name */
    /* another area: another business */
    assert_int_equal(cpm_bizkey_make(NULL, "12 Hàng Bạc", "ba-dinh", &k2), 0);
    assert_string_not_equal(k2.key, k.key);
    /* an address without a house number names no one place */
    assert_int_equal(cpm_bizkey_make(NULL, "Phố Hàng Bạc", "hoan-kiem", &k), -1);
    assert_string_equal(k.key, "");
    assert_string_equal(k.address, "street=hang bac");
    assert_int_equal(cpm_bizkey_make(NULL, NULL, "hoan-kiem", &k), -1);
    assert_int_equal(cpm_bizkey_make("", "", "", &k), -1);
    /* a name can never fold to an address normal form ('=' is dropped) */
    assert_int_equal(cpm_bizkey_make("house=12 street=hang bac", NULL, "hoan-kiem", &k), 0);
    assert_string_not_equal(k.key, ADDR_12_HANG_BAC);
}

static void test_hash(void **state)
{
    (void)state;
    char h[CPM_BIZKEY_HEX];
    cpm_bizkey_hash("hoan-kiem", "pho ngon co", h);
    assert_string_equal(h, OLD_PHO_NGON_CO);
    assert_int_equal(strlen(h), 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_key_unchanged),
        cmocka_unit_test(test_address_key),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
