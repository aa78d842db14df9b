/* gw_open311_int: what the Open311 module's files share (internal to
 * gw_open311*.c and its unit test).
 *
 * The module reaches the mesh through a backend (o311_backend_t): the real
 * one calls intake and routing through gw_mesh; unit tests put a fake in its
 * place, so every handler runs without sockets. Replies are built as jansson
 * trees and rendered as JSON or as the standard's XML from the same tree
 * (gw_open311_out.c). */
#ifndef GW_OPEN311_INT_H
#define GW_OPEN311_INT_H

#include "gw_clients.h"
#include "gw_ctx.h"
#include "gw_open311.h"
#include "gw_rate.h"

#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <jansson.h>
#include <pthread.h>
#include <time.h>

#define O311_WINDOW_DAYS 90 /* GET requests: the default and widest window */
#define O311_LIST_MAX 1000  /* GET requests: records at most */
/* GET requests: service_request_id values at most. Each distinct one is a
 * routing query and costs a token of the address's read limit, so no more
 * than a full bucket (O311_READ_BURST) can be asked at once. */
#define O311_IDS_MAX 20
/* Routing pages one GET requests may ask (each page looks at 20,000 records
 * at most): an anonymous GET holds the Open311 mesh client a bounded time.
 * When the window's records are not all looked at, the reply says so
 * (header O311_CUT_HEADER). */
#define O311_LIST_PAGES 4
#define O311_CUT_HEADER "X-Open311-Incomplete"
#define O311_READ_RATE 10       /* anonymous GETs per second per address */
#define O311_READ_BURST 20      /* ... and at once */
#define O311_LOG_EVERY_MS 10000 /* refusals: a log line at most this often */
_Static_assert(O311_IDS_MAX <= O311_READ_BURST, "a GET of O311_IDS_MAX tickets must be grantable");
#define O311_POST_RATE_DEFAULT 60 /* POSTs a minute per application (rate_per_min) */
#define O311_RATE_KEYS 4096       /* addresses / applications remembered */
#define O311_TOKEN_LEN 40         /* hex digits of a token */
#define O311_CALL_MS 5000         /* one mesh call */
#define O311_CATS_MAX 256

typedef enum { O311_JSON, O311_XML } o311_fmt_t;

/* How the module reaches intake and routing. Each returns 0 with a reply the
 * caller frees (protobuf-c free_unpacked), or an error code with err. */
typedef struct {
    int (*submit)(void *arg, const Cpm__Complaint *c, Cpm__SubmitReply **out, cpm_error_t *err);
    int (*status)(void *arg, const char *ticket, Cpm__StatusReply **out, cpm_error_t *err);
    int (*list)(void *arg, const Cpm__CaseListQuery *q, Cpm__CaseListReply **out, cpm_error_t *err);
    /* The registry name of member id into out ("" when unknown). */
    void (*member_name)(void *arg, const char *id, char *out, size_t cap);
    /* The registry (for the client list's signature), under the mesh's lock. */
    int (*with_registry)(void *arg, int (*fn)(const cpm_registry_t *reg, void *a), void *a);
    void *arg;
} o311_backend_t;

/* The backend over gw_mesh (gw_open311_mesh.c). */
void o311_mesh_backend(gw_ctx_t *gw, o311_backend_t *be);

typedef struct {
    char slug[65];
    char name_vi[201];
    char name_en[201];
} o311_cat_t;

struct gw_open311 {
    pthread_mutex_t lock; /* store, clients */
    cpm_store_t *store;   /* data_dir/open311: tokens -> tickets */
    gw_clients_t *clients;
    char clients_path[1024];
    struct timespec clients_mtime;
    off_t clients_size;
    uint8_t root_pk[32];
    o311_cat_t cats[O311_CATS_MAX];
    size_t n_cats;
    o311_backend_t be;
    gw_rate_t *read_rate;      /* anonymous GETs, by peer address */
    gw_rate_t *post_rate;      /* POSTs, by application id */
    gw_rate_t *refusal_log;    /* only its log pace: refused POSTs' lines */
    int64_t (*clock_ms)(void); /* monotonic ms for the limits (tests set their own) */
};

