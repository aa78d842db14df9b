/* test_config: service configuration files, good and bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "cpm_config.h"
#include "cpm_delivery.h"
#include "cpm_util.h"

static char fixtures[PATH_MAX]; /* real path of tests/unit/fixtures/config */
static char tmpdir[256];

static int group_setup(void **state)
{
    const char *src = getenv("CPM_SOURCE_DIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/tests/unit/fixtures/config", src ? src : ".");
    if (!realpath(dir, fixtures))
        return -1;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cpm_test_config.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int group_teardown(void **state)
{
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The loader through its error struct, with the sentence copied to err: the
 * tests below check the sentences, which stayed as they were. */
static cpm_config_t *load_msg(const char *path, char *err, size_t errlen)
{
    cpm_config_t *c = NULL;
    cpm_error_t e = {0};
    int rc = cpm_config_load(path, &c, &e);
    assert_int_equal(rc == 0, c != NULL);
    if (rc != 0) {
        assert_true(rc == CPM_E_INVALID || rc == CPM_E_NOT_FOUND || rc == CPM_E_INTERNAL);
        assert_int_equal(e.code, rc);
        snprintf(err, errlen, "%s", e.message);
    }
    return c;
}

static int check_msg(const cpm_config_t *c, const char *service, const char *const *requires,
                     char *err, size_t errlen)
{
    cpm_error_t e = {0};
    int rc = cpm_config_check_service(c, service, requires, &e);
    if (rc != 0)
        snprintf(err, errlen, "%s", e.message);
    return rc;
}

static cpm_config_t *load_fixture(const char *name, char *err, size_t errlen)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", fixtures, name);
    return load_msg(path, err, errlen);
}

static void assert_has(const char *err, const char *part)
{
    if (!strstr(err, part))
        fail_msg("error \"%s\" does not contain \"%s\"", err, part);
}

static void expect_error(const char *name, const char *part1, const char *part2)
{
    char err[512] = "";
    cpm_config_t *c = load_fixture(name, err, sizeof err);
    if (c)
        fail_msg("%s was accepted; expected \"%s\"", name, part2);
    assert_has(err, part1);
    assert_has(err, part2);
}

/* Service names are data: the loader takes any; the program checks the
 * config is for its own service and has the fields that service needs. */
static void expect_refused_by_service(const char *name, const char *service, const char *part1,
                                      const char *part2)
{
    static const char *const needs[] = {"rules", NULL};
    char err[512] = "";
    cpm_config_t *c = load_fixture(name, err, sizeof err);
    if (!c)
        fail_msg("%s was refused by the loader: %s", name, err);
    if (check_msg(c, service, needs, err, sizeof err) == 0)
        fail_msg("%s was accepted for %s; expected \"%s\"", name, service, part2);
    cpm_config_destroy(&c);
    assert_has(err, part1);
    assert_has(err, part2);
}

static void test_good(void **state)
{
    char err[512] = "";
    cpm_config_t *c = load_fixture("good.yaml", err, sizeof err);
    if (!c)
        fail_msg("good.yaml: %s", err);
    assert_string_equal(c->node, "hn.d.hoan-kiem");
    assert_string_equal(c->service, "intake");
    assert_string_equal(c->data_dir, "/var/lib/cpmesh/hn.d.hoan-kiem/intake");
    assert_string_equal(c->registry, "/etc/cpmesh/registry.signed");
    assert_string_equal(c->root_public, "/etc/cpmesh/root.public");
    assert_string_equal(c->identity, "/etc/cpmesh/keys/hn.d.hoan-kiem.secret");
    assert_string_equal(c->rules, "/etc/cpmesh/routing.yaml");
    assert_string_equal(c->bind, "tcp://0.0.0.0:7100");
    assert_string_equal(c->pub_bind, "tcp://0.0.0.0:7101");
    assert_int_equal(c->max_skew_s, 120);
    assert_int_equal(c->map_size_mb, 64);
    assert_int_equal(c->batch_max, 100);
    cpm_config_destroy(&c);
    assert_null(c);
    cpm_config_destroy(&c); /* safe twice */
}

static void test_inspection_defaults(void **state)
{
    char err[512] = "";
    cpm_config_t *c = load_fixture("inspection.yaml", err, sizeof err);
    if (!c)
        fail_msg("inspection.yaml: %s", err);
    assert_string_equal(c->service, "inspection");
    assert_null(c->rules);
    assert_null(c->bind);
    assert_null(c->pub_bind);
    assert_int_equal(c->max_skew_s, 300);
    assert_int_equal(c->map_size_mb, 1024);
    assert_int_equal(c->batch_max, CPM_DELIVERY_BATCH_DEFAULT);
    assert_int_equal(c->batch_max, 1000);
    assert_int_equal(c->cosign_wait_ms, 3000); /* the exchange's default */
    cpm_config_destroy(&c);
}

/* A config with key: val (no line when val is ""), loaded: each value of
 * vals gives want through get, or (want -1) is refused with refusal. */
static void check_values(const char *key, const char *const *vals, const int *want, int n,
                         const char *refusal, uint32_t (*get)(const cpm_config_t *))
{
    for (int i = 0; i < n; i++) {
        char path[300], err[512] = "";
        snprintf(path, sizeof path, "%s/%s-%d.yaml", tmpdir, key, i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f,
                "node: hn.doit\nservice: intake\ndata_dir: /tmp/x\nregistry: /tmp/r\n"
                "root_public: /tmp/p\nidentity: /tmp/i\n%s%s%s\n",
                *vals[i] ? key : "", *vals[i] ? ": " : "", vals[i]);
        fclose(f);
        cpm_config_t *c = load_msg(path, err, sizeof err);
        if (want[i] >= 0) {
            if (!c)
                fail_msg("%s %s: %s", key, vals[i], err);
            assert_int_equal(get(c), want[i]);
            cpm_config_destroy(&c);
        } else {
            assert_null(c);
            assert_has(err, refusal);
        }
    }
}

static uint32_t linger(const cpm_config_t *c)
{
    return c->delivery_linger_ms;
}

static uint32_t envelope_version(const cpm_config_t *c)
{
    return c->envelope_version;
}

/* delivery_linger_ms: default 50, 0 allowed (off), above 100 refused naming
 * the field. */
static void test_delivery_linger(void **state)
{
    (void)state;
    static const char *const vals[] = {"", "0", "100", "101"};
    static const int want[] = {50, 0, 100, -1};
    check_values("delivery_linger_ms", vals, want, 4,
                 "delivery_linger_ms must be 0 to 100, not 101", linger);
}

static uint32_t spin(const cpm_config_t *c)
{
    return c->loop_spin_us;
}

/* loop_spin_us: default 0 (the loop sleeps at once), up to 1000, above
 * refused naming the field. */
static void test_loop_spin(void **state)
{
    (void)state;
    static const char *const vals[] = {"", "0", "200", "1000", "1001"};
    static const int want[] = {0, 0, 200, 1000, -1};
    check_values("loop_spin_us", vals, want, 5,
                 "loop_spin_us must be 0 to 1000 (microseconds), not 1001", spin);
}

/* envelope_version: 3 by default, 2 for an upgrade, anything else refused
 * naming the field. */
static void test_envelope_version(void **state)
{
    (void)state;
    static const char *const vals[] = {"", "2", "3", "1"};
    static const int want[] = {3, 2, 3, -1};
    check_values("envelope_version", vals, want, 4, "envelope_version must be 2 or 3, not 1",
                 envelope_version);
    static const char *const four[] = {"4"};
    check_values("envelope_version", four, (const int[]){-1}, 1,
                 "envelope_version must be 2 or 3, not 4", envelope_version);
}

static uint32_t beside(const cpm_config_t *c)
{
    return c->flush_beside_next;
}

/* flush_beside_next: on by default, 0 turns it off, anything else refused
 * naming the field. */
static void test_flush_beside_next(void **state)
{
    (void)state;
    static const char *const vals[] = {"", "0", "1", "2"};
    static const int want[] = {1, 0, 1, -1};
    check_values("flush_beside_next", vals, want, 4, "flush_beside_next must be 0 or 1, not 2",
                 beside);
}

/* cosign_wait_ms (exchange): set, and 0 refused naming the field. */
static void test_cosign_wait(void **state)
{
    static const char *const vals[] = {"1500", "0"};
    for (int i = 0; i < 2; i++) {
        char path[300], err[512] = "";
        snprintf(path, sizeof path, "%s/cosign-%d.yaml", tmpdir, i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f,
                "node: hn.doit\nservice: exchange\ndata_dir: /tmp/x\nregistry: /tmp/r\n"
                "root_public: /tmp/p\nidentity: /tmp/i\ncosign_wait_ms: %s\n",
                vals[i]);
        fclose(f);
        cpm_config_t *c = load_msg(path, err, sizeof err);
        if (i == 0) {
            if (!c)
                fail_msg("cosign_wait_ms 1500: %s", err);
            assert_int_equal(c->cosign_wait_ms, 1500);
            cpm_config_destroy(&c);
        } else {
            assert_null(c);
            assert_has(err, "cosign_wait_ms");
        }
    }
}

static void test_relative_paths(void **state)
{
    char err[512] = "", want[PATH_MAX + 64];
    cpm_config_t *c = load_fixture("relative.yaml", err, sizeof err);
    if (!c)
        fail_msg("relative.yaml: %s", err);
    snprintf(want, sizeof want, "%s/data/hn.doit/routing", fixtures);
    assert_string_equal(c->data_dir, want);
    snprintf(want, sizeof want, "%s/registry.signed", fixtures);
    assert_string_equal(c->registry, want);
    snprintf(want, sizeof want, "%s/../keys/root.public", fixtures);
    assert_string_equal(c->root_public, want);
    snprintf(want, sizeof want, "%s/keys/hn.doit.secret", fixtures);
    assert_string_equal(c->identity, want);
    snprintf(want, sizeof want, "%s/routing.yaml", fixtures);
    assert_string_equal(c->rules, want);
    cpm_config_destroy(&c);

    /* the same file reached through a relative path still resolves against
     * its own folder, not the working directory */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(fixtures), 0);
    c = load_msg("relative.yaml", err, sizeof err);
    assert_int_equal(chdir(cwd), 0);
    assert_non_null(c);
    snprintf(want, sizeof want, "%s/routing.yaml", fixtures);
    assert_string_equal(c->rules, want);
    cpm_config_destroy(&c);
}

