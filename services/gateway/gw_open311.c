/* gw_open311: the module, its routes, discovery and services (see
 * gw_open311.h). POST requests is in gw_open311_post.c, the reads of
 * requests and tokens in gw_open311_read.c. */
#include "gw_open311_int.h"

#include "cpm_keys.h"
#include "cpm_log.h"
#include "cpm_text.h"
#include "cpm_util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TOKENS_DB "tokens"
#define PREFIX "/open311/v2/"

void o311_count(gw_ctx_t *gw, const char *name)
{
    if (gw)
        gw_count(gw, name, 1);
}

int o311_limit(gw_open311_t *o, gw_ctx_t *gw, gw_rate_t *r, const char *name, double per_s,
               double burst, double cost, const char *counter, gw_resp_t *rs, o311_fmt_t fmt)
{
    int64_t now = o->clock_ms();
    if (gw_rate_take_n(r, name, per_s, burst, cost, now))
        return 0;
    o311_count(gw, counter);
    uint64_t quiet = 0;
    if (gw_rate_log_due(r, now, O311_LOG_EVERY_MS, &quiet))
        cpm_warn("open311: %s: %s over its limit of %.2f/s (burst %.0f); %llu more refused "
                 "unlogged",
                 counter, name, per_s, burst, (unsigned long long)quiet);
    gw_resp_header(rs, "Retry-After", "1");
    o311_error(rs, fmt, 429, "too many requests from %s: at most %.0f a minute; try again later",
               strncmp(counter, "open311.refused.read", 20) ? "this application" : "this address",
               per_s * 60);
    return 1;
}

/* An IPv6 address stands for its /64: one subscriber commonly holds a whole
 * /64 and could otherwise take a fresh bucket per address. An IPv4 address
 * (mapped or not), or what does not parse, is kept as it is. */
static void by_network(char *addr, size_t cap)
{
    struct in6_addr a;
    if (!strchr(addr, ':') || inet_pton(AF_INET6, addr, &a) != 1)
        return;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
        char v4[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &a.s6_addr[12], v4, sizeof v4))
            snprintf(addr, cap, "%s", v4);
        return;
    }
    memset(&a.s6_addr[8], 0, 8);
    char net[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, &a, net, sizeof net))
        snprintf(addr, cap, "%s/64", net);
}

int gw_open311_refusal(const char *path, int status, const char *why, gw_resp_t *rs)
{
    if (!path || strncmp(path, "/open311/", 9) != 0)
        return 0;
    size_t n = strlen(path);
    o311_error(rs, n >= 4 && !strcmp(path + n - 4, ".xml") ? O311_XML : O311_JSON, status, "%s",
               why);
    return 1;
}

const char *o311_client_addr(const gw_req_t *rq, char *out, size_t cap)
{
    const char *peer = rq->peer ? rq->peer : "";
    const char *xff = gw_req_header(rq, "X-Forwarded-For");
    bool loopback =
        !strncmp(peer, "127.", 4) || !strcmp(peer, "::1") || !strncmp(peer, "::ffff:127.", 11);
    if (!loopback || !xff || !*xff) {
        snprintf(out, cap, "%s", peer);
        by_network(out, cap);
        return out;
    }
    /* The proxy appends the address it saw: the last entry (what a client
     * wrote before it is not trusted). */
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    last += strspn(last, " \t");
    size_t n = strcspn(last, " \t");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), last);
    if (!*out)
        snprintf(out, cap, "%s", peer);
    by_network(out, cap);
    return out;
}

int o311_new_with(gw_open311_t **out, const o311_backend_t *be, const char *store_dir,
                  const char *clients_path, const uint8_t root_pk[32], cpm_error_t *err)
{
    *out = NULL;
    gw_open311_t *o = calloc(1, sizeof *o);
    if (!o)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    pthread_mutex_init(&o->lock, NULL);
    o->be = *be;
    o->clock_ms = cpm_mono_ms;
    if (!(o->read_rate = gw_rate_new(O311_RATE_KEYS)) ||
        !(o->post_rate = gw_rate_new(O311_RATE_KEYS)) || !(o->refusal_log = gw_rate_new(1))) {
        gw_open311_destroy(&o);
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    }
    memcpy(o->root_pk, root_pk, 32);
    snprintf(o->clients_path, sizeof o->clients_path, "%s", clients_path ? clients_path : "");
    if (store_dir) {
        static const char *const dbs[] = {TOKENS_DB, NULL};
        char why[256] = "";
        /* Tokens are 40 + ~20 bytes each: 64 MiB holds about half a million. */
        if (!(o->store = cpm_store_open(store_dir, 64u << 20, dbs, why, sizeof why))) {
            gw_open311_destroy(&o);
            return cpm_error_set(err, CPM_E_STORE_IO, "data_dir", "open311 store %s: %s", store_dir,
                                 why);
        }
    }
    *out = o;
    return 0;
}

