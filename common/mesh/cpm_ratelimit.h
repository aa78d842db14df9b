/* cpm_ratelimit: at most `burst` log lines per window for one kind of
 * repeated failure, so that a peer sending bad input without end cannot fill
 * the disk with log lines (every failure is still counted in the metrics).
 * The lines held back are counted and mentioned by the next line let
 * through. A plain value type: no allocation; not thread-safe. */
#ifndef CPM_RATELIMIT_H
#define CPM_RATELIMIT_H

#include "cpm_err.h"

#include <stdint.h>

typedef struct {
    uint32_t burst;       /* lines let through per window */
    int64_t window_ms;    /* length of a window */
    int64_t window_start; /* monotonic ms; 0 before the first line */
    uint32_t used;        /* lines let through in this window */
    uint64_t dropped;     /* lines held back since the last one let through */
} cpm_ratelimit_t;

#define CPM_RATELIMIT_INIT(burst, window_ms)                                                       \
    {                                                                                              \
        (burst), (window_ms), 0, 0, 0                                                              \
    }

/* 1 when a line may be logged at now_ms (monotonic); then *dropped (may be
 * NULL) gets the number of lines held back since the previous one. 0 when
 * the line must be dropped (it is counted). */
CPM_MUST_CHECK int cpm_ratelimit_allow(cpm_ratelimit_t *r, int64_t now_ms, uint64_t *dropped);

/* "" for 0, else " (N similar lines not logged)" in a buffer of this thread
 * that the next call reuses: for appending to the line let through. */
const char *cpm_ratelimit_note(uint64_t dropped);

#endif
