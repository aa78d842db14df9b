/* gw_server: the gateway's HTTP listener (libmicrohttpd), one thread per
 * connection (so a server-sent-events stream may wait for events), at most
 * GW_CONN_MAX connections and GW_CONN_PER_IP from one address, 30 s of
 * silence closes a connection. Every request is bounded (gw_http.h) before
 * its handler runs; a handler runs under no lock of the server's. */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include "gw_http.h"

#include "cpm_err.h"

#define GW_CONN_MAX 64
#define GW_CONN_PER_IP 32

typedef struct gw_server gw_server_t;

/* Listen on bind ("host:port"; port 0 picks one) and serve routes with gw.
 * 0, or an error code with err naming the field "http_bind". */
int gw_server_new(gw_server_t **out, const char *bind, const gw_route_t *routes, gw_ctx_t *gw,
                  cpm_error_t *err);
/* The port it listens on. */
int gw_server_port(const gw_server_t *s);
/* Requests refused before a handler (too big, too many headers, ...). */
unsigned long gw_server_refused(const gw_server_t *s);
void gw_server_destroy(gw_server_t **p);

#endif
