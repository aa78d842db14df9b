/* gw_server: see gw_server.h. */
#include "gw_server.h"
#include "gw_open311.h"

#include "cpm_log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_server {
    struct MHD_Daemon *d;
    const gw_route_t *routes;
    gw_ctx_t *gw;
    int port;
    atomic_ulong refused;
};

#define BODY_WHY "the body is larger than 65536 bytes"
#define DRAIN_MAX (1024 * 1024) /* bytes of a body too big read before closing */

/* What one request collects between the calls of the access handler. */
typedef struct {
    gw_kv_t args[GW_ARGS_MAX], headers[GW_HEADERS_MAX];
    size_t n_args, n_headers;
    bool too_many;
    char *body;
    size_t len;
    bool too_big;
    size_t drained; /* bytes of a body too big, read and dropped */
} pending_t;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    pending_t *p = cls;
    gw_kv_t *arr = kind == MHD_GET_ARGUMENT_KIND ? p->args : p->headers;
    size_t *n = kind == MHD_GET_ARGUMENT_KIND ? &p->n_args : &p->n_headers;
    size_t max = kind == MHD_GET_ARGUMENT_KIND ? GW_ARGS_MAX : GW_HEADERS_MAX;
    if (*n >= max) {
        p->too_many = true;
        return MHD_NO;
    }
    arr[(*n)++] = (gw_kv_t){key, value};
    return MHD_YES;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, gw_resp_t *rs)
{
    struct MHD_Response *r;
    if (rs->stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, rs->stream, rs->stream_arg,
                                              rs->stream_free);
        rs->stream_arg = NULL; /* the response owns it now */
    } else {
        r = MHD_create_response_from_buffer(rs->len, rs->body ? rs->body : (char *)"",
                                            MHD_RESPMEM_MUST_COPY);
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", rs->content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    for (size_t i = 0; i < rs->n_headers; i++)
        MHD_add_response_header(r, rs->headers[i].key, rs->headers[i].value);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Open311 clients get the standard's error format (docs/open311.md), others
 * a sentence. */
static enum MHD_Result refuse(gw_server_t *s, struct MHD_Connection *c, const char *url, int status,
                              const char *why)
{
    atomic_fetch_add(&s->refused, 1);
    gw_resp_t rs;
    gw_resp_init(&rs);
    if (!gw_open311_refusal(url, status, why, &rs))
        gw_resp_text(&rs, status, "%s", why);
    enum MHD_Result ok = send_resp(c, &rs);
    gw_resp_clear(&rs);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    gw_server_t *s = cls;
    pending_t *p = *con_cls;
    if (!p) { /* first call: headers only */
        if (!(p = calloc(1, sizeof *p)))
            return MHD_NO;
        *con_cls = p;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > GW_BODY_MAX)
            p->too_big = true; /* answered once the body is drained, below */
        return MHD_YES;
    }
    if (*upload_size) {
        if (p->too_big) {
            /* Read and dropped so that the 413 reaches a client still
             * sending (closing on unread bytes would reset the connection
             * before it reads the answer), but only up to DRAIN_MAX: a body
             * that goes on (chunked, or a huge Content-Length sent slowly)
             * is cut by closing the connection. */
            p->drained += *upload_size;
            *upload_size = 0;
            if (p->drained > DRAIN_MAX) {
                atomic_fetch_add(&s->refused, 1);
                return MHD_NO;
            }
            return MHD_YES;
        }
        if (p->len + *upload_size <= GW_BODY_MAX) {
            char *b = realloc(p->body, p->len + *upload_size + 1);
            if (!b)
                return MHD_NO;
            memcpy(b + p->len, upload, *upload_size);
            p->body = b, p->len += *upload_size;
            p->body[p->len] = 0;
        } else {
            p->too_big = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (p->too_big)
        return refuse(s, c, url, 413, BODY_WHY);
    if (strlen(url) > GW_PATH_MAX)
        return refuse(s, c, url, 414, "the path is longer than 1024 bytes");
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect, p);
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect, p);
    if (p->too_many)
        return refuse(s, c, url, 400, "more than 64 query arguments or headers");
    char peer[INET6_ADDRSTRLEN] = "?";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof peer);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof peer);
    }
    gw_req_t rq = {.method = method,
                   .path = url,
                   .args = p->args,
                   .n_args = p->n_args,
                   .headers = p->headers,
                   .n_headers = p->n_headers,
                   .body = (const uint8_t *)(p->body ? p->body : ""),
                   .body_len = p->len,
                   .peer = peer};
    (void)version;
    gw_resp_t rs;
    gw_resp_init(&rs);
    int rc = gw_http_dispatch(s->routes, s->gw, &rq, &rs);
    if (rs.oom || (rc != 0 && rs.status < 400))
        gw_resp_text(&rs, 500, "the gateway could not answer this request");
    enum MHD_Result ok = send_resp(c, &rs);
    gw_resp_clear(&rs);
    return ok;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    pending_t *p = *con_cls;
    if (p) {
        free(p->body);
        free(p);
        *con_cls = NULL;
    }
}

static int parse_bind(const char *bind, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(bind, ':');
    if (!colon || (size_t)(colon - bind) >= sizeof host)
        return -1;
    memcpy(host, bind, (size_t)(colon - bind));
    host[colon - bind] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (!strcmp(host, "*") || !*host)
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    return 0;
}

int gw_server_new(gw_server_t **out, const char *bind, const gw_route_t *routes, gw_ctx_t *gw,
                  cpm_error_t *err)
{
    *out = NULL;
    struct sockaddr_in sa;
    if (!bind || parse_bind(bind, &sa) != 0)
        return cpm_error_set(err, CPM_E_INVALID, "http_bind",
                             "http_bind is not <IPv4 address>:<port>, e.g. 127.0.0.1:8080");
    gw_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    s->routes = routes, s->gw = gw;
    s->d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)GW_CONN_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)GW_CONN_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_NOTIFY_COMPLETED,
        on_done, s, MHD_OPTION_END);
    if (!s->d) {
        free(s);
        return cpm_error_set(err, CPM_E_UNAVAILABLE, "http_bind", "cannot listen on %s", bind);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : ntohs(sa.sin_port);
    cpm_info("gateway: HTTP on %s (port %d)", bind, s->port);
    *out = s;
    return 0;
}

int gw_server_port(const gw_server_t *s)
{
    return s->port;
}

unsigned long gw_server_refused(const gw_server_t *s)
{
    return atomic_load(&((gw_server_t *)s)->refused);
}

void gw_server_destroy(gw_server_t **p)
{
    if (!p || !*p)
        return;
    MHD_stop_daemon((*p)->d);
    free(*p);
    *p = NULL;
}