void gw_open311_destroy(gw_open311_t **p)
{
    if (!p || !*p)
        return;
    gw_open311_t *o = *p;
    cpm_store_destroy(&o->store);
    gw_clients_destroy(&o->clients);
    gw_rate_destroy(&o->read_rate);
    gw_rate_destroy(&o->post_rate);
    gw_rate_destroy(&o->refusal_log);
    pthread_mutex_destroy(&o->lock);
    free(o);
    *p = NULL;
}

int gw_open311_new(gw_ctx_t *gw, cpm_error_t *err)
{
    const cpm_config_t *cfg = gw->cfg;
    cpm_public_t root;
    int rc = cpm_public_load(&root, cfg->root_public, err);
    if (rc != 0)
        return rc;
    o311_backend_t be;
    o311_mesh_backend(gw, &be);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/open311", cfg->data_dir);
    gw_open311_t *o = NULL;
    if ((rc = o311_new_with(&o, &be, dir, cfg->gateway_clients, root.sign_pk, err)) != 0)
        return rc;
    if ((rc = o311_cats_load(o, cfg->rules, err)) != 0) {
        gw_open311_destroy(&o);
        return rc;
    }
    gw->open311 = o;
    cpm_info("open311: %zu services; client list %s", o->n_cats,
             cfg->gateway_clients ? cfg->gateway_clients : "not configured (POST refused)");
    return 0;
}

/* ---- the token store ---- */

int o311_token_put(gw_open311_t *o, const char *token, const char *ticket)
{
    if (!o->store)
        return 0;
    MDB_txn *txn;
    pthread_mutex_lock(&o->lock);
    int rc = cpm_store_begin(o->store, true, &txn);
    if (rc == 0) {
        rc = cpm_store_put(o->store, txn, TOKENS_DB, token, strlen(token), ticket, strlen(ticket));
        if (rc == 0)
            rc = cpm_store_commit(txn);
        else
            cpm_store_abort(&txn);
    }
    pthread_mutex_unlock(&o->lock);
    return rc;
}

int o311_token_get(gw_open311_t *o, const char *token, char *ticket, size_t cap)
{
    if (!o->store)
        return CPM_E_NOT_FOUND;
    MDB_txn *txn;
    pthread_mutex_lock(&o->lock);
    int rc = cpm_store_begin(o->store, false, &txn);
    if (rc == 0) {
        const void *v;
        size_t vlen;
        rc = cpm_store_get(o->store, txn, TOKENS_DB, token, strlen(token), &v, &vlen);
        if (rc == 0 && vlen >= cap)
            rc = CPM_E_INTERNAL;
        if (rc == 0) {
            memcpy(ticket, v, vlen);
            ticket[vlen] = 0;
        }
        cpm_store_abort(&txn);
    }
    pthread_mutex_unlock(&o->lock);
    return rc;
}

/* ---- discovery and services ---- */

static json_t *discovery(const gw_req_t *rq)
{
    const char *host = gw_req_header(rq, "Host");
    char url[600];
    snprintf(url, sizeof url, "http://%s/open311/v2/", host && *host ? host : "localhost");
    json_t *fmts = json_pack("[ss]", "text/xml", "application/json");
    json_t *ep = json_pack("{s:s,s:s,s:s,s:s,s:o}", "specification",
                           "http://wiki.open311.org/GeoReport_v2", "url", url, "changeset",
                           "2026-01-01T00:00:00+07:00", "type", "production", "formats", fmts);
    return json_pack("{s:s,s:s,s:s,s:[o]}", "changeset", "2026-01-01T00:00:00+07:00", "contact",
                     "Hanoi Department of Industry and Trade, consumer protection", "key_service",
                     "API keys are issued by the city (cpmctl gateway apikey new)", "endpoints",
                     ep);
}

static const char *cat_name(const o311_cat_t *c)
{
    return c->name_vi[0] ? c->name_vi : c->name_en[0] ? c->name_en : c->slug;
}

static json_t *service_of(const o311_cat_t *c)
{
    char kw[300];
    snprintf(kw, sizeof kw, "%s%s%s", c->slug, c->name_en[0] ? ", " : "", c->name_en);
    return json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:s}", "service_code", c->slug, "service_name",
                     cat_name(c), "description", c->name_en[0] ? c->name_en : cat_name(c),
                     "metadata", 1, "type", "realtime", "keywords", kw, "group",
                     "consumer protection");
}

