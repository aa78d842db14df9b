/* routing_bounds: see routing_bounds.h. */
#include "routing_bounds.h"
#include "cpm_log.h"
#include "cpm_metrics.h"
#include "cpm_util.h"
#include "routing_bizlink.h"
#include "routing_clusters.h"
#include "routing_dupes.h"

typedef struct {
    int64_t now_ms, clusters_window_ms;
    size_t dupes, members, clusters, aliases;
} step_t;

static cpm_sweep_cursor_t dupes_cursor;
static routing_clusters_sweep_t clusters_cursor;
static cpm_sweep_cursor_t alias_cursor;

static int step(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    step_t *s = ctx;
    cpm_store_t *st = cpm_server_store(srv);
    int rc = routing_dupes_sweep(st, txn, s->now_ms, ROUTING_BOUNDS_STEP, &dupes_cursor, &s->dupes);
    if (rc == 0)
        rc = routing_clusters_sweep(st, txn, s->now_ms, s->clusters_window_ms, ROUTING_BOUNDS_STEP,
                                    &clusters_cursor, &s->members, &s->clusters);
    if (rc == 0) /* address and name links live as long as the clusters */
        rc = routing_bizlink_sweep(st, txn, s->now_ms, s->clusters_window_ms, ROUTING_BOUNDS_STEP,
                                   &alias_cursor, &s->aliases);
    return rc;
}

void routing_bounds_tick(cpm_server_t *srv)
{
    step_t s = {.now_ms = cpm_now_ms(),
                .clusters_window_ms =
                    (int64_t)cpm_server_config(srv)->clusters_window_days * 86400000LL};
    int rc = cpm_server_write(srv, step, &s);
    if (rc != 0) {
        cpm_warn("retention of duplicate links and clusters failed (retried next tick): %s",
                 cpm_err_name(rc));
        return;
    }
    cpm_metrics_t *m = cpm_server_metrics(srv);
    cpm_metrics_add(m, "retention.dupes_deleted", s.dupes);
    cpm_metrics_add(m, "retention.cluster_members_deleted", s.members);
    cpm_metrics_add(m, "retention.clusters_deleted", s.clusters);
    cpm_metrics_add(m, "retention.rank_stale_deleted", clusters_cursor.stale);
    cpm_metrics_add(m, "retention.cluster_aliases_deleted", s.aliases);
    if (s.dupes || s.members || s.clusters)
        cpm_info("retention: deleted %zu duplicate link%s, %zu cluster consumer%s, %zu cluster%s",
                 s.dupes, s.dupes == 1 ? "" : "s", s.members, s.members == 1 ? "" : "s", s.clusters,
                 s.clusters == 1 ? "" : "s");
}
