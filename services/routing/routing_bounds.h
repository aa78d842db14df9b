/* routing_bounds: retention of routing's duplicate and cluster indexes, in
 * bounded steps on the service tick.
 *
 * Every complaint adds to "dupes" (one consumer about one business) and to the
 * cluster aggregates; a sender that complains without end must not make them
 * grow without end, nor make one tick long. Each tick looks at no more than
 * ROUTING_BOUNDS_STEP entries of each database, resuming where the last tick
 * stopped: link entries older than link_window_s (plus the grace of
 * routing_dupes.h) and consumers and clusters not heard from for
 * clusters_window_days are deleted, counted as retention.dupes_deleted,
 * retention.cluster_members_deleted and retention.clusters_deleted; address
 * and name links (routing_bizlink.h) unused for that long too, counted as
 * retention.cluster_aliases_deleted. */
#ifndef ROUTING_BOUNDS_H
#define ROUTING_BOUNDS_H

#include "cpm_server.h"

#define ROUTING_BOUNDS_STEP 500

/* One bounded retention step in its own write (one routing per process: the
 * cursors are this module's). Failures are logged and retried next tick. */
void routing_bounds_tick(cpm_server_t *srv);

#endif
