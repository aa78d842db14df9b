/* gw_dash_map: see gw_dash_map.h. An equirectangular projection scaled by
 * cos(latitude) is enough at a city's size. */
#include "gw_dash_map.h"

#include "cpm_log.h"
#include "gw_dash_html.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAP_W 640.0

typedef struct {
    char slug[64], name[96];
    char *d; /* SVG path data */
} unit_t;

struct gw_map {
    unit_t *u;
    size_t n;
    double h;
};

typedef struct {
    double minx, maxx, miny, maxy, k, c;
    char *buf;
    size_t len, cap;
} draw_t;

static void rings(json_t *coords, int depth, void (*fn)(draw_t *, json_t *), draw_t *d)
{
    size_t i;
    json_t *x;
    if (depth == 0) {
        fn(d, coords);
        return;
    }
    json_array_foreach(coords, i, x) rings(x, depth - 1, fn, d);
}

static void extend(draw_t *d, json_t *ring)
{
    size_t i;
    json_t *pt;
    json_array_foreach(ring, i, pt)
    {
        double x = json_number_value(json_array_get(pt, 0)),
               y = json_number_value(json_array_get(pt, 1));
        d->minx = fmin(d->minx, x), d->maxx = fmax(d->maxx, x);
        d->miny = fmin(d->miny, y), d->maxy = fmax(d->maxy, y);
    }
}

static double clamp(double v)
{
    return isnan(v) ? 0 : v < -1e6 ? -1e6 : v > 1e6 ? 1e6 : v;
}

static void path(draw_t *d, json_t *ring)
{
    size_t i;
    json_t *pt;
    json_array_foreach(ring, i, pt)
    {
        if (d->len + 32 > d->cap) {
            size_t cap = d->cap ? d->cap * 2 : 1024;
            char *b = realloc(d->buf, cap);
            if (!b)
                return;
            d->buf = b, d->cap = cap;
        }
        /* A drawing is MAP_W wide: anything far outside it (a broken or
         * hostile file) is clamped, so each point fits the 32 bytes kept. */
        double x = clamp((json_number_value(json_array_get(pt, 0)) - d->minx) * d->c * d->k);
        double y = clamp((d->maxy - json_number_value(json_array_get(pt, 1))) * d->k);
        int n = snprintf(d->buf + d->len, d->cap - d->len, "%s%.1f %.1f", i ? "L" : "M", x, y);
        if (n < 0 || (size_t)n >= d->cap - d->len) {
            d->buf[d->len] = 0; /* cannot happen after the clamp; never step past cap */
            return;
        }
        d->len += (size_t)n;
    }
    if (d->buf && d->len + 2 < d->cap)
        d->buf[d->len++] = 'Z', d->buf[d->len] = 0;
}

static int geometry_depth(json_t *geom)
{
    const char *t = json_string_value(json_object_get(geom, "type"));
    return !t ? -1 : !strcmp(t, "Polygon") ? 1 : !strcmp(t, "MultiPolygon") ? 2 : -1;
}

gw_map_t *gw_map_load(const char *file)
{
    json_error_t je;
    json_t *doc = json_load_file(file, 0, &je);
    json_t *feats = json_object_get(doc, "features");
    gw_map_t *m = calloc(1, sizeof *m);
    size_t n = json_array_size(feats), i;
    if (!doc || !m || !n || !(m->u = calloc(n, sizeof *m->u))) {
        cpm_warn("gateway: no map: %s: %s", file, doc ? "no features" : je.text);
        json_decref(doc);
        free(m);
        return NULL;
    }
    draw_t d = {.minx = 1e9, .maxx = -1e9, .miny = 1e9, .maxy = -1e9};
    json_t *f;
    json_array_foreach(feats, i, f)
    {
        json_t *g = json_object_get(f, "geometry");
        int depth = geometry_depth(g);
        if (depth > 0)
            rings(json_object_get(g, "coordinates"), depth, extend, &d);
    }
    d.c = cos((d.miny + d.maxy) / 2 * M_PI / 180);
    d.k = MAP_W / ((d.maxx - d.minx) * d.c);
    m->h = (d.maxy - d.miny) * d.k;
    json_array_foreach(feats, i, f)
    {
        json_t *g = json_object_get(f, "geometry"), *p = json_object_get(f, "properties");
        int depth = geometry_depth(g);
        if (depth < 0)
            continue;
        unit_t *u = &m->u[m->n];
        snprintf(u->slug, sizeof u->slug, "%s",
                 json_string_value(json_object_get(p, "slug")) ?: "");
        snprintf(u->name, sizeof u->name, "%s",
                 json_string_value(json_object_get(p, "name")) ?: "");
        d.buf = NULL, d.len = d.cap = 0;
        rings(json_object_get(g, "coordinates"), depth, path, &d);
        if (d.buf)
            u->d = d.buf, m->n++;
    }
    json_decref(doc);
    cpm_info("gateway: map of %zu units from %s", m->n, file);
    return m;
}

void gw_map_destroy(gw_map_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->n; i++)
        free((*p)->u[i].d);
    free((*p)->u);
    free(*p);
    *p = NULL;
}

size_t gw_map_units(const gw_map_t *m)
{
    return m ? m->n : 0;
}

static const char *const shades[] = {"#e0e0e0", "#c6dbef", "#9ecae1",
                                     "#6baed6", "#3182bd", "#08519c"};

void gw_map_svg(const gw_map_t *m, gw_resp_t *rs, long (*count)(const char *slug, void *arg),
                void *arg)
{
    long max = 0;
    for (size_t i = 0; i < m->n; i++) {
        long c = count(m->u[i].slug, arg);
        max = c > max ? c : max;
    }
    gw_resp_printf(rs,
                   "<svg class=\"map\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                   "aria-label=\"Open cases by ward and commune\">\n",
                   MAP_W, m->h);
    for (size_t i = 0; i < m->n; i++) {
        long c = count(m->u[i].slug, arg);
        int shade = c <= 0 ? 0 : max <= 1 ? 5 : 1 + (int)((c - 1) * 4 / (max - 1));
        gw_resp_printf(rs,
                       "<path fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"0.6\" d=\"%s\">"
                       "<title>",
                       shades[shade], m->u[i].d);
        gw_html_esc(rs, m->u[i].name);
        gw_resp_printf(rs, ": %ld</title></path>\n", c);
    }
    gw_resp_printf(rs, "</svg>\n");
}
