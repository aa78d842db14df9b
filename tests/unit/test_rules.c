/* Tests for cpm_rules: the Hanoi sample configuration, routing with and without
 * a registry, every load error, and working-day arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cpm_registry.h"
#include "cpm_metrics.h"
#include "cpm_rules.h"
#include "cpm_rules_watch.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static cpm_rules_t *load_hanoi(void)
{
    const char *src = getenv("CPM_SOURCE_DIR");
    char path[1024];
    cpm_error_t e;
    assert_non_null(src);
    snprintf(path, sizeof path, "%s/deploy/hanoi/routing.yaml", src);
    cpm_rules_t *r;
    if (cpm_rules_load(path, &r, &e) != 0)
        fail_msg("cannot load %s: %s", path, e.message);
    cpm_rules_set_service(r, "inspection"); /* as routing and intake do */
    return r;
}

/* End of a day in Vietnam time (23:59:59.999 UTC+7) as Unix ms. */
static int64_t vn_day_end(int y, int m, int d)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    return (int64_t)timegm(&tm) * 1000 + 17LL * 3600 * 1000 - 1;
}

/* A moment given in Vietnam local time, as Unix ms. */
static int64_t vn_time(int y, int m, int d, int hh, int mm)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = hh, .tm_min = mm};
    return ((int64_t)timegm(&tm) - 7 * 3600) * 1000;
}

static void test_hanoi_loads(void **state)
{
    (void)state;
    cpm_rules_t *r = load_hanoi();
    assert_int_equal(cpm_rules_version(r), 1);
    assert_string_equal(cpm_rules_triage(r), "hn.doit");
    assert_int_equal(cpm_rules_accept_days(r), 10);
    assert_int_equal(cpm_rules_resolve_days(r), 30);
    const char *areas[] = {"ba-dinh", "hoan-kiem", "tay-ho", "ba-vi", "my-duc", "son-tay"};
    for (size_t i = 0; i < sizeof areas / sizeof *areas; i++)
        assert_true(cpm_rules_has_area(r, areas[i]));
    assert_false(cpm_rules_has_area(r, "saigon"));
    assert_false(cpm_rules_has_area(r, ""));
    assert_false(cpm_rules_has_area(r, NULL));
    assert_true(cpm_rules_has_category(r, "food_safety"));
    assert_true(cpm_rules_has_category(r, "other"));
    assert_false(cpm_rules_has_category(r, "food"));
    assert_false(cpm_rules_has_category(r, "*"));
    cpm_rules_destroy(&r);
    assert_null(r);
    cpm_rules_destroy(&r); /* safe twice */
}

static void test_hanoi_every_category(void **state)
{
    (void)state;
    static const struct {
        const char *category, *agency, *rule;
    } want[] = {
        {"food_safety", "hn.d.cau-giay", "R02-food"},
        {"counterfeit_goods", "hn.qltt", "R03-counterfeit"},
        {"pricing", "hn.qltt", "R04-pricing"},
        {"ecommerce", "hn.doit", "R05-ecommerce"},
        {"telecom", "hn.doic", "R06-telecom"},
        {"advertising", "hn.doic", "R07-advertising"},
        {"utilities", "hn.doit", "R08-utilities"},
        {"real_estate", "hn.doc", "R09-real-estate"},
        {"health_pharma", "hn.doh", "R10-health"},
        {"transport", "hn.dot", "R11-transport"},
        {"finance_insurance", "hn.doit", "R12-finance"},
        {"education_training", "hn.d.cau-giay", "R13-education"},
        {"tourism_services", "hn.d.cau-giay", "R14-tourism"},
        {"contracts_warranty", "hn.d.cau-giay", "R15-contracts"},
        {"other", "hn.doit", "R16-other"},
    };
    cpm_rules_t *r = load_hanoi();
    cpm_route_t rt;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        assert_true(cpm_rules_has_category(r, want[i].category));
        cpm_rules_route(r, NULL, want[i].category, "cau-giay", false, &rt);
        assert_string_equal(rt.agency, want[i].agency);
        assert_string_equal(rt.rule_id, want[i].rule);
        assert_non_null(strstr(rt.reason, want[i].rule));
    }
    /* urgent food goes to the food safety board, wherever it is */
    cpm_rules_route(r, NULL, "food_safety", "ba-vi", true, &rt);
    assert_string_equal(rt.agency, "hn.attp");
    assert_string_equal(rt.rule_id, "R01-food-urgent");
    /* urgent does not change other categories */
    cpm_rules_route(r, NULL, "pricing", "ba-vi", true, &rt);
    assert_string_equal(rt.agency, "hn.qltt");
    cpm_rules_route(r, NULL, "food_safety", "ba-vi", false, &rt);
    assert_string_equal(rt.agency, "hn.d.ba-vi");
    assert_string_equal(rt.rule_id, "R02-food");
    cpm_rules_destroy(&r);
}

