/* cpm_rules deadlines per generation: a generation's own deadlines: and
 * categories: over the categories' and the global ones, in the order
 * generation+category > generation default > category > global default; and
 * the load errors, each naming the line, the generation and the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cpm_rules_t *load_text(const char *text, char *err, size_t n)
{
    char dir[64], path[128];
    snprintf(dir, sizeof dir, "/tmp/cpm_rgd_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/routing.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    cpm_rules_t *r = NULL;
    cpm_error_t e = {0};
    err[0] = 0;
    if (cpm_rules_load(path, &r, &e) != 0)
        snprintf(err, n, "%s", e.message);
    unlink(path);
    rmdir(dir);
    return r;
}

/* Lines 1-10; the generations follow from line 11. */
#define HEAD                                                                                       \
    "version: 1\n"                                                                                 \
    "effective_from: \"2026-01-01\"\n"                                                             \
    "triage: t\n"                                                                                  \
    "areas: [{slug: north}]\n"                                                                     \
    "rules: [{id: A, category: \"*\", agency: a}]\n"                                               \
    "deadlines: {accept_working_days: 10, resolve_working_days: 30}\n"                             \
    "categories:\n"                                                                                \
    "  - {slug: food}\n"                                                                           \
    "  - {slug: estate, accept_days: 12, resolve_days: 45}\n"                                      \
    "  - {slug: misc}\n"
#define OLD_GEN                                                                                    \
    "generations:\n"                                                                               \
    "  - id: \"old\"\n"                                                                            \
    "    valid_from: \"2020-01-01\"\n"                                                             \
    "    valid_to: \"2025-06-30\"\n"                                                               \
    "    units: areas\n"

static void test_precedence(void **state)
{
    (void)state;
    char err[512];
    cpm_rules_t *r = load_text(HEAD OLD_GEN "  - id: \"new\"\n"
                                            "    valid_from: \"2025-07-01\"\n"
                                            "    units: areas\n"
                                            "    deadlines: {resolve_working_days: 40}\n"
                                            "    categories:\n"
                                            "      food: {accept_days: 3, resolve_days: 20}\n"
                                            "      misc: {accept_days: 7}\n",
                               err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    /* generation + category */
    assert_int_equal(cpm_rules_accept_days_for(r, "food", "new"), 3);
    assert_int_equal(cpm_rules_resolve_days_for(r, "food", "new"), 20);
    assert_int_equal(cpm_rules_accept_days_for(r, "misc", "new"), 7);
    /* generation default over the category's own (estate: 45) */
    assert_int_equal(cpm_rules_resolve_days_for(r, "estate", "new"), 40);
    assert_int_equal(cpm_rules_resolve_days_for(r, "misc", "new"), 40);
    /* the generation sets no accept default: the category's, then global */
    assert_int_equal(cpm_rules_accept_days_for(r, "estate", "new"), 12);
    assert_int_equal(cpm_rules_accept_days_for(r, NULL, "new"), 10);
    /* the old generation sets nothing: category, then global */
    assert_int_equal(cpm_rules_resolve_days_for(r, "estate", "old"), 45);
    assert_int_equal(cpm_rules_accept_days_for(r, "food", "old"), 10);
    assert_int_equal(cpm_rules_resolve_days_for(r, "food", "old"), 30);
    /* NULL and "": the generation in force now (the clock is past 2025-07-01) */
    assert_int_equal(cpm_rules_resolve_days_for(r, "food", NULL), 20);
    assert_int_equal(cpm_rules_resolve_days_for(r, "food", ""), 20);
    /* an undeclared generation or category skips its steps */
    assert_int_equal(cpm_rules_resolve_days_for(r, "food", "1999"), 30);
    assert_int_equal(cpm_rules_resolve_days_for(r, "estate", "1999"), 45);
    assert_int_equal(cpm_rules_resolve_days_for(r, "no-such", "new"), 40);
    assert_int_equal(cpm_rules_accept_days_for(r, "no-such", "new"), 10);
    cpm_rules_destroy(&r);
}

/* One bad "new" generation tail; the error must hold want. */
static void refused(const char *tail, const char *want)
{
    char text[2048], err[512];
    snprintf(text, sizeof text,
             "%s%s  - id: \"new\"\n"
             "    valid_from: \"2025-07-01\"\n"
             "    units: areas\n"
             "%s",
             HEAD, OLD_GEN, tail);
    cpm_rules_t *r = load_text(text, err, sizeof err);
    if (r) {
        cpm_rules_destroy(&r);
        fail_msg("loaded, expected: %s", want);
    }
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not hold \"%s\"", err, want);
}

static void test_errors(void **state)
{
    (void)state;
    /* lines: 16 id, 17 valid_from, 18 units, 19 the tail's first */
    refused("    categories:\n      fish: {accept_days: 3}\n",
            ":20: generation new: categories: \"fish\" is not a declared category");
    refused("    categories:\n      food: {accept_days: 0}\n",
            ":20: generation new: categories.food.accept_days must be a whole number from 1 to "
            "365");
    refused("    categories:\n      food: {resolve_days: -4}\n",
            ":20: generation new: categories.food.resolve_days must be a whole number from 1");
    refused("    categories:\n      food: {resolve_days: soon}\n",
            "categories.food.resolve_days must be a whole number");
    refused("    deadlines: {accept_working_days: 0}\n",
            ":19: generation new: deadlines.accept_working_days must be a whole number from 1");
    refused("    deadlines: {resolve_working_days: 366}\n",
            ":19: generation new: deadlines.resolve_working_days must be a whole number from 1 to "
            "365");
    refused("    deadlines: {accept_days: 3}\n",
            ":19: generation new: deadlines: unknown key \"accept_days\"");
    refused("    deadlines: 10\n", ":19: generation new: deadlines must be a mapping");
    refused("    categories:\n      food: {accept_working_days: 3}\n",
            ":20: generation new: categories.food: unknown key \"accept_working_days\"");
    refused("    categories:\n      food: {}\n",
            ":20: generation new: categories.food needs accept_days or resolve_days");
    refused("    categories: [food]\n",
            ":19: generation new: categories must map category slugs to");
    refused("    categories:\n      food: {accept_days: 3}\n      food: {resolve_days: 3}\n",
            ":21: generation new: categories: food is listed twice");
    refused("    deadline: {accept_working_days: 3}\n",
            ":19: generations: unknown key \"deadline\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
