/* delivery: how long complaints take from intake to routing through the
 * mesh, against the same pipeline in one process. */
#ifndef BENCH_INTAKE_DELIVERY_H
#define BENCH_INTAKE_DELIVERY_H

#include "bench.h"
#include "link.h"

/* Health links: one per service (a DEALER reaches one ROUTER). */
typedef struct {
    link_t intake, routing;
} health_links_t;

/* n complaints as fast as nclients clients pipelining window requests each
 * submit them; time from the first submit until routing reports
 * delivery.records_applied up by n; then the baseline; printed. 0 or -1. */
int delivery_phase(const env_t *e, health_links_t *hl, uint64_t n, int nclients, int window);

#endif
