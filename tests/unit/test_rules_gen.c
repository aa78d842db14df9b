/* Tests for the jurisdiction generations of the rules file (cpm_rules_gen.c)
 * and routing by (generation, unit): the 30 districts of 2024 and the 126
 * units of 2025 from deploy/hanoi/reform-2025, unit -> agency by prefix and
 * overrides (several units, one node), overlapping generations and unknown
 * agencies refused with line numbers, malformed entries named. */
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

static const char HEAD[] =
    "version: 3\n"
    "effective_from: \"2024-01-01\"\n"
    "triage: hn.doit\n"
    "deadlines: {accept_working_days: 10, resolve_working_days: 30}\n"
    "categories:\n"
    "  - {slug: food_safety}\n"
    "  - {slug: pricing}\n"
    "rules:\n"
    "  - {id: R01, category: food_safety, agency: \"@area\"}\n"
    "  - {id: R02, category: pricing, areas: [nam-tu-liem], agency: hn.qltt}\n"
    "places_dir: %s/deploy/hanoi/reform-2025\n"
    "agencies: [hn.qltt]\n"
    "generations:\n";

/* line 14 on: the generations */
static const char GENS[] = "  - id: \"2024\"\n"
                           "    valid_from: \"2008-08-01\"\n"
                           "    valid_to: \"2025-06-30\"\n"
                           "    units: districts\n"
                           "    agency_prefix: \"hn.d.\"\n"
                           "  - id: \"2025\"\n"
                           "    valid_from: \"2025-07-01\"\n"
                           "    units: communes\n"
                           "    agency_prefix: \"hn.w.\"\n"
                           "    agencies: {phu-thuong: hn.w.tay-ho}\n";

/* Load HEAD + gens from a temporary file; 0 or the code, err filled. */
static int load(const char *gens, cpm_rules_t **out, cpm_error_t *err)
{
    const char *src = getenv("CPM_SOURCE_DIR");
    if (!src)
        fail_msg("CPM_SOURCE_DIR is not set (run under ctest)");
    char path[] = "/tmp/cpm-rules-gen-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, HEAD, src);
    fputs(gens, f);
    fclose(f);
    int rc = cpm_rules_load(path, out, err);
    unlink(path);
    return rc;
}

static void route_at(const cpm_rules_t *r, const char *gen, int64_t at, const char *cat,
                     const char *area, cpm_route_t *out)
{
    cpm_route_query_t q = {gen, at, cat, area, false, NULL, 0};
    cpm_rules_route_q(r, NULL, &q, out);
}

#define MS_2025_03_01 1740787200000LL /* 2025-03-01T00:00Z */
#define MS_2025_08_01 1754006400000LL /* 2025-08-01T00:00Z */

static void test_generations_route(void **state)
{
    (void)state;
    cpm_rules_t *r = NULL;
    cpm_error_t err = {0};
    if (load(GENS, &r, &err) != 0)
        fail_msg("load: %s", err.message);
    assert_string_equal(cpm_rules_generation_at(r, MS_2025_03_01), "2024");
    assert_string_equal(cpm_rules_generation_at(r, MS_2025_08_01), "2025");
    /* the generation boundary is a Vietnam date: 2025-06-30T17:00Z is 1 July in Hanoi */
    assert_string_equal(cpm_rules_generation_at(r, 1751302800000LL), "2025");
    assert_string_equal(cpm_rules_generation_at(r, 1751302800000LL - 1), "2024");
    /* every unit is an area intake accepts, of either generation */
    assert_true(cpm_rules_has_area(r, "nam-tu-liem")); /* 2024 only */
    assert_true(cpm_rules_has_area(r, "phu-thuong"));  /* 2025 only */

    cpm_route_t d;
    route_at(r, NULL, MS_2025_03_01, "food_safety", "dong-anh", &d);
    assert_string_equal(d.agency, "hn.d.dong-anh");
    assert_string_equal(d.generation, "2024");
    assert_string_equal(d.rule_id, "R01");
    route_at(r, NULL, MS_2025_08_01, "food_safety", "tay-ho", &d);
    assert_string_equal(d.agency, "hn.w.tay-ho");
    assert_string_equal(d.generation, "2025");
    /* an override: two units, one node */
    route_at(r, NULL, MS_2025_08_01, "food_safety", "phu-thuong", &d);
    assert_string_equal(d.agency, "hn.w.tay-ho");
    /* a unit of the other generation: triage, saying why */
    route_at(r, NULL, MS_2025_08_01, "food_safety", "nam-tu-liem", &d);
    assert_string_equal(d.agency, "hn.doit");
    assert_string_equal(d.rule_id, "triage");
    assert_non_null(strstr(d.reason, "not a unit of generation 2025"));
    /* the generation named by the placement wins over the date */
    route_at(r, "2024", MS_2025_08_01, "food_safety", "nam-tu-liem", &d);
    assert_string_equal(d.agency, "hn.d.nam-tu-liem");
    route_at(r, "1999", MS_2025_08_01, "food_safety", "tay-ho", &d);
    assert_string_equal(d.rule_id, "triage");
    assert_non_null(strstr(d.reason, "generation 1999 is not configured"));
    /* rules' areas lists match units */
    route_at(r, NULL, MS_2025_03_01, "pricing", "nam-tu-liem", &d);
    assert_string_equal(d.agency, "hn.qltt");
    /* no generation in force before the first */
    route_at(r, NULL, 1000, "food_safety", "tay-ho", &d);
    assert_string_equal(d.rule_id, "triage");
    char buf[128];
    assert_string_equal(cpm_rules_unit_agency(r, "2025", "phu-thuong", buf, sizeof buf),
                        "hn.w.tay-ho");
    assert_null(cpm_rules_unit_agency(r, "2025", "nam-tu-liem", buf, sizeof buf));
    cpm_rules_destroy(&r);
}

