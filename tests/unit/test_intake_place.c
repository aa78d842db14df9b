/* Tests for intake_place: the location a client sends, resolved into the
 * complaint's placement and area, and the refusal of an unknown place
 * (naming the field the text came from, with the nearest known names, never
 * the client's text). Reads deploy/hanoi/reform-2025 under CPM_SOURCE_DIR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "intake_place.h"
#include "fixtures/places/places_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A complaint as the server hands it over: unpacked, so strings are owned. */
static Cpm__Complaint *complaint(const char *location, const char *area)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.location = (char *)location;
    c.area = (char *)area;
    uint8_t buf[2048];
    size_t len = cpm__complaint__pack(&c, buf);
    Cpm__Complaint *out = cpm__complaint__unpack(NULL, len, buf);
    assert_non_null(out);
    return out;
}

static void placed(const char *location, const char *area, cpm_place_method_t method,
                   const char *code, const char *written)
{
    Cpm__Complaint *c = complaint(location, area);
    cpm_placement_t p;
    cpm_error_t err = {0};
    assert_int_equal(intake_place_resolve(places, c, &p, &err), 0);
    assert_int_equal(p.method, method);
    assert_int_equal(intake_place_apply(&p, c), 0);
    assert_non_null(c->placement);
    assert_string_equal(c->placement->written, written);
    assert_string_equal(c->placement->method, cpm_place_method_name(method));
    assert_true(*c->placement->note);
    if (method == CPM_PLACE_TRIAGE) {
        assert_string_equal(c->area, "");
        assert_string_equal(c->placement->unit_code, "");
        assert_string_equal(c->placement->generation, "");
        assert_true(c->placement->n_candidates > 1);
        assert_string_equal(c->placement->candidates[0]->generation, "2025");
        if (code)
            assert_string_equal(c->placement->candidates[0]->code, code);
    } else {
        assert_string_equal(c->placement->unit_code, code);
        assert_string_equal(c->placement->generation, "2025");
        assert_string_equal(c->placement->unit_slug, c->area);
        assert_int_equal(c->placement->n_candidates, 0);
    }
    /* the packed complaint carries it all */
    uint8_t buf[8192];
    size_t len = cpm__complaint__get_packed_size(c);
    assert_true(len < sizeof buf);
    cpm__complaint__pack(c, buf);
    Cpm__Complaint *back = cpm__complaint__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_string_equal(back->placement->method, c->placement->method);
    cpm__complaint__free_unpacked(back, NULL);
    cpm__complaint__free_unpacked(c, NULL);
}

static void test_location_wins_and_is_kept_as_written(void **state)
{
    (void)state;
    placed("P. Hàng Bạc", "", CPM_PLACE_LINEAGE, "00070", "P. Hàng Bạc");
    placed("phuong yen hoa", "", CPM_PLACE_NAME, "00175", "phuong yen hoa");
    /* location wins over the legacy area, which intake then replaces */
    placed("Phường Yên Hòa", "hoan-kiem", CPM_PLACE_NAME, "00175", "Phường Yên Hòa");
    placed("Quận Hoàn Kiếm", "", CPM_PLACE_TRIAGE, NULL, "Quận Hoàn Kiếm");
    /* a bare name that is also a former district: triage, the unit first */
    placed("Hoàn Kiếm", "", CPM_PLACE_TRIAGE, "00070", "Hoàn Kiếm");
    placed("hoan-kiem", "", CPM_PLACE_TRIAGE, "00070", "hoan-kiem");
    placed("2025:hoan-kiem", "", CPM_PLACE_NAME, "00070", "2025:hoan-kiem");
}

static void test_legacy_area(void **state)
{
    (void)state;
    /* the slug of a unit in force: that unit (older clients keep working) */
    placed("", "hoan-kiem", CPM_PLACE_NAME, "00070", "hoan-kiem");
    placed("", "ba-vi", CPM_PLACE_NAME, "09700", "ba-vi");
    /* a former district's slug that is no unit now: triage */
    placed("", "nam-tu-liem", CPM_PLACE_TRIAGE, NULL, "nam-tu-liem");
    /* any other text in area is a location text */
    placed("", "P. Hàng Bạc", CPM_PLACE_LINEAGE, "00070", "P. Hàng Bạc");
    placed("", "Hoàn Kiếm", CPM_PLACE_TRIAGE, "00070", "Hoàn Kiếm");
}

