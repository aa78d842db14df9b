/* batch: cpmesh intake with SubmitBatch and group receipts. Each client (a
 * thread with its own zmq context, registry copy and cpm_client) keeps
 * window complaints in flight as batches of `batch` items; a complaint is
 * acknowledged when the group receipt holding its leaf has been verified
 * (one signature per receipt, every proof checked, by cpm_client_recv_any).
 * Latency: from just before the batch is signed to that receipt.
 *
 * The batch calls are weak references: a client library without them (the
 * receipts are implemented on another branch) makes this phase "not
 * available" instead of failing the build. */
#include "peers.h"

#include "cpm_client.h"
#include "cpm_receipt.h"
#include "cpm_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#pragma weak cpm_client_send_batch
#pragma weak cpm_client_recv_any
#pragma weak cpm_receipt_count
#pragma weak cpm_receipt_at
#pragma weak cpm_receipt_destroy

#define MAX_BATCH CPM_SUBMIT_BATCH_MAX
#define TIMEOUT_MS 10000

typedef struct {
    char msg_id[33];
    int64_t t0;
    uint64_t first; /* complaint index of item 0: a busy refusal resends the same */
    size_t got;
    bool busy;
} bslot_t;

typedef struct {
    const env_t *e;
    int tid, nslots, batch;
    int64_t dur_us;
    pthread_barrier_t *start;
    int64_t *lat;
    size_t nlat, cap;
    uint64_t busy;
    int64_t last_us;
    int failed, unavailable;
    char why[300];
} bworker_t;

static void bpush(bworker_t *w, int64_t us)
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

static int send_batch(bworker_t *w, cpm_client_t *c, bslot_t *s)
{
    static __thread complaint_bufs_t bufs[MAX_BATCH];
    static __thread Cpm__Complaint cps[MAX_BATCH];
    const Cpm__Complaint *items[MAX_BATCH];
    char tag[24];
    snprintf(tag, sizeof tag, "b%d", w->tid);
    for (int i = 0; i < w->batch; i++) {
        make_complaint(w->e, tag, s->first + (uint64_t)i, &cps[i], &bufs[i]);
        items[i] = &cps[i];
    }
    cpm_error_t err = {0};
    if (cpm_client_send_batch(c, w->e->node, items, (size_t)w->batch, s->msg_id, NULL, &err)) {
        snprintf(w->why, sizeof w->why, "send batch: %s", err.message);
        return -1;
    }
    return 0;
}

static bslot_t *find(bworker_t *w, bslot_t *slots, const char *id)
{
    for (int k = 0; id && k < w->nslots; k++)
        if (slots[k].busy && !strcmp(slots[k].msg_id, id))
            return &slots[k];
    return NULL;
}

/* One answer: a group receipt (items for our batches) or a classic reply
 * (an ErrorReply to a whole batch). 0 or -1. */
static int take_answer(bworker_t *w, cpm_client_t *c, bslot_t *slots, int *inflight)
{
    cpm_msg_t r = {0};
    cpm_receipt_t *rc = NULL;
    cpm_error_t err = {0};
    if (cpm_client_recv_any(c, w->e->node, "intake", TIMEOUT_MS, &r, &rc, &err) != 0) {
        snprintf(w->why, sizeof w->why, "receive: %s", err.message);
        return -1;
    }
    int64_t now = mono_us();
    int ret = 0;
    if (r.env) { /* a batch refused as a whole */
        bslot_t *s = find(w, slots, r.env->correlation_id);
        cpm_error_t e = {0};
        int code = cpm_client_reply_error(&r, &e);
        if (s && code == CPM_E_UNAVAILABLE && !strcmp(e.field, "rate")) {
            w->busy++; /* the per-principal share of a turn: resend it, as a client would */
            ret = send_batch(w, c, s);
        } else if (code) {
            snprintf(w->why, sizeof w->why, "batch refused: %.40s %.200s", e.field, e.message);
            w->unavailable = code == CPM_E_INVALID || code == CPM_E_FORBIDDEN ||
                             code == CPM_E_NOT_FOUND; /* a service without batches */
            ret = -1;
        }
    }
    for (size_t i = 0; rc && i < cpm_receipt_count(rc); i++) {
        const cpm_receipt_item_t *it = cpm_receipt_at(rc, i);
        bslot_t *s = find(w, slots, it->correlation_id);
        if (!s)
            continue;
        if (it->type != CPM__MSG_TYPE__MSG_SUBMIT_REPLY) {
            Cpm__ErrorReply *e = it->type == CPM__MSG_TYPE__MSG_ERROR
                                     ? cpm__error_reply__unpack(NULL, it->payload_len, it->payload)
                                     : NULL;
            snprintf(w->why, sizeof w->why, "an item of a batch was refused: %.40s %.200s",
                     e ? e->field : "?", e ? e->message : "(no error reply)");
            if (e)
                cpm__error_reply__free_unpacked(e, NULL);
            ret = -1;
            continue;
        }
        bpush(w, now - s->t0);
        if (++s->got == (size_t)w->batch)
            s->busy = false, (*inflight)--;
    }
    w->last_us = now;
    if (rc)
        cpm_receipt_destroy(&rc);
    cpm_msg_clear(&r);
    return ret;
}

