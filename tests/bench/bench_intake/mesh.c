/* mesh: 1 client with one request in flight, or N clients (threads) each
 * pipelining W requests. Acknowledgement latency is from just before the
 * request is signed to the verified reply. */
#include "mesh.h"

#include "report.h"

#include "cpm_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS 10000

/* ---- a client: one DEALER link, one sender instance ---------------------- */

typedef struct {
    char msg_id[33];
    int64_t t0;
    uint64_t i; /* which complaint: a busy refusal resends the same one */
    bool busy;
} slot_t;

typedef struct {
    const env_t *e;
    int tid, window;
    uint64_t max_msgs; /* 0: until dur_us has passed */
    int64_t dur_us, deadline_us;
    pthread_barrier_t *start;
    /* results */
    int64_t *lat; /* microseconds per acknowledged request */
    size_t nlat, caplat;
    uint64_t ok, refused, busy; /* busy: 503 "rate" refusals, resent */
    int64_t last_reply_us, cpu_us;
    int failed;
    char why[256];
} client_t;

/* The ErrorReply of a reply, as a sentence; "" for a success. */
static void reply_error(const cpm_msg_t *r, char *out, size_t n)
{
    out[0] = 0;
    if (r->env->type != CPM__MSG_TYPE__MSG_ERROR)
        return;
    Cpm__ErrorReply *er = cpm__error_reply__unpack(NULL, r->env->payload.len, r->env->payload.data);
    snprintf(out, n, "error %u in %s: %s", er ? er->code : 0, er ? er->field : "?",
             er ? er->message : "undecodable ErrorReply");
    cpm__error_reply__free_unpacked(er, NULL);
}

static void lat_push(client_t *c, int64_t us)
{
    if (c->nlat == c->caplat) {
        size_t cap = c->caplat ? c->caplat * 2 : 4096;
        int64_t *p = realloc(c->lat, cap * sizeof *p);
        if (!p)
            return;
        c->lat = p;
        c->caplat = cap;
    }
    c->lat[c->nlat++] = us;
}

/* Sign and send complaint i of this client in slot k. 0 or -1. */
static int client_send(client_t *c, link_t *l, slot_t *slot)
{
    char tag[24];
    snprintf(tag, sizeof tag, "%d", c->tid);
    Cpm__Complaint cp;
    complaint_bufs_t b;
    make_complaint(c->e, tag, slot->i, &cp, &b);
    if (link_send(l, c->e->self_svc, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, &cp.base, slot->msg_id) !=
        0) {
        snprintf(c->why, sizeof c->why, "cannot sign or send a request");
        return -1;
    }
    return 0;
}

/* Fill free slots with new requests. 0 or -1. */
static int client_fill(client_t *c, link_t *l, slot_t *slots, uint64_t *next, size_t *inflight)
{
    for (int k = 0; k < c->window; k++) {
        if (slots[k].busy)
            continue;
        if ((c->max_msgs && *next >= c->max_msgs) || (!c->max_msgs && mono_us() >= c->deadline_us))
            return 0;
        slots[k].i = (*next)++;
        slots[k].t0 = mono_us();
        if (client_send(c, l, &slots[k]) != 0)
            return -1;
        slots[k].busy = true;
        (*inflight)++;
    }
    return 0;
}

/* A 503 in field "rate": the service's per-principal share of a turn was
 * used (cpm_server_loop take_share) while other principals had requests in
 * it; retryable by design. */
static bool is_busy(const cpm_msg_t *r)
{
    if (r->env->type != CPM__MSG_TYPE__MSG_ERROR)
        return false;
    Cpm__ErrorReply *er = cpm__error_reply__unpack(NULL, r->env->payload.len, r->env->payload.data);
    bool busy = er && er->code == 503 && er->field && !strcmp(er->field, "rate");
    cpm__error_reply__free_unpacked(er, NULL);
    return busy;
}

static void *client_main(void *arg)
{
    client_t *c = arg;
    char instance[64];
    snprintf(instance, sizeof instance, "bench.%d.%s.%d", (int)getpid(), c->e->run_id, c->tid);
    link_t l;
    slot_t *slots = calloc((size_t)c->window, sizeof *slots);
    bool ready = slots && link_open(&l, c->e, "intake", instance, c->why, sizeof c->why) == 0;
    /* Warm-up: one request so that the CURVE handshake is not measured. */
    if (ready) {
        Cpm__Complaint cp;
        complaint_bufs_t b;
        char tag[24], id[33];
        cpm_msg_t r = {0};
        snprintf(tag, sizeof tag, "w%d", c->tid);
        make_complaint(c->e, tag, 0, &cp, &b);
        ready =
            link_send(&l, c->e->self_svc, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, &cp.base, id) == 0 &&
            link_recv(&l, c->e, REPLY_TIMEOUT_MS, &r, c->why, sizeof c->why) == 0;
        if (r.env)
            reply_error(&r, c->why, sizeof c->why);
        ready = ready && !*c->why;
        cpm_msg_clear(&r);
    }
    if (!ready)
        c->failed = 1;
    pthread_barrier_wait(c->start);
    c->deadline_us = mono_us() + c->dur_us;
    int64_t cpu0 = thread_cpu_us();
    uint64_t next = 0;
    size_t inflight = 0;
    while (!c->failed) {
        if (client_fill(c, &l, slots, &next, &inflight) != 0) {
            c->failed = 1;
            break;
        }
        if (inflight == 0)
            break;
        cpm_msg_t r = {0};
        if (link_recv(&l, c->e, REPLY_TIMEOUT_MS, &r, c->why, sizeof c->why) != 0) {
            c->failed = 1;
            break;
        }
        int64_t now = mono_us();
        for (int k = 0; k < c->window; k++) {
            if (!slots[k].busy || strcmp(slots[k].msg_id, r.env->correlation_id) != 0)
                continue;
            if (is_busy(&r)) { /* resend the same complaint (same client_ref), as a client
                                  would; its latency keeps running from the first send */
                c->busy++;
                if (client_send(c, &l, &slots[k]) != 0)
                    c->failed = 1;
                break;
            }
            slots[k].busy = false;
            inflight--;
            char err[sizeof c->why];
            reply_error(&r, err, sizeof err);
            if (*err) {
                c->refused++;
                snprintf(c->why, sizeof c->why, "%s", err);
            } else {
                c->ok++;
                lat_push(c, now - slots[k].t0);
            }
            c->last_reply_us = now;
            break;
        }
        cpm_msg_clear(&r);
    }
    c->cpu_us = thread_cpu_us() - cpu0;
    if (slots) /* link_open leaves l safe to close even when it failed */
        link_close(&l);
    free(slots);
    return NULL;
}

