/* gw_open311_post: POST requests.{json,xml}: a consumer's complaint from a
 * client application, form-encoded as GeoReport v2 writes it, into the
 * city's intake (docs/open311.md "POST requests"). Nothing reaches intake
 * before the API key and every field were checked; each refusal is counted
 * (open311.refused.<why>) and logged without the values. */
#include "gw_open311_int.h"

#include "cpm_log.h"
#include "cpm_text.h"

#include <ctype.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define FORM_MAX 64

typedef struct {
    char *key, *value;
} pair_t;

typedef struct {
    pair_t p[FORM_MAX];
    size_t n;
} form_t;

static void form_free(form_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->p[i].key);
        if (f->p[i].value) /* contact fields among them: wipe */
            sodium_memzero(f->p[i].value, strlen(f->p[i].value));
        free(f->p[i].value);
    }
    f->n = 0;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* application/x-www-form-urlencoded: '+' is a space, %XX a byte. NULL when
 * a % escape is broken or a NUL byte is sent, raw or escaped (it would cut
 * the field short). */
static char *decode(const char *s, size_t len)
{
    char *out = malloc(len + 1), *w = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            *w++ = ' ';
        } else if (s[i] == '%') {
            int h, l;
            /* a NUL byte would cut the field short: refused like a broken escape */
            if (i + 2 >= len || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0 ||
                (h | l) == 0) {
                free(out);
                return NULL;
            }
            *w++ = (char)(h * 16 + l);
            i += 2;
        } else if (s[i] == 0) {
            free(out);
            return NULL;
        } else {
            *w++ = s[i];
        }
    }
    *w = 0;
    return out;
}

static const char *form_get(const form_t *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->p[i].key, key))
            return f->p[i].value;
    return NULL;
}

/* 0, or an HTTP status with why naming the field. */
static int form_parse(const char *body, size_t len, form_t *f, char *why, size_t wlen)
{
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            if (f->n == FORM_MAX) {
                snprintf(why, wlen, "the form has more than %d fields", FORM_MAX);
                return 400;
            }
            char *k = decode(p, (size_t)((eq ? eq : stop) - p));
            char *v = eq ? decode(eq + 1, (size_t)(stop - eq - 1)) : strdup("");
            if (!k || !v || !*k) {
                free(k), free(v);
                snprintf(why, wlen,
                         "the form is not application/x-www-form-urlencoded (a "
                         "broken %% escape, a NUL byte or an empty name)");
                return 400;
            }
            f->p[f->n++] = (pair_t){k, v};
            if (!cpm_text_utf8_valid(k, strlen(k)) || strlen(k) > 64) {
                snprintf(why, wlen, "a field name is not UTF-8 or longer than 64 bytes");
                return 400;
            }
            if (!cpm_text_utf8_valid(v, strlen(v))) {
                snprintf(why, wlen, "%s is not valid UTF-8", k);
                return 400;
            }
            for (size_t i = 0; i + 1 < f->n; i++)
                if (!strcmp(f->p[i].key, k)) {
                    snprintf(why, wlen, "%s is given twice", k);
                    return 400;
                }
        }
        p = stop + 1;
    }
    return 0;
}

/* Load the client list again when its file changed (under o->lock). A list
 * that fails, or is not newer, leaves the old one in force. */
static int load_clients_fn(const cpm_registry_t *reg, void *arg)
{
    void **a = arg;
    gw_open311_t *o = a[0];
    return gw_clients_load(o->clients_path, reg, o->root_pk, (gw_clients_t **)a[1], a[2]);
}

