/* cpm_bizname: folding, forms, whole-word matching. */
#include "cpm_bizname.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_normal_forms(void **state)
{
    (void)state;
    char out[CPM_BIZNAME_MAX], forms[CPM_BIZNAME_MAX];
    assert_true(cpm_bizname_normal("Công ty TNHH Phở Cồ", out, sizeof out, forms, sizeof forms));
    assert_string_equal(out, "pho co");
    assert_string_equal(forms, "cong ty tnhh");
    assert_true(cpm_bizname_normal("CÔNG TY CỔ PHẦN  Điện máy X.Y", out, sizeof out, NULL, 0));
    assert_string_equal(out, "dien may x y");
    assert_true(cpm_bizname_normal("Cửa hàng Minh Đức", out, sizeof out, NULL, 0));
    assert_string_equal(out, "minh duc");
    assert_true(cpm_bizname_normal("Shop Hoa Mai", out, sizeof out, NULL, 0));
    assert_string_equal(out, "hoa mai");
    assert_true(cpm_bizname_normal("Shop", out, sizeof out, forms, sizeof forms));
    assert_string_equal(out, "shop"); /* forms only: the forms are the name */
    assert_false(cpm_bizname_normal("", out, sizeof out, NULL, 0));
    assert_false(cpm_bizname_normal("!!!", out, sizeof out, NULL, 0));
    /* "cp" inside a word is not the form "cp". */
    assert_true(cpm_bizname_normal("CPU World", out, sizeof out, NULL, 0));
    assert_string_equal(out, "cpu world");
}

static void test_match(void **state)
{
    (void)state;
    char why[512];
    assert_true(cpm_bizname_match("pho co", "Công ty TNHH Phở Cồ Hà Nội", why, sizeof why));
    assert_non_null(strstr(why, "forms left out: cong ty tnhh"));
    assert_true(cpm_bizname_match("CTCP Phở Cồ", "Cty Pho Co", NULL, 0));
    assert_true(cpm_bizname_match("Cửa hàng Minh Đức", "minh duc", NULL, 0));
    /* whole words only: "pho" is not "phong" */
    assert_false(cpm_bizname_match("pho", "Phong Vu", NULL, 0));
    assert_false(cpm_bizname_match("pho co ha", "Pho Co", NULL, 0));
    assert_false(cpm_bizname_match("", "Pho Co", NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_forms),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