/* good.yaml with one required line removed must name that field. */
static void test_each_missing_field(void **state)
{
    static const char *const required[] = {"node",        "service",  "data_dir", "registry",
                                           "root_public", "identity", "rules"};
    char src[PATH_MAX + 64];
    uint8_t *buf = NULL;
    size_t len = 0;
    snprintf(src, sizeof src, "%s/good.yaml", fixtures);
    assert_int_equal(cpm_read_file(src, 1 << 16, &buf, &len), 0);
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        char out[8192] = "", path[512], err[512] = "", prefix[64];
        snprintf(prefix, sizeof prefix, "%s:", required[i]);
        for (char *line = strtok((char *)buf, "\n"); line; line = strtok(NULL, "\n")) {
            if (strncmp(line, prefix, strlen(prefix)) == 0)
                continue;
            strcat(out, line);
            strcat(out, "\n");
        }
        free(buf);
        assert_int_equal(cpm_read_file(src, 1 << 16, &buf, &len), 0); /* strtok ate it */
        snprintf(path, sizeof path, "%s/missing_%s.yaml", tmpdir, required[i]);
        assert_int_equal(cpm_write_file(path, out, strlen(out), 0644), 0);
        cpm_config_t *c = load_msg(path, err, sizeof err);
        /* rules is required by the services that say so (intake, routing) */
        static const char *const needs[] = {"rules", NULL};
        bool late = c != NULL;
        if (c && check_msg(c, "intake", needs, err, sizeof err) == 0)
            fail_msg("config without %s was accepted", required[i]);
        cpm_config_destroy(&c);
        char want[96];
        snprintf(want, sizeof want, "missing required field %s", required[i]);
        assert_has(err, want);
        if (!late)
            assert_has(err, path);
    }
    free(buf);
}