static void test_hanoi_triage(void **state)
{
    (void)state;
    cpm_rules_t *r = load_hanoi();
    cpm_route_t rt;
    cpm_rules_route(r, NULL, "astrology", "hoan-kiem", false, &rt);
    assert_string_equal(rt.agency, "hn.doit");
    assert_string_equal(rt.rule_id, "triage");
    assert_non_null(strstr(rt.reason, "category \"astrology\" is not declared"));
    cpm_rules_route(r, NULL, "", "hoan-kiem", false, &rt);
    assert_string_equal(rt.rule_id, "triage");
    assert_non_null(strstr(rt.reason, "no category given"));
    cpm_rules_route(r, NULL, NULL, NULL, false, &rt);
    assert_string_equal(rt.agency, "hn.doit");
    /* "@area" needs a declared area */
    cpm_rules_route(r, NULL, "tourism_services", "atlantis", false, &rt);
    assert_string_equal(rt.agency, "hn.doit");
    assert_string_equal(rt.rule_id, "triage");
    assert_non_null(
        strstr(rt.reason, "R14-tourism: \"atlantis\" is not a unit of generation 2025"));
    cpm_rules_route(r, NULL, "tourism_services", "", false, &rt);
    assert_non_null(strstr(rt.reason, "R14-tourism: no unit given"));
    /* a fixed agency does not need an area */
    cpm_rules_route(r, NULL, "telecom", "", false, &rt);
    assert_string_equal(rt.agency, "hn.doic");
    cpm_rules_destroy(&r);
}

/* ---- with a registry ---------------------------------------------------- */

static Cpm__Member *member(const char *id, const char *role, const char *area, const char *service)
{
    Cpm__Member *m = calloc(1, sizeof *m);
    cpm__member__init(m);
    m->id = strdup(id);
    m->role = strdup(role);
    m->agency = strdup(id);
    m->name = strdup(id);
    m->area = strdup(area ? area : "");
    m->sign_pk.len = m->curve_pk.len = 32;
    m->sign_pk.data = malloc(32);
    m->curve_pk.data = malloc(32);
    randombytes_buf(m->sign_pk.data, 32);
    randombytes_buf(m->curve_pk.data, 32);
    Cpm__ServiceEndpoint *s = calloc(1, sizeof *s);
    cpm__service_endpoint__init(s);
    s->name = strdup(service);
    s->endpoint = strdup("tcp://127.0.0.1:7001");
    s->pub_endpoint = strdup("tcp://127.0.0.1:7002");
    m->n_services = 1;
    m->services = calloc(1, sizeof *m->services);
    m->services[0] = s;
    return m;
}

