/* routing_clusters: many consumers' complaints about one business, kept as
 * an aggregate per business so that the coordinators' list costs the same
 * whatever the number of complaints ever recorded.
 *
 * Databases (b is the 32 hex digits of a business: see routing_dupes.h):
 *   "clusters"         b -> Cluster (distinct consumers, complaints, first
 *                      ticket, first and last received_ms)
 *   "clusters.rank"    "%08x%08x" of (~consumers, ~cases) + b -> "" : the
 *                      clusters in reply order (most consumers, then most
 *                      complaints, first), so a query reads only the entries
 *                      it returns, and its key is the paging cursor
 *   "clusters.members" b + hex(consumer_key) -> last received_ms (8 bytes BE):
 *                      who is counted as a consumer of b
 *   "clusters.themes"  b -> its themes (routing_themes.h), deleted with it
 * Retention (routing_clusters_sweep): a consumer silent about a business for
 * the clusters window is forgotten (its cluster counts one consumer less; if
 * it comes back it counts again), and a cluster without a complaint for the
 * window is deleted. No sockets. */
#ifndef ROUTING_CLUSTERS_H
#define ROUTING_CLUSTERS_H

#include "cpm_err.h"
#include "cpm_store.h"
#include "cpm_sweep.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTING_CLUSTERS_DB "clusters"
#define ROUTING_CLUSTER_RANK_DB "clusters.rank"
#define ROUTING_CLUSTER_MEMBERS_DB "clusters.members"
#define ROUTING_CLUSTERS_MAX 500      /* clusters in one reply at most */
#define ROUTING_CLUSTER_CURSOR_LEN 48 /* a rank key: 16 + 32 hex digits */

/* Count complaint c (received at at_ms) in the cluster of business bid (32
 * hex digits) named norm ("" when known by its address only) at address (its
 * normal form, "" when none): a case, a consumer when its consumer_key is not
 * yet counted there, and its description in the business's themes
 * (routing_themes.h), in the caller's transaction. 0 or a store error. */
int routing_clusters_count(cpm_store_t *st, MDB_txn *txn, const char *bid, const char *norm,
                           const char *address, const Cpm__Complaint *c, int64_t at_ms);

/* Whether business bid has a cluster (*exists). 0 or a store error. */
int routing_clusters_exists(cpm_store_t *st, MDB_txn *txn, const char *bid, bool *exists);

/* One page of the clusters with at least q->min_consumers distinct consumers
 * (0: 2), most consumers first, at most q->max (0: 100; capped at
 * ROUTING_CLUSTERS_MAX), after the cursor q->after; each with up to
 * q->themes (0: 5; capped at ROUTING_THEMES_MAX) of its themes. Reads at most max + 1
 * entries of the rank index. *out is malloc'd (free with
 * routing_clusters_free); truncated and next_after tell that more matched.
 * 0, CPM_E_INVALID naming "after", or a store error. */
int routing_clusters_page(cpm_store_t *st, MDB_txn *txn, const Cpm__ClustersQuery *q,
                          Cpm__ClustersReply **out, cpm_error_t *err);

/* routing_clusters_page from the top. */
int routing_clusters(cpm_store_t *st, MDB_txn *txn, uint32_t min_consumers, uint32_t max,
                     Cpm__ClustersReply **out);
void routing_clusters_free(Cpm__ClustersReply **r);

typedef struct {
    cpm_sweep_cursor_t members, clusters;
} routing_clusters_sweep_t;

/* One bounded retention step (at most max entries of each database looked
 * at): consumers last heard before now_ms - window_ms are forgotten, clusters
 * last heard before it deleted with their rank. Counts what was deleted into
 * *members and *clusters. 0 or a store error. */
int routing_clusters_sweep(cpm_store_t *st, MDB_txn *txn, int64_t now_ms, int64_t window_ms,
                           size_t max, routing_clusters_sweep_t *cur, size_t *members,
                           size_t *clusters);

#endif
