/* gw_prom: the mesh's health as Prometheus metrics (GET /metrics).
 *
 * Collection (main thread, from the gateway's tick): every metrics_every_s (config, default 10 s)
 * the module sends MSG_HEALTH_QUERY to every service of every member in the
 * server's registry (one request in flight per service), from cpm_clients of
 * its own (instances "<node>/gateway.prom.<k>", at most GW_PROM_PER_CLIENT
 * services each, so no link is ever evicted while a request waits). It never
 * waits for the answers: each tick reads the answers that have arrived, each
 * link polled for 1 ms at most and the whole reading bounded by
 * GW_PROM_TICK_BUDGET_MS; an answer not read within GW_PROM_TIMEOUT_MS of its
 * request (i.e. by the second tick after it) counts as no answer. Before the
 * next round, a client with a request that went unanswered is closed and
 * made again (dropping what waits on its links), so an unreachable service
 * never has more than one request queued towards it: ZeroMQ would otherwise
 * block the loop once eight wait (tests/integration/test_prometheus.py
 * test_silent_service_does_not_stall_collection). Sending is budgeted too:
 * a round asks as many services as fit in GW_PROM_TICK_BUDGET_MS and goes on
 * at the next tick (making a link and signing take a few ms each at a
 * round's start; reading ticks take about 1 ms on the local city).
 *
 * The last answer of each service is kept under the module's lock, capped
 * (gw_prom_cap); the HTTP handler takes a reference to each answer under the
 * lock and renders after releasing it (the tick never waits on a scrape),
 * and never calls the mesh. A service that did not
 * answer the last round shows only cpmesh_up 0 (and when it last answered), so
 * alert rules never judge stale figures.
 *
 * Access: /metrics answers only requests from a loopback address that carry
 * no proxy header (Forwarded, X-Forwarded-For, X-Real-IP): a TLS proxy in
 * front of the gateway does not expose it. Others get 403 (counted
 * metrics.refused).
 *
 * Names (the mapping from health counters; docs/operations.md "Metrics and
 * alerts"): counter "rejected.<reason>" -> cpmesh_rejected_total{reason},
 * "invalid.<reason>" -> cpmesh_invalid_total{reason}, any other counter
 * "a.b" -> cpmesh_a_b_total (characters outside [A-Za-z0-9_] become '_');
 * every sample has the labels node and service; the per-stream figures of
 * PeerStatus have stream as well. */
#ifndef GW_PROM_H
#define GW_PROM_H

#include "cpm_server.h"
#include "gw_ctx.h"

#include <stdbool.h>
#include <stdint.h>

#define GW_PROM_TIMEOUT_MS 2500
#define GW_PROM_TICK_BUDGET_MS 40
#define GW_PROM_PER_CLIENT 30
#define GW_PROM_TARGETS_MAX 512
#define GW_PROM_COUNTERS_MAX 256 /* health counters kept of one answer */
#define GW_PROM_PEERS_MAX 256    /* streams (PeerStatus) kept of one answer */
#define GW_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One service as the renderer sees it. */
typedef struct {
    const char *node;
    const char *service;
    bool up;                   /* answered the last round */
    int64_t last_ok_ms;        /* wall-clock time of its last answer (0: never) */
    int64_t rtt_ms;            /* round trip of that answer */
    const Cpm__HealthReply *h; /* the last answer when up, else NULL */
    uint64_t truncated;        /* counters and streams of that answer left out */
} gw_prom_target_t;

/* Cut h to GW_PROM_COUNTERS_MAX counters and GW_PROM_PEERS_MAX streams (the
 * first ones kept), freeing the rest, when the answer is taken: a hostile or
 * broken service cannot make every scrape huge. Returns how many were
 * dropped (metrics.truncated, and the gauge cpmesh_health_truncated). */
uint64_t gw_prom_cap(Cpm__HealthReply *h);

/* Appends the exposition text (format 0.0.4) for n targets to rs: one HELP
 * and one TYPE line per family, families sorted by name, label values
 * escaped. now_ms (wall clock) gives the uptimes. 0, or -1 out of memory. */
int gw_prom_render(const gw_prom_target_t *t, size_t n, int64_t now_ms, gw_resp_t *rs);

/* The family (cpmesh_..._total) and the split-out label ("reason", or NULL)
 * with its value for a health counter's name. family holds cap bytes. */
void gw_prom_counter_family(const char *counter, char *family, size_t cap, const char **label,
                            const char **label_value);

/* The collector (main thread only, except gw_prom_handle). */
int gw_prom_new(gw_prom_t **out, cpm_server_t *srv, cpm_error_t *err);
void gw_prom_destroy(gw_prom_t **p);
/* From the gateway's tick: read answers, start a round when due. */
void gw_prom_tick(gw_prom_t *p, cpm_server_t *srv);
/* From registry_changed: the services to ask, and new links. */
void gw_prom_registry_changed(gw_prom_t *p, cpm_server_t *srv);

/* True when rq may read /metrics (loopback, not through a proxy). */
bool gw_prom_allowed(const gw_req_t *rq);
/* GET /metrics (any HTTP thread). */
int gw_prom_handle(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);

#endif
