/* gw_auth: see gw_auth.h. */
#include "gw_auth.h"

#include "cpm_log.h"
#include "cpm_util.h"
#include "gw_ctx.h"
#include "gw_dash_html.h"
#include "gw_live.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool used;
    char id[GW_AUTH_ID_HEX + 1];
    char csrf[GW_AUTH_ID_HEX + 1];
    cpm_grant_t grant;
    uint8_t *frame;
    size_t frame_len;
    int64_t last_ms;
} slot_t;

struct gw_auth {
    pthread_mutex_t lock;
    slot_t s[GW_AUTH_SESSIONS];
    cpm_grant_nonces_t *nonces;
    bool logged; /* a refused login was logged, at logged_ms */
    int64_t logged_ms;
    uint64_t unlogged; /* refused logins not logged since */
};

void gw_session_clear(gw_session_t *s)
{
    free(s->frame);
    sodium_memzero(s, sizeof *s);
}

int gw_auth_new(gw_auth_t **out)
{
    gw_auth_t *a = calloc(1, sizeof *a);
    if (!a || !(a->nonces = cpm_grant_nonces_new(4 * GW_AUTH_SESSIONS, GW_AUTH_PER_MEMBER))) {
        free(a);
        return -1;
    }
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return 0;
}

static void slot_free(slot_t *s)
{
    free(s->frame);
    sodium_memzero(s, sizeof *s);
}

void gw_auth_destroy(gw_auth_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < GW_AUTH_SESSIONS; i++)
        slot_free(&(*p)->s[i]);
    cpm_grant_nonces_destroy(&(*p)->nonces);
    pthread_mutex_destroy(&(*p)->lock);
    free(*p);
    *p = NULL;
}

bool gw_auth_refusal_log_due(gw_auth_t *a, int64_t now_ms, uint64_t *quiet)
{
    pthread_mutex_lock(&a->lock);
    bool due = !a->logged || now_ms - a->logged_ms >= GW_AUTH_LOG_EVERY_MS;
    *quiet = a->unlogged;
    if (due)
        a->logged = true, a->logged_ms = now_ms, a->unlogged = 0;
    else
        a->unlogged++;
    pthread_mutex_unlock(&a->lock);
    return due;
}

static bool expired_at(const slot_t *s, int64_t now_ms)
{
    return now_ms >= s->grant.not_after_ms || now_ms - s->last_ms >= GW_AUTH_IDLE_MS;
}

static void random_hex(char out[GW_AUTH_ID_HEX + 1])
{
    uint8_t b[GW_AUTH_ID_HEX / 2];
    randombytes_buf(b, sizeof b);
    cpm_hex_encode(b, sizeof b, out);
    sodium_memzero(b, sizeof b);
}

int gw_auth_login(gw_auth_t *a, const cpm_registry_t *reg, const char *self, const char *token,
                  int64_t now_ms, char sid[GW_AUTH_ID_HEX + 1], cpm_error_t *err)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    if (cpm_grant_untoken(token, &frame, &len) != 0)
        return cpm_error_set(err, CPM_E_INVALID, "token",
                             "the token is not what cpmctl web grant prints (base64url)");
    cpm_grant_t g;
    int rc = cpm_grant_verify(reg, frame, len, self, now_ms, &g, err);
    pthread_mutex_lock(&a->lock);
    /* A free slot first, and the member's own limit: a refused login must
     * not burn the grant's nonce, and one member must not fill the table. */
    slot_t *free_slot = NULL;
    size_t mine = 0;
    for (size_t i = 0; rc == 0 && i < GW_AUTH_SESSIONS; i++) {
        if (a->s[i].used && expired_at(&a->s[i], now_ms))
            slot_free(&a->s[i]);
        if (!a->s[i].used && !free_slot)
            free_slot = &a->s[i];
        if (a->s[i].used && !strcmp(a->s[i].grant.member, g.member))
            mine++;
    }
    if (rc == 0 && mine >= GW_AUTH_PER_MEMBER)
        rc = cpm_error_set(err, CPM_E_FORBIDDEN, "token",
                           "%s has %d open sessions, the most one member may have: log out of "
                           "one (or wait until one expires)",
                           g.member, GW_AUTH_PER_MEMBER);
    else if (rc == 0 && !free_slot)
        rc = cpm_error_set(err, CPM_E_UNAVAILABLE, "token", "too many open sessions");
    if (rc == 0) {
        rc = cpm_grant_nonce_use(a->nonces, &g, now_ms);
        if (rc == CPM_E_CONFLICT)
            rc = cpm_error_set(err, CPM_E_FORBIDDEN, "token",
                               "this grant was used before: ask cpmctl web grant for a new one");
        else if (rc == CPM_E_FORBIDDEN)
            cpm_error_set(err, rc, "token",
                          "%s has logged in with %d grants that have not expired yet, the most "
                          "one member may have: each grant's nonce is kept until the grant "
                          "expires; ask for shorter grants (cpmctl web grant --hours)",
                          g.member, GW_AUTH_PER_MEMBER);
        else if (rc != 0)
            cpm_error_set(err, rc, "token", "too many recent logins: try again later");
    }
    if (rc == 0) {
        free_slot->used = true;
        random_hex(free_slot->id);
        random_hex(free_slot->csrf);
        free_slot->grant = g;
        free_slot->frame = frame, free_slot->frame_len = len;
        free_slot->last_ms = now_ms;
        frame = NULL;
        memcpy(sid, free_slot->id, GW_AUTH_ID_HEX + 1);
    }
    pthread_mutex_unlock(&a->lock);
    free(frame);
    return rc;
}

