/* cpm_flusher: see cpm_flusher.h. */
#include "cpm_flusher.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct cpm_flusher {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int efd;
    int fd;                /* to flush; -1 when none waits */
    uint64_t want;         /* the ticket of the flush asked for */
    _Atomic uint64_t done; /* the last ticket flushed (read without the lock) */
    int running;           /* a flush asked for or running */
    int err;               /* errno of a failed flush, not yet reported */
    int stop;
    uint64_t count;
};

static atomic_bool test_hold;
static atomic_int test_waiting;

bool cpm_flusher_test_waiting(void)
{
    return atomic_load(&test_waiting) > 0;
}

void cpm_flusher_test_hold(bool on)
{
    atomic_store(&test_hold, on);
}

static void *flusher_main(void *arg)
{
    cpm_flusher_t *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (f->fd < 0 && !f->stop)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->fd < 0)
            break;
        int fd = f->fd;
        uint64_t want = f->want;
        pthread_mutex_unlock(&f->mu);
        while (atomic_load(&test_hold))
            usleep(1000);
        int rc = fdatasync(fd) == 0 ? 0 : errno;
        pthread_mutex_lock(&f->mu);
        if (rc != 0)
            f->err = rc;
        f->done = want;
        f->fd = -1;
        f->running = 0;
        f->count++;
        pthread_cond_broadcast(&f->cv);
        /* After done is set, under the lock the reader empties it under: a
         * count is never left behind for a flush already seen done. */
        uint64_t one = 1;
        (void)!write(f->efd, &one, sizeof one);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

cpm_flusher_t *cpm_flusher_new(void)
{
    cpm_flusher_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->fd = -1;
    f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->efd < 0) {
        free(f);
        return NULL;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (pthread_create(&f->th, NULL, flusher_main, f) != 0) {
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
        close(f->efd);
        free(f);
        return NULL;
    }
    return f;
}

void cpm_flusher_destroy(cpm_flusher_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    cpm_flusher_t *f = *p;
    pthread_mutex_lock(&f->mu);
    while (f->running)
        pthread_cond_wait(&f->cv, &f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->th, NULL);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    close(f->efd);
    free(f);
    *p = NULL;
}

/* Under mu: wait for a running flush; its error, reported once. */
static int wait_locked(cpm_flusher_t *f)
{
    if (f->running)
        atomic_fetch_add(&test_waiting, 1);
    bool counted = f->running;
    while (f->running)
        pthread_cond_wait(&f->cv, &f->mu);
    if (counted)
        atomic_fetch_sub(&test_waiting, 1);
    int err = f->err;
    f->err = 0;
    return err;
}

int cpm_flusher_start(cpm_flusher_t *f, int fd, uint64_t ticket)
{
    pthread_mutex_lock(&f->mu);
    int err = wait_locked(f);
    if (err == 0) {
        f->fd = fd;
        f->want = ticket;
        f->running = 1;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return err;
}

bool cpm_flusher_done(cpm_flusher_t *f, uint64_t ticket, int *err)
{
    bool take = err != NULL;
    int none;
    if (err == NULL)
        err = &none;
    *err = 0;
    /* Cheap when not done (no system call): asked between a group's
     * requests. done is stored before the eventfd is written. */
    if (atomic_load(&f->done) < ticket)
        return false;
    pthread_mutex_lock(&f->mu);
    bool failed = f->err != 0;
    if (take || !failed) { /* a failure left for later keeps the loop woken */
        uint64_t n;
        while (read(f->efd, &n, sizeof n) > 0) {
        }
    }
    if (take) {
        *err = f->err;
        f->err = 0;
    }
    pthread_mutex_unlock(&f->mu);
    return take || !failed;
}

int cpm_flusher_wait(cpm_flusher_t *f)
{
    pthread_mutex_lock(&f->mu);
    int err = wait_locked(f);
    pthread_mutex_unlock(&f->mu);
    return err;
}

bool cpm_flusher_busy(cpm_flusher_t *f)
{
    pthread_mutex_lock(&f->mu);
    bool busy = f->running != 0;
    pthread_mutex_unlock(&f->mu);
    return busy;
}

int cpm_flusher_fd(const cpm_flusher_t *f)
{
    return f->efd;
}

uint64_t cpm_flusher_count(cpm_flusher_t *f)
{
    pthread_mutex_lock(&f->mu);
    uint64_t n = f->count;
    pthread_mutex_unlock(&f->mu);
    return n;
}
