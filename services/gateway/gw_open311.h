/* gw_open311: Open311 GeoReport v2 under /open311/v2/ (docs/open311.md,
 * docs/protocol.md section 22).
 *
 * Consumers' apps file complaints (POST requests.{json,xml}, with an API key
 * of the city's signed client list, gw_clients) into the city's intake, and
 * anyone reads the public view of cases from routing (GET requests, a
 * request, a token, the services = the deployment's complaint categories).
 * No personal data ever leaves in a reply: routing gives the gateway member
 * only its public view, and the module writes no contact and no description.
 *
 * Threads: handlers run on HTTP threads; the module's lock guards its token
 * store (LMDB under data_dir/open311) and the client list; mesh calls go
 * through gw_mesh (its own lock). */
#ifndef GW_OPEN311_H
#define GW_OPEN311_H

#include "gw_http.h"

#include "cpm_err.h"

typedef struct gw_open311 gw_open311_t;

/* Load categories (cfg->rules), the client list (cfg->gateway_clients, when
 * set) and open the token store. 0, or an error code with err. */
int gw_open311_new(gw_ctx_t *gw, cpm_error_t *err);
void gw_open311_destroy(gw_open311_t **p);

/* Every /open311/v2/ route (the route table points here). */
int gw_open311_handle(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);

/* A refusal made before any handler runs (413, 414, 400 by the HTTP
 * adapter): for a path under /open311/ it is written into rs in the
 * standard's error format (XML when the path ends in .xml) and 1 is
 * returned; else 0 and rs is untouched. */
int gw_open311_refusal(const char *path, int status, const char *why, gw_resp_t *rs);

#endif
