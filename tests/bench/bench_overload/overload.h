/* overload: what the parts of bench_overload share: the mesh (env_t of
 * bench_intake), the probes that measure a registered peer's latency, and the
 * floods of issue 5 that run beside them. */
#ifndef BENCH_OVERLOAD_H
#define BENCH_OVERLOAD_H

#include "bench.h"
#include "link.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* ---- probes: one request in flight, latency of each verified reply ------- */

typedef struct {
    const env_t *e;
    const char *what; /* "submit@intake" or "health@routing" */
    int submit;       /* 1: submit_complaint to intake, 0: health_query to routing */
    int timeout_ms;
    atomic_int *stop;
    /* results */
    int64_t *lat_us;
    size_t n, cap;
    uint64_t lost;    /* no reply within timeout_ms (counted at timeout_ms) */
    uint64_t refused; /* an ErrorReply */
    int failed;
    pthread_t th;
} probe_t;

int probe_start(probe_t *p);
void probe_join(probe_t *p);
void probe_free(probe_t *p);
/* Quantile q of the probe's latencies in ms (sorts them). */
double probe_pct(probe_t *p, double q);

/* ---- floods ---------------------------------------------------------------- */

typedef struct flood flood_t;
struct flood {
    const char *name;   /* e.g. "a unknown-field frames" */
    const char *victim; /* "intake" or "routing" */
    void *(*run)(void *);
    const env_t *e;
    atomic_int stop;
    /* figures the flood reports */
    atomic_ullong sent, bytes, replies, failures, open, peak_open, reconnects;
    atomic_llong elapsed_us; /* d, e: how long it sent */
    char note[160];
    /* parameters */
    int conns;    /* b: idle connections */
    long records; /* c: empty records per batch */
    int rate;     /* d, e: fetches per second */
    pthread_t th;
};

void *flood_unknown_fields(void *arg); /* a */
void *flood_idle_tcp(void *arg);       /* b */
void *flood_empty_records(void *arg);  /* c */
void *flood_unread_fetches(void *arg); /* d */
void *flood_fetch_storm(void *arg);    /* e */

/* A DEALER over CURVE to member's service as identity id, with the given
 * high-water marks (0: libzmq's default) and receive buffer (0: default).
 * NULL on failure. */
void *overload_socket(void *zctx, const env_t *e, const cpm_identity_t *id, const char *member,
                      const char *service, int sndhwm, int rcvhwm, int rcvbuf);
/* Load <home>/keys/<member>.secret into id. 0 or -1 (said on stderr). */
int overload_identity(const env_t *e, const char *member, cpm_identity_t *id);
/* A member that may send case_batch to routing and whose key is in the home
 * (an area node), or NULL. */
const char *overload_area(const env_t *e);
/* The endpoint of member's service in the registry, or NULL. */
const char *overload_endpoint(const env_t *e, const char *member, const char *service);

#endif