static cpm_registry_t *test_registry(void)
{
    uint8_t pk[32], sk[64];
    assert_true(sodium_init() >= 0);
    crypto_sign_keypair(pk, sk);
    Cpm__Registry doc;
    cpm__registry__init(&doc);
    doc.version = 7;
    doc.mesh = "test";
    Cpm__Member *ms[] = {
        member("hn.doit", "city", NULL, "inspection"),
        member("hn.attp", "department", NULL, "inspection"),
        member("hn.qltt", "department", NULL, "intake"), /* no inspection */
        member("hn.d.hoan-kiem", "area", "hoan-kiem", "inspection"),
        member("hn.d.ba-dinh", "area", "ba-dinh", "intake"),   /* no inspection */
        member("office-cg", "area", "cau-giay", "inspection"), /* id not hn.d.<slug> */
    };
    doc.members = ms;
    doc.n_members = sizeof ms / sizeof *ms;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    assert_int_equal(cpm_registry_sign(&doc, sk, &buf, &len), 0);
    cpm_registry_t *reg = cpm_registry_from_signed(buf, len, pk, err, sizeof err);
    if (!reg)
        fail_msg("registry: %s", err);
    free(buf);
    for (size_t i = 0; i < doc.n_members; i++)
        cpm__member__free_unpacked(ms[i], NULL);
    sodium_memzero(sk, sizeof sk);
    return reg;
}

static void test_route_with_registry(void **state)
{
    (void)state;
    cpm_rules_t *r = load_hanoi();
    cpm_registry_t *reg = test_registry();
    cpm_route_t rt;

    cpm_rules_route(r, reg, "education_training", "hoan-kiem", false, &rt);
    assert_string_equal(rt.agency, "hn.d.hoan-kiem");
    assert_string_equal(rt.rule_id, "R13-education");
    /* the registry's area office, whatever its member id */
    cpm_rules_route(r, reg, "food_safety", "cau-giay", false, &rt);
    assert_string_equal(rt.agency, "office-cg");
    assert_string_equal(rt.rule_id, "R02-food");
    cpm_rules_route(r, reg, "food_safety", "cau-giay", true, &rt);
    assert_string_equal(rt.agency, "hn.attp");

    /* no office for the area */
    cpm_rules_route(r, reg, "food_safety", "tay-ho", false, &rt);
    assert_string_equal(rt.agency, "hn.doit");
    assert_string_equal(rt.rule_id, "triage");
    assert_non_null(strstr(rt.reason, "R02-food: no node for unit 2025:tay-ho (hn.d.tay-ho)"));
    /* office without an inspection service */
    cpm_rules_route(r, reg, "contracts_warranty", "ba-dinh", false, &rt);
    assert_string_equal(rt.agency, "hn.doit");
    assert_non_null(strstr(rt.reason, "member hn.d.ba-dinh has no inspection service"));
    /* fixed agency without an inspection service */
    cpm_rules_route(r, reg, "pricing", "ba-dinh", false, &rt);
    assert_string_equal(rt.agency, "hn.doit");
    assert_non_null(strstr(rt.reason, "R04-pricing: member hn.qltt has no inspection service"));
    /* fixed agency not a member */
    cpm_rules_route(r, reg, "health_pharma", "ba-dinh", false, &rt);
    assert_string_equal(rt.agency, "hn.doit");
    assert_string_equal(rt.rule_id, "triage");
    assert_non_null(strstr(rt.reason, "R10-health: agency hn.doh is not in the registry"));
    /* fixed agency that is a member */
    cpm_rules_route(r, reg, "other", "ba-dinh", false, &rt);
    assert_string_equal(rt.agency, "hn.doit");
    assert_string_equal(rt.rule_id, "R16-other");

    cpm_registry_destroy(&reg);
    cpm_rules_destroy(&r);
}

/* ---- small configurations and load errors ------------------------------ */

static const char BASE[] = "version: 3\n"
                           "effective_from: \"2026-01-01\"\n"
                           "triage: t.triage\n"
                           "deadlines: {accept_working_days: 2, resolve_working_days: 5}\n"
                           "holidays: [\"2026-01-01\"]\n"
                           "areas:\n"
                           "  - {slug: north, code: \"01\", name: North}\n"
                           "  - {slug: south}\n"
                           "categories:\n"
                           "  - {slug: food, name_en: Food, name_vi: Thuc pham}\n"
                           "  - {slug: misc}\n"
                           "rules:\n"
                           "  - {id: A1, category: food, areas: [north], agency: a.north}\n"
                           "  - {id: A2, category: food, urgent: true, agency: a.urgent}\n"
                           "  - {id: A3, category: \"*\", agency: \"@area\"}\n";

