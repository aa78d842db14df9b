/* gw_http: see gw_http.h. */
#include "gw_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *gw_req_arg(const gw_req_t *rq, const char *key)
{
    for (size_t i = 0; i < rq->n_args; i++)
        if (rq->args[i].key && !strcmp(rq->args[i].key, key))
            return rq->args[i].value ? rq->args[i].value : "";
    return NULL;
}

const char *gw_req_header(const gw_req_t *rq, const char *name)
{
    for (size_t i = 0; i < rq->n_headers; i++)
        if (rq->headers[i].key && !strcasecmp(rq->headers[i].key, name))
            return rq->headers[i].value ? rq->headers[i].value : "";
    return NULL;
}

int gw_req_cookie(const gw_req_t *rq, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < rq->n_headers; i++) {
        if (!rq->headers[i].key || strcasecmp(rq->headers[i].key, "Cookie") != 0)
            continue;
        const char *p = rq->headers[i].value;
        while (p && *p) {
            while (*p == ' ' || *p == ';')
                p++;
            const char *end = strchr(p, ';');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (len > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
                size_t vlen = len - nlen - 1;
                if (vlen + 1 > cap)
                    return -1;
                memcpy(out, p + nlen + 1, vlen);
                out[vlen] = 0;
                return 0;
            }
            p = end;
        }
    }
    return -1;
}

void gw_resp_init(gw_resp_t *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->status = 200;
    rs->content_type = "text/plain; charset=utf-8";
}

void gw_resp_clear(gw_resp_t *rs)
{
    free(rs->body);
    for (size_t i = 0; i < rs->n_headers; i++)
        free((char *)rs->headers[i].value);
    if (rs->stream_free && rs->stream_arg)
        rs->stream_free(rs->stream_arg);
    memset(rs, 0, sizeof *rs);
}

int gw_resp_append(gw_resp_t *rs, const char *data, size_t len)
{
    if (rs->oom)
        return -1;
    if (rs->len + len + 1 > rs->cap) {
        size_t cap = rs->cap ? rs->cap : 1024;
        while (cap < rs->len + len + 1)
            cap *= 2;
        char *b = realloc(rs->body, cap);
        if (!b) {
            rs->oom = true;
            return -1;
        }
        rs->body = b, rs->cap = cap;
    }
    memcpy(rs->body + rs->len, data, len);
    rs->len += len;
    rs->body[rs->len] = 0;
    return 0;
}

static int vappend(gw_resp_t *rs, const char *fmt, va_list ap)
{
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return -1;
    }
    if ((size_t)n < sizeof small) {
        va_end(ap2);
        return gw_resp_append(rs, small, (size_t)n);
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        va_end(ap2);
        rs->oom = true;
        return -1;
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    int rc = gw_resp_append(rs, big, (size_t)n);
    free(big);
    return rc;
}

int gw_resp_printf(gw_resp_t *rs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vappend(rs, fmt, ap);
    va_end(ap);
    return rc;
}

int gw_resp_header(gw_resp_t *rs, const char *key, const char *value)
{
    if (rs->n_headers >= GW_RESP_HEADERS_MAX)
        return -1;
    char *v = strdup(value);
    if (!v)
        return -1;
    rs->headers[rs->n_headers++] = (gw_kv_t){key, v};
    return 0;
}

int gw_resp_text(gw_resp_t *rs, int status, const char *fmt, ...)
{
    rs->status = status;
    rs->content_type = "text/plain; charset=utf-8";
    rs->len = 0;
    va_list ap;
    va_start(ap, fmt);
    vappend(rs, fmt, ap);
    va_end(ap);
    gw_resp_append(rs, "\n", 1);
    return 0;
}

static bool path_matches(const char *pattern, const char *path)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*')
        return !strncmp(pattern, path, n - 1);
    return !strcmp(pattern, path);
}

int gw_http_dispatch(const gw_route_t *routes, gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    char allow[64] = "";
    for (const gw_route_t *r = routes; r->fn; r++) {
        if (!path_matches(r->path, rq->path))
            continue;
        if (!r->method || !strcmp(r->method, rq->method) ||
            (!strcmp(rq->method, "HEAD") && !strcmp(r->method, "GET")))
            return r->fn(gw, rq, rs);
        if (strlen(allow) + strlen(r->method) + 3 < sizeof allow && !strstr(allow, r->method)) {
            if (*allow)
                strcat(allow, ", ");
            strcat(allow, r->method);
        }
    }
    if (*allow) {
        gw_resp_header(rs, "Allow", allow);
        return gw_resp_text(rs, 405, "method %s is not allowed on %s (allowed: %s)", rq->method,
                            rq->path, allow);
    }
    return gw_resp_text(rs, 404, "no page at %s", rq->path);
}