static json_t *attribute(const char *code, bool required, int order, const char *desc)
{
    return json_pack("{s:b,s:s,s:s,s:b,s:s,s:i,s:s,s:[]}", "variable", 1, "code", code, "datatype",
                     "string", "required", required, "datatype_description", "text, UTF-8", "order",
                     order, "description", desc, "values");
}

/* Every service has the same attributes: what intake needs beyond the
 * standard's fields (docs/open311.md "Attributes"). */
static json_t *definition(const o311_cat_t *c)
{
    json_t *attrs = json_array();
    json_array_append_new(attrs, attribute("business_name", true, 1,
                                           "Tên cơ sở kinh doanh bị khiếu nại (the business "
                                           "complained about), at most 200 bytes"));
    json_array_append_new(attrs, attribute("business_address", false, 2,
                                           "Địa chỉ cơ sở (the business's address), at most "
                                           "300 bytes"));
    json_array_append_new(attrs, attribute("product", false, 3,
                                           "Sản phẩm, dịch vụ (the product or service complained "
                                           "about), at most 256 bytes"));
    return json_pack("{s:s,s:o}", "service_code", c->slug, "attributes", attrs);
}

/* ---- routes ---- */

/* Split "name.json" / "name.xml": the name's length, or -1. */
static int split_format(const char *s, o311_fmt_t *fmt)
{
    const char *dot = strrchr(s, '.');
    if (!dot)
        return -1;
    if (!strcmp(dot, ".json"))
        *fmt = O311_JSON;
    else if (!strcmp(dot, ".xml"))
        *fmt = O311_XML;
    else
        return -1;
    return (int)(dot - s);
}

static bool is(const char *s, int n, const char *word)
{
    return (int)strlen(word) == n && !strncmp(s, word, (size_t)n);
}

int gw_open311_handle(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    gw_open311_t *o = gw->open311;
    o311_fmt_t fmt = O311_JSON;
    const char *rest = rq->path + strlen(PREFIX);
    int n = strncmp(rq->path, PREFIX, strlen(PREFIX)) ? -1 : split_format(rest, &fmt);
    if (!o)
        return o311_error(rs, fmt, 503, "Open311 is not available on this gateway");
    if (n < 0) {
        o311_count(gw, "open311.refused.path");
        return o311_error(rs, fmt, 404,
                          "no Open311 resource at this path: names end in .json or .xml");
    }
    bool get = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");
    bool post = !strcmp(rq->method, "POST");
    const char *slash = memchr(rest, '/', (size_t)n);
    if (!get && !(post && is(rest, n, "requests"))) {
        gw_resp_header(rs, "Allow", is(rest, n, "requests") ? "GET, POST" : "GET");
        o311_count(gw, "open311.refused.method");
        return o311_error(rs, fmt, 405, "method %s is not allowed here", rq->method);
    }
    if (post)
        return o311_post_request(o, gw, rq, rs, fmt);
    char arg[256] = "";
    if (slash) {
        size_t alen = (size_t)(rest + n - slash - 1);
        if (alen == 0 || alen >= sizeof arg || memchr(slash + 1, '/', alen))
            return o311_error(rs, fmt, 404, "no Open311 resource at this path");
        memcpy(arg, slash + 1, alen);
        arg[alen] = 0;
        n = (int)(slash - rest);
    }
    /* Reads need no key: limited by address, before any work. */
    char who[64];
    if (o311_limit(o, gw, o->read_rate, o311_client_addr(rq, who, sizeof who), O311_READ_RATE,
                   O311_READ_BURST, 1, "open311.refused.read_rate", rs, fmt))
        return 0;
    o311_count(gw, "open311.get");
    if (!slash && is(rest, n, "discovery"))
        return o311_render(rs, fmt, 200, "discovery", discovery(rq));
    if (!slash && is(rest, n, "services")) {
        json_t *list = json_array();
        for (size_t i = 0; i < o->n_cats; i++)
            json_array_append_new(list, service_of(&o->cats[i]));
        return o311_render(rs, fmt, 200, "services", list);
    }
    if (slash && is(rest, n, "services")) {
        const o311_cat_t *c = o311_cat(o, arg);
        if (!c)
            return o311_error(rs, fmt, 404, "service_code %s is not a service of this city",
                              cpm_text_slug_valid(arg) ? arg : "(not a slug)");
        return o311_render(rs, fmt, 200, "service_definition", definition(c));
    }
    if (!slash && is(rest, n, "requests"))
        return o311_get_requests(o, gw, rq, rs, fmt);
    if (slash && is(rest, n, "requests"))
        return o311_get_request(o, gw, arg, rs, fmt);
    if (slash && is(rest, n, "tokens"))
        return o311_get_token(o, gw, arg, rs, fmt);
    o311_count(gw, "open311.refused.path");
    return o311_error(rs, fmt, 404, "no Open311 resource at this path");
}