static char tmpdir[64];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cpm_rules_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* BASE with the first occurrence of from replaced by to, loaded from a file. */
static cpm_rules_t *load_variant(const char *from, const char *to, char *err, size_t errlen)
{
    char text[4096], path[128];
    const char *at = from ? strstr(BASE, from) : NULL;
    if (from && !at)
        fail_msg("test bug: \"%s\" is not in BASE", from);
    if (at)
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - BASE), BASE, to, at + strlen(from));
    else
        snprintf(text, sizeof text, "%s", to ? to : BASE);
    snprintf(path, sizeof path, "%s/routing.yaml", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    err[0] = 0;
    cpm_rules_t *r;
    cpm_error_t e;
    if (cpm_rules_load(path, &r, &e) != 0) {
        assert_int_equal(e.code, CPM_E_INVALID);
        assert_string_equal(e.field, "rules");
        snprintf(err, errlen, "%s", e.message);
    }
    return r;
}

static void test_small_config_routes(void **state)
{
    (void)state;
    char err[256];
    cpm_rules_t *r = load_variant(NULL, NULL, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    assert_int_equal(cpm_rules_version(r), 3);
    cpm_route_t rt;
    cpm_rules_route(r, NULL, "food", "north", false, &rt); /* area list */
    assert_string_equal(rt.agency, "a.north");
    assert_string_equal(rt.rule_id, "A1");
    cpm_rules_route(r, NULL, "food", "north", true, &rt); /* A1 has no urgent: any */
    assert_string_equal(rt.agency, "a.north");
    cpm_rules_route(r, NULL, "food", "south", true, &rt);
    assert_string_equal(rt.agency, "a.urgent");
    cpm_rules_route(r, NULL, "food", "south", false, &rt); /* falls to "*" */
    assert_string_equal(rt.agency, "south");               /* no default prefix */
    assert_string_equal(rt.rule_id, "A3");
    cpm_rules_route(r, NULL, "misc", "north", false, &rt);
    assert_string_equal(rt.agency, "north");                  /* no default prefix */
    cpm_rules_route(r, NULL, "unknown", "north", false, &rt); /* "*" matches anything */
    assert_string_equal(rt.rule_id, "A3");
    cpm_rules_destroy(&r);

    r = load_variant("triage: t.triage\n", "triage: t.triage\narea_office_prefix: x.\n", err,
                     sizeof err);
    assert_non_null(r);
    cpm_rules_route(r, NULL, "misc", "south", false, &rt);
    assert_string_equal(rt.agency, "x.south");
    cpm_rules_destroy(&r);

    /* no rule for the category and no "*": triage names category and area */
    r = load_variant("  - {id: A3, category: \"*\", agency: \"@area\"}\n", "", err, sizeof err);
    assert_non_null(r);
    cpm_rules_route(r, NULL, "misc", "south", false, &rt);
    assert_string_equal(rt.agency, "t.triage");
    assert_string_equal(rt.rule_id, "triage");
    assert_string_equal(rt.reason, "no rule matches category misc in area \"south\"");
    cpm_rules_route(r, NULL, "food", "nowhere", false, &rt); /* A1 needs a known area */
    assert_string_equal(rt.rule_id, "triage");
    cpm_rules_destroy(&r);
}

static void test_load_errors(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to, *want1, *want2;
    } cases[] = {
        {NULL, "version: [1\n", "YAML syntax error", ":2:"},
        {NULL, "", "the file is empty", NULL},
        {NULL, "- a\n- b\n", "the top level must be a mapping", NULL},
        {"version: 3\n", "version: 3\nverison: 4\n", "unknown key \"verison\"", ":2:"},
        {"version: 3\n", "", "version is required", NULL},
        {"version: 3\n", "version: 0\n", "version must be a whole number", ":1:"},
        {"version: 3\n", "version: three\n", "version must be a whole number", NULL},
        {"\"2026-01-01\"\ntriage", "\"2026-13-01\"\ntriage", "effective_from must be a date", NULL},
        {"triage: t.triage\n", "triage: \"\"\n", "triage must be 1 to", NULL},
        {"triage: t.triage\n", "triage: [a]\n", "triage must be a string", NULL},
        {"triage: t.triage\n", "triage: t\narea_office_prefix: {a: b}\n",
         "area_office_prefix must be a string", NULL},
        {"deadlines: {accept_working_days: 2, resolve_working_days: 5}\n", "",
         "deadlines is required", NULL},
        {"accept_working_days: 2", "accept_working_days: 0", "deadlines.accept_working_days",
         "1 to 365"},
        {"resolve_working_days: 5", "resolve_working_days: -1", "deadlines.resolve_working_days",
         NULL},
        {"resolve_working_days: 5", "resolve_working_day: 5", "unknown key \"resolve_working_day\"",
         NULL},
        {", resolve_working_days: 5", "", "deadlines needs accept_working_days and", NULL},
        {"deadlines: {accept_working_days: 2, resolve_working_days: 5}", "deadlines: [2, 5]",
         "deadlines must be a mapping", NULL},
        {"[\"2026-01-01\"]", "[\"2026-02-30\"]", "holidays[0]: \"2026-02-30\" is not a date",
         ":5:"},
        {"[\"2026-01-01\"]", "[\"2026-01-01\", \"2026-1-2\"]", "holidays[1]: \"2026-1-2\"", NULL},
        {"[\"2026-01-01\"]", "[\"2026-01-01\", \"2026-01-01\"]", "a date is listed twice", NULL},
        {"[\"2026-01-01\"]", "\"2026-01-01\"", "holidays must be a list", NULL},
        {"- {slug: south}", "- {slug: north}", "slug \"north\" is declared twice", NULL},
        {"- {slug: south}", "- {slug: South}", "areas[1].slug \"South\" may hold only", ":8:"},
        {"- {slug: south}", "- {code: \"02\"}", "areas[1].slug is required", NULL},
        {"- {slug: south}", "- {slug: south, mayor: x}", "areas[1]: unknown key \"mayor\"", NULL},
        {"- {slug: south}", "- {slug: south, name: [x]}", "areas[1].name must be a string", NULL},
        {"- {slug: misc}", "- {slug: food}", "categories: slug \"food\" is declared twice", NULL},
        {"categories:\n  - {slug: food, name_en: Food, name_vi: Thuc pham}\n  - {slug: misc}\n",
         "categories: []\n", "categories must not be empty", NULL},
        {"{id: A2,", "{id: A1,", "rules[1]: rule id \"A1\" is used twice", ":14:"},
        {"{id: A2,", "{", "rules[1].id is required", NULL},
        {"agency: a.urgent", "agency: \"\"", "rule A2: agency is required", NULL},
        {"urgent: true, agency: a.urgent", "urgent: true", "rule A2: agency is required", NULL},
        {"agency: \"@area\"", "agency: \"@distrct\"", "rule A3: agency \"@distrct\" is unknown",
         NULL},
        {"category: food, urgent", "category: fod, urgent",
         "rule A2: category \"fod\" is not a declared category", ":14:"},
        {"category: food, urgent", "urgent", "rule A2: category is required", NULL},
        {"[north]", "[north, east]", "rule A1: area \"east\" is not a declared area", NULL},
        {"[north]", "[]", "rule A1: areas must not be empty", NULL},
        {"[north]", "north", "rule A1: areas must be a list", NULL},
        {"urgent: true", "urgent: yes", "rule A2: urgent must be true or false", NULL},
        {"urgent: true", "urgent: true, priority: 1", "rules[1]: unknown key \"priority\"", NULL},
        {"rules:\n", "rules: []\nx:\n", "unknown key \"x\"", NULL},
    };
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cpm_rules_t *r = load_variant(cases[i].from, cases[i].to, err, sizeof err);
        if (r)
            fail_msg("case %zu loaded but should fail", i);
        if (!strstr(err, cases[i].want1) || (cases[i].want2 && !strstr(err, cases[i].want2)))
            fail_msg("case %zu: error \"%s\" lacks \"%s\" or \"%s\"", i, err, cases[i].want1,
                     cases[i].want2 ? cases[i].want2 : "");
        assert_non_null(strstr(err, "routing.yaml")); /* names the file */
    }
    /* empty rules list */
    cpm_rules_t *r = load_variant(
        "rules:\n  - {id: A1, category: food, areas: [north], agency: a.north}\n  - {id: A2, "
        "category: food, urgent: true, agency: a.urgent}\n  - {id: A3, category: \"*\", agency: "
        "\"@area\"}\n",
        "rules: []\n", err, sizeof err);
    assert_null(r);
    assert_non_null(strstr(err, "rules must not be empty"));
    /* a file that does not exist */
    cpm_error_t e;
    assert_int_equal(cpm_rules_load("/nonexistent/routing.yaml", &r, &e), CPM_E_NOT_FOUND);
    assert_null(r);
    assert_non_null(strstr(e.message, "cannot read the file"));
    /* NULL err is allowed */
    assert_int_equal(cpm_rules_load("/nonexistent/routing.yaml", &r, NULL), CPM_E_NOT_FOUND);
    assert_null(r);
}