static void *bworker_main(void *arg)
{
    bworker_t *w = arg;
    char inst[64], path[1200];
    snprintf(inst, sizeof inst, "bench.%d.%s.b%d", (int)getpid(), w->e->run_id, w->tid);
    snprintf(path, sizeof path, "%s/registry.signed", w->e->home);
    cpm_registry_t *reg = NULL;
    cpm_error_t err = {0};
    void *zctx = zmq_ctx_new();
    cpm_client_t *c = NULL;
    bslot_t *slots = calloc((size_t)w->nslots, sizeof *slots);
    if (!slots || !zctx || cpm_registry_load(path, w->e->root_pk, &reg, &err) != 0 ||
        cpm_client_new(&c, zctx, reg, &w->e->id, inst, &err) != 0) {
        snprintf(w->why, sizeof w->why, "client: %s", err.message);
        w->failed = 1;
    }
    uint64_t next = 1000000; /* warm-up: one batch (the CURVE handshake) not measured */
    int inflight = 0;
    if (!w->failed) {
        slots[0] = (bslot_t){.first = next, .busy = true};
        next += (uint64_t)w->batch;
        inflight = 1;
        w->failed = send_batch(w, c, &slots[0]) != 0;
        while (!w->failed && inflight)
            w->failed = take_answer(w, c, slots, &inflight) != 0;
        w->nlat = 0;
    }
    next = 0;
    pthread_barrier_wait(w->start);
    int64_t deadline = mono_us() + w->dur_us;
    while (!w->failed) {
        for (int k = 0; k < w->nslots && mono_us() < deadline; k++) {
            if (slots[k].busy)
                continue;
            slots[k] = (bslot_t){.first = next, .t0 = mono_us(), .busy = true};
            next += (uint64_t)w->batch;
            if (send_batch(w, c, &slots[k]) != 0) {
                w->failed = 1;
                break;
            }
            inflight++;
        }
        if (w->failed || inflight == 0)
            break;
        w->failed = take_answer(w, c, slots, &inflight) != 0;
    }
    cpm_client_destroy(&c);
    cpm_registry_destroy(&reg);
    if (zctx)
        zmq_ctx_term(zctx);
    free(slots);
    return NULL;
}

/* The main thread's time on a core and waiting for one, in ns
 * (/proc/PID/task/PID/schedstat); -1 when it cannot be read. */
static int loop_sched(int pid, long long *run_ns, long long *wait_ns)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", pid, pid);
    FILE *f = fopen(path, "r");
    int ok = f && fscanf(f, "%lld %lld", run_ns, wait_ns) == 2;
    if (f)
        fclose(f);
    return ok ? 0 : -1;
}

int batch_phase(const env_t *e, int nclients, int window, int batch, int64_t dur_us,
                peer_result_t *res)
{
    memset(res, 0, sizeof *res);
    res->intake_cpu_us = res->loop_cpu_us = res->loop_wait_us = -1;
    if (!cpm_client_send_batch || !cpm_client_recv_any || !cpm_receipt_count) {
        printf("bench_peers: batch: not available: this build's client library has no "
               "cpm_client_send_batch/cpm_client_recv_any (group receipts)\n");
        return 1;
    }
    if (batch < 1 || batch > MAX_BATCH || window % batch) {
        fprintf(stderr, "bench_peers: --batch must divide the window and be 1..%d\n", MAX_BATCH);
        return -1;
    }
    bworker_t ws[MAX_CLIENTS];
    pthread_t th[MAX_CLIENTS];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nclients + 1);
    for (int i = 0; i < nclients; i++) {
        ws[i] = (bworker_t){.e = e,
                            .tid = i + 100 * nclients,
                            .nslots = window / batch,
                            .batch = batch,
                            .dur_us = dur_us,
                            .start = &bar};
        pthread_create(&th[i], NULL, bworker_main, &ws[i]);
    }
    pthread_barrier_wait(&bar);
    int64_t cpu0 = proc_cpu_us(e->intake_pid), t0 = mono_us(), last = t0;
    long long run0 = 0, wait0 = 0, run1 = 0, wait1 = 0;
    int sched = loop_sched(e->intake_pid, &run0, &wait0);
    size_t n = 0;
    for (int i = 0; i < nclients; i++) {
        pthread_join(th[i], NULL);
        n += ws[i].nlat;
    }
    int64_t cpu1 = proc_cpu_us(e->intake_pid);
    if (sched == 0)
        sched = loop_sched(e->intake_pid, &run1, &wait1);
    int64_t *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    int unavailable = 0;
    for (int i = 0; i < nclients; i++) {
        if (ws[i].failed && !res->failed) {
            res->failed = 1;
            unavailable = ws[i].unavailable;
            if (unavailable)
                printf("bench_peers: batch: not available: %s\n", ws[i].why);
            else
                fprintf(stderr, "bench_peers: batch client %d: %s\n", i, ws[i].why);
        }
        res->busy += ws[i].busy;
        if (ws[i].last_us > last)
            last = ws[i].last_us;
        if (all)
            memcpy(all + k, ws[i].lat, ws[i].nlat * sizeof *all), k += ws[i].nlat;
        free(ws[i].lat);
    }
    pthread_barrier_destroy(&bar);
    res->ok = k;
    res->rate = last > t0 ? (double)k * 1e6 / (double)(last - t0) : 0;
    if (k && cpu0 >= 0 && cpu1 >= 0)
        res->intake_cpu_us = (double)(cpu1 - cpu0) / (double)k;
    if (k && sched == 0) {
        res->loop_cpu_us = (double)(run1 - run0) / 1e3 / (double)k;
        res->loop_wait_us = (double)(wait1 - wait0) / 1e3 / (double)k;
    }
    if (all)
        peer_percentiles(all, k, res);
    free(all);
    return res->failed ? (unavailable ? 1 : -1) : 0;
}
