/* Tests for cpm_place: a table of locations in every spelling the issue
 * lists, with the unit or candidates each must give; every unit's own names;
 * the lookups; and malformed data files (errors with the file and the line).
 * Reads deploy/hanoi/reform-2025 under CPM_SOURCE_DIR (set by ctest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cpm_place.h"
#include "cpm_place_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uninorm.h>

static cpm_places_t *places;
static char data_dir[1024];

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("CPM_SOURCE_DIR");
    if (!src)
        return -1;
    snprintf(data_dir, sizeof data_dir, "%s/deploy/hanoi/reform-2025", src);
    cpm_error_t err = {0};
    if (cpm_places_load(data_dir, &places, &err) != 0) {
        fprintf(stderr, "cannot load %s: %s: %s\n", data_dir, err.field, err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cpm_places_destroy(&places);
    cpm_places_destroy(&places); /* twice is safe */
    return 0;
}

#define NOPT false, 0, 0
#define AT(lat, lon) true, lat, lon

typedef struct {
    const char *text;
    bool has_point;
    double lat, lon;
    cpm_place_method_t method;
    const char *want; /* the unit's code, or the candidates' codes sorted, space-separated */
} place_case_t;

/* The Hoàn Kiếm district's units, and those of other old districts. */
#define HK_DISTRICT "00004 00070 00082 00097 00226"
#define CAU_GIAY "00008 00103 00160 00166 00175 00367 00592 00619 00637"
#define BA_VI "09619 09634 09661 09664 09676 09694 09700 09706"
#define SON_TAY "09574 09604 09616 09988"
#define SOC_SON "00376 00382 00385 00430 00433"
#define THANH_XUAN "00175 00322 00352 00364 00367 00637 00643"
#define UNG_HOA "10354 10369 10402 10417"
#define HBT "00082 00097 00226 00256 00283 00292 00301 00322 00328"

