/* monitor_html: the self-contained HTML report (see monitor_html.h). */
#include "monitor_html.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const MON_HTML_SHADES[6] = {"#e0e0e0", "#c6dbef", "#9ecae1",
                                        "#6baed6", "#3182bd", "#08519c"};

typedef struct {
    char slug[MON_KEY], name[96];
    char *path; /* SVG path data */
} unit_t;

struct mon_map {
    unit_t *u;
    size_t n;
};

size_t mon_map_units(const mon_map_t *m)
{
    return m ? m->n : 0;
}

void mon_map_destroy(mon_map_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->n; i++)
        free((*p)->u[i].path);
    free((*p)->u);
    free(*p);
    *p = NULL;
}

typedef struct {
    double minx, maxx, miny, maxy, k, coslat;
} proj_t;

/* Each ring of a Polygon (array of rings) or MultiPolygon (array of those). */
static void walk(json_t *coords, int depth, void (*fn)(void *, json_t *ring), void *arg)
{
    size_t i;
    json_t *x;
    if (depth == 0) {
        fn(arg, coords);
        return;
    }
    json_array_foreach(coords, i, x) walk(x, depth - 1, fn, arg);
}

static void bounds(void *arg, json_t *ring)
{
    proj_t *p = arg;
    size_t i;
    json_t *pt;
    json_array_foreach(ring, i, pt)
    {
        double x = json_number_value(json_array_get(pt, 0)),
               y = json_number_value(json_array_get(pt, 1));
        p->minx = fmin(p->minx, x), p->maxx = fmax(p->maxx, x);
        p->miny = fmin(p->miny, y), p->maxy = fmax(p->maxy, y);
    }
}

typedef struct {
    const proj_t *p;
    FILE *o;
} draw_t;

static void draw(void *arg, json_t *ring)
{
    draw_t *d = arg;
    size_t i;
    json_t *pt;
    json_array_foreach(ring, i, pt)
    {
        double x = (json_number_value(json_array_get(pt, 0)) - d->p->minx) * d->p->k * d->p->coslat,
               y = (d->p->maxy - json_number_value(json_array_get(pt, 1))) * d->p->k;
        fprintf(d->o, "%s%.1f %.1f", i ? "L" : "M", x, y);
    }
    fputc('Z', d->o);
}

static int depth_of(const char *type)
{
    return !strcmp(type, "MultiPolygon") ? 2 : !strcmp(type, "Polygon") ? 1 : -1;
}

int mon_map_load(const char *path, mon_map_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        snprintf(err, errlen, "%s: %s (line %d)", path, je.text, je.line);
        return -1;
    }
    json_t *feats = json_object_get(root, "features");
    size_t n = json_array_size(feats), i;
    json_t *f;
    proj_t p = {INFINITY, -INFINITY, INFINITY, -INFINITY, 0, 1};
    json_array_foreach(feats, i, f)
    {
        json_t *g = json_object_get(f, "geometry");
        int d = depth_of(json_string_value(json_object_get(g, "type")) ?: "");
        if (d > 0)
            walk(json_object_get(g, "coordinates"), d, bounds, &p);
    }
    mon_map_t *m = calloc(1, sizeof *m);
    if (!m || n == 0 || !isfinite(p.minx) || !(m->u = calloc(n, sizeof *m->u))) {
        snprintf(err, errlen, "%s: no features", path);
        free(m);
        json_decref(root);
        return -1;
    }
    p.coslat = cos((p.miny + p.maxy) / 2 * M_PI / 180);
    p.k = 800 / ((p.maxx - p.minx) * p.coslat);
    json_array_foreach(feats, i, f)
    {
        json_t *props = json_object_get(f, "properties"), *g = json_object_get(f, "geometry");
        const char *slug = json_string_value(json_object_get(props, "slug"));
        const char *name = json_string_value(json_object_get(props, "name"));
        int d = depth_of(json_string_value(json_object_get(g, "type")) ?: "");
        if (!slug || d < 0)
            continue;
        unit_t *u = &m->u[m->n];
        snprintf(u->slug, sizeof u->slug, "%s", slug);
        snprintf(u->name, sizeof u->name, "%s", name ? name : slug);
        size_t len;
        FILE *o = open_memstream(&u->path, &len);
        if (!o)
            break;
        draw_t dr = {&p, o};
        walk(json_object_get(g, "coordinates"), d, draw, &dr);
        fclose(o);
        m->n++;
    }
    json_decref(root);
    *out = m;
    return 0;
}

/* Text for HTML: &, <, >, " escaped. */
static void esc(FILE *o, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '&':
            fputs("&amp;", o);
            break;
        case '<':
            fputs("&lt;", o);
            break;
        case '>':
            fputs("&gt;", o);
            break;
        case '"':
            fputs("&quot;", o);
            break;
        default:
            fputc(*s, o);
        }
}

