/* routing_clusters: many consumers' complaints about one business, kept as
 * an aggregate per business so that the coordinators' list costs the same
 * whatever the number of complaints ever recorded.
 *
 * Databases (b is the 32 hex digits of a business: see routing_dupes.h):
 *   "clusters"         everything of one business under keys that begin
 *                      with b, so that the complaint that updates them all
 *                      dirties one leaf of one B-tree, not one leaf of each
 *                      of four (a business's keys are random: nothing else
 *                      shares a page with them):
 *       b (32)                   -> Cluster (distinct consumers, complaints,
 *                                   first ticket, first and last received_ms)
 *       b "/t" (34)              -> its themes (routing_themes.h), deleted
 *                                   with it
 *       b hex(consumer_key) (96) -> last received_ms (8 bytes BE): who is
 *                                   counted as a consumer of b
 *       b hex(consumer_key) "/d" (98) -> its duplicate link (routing_dupes.h)
 *       b "/a" k (66)            -> when alias k (an address's or a name's
 *                                   key, routing_bizlink.h) that leads to b
 *                                   was last used (8 bytes BE): refreshed
 *                                   here, on the leaf the complaint writes
 *                                   anyway, rather than in "clusters.alias"
 *                                   (a random key: a page of its own per
 *                                   complaint); deleted with the alias or
 *                                   with the cluster
 *   "clusters.order"   ~consumers, ~cases (4 bytes each, big-endian), then
 *                      b's 16 bytes (24) -> "" : the clusters in reply order
 *                      (most consumers, then most complaints, first), so a
 *                      query reads only the entries it returns; its key in
 *                      hex (48 digits) is the paging cursor. Every complaint
 *                      moves its cluster's entry (its cases change): two
 *                      random places in this tree, whose keys are kept short
 *                      so that it stays a level shallower (fewer branch
 *                      pages copied per commit)
 * Stores written before "clusters.order" have the same keys in hex in
 * "clusters.rank" (48 bytes; the cursors are the same strings): moved
 * before routing serves (routing_clusters_rank_move, in bounded steps, each
 * its own transaction).
 * Stores written before (consumers in "clusters.members", themes in
 * "clusters.themes", links in "dupes", under the keys without the suffix)
 * keep working without a migration step: an entry not found in "clusters"
 * is looked up there (only while that database has entries), moved to
 * "clusters" when it is next written, and the old databases are swept as
 * before until they are empty.
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

struct routing_themes_text; /* routing_themes.h, which includes this */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTING_CLUSTERS_DB "clusters"
#define ROUTING_CLUSTER_RANK_DB "clusters.order"
#define ROUTING_CLUSTER_RANK_OLD_DB "clusters.rank"   /* hex keys: the layout before */
#define ROUTING_CLUSTER_RANK_KEY_LEN 24               /* ~consumers, ~cases, b (binary) */
#define ROUTING_CLUSTER_MEMBERS_DB "clusters.members" /* the layout before */
#define ROUTING_CLUSTERS_MAX 500                      /* clusters in one reply at most */
#define ROUTING_CLUSTER_KEY_LEN 32                    /* b: the aggregate */
#define ROUTING_CLUSTER_THEMES_KEY_LEN 34             /* b "/t" */
#define ROUTING_CLUSTER_MEMBER_KEY_LEN 96             /* b hex(consumer_key) */
#define ROUTING_CLUSTER_DUPE_KEY_LEN 98               /* b hex(consumer_key) "/d" */
#define ROUTING_CLUSTER_CURSOR_LEN 48                 /* a rank key in hex */
#define ROUTING_CLUSTER_SEEN_KEY_LEN 66               /* b "/a" k: when alias k was last used */

/* Count complaint c (received at at_ms) in the cluster of business bid (32
 * hex digits) named norm ("" when known by its address only) at address (its
 * normal form, "" when none): a case, a consumer when its consumer_key is not
 * yet counted there, and its description in the business's themes
 * (routing_themes.h; text: its description made ahead, or NULL), in the
 * caller's transaction. 0 or a store error. */
int routing_clusters_count(cpm_store_t *st, MDB_txn *txn, const char *bid, const char *norm,
                           const char *address, const Cpm__Complaint *c, int64_t at_ms,
                           const struct routing_themes_text *text);

/* The value under key (klen bytes) of "clusters", or for a store written
 * before the move, under the same key without its suffix (oklen bytes) in
 * old_db, then *in_old is true. CPM_E_NOT_FOUND, 0 or a store error. */
int routing_clusters_get_moved(cpm_store_t *st, MDB_txn *txn, const char *key, size_t klen,
                               const char *old_db, size_t oklen, const void **v, size_t *vlen,
                               bool *in_old);

/* Store v under key of "clusters"; in_old (what routing_clusters_get_moved
 * said): the entry of old_db goes. 0 or a store error. */
int routing_clusters_put_moved(cpm_store_t *st, MDB_txn *txn, const char *key, size_t klen,
                               const void *v, size_t vlen, const char *old_db, size_t oklen,
                               bool in_old);

/* Whether old_db (a database of the layout before the move) still has
 * entries: a store written before. */
bool routing_clusters_old_used(cpm_store_t *st, MDB_txn *txn, const char *old_db);

/* One bounded step of moving the rank index of a store written before
 * "clusters.order" existed: at most max entries of "clusters.rank" moved
 * there (decoded from hex; anything else deleted), counted in *moved.
 * *left: whether entries remain (call again, in a new transaction). 0 or a
 * store error. */
int routing_clusters_rank_move(cpm_store_t *st, MDB_txn *txn, size_t max, bool *left,
                               size_t *moved);

/* routing_clusters_rank_move in transactions of step entries each (each
 * committed durably: a stop in between goes on at the next start) until
 * none is left; the service runs it at start, before it serves. Entries
 * moved and transactions into *moved and *txns. 0 or a store error. */
int routing_clusters_rank_upgrade(cpm_store_t *st, size_t step, size_t *moved, size_t *txns);

/* When alias k (32 hex digits) leading to business bid was last used, into
 * *at_ms: CPM_E_NOT_FOUND (never recorded there: a store from before, or
 * an unreadable entry), 0 or a store error. */
int routing_clusters_seen_get(cpm_store_t *st, MDB_txn *txn, const char *bid, const char *k,
                              int64_t *at_ms);

/* Record that alias k leading to bid was used at at_ms. 0 or a store error. */
int routing_clusters_seen_put(cpm_store_t *st, MDB_txn *txn, const char *bid, const char *k,
                              int64_t at_ms);

/* Forget when alias k leading to bid was used (none recorded: 0). 0 or a
 * store error. */
int routing_clusters_seen_del(cpm_store_t *st, MDB_txn *txn, const char *bid, const char *k);

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
    cpm_sweep_cursor_t members, clusters, order;
    size_t stale; /* rank entries the last step deleted as stale */
} routing_clusters_sweep_t;

/* One bounded retention step (at most max entries of each database looked
 * at): consumers last heard before now_ms - window_ms are forgotten, clusters
 * last heard before it deleted with their rank, and rank entries that no
 * longer say where their cluster is (left by an older binary's moves, or by
 * an aggregate found unreadable) deleted (cur->stale). Counts what was
 * deleted into *members and *clusters. 0 or a store error. */
int routing_clusters_sweep(cpm_store_t *st, MDB_txn *txn, int64_t now_ms, int64_t window_ms,
                           size_t max, routing_clusters_sweep_t *cur, size_t *members,
                           size_t *clusters);

#endif
