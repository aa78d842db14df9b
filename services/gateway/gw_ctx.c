/* gw_ctx: the counters HTTP threads keep until the loop's tick (gw_ctx.h). */
#include "gw_ctx.h"

void gw_count(gw_ctx_t *gw, const char *name, uint64_t n)
{
    pthread_mutex_lock(&gw->count_lock);
    cpm_metrics_add(gw->pending, name, n);
    pthread_mutex_unlock(&gw->count_lock);
}

void gw_count_flush(gw_ctx_t *gw, cpm_metrics_t *into)
{
    pthread_mutex_lock(&gw->count_lock);
    const char *name;
    uint64_t v;
    for (size_t i = 0; cpm_metrics_at(gw->pending, i, &name, &v) == 0; i++)
        if (v)
            cpm_metrics_add(into, name, v);
    cpm_metrics_t *fresh = cpm_metrics_new();
    if (fresh) {
        cpm_metrics_destroy(&gw->pending);
        gw->pending = fresh;
    }
    pthread_mutex_unlock(&gw->count_lock);
}
