/* monitor_html: the report as one self-contained HTML file: figures, bar
 * charts and a map of the 126 wards and communes as inline SVG (no script,
 * no network), each unit shaded by its complaints in the period.
 *
 * The map is made once from the jurisdiction data's boundaries.geojson
 * (FeatureCollection of MultiPolygon/Polygon features with properties.slug),
 * projected equirectangularly (longitude scaled by cos of the mean latitude)
 * into an 800-unit-wide SVG. Shading: 5 classes of blue by count relative to
 * the busiest unit (MON_HTML_SHADES), grey for none. No population figures
 * are in the data, so the map shades by count. */
#ifndef MONITOR_HTML_H
#define MONITOR_HTML_H

#include "monitor_eff.h"
#include "monitor_render.h"

#include <stddef.h>

typedef struct mon_map mon_map_t;

/* 0, or -1 with a sentence in err (file, JSON, or no features). */
int mon_map_load(const char *geojson_path, mon_map_t **out, char *err, size_t errlen);
void mon_map_destroy(mon_map_t **p);
size_t mon_map_units(const mon_map_t *m);

/* The shading: index 0 none, 1..5 lighter to darker. */
extern const char *const MON_HTML_SHADES[6];

/* map may be NULL (the report then says the map is not available). *out is
 * malloc'd. 0 or -1. */
int monitor_render_html(const mon_title_t *t, const mon_eff_t *e, const mon_map_t *map, char **out,
                        size_t *len);

#endif
