/* phase: client threads against a peer system, each keeping a window of
 * requests in flight (answers come in order), latency from just before the
 * request is sent to its answer. */
#include "peers.h"

#include "report.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const peer_ops_t *ops;
    const char *target;
    const env_t *e;
    int tid, window;
    int64_t dur_us;
    pthread_barrier_t *start;
    int64_t *lat;
    size_t nlat, cap;
    int64_t last_us;
    int failed;
    char why[256];
} worker_t;

static void push(worker_t *w, int64_t us)
{
    if (w->nlat == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        int64_t *p = realloc(w->lat, cap * sizeof *p);
        if (!p)
            return;
        w->lat = p, w->cap = cap;
    }
    w->lat[w->nlat++] = us;
}

size_t peer_complaint(const env_t *e, int tid, uint64_t i, uint8_t *buf, size_t cap)
{
    char tag[24];
    snprintf(tag, sizeof tag, "p%d", tid);
    Cpm__Complaint c;
    complaint_bufs_t b;
    make_complaint(e, tag, i, &c, &b);
    size_t len = protobuf_c_message_get_packed_size(&c.base);
    return len <= cap ? protobuf_c_message_pack(&c.base, buf) : 0;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    void *conn = w->ops->open(w->target, w->window, w->why, sizeof w->why);
    int64_t *t0 = calloc((size_t)w->window, sizeof *t0);
    uint8_t buf[2048];
    /* warm-up: one request outside the measurement (connection, plans) */
    size_t len = peer_complaint(w->e, w->tid + 500, 0, buf, sizeof buf);
    if (!conn || !t0 || w->ops->send(conn, buf, len, w->why, sizeof w->why) != 0 ||
        w->ops->recv(conn, w->why, sizeof w->why) != 0)
        w->failed = 1;
    pthread_barrier_wait(w->start);
    int64_t deadline = mono_us() + w->dur_us;
    uint64_t next = 0, head = 0;
    while (!w->failed) {
        while (next - head < (uint64_t)w->window && mono_us() < deadline) {
            len = peer_complaint(w->e, w->tid, next, buf, sizeof buf);
            t0[next % (uint64_t)w->window] = mono_us();
            if (w->ops->send(conn, buf, len, w->why, sizeof w->why) != 0) {
                w->failed = 1;
                break;
            }
            next++;
        }
        if (w->failed || head == next)
            break;
        if (w->ops->recv(conn, w->why, sizeof w->why) != 0) {
            w->failed = 1;
            break;
        }
        int64_t now = mono_us();
        push(w, now - t0[head % (uint64_t)w->window]);
        head++;
        w->last_us = now;
    }
    if (conn)
        w->ops->close(conn);
    free(t0);
    return NULL;
}

void peer_percentiles(int64_t *lat, size_t n, peer_result_t *res)
{
    qsort(lat, n, sizeof *lat, cmp_i64);
    res->p50 = pct_ms(lat, n, 0.50);
    res->p99 = pct_ms(lat, n, 0.99);
}

int peer_phase(const peer_ops_t *ops, const char *target, const env_t *e, int nclients, int window,
               int64_t dur_us, peer_result_t *res)
{
    worker_t ws[MAX_CLIENTS];
    pthread_t th[MAX_CLIENTS];
    pthread_barrier_t bar;
    memset(res, 0, sizeof *res);
    res->intake_cpu_us = res->loop_cpu_us = res->loop_wait_us = -1;
    pthread_barrier_init(&bar, NULL, (unsigned)nclients + 1);
    for (int i = 0; i < nclients; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i] = (worker_t){.ops = ops,
                           .target = target,
                           .e = e,
                           .tid = i + 100 * nclients,
                           .window = window,
                           .dur_us = dur_us,
                           .start = &bar};
        pthread_create(&th[i], NULL, worker_main, &ws[i]);
    }
    pthread_barrier_wait(&bar);
    int64_t t0 = mono_us(), last = t0;
    size_t n = 0;
    for (int i = 0; i < nclients; i++) {
        pthread_join(th[i], NULL);
        n += ws[i].nlat;
    }
    int64_t *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < nclients; i++) {
        if (ws[i].failed && !res->failed) {
            res->failed = 1;
            fprintf(stderr, "bench_peers: client %d: %s\n", i, ws[i].why);
        }
        if (ws[i].last_us > last)
            last = ws[i].last_us;
        if (all)
            memcpy(all + k, ws[i].lat, ws[i].nlat * sizeof *all), k += ws[i].nlat;
        free(ws[i].lat);
    }
    pthread_barrier_destroy(&bar);
    res->ok = k;
    res->rate = last > t0 ? (double)k * 1e6 / (double)(last - t0) : 0;
    if (all)
        peer_percentiles(all, k, res);
    free(all);
    return res->failed ? -1 : 0;
}
