/* cpm_vpool: a few threads that check the frames of one loop turn at once.
 *
 * The costly part of receiving a frame is its Ed25519 signature (about 48 us
 * here); it depends on nothing but the frame and the registry, so it can run
 * on every core (cpm_verifier_precheck) while everything that depends on
 * order (clock, replay, rights, counters, apply, commit) stays on the loop
 * thread (cpm_verifier_finish). The pool offers one operation, a parallel
 * for: cpm_vpool_run calls fn(ctx, i) once for each i in [0, n), on the
 * pool's threads and on the calling thread, and returns when every call has
 * returned. Nothing is queued between calls and nothing is allocated per
 * call: the threads are made once by cpm_vpool_new. The same operation also
 * comes in two halves (cpm_vpool_start, cpm_vpool_finish), so that the
 * caller works on something of its own meanwhile: the loop seals a group's
 * answers on the pool while it waits for the group's commit.
 *
 * One thread at a time may call cpm_vpool_run, cpm_vpool_start or
 * cpm_vpool_finish on a pool (the loop thread), and each start is followed by
 * its one finish, with the same arguments, before that thread's next start
 * or run: a pool holds one job at a time. */
#ifndef CPM_VPOOL_H
#define CPM_VPOOL_H

#include "cpm_err.h"
#include "cpm_registry.h"
#include "cpm_verifier.h"

#include <stddef.h>
#include <stdint.h>

/* Larger values of verify_threads are refused by the configuration. */
#define CPM_VPOOL_MAX_THREADS 64

typedef struct cpm_vpool cpm_vpool_t;

/* A pool of nthreads threads counting the caller's: nthreads - 1 are made.
 * 0 or 1: no thread is made and cpm_vpool_run runs inline. NULL when a
 * thread cannot be made or nthreads > CPM_VPOOL_MAX_THREADS. */
CPM_MUST_CHECK cpm_vpool_t *cpm_vpool_new(unsigned nthreads);
/* Stops and joins the threads; safe on NULL and twice. */
void cpm_vpool_destroy(cpm_vpool_t **p);
/* Threads that take part in a call, the caller's included (at least 1). */
unsigned cpm_vpool_threads(const cpm_vpool_t *p);

typedef void (*cpm_vpool_fn)(void *ctx, size_t i);
/* fn(ctx, i) exactly once for every i in [0, n), in no given order and on
 * any of the pool's threads; returns when all have returned. fn must be safe
 * to run concurrently for different i. p NULL: inline. */
void cpm_vpool_run(cpm_vpool_t *p, size_t n, cpm_vpool_fn fn, void *ctx);

/* The same parallel for in two halves, so that the caller can do something
 * of its own meanwhile: cpm_vpool_start hands the job to the workers (at most
 * n of them) and returns at once; cpm_vpool_finish runs on the calling thread
 * whatever indices no worker has taken yet, then returns when every call has
 * returned. A worker that is not running when the caller reaches
 * cpm_vpool_finish costs nothing: the caller runs its indices itself. Every
 * start is followed by one finish, with the same arguments, before the next
 * start or run. p NULL or without workers: start does nothing and finish
 * runs every index inline. */
void cpm_vpool_start(cpm_vpool_t *p, size_t n, cpm_vpool_fn fn, void *ctx);
void cpm_vpool_finish(cpm_vpool_t *p, size_t n, cpm_vpool_fn fn, void *ctx);

/* The pool's one use: cpm_verifier_precheck(reg, bufs[i], lens[i], &out[i])
 * for every i in [0, n). The same results as calling it in a loop. */
void cpm_vpool_precheck(cpm_vpool_t *p, const cpm_registry_t *reg, const uint8_t *const *bufs,
                        const size_t *lens, size_t n, cpm_precheck_t *out);

/* The default for verify_threads: the online cores, at most 8. */
unsigned cpm_vpool_default_threads(void);

#endif