static void refused(const char *gens, const char *want1, const char *want2)
{
    cpm_rules_t *r = NULL;
    cpm_error_t err = {0};
    assert_int_equal(load(gens, &r, &err), CPM_E_INVALID);
    assert_null(r);
    if (!strstr(err.message, want1) || (want2 && !strstr(err.message, want2)))
        fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", err.message, want1, want2 ? want2 : "");
}

static void test_overlap_refused(void **state)
{
    (void)state;
    static const char over[] = "  - id: \"2024\"\n"
                               "    valid_from: \"2008-08-01\"\n"
                               "    valid_to: \"2025-07-01\"\n"
                               "    units: districts\n"
                               "  - id: \"2025\"\n"
                               "    valid_from: \"2025-07-01\"\n"
                               "    units: communes\n";
    /* both lines named: generation 2025 at line 19, 2024 at line 14 */
    refused(over, "line 18: generation 2025 overlaps generation 2024 of line 14", NULL);
    static const char open_first[] = "  - id: \"2025\"\n"
                                     "    valid_from: \"2025-07-01\"\n"
                                     "    units: communes\n"
                                     "  - id: \"2024\"\n"
                                     "    valid_from: \"2008-08-01\"\n"
                                     "    units: districts\n";
    refused(open_first, "line 14: generation 2025 overlaps generation 2024 of line 17", NULL);
    static const char twice[] = "  - {id: a, valid_from: \"2008-08-01\", valid_to: \"2009-01-01\", "
                                "units: districts}\n"
                                "  - {id: a, valid_from: \"2010-08-01\", units: districts}\n";
    refused(twice, "id a is declared twice", NULL);
}

static void test_unknown_agency_refused(void **state)
{
    (void)state;
    static const char unknown[] = "  - id: \"2025\"\n"
                                  "    valid_from: \"2025-07-01\"\n"
                                  "    units: communes\n"
                                  "    agency_prefix: \"hn.w.\"\n"
                                  "    agencies: {phu-thuong: hn.nobody}\n";
    refused(unknown, ":18: generation 2025: agencies.phu-thuong: agency \"hn.nobody\" is unknown",
            NULL);
    /* a listed department, and the triage agency, are known */
    static const char listed[] = "  - {id: \"2024\", valid_from: \"2008-08-01\", valid_to: "
                                 "\"2025-06-30\", units: districts}\n"
                                 "  - id: \"2025\"\n"
                                 "    valid_from: \"2025-07-01\"\n"
                                 "    units: communes\n"
                                 "    agency_prefix: \"hn.w.\"\n"
                                 "    agencies: {phu-thuong: hn.qltt, tay-ho: hn.doit}\n";
    cpm_rules_t *r = NULL;
    cpm_error_t err = {0};
    if (load(listed, &r, &err) != 0)
        fail_msg("listed: %s", err.message);
    cpm_rules_destroy(&r);
    static const char not_unit[] = "  - id: \"2025\"\n"
                                   "    valid_from: \"2025-07-01\"\n"
                                   "    units: communes\n"
                                   "    agencies: {nam-tu-liem: hn.doit}\n";
    refused(not_unit, ":17: generation 2025: agencies: \"nam-tu-liem\" is not a unit", NULL);
}

static void test_malformed(void **state)
{
    (void)state;
    refused("  - id: \"2025\"\n    valid_from: \"2025-13-01\"\n    units: communes\n",
            ":15: generation 2025: valid_from must be a date", NULL);
    refused("  - id: \"2025\"\n    valid_from: \"2025-07-01\"\n    units: wards\n",
            ":16: generation 2025: units \"wards\" is not communes, districts or areas", NULL);
    refused("  - id: \"2025\"\n    valid_from: \"2025-07-01\"\n    unit: communes\n",
            ":16: generations: unknown key \"unit\"", NULL);
    refused("  - id: \"2025\"\n    valid_from: \"2025-07-01\"\n    valid_to: \"2025-01-01\"\n"
            "    units: communes\n",
            ":16: generation 2025: valid_to is before valid_from", NULL);
    refused("  - valid_from: \"2025-07-01\"\n    units: communes\n",
            ":14: generations: id is required", NULL);
    refused("  []\n", "generations", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generations_route),
        cmocka_unit_test(test_overlap_refused),
        cmocka_unit_test(test_unknown_agency_refused),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
