/* intake_place_gen + cpm_place_in_generation: a location placed in the
 * units of the generation in force. On generation 2024 an old district or
 * old ward resolves to its district directly (name); a unit that exists only
 * since 2025 is placed through the lineage: the one district it took its
 * wards from, or triage naming the districts; every unit and candidate is of
 * generation 2024. On 2025 nothing changes. Reads deploy/hanoi/reform-2025
 * under CPM_SOURCE_DIR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "intake_place.h"
#include "intake_place_gen.h"
#include "fixtures/places/places_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Place location (or the legacy area) in generation gen. */
static cpm_place_method_t place(const char *location, const char *area, const char *gen,
                                cpm_placement_t *p)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.location = (char *)location;
    c.area = (char *)area;
    cpm_error_t err = {0};
    if (intake_place_resolve(places, &c, p, &err) != 0)
        fail_msg("%s: %s", location, err.message);
    return intake_place_generation(places, gen, &c, p);
}

static bool has_candidate(const cpm_placement_t *p, const char *gen, const char *slug)
{
    for (size_t i = 0; i < p->n_candidates; i++)
        if (!strcmp(p->candidates[i].generation, gen) && !strcmp(p->candidates[i].slug, slug))
            return true;
    return false;
}

static void test_old_names_resolve_directly_in_2024(void **state)
{
    (void)state;
    cpm_placement_t p;
    /* on 2025 an old district is triage with the units that took it... */
    assert_int_equal(place("Quận Ba Đình", "", "2025", &p), CPM_PLACE_TRIAGE);
    assert_true(has_candidate(&p, "2025", "ba-dinh"));
    /* ...on 2024 it is the district itself */
    assert_int_equal(place("Quận Ba Đình", "", "2024", &p), CPM_PLACE_NAME);
    assert_string_equal(p.generation, "2024");
    assert_string_equal(p.code, "001");
    assert_string_equal(p.slug, "ba-dinh");
    assert_int_equal(p.n_candidates, 0);
    assert_int_equal(place("huyen soc son", "", "2024", &p), CPM_PLACE_NAME);
    assert_string_equal(p.slug, "soc-son");
    /* an old ward: its district */
    assert_int_equal(place("P. Hàng Bạc", "", "2025", &p), CPM_PLACE_LINEAGE);
    assert_string_equal(p.generation, "2025");
    assert_int_equal(place("P. Hàng Bạc", "", "2024", &p), CPM_PLACE_NAME);
    assert_string_equal(p.generation, "2024");
    assert_string_equal(p.slug, "hoan-kiem");
    assert_non_null(strstr(p.note, "lies in Quận Hoàn Kiếm"));
    /* the bare name of a ward that is also a former district: the district */
    assert_int_equal(place("Hoàn Kiếm", "", "2024", &p), CPM_PLACE_NAME);
    assert_string_equal(p.slug, "hoan-kiem");
    assert_string_equal(p.code, "002");
    /* a current unit's name that was an old ward's too: the old ward, in
     * force in 2024 (Ngọc Hà of 2025 took wards of Ba Đình and Cầu Giấy) */
    assert_int_equal(place("Phường Ngọc Hà", "", "2025", &p), CPM_PLACE_NAME);
    assert_string_equal(p.slug, "ngoc-ha");
    assert_int_equal(place("Phường Ngọc Hà", "", "2024", &p), CPM_PLACE_NAME);
    assert_string_equal(p.generation, "2024");
    assert_string_equal(p.slug, "ba-dinh");
    /* a legacy client's area slug is a district on 2024 */
    assert_int_equal(place("", "cau-giay", "2024", &p), CPM_PLACE_NAME);
    assert_string_equal(p.generation, "2024");
    assert_string_equal(p.slug, "cau-giay");
}

static void test_units_of_2025_through_the_lineage(void **state)
{
    (void)state;
    cpm_placement_t p;
    /* Xã Nội Bài (since 2025) took its wards from Sóc Sơn only */
    assert_int_equal(place("Xã Nội Bài", "", "2025", &p), CPM_PLACE_NAME);
    assert_string_equal(p.generation, "2025");
    assert_int_equal(place("Xã Nội Bài", "", "2024", &p), CPM_PLACE_LINEAGE);
    assert_string_equal(p.generation, "2024");
    assert_string_equal(p.slug, "soc-son");
    assert_non_null(strstr(p.note, "took its wards from Huyện Sóc Sơn"));
    /* Phường Láng took wards of Ba Đình and Đống Đa: triage naming both */
    assert_int_equal(place("phuong Lang", "", "2024", &p), CPM_PLACE_TRIAGE);
    assert_string_equal(p.generation, "");
    assert_string_equal(p.slug, "");
    assert_int_equal(p.n_candidates, 2);
    assert_true(has_candidate(&p, "2024", "ba-dinh"));
    assert_true(has_candidate(&p, "2024", "dong-da"));
    assert_non_null(strstr(p.note, "took wards from 2 districts of generation 2024"));
    /* 2025, NULL and unknown generations leave the placement alone */
    assert_int_equal(place("phuong Lang", "", NULL, &p), CPM_PLACE_NAME);
    assert_string_equal(p.generation, "2025");
    assert_int_equal(place("phuong Lang", "", "1999", &p), CPM_PLACE_NAME);
    assert_string_equal(p.slug, "lang");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_names_resolve_directly_in_2024),
        cmocka_unit_test(test_units_of_2025_through_the_lineage),
    };
    return cmocka_run_group_tests(tests, places_setup, places_teardown);
}
