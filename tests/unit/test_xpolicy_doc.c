/* cpm_xpolicy_doc: YAML checked field by field, signed by the agency, opened
 * only with that agency's key and for that agency; one changed byte refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_xpolicy_doc.h"

static char *write_yaml(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/cpm-xpolicy-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static const char GOOD[] = "agency: hn.qltt\n"
                           "version: 4\n"
                           "rules:\n"
                           "  - dataset: violations\n"
                           "    agencies: [\"*\"]\n"
                           "    fields: [business, fine_vnd]\n"
                           "    subscribe: true\n"
                           "  - dataset: product_warnings\n"
                           "    agencies: [hn.doit]\n"
                           "    fields: [reporter_phone]\n"
                           "    purpose: recall\n";

static void test_yaml_errors(void **state)
{
    (void)state;
    Cpm__ExchangePolicy *p = NULL;
    cpm_error_t err = {0};
    char *path = write_yaml("agency: hn.qltt\nversion: 1\nrules:\n  - dataset: product_warnings\n"
                            "    agencies: [hn.doit]\n    fields: [product, reporter_phone]\n");
    assert_int_equal(cpm_xpolicy_from_yaml(path, &p, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "rules[0].fields[1]");
    assert_non_null(strstr(err.message, "purpose"));
    unlink(path);
    path = write_yaml("agency: hn.qltt\nversion: 1\nrules:\n  - dataset: violations\n"
                      "    agencies: [hn.doit]\n    fields: [owner]\n");
    assert_int_equal(cpm_xpolicy_from_yaml(path, &p, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "rules[0].fields[0]");
    unlink(path);
    path = write_yaml("agency: hn.qltt\nversion: 1\nrules:\n  - dataset: violations\n"
                      "    fields: [business]\n");
    assert_int_equal(cpm_xpolicy_from_yaml(path, &p, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "rules[0].agencies");
    unlink(path);
    path = write_yaml("agency: hn.qltt\nversion: 1\nrulez: []\n");
    assert_int_equal(cpm_xpolicy_from_yaml(path, &p, &err), CPM_E_INVALID);
    unlink(path);
}

static void test_sign_and_open(void **state)
{
    (void)state;
    cpm_registry_t *reg = dom_registry();
    Cpm__ExchangePolicy *p = NULL, *back = NULL;
    cpm_error_t err = {0};
    char *path = write_yaml(GOOD);
    assert_int_equal(cpm_xpolicy_from_yaml(path, &p, &err), 0);
    unlink(path);
    assert_int_equal(p->n_rules, 2);
    assert_true(p->rules[0]->subscribe);
    cpm_identity_t qltt, doit;
    dom_identity("hn.qltt", &qltt);
    dom_identity("hn.doit", &doit);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(cpm_xpolicy_sign(p, qltt.sign_sk, &buf, &len), 0);
    assert_int_equal(cpm_xpolicy_open(buf, len, reg, "hn.qltt", &back, &err), 0);
    assert_int_equal(back->version, 4);
    cpm__exchange_policy__free_unpacked(back, NULL);
    /* another agency's key does not open it as hn.qltt's; nor as its own */
    assert_int_equal(cpm_xpolicy_open(buf, len, reg, "hn.doit", &back, &err), CPM_E_FORBIDDEN);
    /* one changed byte anywhere is refused */
    for (size_t i = 0; i < len; i += 7) {
        buf[i] ^= 0x20;
        int rc = cpm_xpolicy_open(buf, len, reg, "hn.qltt", &back, &err);
        assert_int_not_equal(rc, 0);
        buf[i] ^= 0x20;
    }
    free(buf);
    /* signed by another agency's key: refused */
    assert_int_equal(cpm_xpolicy_sign(p, doit.sign_sk, &buf, &len), 0);
    assert_int_equal(cpm_xpolicy_open(buf, len, reg, "hn.qltt", &back, &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "signature");
    free(buf);
    cpm_identity_wipe(&qltt);
    cpm_identity_wipe(&doit);
    cpm__exchange_policy__free_unpacked(p, NULL);
    cpm_registry_destroy(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_sign_and_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