int run_clients(const env_t *e, int nclients, int window, int64_t dur_us, uint64_t total_msgs,
                mesh_result_t *res)
{
    client_t cs[MAX_CLIENTS];
    pthread_t th[MAX_CLIENTS];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nclients + 1);
    memset(res, 0, sizeof *res);
    res->clients = nclients;
    res->window = window;
    /* each call's clients tag their complaints apart (client references
     * unique in the run): two calls of the same shape send new complaints */
    static int calls;
    int call = calls++;
    for (int i = 0; i < nclients; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        cs[i].e = e;
        cs[i].tid = i + 100 * (int)(total_msgs ? 1 : 0) + 1000 * nclients + 100000 * call;
        cs[i].window = window;
        cs[i].dur_us = dur_us;
        cs[i].max_msgs = total_msgs ? total_msgs / (uint64_t)nclients +
                                          (i < (int)(total_msgs % (uint64_t)nclients))
                                    : 0;
        cs[i].start = &bar;
        pthread_create(&th[i], NULL, client_main, &cs[i]);
    }
    pthread_barrier_wait(&bar);
    int64_t cpu0 = proc_cpu_us(e->intake_pid), ocpu0 = others_cpu_us(e), box0 = machine_busy_us();
    int64_t t0 = mono_us(), last = t0;
    size_t nlat = 0;
    for (int i = 0; i < nclients; i++) {
        pthread_join(th[i], NULL);
        nlat += cs[i].nlat;
    }
    int64_t cpu1 = proc_cpu_us(e->intake_pid), ocpu1 = others_cpu_us(e), box1 = machine_busy_us();
    int64_t *all = malloc((nlat ? nlat : 1) * sizeof *all);
    size_t k = 0;
    int64_t client_cpu = 0;
    for (int i = 0; i < nclients; i++) {
        if (cs[i].failed && !res->failed) {
            res->failed = 1;
            fprintf(stderr, "bench_intake: client %d: %s\n", i, cs[i].why);
        }
        res->ok += cs[i].ok;
        res->refused += cs[i].refused;
        res->busy += cs[i].busy;
        client_cpu += cs[i].cpu_us;
        if (cs[i].last_reply_us > last)
            last = cs[i].last_reply_us;
        if (all) {
            memcpy(all + k, cs[i].lat, cs[i].nlat * sizeof *all);
            k += cs[i].nlat;
        }
        free(cs[i].lat);
    }
    pthread_barrier_destroy(&bar);
    if (res->refused)
        fprintf(stderr, "bench_intake: %llu requests refused, e.g. %s\n",
                (unsigned long long)res->refused, cs[0].why);
    if (res->busy)
        printf("  (%d x %d: %llu busy refusals, 503 rate: the service's share per principal "
               "and turn; resent, their wait is in the latency)\n",
               nclients, window, (unsigned long long)res->busy);
    if (all) {
        qsort(all, k, sizeof *all, cmp_i64);
        res->p50 = pct_ms(all, k, 0.50);
        res->p99 = pct_ms(all, k, 0.99);
    }
    free(all);
    res->start_us = t0;
    res->elapsed_us = last - t0;
    res->machine_cores = box0 >= 0 && box1 >= 0 && res->elapsed_us > 0
                             ? (double)(box1 - box0) / (double)(mono_us() - t0)
                             : -1;
    res->rate = res->elapsed_us > 0 ? (double)res->ok * 1e6 / (double)res->elapsed_us : 0;
    if (res->ok) {
        res->server_cpu_us = cpu0 >= 0 && cpu1 >= 0 ? (double)(cpu1 - cpu0) / (double)res->ok : -1;
        res->others_cpu_us =
            ocpu0 >= 0 && ocpu1 >= 0 ? (double)(ocpu1 - ocpu0) / (double)res->ok : -1;
        res->client_cpu_us = (double)client_cpu / (double)res->ok;
    }
    return res->failed || res->refused ? -1 : 0;
}

int mesh_phase(const env_t *e, link_t *hl, int nclients, int window, int64_t dur_us,
               mesh_result_t *res)
{
    health_t h0 = {0}, h1 = {0};
    if (health_get(hl, e, "intake", &h0) != 0)
        return -1;
    int rc = run_clients(e, nclients, window, dur_us, 0, res);
    if (health_get(hl, e, "intake", &h1) != 0)
        return -1;
    uint64_t da = h1.applied - h0.applied, dc = h1.commits - h0.commits;
    res->group = dc ? (double)da / (double)dc : 0;
    return rc;
}
