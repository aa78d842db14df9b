/* cpm_place: where a complaint belongs in Hanoi, from what a consumer wrote
 * and an optional point.
 *
 * Hanoi's local level changed on 1 July 2025: the 30 districts and their 526
 * wards (generation "2024", in force until 2025-06-30) became 126 wards and
 * communes directly under the city (generation "2025"). People still write
 * old names, without diacritics, with or without type words ("P.", "phường",
 * "xã", "Q.", "quận", "huyện", "thị xã", "TX", ...), in NFC or NFD, with the
 * old or new tone placement ("Hoà"/"Hòa"), or give an address line. This
 * module loads the reform data (deploy/hanoi/reform-2025: see its README) and
 * answers, in this order (the data README, "How a routing system should use
 * it"):
 *
 *   1. POINT:   a point inside one of the 126 boundaries decides, whatever the
 *               text says. A point outside every unit falls through to the text.
 *   2. NAME:    a current unit's name (or its other tone spelling). A bare name
 *               (no "phường"/"xã" word) that is also a former district's name
 *               ("Hoàn Kiếm", "Sóc Sơn", ...) is ambiguous: TRIAGE, with the
 *               current unit first among the candidates.
 *   3. LINEAGE: an old ward that went whole into one current unit.
 *   4. TRIAGE:  an old ward that was split, or an old district: every current
 *               unit that took part of it is a candidate. Never a silent guess.
 *   5. UNKNOWN: nothing matched; the three nearest known names (edit distance
 *               on the ASCII key) are given for the error sentence.
 *
 * Codes are reused across the generations (new 00004 is Ba Đình, old 00004
 * was Trúc Bạch): every code this module hands out comes with its generation.
 *
 * Ownership: cpm_places_load allocates; cpm_places_destroy frees. Pointers to
 * units returned by the lookups stay valid until then. The places are
 * read-only after load, so one loaded set may be shared by threads. Resolution
 * allocates only in libunistring's normalisation of the text (freed before it
 * returns). */
#ifndef CPM_PLACE_H
#define CPM_PLACE_H

#include "cpm_err.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct cpm_places cpm_places_t;

#define CPM_PLACE_GEN_2024 "2024" /* 30 districts + 526 wards, until 2025-06-30 */
#define CPM_PLACE_GEN_2025 "2025" /* 126 wards and communes, from 2025-07-01 */

#define CPM_PLACE_CODE_MAX 8        /* "00070" + NUL, with room */
#define CPM_PLACE_SLUG_MAX 64       /* slug bytes + NUL */
#define CPM_PLACE_NAME_MAX 96       /* UTF-8 name bytes + NUL */
#define CPM_PLACE_KEY_MAX 192       /* normalised text bytes + NUL */
#define CPM_PLACE_MAX_CANDIDATES 24 /* the largest set in the data is 14 */
#define CPM_PLACE_MAX_SUGGESTIONS 3 /* nearest names for an unknown place */
#define CPM_PLACE_TEXT_MAX 1024     /* longer location texts are refused */
#define CPM_PLACE_MAX_SUCCESSORS 16 /* an old district has at most 13 */

typedef enum {
    CPM_PLACE_UNKNOWN = 0,
    CPM_PLACE_POINT,   /* coordinates inside a boundary */
    CPM_PLACE_NAME,    /* a current unit's name */
    CPM_PLACE_LINEAGE, /* an old ward that went whole into one unit */
    CPM_PLACE_TRIAGE,  /* several candidates: a coordinator decides */
} cpm_place_method_t;

typedef enum {
    CPM_PLACE_KIND_UNIT = 1,     /* generation 2025: phường (ward) or xã (commune) */
    CPM_PLACE_KIND_OLD_WARD,     /* generation 2024: phường, xã or thị trấn */
    CPM_PLACE_KIND_OLD_DISTRICT, /* generation 2024: quận, huyện or thị xã */
} cpm_place_kind_t;

/* A unit of either generation, as the data gives it. */
typedef struct {
    cpm_place_kind_t kind;
    char generation[8];                 /* "2025" or "2024" */
    char code[CPM_PLACE_CODE_MAX];      /* 5 digits (units, wards) or 3 (districts) */
    char slug[CPM_PLACE_SLUG_MAX];      /* unique per generation and kind */
    char name[CPM_PLACE_NAME_MAX];      /* "Hoàn Kiếm" (NFC) */
    char full_name[CPM_PLACE_NAME_MAX]; /* "Phường Hoàn Kiếm" */
    char alt_name[CPM_PLACE_NAME_MAX];  /* the other tone spelling ("Yên Hòa"), or "" */
    char type[16]; /* ward/commune; phường/xã/thị trấn; quận/huyện/thị xã */
    char district_code[CPM_PLACE_CODE_MAX]; /* old wards: their district; else "" */
} cpm_place_unit_t;

/* A candidate of a placement: a unit of generation 2025 (of 2024 after
 * cpm_place_in_generation). */
typedef struct {
    char generation[8];
    char code[CPM_PLACE_CODE_MAX];
    char slug[CPM_PLACE_SLUG_MAX];
    char name[CPM_PLACE_NAME_MAX];
} cpm_place_ref_t;

