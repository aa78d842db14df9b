/* gw_dash: the coordinators' dashboard pages (each needs a session,
 * gw_auth). Every read of a case goes to routing with the person's grant in
 * on_behalf, so a page shows exactly what that member may see: a case they
 * may not see is 404, as is one that does not exist. Contact details are
 * never in a reply routing sends a gateway, and the pages show no field that
 * could carry them.
 *
 *   GET /dash             overview: map of open cases by ward and commune,
 *                          charts by state and agency, the monitor's figures
 *   GET /dash/cases       list with filters state, agency, area, overdue
 *   GET /dash/case/TICKET  one case with its history
 *   GET /dash/live        live events (EventSource on /dash/events, gw_live)
 *   GET /static/NAME      assets from www_dir (dash.css, dash.js) */
#ifndef GW_DASH_H
#define GW_DASH_H

#include "gw_http.h"

typedef struct gw_dash gw_dash_t;

/* www_dir and the boundaries file are found next to the binary (build tree
 * inside the source tree, or <prefix>/share/cpmesh), or under places_dir. */
int gw_dash_new(gw_dash_t **out, const char *places_dir);
void gw_dash_destroy(gw_dash_t **p);
const char *gw_dash_www(const gw_dash_t *d);

int gw_dash_overview(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);
int gw_dash_cases(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);
int gw_dash_case(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);
int gw_dash_live(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);
int gw_dash_static(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);

#endif
