/* cpmesh-gateway: the mesh on the web (issue 11). An HTTP service
 * (libmicrohttpd, gw_server) that is itself a registry member: Open311
 * GeoReport v2 for consumers' apps, /metrics for Prometheus, and the
 * coordinators' dashboard. It speaks the signed protocol to the rest of the
 * mesh through gw_mesh (its own cpm_client) and the subscriber; it keeps no
 * case data of its own.
 *
 *   cpmesh-gateway --config gateway.yaml   (needs http_bind: host:port) */
#include "cpm_log.h"
#include "cpm_retention.h"
#include "cpm_service.h"

#include "gw_auth.h"
#include "gw_ctx.h"
#include "gw_dash.h"
#include "gw_live.h"
#include "gw_open311.h"
#include "gw_prom.h"
#include "gw_routes.h"
#include "gw_server.h"

#include <stdlib.h>
#include <string.h>

struct cpm_svc {
    gw_ctx_t gw;
    gw_server_t *http;
};

static void fini(cpm_svc_t **p)
{
    if (!p || !*p)
        return;
    cpm_svc_t *s = *p;
    if (s->gw.live)
        gw_live_stop(s->gw.live); /* ends the event streams, so the server can stop */
    gw_server_destroy(&s->http);  /* first: no handler runs after this */
    gw_live_destroy(&s->gw.live); /* the dashboard (gw_auth, gw_dash, gw_live) */
    gw_dash_destroy(&s->gw.dash);
    gw_auth_destroy(&s->gw.auth);
    gw_open311_destroy(&s->gw.open311);
    gw_prom_destroy(&s->gw.prom);
    gw_mesh_destroy(&s->gw.mesh);
    gw_mesh_destroy(&s->gw.mesh311);
    cpm_metrics_destroy(&s->gw.pending);
    pthread_mutex_destroy(&s->gw.count_lock);
    free(s);
    *p = NULL;
}

static int init(cpm_server_t *srv, cpm_svc_t **out)
{
    cpm_svc_t *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    pthread_mutex_init(&s->gw.count_lock, NULL);
    s->gw.cfg = cpm_server_config(srv);
    s->gw.pending = cpm_metrics_new();
    cpm_error_t err = {0};
    if (!s->gw.pending ||
        gw_mesh_new(&s->gw.mesh, cpm_server_zctx(srv), s->gw.cfg, cpm_server_identity(srv), &err) !=
            0 ||
        gw_mesh_new_as(&s->gw.mesh311, cpm_server_zctx(srv), s->gw.cfg, cpm_server_identity(srv),
                       "gateway.open311", &err) != 0 ||
        gw_auth_new(&s->gw.auth) != 0 || gw_dash_new(&s->gw.dash, s->gw.cfg->places_dir) != 0 ||
        gw_live_new(&s->gw.live, cpm_server_zctx(srv), s->gw.cfg, cpm_server_identity(srv)) != 0 ||
        gw_open311_new(&s->gw, &err) != 0 || gw_prom_new(&s->gw.prom, srv, &err) != 0 ||
        gw_server_new(&s->http, s->gw.cfg->http_bind, gw_routes, &s->gw, &err) != 0) {
        cpm_error("gateway: %s", err.message[0] ? err.message : "out of memory");
        fini(&s);
        return -1;
    }
    *out = s;
    return 0;
}

static void registry_changed(cpm_svc_t *s, cpm_server_t *srv)
{
    gw_mesh_reload(s->gw.mesh);
    gw_mesh_reload(s->gw.mesh311);
    gw_live_reload(s->gw.live);
    gw_prom_registry_changed(s->gw.prom, srv);
}

static void tick(cpm_svc_t *s, cpm_server_t *srv)
{
    gw_count_flush(&s->gw, cpm_server_metrics(srv));
    gw_live_tick(s->gw.live);
    gw_prom_tick(s->gw.prom, srv);
}

/* CPM_RETENTION_DB: the server's tick sweeps dead letters in every service. */
static const char *const databases[] = {CPM_RETENTION_DB, NULL};
static const char *const requires[] = {"http_bind", "rules", NULL};
static const cpm_svc_request_t requests[] = {{0}};

static const cpm_service_t gateway = {
    .name = "gateway",
    .databases = databases,
    .config_requires = requires,
    .requests = requests,
    .init = init,
    .fini = fini,
    .registry_changed = registry_changed,
    .tick = tick,
};

CPM_SERVICE_MAIN(gateway)