static void bars(FILE *o, const char *title, const mon_count_t *c, size_t n)
{
    uint64_t max = 1;
    for (size_t i = 0; i < n; i++)
        max = c[i].n > max ? c[i].n : max;
    fprintf(o, "<h2>");
    esc(o, title);
    fprintf(o, "</h2>\n<svg width=\"620\" height=\"%zu\" role=\"img\">\n", 24 * (n ? n : 1) + 4);
    for (size_t i = 0; i < n; i++) {
        double w = 400.0 * (double)c[i].n / (double)max;
        fprintf(o, "<text x=\"0\" y=\"%zu\" font-size=\"13\">", 24 * i + 16);
        esc(o, c[i].key);
        fprintf(o,
                "</text><rect x=\"180\" y=\"%zu\" width=\"%.1f\" height=\"18\" fill=\"#3182bd\"/>"
                "<text x=\"%.1f\" y=\"%zu\" font-size=\"13\">%llu</text>\n",
                24 * i + 3, w, 186 + w, 24 * i + 16, (unsigned long long)c[i].n);
    }
    if (!n)
        fprintf(o, "<text x=\"0\" y=\"16\" font-size=\"13\">none</text>\n");
    fprintf(o, "</svg>\n");
}

static uint64_t unit_count(const mon_eff_t *e, const char *slug)
{
    char key[MON_KEY + 8];
    snprintf(key, sizeof key, "2025:%s", slug);
    for (size_t i = 0; i < e->n_areas; i++)
        if (!strcmp(e->areas[i].key, key))
            return e->areas[i].n;
    return 0;
}

static void map_svg(FILE *o, const mon_eff_t *e, const mon_map_t *m)
{
    fprintf(o, "<h2>Complaints by ward and commune (2025 units, by count)</h2>\n");
    if (!m || !m->n) {
        fprintf(o, "<p>The map is not available (no boundaries file).</p>\n");
        return;
    }
    uint64_t max = 0;
    for (size_t i = 0; i < m->n; i++) {
        uint64_t c = unit_count(e, m->u[i].slug);
        max = c > max ? c : max;
    }
    fprintf(o, "<svg id=\"map\" viewBox=\"0 0 800 900\" width=\"800\" height=\"900\" "
               "role=\"img\">\n");
    for (size_t i = 0; i < m->n; i++) {
        uint64_t c = unit_count(e, m->u[i].slug);
        int cls = c == 0 ? 0 : 1 + (int)((c * 5 - 1) / (max ? max : 1));
        if (cls > 5)
            cls = 5;
        fprintf(o, "<path d=\"%s\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"0.6\"><title>",
                m->u[i].path, MON_HTML_SHADES[cls]);
        esc(o, m->u[i].name);
        fprintf(o, ": %llu</title></path>\n", (unsigned long long)c);
    }
    fprintf(o, "</svg>\n<p>");
    for (int k = 0; k < 6; k++)
        fprintf(o, "<span style=\"background:%s\">&nbsp;&nbsp;&nbsp;</span> %s ",
                MON_HTML_SHADES[k],
                k == 0   ? "none"
                : k == 5 ? "most"
                         : "");
    fprintf(o, " (busiest unit: %llu)</p>\n", (unsigned long long)max);
}

int monitor_render_html(const mon_title_t *t, const mon_eff_t *e, const mon_map_t *map, char **out,
                        size_t *len)
{
    FILE *o = open_memstream(out, len);
    if (!o)
        return -1;
    fprintf(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<title>Consumer protection effectiveness ");
    esc(o, t->period);
    fprintf(o, "</title><style>body{font-family:sans-serif;margin:24px;background:#fff}"
               "td{padding:2px 12px}</style></head><body>\n<h1>Effectiveness ");
    esc(o, t->period);
    fprintf(o, "</h1>\n<p>Agency: ");
    esc(o, t->agency && *t->agency ? t->agency : "all");
    fprintf(o, "; area: ");
    esc(o, t->area && *t->area ? t->area : "the city");
    fprintf(o, "; from %llu events. Times are in working days.</p>\n<table>\n",
            (unsigned long long)t->events_seen);
    char *csv = NULL;
    size_t cl;
    /* The figures as the CSV form has them, one table row each. */
    if (monitor_render("csv", t, e, &csv, &cl) == 0) {
        for (char *line = strtok(csv, "\n"); line; line = strtok(NULL, "\n"))
            if (!strncmp(line, "figure,", 7)) {
                char *comma = strrchr(line, ',');
                *comma = 0;
                fprintf(o, "<tr><td>");
                esc(o, line + 7);
                fprintf(o, "</td><td>");
                esc(o, comma + 1);
                fprintf(o, "</td></tr>\n");
            }
        free(csv);
    }
    fprintf(o, "</table>\n");
    map_svg(o, e, map);
    bars(o, "Complaints by channel", e->channels, e->n_channels);
    bars(o, "Complaints by category", e->categories, e->n_categories);
    static const char *const OUT[MON_OUTCOMES] = {
        "",      "mediated",     "refunded",  "replaced_or_repaired",
        "fined", "no_violation", "withdrawn", "referred"};
    mon_count_t oc[MON_OUTCOMES];
    size_t n = 0;
    for (size_t i = 1; i < MON_OUTCOMES; i++) {
        snprintf(oc[n].key, sizeof oc[n].key, "%s", OUT[i]);
        oc[n++].n = e->outcomes[i];
    }
    bars(o, "Outcomes", oc, n);
    fprintf(o, "</body></html>\n");
    return fclose(o) == 0 ? 0 : -1;
}