static void test_empty_value_is_missing(void **state)
{
    char path[512], err[512] = "";
    const char *text = "node: ''\nservice: inspection\ndata_dir: d\nregistry: r\n"
                       "root_public: p\nidentity: i\n";
    snprintf(path, sizeof path, "%s/empty_node.yaml", tmpdir);
    assert_int_equal(cpm_write_file(path, text, strlen(text), 0644), 0);
    assert_null(load_msg(path, err, sizeof err));
    assert_has(err, "missing required field node");
}

static void test_bad_files(void **state)
{
    expect_error("unknown_field.yaml", "near line ", "unknown field colour");
    expect_refused_by_service("bad_service.yaml", "inspection", "service is 'billing'",
                              "runs service inspection");
    expect_refused_by_service("intake_without_rules.yaml", "intake", "missing required field rules",
                              "intake");
    expect_error("zero_batch.yaml", "batch_max", "must be greater than 0");
    expect_error("big_batch.yaml", "batch_max", "must be 1 to 1000 records, not 1001");
    expect_error("bad_number.yaml", "near line 7", "(in 'max_skew_s')");
    expect_error("bad_type.yaml", "SEQUENCE", "(in 'rules')");
    expect_error("empty.yaml", "empty.yaml", "missing required field node");
    expect_error("no_such.yaml", "no_such.yaml", "cannot read");

    char err[64] = "";
    assert_null(load_msg(NULL, err, sizeof err));
    assert_has(err, "no path");
}

/* The code and the field come with the sentence. */
static void test_error_code_and_field(void **state)
{
    char path[PATH_MAX + 64];
    cpm_config_t *c = NULL;
    cpm_error_t e = {0};
    snprintf(path, sizeof path, "%s/zero_batch.yaml", fixtures);
    assert_int_equal(cpm_config_load(path, &c, &e), CPM_E_INVALID);
    assert_null(c);
    assert_string_equal(e.field, "batch_max");
    snprintf(path, sizeof path, "%s/no_such.yaml", fixtures);
    assert_int_equal(cpm_config_load(path, &c, &e), CPM_E_NOT_FOUND);
    assert_string_equal(e.field, "path");
    snprintf(path, sizeof path, "%s/bad_service.yaml", fixtures);
    assert_int_equal(cpm_config_load(path, &c, &e), 0);
    assert_int_equal(cpm_config_check_service(c, "inspection", NULL, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "service");
    cpm_config_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_inspection_defaults),
        cmocka_unit_test(test_cosign_wait),
        cmocka_unit_test(test_delivery_linger),
        cmocka_unit_test(test_loop_spin),
        cmocka_unit_test(test_envelope_version),
        cmocka_unit_test(test_flush_beside_next),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_each_missing_field),
        cmocka_unit_test(test_empty_value_is_missing),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_error_code_and_field),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
