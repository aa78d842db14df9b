/* mesh: client threads against the running mesh, each with its own link,
 * pipelining requests, and the figures of one phase. */
#ifndef BENCH_INTAKE_MESH_H
#define BENCH_INTAKE_MESH_H

#include "bench.h"
#include "link.h"

typedef struct {
    int clients, window;
    uint64_t ok, refused, busy; /* busy: 503 "rate" refusals, resent and counted here */
    double rate, p50, p99, group, server_cpu_us, others_cpu_us, client_cpu_us, machine_cores;
    int64_t start_us, elapsed_us; /* from after the warm-up to the last reply */
    int failed;
} mesh_result_t;

/* nclients clients with window requests in flight each, for dur_us or, when
 * total_msgs is not 0, until they have sent total_msgs between them. 0, or -1
 * when a client failed or requests were refused (said on stderr). */
int run_clients(const env_t *e, int nclients, int window, int64_t dur_us, uint64_t total_msgs,
                mesh_result_t *res);
/* run_clients for dur_us, with the group size intake achieved (its health
 * counters read over hl before and after). */
int mesh_phase(const env_t *e, link_t *hl, int nclients, int window, int64_t dur_us,
               mesh_result_t *res);

#endif
