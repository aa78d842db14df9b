/* gw_rate: token buckets by name (a peer address, an application id), for
 * the gateway's Open311 limits (docs/open311.md "Limits").
 *
 * Each name has a bucket of burst tokens refilled at rate_per_s; a request
 * takes one. At most max_keys names are remembered: a new name past that
 * replaces the one least recently seen (a bucket forgotten starts full
 * again, so the table cannot be grown by many addresses, and one address
 * cannot be starved by others). Thread-safe (its own lock); time is passed
 * in (monotonic ms), so tests need no clock. */
#ifndef GW_RATE_H
#define GW_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_rate gw_rate_t;

/* NULL when out of memory. */
gw_rate_t *gw_rate_new(size_t max_keys);
void gw_rate_destroy(gw_rate_t **p);
/* Take one token of name's bucket (rate_per_s tokens a second, burst at
 * most; rate_per_s > 0, burst >= 1): true when there was one. */
bool gw_rate_take(gw_rate_t *r, const char *name, double rate_per_s, double burst, int64_t now_ms);
/* Take n tokens at once (a request that costs n, e.g. n lookups): true when
 * there were n; otherwise none is taken (so n > burst is never granted). */
bool gw_rate_take_n(gw_rate_t *r, const char *name, double rate_per_s, double burst, double n,
                    int64_t now_ms);
/* Whether to log a refusal now: at most once per interval_ms (0: log) and
 * *suppressed says how many were not logged since (any thread). */
bool gw_rate_log_due(gw_rate_t *r, int64_t now_ms, int64_t interval_ms, uint64_t *suppressed);

#endif
