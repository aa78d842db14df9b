/* gw_dash_map: the 126 wards and communes (boundaries.geojson of the 2025
 * reform) as inline SVG paths, shaded by a count per unit. Loaded once,
 * read only afterwards (any thread). */
#ifndef GW_DASH_MAP_H
#define GW_DASH_MAP_H

#include "gw_http.h"

#include <stddef.h>

typedef struct gw_map gw_map_t;

/* NULL (logged) when path cannot be read or holds no polygon. */
gw_map_t *gw_map_load(const char *path);
void gw_map_destroy(gw_map_t **p);
size_t gw_map_units(const gw_map_t *m);
/* Append an <svg> of the map; count(slug, arg) gives each unit's number
 * (darker: more; grey: none); each path has a <title> "Name: n". */
void gw_map_svg(const gw_map_t *m, gw_resp_t *rs, long (*count)(const char *slug, void *arg),
                void *arg);

#endif
