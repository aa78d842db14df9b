/* cpm_place_geo: the boundaries of the 126 units (boundaries.geojson) and
 * point in polygon.
 *
 * Each feature is a MultiPolygon (a Polygon is taken as one) of rings of
 * [lon, lat]; the first ring of a polygon is its exterior, the others holes.
 * A point is inside a polygon when a ray from it crosses the polygon's rings
 * an odd number of times (even-odd: holes need no special case), inside a unit
 * when inside any of its polygons. The units tile the city without overlaps,
 * so the first unit that contains the point is the one. Each unit and polygon
 * keeps its bounding box: a point is tested against the rings of only the
 * one or two units whose box holds it. */
#include "cpm_place_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define GEO_FILE "boundaries.geojson"

typedef struct {
    cpm_places_t *p;
    size_t cap_polys, cap_rings, cap_pts;
    cpm_error_t *err;
} geo_build_t;

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap * 2 : 256;
    while (cap2 < need)
        cap2 *= 2;
    void *nv = realloc(*v, cap2 * size);
    if (!nv)
        return -1;
    *v = nv;
    *cap = cap2;
    return 0;
}

static int ring_add(geo_build_t *b, json_t *ring, const char *code, place_poly_t *poly)
{
    cpm_places_t *p = b->p;
    size_t n = json_is_array(ring) ? json_array_size(ring) : 0;
    if (n < 4)
        return cpm_error_set(b->err, CPM_E_INVALID, GEO_FILE,
                             "feature %s: a ring has fewer than 4 positions", code);
    if (p->npts / 2 + n > PLACE_MAX_VERTICES)
        return cpm_error_set(b->err, CPM_E_TOO_LARGE, GEO_FILE, "more than %d vertices",
                             PLACE_MAX_VERTICES);
    if (grow((void **)&p->pts, &b->cap_pts, p->npts + 2 * n, sizeof *p->pts) ||
        grow((void **)&p->rings, &b->cap_rings, p->nrings + 1, sizeof *p->rings))
        return cpm_error_set(b->err, CPM_E_INTERNAL, GEO_FILE, "out of memory");
    place_ring_t *r = &p->rings[p->nrings++];
    r->start = (uint32_t)(p->npts / 2);
    r->count = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        json_t *pos = json_array_get(ring, i);
        json_t *x = json_array_get(pos, 0), *y = json_array_get(pos, 1);
        double lon = json_number_value(x), lat = json_number_value(y);
        if (!json_is_number(x) || !json_is_number(y) || !isfinite(lon) || !isfinite(lat) ||
            lon < -180 || lon > 180 || lat < -90 || lat > 90)
            return cpm_error_set(b->err, CPM_E_INVALID, GEO_FILE,
                                 "feature %s: position %zu is not [lon, lat] in degrees", code, i);
        p->pts[p->npts++] = lon;
        p->pts[p->npts++] = lat;
        if (lon < poly->minx)
            poly->minx = lon;
        if (lon > poly->maxx)
            poly->maxx = lon;
        if (lat < poly->miny)
            poly->miny = lat;
        if (lat > poly->maxy)
            poly->maxy = lat;
    }
    const double *first = &p->pts[2 * r->start], *last = &p->pts[2 * (r->start + n - 1)];
    if (first[0] != last[0] || first[1] != last[1])
        return cpm_error_set(b->err, CPM_E_INVALID, GEO_FILE, "feature %s: a ring is not closed",
                             code);
    return 0;
}

static int poly_add(geo_build_t *b, json_t *rings, const char *code, place_shape_t *shape)
{
    cpm_places_t *p = b->p;
    if (!json_is_array(rings) || json_array_size(rings) == 0)
        return cpm_error_set(b->err, CPM_E_INVALID, GEO_FILE, "feature %s: a polygon has no ring",
                             code);
    if (grow((void **)&p->polys, &b->cap_polys, p->npolys + 1, sizeof *p->polys))
        return cpm_error_set(b->err, CPM_E_INTERNAL, GEO_FILE, "out of memory");
    place_poly_t poly = {.ring_start = (uint32_t)p->nrings,
                         .minx = INFINITY,
                         .miny = INFINITY,
                         .maxx = -INFINITY,
                         .maxy = -INFINITY};
    size_t i;
    json_t *ring;
    json_array_foreach(rings, i, ring)
    {
        int rc = ring_add(b, ring, code, &poly);
        if (rc)
            return rc;
    }
    poly.ring_count = (uint32_t)json_array_size(rings);
    p->polys[p->npolys++] = poly;
    shape->poly_count++;
    shape->minx = fmin(shape->minx, poly.minx);
    shape->miny = fmin(shape->miny, poly.miny);
    shape->maxx = fmax(shape->maxx, poly.maxx);
    shape->maxy = fmax(shape->maxy, poly.maxy);
    return 0;
}