/* ---- working days ------------------------------------------------------- */

static void test_working_days(void **state)
{
    (void)state;
    cpm_rules_t *r = load_hanoi();
    /* Friday 2 Jan 2026, 23:30 in Hanoi (16:30 UTC): next working day is Monday 5 Jan */
    assert_int_equal(cpm_rules_add_working_days(r, vn_time(2026, 1, 2, 23, 30), 1),
                     vn_day_end(2026, 1, 5));
    /* Saturday 00:30 in Hanoi is still Friday in UTC: Vietnam time decides */
    assert_int_equal(cpm_rules_add_working_days(r, vn_time(2026, 1, 3, 0, 30), 1),
                     vn_day_end(2026, 1, 5));
    assert_int_equal(cpm_rules_add_working_days(r, vn_time(2026, 1, 2, 9, 0), 5),
                     vn_day_end(2026, 1, 9));
    /* New Year's Day (Thursday) is a holiday: Wednesday 31 Dec + 1 = Friday 2 Jan */
    assert_int_equal(cpm_rules_add_working_days(r, vn_time(2025, 12, 31, 10, 0), 1),
                     vn_day_end(2026, 1, 2));
    /* 30 Apr and 1 May (Thu, Fri) then a weekend: Wednesday 29 Apr + 1 = Monday 4 May */
    assert_int_equal(cpm_rules_add_working_days(r, vn_time(2026, 4, 29, 8, 0), 1),
                     vn_day_end(2026, 5, 4));
    /* Tet 16-20 Feb 2026: the 10-day acceptance deadline from Thursday 12 Feb */
    assert_int_equal(
        cpm_rules_add_working_days(r, vn_time(2026, 2, 12, 14, 0), cpm_rules_accept_days(r)),
        vn_day_end(2026, 3, 5));
    /* 0 days: the end of the same Vietnam day */
    assert_int_equal(cpm_rules_add_working_days(r, vn_time(2026, 3, 7, 6, 0), 0),
                     vn_day_end(2026, 3, 7));
    assert_int_equal(cpm_rules_add_working_days(r, vn_time(2026, 3, 7, 6, 0), -3),
                     vn_day_end(2026, 3, 7));
    /* the last millisecond of a day belongs to that day */
    assert_int_equal(cpm_rules_add_working_days(r, vn_day_end(2026, 1, 5), 1),
                     vn_day_end(2026, 1, 6));
    /* before 1970 (negative ms) still works: 1 Jan 1969 was a Wednesday */
    assert_int_equal(cpm_rules_add_working_days(r, vn_time(1969, 1, 1, 12, 0), 1),
                     vn_day_end(1969, 1, 2));
    cpm_rules_destroy(&r);
}

