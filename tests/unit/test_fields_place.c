/* Tests for the placement checks of cpm_fields_complaint: what a receiver
 * (routing, inspection) accepts of Complaint.location, lat/lon, has_point and
 * placement from another node, whatever that node checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_fields.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

static Cpm__PlaceCandidate cand[30];
static Cpm__PlaceCandidate *cands[30];

static Cpm__Complaint base(Cpm__Placement *p)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = "DOIT-00000001";
    c.intake_node = "hn.doit";
    c.channel = "web";
    c.area = "hoan-kiem";
    c.business_name = "Shop";
    c.description = "d";
    c.received_ms = 1780000000000LL;
    c.location = "P. Hàng Bạc";
    cpm__placement__init(p);
    p->written = "P. Hàng Bạc";
    p->generation = "2025";
    p->unit_code = "00070";
    p->unit_slug = "hoan-kiem";
    p->unit_name = "Phường Hoàn Kiếm";
    p->method = "lineage";
    p->note = "old ward Phường Hàng Bạc went whole into Phường Hoàn Kiếm";
    c.placement = p;
    for (size_t i = 0; i < 30; i++) {
        cpm__place_candidate__init(&cand[i]);
        cand[i].generation = "2025";
        cand[i].code = "00082";
        cand[i].slug = "cua-nam";
        cand[i].name = "Phường Cửa Nam";
        cands[i] = &cand[i];
    }
    return c;
}

static void refused(const Cpm__Complaint *c, int code, const char *field)
{
    cpm_error_t e = {0};
    assert_int_equal(cpm_fields_complaint(c, &e), code);
    assert_string_equal(e.field, field);
}

static void ok(const Cpm__Complaint *c)
{
    cpm_error_t e = {0};
    int rc = cpm_fields_complaint(c, &e);
    if (rc)
        fail_msg("%s: %s", e.field, e.message);
}

static void test_unit_placement(void **state)
{
    (void)state;
    Cpm__Placement p;
    Cpm__Complaint c = base(&p);
    ok(&c);
    c.placement = NULL; /* a complaint from an intake before placement */
    ok(&c);
    c.placement = &p;
    p.unit_slug = "cua-nam"; /* the area must be the unit's */
    refused(&c, CPM_E_INVALID, "placement.unit_slug");
    p.unit_slug = "hoan-kiem";
    p.method = "guess";
    refused(&c, CPM_E_INVALID, "placement.method");
    p.method = "name";
    p.unit_code = "0007a";
    refused(&c, CPM_E_INVALID, "placement.unit_code");
    p.unit_code = "00070";
    p.generation = "";
    refused(&c, CPM_E_INVALID, "placement.generation");
    p.generation = "2025";
    p.unit_name = "";
    refused(&c, CPM_E_INVALID, "placement.unit_name");
    p.unit_name = "Ph\xc6";
    refused(&c, CPM_E_INVALID, "placement.unit_name");
    p.unit_name = "Phường Hoàn Kiếm";
    c.area = "";
    refused(&c, CPM_E_INVALID, "area"); /* only triage has no area */
}

static void test_triage_placement(void **state)
{
    (void)state;
    Cpm__Placement p;
    Cpm__Complaint c = base(&p);
    c.area = "";
    p.method = "triage";
    p.generation = p.unit_code = p.unit_slug = p.unit_name = "";
    refused(&c, CPM_E_INVALID, "placement.candidates"); /* at least one */
    p.candidates = cands;
    p.n_candidates = 2;
    ok(&c);
    p.n_candidates = 25;
    refused(&c, CPM_E_INVALID, "placement.candidates");
    p.n_candidates = 2;
    cand[1].code = "";
    refused(&c, CPM_E_INVALID, "placement.candidates[1].code");
    cand[1].code = "00082";
    cand[0].slug = "Cua Nam";
    refused(&c, CPM_E_INVALID, "placement.candidates[0].slug");
    cand[0].slug = "cua-nam";
    c.area = "hoan-kiem"; /* triage never has an area */
    refused(&c, CPM_E_INVALID, "area");
    c.area = "";
    p.unit_code = "00070";
    refused(&c, CPM_E_INVALID, "placement.unit_code");
}

static void test_point_and_text(void **state)
{
    (void)state;
    Cpm__Placement p;
    Cpm__Complaint c = base(&p);
    c.lat = 21.0287;
    refused(&c, CPM_E_INVALID, "lat"); /* without has_point */
    c.has_point = true;
    c.lon = 105.8524;
    ok(&c);
    c.lat = NAN;
    refused(&c, CPM_E_INVALID, "lat");
    c.lat = 21.0287;
    c.lon = 180.5;
    refused(&c, CPM_E_INVALID, "lat");
    c.lon = -INFINITY;
    refused(&c, CPM_E_INVALID, "lat");
    c.lon = 105.8524;
    static char big[1100];
    memset(big, 'a', 1025);
    c.location = big;
    refused(&c, CPM_E_TOO_LARGE, "location");
    c.location = "";
    p.written = big;
    refused(&c, CPM_E_TOO_LARGE, "placement.written");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_placement),
        cmocka_unit_test(test_triage_placement),
        cmocka_unit_test(test_point_and_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