static slot_t *lookup(gw_auth_t *a, const char *sid)
{
    if (!sid || strlen(sid) != GW_AUTH_ID_HEX)
        return NULL;
    for (size_t i = 0; i < GW_AUTH_SESSIONS; i++)
        if (a->s[i].used && !sodium_memcmp(a->s[i].id, sid, GW_AUTH_ID_HEX))
            return &a->s[i];
    return NULL;
}

int gw_auth_find(gw_auth_t *a, const char *sid, int64_t now_ms, gw_session_t *out, bool *expired)
{
    memset(out, 0, sizeof *out);
    *expired = false;
    int rc = CPM_E_NOT_FOUND;
    pthread_mutex_lock(&a->lock);
    slot_t *s = lookup(a, sid);
    if (s && expired_at(s, now_ms)) {
        slot_free(s);
        *expired = true;
    } else if (s && (out->frame = malloc(s->frame_len))) {
        s->last_ms = now_ms;
        memcpy(out->id, s->id, sizeof out->id);
        memcpy(out->csrf, s->csrf, sizeof out->csrf);
        out->grant = s->grant;
        memcpy(out->frame, s->frame, s->frame_len);
        out->frame_len = s->frame_len;
        rc = 0;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

int gw_auth_alive(gw_auth_t *a, const char *sid, int64_t now_ms)
{
    pthread_mutex_lock(&a->lock);
    slot_t *s = lookup(a, sid);
    int rc = s && !expired_at(s, now_ms) ? 0 : CPM_E_NOT_FOUND;
    if (s && rc != 0)
        slot_free(s);
    pthread_mutex_unlock(&a->lock);
    return rc;
}

void gw_auth_logout(gw_auth_t *a, const char *sid)
{
    pthread_mutex_lock(&a->lock);
    slot_t *s = lookup(a, sid);
    if (s)
        slot_free(s);
    pthread_mutex_unlock(&a->lock);
}

int gw_auth_same_origin(const gw_req_t *rq)
{
    const char *host = gw_req_header(rq, "Host");
    const char *o = gw_req_header(rq, "Origin");
    if (!o || !*o || !strcmp(o, "null"))
        o = gw_req_header(rq, "Referer");
    if (!host || !*host || !o)
        return -1;
    if (!strncmp(o, "http://", 7))
        o += 7;
    else if (!strncmp(o, "https://", 8))
        o += 8;
    else
        return -1;
    size_t n = strlen(host);
    return !strncmp(o, host, n) && (o[n] == 0 || o[n] == '/') ? 0 : -1;
}

int gw_auth_check_post(const gw_req_t *rq, const gw_session_t *s, const char **why)
{
    char csrf[GW_AUTH_ID_HEX + 1];
    if (gw_auth_same_origin(rq) != 0) {
        *why = "the form was not sent from this site (Origin or Referer is not this gateway)";
        return -1;
    }
    if (rq->body_len && memchr(rq->body, 0, rq->body_len)) {
        *why = "the form holds a NUL byte (a form escapes it as %00, which no field takes)";
        return -1;
    }
    if (gw_form_get((const char *)rq->body, "csrf", csrf, sizeof csrf) != 0 ||
        strlen(csrf) != GW_AUTH_ID_HEX || sodium_memcmp(csrf, s->csrf, GW_AUTH_ID_HEX) != 0) {
        *why = "the form's csrf field is missing or is not this session's";
        return -1;
    }
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int gw_form_get(const char *body, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    for (const char *p = body; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, key, klen) != 0 || p[klen] != '=')
            continue;
        size_t n = 0;
        for (const char *q = p + klen + 1; *q && *q != '&'; q++) {
            int c = (unsigned char)*q;
            if (c == '+')
                c = ' ';
            else if (c == '%') {
                if (hexval(q[1]) < 0 || hexval(q[2]) < 0)
                    return -2;
                c = hexval(q[1]) * 16 + hexval(q[2]);
                if (c == 0)
                    return -2;
                q += 2;
            }
            if (n + 1 >= cap)
                return -1;
            out[n++] = (char)c;
        }
        out[n] = 0;
        return 0;
    }
    return -1;
}

int gw_auth_require(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs, bool api, gw_session_t *out)
{
    char sid[GW_AUTH_ID_HEX + 2];
    bool expired = false;
    if (gw_req_cookie(rq, GW_AUTH_COOKIE, sid, sizeof sid) == 0 &&
        gw_auth_find(gw->auth, sid, cpm_now_ms(), out, &expired) == 0)
        return 0;
    gw_count(gw, expired ? "web.session_expired" : "web.session_missing", 1);
    if (api) {
        gw_resp_text(rs, 401, "log in first: %s",
                     expired ? "the session has expired" : "no session");
    } else {
        rs->status = 303;
        gw_resp_header(rs, "Location", expired ? "/login?expired=1" : "/login");
        gw_resp_header(rs, "Cache-Control", "no-store");
    }
    return -1;
}

int gw_auth_login_page(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    (void)gw;
    gw_page_begin(rs, "Log in", NULL);
    if (gw_req_arg(rq, "expired"))
        gw_resp_printf(rs, "<p class=\"note\">Your session has expired. Log in again.</p>\n");
    gw_resp_printf(rs,
                   "<form method=\"post\" action=\"/login\" class=\"login\">\n"
                   "<p>Run <code>cpmctl --as YOUR-ID web grant --gateway %s</code> and paste "
                   "the token it prints.</p>\n"
                   "<label>Token <textarea name=\"token\" rows=\"5\" required "
                   "autocomplete=\"off\"></textarea></label>\n"
                   "<button type=\"submit\">Log in</button>\n</form>\n",
                   gw_mesh_self(gw->mesh));
    gw_page_end(rs);
    return 0;
}

typedef struct {
    gw_auth_t *a;
    const char *self, *token;
    char sid[GW_AUTH_ID_HEX + 1];
    cpm_error_t err;
    int rc;
} login_arg_t;

static int login_with(const cpm_registry_t *reg, void *arg)
{
    login_arg_t *l = arg;
    l->rc = gw_auth_login(l->a, reg, l->self, l->token, cpm_now_ms(), l->sid, &l->err);
    return l->rc;
}

static void set_cookie(const gw_req_t *rq, gw_resp_t *rs, const char *sid, int max_age)
{
    const char *proto = gw_req_header(rq, "X-Forwarded-Proto");
    char c[200];
    snprintf(c, sizeof c, "%s=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d%s", GW_AUTH_COOKIE,
             sid, max_age, proto && !strcmp(proto, "https") ? "; Secure" : "");
    gw_resp_header(rs, "Set-Cookie", c);
}

int gw_auth_login_post(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    char *tok = malloc(CPM_GRANT_TOKEN_MAX + 8);
    if (!tok)
        return -1;
    login_arg_t l = {.a = gw->auth, .self = gw_mesh_self(gw->mesh), .token = tok};
    if (gw_auth_same_origin(rq) != 0) {
        l.rc = cpm_error_set(&l.err, CPM_E_FORBIDDEN, "Origin",
                             "the login was not sent from this site");
        gw_count(gw, "web.csrf_refused", 1);
    } else if (gw_form_get((const char *)rq->body, "token", tok, CPM_GRANT_TOKEN_MAX + 8) != 0) {
        l.rc = cpm_error_set(&l.err, CPM_E_INVALID, "token",
                             "the form has no token (or too long, or badly escaped)");
    } else {
        gw_mesh_with(gw->mesh, login_with, &l);
    }
    free(tok);
    if (l.rc != 0) {
        gw_count(gw, "web.login_refused", 1);
        uint64_t quiet = 0;
        if (gw_auth_refusal_log_due(gw->auth, cpm_mono_ms(), &quiet))
            cpm_info("gateway: login from %s refused: %s; %llu more refused unlogged", rq->peer,
                     l.err.message, (unsigned long long)quiet);
        gw_page_begin(rs, "Log in", NULL);
        rs->status = l.rc == CPM_E_UNAVAILABLE ? 503 : l.rc == CPM_E_INVALID ? 400 : 403;
        gw_resp_printf(rs, "<p class=\"error\">Not logged in: ");
        gw_html_esc(rs, l.err.message);
        gw_resp_printf(rs, "</p>\n<p><a href=\"/login\">Try again</a></p>\n");
        gw_page_end(rs);
        return 0;
    }
    gw_count(gw, "web.login", 1);
    cpm_info("gateway: session opened from %s", rq->peer);
    set_cookie(rq, rs, l.sid, (int)(GW_AUTH_IDLE_MS / 1000));
    rs->status = 303;
    gw_resp_header(rs, "Location", "/dash");
    sodium_memzero(l.sid, sizeof l.sid);
    return 0;
}

int gw_auth_logout_post(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    gw_session_t s;
    if (gw_auth_require(gw, rq, rs, true, &s) != 0)
        return 0;
    const char *why = NULL;
    if (gw_auth_check_post(rq, &s, &why) != 0) {
        gw_count(gw, "web.csrf_refused", 1);
        cpm_info("gateway: logout of %s refused: %s", s.grant.member, why);
        gw_session_clear(&s);
        return gw_resp_text(rs, 403, "%s", why);
    }
    gw_auth_logout(gw->auth, s.id);
    gw_live_wake(gw->live); /* its event streams end now, not at the next keep-alive */
    gw_session_clear(&s);
    set_cookie(rq, rs, "", 0);
    rs->status = 303;
    gw_resp_header(rs, "Location", "/login");
    return 0;
}