static void clients_refresh(gw_open311_t *o, gw_ctx_t *gw)
{
    struct stat st;
    if (!o->clients_path[0] || stat(o->clients_path, &st) != 0)
        return;
    if (o->clients && st.st_mtim.tv_sec == o->clients_mtime.tv_sec &&
        st.st_mtim.tv_nsec == o->clients_mtime.tv_nsec && st.st_size == o->clients_size)
        return;
    o->clients_mtime = st.st_mtim, o->clients_size = st.st_size;
    gw_clients_t *fresh = NULL;
    cpm_error_t err = {0};
    void *a[3] = {o, &fresh, &err};
    int rc = o->be.with_registry(o->be.arg, load_clients_fn, a);
    if (rc != 0) {
        o311_count(gw, "open311.clients.refused");
        cpm_warn("open311: client list %s refused: %s", o->clients_path, err.message);
    } else if (o->clients && gw_clients_version(fresh) <= gw_clients_version(o->clients)) {
        o311_count(gw, "open311.clients.refused");
        cpm_warn("open311: client list %s refused: version %llu is not newer than %llu",
                 o->clients_path, (unsigned long long)gw_clients_version(fresh),
                 (unsigned long long)gw_clients_version(o->clients));
    } else {
        cpm_info("open311: client list version %llu, %zu applications",
                 (unsigned long long)gw_clients_version(fresh), gw_clients_count(fresh));
        gw_clients_destroy(&o->clients);
        o->clients = fresh, fresh = NULL;
    }
    gw_clients_destroy(&fresh);
}

static bool check_key(gw_open311_t *o, gw_ctx_t *gw, const char *key, gw_client_t *app)
{
    pthread_mutex_lock(&o->lock);
    clients_refresh(o, gw);
    bool ok = gw_clients_check(o->clients, key, app);
    pthread_mutex_unlock(&o->lock);
    return ok;
}

/* A coordinate: a decimal number in [-lim, lim]. */
static bool coord(const char *s, double lim, double *out)
{
    char *end;
    if (!s || !*s || isspace((unsigned char)*s))
        return false;
    *out = strtod(s, &end);
    return !*end && isfinite(*out) && fabs(*out) <= lim;
}

/* The idempotency token: 40 hex of SHA-256 over the application, and the
 * client's own reference, else every field but the API key (in order). */
static void make_token(const char *app, const char *ref, const form_t *f,
                       char token[O311_TOKEN_LEN + 1])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)app, strlen(app) + 1);
    if (ref) {
        crypto_hash_sha256_update(&st, (const uint8_t *)"ref", 4);
        crypto_hash_sha256_update(&st, (const uint8_t *)ref, strlen(ref) + 1);
    } else {
        crypto_hash_sha256_update(&st, (const uint8_t *)"form", 5);
        for (size_t i = 0; i < f->n; i++) {
            if (!strcmp(f->p[i].key, "api_key"))
                continue;
            crypto_hash_sha256_update(&st, (const uint8_t *)f->p[i].key, strlen(f->p[i].key) + 1);
            crypto_hash_sha256_update(&st, (const uint8_t *)f->p[i].value,
                                      strlen(f->p[i].value) + 1);
        }
    }
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    memcpy(token, hex, O311_TOKEN_LEN);
    token[O311_TOKEN_LEN] = 0;
}

