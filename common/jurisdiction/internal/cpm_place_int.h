/* cpm_place_int: the loaded reform data, shared by cpm_place_load.c (CSV
 * files to indexes), cpm_place_name.c (normalised keys), cpm_place_geo.c
 * (boundaries, point in polygon) and cpm_place_resolve.c (the resolution
 * order). Internal: services include cpm_place.h only; tests and the bench
 * use it for the no-prefilter baseline.
 *
 * Layout after load: units, wards and districts each sorted by code (for
 * bsearch); two name indexes sorted by key (the tone-position-insensitive
 * "match" key and the ASCII "loose" key), each entry pointing to a unit of one
 * of the three tables; lineage sorted by old ward (file order kept within a
 * ward); district successors likewise. */
#ifndef CPM_PLACE_INT_H
#define CPM_PLACE_INT_H

#include "cpm_place.h"

#include <stdint.h>

/* Bounds on the data files: a file over them is refused, not truncated. */
#define PLACE_CSV_MAX_BYTES (4u << 20)
#define PLACE_GEO_MAX_BYTES (32u << 20)
#define PLACE_MAX_ROWS 20000
#define PLACE_MAX_VERTICES 2000000
#define PLACE_LINE_MAX 4096
#define PLACE_MAX_WORDS 64

typedef struct {
    char *key;
    uint8_t kind; /* cpm_place_kind_t */
    uint32_t idx; /* into units, wards or districts */
} place_name_t;

typedef struct {
    uint32_t old_idx; /* ward or district */
    uint32_t new_idx; /* unit */
    uint32_t row;     /* file order */
    bool whole;
} place_link_t;

typedef struct {
    uint32_t start, count; /* into geo_pts (pairs lon, lat) */
} place_ring_t;

typedef struct {
    uint32_t ring_start, ring_count; /* into rings; the first is the exterior */
    double minx, miny, maxx, maxy;
} place_poly_t;

typedef struct {
    uint32_t poly_start, poly_count; /* into polys */
    double minx, miny, maxx, maxy;
} place_shape_t;

/* Type words and the city, as match keys computed at load. */
typedef enum {
    TW_NONE = 0,
    TW_PHUONG,
    TW_XA,
    TW_THITRAN,
    TW_QUAN,
    TW_HUYEN,
    TW_THIXA,
    TW_CITY,    /* thành phố, tp */
    TW_HANOI,   /* hà nội, hn */
    TW_COUNTRY, /* việt nam, vn */
} place_tw_t;

struct cpm_places {
    cpm_place_unit_t *units, *wards, *districts;
    size_t nunits, nwards, ndistricts;
    place_name_t *match, *loose;
    size_t nmatch, nloose;
    place_link_t *ward_links, *district_links;
    size_t nward_links, ndistrict_links;
    /* boundaries: shapes[i] is units[i]'s */
    place_shape_t *shapes;
    place_poly_t *polys;
    place_ring_t *rings;
    double *pts;
    size_t npolys, nrings, npts;
};

/* ---- names (cpm_place_name.c) ---- */

/* The words of a text: lower case, NFD, split on anything that is not a
 * letter, digit or combining mark. Per word three forms: match (tone marks
 * moved to the end of the word, so "hoà" == "hòa"), loose (ASCII: marks
 * dropped, đ -> d) and display (NFD, to be recomposed). */
typedef struct {
    size_t n;
    struct {
        uint16_t m_off, m_len, l_off, l_len, d_off, d_len;
        bool ascii; /* the input word had no mark and no non-ASCII letter */
    } w[PLACE_MAX_WORDS];
    char m[CPM_PLACE_TEXT_MAX * 2], l[CPM_PLACE_TEXT_MAX * 2], d[CPM_PLACE_TEXT_MAX * 2];
} place_words_t;

/* 0, or -1 when s is not UTF-8, too long, or has too many words. */
int place_words(const char *s, size_t n, place_words_t *out);
/* Join words [a, b) into a key: match or loose form, or NFC display. 0 or -1. */
int place_key_match(const place_words_t *w, size_t a, size_t b, char *out, size_t cap);
int place_key_loose(const place_words_t *w, size_t a, size_t b, char *out, size_t cap);
int place_key_display(const place_words_t *w, size_t a, size_t b, char *out, size_t cap);
/* Both keys of a whole name ("Hoàn Kiếm"): 0 or -1. */
int place_name_keys(const char *name, char *match, size_t mcap, char *loose, size_t lcap);
/* The type word or city word(s) starting at word i: its class, and in *len
 * how many words it takes (1 or 2); *weak is true when it is a plain ASCII
 * spelling that may also begin a name ("phuong" in "Phuong Liet"). */
place_tw_t place_type_word(const place_words_t *w, size_t i, size_t *len, bool *weak);
/* Levenshtein distance of two byte strings, capped at cap. */
size_t place_edit_distance(const char *a, const char *b, size_t cap);

/* ---- lookups (cpm_place_load.c) ---- */

/* The entries of index (match or loose) whose key equals key: first index
 * and count. */
size_t place_names_find(const place_name_t *index, size_t n, const char *key, size_t *first);
/* The links of an old ward or district (index into wards or districts). */
size_t place_links(const cpm_places_t *p, cpm_place_kind_t kind, uint32_t idx,
                   const place_link_t **first);

/* ---- boundaries (cpm_place_geo.c) ---- */

int place_geo_load(cpm_places_t *p, const char *path, cpm_error_t *err);
void place_geo_free(cpm_places_t *p);
/* The unit index containing (lon, lat), or -1. prefilter false skips the
 * bounding boxes: the same answer, slower (the bench's baseline). */
long place_geo_find(const cpm_places_t *p, double lon, double lat, bool prefilter);

#endif