static int feature_add(geo_build_t *b, json_t *feat, size_t fi)
{
    cpm_places_t *p = b->p;
    json_t *props = json_object_get(feat, "properties");
    json_t *geom = json_object_get(feat, "geometry");
    const char *code = json_string_value(json_object_get(props, "code"));
    if (!code)
        code = json_string_value(json_object_get(feat, "id"));
    if (!code)
        return cpm_error_set(b->err, CPM_E_INVALID, GEO_FILE, "feature %zu has no code", fi);
    const cpm_place_unit_t *u = cpm_place_unit_by_code(p, CPM_PLACE_GEN_2025, code);
    if (!u)
        return cpm_error_set(b->err, CPM_E_INVALID, GEO_FILE,
                             "feature %zu: code %.16s is not a unit of communes.csv", fi, code);
    place_shape_t *shape = &p->shapes[u - p->units];
    if (shape->poly_count)
        return cpm_error_set(b->err, CPM_E_INVALID, GEO_FILE,
                             "feature %zu: unit %s has a second boundary", fi, code);
    const char *type = json_string_value(json_object_get(geom, "type"));
    json_t *coords = json_object_get(geom, "coordinates");
    bool multi = type && strcmp(type, "MultiPolygon") == 0;
    if (!type || (!multi && strcmp(type, "Polygon") != 0) || !json_is_array(coords) ||
        json_array_size(coords) == 0)
        return cpm_error_set(b->err, CPM_E_INVALID, GEO_FILE,
                             "feature %s: geometry is not a Polygon or MultiPolygon", code);
    shape->poly_start = (uint32_t)p->npolys;
    shape->minx = shape->miny = INFINITY;
    shape->maxx = shape->maxy = -INFINITY;
    if (!multi)
        return poly_add(b, coords, code, shape);
    size_t i;
    json_t *poly;
    json_array_foreach(coords, i, poly)
    {
        int rc = poly_add(b, poly, code, shape);
        if (rc)
            return rc;
    }
    return 0;
}

int place_geo_load(cpm_places_t *p, const char *path, cpm_error_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cpm_error_set(err, CPM_E_NOT_FOUND, GEO_FILE, "cannot open %s", path);
    if ((unsigned long long)st.st_size > PLACE_GEO_MAX_BYTES)
        return cpm_error_set(err, CPM_E_TOO_LARGE, GEO_FILE, "%s has %lld bytes, over %u", path,
                             (long long)st.st_size, PLACE_GEO_MAX_BYTES);
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return cpm_error_set(err, CPM_E_INVALID, GEO_FILE, "line %d: %s", je.line, je.text);
    geo_build_t b = {.p = p, .err = err};
    int rc = 0;
    json_t *feats = json_object_get(doc, "features");
    const char *type = json_string_value(json_object_get(doc, "type"));
    if (!type || strcmp(type, "FeatureCollection") != 0 || !json_is_array(feats))
        rc = cpm_error_set(err, CPM_E_INVALID, GEO_FILE, "not a FeatureCollection with features");
    else if (!(p->shapes = calloc(p->nunits, sizeof *p->shapes)))
        rc = cpm_error_set(err, CPM_E_INTERNAL, GEO_FILE, "out of memory");
    size_t i;
    json_t *feat;
    if (rc == 0)
        json_array_foreach(feats, i, feat)
        {
            if ((rc = feature_add(&b, feat, i)) != 0)
                break;
        }
    for (size_t u = 0; rc == 0 && u < p->nunits; u++)
        if (p->shapes[u].poly_count == 0)
            rc = cpm_error_set(err, CPM_E_INVALID, GEO_FILE, "unit %s has no boundary",
                               p->units[u].code);
    json_decref(doc);
    return rc;
}

void place_geo_free(cpm_places_t *p)
{
    free(p->shapes);
    free(p->polys);
    free(p->rings);
    free(p->pts);
    p->shapes = NULL;
    p->polys = NULL;
    p->rings = NULL;
    p->pts = NULL;
}

/* Crossings of a horizontal ray to the right of (x, y) with one ring; the
 * half-open test (yi > y) != (yj > y) counts a vertex on the ray once. */
static bool ring_odd(const double *pts, const place_ring_t *r, double x, double y)
{
    bool in = false;
    const double *v = pts + 2 * r->start;
    for (uint32_t i = 0, j = r->count - 1; i < r->count; j = i++) {
        double xi = v[2 * i], yi = v[2 * i + 1], xj = v[2 * j], yj = v[2 * j + 1];
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
            in = !in;
    }
    return in;
}

static bool poly_contains(const cpm_places_t *p, const place_poly_t *poly, double x, double y,
                          bool prefilter)
{
    if (prefilter && (x < poly->minx || x > poly->maxx || y < poly->miny || y > poly->maxy))
        return false;
    bool in = false;
    for (uint32_t k = 0; k < poly->ring_count; k++)
        if (ring_odd(p->pts, &p->rings[poly->ring_start + k], x, y))
            in = !in;
    return in;
}

long place_geo_find(const cpm_places_t *p, double lon, double lat, bool prefilter)
{
    if (!isfinite(lon) || !isfinite(lat))
        return -1;
    for (size_t u = 0; u < p->nunits; u++) {
        const place_shape_t *s = &p->shapes[u];
        if (prefilter && (lon < s->minx || lon > s->maxx || lat < s->miny || lat > s->maxy))
            continue;
        for (uint32_t k = 0; k < s->poly_count; k++)
            if (poly_contains(p, &p->polys[s->poly_start + k], lon, lat, prefilter))
                return (long)u;
    }
    return -1;
}

const cpm_place_unit_t *cpm_place_at(const cpm_places_t *p, double lat, double lon)
{
    if (!p)
        return NULL;
    long u = place_geo_find(p, lon, lat, true);
    return u < 0 ? NULL : &p->units[u];
}
