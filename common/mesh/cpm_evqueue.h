/* cpm_evqueue: the events a stream reader fetched, kept until they are
 * applied.
 *
 * A service that derives state from other services' event streams (the
 * monitor, the hotspot detector) fetches with cpm_subscriber outside any
 * transaction, then applies what it fetched, with its cursors, in one short
 * write transaction. The subscriber's callback lends each event only for the
 * call, so the queue keeps a copy. At most cap events are kept: past that, or
 * when a copy fails, the queue is "bad" — the subscriber's cursors moved past
 * events that were not kept, so the reader must drop the whole sweep and start
 * again from its stored cursors. No sockets, no store. */
#ifndef CPM_EVQUEUE_H
#define CPM_EVQUEUE_H

#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>

#define CPM_EVQUEUE_NAME 128 /* node and service names kept per event */

typedef struct {
    char node[CPM_EVQUEUE_NAME], service[CPM_EVQUEUE_NAME];
    Cpm__Event *ev;
} cpm_evq_item_t;

typedef struct cpm_evqueue cpm_evqueue_t;

/* A queue of at most cap events; NULL when out of memory. */
cpm_evqueue_t *cpm_evqueue_new(size_t cap);
void cpm_evqueue_destroy(cpm_evqueue_t **p);
/* Keep a copy of ev of node/service (from a subscriber's event callback).
 * Full, or the copy failed: the queue becomes bad and keeps nothing more. */
void cpm_evqueue_push(cpm_evqueue_t *q, const char *node, const char *service,
                      const Cpm__Event *ev);
size_t cpm_evqueue_len(const cpm_evqueue_t *q);
/* An event was lost since the last clear: the sweep must not be applied. */
bool cpm_evqueue_bad(const cpm_evqueue_t *q);
/* The i-th event kept (i < cpm_evqueue_len), owned by the queue. */
const cpm_evq_item_t *cpm_evqueue_at(const cpm_evqueue_t *q, size_t i);
/* Free what is kept; the queue is empty and good again. */
void cpm_evqueue_clear(cpm_evqueue_t *q);

#endif
