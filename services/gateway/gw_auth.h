/* gw_auth: the dashboard's logins, sessions and CSRF protection.
 *
 * A person logs in with a web grant (cpm_grant: `cpmctl web grant --gateway
 * hn.gw` prints it as a token). The gateway checks it against its registry
 * copy (signed by the member's current key, for this gateway, unexpired, at
 * most 12 h) and that its nonce was never used here, then opens a session: a
 * random 256-bit id in a cookie (HttpOnly, SameSite=Strict, Path=/; Secure
 * behind a proxy that says X-Forwarded-Proto: https), idle expiry 30 min,
 * never past the grant's not_after. Each query made for the session carries
 * the grant (on_behalf), so routing answers as the person, not as the
 * gateway. Every POST (logout, and any form) must carry the session's CSRF
 * token (a random value of its own, field "csrf") and an Origin (or Referer)
 * whose host is the request's Host.
 *
 * Sessions live in memory (a restart logs everyone out), at most
 * GW_AUTH_SESSIONS of them; the table and the nonces are under the module's
 * lock. Counted (gw_count): web.login, web.login_refused, web.csrf_refused,
 * web.session_expired, web.session_missing. */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include "cpm_grant.h"
#include "gw_http.h"

#define GW_AUTH_SESSIONS 1024
#define GW_AUTH_PER_MEMBER 8 /* open sessions, and unexpired used grants, of one member */
#define GW_AUTH_IDLE_MS (30LL * 60 * 1000)
#define GW_AUTH_COOKIE "cpm_session"
#define GW_AUTH_ID_HEX 64

/* A copy of a session, for one request. */
typedef struct {
    char id[GW_AUTH_ID_HEX + 1];
    char csrf[GW_AUTH_ID_HEX + 1];
    cpm_grant_t grant; /* member, role, agency, not_after_ms */
    uint8_t *frame;    /* the signed grant (malloc'd copy), for on_behalf */
    size_t frame_len;
} gw_session_t;

void gw_session_clear(gw_session_t *s);

typedef struct gw_auth gw_auth_t;

int gw_auth_new(gw_auth_t **out);
void gw_auth_destroy(gw_auth_t **p);

/* Log in with a token for gateway self against reg at now_ms: 0 and the new
 * session's id in sid, or an error code with err (CPM_E_FORBIDDEN: a bad,
 * expired, foreign or used grant,
 * or the member has GW_AUTH_PER_MEMBER open sessions or unexpired used
 * grants (the 9th is refused, err naming the member and the limit; nothing
 * of theirs is ended); CPM_E_INVALID: not a token; CPM_E_UNAVAILABLE: the
 * whole table of sessions or nonces is full). The grant's nonce is used only
 * when a session can be opened. */
int gw_auth_login(gw_auth_t *a, const cpm_registry_t *reg, const char *self, const char *token,
                  int64_t now_ms, char sid[GW_AUTH_ID_HEX + 1], cpm_error_t *err);
/* The session sid at now_ms (touching its idle time): 0 and a copy in out;
 * CPM_E_NOT_FOUND when unknown, or expired (then forgotten: *expired true). */
int gw_auth_find(gw_auth_t *a, const char *sid, int64_t now_ms, gw_session_t *out, bool *expired);
/* Whether session sid is still open at now_ms, WITHOUT touching its idle
 * time (the event stream asks this on each chunk: a stream alone must not
 * keep a session alive). 0 or CPM_E_NOT_FOUND (expired ones forgotten). */
int gw_auth_alive(gw_auth_t *a, const char *sid, int64_t now_ms);
void gw_auth_logout(gw_auth_t *a, const char *sid);

/* Same-origin check of a state-changing request: Origin (else Referer) must
 * be http(s)://<Host>[/...]. 0 or -1. */
int gw_auth_same_origin(const gw_req_t *rq);
/* The CSRF check of a POST for session s: same origin and the form's csrf
 * field equal to the session's. 0 or -1 (why in *why, a static sentence). */
int gw_auth_check_post(const gw_req_t *rq, const gw_session_t *s, const char **why);

/* Whether to log a refused login now: at most one line every
 * GW_AUTH_LOG_EVERY_MS (anyone may send refused logins as fast as they
 * like; each is still counted), *quiet saying how many were not logged
 * since. */
#define GW_AUTH_LOG_EVERY_MS 10000
bool gw_auth_refusal_log_due(gw_auth_t *a, int64_t now_ms, uint64_t *quiet);

/* The value of field key of an application/x-www-form-urlencoded body,
 * decoded into out (cap bytes). 0, -1 when absent or too long, -2 when the
 * value holds a broken % escape or an escaped NUL (%00: it would cut the
 * value short). A raw NUL ends body here: gw_auth_check_post refuses such a
 * form. */
int gw_form_get(const char *body, const char *key, char *out, size_t cap);

/* For handlers: the request's session (0), or -1 after filling rs with the
 * answer (a redirect to /login for pages, 401 for the event stream when
 * api is true). */
int gw_auth_require(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs, bool api, gw_session_t *out);

/* Routes: GET /login, POST /login, POST /logout. */
int gw_auth_login_page(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);
int gw_auth_login_post(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);
int gw_auth_logout_post(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);

#endif
