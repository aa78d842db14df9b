/* cpm_vpool: a parallel for over a few threads (see cpm_vpool.h).
 *
 * A call publishes a job (fn, ctx, n) under the mutex with a new generation
 * number and wakes as many workers as can help; the indices are handed out
 * by one atomic counter, so each is taken exactly once whoever is awake.
 * When the caller has run out of indices it closes the job (no worker may
 * join it any more) and waits for the workers that joined. A worker that
 * wakes late therefore either helps or finds the job closed; it never runs
 * an index of a job that has returned. */
#include "cpm_vpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct cpm_vpool {
    pthread_mutex_t mu;
    pthread_cond_t go;   /* a new job, or stop */
    pthread_cond_t done; /* the last worker of a job left it */
    pthread_t *threads;
    unsigned nworkers;
    bool stop;
    uint64_t gen;     /* the current job's number */
    unsigned want;    /* workers the current job may still take */
    unsigned joined;  /* workers that joined it */
    unsigned working; /* workers in it now */
    cpm_vpool_fn fn;
    void *ctx;
    size_t n;
    atomic_size_t next; /* the next index to run */
};

static void run_indices(cpm_vpool_t *p, cpm_vpool_fn fn, void *ctx, size_t n)
{
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= n)
            return;
        fn(ctx, i);
    }
}

static void *worker(void *arg)
{
    cpm_vpool_t *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        if (p->joined >= p->want)
            continue; /* closed, or enough helpers already */
        p->joined++;
        p->working++;
        cpm_vpool_fn fn = p->fn;
        void *ctx = p->ctx;
        size_t n = p->n;
        pthread_mutex_unlock(&p->mu);
        run_indices(p, fn, ctx, n);
        pthread_mutex_lock(&p->mu);
        if (--p->working == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void stop_workers(cpm_vpool_t *p, unsigned started)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(p->threads[i], NULL);
}

cpm_vpool_t *cpm_vpool_new(unsigned nthreads)
{
    if (nthreads > CPM_VPOOL_MAX_THREADS)
        return NULL;
    cpm_vpool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    atomic_init(&p->next, 0);
    p->nworkers = nthreads > 1 ? nthreads - 1 : 0;
    if (p->nworkers == 0)
        return p;
    p->threads = calloc(p->nworkers, sizeof *p->threads);
    if (!p->threads || pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p->threads);
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (unsigned i = 0; i < p->nworkers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            stop_workers(p, i);
            p->nworkers = i; /* so that destroy joins no more */
            cpm_vpool_destroy(&p);
            return NULL;
        }
    }
    return p;
}

void cpm_vpool_destroy(cpm_vpool_t **pp)
{
    if (!pp || !*pp)
        return;
    cpm_vpool_t *p = *pp;
    if (p->threads) {
        if (!p->stop)
            stop_workers(p, p->nworkers);
        pthread_cond_destroy(&p->go);
        pthread_cond_destroy(&p->done);
        pthread_mutex_destroy(&p->mu);
        free(p->threads);
    }
    free(p);
    *pp = NULL;
}

unsigned cpm_vpool_threads(const cpm_vpool_t *p)
{
    return p ? p->nworkers + 1 : 1;
}

/* Publish job (fn, ctx, n) to at most want workers and wake them. */
static void publish(cpm_vpool_t *p, size_t n, cpm_vpool_fn fn, void *ctx, unsigned want)
{
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    p->want = want;
    p->joined = 0;
    p->gen++;
    for (unsigned i = 0; i < p->want; i++)
        pthread_cond_signal(&p->go);
    pthread_mutex_unlock(&p->mu);
}

/* The caller's part of a published job: the indices left, then the wait. */
static void finish(cpm_vpool_t *p, size_t n, cpm_vpool_fn fn, void *ctx)
{
    run_indices(p, fn, ctx, n);

    pthread_mutex_lock(&p->mu);
    p->want = p->joined; /* closed: a worker waking now leaves it alone */
    while (p->working > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void cpm_vpool_run(cpm_vpool_t *p, size_t n, cpm_vpool_fn fn, void *ctx)
{
    if (n == 0 || !fn)
        return;
    if (!p || p->nworkers == 0 || n == 1) { /* waking a thread costs more than one index */
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    publish(p, n, fn, ctx, n - 1 < p->nworkers ? (unsigned)(n - 1) : p->nworkers);
    finish(p, n, fn, ctx);
}

void cpm_vpool_start(cpm_vpool_t *p, size_t n, cpm_vpool_fn fn, void *ctx)
{
    if (n == 0 || !fn || !p || p->nworkers == 0)
        return;
    /* The caller is busy meanwhile: a worker may take even a job of one. */
    publish(p, n, fn, ctx, n < p->nworkers ? (unsigned)n : p->nworkers);
}

void cpm_vpool_finish(cpm_vpool_t *p, size_t n, cpm_vpool_fn fn, void *ctx)
{
    if (n == 0 || !fn)
        return;
    if (!p || p->nworkers == 0) {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    finish(p, n, fn, ctx);
}

typedef struct {
    const cpm_registry_t *reg;
    const uint8_t *const *bufs;
    const size_t *lens;
    cpm_precheck_t *out;
} precheck_job_t;

static void precheck_one(void *ctx, size_t i)
{
    precheck_job_t *j = ctx;
    cpm_verifier_precheck(j->reg, j->bufs[i], j->lens[i], &j->out[i]);
}

void cpm_vpool_precheck(cpm_vpool_t *p, const cpm_registry_t *reg, const uint8_t *const *bufs,
                        const size_t *lens, size_t n, cpm_precheck_t *out)
{
    precheck_job_t j = {reg, bufs, lens, out};
    cpm_vpool_run(p, n, precheck_one, &j);
}

unsigned cpm_vpool_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > 8 ? 8 : (unsigned)n;
}
