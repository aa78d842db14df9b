/* gw_live: the dashboard's live events (server-sent events).
 *
 * The loop's tick (main thread) polls a cpm_subscriber of every service's
 * event stream (its own client and registry copy, remade when the registry
 * changes; its cursor kept under data_dir/live-cursor) and puts each event,
 * in its public projection (node, service, seq, time, kind, ticket, agency,
 * area, category, state: never notes, actors, businesses or contact), into
 * a ring of the last GW_LIVE_RING events (kept as those fields and made into
 * JSON once, when the first reader reaches it). Each SSE connection reads the ring
 * from a position of its own (from Last-Event-ID when the browser
 * reconnects, else the oldest held): a reader that falls more than the ring
 * behind is told (an SSE comment ": gap N") and goes on from the oldest. An
 * idle stream gets a comment every 15 s. Ring and readers share the
 * module's lock and condition variable.
 *
 * A stream belongs to a session: before each chunk (event, gap notice or
 * keep-alive) the reader asks gw_auth_alive, which does not touch the idle
 * time, and ends the stream when the session is gone (logout wakes the
 * readers at once; idle and grant expiry are seen at the next keep-alive at
 * the latest). Streams hold long-lived connections, and behind the proxy the
 * gateway has GW_CONN_PER_IP of them for every client together, so they are
 * bounded three ways: GW_LIVE_PER_SESSION per session and GW_LIVE_PER_MEMBER
 * per member over all its sessions (429 beyond either), GW_LIVE_MAX in the
 * whole gateway (503 beyond: the other half of the connections stays for
 * pages and Open311).
 * Scope (as routing's): coordinator and city see every event; department,
 * area, inspector and officer only those whose agency is their own; other
 * roles (operator, association, gateway...) get 403 for the stream. */
#ifndef GW_LIVE_H
#define GW_LIVE_H

#include "cpm_config.h"
#include "cpm_keys.h"
#include "cpmesh.pb-c.h"
#include "gw_auth.h"
#include "gw_http.h"
#include "gw_server.h"

#define GW_LIVE_RING 1000
#define GW_LIVE_EVENT_MAX 1024 /* bytes of one event's "data:" JSON */
#define GW_LIVE_PER_SESSION 2
#define GW_LIVE_PER_MEMBER 4 /* a member logs in from up to GW_AUTH_PER_MEMBER sessions */
#define GW_LIVE_MAX (GW_CONN_PER_IP / 2) /* 16; nginx's max_conns is GW_CONN_PER_IP */

typedef struct gw_live gw_live_t;

/* zctx, cfg, id borrowed (outlive the module). The subscriber is made at
 * the first tick (and again after a registry change). */
int gw_live_new(gw_live_t **out, void *zctx, const cpm_config_t *cfg, const cpm_identity_t *id);
void gw_live_destroy(gw_live_t **p);
/* Main thread: deliver what arrived (bounded work). */
void gw_live_tick(gw_live_t *l);
/* Main thread: the registry changed; remake the subscriber at the next tick. */
void gw_live_reload(gw_live_t *l);
/* Wake every waiting reader so that it checks its session now (after a
 * logout). Any thread. */
void gw_live_wake(gw_live_t *l);
/* Wake every reader and end their streams (before the HTTP server stops). */
void gw_live_stop(gw_live_t *l);

/* Put one event (a JSON object, at most GW_LIVE_EVENT_MAX bytes) into the
 * ring with its agency (the readers' scope: the object's "agency"; NULL as
 * ""), any thread; used by the tick, and by tests. */
void gw_live_push(gw_live_t *l, const char *json, const char *agency);
/* Put one event of node/service into the ring as its public projection (the
 * tick's subscriber does; any thread): kept as its fields and made into
 * JSON when the first reader reaches it, once. An event whose JSON might
 * not fit GW_LIVE_EVENT_MAX is made now and left out when it does not fit;
 * one that cannot be made (out of memory) is stepped over by every reader
 * (the first one that tried gets an SSE comment ": skipped <id>"). */
void gw_live_push_event(gw_live_t *l, const char *node, const char *service, const Cpm__Event *ev);
/* Events pushed so far (the next event's id is this). */
uint64_t gw_live_head(gw_live_t *l);

/* Whether role sees the live events: 0 with *all (every event) or not
 * (those of its own agency), or -1 (none). */
int gw_live_scope(const char *role, bool *all);
/* Why gw_live_reader_open refused a stream (the HTTP status it is answered
 * with). */
typedef enum {
    GW_LIVE_OPENED = 0,
    GW_LIVE_NOT_IN_SCOPE, /* 403: the role sees no events */
    GW_LIVE_SESSION_FULL, /* 429: the session has GW_LIVE_PER_SESSION streams open */
    GW_LIVE_MEMBER_FULL,  /* 429: the member has GW_LIVE_PER_MEMBER open, all sessions together */
    GW_LIVE_FULL,         /* 503: the gateway has GW_LIVE_MAX open */
    GW_LIVE_NO_MEMORY,    /* 500 */
} gw_live_open_t;

/* A reader from position pos (clamped to what the ring holds) for session
 * sid (checked in auth before each chunk; auth NULL: not checked) of member
 * (the grant's member id), of role and agency, for the SSE stream:
 * gw_live_read has the gw_stream_fn signature. GW_LIVE_OPENED and *out, or
 * why not (*out NULL; the caps checked session, member, then gateway). An
 * empty or NULL sid or member is not counted against its own cap (tests);
 * every reader counts against GW_LIVE_MAX. A reader holds its place until
 * gw_live_reader_free (a stream whose client went away: until a write to it
 * fails, at a keep-alive). */
gw_live_open_t gw_live_reader_open(gw_live_t *l, uint64_t pos, gw_auth_t *auth, const char *sid,
                                   const char *member, const char *role, const char *agency,
                                   void **out);
ssize_t gw_live_read(void *reader, uint64_t off, char *buf, size_t cap);
void gw_live_reader_free(void *reader);
/* For tests: how long a reader waits for an event before it writes a
 * keep-alive comment (default 15000 ms). */
void gw_live_set_wait(gw_live_t *l, int ms);

/* Route: GET /dash/events (text/event-stream, needs a session). */
int gw_live_events(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);

#endif
