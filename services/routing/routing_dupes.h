/* routing_dupes: one consumer's repeated complaints, and many consumers'
 * complaints about one business.
 *
 * A complaint carries Complaint.consumer_key (intake: a keyed hash of the
 * consumer's phone or email, never the contact). Its business is the
 * normalised business name (lower case, diacritics and punctuation dropped,
 * spaces collapsed) within its area. A complaint of the same consumer about
 * the same business received within the window after the first one is
 * linked to that first case (StatusReply.linked_to, event "case.linked"); it
 * is routed like any other, never dropped. Databases:
 *   "dupes"    hex(b) hex(consumer_key) -> first received_ms (8 bytes BE) + ticket
 *   "clusters" hex(b) -> Cluster (distinct consumers, complaints, first ticket)
 * where b is a 16-byte BLAKE2b of "<area>\x1f<normalised name>". The
 * coordinators' list (routing_clusters) reads "clusters". No sockets. */
#ifndef ROUTING_DUPES_H
#define ROUTING_DUPES_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTING_DUPES_DB "dupes"
#define ROUTING_CLUSTERS_DB "clusters"
#define ROUTING_TICKET_MAX 64
#define ROUTING_CLUSTERS_MAX 500 /* clusters in one reply at most */

/* The link window (routing config link_window_s; default 30 days). One
 * routing per process, so it is set once at start. */
void routing_dupes_set_window(int64_t window_ms);

/* The business name in normal form into out ("pho 24" for "PHỞ  24!");
 * false when nothing is left. */
bool routing_business_norm(const char *name, char *out, size_t n);

/* Count complaint c (being routed now, once per ticket) in its business's
 * cluster and link it to the first case of the same consumer and business
 * within the window: linked_to gets that ticket, or "". Logs "case.linked".
 * 0 or a store error. */
int routing_dupes_link(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                       const Cpm__Complaint *c, int64_t now_ms, char linked_to[ROUTING_TICKET_MAX]);

/* The clusters with at least min_consumers distinct consumers (0: 2), most
 * consumers first, at most max (0: 100; capped at ROUTING_CLUSTERS_MAX).
 * *out is malloc'd (free with routing_clusters_free); *truncated tells that
 * more matched. 0 or a store error. */
int routing_clusters(cpm_store_t *st, MDB_txn *txn, uint32_t min_consumers, uint32_t max,
                     Cpm__ClustersReply **out);
void routing_clusters_free(Cpm__ClustersReply **r);

#endif
