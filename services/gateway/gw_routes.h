/* gw_routes: every page and endpoint of the gateway, in one table. Each
 * module adds its own lines (its handlers are declared in its header). */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include "gw_http.h"

extern const gw_route_t gw_routes[];

#endif
