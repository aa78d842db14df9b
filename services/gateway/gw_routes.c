/* gw_routes: see gw_routes.h. More specific paths come first: the first
 * matching path answers. */
#include "gw_routes.h"

#include "gw_auth.h"
#include "gw_ctx.h"
#include "gw_dash.h"
#include "gw_dash_form.h"
#include "gw_live.h"
#include "gw_open311.h"
#include "gw_prom.h"

#include <string.h>

/* GET /healthz: the gateway itself is up (no mesh call). */
static int healthz(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    (void)gw, (void)rq;
    return gw_resp_text(rs, 200, "ok");
}

/* GET /: people arrive at the URL up prints; the dashboard (its login when
 * there is no session) is the gateway's front page. */
static int front(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    (void)gw, (void)rq;
    gw_resp_header(rs, "Location", "/dash");
    return gw_resp_text(rs, 302,
                        "the dashboard is at /dash; Open311 at /open311/v2/discovery.json");
}

const gw_route_t gw_routes[] = {
    {"GET", "/healthz", healthz},
    {"GET", "/", front},
    /* Open311 GeoReport v2 (gw_open311.h) */
    {NULL, "/open311/v2/*", gw_open311_handle},
    /* /metrics (gw_prom.h) */
    {"GET", "/metrics", gw_prom_handle},
    /* the dashboard, its login and its assets (gw_auth.h, gw_dash.h, gw_live.h) */
    {"GET", "/login", gw_auth_login_page},
    {"POST", "/login", gw_auth_login_post},
    {"POST", "/logout", gw_auth_logout_post},
    {"GET", "/dash/events", gw_live_events},
    {"GET", "/dash/cases", gw_dash_cases},
    {"GET", "/dash/case/*", gw_dash_case},
    {"GET", "/dash/live", gw_dash_live},
    {"GET", "/dash/complaint", gw_dash_form_get},
    {"POST", "/dash/complaint", gw_dash_form_post},
    {"GET", "/dash", gw_dash_overview},
    {"GET", "/static/*", gw_dash_static},
    {NULL, NULL, NULL},
};
