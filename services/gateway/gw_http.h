/* gw_http: the gateway's HTTP requests and responses, without sockets.
 *
 * The libmicrohttpd adapter (gw_server) turns each request into a gw_req_t
 * (method, path, decoded query arguments, headers, the whole body, bounded),
 * finds its handler in a route table (gw_http_dispatch) and sends what the
 * handler put in the gw_resp_t. Handlers are plain functions over these two
 * structs, so every route is unit-tested without a listener.
 *
 * Bounds (checked by the adapter before a handler runs): GW_BODY_MAX bytes of
 * body (413), GW_ARGS_MAX query arguments and GW_HEADERS_MAX headers (400),
 * GW_PATH_MAX bytes of path (414). */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GW_BODY_MAX (64 * 1024)
#define GW_ARGS_MAX 64
#define GW_HEADERS_MAX 64
#define GW_PATH_MAX 1024
#define GW_RESP_HEADERS_MAX 12

typedef struct gw_ctx gw_ctx_t; /* the gateway's state (gw_ctx.h) */

typedef struct {
    const char *key;
    const char *value;
} gw_kv_t;

typedef struct {
    const char *method; /* "GET", "POST", ... */
    const char *path; /* decoded path without the query string, e.g. "/open311/v2/requests.json" */
    const gw_kv_t *args; /* query arguments, decoded, in order (a key may repeat) */
    size_t n_args;
    const gw_kv_t *headers; /* request headers, names as sent */
    size_t n_headers;
    const uint8_t *body; /* NUL-terminated copy of the body (body[body_len] == 0) */
    size_t body_len;
    const char *peer; /* the client's address, "127.0.0.1" (behind a proxy: the proxy's) */
} gw_req_t;

/* Called from the serving thread after the headers were sent, pos bytes
 * into the stream: write at most cap bytes into buf and return how many
 * (it may block a while, and should send a comment line at least every 15 s
 * so the connection's 30 s timeout does not close it), or -1 to end it
 * (libmicrohttpd's MHD_ContentReaderCallback). */
typedef ssize_t (*gw_stream_fn)(void *arg, uint64_t pos, char *buf, size_t cap);

typedef struct {
    int status;               /* 200 unless set */
    const char *content_type; /* static string; default "text/plain; charset=utf-8" */
    char *body;               /* malloc'd, grown by gw_resp_append/printf */
    size_t len, cap;
    bool oom;                             /* an append failed: the adapter answers 500 */
    gw_kv_t headers[GW_RESP_HEADERS_MAX]; /* extra headers (values malloc'd) */
    size_t n_headers;
    gw_stream_fn stream; /* set: the body is this stream (server-sent events) */
    void *stream_arg;
    void (*stream_free)(void *arg);
} gw_resp_t;

typedef int (*gw_handler_fn)(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);

/* A route: method ("GET", "POST", or NULL for any) and path. A path ending
 * in '*' matches every path with that prefix (handlers read the rest). */
typedef struct {
    const char *method;
    const char *path;
    gw_handler_fn fn;
} gw_route_t;

/* The first query argument / header (case-insensitive name) / cookie named
 * key, or NULL. */
const char *gw_req_arg(const gw_req_t *rq, const char *key);
const char *gw_req_header(const gw_req_t *rq, const char *name);
/* Copies the cookie's value into out (cap bytes, NUL-terminated); 0, or -1
 * when absent or too long. */
int gw_req_cookie(const gw_req_t *rq, const char *name, char *out, size_t cap);

void gw_resp_init(gw_resp_t *rs);
void gw_resp_clear(gw_resp_t *rs);
int gw_resp_append(gw_resp_t *rs, const char *data, size_t len);
int gw_resp_printf(gw_resp_t *rs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds a response header (the value is copied). 0, or -1 when full. */
int gw_resp_header(gw_resp_t *rs, const char *key, const char *value);
/* status and a plain-text sentence (for errors outside Open311). Returns 0. */
int gw_resp_text(gw_resp_t *rs, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs the route for rq (404 when no path matches, 405 with Allow when the
 * path matches for other methods). Returns the handler's result (0, or -1:
 * the adapter answers 500 unless the handler set a status of its own). */
int gw_http_dispatch(const gw_route_t *routes, gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);

#endif
