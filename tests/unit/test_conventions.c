/* The error convention: verdicts map to codes in one place (cpm_verdict_code)
 * and the key loaders return the library's codes with cpm_error_t filled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_keys.h"
#include "cpm_verifier.h"

#include <string.h>

static void verdict_codes(void **state)
{
    assert_int_equal(cpm_verdict_code(CPM_V_OK), CPM_OK);
    assert_int_equal(cpm_verdict_code(CPM_V_OVERSIZE), CPM_E_TOO_LARGE);
    assert_int_equal(cpm_verdict_code(CPM_V_MALFORMED), CPM_E_BAD_MESSAGE);
    for (int v = CPM_V_BAD_VERSION; v < CPM_V_COUNT; v++)
        assert_int_equal(cpm_verdict_code((cpm_verdict_t)v), CPM_E_FORBIDDEN);
}

static void key_load_codes(void **state)
{
    cpm_identity_t id;
    cpm_public_t pub;
    cpm_error_t e = {0};
    assert_int_equal(cpm_identity_load(&id, "/nonexistent/x.secret", &e), CPM_E_NOT_FOUND);
    assert_string_equal(e.field, "key");
    assert_non_null(strstr(e.message, "cannot open /nonexistent/x.secret"));
    assert_int_equal(cpm_public_load(&pub, "/nonexistent/x.public", &e), CPM_E_NOT_FOUND);
    assert_int_equal(cpm_public_load(&pub, "/etc", &e), CPM_E_INVALID); /* not a file */
    assert_int_equal(cpm_public_load(&pub, "/etc", NULL), CPM_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(verdict_codes),
                                       cmocka_unit_test(key_load_codes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