/* ---- reload while running (cpm_rules_watch) ---------------------------- */

static void write_text(const char *path, const char *text)
{
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0); /* a new inode: seen whatever the mtime */
}

/* The watch looks at most once a second: poll until it reports something
 * (a generous deadline, no timed assertion). */
static int check_until_change(cpm_rules_watch_t *w, cpm_metrics_t *m)
{
    for (int i = 0; i < 600; i++) {
        int rc = cpm_rules_watch_check(w, m);
        if (rc != 0)
            return rc;
        usleep(50 * 1000);
    }
    fail_msg("the watch saw no change in 30 s");
    return 0;
}

static void test_watch_reload(void **state)
{
    (void)state;
    char path[128], text[4096];
    snprintf(path, sizeof path, "%s/watched.yaml", tmpdir);
    write_text(path, BASE);
    cpm_metrics_t *m = cpm_metrics_new();
    cpm_rules_watch_t *w;
    cpm_error_t e;
    if (cpm_rules_watch_new(path, NULL, &w, &e) != 0)
        fail_msg("%s", e.message);
    cpm_rules_t *r = cpm_rules_watch_rules(w); /* the same pointer throughout */
    assert_int_equal(cpm_rules_version(r), 3);
    cpm_route_t rt;

    /* version 4 moves north's food to a.other: taken in place */
    char *at = strstr(BASE, "agency: a.north");
    snprintf(text, sizeof text, "version: 4%.*sagency: a.other%s", (int)(at - BASE - 10), BASE + 10,
             at + strlen("agency: a.north"));
    write_text(path, text);
    assert_int_equal(check_until_change(w, m), 1);
    assert_ptr_equal(cpm_rules_watch_rules(w), r);
    assert_int_equal(cpm_rules_version(r), 4);
    cpm_rules_route(r, NULL, "food", "north", false, &rt);
    assert_string_equal(rt.agency, "a.other");
    assert_int_equal(cpm_metrics_get(m, "rules.loaded"), 1);

    /* a broken file: refused, counted, version 4 stays in force */
    write_text(path, "version: 5\nrules: [\n");
    assert_int_equal(check_until_change(w, m), CPM_E_INVALID);
    assert_int_equal(cpm_metrics_get(m, "rules.refused"), 1);
    assert_int_equal(cpm_rules_version(r), 4);
    cpm_rules_route(r, NULL, "food", "north", false, &rt);
    assert_string_equal(rt.agency, "a.other");

    /* valid, but a changed file under a version not above 4: refused */
    write_text(path, BASE);
    assert_int_equal(check_until_change(w, m), CPM_E_CONFLICT);
    assert_int_equal(cpm_metrics_get(m, "rules.refused"), 2);
    assert_int_equal(cpm_rules_version(r), 4);

    /* the same bytes again (rewritten): no reload, no refusal */
    write_text(path, text);
    for (int i = 0; i < 30; i++) { /* past the once-a-second look */
        assert_int_equal(cpm_rules_watch_check(w, m), 0);
        usleep(50 * 1000);
    }
    assert_int_equal(cpm_metrics_get(m, "rules.loaded"), 1);
    assert_int_equal(cpm_metrics_get(m, "rules.refused"), 2);

    cpm_rules_watch_destroy(&w);
    assert_null(w);
    cpm_metrics_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hanoi_loads),         cmocka_unit_test(test_hanoi_every_category),
        cmocka_unit_test(test_hanoi_triage),        cmocka_unit_test(test_route_with_registry),
        cmocka_unit_test(test_small_config_routes), cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_working_days),        cmocka_unit_test(test_watch_reload),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