static const place_case_t CASES[] = {
    /* a current unit: any case, with or without diacritics, each prefix */
    {"Phường Hoàn Kiếm", NOPT, CPM_PLACE_NAME, "00070"},
    {"phường hoàn kiếm", NOPT, CPM_PLACE_NAME, "00070"},
    {"PHƯỜNG HOÀN KIẾM", NOPT, CPM_PLACE_NAME, "00070"},
    {"Phu\u031bo\u031b\u0300ng Hoa\u0300n Kie\u0302\u0301m", NOPT, CPM_PLACE_NAME,
     "00070"}, /* NFD */
    {"P. Hoàn Kiếm", NOPT, CPM_PLACE_NAME, "00070"},
    {"P.Hoàn Kiếm", NOPT, CPM_PLACE_NAME, "00070"},
    {"p hoan kiem", NOPT, CPM_PLACE_NAME, "00070"},
    {"Phuong Hoan Kiem", NOPT, CPM_PLACE_NAME, "00070"},
    {"PHUONG HOAN KIEM", NOPT, CPM_PLACE_NAME, "00070"},
    {"  phường   Hoàn  Kiếm  ", NOPT, CPM_PLACE_NAME, "00070"},
    {"Phường Hoàn Kiếm, Hà Nội", NOPT, CPM_PLACE_NAME, "00070"},
    {"Phường Hoàn Kiếm, TP. Hà Nội", NOPT, CPM_PLACE_NAME, "00070"},
    {"Phường Hoàn Kiếm, Thành phố Hà Nội, Việt Nam", NOPT, CPM_PLACE_NAME, "00070"},
    {"Phuong Hoan Kiem HN", NOPT, CPM_PLACE_NAME, "00070"},
    {"Xã Ba Vì", NOPT, CPM_PLACE_NAME, "09700"},
    {"xã ba vì", NOPT, CPM_PLACE_NAME, "09700"},
    {"x. Ba Vi", NOPT, CPM_PLACE_NAME, "09700"},
    {"Xa Ba Vi", NOPT, CPM_PLACE_NAME, "09700"},
    {"Phường Sơn Tây", NOPT, CPM_PLACE_NAME, "09574"},
    /* a name that is a current unit and no former district needs no type word */
    {"Văn Miếu - Quốc Tử Giám", NOPT, CPM_PLACE_NAME, "00226"},
    {"Văn Miếu Quốc Tử Giám", NOPT, CPM_PLACE_NAME, "00226"},
    {"van mieu quoc tu giam", NOPT, CPM_PLACE_NAME, "00226"},
    {"Ngọc Hà", NOPT, CPM_PLACE_NAME, "00008"},
    {"Cửa Nam", NOPT, CPM_PLACE_NAME, "00082"}, /* also a split old ward: now means the unit */
    /* tone placement: Hoà == Hòa */
    {"Yên Hoà", NOPT, CPM_PLACE_NAME, "00175"},
    {"Yên Hòa", NOPT, CPM_PLACE_NAME, "00175"},
    {"P. Yen Hoa", NOPT, CPM_PLACE_NAME, "00175"},
    {"Xã Ứng Hòa", NOPT, CPM_PLACE_NAME, "10402"},
    {"Xã Ứng Hoà", NOPT, CPM_PLACE_NAME, "10402"},
    {"Xã Hòa Lạc", NOPT, CPM_PLACE_NAME, "09988"},
    /* "phuong" typed without marks also begins a name */
    {"Phương Liệt", NOPT, CPM_PLACE_NAME, "00352"},
    {"phuong liet", NOPT, CPM_PLACE_NAME, "00352"},
    {"P. Phương Liệt", NOPT, CPM_PLACE_NAME, "00352"},
    {"Phuong Phuong Liet", NOPT, CPM_PLACE_NAME, "00352"},
    /* bare current name that is also a former district: ambiguous */
    {"Hoàn Kiếm", NOPT, CPM_PLACE_TRIAGE, HK_DISTRICT},
    {"hoan kiem", NOPT, CPM_PLACE_TRIAGE, HK_DISTRICT},
    {"Hoàn Kiếm, Hà Nội", NOPT, CPM_PLACE_TRIAGE, HK_DISTRICT},
    {"Ba Vì", NOPT, CPM_PLACE_TRIAGE, BA_VI},
    {"Thanh Xuân", NOPT, CPM_PLACE_TRIAGE, THANH_XUAN},
    {"Ứng Hoà", NOPT, CPM_PLACE_TRIAGE, UNG_HOA},
    {"Sơn Tây", NOPT, CPM_PLACE_TRIAGE, SON_TAY},
    /* old districts, each prefix form */
    {"Quận Hoàn Kiếm", NOPT, CPM_PLACE_TRIAGE, HK_DISTRICT},
    {"Q. Hoàn Kiếm", NOPT, CPM_PLACE_TRIAGE, HK_DISTRICT},
    {"quan hoan kiem", NOPT, CPM_PLACE_TRIAGE, HK_DISTRICT},
    {"Quận Cầu Giấy", NOPT, CPM_PLACE_TRIAGE, CAU_GIAY},
    {"Cầu Giấy", NOPT, CPM_PLACE_TRIAGE, CAU_GIAY}, /* bare; 00160 Cầu Giấy... is among them */
    {"Q.Cau Giay", NOPT, CPM_PLACE_TRIAGE, CAU_GIAY},
    {"Huyện Sóc Sơn", NOPT, CPM_PLACE_TRIAGE, SOC_SON},
    {"H. Sóc Sơn", NOPT, CPM_PLACE_TRIAGE, SOC_SON},
    {"huyen soc son", NOPT, CPM_PLACE_TRIAGE, SOC_SON},
    {"Huyện Ba Vì", NOPT, CPM_PLACE_TRIAGE, BA_VI},
    {"Huyện Ứng Hòa", NOPT, CPM_PLACE_TRIAGE, UNG_HOA},
    {"Thị xã Sơn Tây", NOPT, CPM_PLACE_TRIAGE, SON_TAY},
    {"TX Sơn Tây", NOPT, CPM_PLACE_TRIAGE, SON_TAY},
    {"TX. Son Tay", NOPT, CPM_PLACE_TRIAGE, SON_TAY},
    {"thi xa son tay", NOPT, CPM_PLACE_TRIAGE, SON_TAY},
    {"Quận Thanh Xuân", NOPT, CPM_PLACE_TRIAGE, THANH_XUAN},
    /* old wards that went whole into one unit */
    {"Phường Hàng Bạc", NOPT, CPM_PLACE_LINEAGE, "00070"},
    {"Hàng Bạc", NOPT, CPM_PLACE_LINEAGE, "00070"},
    {"hang bac", NOPT, CPM_PLACE_LINEAGE, "00070"},
    {"P. Hang Bac", NOPT, CPM_PLACE_LINEAGE, "00070"},
    {"Trúc Bạch", NOPT, CPM_PLACE_LINEAGE, "00004"},
    {"Quán Thánh", NOPT, CPM_PLACE_LINEAGE, "00004"},
    {"quan thanh", NOPT, CPM_PLACE_LINEAGE, "00004"}, /* not "quận Thanh" */
    {"Phúc Xá", NOPT, CPM_PLACE_LINEAGE, "00097"},
    {"Phố Huế", NOPT, CPM_PLACE_LINEAGE, "00256"},
    {"Thuỵ Lâm", NOPT, CPM_PLACE_LINEAGE, "00475"}, /* Thuỵ == Thụy */
    {"Xã Thụy Lâm", NOPT, CPM_PLACE_LINEAGE, "00475"},
    {"xa thuy lam", NOPT, CPM_PLACE_LINEAGE, "00475"},
    {"Xã Đức Giang", NOPT, CPM_PLACE_LINEAGE, "09832"},
    /* old wards that were split */
    {"Kim Mã", NOPT, CPM_PLACE_TRIAGE, "00004 00008 00025"},
    {"Phường Kim Mã", NOPT, CPM_PLACE_TRIAGE, "00004 00008 00025"},
    {"Thụy Khuê", NOPT, CPM_PLACE_TRIAGE, "00004 00103"},
    {"Thuỵ Khuê", NOPT, CPM_PLACE_TRIAGE, "00004 00103"},
    {"Phường Đức Giang", NOPT, CPM_PLACE_TRIAGE, "00118 00127"},
    /* same-named old wards: the type word or the district tells them apart */
    {"Đức Giang", NOPT, CPM_PLACE_TRIAGE, "00118 00127 09832"},
    {"Đức Giang, Long Biên", NOPT, CPM_PLACE_TRIAGE, "00118 00127"},
    {"Đức Giang, Quận Long Biên, Hà Nội", NOPT, CPM_PLACE_TRIAGE, "00118 00127"},
    {"Đức Giang, Hoài Đức", NOPT, CPM_PLACE_LINEAGE, "09832"},
    {"Duc Giang, H. Hoai Duc", NOPT, CPM_PLACE_LINEAGE, "09832"},
    /* address lines */
    {"12 Hàng Bạc, P. Hoàn Kiếm, Q. Hoàn Kiếm, Hà Nội", NOPT, CPM_PLACE_NAME, "00070"},
    {"12 Hàng Bạc, Phường Hàng Bạc, Quận Hoàn Kiếm, TP Hà Nội", NOPT, CPM_PLACE_LINEAGE, "00070"},
    {"Số 5 ngõ 10 Kim Mã, Kim Mã, Ba Đình, Hà Nội", NOPT, CPM_PLACE_TRIAGE, "00004 00008 00025"},
    {"12 Hàng Bạc, Quận Hoàn Kiếm, Hà Nội", NOPT, CPM_PLACE_TRIAGE, HK_DISTRICT},
    {"Thôn Đông Cao, xã Ba Vì, Thành phố Hà Nội", NOPT, CPM_PLACE_NAME, "09700"},
    {"Phường Phố Huế; Hai Bà Trưng; Hà Nội", NOPT, CPM_PLACE_LINEAGE, "00256"},
    {"5 Phố Huế, Hai Bà Trưng", NOPT, CPM_PLACE_TRIAGE, HBT}, /* a street part says nothing */
    /* points decide, over any text */
    {"", AT(21.0287, 105.8524), CPM_PLACE_POINT, "00070"},   /* Hoàn Kiếm lake */
    {NULL, AT(21.0368, 105.8346), CPM_PLACE_POINT, "00004"}, /* the Mausoleum */
    {"", AT(21.0294, 105.8355), CPM_PLACE_POINT, "00226"},   /* Temple of Literature */
    {"Quận Cầu Giấy", AT(21.0287, 105.8524), CPM_PLACE_POINT, "00070"},
    {"Phường Hàng Bạc", AT(10.7769, 106.7009), CPM_PLACE_LINEAGE, "00070"}, /* Saigon: text */
    {"", AT(10.7769, 106.7009), CPM_PLACE_UNKNOWN, NULL},
    {"", AT(200.0, 500.0), CPM_PLACE_UNKNOWN, NULL},
    /* references by generation */
    {"2025:hoan-kiem", NOPT, CPM_PLACE_NAME, "00070"},
    {"2025:00004", NOPT, CPM_PLACE_NAME, "00004"},
    {"2024:002", NOPT, CPM_PLACE_TRIAGE, HK_DISTRICT},
    {"2024:hoan-kiem", NOPT, CPM_PLACE_TRIAGE, HK_DISTRICT},
    {"2024:00061", NOPT, CPM_PLACE_LINEAGE, "00070"},
    /* nothing */
    {"Hà Nội", NOPT, CPM_PLACE_UNKNOWN, NULL},
    {"Phường", NOPT, CPM_PLACE_UNKNOWN, NULL},
    {"Sài Gòn", NOPT, CPM_PLACE_UNKNOWN, NULL},
    {"", NOPT, CPM_PLACE_UNKNOWN, NULL},
    {NULL, NOPT, CPM_PLACE_UNKNOWN, NULL},
    {"\xff\xfe", NOPT, CPM_PLACE_UNKNOWN, NULL},
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The placement's unit, or its candidates sorted, as one string. */
static void got_codes(const cpm_placement_t *o, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (o->method != CPM_PLACE_TRIAGE) {
        snprintf(buf, cap, "%s", o->code);
        return;
    }
    const char *v[CPM_PLACE_MAX_CANDIDATES];
    for (size_t i = 0; i < o->n_candidates; i++)
        v[i] = o->candidates[i].code;
    qsort(v, o->n_candidates, sizeof *v, cmp_str);
    size_t len = 0;
    for (size_t i = 0; i < o->n_candidates; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " " : "", v[i]);
}

static void test_table(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        const place_case_t *c = &CASES[i];
        cpm_placement_t o;
        cpm_place_method_t m = cpm_place_resolve(places, c->text, c->has_point, c->lat, c->lon, &o);
        char got[512];
        got_codes(&o, got, sizeof got);
        bool ok = m == c->method && o.method == m &&
                  (c->want ? strcmp(got, c->want) == 0 : got[0] == '\0');
        if (ok && m != CPM_PLACE_UNKNOWN && m != CPM_PLACE_TRIAGE)
            ok = strcmp(o.generation, "2025") == 0 && o.slug[0] && o.name[0];
        if (!ok) {
            fprintf(stderr, "case %zu '%s': want %s %s, got %s %s (%s)\n", i,
                    c->text ? c->text : "(null)", cpm_place_method_name(c->method),
                    c->want ? c->want : "-", cpm_place_method_name(m), got, o.note);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* A bare name that is both: the current unit comes first among candidates. */
static void test_triage_order_and_note(void **state)
{
    (void)state;
    cpm_placement_t o;
    assert_int_equal(cpm_place_resolve(places, "Hoàn Kiếm", false, 0, 0, &o), CPM_PLACE_TRIAGE);
    assert_string_equal(o.candidates[0].code, "00070");
    assert_string_equal(o.candidates[0].generation, "2025");
    assert_string_equal(o.candidates[0].slug, "hoan-kiem");
    assert_string_equal(o.key, "hoàn kiếm");
    assert_string_equal(o.loose, "hoan kiem");
    assert_non_null(strstr(o.note, "Quận Hoàn Kiếm"));
    assert_int_equal(o.code[0], '\0');
    assert_int_equal(cpm_place_resolve(places, "Phường Hàng Bạc", false, 0, 0, &o),
                     CPM_PLACE_LINEAGE);
    assert_string_equal(o.name, "Phường Hoàn Kiếm");
    assert_non_null(strstr(o.note, "Hàng Bạc"));
    assert_int_equal(cpm_place_resolve(places, "", true, 21.0287, 105.8524, &o), CPM_PLACE_POINT);
    assert_string_equal(o.key, "21.028700,105.852400");
    assert_string_equal(cpm_place_method_name(CPM_PLACE_POINT), "point");
    assert_string_equal(cpm_place_method_name((cpm_place_method_t)99), "unknown");
}

static void test_unknown_suggests(void **state)
{
    (void)state;
    cpm_placement_t o;
    assert_int_equal(cpm_place_resolve(places, "Hoan Kiemm", false, 0, 0, &o), CPM_PLACE_UNKNOWN);
    assert_int_equal(o.n_suggestions, 3);
    assert_string_equal(o.suggestions[0], "Phường Hoàn Kiếm");
    assert_non_null(strstr(o.note, "nearest known names: Phường Hoàn Kiếm"));
    assert_int_equal(
        cpm_place_resolve(places, "12 Lê Lợi, Phường Trung Tâmm, Hà Nội", false, 0, 0, &o),
        CPM_PLACE_UNKNOWN);
    assert_string_equal(o.loose, "trung tamm");
    assert_int_equal(o.n_suggestions, 3);
    assert_int_equal(cpm_place_resolve(places, "Sài Gòn", false, 0, 0, &o), CPM_PLACE_UNKNOWN);
    assert_int_equal(o.n_suggestions, 3);
    assert_non_null(strstr(o.note, "'sài gòn'"));
    /* "Hà Nội" alone names no unit: no suggestions to make */
    assert_int_equal(cpm_place_resolve(places, "Hà Nội", false, 0, 0, &o), CPM_PLACE_UNKNOWN);
    assert_int_equal(o.n_suggestions, 0);
    char longtext[CPM_PLACE_TEXT_MAX + 2];
    memset(longtext, 'a', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    assert_int_equal(cpm_place_resolve(places, longtext, false, 0, 0, &o), CPM_PLACE_UNKNOWN);
    assert_non_null(strstr(o.note, "longer"));
}

static void nfd(const char *s, char *out, size_t cap)
{
    size_t len = cap - 1;
    uint8_t *r = u8_normalize(UNINORM_NFD, (const uint8_t *)s, strlen(s), (uint8_t *)out, &len);
    assert_ptr_equal(r, (uint8_t *)out);
    out[len] = '\0';
}

/* Every unit's own names place it: full name (NFC, NFD, upper case ASCII),
 * the bare name unless it is also a former district's, the alt spelling. */
static void test_every_unit_by_its_name(void **state)
{
    (void)state;
    int checked = 0;
    for (size_t i = 0; i < places->nunits; i++) {
        const cpm_place_unit_t *u = &places->units[i];
        cpm_placement_t o;
        char buf[256];
        const char *bare_district = NULL;
        for (size_t d = 0; d < places->ndistricts; d++) {
            char a[CPM_PLACE_KEY_MAX], b[CPM_PLACE_KEY_MAX], x[CPM_PLACE_KEY_MAX],
                y[CPM_PLACE_KEY_MAX];
            assert_int_equal(place_name_keys(u->name, a, sizeof a, b, sizeof b), 0);
            assert_int_equal(place_name_keys(places->districts[d].name, x, sizeof x, y, sizeof y),
                             0);
            if (strcmp(b, y) == 0)
                bare_district = places->districts[d].code;
        }
        const char *texts[4] = {u->full_name, buf, u->alt_name, u->name};
        nfd(u->full_name, buf, sizeof buf);
        for (size_t t = 0; t < 4; t++) {
            if (!texts[t][0])
                continue;
            cpm_place_method_t m = cpm_place_resolve(places, texts[t], false, 0, 0, &o);
            if (t >= 2 && bare_district) {
                if (m != CPM_PLACE_TRIAGE || strcmp(o.candidates[0].code, u->code) != 0)
                    fail_msg("'%s' (also district %s): %s %s", texts[t], bare_district,
                             cpm_place_method_name(m), o.note);
            } else if (m != CPM_PLACE_NAME || strcmp(o.code, u->code) != 0) {
                fail_msg("'%s': want %s, got %s %s (%s)", texts[t], u->code,
                         cpm_place_method_name(m), o.code, o.note);
            }
        }
        /* ASCII, upper case, with the type word */
        char ascii[160];
        snprintf(ascii, sizeof ascii, "%s %s", strcmp(u->type, "ward") == 0 ? "PHUONG" : "XA",
                 u->slug);
        for (char *c = ascii; *c; c++)
            *c = *c == '-' ? ' ' : (*c >= 'a' && *c <= 'z') ? (char)(*c - 32) : *c;
        if (cpm_place_resolve(places, ascii, false, 0, 0, &o) != CPM_PLACE_NAME ||
            strcmp(o.code, u->code) != 0)
            fail_msg("'%s': want %s, got %s (%s)", ascii, u->code, o.code, o.note);
        checked++;
    }
    assert_int_equal(checked, 126);
}

static void test_lookups(void **state)
{
    (void)state;
    assert_int_equal(cpm_place_count(places, CPM_PLACE_KIND_UNIT), 126);
    assert_int_equal(cpm_place_count(places, CPM_PLACE_KIND_OLD_WARD), 526);
    assert_int_equal(cpm_place_count(places, CPM_PLACE_KIND_OLD_DISTRICT), 30);
    /* codes are reused: the generation decides */
    const cpm_place_unit_t *u = cpm_place_unit_by_code(places, "2025", "00004");
    assert_non_null(u);
    assert_string_equal(u->name, "Ba Đình");
    u = cpm_place_unit_by_code(places, "2024", "00004");
    assert_non_null(u);
    assert_string_equal(u->name, "Trúc Bạch");
    assert_int_equal(u->kind, CPM_PLACE_KIND_OLD_WARD);
    assert_string_equal(u->district_code, "001");
    u = cpm_place_unit_by_code(places, "2024", "002");
    assert_non_null(u);
    assert_string_equal(u->full_name, "Quận Hoàn Kiếm");
    assert_null(cpm_place_unit_by_code(places, "2023", "00004"));
    assert_null(cpm_place_unit_by_code(places, "2025", "99999"));
    assert_null(cpm_place_unit_by_code(places, NULL, "00004"));
    /* slugs */
    u = cpm_place_unit_by_slug(places, "2025", "hoan-kiem");
    assert_non_null(u);
    assert_string_equal(u->code, "00070");
    u = cpm_place_unit_by_slug(places, "2024", "hoan-kiem");
    assert_non_null(u);
    assert_string_equal(u->code, "002");
    assert_null(cpm_place_unit_by_slug(places, "2025", "saigon"));
    /* successors */
    const cpm_place_unit_t *s[CPM_PLACE_MAX_SUCCESSORS];
    bool whole = false;
    assert_int_equal(cpm_place_successors(places, "00061", s, 16, &whole), 1); /* Hàng Bạc */
    assert_true(whole);
    assert_string_equal(s[0]->code, "00070");
    assert_int_equal(cpm_place_successors(places, "00073", s, 16, &whole), 4); /* Cửa Nam */
    assert_false(whole);
    assert_int_equal(cpm_place_successors(places, "002", s, 16, &whole), 5);
    assert_false(whole);
    assert_int_equal(cpm_place_successors(places, "020", s, 2, NULL), 13); /* Thanh Trì */
    assert_int_equal(cpm_place_successors(places, "99999", s, 16, &whole), 0);
    assert_int_equal(cpm_place_successors(places, "00061", NULL, 0, NULL), 1);
    /* point -> unit */
    u = cpm_place_at(places, 21.0294, 105.8355);
    assert_non_null(u);
    assert_string_equal(u->code, "00226");
    assert_null(cpm_place_at(places, 10.7769, 106.7009));
    assert_null(cpm_place_at(places, 0.0 / 0.0, 105.8));
}

/* The bounding boxes change nothing: a grid over the city gives the same unit
 * with and without them, and every unit is hit. */
static void test_prefilter_same_answer(void **state)
{
    (void)state;
    int inside = 0;
    bool hit[200] = {0};
    for (double lat = 20.55; lat < 21.40; lat += 0.0137)
        for (double lon = 105.28; lon < 106.02; lon += 0.0137) {
            long a = place_geo_find(places, lon, lat, true);
            long b = place_geo_find(places, lon, lat, false);
            assert_int_equal(a, b);
            if (a >= 0) {
                inside++;
                hit[a] = true;
            }
        }
    assert_true(inside > 1000);
    int units_hit = 0;
    for (size_t i = 0; i < places->nunits; i++)
        units_hit += hit[i];
    assert_true(units_hit > 100);
}

/* ---- malformed data: a copy of the folder with one file changed ---- */

static void copy_data(char *dir)
{
    char cmd[2200];
    strcpy(dir, "/tmp/cpm-place-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cp %s/*.csv %s/boundaries.geojson %s/", data_dir, data_dir, dir);
    assert_int_equal(system(cmd), 0);
}

static void remove_data(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Replace line `line` (1-based) of dir/file by text (NULL: append text). */
static void edit_line(const char *dir, const char *file, int line, const char *text)
{
    char path[1200], cmd[3000];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (line > 0)
        snprintf(cmd, sizeof cmd, "sed -i '%dc\\%s' %s", line, text, path);
    else
        snprintf(cmd, sizeof cmd, "printf '%%s\\n' '%s' >> %s", text, path);
    assert_int_equal(system(cmd), 0);
}

static void expect_load_error(const char *dir, int code, const char *field, const char *needle)
{
    cpm_places_t *p = (cpm_places_t *)1;
    cpm_error_t err = {0};
    int rc = cpm_places_load(dir, &p, &err);
    if (rc != code || strcmp(err.field, field) != 0 || !strstr(err.message, needle))
        fail_msg("want %d %s '%s', got %d %s '%s'", code, field, needle, rc, err.field,
                 err.message);
    assert_null(p);
}

static void test_malformed_files(void **state)
{
    (void)state;
    char dir[64];
    static const struct {
        const char *file;
        int line; /* 0: append */
        const char *text;
        int code;
        const char *needle;
    } bad[] = {
        {"communes.csv", 5, "0007,Hoàn Kiếm,Phường Hoàn Kiếm,ward,Hoan Kiem,hoan-kiem,2025-07-01,",
         CPM_E_INVALID, "line 5: code '0007' is not 5 digits"},
        {"communes.csv", 7, "00082,Cửa Nam,Phường Cửa Nam,ward,Cua Nam,cua-nam,2025-07-01",
         CPM_E_INVALID, "line 7: 7 fields, the header has 8"},
        {"communes.csv", 9, "00082,Cửa Nam,Phường Cửa Nam,hamlet,Cua Nam,x,2025-07-01,",
         CPM_E_INVALID, "line 9: type 'hamlet'"},
        {"communes.csv", 4, "00004,Ba Đình,Phường Ba Đình,ward,Ba Dinh,ba-dinh-2,2025-07-01,",
         CPM_E_INVALID, "line 4: code 00004 appears twice"},
        {"communes.csv", 3, "00008,Ngọc Hà,Phường Ngọc Hà,ward,Ngoc Ha,Ngoc Ha,2025-07-01,",
         CPM_E_INVALID, "line 3: slug 'Ngoc Ha'"},
        {"communes.csv", 1, "code,nom,full_name,type,name_ascii,slug,effective_from,alt_name",
         CPM_E_INVALID, "line 1: the header has no column name"},
        {"wards-2024.csv", 12, "00031,Giảng Võ,Phường Giảng Võ,099,phường,Giang Vo,X,2025-06-30,",
         CPM_E_INVALID, "line 12: district_code 099 is unknown"},
        {"lineage.csv", 3,
         "00025,Giảng Võ,00028,Kim Mã,001,part,text,,matched,Phường Kim Mã,Ba Đình,\"Phường Kim "
         "Mã, "
         "(phần còn lại,note",
         CPM_E_INVALID, "line 3: field 12: a quoted field runs past the line end"},
        {"lineage.csv", 6, "00004,Ba Đình,00013,Quán Thánh,001,whole,,,matched,P,Ba Đình,x\"y\",",
         CPM_E_INVALID, "line 6: field 12: a quote inside an unquoted field"},
        {"lineage.csv", 8, "12345,X,00013,Quán Thánh,001,whole,,,matched,P,Ba Đình,x,",
         CPM_E_INVALID, "line 8: new_code 12345 is unknown"},
        {"lineage.csv", 0, "00008,Ngọc Hà,00061,Hàng Bạc,002,whole,,,matched,P,Hoàn Kiếm,x,",
         CPM_E_INVALID, "old ward 00061 is whole here but listed 2 times"},
        {"district-to-communes.csv", 2, "001,Ba Đình,ba-dinh,00004,Ba Đình,most,2,4,x,y",
         CPM_E_INVALID, "line 2: whole_or_part 'most'"},
        {"boundaries.geojson", 1, "{\"type\":\"FeatureCollection\",\"features\":[", CPM_E_INVALID,
         "line 2"},
        {"boundaries.geojson", 1, "{\"type\":\"FeatureCollection\",\"features\":[]}", CPM_E_INVALID,
         "unit 00004 has no boundary"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        copy_data(dir);
        edit_line(dir, bad[i].file, bad[i].line, bad[i].text);
        expect_load_error(dir, bad[i].code, bad[i].file, bad[i].needle);
        remove_data(dir);
    }
    /* a missing file, a file over its size bound */
    copy_data(dir);
    char path[200];
    snprintf(path, sizeof path, "%s/wards-2024.csv", dir);
    assert_int_equal(unlink(path), 0);
    expect_load_error(dir, CPM_E_NOT_FOUND, "wards-2024.csv", "cannot open");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), PLACE_CSV_MAX_BYTES + 1), 0);
    fclose(f);
    expect_load_error(dir, CPM_E_TOO_LARGE, "wards-2024.csv", "over the limit");
    remove_data(dir);
    /* and the unchanged copy loads */
    copy_data(dir);
    cpm_places_t *p = NULL;
    assert_int_equal(cpm_places_load(dir, &p, NULL), 0);
    cpm_places_destroy(&p);
    assert_null(p);
    remove_data(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_triage_order_and_note),
        cmocka_unit_test(test_unknown_suggests),
        cmocka_unit_test(test_every_unit_by_its_name),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_prefilter_same_answer),
        cmocka_unit_test(test_malformed_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