/* The note of a legacy area slug, word for word. */
static void test_legacy_area_note(void **state)
{
    (void)state;
    Cpm__Complaint *c = complaint("", "hoan-kiem");
    cpm_placement_t p;
    cpm_error_t err = {0};
    assert_int_equal(intake_place_resolve(places, c, &p, &err), 0);
    assert_string_equal(p.note, "the area slug hoan-kiem of a client before version 3: the "
                                "current unit Phường Hoàn Kiếm (2025:00070)");
    cpm__complaint__free_unpacked(c, NULL);
    /* a slug as long as a slug may be is no unit: placed as text, no note of ours */
    char lng[CPM_PLACE_SLUG_MAX];
    memset(lng, 'a', sizeof lng - 1);
    lng[sizeof lng - 1] = 0;
    c = complaint("", lng);
    assert_int_equal(intake_place_resolve(places, c, &p, &err), CPM_E_INVALID);
    cpm__complaint__free_unpacked(c, NULL);
}

static void test_points(void **state)
{
    (void)state;
    Cpm__Complaint *c = complaint("Xã Ba Vì", "");
    c->has_point = true;
    c->lat = 21.0287; /* Hoàn Kiếm lake: the point decides */
    c->lon = 105.8524;
    cpm_placement_t p;
    cpm_error_t err = {0};
    assert_int_equal(intake_place_resolve(places, c, &p, &err), 0);
    assert_int_equal(p.method, CPM_PLACE_POINT);
    assert_string_equal(p.code, "00070");
    assert_int_equal(intake_place_apply(&p, c), 0);
    assert_string_equal(c->area, "hoan-kiem");
    assert_string_equal(c->placement->written, "Xã Ba Vì");
    cpm__complaint__free_unpacked(c, NULL);

    /* outside Hanoi without text: refused, naming location */
    c = complaint("", "");
    c->has_point = true;
    c->lat = 10.7769;
    c->lon = 106.7009;
    assert_int_equal(intake_place_resolve(places, c, &p, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "location");
    assert_int_equal(p.method, CPM_PLACE_UNKNOWN);
    assert_non_null(strstr(err.message, "outside"));
    cpm__complaint__free_unpacked(c, NULL);
}

static void unknown(const char *location, const char *area, const char *field, const char *near)
{
    Cpm__Complaint *c = complaint(location, area);
    cpm_placement_t p;
    cpm_error_t err = {0};
    assert_int_equal(intake_place_resolve(places, c, &p, &err), CPM_E_INVALID);
    assert_int_equal(p.method, CPM_PLACE_UNKNOWN);
    assert_string_equal(err.field, field);
    assert_non_null(strstr(err.message, field));
    if (near) {
        assert_non_null(strstr(err.message, "nearest"));
        assert_non_null(strstr(err.message, near));
    }
    /* never the client's text */
    if (*location)
        assert_null(strstr(err.message, location));
    cpm__complaint__free_unpacked(c, NULL);
}

static void test_unknown_names_the_field(void **state)
{
    (void)state;
    unknown("Phuong Hoan Kiemm", "", "location", "Phường Hoàn Kiếm");
    unknown("Atlantis", "", "location", "");
    unknown("", "atlantis", "area", "");
    unknown("\xff\xfe", "", "location", NULL);
    /* no places loaded: an internal error, never a guess */
    Cpm__Complaint *c = complaint("P. Hàng Bạc", "");
    cpm_placement_t p;
    cpm_error_t err = {0};
    assert_int_equal(intake_place_resolve(NULL, c, &p, &err), CPM_E_INTERNAL);
    cpm__complaint__free_unpacked(c, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_location_wins_and_is_kept_as_written),
        cmocka_unit_test(test_legacy_area),
        cmocka_unit_test(test_legacy_area_note),
        cmocka_unit_test(test_points),
        cmocka_unit_test(test_unknown_names_the_field),
    };
    return cmocka_run_group_tests(tests, places_setup, places_teardown);
}