typedef struct {
    cpm_place_method_t method;
    /* The unit (POINT, NAME, LINEAGE); empty for TRIAGE and UNKNOWN. */
    char generation[8];
    char code[CPM_PLACE_CODE_MAX];
    char slug[CPM_PLACE_SLUG_MAX];
    char name[CPM_PLACE_NAME_MAX];
    /* TRIAGE: the candidate units, the most likely first; n_candidates_total
     * counts them all when more than CPM_PLACE_MAX_CANDIDATES. */
    size_t n_candidates, n_candidates_total;
    cpm_place_ref_t candidates[CPM_PLACE_MAX_CANDIDATES];
    /* The normalised text that decided (NFC, lower case, type words and the
     * city removed), e.g. "hoàn kiếm", and its ASCII loose form "hoan kiem";
     * for POINT, "lat,lon". */
    char key[CPM_PLACE_KEY_MAX];
    char loose[CPM_PLACE_KEY_MAX];
    /* UNKNOWN: the nearest known names, full names of either generation,
     * nearest first (e.g. "Phường Hoàn Kiếm", "Quận Hoàn Kiếm (before 2025-07-01)"). */
    size_t n_suggestions;
    char suggestions[CPM_PLACE_MAX_SUGGESTIONS][CPM_PLACE_NAME_MAX + 32];
    /* One sentence: how it was decided, e.g. "old ward Phường Hàng Bạc (Quận
     * Hoàn Kiếm) went whole into Phường Hoàn Kiếm". */
    char note[320];
    /* The old units of generation 2024 the text names: old wards
     * (named_kind CPM_PLACE_KIND_OLD_WARD; also when a current unit of the
     * same name decided) or old districts (..._OLD_DISTRICT): their codes
     * (n_named 0 otherwise). Used to place in generation 2024
     * (cpm_place_in_generation). */
    cpm_place_kind_t named_kind;
    size_t n_named;
    char named[CPM_PLACE_MAX_CANDIDATES][CPM_PLACE_CODE_MAX];
} cpm_placement_t;

/* Load the reform data from dir (communes.csv, districts-2024.csv,
 * wards-2024.csv, lineage.csv, district-to-communes.csv, boundaries.geojson).
 * Every file is bounded in size and rows; every cross-reference is checked
 * (each lineage row names a known unit and old ward, each unit has exactly
 * one boundary). 0 and *out set; or CPM_E_NOT_FOUND (a file is missing),
 * CPM_E_TOO_LARGE (a file or count over its bound), CPM_E_INVALID (bad
 * content: err->field is the file, err->message starts with "line N"), or
 * CPM_E_INTERNAL (out of memory), with *out NULL and err (may be NULL) set. */
CPM_MUST_CHECK int cpm_places_load(const char *dir, cpm_places_t **out, cpm_error_t *err);
/* Free and set *p to NULL; safe on NULL and twice. */
void cpm_places_destroy(cpm_places_t **p);

/* Place a complaint. text (may be NULL or empty) is what the consumer wrote:
 * a name or an address line ("12 Hàng Bạc, P. Hoàn Kiếm, Q. Hoàn Kiếm, Hà
 * Nội"); has_point says lat/lon (WGS 84 degrees) are given. An address line is
 * split on commas; parts that start with a house number or a street word are
 * skipped; parts with a district type word (or a bare former district name
 * after the first part) serve to tell apart old wards that share a name; the
 * other parts are tried from the first (most specific) on, and the first that
 * places wins; the district parts decide only when nothing else does.
 * "2025:<slug-or-code>" and "2024:<slug-or-code>" name a unit directly.
 * Always fills out (zeroed first) and returns its method: UNKNOWN also for
 * text that is not UTF-8 or longer than CPM_PLACE_TEXT_MAX (note says which). */
cpm_place_method_t cpm_place_resolve(const cpm_places_t *p, const char *text, bool has_point,
                                     double lat, double lon, cpm_placement_t *out);

/* Turn io, a placement by cpm_place_resolve (in the units of 2025), into
 * one in the units of generation (its method returned). "2025", NULL, "" or
 * an unknown generation: io unchanged. "2024" (the 30 districts): an old
 * district named is that district (NAME); old wards named are their
 * district (NAME) or, when same-named wards lie in several, TRIAGE with
 * those districts; a unit of 2025 (by name, point or lineage) is the
 * district its old wards all came from (LINEAGE) or TRIAGE with the
 * districts it took wards from; 2025 candidates become the districts they
 * came from likewise. Candidates and the unit are then of generation 2024;
 * the note says how. UNKNOWN stays UNKNOWN. */
cpm_place_method_t cpm_place_in_generation(const cpm_places_t *p, const char *generation,
                                           cpm_placement_t *io);

/* "point", "name", "lineage", "triage", "unknown". Never NULL. */
const char *cpm_place_method_name(cpm_place_method_t m);

/* Lookups; NULL when there is no such unit. generation is "2025" or "2024";
 * in "2024", a 3-digit code or a slug is a district, a 5-digit code a ward
 * (old wards' slugs are not unique: look them up by code). */
const cpm_place_unit_t *cpm_place_unit_by_code(const cpm_places_t *p, const char *generation,
                                               const char *code);
const cpm_place_unit_t *cpm_place_unit_by_slug(const cpm_places_t *p, const char *generation,
                                               const char *slug);
/* The unit of generation 2025 containing the point, or NULL (outside Hanoi,
 * bad coordinates). Bounding boxes are tested first. */
const cpm_place_unit_t *cpm_place_at(const cpm_places_t *p, double lat, double lon);

/* The units of generation 2025 that took an old ward (5-digit code) or an
 * old district (3-digit code) of generation 2024: up to max into out (may be
 * NULL when max is 0), in the data's order; returns how many there are, or 0
 * for an unknown code. *whole (may be NULL) is true when an old ward went
 * whole into one unit (the reorganization moves its cases there; otherwise
 * they go to triage with these candidates). */
size_t cpm_place_successors(const cpm_places_t *p, const char *old_code,
                            const cpm_place_unit_t **out, size_t max, bool *whole);

/* Counts of the loaded data, for health and logs. */
size_t cpm_place_count(const cpm_places_t *p, cpm_place_kind_t kind);

#endif
