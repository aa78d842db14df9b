/* gw_rate: see gw_rate.h. A linear table: a few thousand short names
 * compared per request cost microseconds, less than the request itself. */
#include "gw_rate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[72];
    double tokens;
    int64_t at_ms; /* last refill, and last seen */
} bucket_t;

struct gw_rate {
    pthread_mutex_t lock;
    bucket_t *b;
    size_t n, max;
    int64_t logged_ms;
    uint64_t unlogged;
};

gw_rate_t *gw_rate_new(size_t max_keys)
{
    gw_rate_t *r = calloc(1, sizeof *r);
    if (!r || !(r->b = calloc(max_keys ? max_keys : 1, sizeof *r->b))) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->max = max_keys ? max_keys : 1;
    r->logged_ms = INT64_MIN;
    return r;
}

void gw_rate_destroy(gw_rate_t **p)
{
    if (!p || !*p)
        return;
    pthread_mutex_destroy(&(*p)->lock);
    free((*p)->b);
    free(*p);
    *p = NULL;
}

static bucket_t *find(gw_rate_t *r, const char *name, double burst, int64_t now_ms)
{
    size_t oldest = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!strcmp(r->b[i].name, name))
            return &r->b[i];
        if (r->b[i].at_ms < r->b[oldest].at_ms)
            oldest = i;
    }
    bucket_t *b = r->n < r->max ? &r->b[r->n++] : &r->b[oldest];
    snprintf(b->name, sizeof b->name, "%s", name);
    b->tokens = burst;
    b->at_ms = now_ms;
    return b;
}

bool gw_rate_take(gw_rate_t *r, const char *name, double rate_per_s, double burst, int64_t now_ms)
{
    return gw_rate_take_n(r, name, rate_per_s, burst, 1.0, now_ms);
}

bool gw_rate_take_n(gw_rate_t *r, const char *name, double rate_per_s, double burst, double n,
                    int64_t now_ms)
{
    pthread_mutex_lock(&r->lock);
    bucket_t *b = find(r, name ? name : "", burst, now_ms);
    if (now_ms > b->at_ms) {
        b->tokens += (double)(now_ms - b->at_ms) * rate_per_s / 1000.0;
        if (b->tokens > burst)
            b->tokens = burst;
    }
    if (now_ms > b->at_ms)
        b->at_ms = now_ms;
    bool ok = b->tokens >= n;
    if (ok)
        b->tokens -= n;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

bool gw_rate_log_due(gw_rate_t *r, int64_t now_ms, int64_t interval_ms, uint64_t *suppressed)
{
    pthread_mutex_lock(&r->lock);
    bool due = r->logged_ms == INT64_MIN || now_ms - r->logged_ms >= interval_ms;
    *suppressed = r->unlogged;
    if (due) {
        r->logged_ms = now_ms;
        r->unlogged = 0;
    } else
        r->unlogged++;
    pthread_mutex_unlock(&r->lock);
    return due;
}
