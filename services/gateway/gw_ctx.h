/* gw_ctx: the gateway's state, shared by its modules (internal to the
 * gateway service).
 *
 * Threads: the cpm_server loop runs in the main thread (ticks, health,
 * registry reloads); libmicrohttpd runs each HTTP connection in a thread of
 * its own. HTTP handlers never touch the server (its registry is freed on
 * reload, its store belongs to the loop). They reach the mesh only through
 * gw_mesh (its own client and its own copy of the registry, under its lock),
 * and keep what they must remember in stores of their own (opened by their
 * module, used under their module's lock). Each module below is opaque and
 * owns its locking. */
#ifndef GW_CTX_H
#define GW_CTX_H

#include "cpm_config.h"
#include "cpm_keys.h"
#include "cpm_metrics.h"

#include "gw_http.h"
#include <pthread.h>
#include "gw_mesh.h"

typedef struct gw_open311 gw_open311_t; /* gw_open311.h: Open311 GeoReport v2 */
typedef struct gw_auth gw_auth_t;       /* gw_auth.h: logins, sessions, CSRF */
typedef struct gw_live gw_live_t;       /* gw_live.h: server-sent events */
typedef struct gw_prom gw_prom_t;       /* gw_prom.h: /metrics */
typedef struct gw_dash gw_dash_t;       /* gw_dash.h: the dashboard's pages, map, assets */

struct gw_ctx {
    const cpm_config_t *cfg; /* the service's configuration (read only) */
    pthread_mutex_t count_lock;
    cpm_metrics_t *pending; /* counted by HTTP threads, moved to health by the tick */
    gw_mesh_t *mesh;        /* the mesh, as this gateway's member */
    gw_mesh_t *mesh311;     /* the same for Open311 only (its own client and lock) */
    const char *www_dir;    /* the dashboard's assets (data_dir/../www or installed) */
    gw_open311_t *open311;
    gw_auth_t *auth;
    gw_live_t *live;
    gw_prom_t *prom;
    gw_dash_t *dash;
};

/* Count name by n in the service's health counters (any thread; they
 * reach the health reply at the next tick). */
void gw_count(gw_ctx_t *gw, const char *name, uint64_t n);
/* Move what gw_count collected into into (the server's counters; main thread). */
void gw_count_flush(gw_ctx_t *gw, cpm_metrics_t *into);

#endif
