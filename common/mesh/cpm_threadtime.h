/* cpm_threadtime: how the calling thread spends its time, as the kernel's
 * scheduler counts it (/proc/thread-self/schedstat): nanoseconds on a core,
 * and nanoseconds runnable but waiting for one (another thread or process
 * had the cores). A server's loop thread applies, commits and answers
 * everything in order, so it bounds how much the service can take: its two
 * figures, counted as loop.cpu_ms and loop.wait_ms (cpm_server), tell an
 * operator how near that bound the service runs, and whether what holds it
 * back is its own work or the machine's other processes (docs/operations.md
 * "The loop thread's time"). */
#ifndef CPM_THREADTIME_H
#define CPM_THREADTIME_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t cpu_ns;  /* on a core */
    uint64_t wait_ns; /* runnable, waiting for a core (has_wait) */
    bool has_wait;    /* false: no schedstat, cpu_ns from the thread's CPU clock */
} cpm_threadtime_t;

/* The calling thread's times: 0, or -1 when neither can be read. */
int cpm_threadtime_now(cpm_threadtime_t *t);

/* The text of a schedstat file ("<on a core> <waiting> <slices>\n", each a
 * decimal count) into t: 0, or -1 when it is not that. */
int cpm_threadtime_parse(const char *text, cpm_threadtime_t *t);

/* Whole milliseconds to add to a counter that has counted *counted_ms of a
 * total of total_ns so far, *counted_ms moved on by as much: so that the
 * fractions of each second are never lost. 0 when the total went back
 * (another thread's figures: nothing is taken back). */
uint64_t cpm_threadtime_ms_due(uint64_t total_ns, uint64_t *counted_ms);

#endif
