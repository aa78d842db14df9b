/* gw_mesh: the gateway's way into the mesh from HTTP threads.
 *
 * It holds its own cpm_client (instance "<node>/gateway.http") and its own
 * copy of the signed registry, so any HTTP thread may call a service while
 * the loop reloads the server's registry. Calls are serialised by the call
 * lock: at most one request in flight from the web side, each with its own
 * timeout. The registry has a lock of its own (readers share it), so what
 * needs only the registry (a login's grant, a member's name or rights)
 * never waits behind a slow call. */
#ifndef GW_MESH_H
#define GW_MESH_H

#include "cpm_client.h"
#include "cpm_config.h"
#include "cpm_registry.h"

typedef struct gw_mesh gw_mesh_t;

int gw_mesh_new(gw_mesh_t **out, void *zctx, const cpm_config_t *cfg, const cpm_identity_t *id,
                cpm_error_t *err);
/* The same with another client instance ("<node>/<instance>"): Open311's
 * own ("gateway.open311"), so its anonymous reads never wait on the lock
 * that logins and the dashboard take. */
int gw_mesh_new_as(gw_mesh_t **out, void *zctx, const cpm_config_t *cfg, const cpm_identity_t *id,
                   const char *instance, cpm_error_t *err);
void gw_mesh_destroy(gw_mesh_t **p);
/* Load the registry file again when its version is newer (main thread, from
 * registry_changed). */
void gw_mesh_reload(gw_mesh_t *m);
/* cpm_client_call under the lock. */
int gw_mesh_call(gw_mesh_t *m, const char *member, const char *service, Cpm__MsgType type,
                 const ProtobufCMessage *req, int timeout_ms, cpm_msg_t *reply, cpm_error_t *err);
/* gw_mesh_call to the member that runs service: for intake the city's node
 * (role city: web complaints get the city's tickets), for any other service
 * the first member that runs it. CPM_E_UNAVAILABLE (field "service") when
 * the registry has none. */
int gw_mesh_call_service(gw_mesh_t *m, const char *service, Cpm__MsgType type,
                         const ProtobufCMessage *req, int timeout_ms, cpm_msg_t *reply,
                         cpm_error_t *err);
/* Run fn with the registry under its read lock (not the call lock);
 * returns fn's result. fn must not call gw_mesh functions. */
int gw_mesh_with(gw_mesh_t *m, int (*fn)(const cpm_registry_t *reg, void *arg), void *arg);
/* This gateway's member id. */
const char *gw_mesh_self(const gw_mesh_t *m);

#endif