/* Intake's field names as the client wrote them. */
static const char *open311_field(const char *f)
{
    static const char *const map[][2] = {
        {"consumer_name", "first_name/last_name"},
        {"consumer_phone", "phone"},
        {"consumer_email", "email"},
        {"business_name", "attribute[business_name]"},
        {"business_address", "attribute[business_address]"},
        {"product", "attribute[product]"},
        {"location", "address_string"},
        {"area", "address_string"},
        {"category", "service_code"},
        {"lon", "long"},
        {"client_ref", "client_ref"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(f, map[i][0]))
            return map[i][1];
    return f;
}

/* Every refusal is counted; the log says one at most every 10 s (with how
 * many went unlogged), since anyone may send them as fast as they like. */
static int refuse(gw_open311_t *o, gw_ctx_t *gw, gw_resp_t *rs, o311_fmt_t fmt, int status,
                  const char *why, const char *desc)
{
    char name[64];
    snprintf(name, sizeof name, "open311.refused.%s", why);
    o311_count(gw, name);
    uint64_t quiet = 0;
    if (gw_rate_log_due(o->refusal_log, o->clock_ms(), O311_LOG_EVERY_MS, &quiet))
        cpm_warn("open311: POST requests refused (%d, %s): %s; %llu more refused unlogged", status,
                 why, desc, (unsigned long long)quiet);
    return o311_error(rs, fmt, status, "%s", desc);
}

static const char *const KNOWN[] = {"api_key",
                                    "jurisdiction_id",
                                    "service_code",
                                    "lat",
                                    "long",
                                    "address_string",
                                    "address_id",
                                    "email",
                                    "device_id",
                                    "account_id",
                                    "first_name",
                                    "last_name",
                                    "phone",
                                    "description",
                                    "media_url",
                                    "client_ref",
                                    "attribute[business_name]",
                                    "attribute[business_address]",
                                    "attribute[product]",
                                    NULL};

static int check_fields(gw_open311_t *o, const form_t *f, char *why, size_t wlen)
{
    for (size_t i = 0; i < f->n; i++) {
        bool known = false;
        for (size_t k = 0; KNOWN[k] && !known; k++)
            known = !strcmp(KNOWN[k], f->p[i].key);
        if (!known && !strncmp(f->p[i].key, "attribute[", 10)) {
            snprintf(why, wlen, "%.64s is not an attribute of this service (see services/{code})",
                     f->p[i].key);
            return 400;
        }
    }
    const char *code = form_get(f, "service_code");
    if (!code || !*code) {
        snprintf(why, wlen, "service_code is required");
        return 400;
    }
    if (!o311_cat(o, code)) {
        snprintf(why, wlen, "service_code %.64s is not a service of this city (GET services)",
                 cpm_text_slug_valid(code) ? code : "(not a slug)");
        return 400;
    }
    const char *lat = form_get(f, "lat"), *lon = form_get(f, "long");
    const char *addr = form_get(f, "address_string");
    double d;
    if ((lat && *lat) || (lon && *lon)) {
        if (!coord(lat, 90, &d)) {
            snprintf(why, wlen, "lat is not a number of degrees in -90..90 (with long)");
            return 400;
        }
        if (!coord(lon, 180, &d)) {
            snprintf(why, wlen, "long is not a number of degrees in -180..180 (with lat)");
            return 400;
        }
    } else if (!addr || !*addr) {
        const char *aid = form_get(f, "address_id");
        snprintf(why, wlen, "%s",
                 aid && *aid ? "address_id is not supported here: give lat and long, or "
                               "address_string"
                             : "a location is required: lat and long, or address_string");
        return 400;
    }
    const char *desc = form_get(f, "description");
    if (!desc || !*desc) {
        snprintf(why, wlen, "description is required");
        return 400;
    }
    const char *biz = form_get(f, "attribute[business_name]");
    if (!biz || !*biz) {
        snprintf(why, wlen,
                 "attribute[business_name] is required (the business complained "
                 "about)");
        return 400;
    }
    return 0;
}

static int status_of(int code)
{
    switch (code) {
    case CPM_E_INVALID:
    case CPM_E_TOO_LARGE:
    case CPM_E_BAD_MESSAGE:
        return 400;
    case CPM_E_FORBIDDEN:
        return 403;
    case CPM_E_CONFLICT:
        return 409;
    case CPM_E_UNAVAILABLE:
    case CPM_E_TIMEOUT:
    case CPM_E_STORE_FULL:
    case CPM_E_STORE_IO:
        return 503;
    default:
        return 500;
    }
}

static char *str_or_empty(const char *s)
{
    return (char *)(s ? s : "");
}

int o311_post_request(gw_open311_t *o, gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs,
                      o311_fmt_t fmt)
{
    char why[700] = "";
    const char *ct = gw_req_header(rq, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return refuse(o, gw, rs, fmt, 400, "content_type",
                      "Content-Type must be application/x-www-form-urlencoded");
    form_t f = {0};
    int st = form_parse((const char *)rq->body, rq->body_len, &f, why, sizeof why);
    if (st != 0) {
        form_free(&f);
        return refuse(o, gw, rs, fmt, st, "form", why);
    }
    gw_client_t app;
    const char *key = form_get(&f, "api_key");
    if (!key || !*key || !check_key(o, gw, key, &app)) {
        /* Chosen before form_free: key points into the form. */
        const char *msg = key && *key ? "api_key is not a key of an application the city admitted"
                                      : "api_key is required";
        form_free(&f);
        return refuse(o, gw, rs, fmt, 403, "api_key", msg);
    }
    /* Per application: a leaked key cannot fill intake's store faster than
     * the city allowed it (rate_per_min in the client list). */
    double per_min = app.rate_per_min ? app.rate_per_min : O311_POST_RATE_DEFAULT;
    if (o311_limit(o, gw, o->post_rate, app.id, per_min / 60.0, per_min, 1, "open311.refused.rate",
                   rs, fmt)) {
        form_free(&f);
        return 0;
    }
    if ((st = check_fields(o, &f, why, sizeof why)) != 0) {
        form_free(&f);
        return refuse(o, gw, rs, fmt, st, "field", why);
    }
    const char *ref = form_get(&f, "client_ref");
    if (!ref || !*ref)
        ref = gw_req_header(rq, "Idempotency-Key");
    if (ref && *ref && !cpm_text_label_valid(ref)) {
        form_free(&f);
        return refuse(o, gw, rs, fmt, 400, "field",
                      "client_ref (or the Idempotency-Key header) is not 1-64 of A-Z a-z 0-9 . _ "
                      ": -");
    }
    char token[O311_TOKEN_LEN + 1], cref[O311_TOKEN_LEN + 8];
    make_token(app.id, ref && *ref ? ref : NULL, &f, token);
    snprintf(cref, sizeof cref, "o311.%s", token);

    const char *first = form_get(&f, "first_name"), *last = form_get(&f, "last_name");
    char name[420];
    snprintf(name, sizeof name, "%s%s%s", first ? first : "",
             first && *first && last && *last ? " " : "", last ? last : "");
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    /* Intake knows no "app" channel: an app is the web's way in. */
    c.channel = "web";
    c.consumer_name = name;
    c.consumer_phone = str_or_empty(form_get(&f, "phone"));
    c.consumer_email = str_or_empty(form_get(&f, "email"));
    c.business_name = str_or_empty(form_get(&f, "attribute[business_name]"));
    c.business_address = str_or_empty(form_get(&f, "attribute[business_address]"));
    c.product = str_or_empty(form_get(&f, "attribute[product]"));
    c.category = str_or_empty(form_get(&f, "service_code"));
    c.description = str_or_empty(form_get(&f, "description"));
    c.location = str_or_empty(form_get(&f, "address_string"));
    c.client_ref = cref;
    const char *lat = form_get(&f, "lat");
    if (lat && *lat) {
        c.has_point = true;
        c.lat = strtod(lat, NULL);
        c.lon = strtod(form_get(&f, "long"), NULL);
    }
    Cpm__SubmitReply *r = NULL;
    cpm_error_t err = {0};
    int rc = o->be.submit(o->be.arg, &c, &r, &err);
    sodium_memzero(name, sizeof name);
    form_free(&f);
    if (rc != 0) {
        const char *field = open311_field(err.field);
        int hs = status_of(rc);
        snprintf(why, sizeof why, "%s%s%s", hs == 400 || hs == 409 ? field : "",
                 (hs == 400 || hs == 409) && *field ? ": " : "",
                 hs >= 500 ? "the city's intake cannot take the request now; try again later"
                           : err.message);
        return refuse(o, gw, rs, fmt, hs, hs >= 500 ? "intake" : "field", why);
    }
    if (o311_token_put(o, token, r->ticket) != 0)
        cpm_warn("open311: token of %s not stored (GET tokens will not find it)", r->ticket);
    o311_count(gw, r->duplicate ? "open311.duplicate" : "open311.submitted");
    cpm_info("open311: %s from %s%s", r->ticket, app.id, r->duplicate ? " (again)" : "");
    json_t *one = json_pack("{s:s,s:s,s:s,s:s}", "service_request_id", r->ticket, "token", token,
                            "service_notice",
                            "Đã tiếp nhận; thời hạn xử lý theo quy định (received; deadlines as "
                            "the law sets them)",
                            "account_id", "");
    cpm__submit_reply__free_unpacked(r, NULL);
    return o311_render(rs, fmt, 200, "service_requests", json_pack("[o]", one));
}
