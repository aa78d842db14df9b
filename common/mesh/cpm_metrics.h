/* cpm_metrics: named counters of one process (received, rejected.<reason>,
 * delivered, retried, ...), reported by the health query. */
#ifndef CPM_METRICS_H
#define CPM_METRICS_H

#include "cpm_err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cpm_metrics cpm_metrics_t;

CPM_MUST_CHECK cpm_metrics_t *cpm_metrics_new(void);
void cpm_metrics_destroy(cpm_metrics_t **p);
/* Add n to the counter name, creating it at 0 first (nothing while this
 * thread is muted). */
void cpm_metrics_add(cpm_metrics_t *m, const char *name, uint64_t n);
/* Mute (on != 0) or unmute cpm_metrics_add on the calling thread: for work
 * done a second time that was already counted the first time (an item of a
 * batch applied again after a refused one undid its run: cpm_runs.h).
 * Returns the thread's previous state, which the caller restores when done
 * (cpm_metrics_mute(prev)), so that a mute inside another leaves it on. */
int cpm_metrics_mute(int on);
uint64_t cpm_metrics_get(const cpm_metrics_t *m, const char *name);
size_t cpm_metrics_count(const cpm_metrics_t *m);
/* The i-th counter in creation order; 0 or -1 when i is out of range. */
int cpm_metrics_at(const cpm_metrics_t *m, size_t i, const char **name, uint64_t *value);

#endif
