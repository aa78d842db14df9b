/* gw_routes: see gw_routes.h. More specific paths come first: the first
 * matching path answers. */
#include "gw_routes.h"

#include "gw_ctx.h"
#include "gw_prom.h"

#include <string.h>

/* GET /healthz: the gateway itself is up (no mesh call). */
static int healthz(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    (void)gw, (void)rq;
    return gw_resp_text(rs, 200, "ok");
}

const gw_route_t gw_routes[] = {
    {"GET", "/healthz", healthz},
    /* Open311 GeoReport v2 (gw_open311.h) */
    /* /metrics (gw_prom.h) */
    {"GET", "/metrics", gw_prom_handle},
    /* the dashboard, its login and its assets (gw_auth.h, gw_dash.h, gw_live.h) */
    {NULL, NULL, NULL},
};