/* Create a module with a given backend and categories (unit tests; the
 * gateway uses gw_open311_new). store_dir NULL: no token store. */
int o311_new_with(gw_open311_t **out, const o311_backend_t *be, const char *store_dir,
                  const char *clients_path, const uint8_t root_pk[32], cpm_error_t *err);
/* Read the categories (slug, name_vi, name_en) of a routing.yaml. */
int o311_cats_load(gw_open311_t *o, const char *rules_path, cpm_error_t *err);
const o311_cat_t *o311_cat(const gw_open311_t *o, const char *slug);

/* ---- rendering (gw_open311_out.c) ---- */
/* Render v (stolen) as fmt into rs with status: JSON as it is, XML with
 * root as the document element (an array's items named by the singular of
 * root). 0, or -1 out of memory. */
int o311_render(gw_resp_t *rs, o311_fmt_t fmt, int status, const char *root, json_t *v);
/* The standard's error list: [{code, description}] with status as code. */
int o311_error(gw_resp_t *rs, o311_fmt_t fmt, int status, const char *fmt_desc, ...)
    __attribute__((format(printf, 4, 5)));
/* "2026-03-15T16:00:00+07:00" (Vietnam time); "" for 0. */
const char *o311_time(int64_t ms, char buf[32]);
/* W3C/ISO 8601 date-time ("2026-03-15T09:00:00Z", "...+07:00", fractions
 * allowed) or a date ("2026-03-15", midnight Vietnam time) into ms. 0 or -1. */
int o311_parse_time(const char *s, int64_t *ms);
/* Append s escaped for XML text (&, <, >, quotes; characters XML cannot hold
 * become U+FFFD). */
int o311_xml_text(gw_resp_t *rs, const char *s);

/* ---- handlers (gw_open311.c, gw_open311_post.c, gw_open311_read.c) ---- */
int o311_post_request(gw_open311_t *o, gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs,
                      o311_fmt_t fmt);
int o311_get_requests(gw_open311_t *o, gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs,
                      o311_fmt_t fmt);
int o311_get_request(gw_open311_t *o, gw_ctx_t *gw, const char *id, gw_resp_t *rs, o311_fmt_t fmt);
int o311_get_token(gw_open311_t *o, gw_ctx_t *gw, const char *token, gw_resp_t *rs, o311_fmt_t fmt);
/* One service request as the standard writes it, from routing's public view. */
json_t *o311_request_of_status(gw_open311_t *o, const Cpm__StatusReply *r);
/* A 429 in the standard's format when name has fewer than cost tokens left
 * in r (counted as counter, logged at most every 10 s), else 0 without
 * touching rs: 1 when refused. */
int o311_limit(gw_open311_t *o, gw_ctx_t *gw, gw_rate_t *r, const char *name, double per_s,
               double burst, double cost, const char *counter, gw_resp_t *rs, o311_fmt_t fmt);
/* The address a read is limited by: the peer; behind a proxy on loopback,
 * the last entry of X-Forwarded-For (the address the proxy saw). An IPv6
 * address is taken as its /64 ("2001:db8:1:2::/64"), an IPv4-mapped one
 * as the IPv4 address. */
const char *o311_client_addr(const gw_req_t *rq, char *out, size_t cap);
/* Count name (gw may be NULL in tests). */
void o311_count(gw_ctx_t *gw, const char *name);

/* The token store (under o->lock). 0, CPM_E_NOT_FOUND, or a store code. */
int o311_token_put(gw_open311_t *o, const char *token, const char *ticket);
int o311_token_get(gw_open311_t *o, const char *token, char *ticket, size_t cap);

#endif
