/* bench_intake: signed, durable complaint intake against a running mesh,
 * beside an in-process baseline of the same work measured in the same run.
 *
 *   bench_intake --home DIR [--node hn.doit] [--as operator.hn.doit]
 *                [--seconds S] [--window W] [--clients 1,4,8] [--deliver N]
 *
 * DIR is a home written by ./deploy/local/up (keys/, registry.signed,
 * etc/routing.yaml, run/pids) whose mesh is running; tests/bench/run starts
 * one. Figures only: nothing here asserts a timing. Exit 1 only when the mesh
 * does not answer or refuses requests.
 *
 * Mesh phases: 1 client with one request in flight, then N clients (threads,
 * each with its own DEALER link, zmq context and sender instance) pipelining
 * W requests each, for S seconds. Acknowledgement latency is from just before
 * the request is signed to the verified reply. Group size is what the service
 * achieved (delta of its "applied" and "store.commits" counters).
 *
 * Baseline: in this process, without sockets, for the same complaints: seal
 * (client), cpm_verifier_check with the mesh's registry, decode, intake_submit
 * (in a nested transaction per request, as the service loop does) with a real
 * store in a temp folder under DIR and effects that write the outbox and the
 * event log, committed durably in groups of the size that
 * phase's service achieved. A second baseline row adds the reply the service
 * also makes (seal) and the client checks (verify).
 *
 * Delivery: N complaints as fast as 4 pipelining clients can submit them; time
 * from the first submit until hn.doit/routing reports delivery.records_applied
 * up by N, against the same pipeline in one process (intake groups of 512,
 * then routing applies the outbox records in 512-record transactions). */
#include "cpm_envelope.h"
#include "cpm_err.h"
#include "cpm_eventlog.h"
#include "cpm_inbox.h"
#include "cpm_keys.h"
#include "cpm_outbox.h"
#include "cpm_registry.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "cpm_transport.h"
#include "cpm_util.h"
#include "cpm_verifier.h"
#include "intake_domain.h"
#include "routing_domain.h"

#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_CLIENTS 16
#define MAX_WINDOW 1024
#define REPLY_TIMEOUT_MS 10000
#define DELIVERY_GROUP 512
#define ROUTED_TIMEOUT_MS 60000

/* What every phase shares, loaded once from the home folder. */
typedef struct {
    char home[1024];
    const char *node, *as;
    char self_svc[200];          /* "<node>/intake" */
    char routing_member[128];    /* who runs routing */
    char inspection_member[128]; /* unused but kept for messages */
    uint8_t root_pk[32];
    cpm_registry_t *reg;
    cpm_rules_t *rules;
    cpm_identity_t id;
    char ticket_prefix[24];
    char run_id[9];     /* keeps client refs unique across runs */
    int intake_pid;     /* for CPU accounting; 0 when unknown */
    int other_pids[32]; /* every other service of the mesh */
    int nother;
} env_t;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* utime + stime of pid in microseconds, or -1. */
static int64_t proc_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (int64_t)((ut + st) * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* Busy time of the whole machine (every process, not only ours), in
 * microseconds of CPU, from /proc/stat; -1 when unreadable. */
static int64_t machine_busy_us(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                       &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f)
        fclose(f);
    if (n < 5)
        return -1;
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* all but idle, iowait */
    return (int64_t)(busy * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* CPU of the mesh's other services, summed; -1 when none is readable. */
static int64_t others_cpu_us(const env_t *e)
{
    int64_t sum = -1;
    for (int i = 0; i < e->nother; i++) {
        int64_t v = proc_cpu_us(e->other_pids[i]);
        if (v >= 0)
            sum = (sum < 0 ? 0 : sum) + v;
    }
    return sum;
}

/* ---- the complaints ----------------------------------------------------- */

static const char *const DISTRICTS[] = {"hoan-kiem", "ba-dinh", "cau-giay", "tay-ho"};
static const char *const CATEGORIES[] = {"food_safety", "pricing", "counterfeit_goods",
                                         "ecommerce"};

/* Complaint i of stream tag: realistic sizes (about 400 bytes packed). The
 * strings point into bufs, which must outlive c. */
typedef struct {
    char business[64], ref[64], desc[320];
} complaint_bufs_t;

static void make_complaint(const env_t *e, const char *tag, uint64_t i, Cpm__Complaint *c,
                           complaint_bufs_t *b)
{
    cpm__complaint__init(c);
    snprintf(b->business, sizeof b->business, "Quan Pho %llu", (unsigned long long)(i % 97));
    snprintf(b->ref, sizeof b->ref, "b%s-%s-%llu", e->run_id, tag, (unsigned long long)i);
    snprintf(b->desc, sizeof b->desc,
             "Complaint %llu: bought a bowl of pho and a drink; the receipt shows a price "
             "higher than the menu on the wall and the staff refused to correct it. Two of us "
             "felt sick in the evening. We kept the receipt and photos of the menu.",
             (unsigned long long)i);
    c->channel = "hotline";
    c->consumer_name = "Nguyen Van A";
    c->consumer_phone = "0912 345 678";
    c->business_name = b->business;
    c->business_address = "12 Hang Bac";
    c->district = (char *)DISTRICTS[i % 4];
    c->category = (char *)CATEGORIES[(i / 4) % 4];
    c->description = b->desc;
    c->client_ref = b->ref;
    c->urgent = i % 10 == 0;
}

/* ---- a client: one DEALER link, one sender instance ---------------------- */

typedef struct {
    char msg_id[33];
    int64_t t0;
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
    uint64_t ok, refused;
    int64_t last_reply_us, cpu_us;
    int failed;
    char why[256];
} client_t;

typedef struct {
    void *zctx, *sock;
    cpm_registry_t *reg;
    cpm_verifier_t *ver;
    cpm_sender_t sender;
    char self[200];
} link_t;

static int link_open(link_t *l, const env_t *e, const char *service, const char *instance,
                     char *why, size_t whylen)
{
    char path[1200], err[256];
    memset(l, 0, sizeof *l);
    snprintf(path, sizeof path, "%s/registry.signed", e->home);
    l->reg = cpm_registry_load(path, e->root_pk, err, sizeof err); /* a copy per thread */
    const Cpm__Member *m = l->reg ? cpm_registry_member(l->reg, e->node) : NULL;
    const Cpm__ServiceEndpoint *ep = m ? cpm_member_service(m, service) : NULL;
    if (!ep) {
        snprintf(why, whylen, "the registry has no %s/%s", e->node, service);
        return -1;
    }
    l->zctx = zmq_ctx_new();
    l->ver = cpm_verifier_new(300000);
    l->sock = l->zctx ? cpm_sock_client(l->zctx, ZMQ_DEALER, &e->id, m->curve_pk.data, ep->endpoint)
                      : NULL;
    if (!l->sock || !l->ver) {
        snprintf(why, whylen, "cannot connect to %s/%s at %s", e->node, service, ep->endpoint);
        return -1;
    }
    cpm_sender_init(&l->sender, &e->id, instance);
    snprintf(l->self, sizeof l->self, "%s/%s", e->id.id, instance);
    return 0;
}

static void link_close(link_t *l)
{
    cpm_sock_close(&l->sock);
    if (l->zctx)
        zmq_ctx_term(l->zctx);
    cpm_verifier_destroy(&l->ver);
    cpm_registry_destroy(&l->reg);
}

static int link_send(link_t *l, const char *recipient, Cpm__MsgType type,
                     const ProtobufCMessage *req, char msg_id[33])
{
    uint8_t *frame = NULL;
    size_t len = 0;
    if (cpm_sender_seal(&l->sender, type, recipient, NULL, req, msg_id, &frame, &len) != 0)
        return -1;
    int rc = zmq_send(l->sock, frame, len, 0) == (int)len ? 0 : -1;
    free(frame);
    return rc;
}

/* Wait for one verified reply: 0, or -1 on timeout or a refused reply. */
static int link_recv(link_t *l, const env_t *e, int timeout_ms, cpm_msg_t *reply, char *why,
                     size_t whylen)
{
    zmq_pollitem_t it = {l->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) {
        snprintf(why, whylen, "no reply within %d ms", timeout_ms);
        return -1;
    }
    zmq_msg_t f;
    if (cpm_sock_recv(l->sock, &f, 1, 0) != 1) {
        snprintf(why, whylen, "a reply of more than one frame");
        return -1;
    }
    cpm_verify_ctx_t ctx = {.self = l->self, .awaiting_reply = "*", .expect_sender = e->node};
    cpm_verdict_t v = cpm_verifier_check(l->ver, l->reg, &ctx, zmq_msg_data(&f), zmq_msg_size(&f),
                                         cpm_now_ms(), reply);
    zmq_msg_close(&f);
    if (v != CPM_V_OK) {
        snprintf(why, whylen, "refused a reply: %s", cpm_verdict_name(v));
        return -1;
    }
    return 0;
}

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

/* Fill free slots with new requests. 0 or -1. */
static int client_fill(client_t *c, link_t *l, slot_t *slots, uint64_t *next, size_t *inflight)
{
    for (int k = 0; k < c->window; k++) {
        if (slots[k].busy)
            continue;
        if ((c->max_msgs && *next >= c->max_msgs) || (!c->max_msgs && mono_us() >= c->deadline_us))
            return 0;
        char tag[24];
        snprintf(tag, sizeof tag, "%d", c->tid);
        Cpm__Complaint cp;
        complaint_bufs_t b;
        make_complaint(c->e, tag, (*next)++, &cp, &b);
        slots[k].t0 = mono_us();
        if (link_send(l, c->e->self_svc, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, &cp.base,
                      slots[k].msg_id) != 0) {
            snprintf(c->why, sizeof c->why, "cannot sign or send a request");
            return -1;
        }
        slots[k].busy = true;
        (*inflight)++;
    }
    return 0;
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

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const int64_t *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return (double)sorted[i] / 1000.0;
}

/* ---- health counters over a signed link -------------------------------- */

typedef struct {
    uint64_t applied, commits, records_applied, event_head;
} health_t;

static uint64_t counter(const Cpm__HealthReply *h, const char *name)
{
    for (size_t i = 0; i < h->n_counters; i++)
        if (!strcmp(h->counters[i]->name, name))
            return h->counters[i]->value;
    return 0;
}

static int health_get(link_t *l, const env_t *e, const char *service, health_t *out)
{
    char recipient[200], id[33], why[256];
    snprintf(recipient, sizeof recipient, "%s/%s", e->node, service);
    Cpm__HealthQuery q = CPM__HEALTH_QUERY__INIT;
    if (link_send(l, recipient, CPM__MSG_TYPE__MSG_HEALTH_QUERY, &q.base, id) != 0)
        return -1;
    for (;;) {
        cpm_msg_t r = {0};
        if (link_recv(l, e, 3000, &r, why, sizeof why) != 0) {
            fprintf(stderr, "bench_intake: health of %s: %s\n", recipient, why);
            return -1;
        }
        if (strcmp(r.env->correlation_id, id) != 0) { /* a late answer */
            cpm_msg_clear(&r);
            continue;
        }
        Cpm__HealthReply *h =
            r.env->type == CPM__MSG_TYPE__MSG_HEALTH_REPLY
                ? cpm__health_reply__unpack(NULL, r.env->payload.len, r.env->payload.data)
                : NULL;
        cpm_msg_clear(&r);
        if (!h)
            return -1;
        out->applied = counter(h, "applied");
        out->commits = counter(h, "store.commits");
        out->records_applied = counter(h, "delivery.records_applied");
        out->event_head = h->event_head;
        cpm__health_reply__free_unpacked(h, NULL);
        return 0;
    }
}

/* ---- running clients against the mesh ----------------------------------- */

typedef struct {
    int clients, window;
    uint64_t ok, refused;
    double rate, p50, p99, group, server_cpu_us, others_cpu_us, client_cpu_us, machine_cores;
    int64_t start_us, elapsed_us; /* from after the warm-up to the last reply */
    int failed;
} mesh_result_t;

static int run_clients(const env_t *e, int nclients, int window, int64_t dur_us,
                       uint64_t total_msgs, mesh_result_t *res)
{
    client_t cs[MAX_CLIENTS];
    pthread_t th[MAX_CLIENTS];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nclients + 1);
    memset(res, 0, sizeof *res);
    res->clients = nclients;
    res->window = window;
    for (int i = 0; i < nclients; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        cs[i].e = e;
        cs[i].tid = i + 100 * (int)(total_msgs ? 1 : 0) + 1000 * nclients;
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

static int mesh_phase(const env_t *e, link_t *hl, int nclients, int window, int64_t dur_us,
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

/* ---- the in-process baseline ------------------------------------------- */

/* Effects as the service binds them: outbox record and event log, in txn. */
typedef struct {
    cpm_store_t *st;
    char self[200]; /* "<member>/<service>" whose outbox this is */
} fx_ctx_t;

static int fx_send(void *ctx, MDB_txn *txn, const char *member, const char *service,
                   const ProtobufCMessage *rec)
{
    fx_ctx_t *f = ctx;
    char stream[512];
    snprintf(stream, sizeof stream, "%s>%s/%s", f->self, member, service);
    size_t len = protobuf_c_message_get_packed_size(rec);
    uint8_t stackbuf[4096], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return CPM_E_INTERNAL;
    protobuf_c_message_pack(rec, buf);
    int rc = cpm_outbox_put(f->st, txn, stream, buf, len, NULL);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

static int fx_event(void *ctx, MDB_txn *txn, const char *kind, const char *ticket,
                    const char *agency, const char *detail)
{
    fx_ctx_t *f = ctx;
    return cpm_eventlog_append(f->st, txn, cpm_now_ms(), kind, ticket, agency, detail, NULL);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* A fresh store in a temp folder under the home (the disk the mesh uses). */
static cpm_store_t *temp_store(const env_t *e, const char *what, const char *const *dbs,
                               char dir[1200])
{
    char err[256];
    snprintf(dir, 1200, "%s/bench-%s-XXXXXX", e->home, what);
    if (!mkdtemp(dir)) {
        perror("bench_intake: mkdtemp");
        return NULL;
    }
    cpm_store_t *st = cpm_store_open(dir, (size_t)2 << 30, dbs, err, sizeof err);
    if (!st)
        fprintf(stderr, "bench_intake: store %s: %s\n", dir, err);
    return st;
}

static void temp_store_drop(cpm_store_t **st, const char *dir)
{
    cpm_store_destroy(st);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The service side of one request, in txn: verify, decode, intake_submit. */
typedef struct {
    const env_t *e;
    cpm_store_t *st;
    intake_t *in;
    cpm_effects_t fx;
    cpm_verifier_t *server_ver, *client_ver;
    cpm_sender_t client, server;
    char client_self[200];
} base_t;

static int base_open(base_t *b, const env_t *e, fx_ctx_t *fc, cpm_store_t *st, const char *inst)
{
    memset(b, 0, sizeof *b);
    b->e = e;
    b->st = st;
    fc->st = st;
    snprintf(fc->self, sizeof fc->self, "%s", e->self_svc);
    b->fx = (cpm_effects_t){fx_send, fx_event, fc};
    b->in = intake_new(e->rules, e->node, e->ticket_prefix, e->routing_member);
    b->server_ver = cpm_verifier_new(300000);
    b->client_ver = cpm_verifier_new(300000);
    cpm_sender_init(&b->client, &e->id, inst);
    cpm_sender_init(&b->server, &e->id, "intake"); /* signs as itself: the key is immaterial */
    snprintf(b->client_self, sizeof b->client_self, "%s/%s", e->id.id, inst);
    return b->in && b->server_ver && b->client_ver ? 0 : -1;
}

static void base_close(base_t *b)
{
    intake_destroy(&b->in);
    cpm_verifier_destroy(&b->server_ver);
    cpm_verifier_destroy(&b->client_ver);
}

/* One complaint through seal, verify, decode and intake_submit in txn; with
 * replies, also the reply's seal and its check by the client. 0 or -1. */
static int base_one(base_t *b, MDB_txn *txn, const char *tag, uint64_t i, bool replies)
{
    const env_t *e = b->e;
    Cpm__Complaint cp;
    complaint_bufs_t bufs;
    make_complaint(e, tag, i, &cp, &bufs);
    uint8_t *frame = NULL;
    size_t len = 0;
    if (cpm_sender_seal(&b->client, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, e->self_svc, NULL,
                        &cp.base, NULL, &frame, &len) != 0)
        return -1;
    cpm_verify_ctx_t ctx = {.self = e->self_svc, .service = "intake", .transport_user = e->as};
    cpm_msg_t m = {0};
    cpm_verdict_t v = cpm_verifier_check(b->server_ver, e->reg, &ctx, frame, len, cpm_now_ms(), &m);
    free(frame);
    if (v != CPM_V_OK) {
        fprintf(stderr, "bench_intake: baseline verify: %s\n", cpm_verdict_name(v));
        return -1;
    }
    Cpm__Complaint *c = cpm__complaint__unpack(NULL, m.env->payload.len, m.env->payload.data);
    char ticket[INTAKE_TICKET_MAX];
    bool dup = false;
    cpm_error_t err = {0};
    /* As the service loop does: each request in a nested transaction. */
    MDB_txn *child = NULL;
    int rc = c ? cpm_store_begin_child(b->st, txn, &child) : CPM_E_BAD_MESSAGE;
    if (rc == 0)
        rc = intake_submit(b->in, b->st, child, &b->fx, m.env->sender, c, cpm_now_ms(), ticket,
                           &dup, &err);
    if (rc == 0)
        rc = cpm_store_commit(child);
    else if (child)
        cpm_store_abort(&child);
    cpm__complaint__free_unpacked(c, NULL);
    if (rc != 0) {
        fprintf(stderr, "bench_intake: baseline intake_submit: %s %s\n", cpm_err_name(rc),
                err.message);
        cpm_msg_clear(&m);
        return -1;
    }
    if (replies) {
        Cpm__SubmitReply r = CPM__SUBMIT_REPLY__INIT;
        r.ticket = ticket;
        uint8_t *rf = NULL;
        size_t rlen = 0;
        rc = cpm_sender_seal(&b->server, CPM__MSG_TYPE__MSG_SUBMIT_REPLY, b->client_self,
                             m.env->msg_id, &r.base, NULL, &rf, &rlen);
        cpm_verify_ctx_t cctx = {
            .self = b->client_self, .awaiting_reply = "*", .expect_sender = e->id.id};
        cpm_msg_t rm = {0};
        if (rc == 0 && cpm_verifier_check(b->client_ver, e->reg, &cctx, rf, rlen, cpm_now_ms(),
                                          &rm) != CPM_V_OK)
            rc = -1;
        cpm_msg_clear(&rm);
        free(rf);
    }
    cpm_msg_clear(&m);
    return rc == 0 ? 0 : -1;
}

typedef struct {
    double rate, group_p50_ms, cpu_us;
    uint64_t n;
} base_result_t;

/* Groups of `group` complaints per durable transaction for dur_us. */
static int baseline_phase(const env_t *e, size_t group, bool replies, int64_t dur_us,
                          base_result_t *res)
{
    static const char *dbs[] = INTAKE_DBS;
    char dir[1200], tag[32];
    cpm_store_t *st = temp_store(e, "base", dbs, dir);
    fx_ctx_t fc;
    base_t b;
    if (!st)
        return -1;
    snprintf(tag, sizeof tag, "base%zu%c", group, replies ? 'r' : 'n');
    int rc = base_open(&b, e, &fc, st, tag);
    size_t cap = 4096, ng = 0;
    int64_t *gl = malloc(cap * sizeof *gl);
    memset(res, 0, sizeof *res);
    int64_t t0 = mono_us(), cpu0 = thread_cpu_us();
    while (rc == 0 && gl && mono_us() - t0 < dur_us) {
        int64_t g0 = mono_us();
        MDB_txn *txn = NULL;
        if (cpm_store_begin(st, true, &txn) != 0) {
            rc = -1;
            break;
        }
        for (size_t i = 0; rc == 0 && i < group; i++)
            rc = base_one(&b, txn, tag, res->n++, replies);
        if (rc != 0 || cpm_store_commit(txn) != 0) {
            if (rc != 0)
                cpm_store_abort(&txn);
            rc = -1;
            break;
        }
        if (ng == cap) {
            int64_t *p = realloc(gl, (cap *= 2) * sizeof *gl);
            if (!p)
                break;
            gl = p;
        }
        gl[ng++] = mono_us() - g0;
    }
    int64_t el = mono_us() - t0;
    if (rc == 0 && ng) {
        res->rate = (double)res->n * 1e6 / (double)el;
        res->cpu_us = (double)(thread_cpu_us() - cpu0) / (double)res->n;
        qsort(gl, ng, sizeof *gl, cmp_i64);
        res->group_p50_ms = pct_ms(gl, ng, 0.5);
    }
    free(gl);
    base_close(&b);
    temp_store_drop(&st, dir);
    return rc;
}

/* ---- delivery intake -> routing ---------------------------------------- */

typedef struct {
    double intake_s, routing_s, rate;
} deliver_base_t;

/* The pipeline in one process: n complaints into an intake store in groups of
 * 512; then routing applies the outbox records, 512 per transaction, with its
 * own effects, inbox high-water mark and the sender's ack commit. */
static int baseline_delivery(const env_t *e, uint64_t n, deliver_base_t *res)
{
    static const char *idbs[] = INTAKE_DBS, *rdbs[] = ROUTING_DBS;
    char idir[1200], rdir[1200], stream[480];
    cpm_store_t *ist = temp_store(e, "dintake", idbs, idir);
    cpm_store_t *rst = ist ? temp_store(e, "drouting", rdbs, rdir) : NULL;
    fx_ctx_t ifc, rfc;
    base_t b;
    int rc = rst ? base_open(&b, e, &ifc, ist, "deliver") : -1;
    int64_t t0 = mono_us();
    for (uint64_t i = 0; rc == 0 && i < n;) {
        MDB_txn *txn = NULL;
        if ((rc = cpm_store_begin(ist, true, &txn)) != 0)
            break;
        for (size_t k = 0; rc == 0 && k < DELIVERY_GROUP && i < n; k++)
            rc = base_one(&b, txn, "deliver", i++, false);
        rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), -1);
    }
    int64_t t1 = mono_us();
    snprintf(stream, sizeof stream, "%s>%s/routing", e->self_svc, e->routing_member);
    snprintf(rfc.self, sizeof rfc.self, "%s/routing", e->routing_member);
    rfc.st = rst;
    cpm_effects_t rfx = {fx_send, fx_event, &rfc};
    for (uint64_t acked = 0; rc == 0 && acked < n;) {
        MDB_txn *txn = NULL;
        cpm_outbox_batch_t ob = {0};
        if ((rc = cpm_store_begin(ist, false, &txn)) == 0)
            rc = cpm_outbox_read(ist, txn, stream, acked + 1, DELIVERY_GROUP, 1u << 20, &ob);
        cpm_store_abort(&txn);
        if (rc != 0 || ob.n == 0) {
            rc = -1;
            cpm_outbox_batch_clear(&ob);
            break;
        }
        if ((rc = cpm_store_begin(rst, true, &txn)) != 0) {
            cpm_outbox_batch_clear(&ob);
            break;
        }
        for (size_t k = 0; rc == 0 && k < ob.n; k++) {
            Cpm__Complaint *c = cpm__complaint__unpack(NULL, ob.lens[k], ob.recs[k]);
            cpm_error_t err = {0};
            MDB_txn *child = NULL; /* one nested transaction per record, as routing does */
            rc = c ? cpm_store_begin_child(rst, txn, &child) : -1;
            if (rc == 0)
                rc = routing_apply_complaint(e->rules, e->reg, rst, child, &rfx, e->node, c,
                                             cpm_now_ms(), &err);
            if (rc == 0)
                rc = cpm_store_commit(child);
            else if (child)
                cpm_store_abort(&child);
            if (rc != 0)
                fprintf(stderr, "bench_intake: baseline routing: %s %s\n", cpm_err_name(rc),
                        err.message);
            cpm__complaint__free_unpacked(c, NULL);
        }
        uint64_t hwm = ob.first_seq + ob.n - 1;
        cpm_outbox_batch_clear(&ob);
        if (rc == 0)
            rc = cpm_inbox_set(rst, txn, stream, hwm);
        rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), -1);
        if (rc == 0 && (rc = cpm_store_begin(ist, true, &txn)) == 0) { /* the pump's ack */
            rc = cpm_outbox_ack(ist, txn, stream, hwm);
            rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), -1);
        }
        acked = hwm;
    }
    int64_t t2 = mono_us();
    if (rst)
        base_close(&b);
    if (rc == 0) {
        res->intake_s = (double)(t1 - t0) / 1e6;
        res->routing_s = (double)(t2 - t1) / 1e6;
        res->rate = (double)n * 1e6 / (double)(t2 - t0);
    } else {
        fprintf(stderr, "bench_intake: delivery baseline failed\n");
    }
    if (rst)
        temp_store_drop(&rst, rdir);
    if (ist)
        temp_store_drop(&ist, idir);
    return rc;
}

/* Health links: one per service (a DEALER reaches one ROUTER). */
typedef struct {
    link_t intake, routing;
} health_links_t;

/* Wait until routing has applied every record intake queued before now, so
 * that the delivery figure starts from an empty pipe. *applied gets routing's
 * counter. 0 or -1. */
static int wait_drained(const env_t *e, health_links_t *hl, uint64_t *applied)
{
    health_t in = {0}, r = {0};
    uint64_t last = UINT64_MAX;
    int64_t deadline = mono_us() + ROUTED_TIMEOUT_MS * 1000LL, still_since = mono_us();
    while (mono_us() < deadline) {
        if (health_get(&hl->intake, e, "intake", &in) != 0 ||
            health_get(&hl->routing, e, "routing", &r) != 0)
            return -1;
        if (r.records_applied >= in.applied) /* only this intake feeds routing here */
            break;
        if (r.records_applied != last)
            still_since = mono_us(), last = r.records_applied;
        else if (mono_us() - still_since > 2000000) /* other feeders: stable is enough */
            break;
        usleep(10000);
    }
    *applied = r.records_applied;
    return 0;
}

static int delivery_phase(const env_t *e, health_links_t *hl, uint64_t n, int nclients, int window)
{
    health_t r1 = {0};
    uint64_t r0 = 0;
    if (wait_drained(e, hl, &r0) != 0)
        return -1;
    mesh_result_t mr;
    if (run_clients(e, nclients, window, 0, n, &mr) != 0)
        return -1;
    /* the clients' warm-up complaints are delivered too */
    uint64_t target = r0 + n + (uint64_t)nclients;
    int64_t deadline = mono_us() + ROUTED_TIMEOUT_MS * 1000LL;
    do {
        if (health_get(&hl->routing, e, "routing", &r1) != 0)
            return -1;
        if (r1.records_applied >= target)
            break;
        usleep(2000);
    } while (mono_us() < deadline);
    int64_t routed_us = mono_us() - mr.start_us;
    if (r1.records_applied < target) {
        fprintf(stderr, "bench_intake: routing applied %llu of %llu within %d s\n",
                (unsigned long long)(r1.records_applied - r0),
                (unsigned long long)(n + (uint64_t)nclients), ROUTED_TIMEOUT_MS / 1000);
        return -1;
    }
    deliver_base_t db = {0};
    if (baseline_delivery(e, n, &db) != 0)
        return -1;
    double mesh_rate = (double)n * 1e6 / (double)routed_us;
    printf("\ndelivery intake -> routing: %llu complaints from %d clients x window %d, "
           "as fast as intake takes them\n",
           (unsigned long long)n, nclients, window);
    printf("  mesh:     intake acknowledged all after %.2f s (%.0f/s); routing applied all after "
           "%.2f s: %.0f records/s\n",
           (double)mr.elapsed_us / 1e6, mr.rate, (double)routed_us / 1e6, mesh_rate);
    printf("  baseline: one process, intake %d/txn %.2f s, then routing %d records/txn %.2f s "
           "(%.0f records/s): %.0f records/s end to end\n",
           DELIVERY_GROUP, db.intake_s, DELIVERY_GROUP, db.routing_s,
           db.routing_s > 0 ? (double)n / db.routing_s : 0, db.rate);
    printf("  ratio mesh/baseline end to end: %.2f\n", db.rate > 0 ? mesh_rate / db.rate : 0);
    return 0;
}

/* ---- setup -------------------------------------------------------------- */

static int env_load(env_t *e)
{
    char path[1200], err[256];
    cpm_public_t root;
    snprintf(path, sizeof path, "%s/keys/root.public", e->home);
    if (cpm_public_load(&root, path, err, sizeof err) != 0) {
        fprintf(stderr, "bench_intake: %s: %s\n", path, err);
        return -1;
    }
    memcpy(e->root_pk, root.sign_pk, 32);
    snprintf(path, sizeof path, "%s/registry.signed", e->home);
    if (!(e->reg = cpm_registry_load(path, e->root_pk, err, sizeof err))) {
        fprintf(stderr, "bench_intake: %s: %s\n", path, err);
        return -1;
    }
    snprintf(path, sizeof path, "%s/etc/routing.yaml", e->home);
    if (!(e->rules = cpm_rules_load(path, err, sizeof err))) {
        fprintf(stderr, "bench_intake: %s: %s\n", path, err);
        return -1;
    }
    snprintf(path, sizeof path, "%s/keys/%s.secret", e->home, e->as);
    if (cpm_identity_load(&e->id, path, err, sizeof err) != 0) {
        fprintf(stderr, "bench_intake: %s: %s\n", path, err);
        return -1;
    }
    const Cpm__Member *me = cpm_registry_member(e->reg, e->node);
    if (!me || !cpm_member_service(me, "intake") || !*me->ticket_prefix) {
        fprintf(stderr, "bench_intake: %s runs no intake with a ticket prefix\n", e->node);
        return -1;
    }
    snprintf(e->ticket_prefix, sizeof e->ticket_prefix, "%s", me->ticket_prefix);
    snprintf(e->self_svc, sizeof e->self_svc, "%s/intake", e->node);
    const Cpm__Registry *doc = cpm_registry_doc(e->reg);
    for (size_t i = 0; i < doc->n_members && !*e->routing_member; i++)
        if (cpm_member_service(doc->members[i], "routing"))
            snprintf(e->routing_member, sizeof e->routing_member, "%s", doc->members[i]->id);
    if (strcmp(e->routing_member, e->node) != 0) {
        fprintf(stderr, "bench_intake: routing runs on %s; the health link expects %s\n",
                e->routing_member, e->node);
        return -1;
    }
    char rid[33];
    cpm_random_id(rid);
    snprintf(e->run_id, sizeof e->run_id, "%.8s", rid);
    /* run/pids: "pid node service" lines written by deploy/local/up */
    snprintf(path, sizeof path, "%s/run/pids", e->home);
    FILE *f = fopen(path, "r");
    char node[128], svc[32];
    int pid;
    while (f && fscanf(f, "%d %127s %31s", &pid, node, svc) == 3)
        if (!strcmp(node, e->node) && !strcmp(svc, "intake"))
            e->intake_pid = pid;
        else if (e->nother < 32)
            e->other_pids[e->nother++] = pid;
    if (f)
        fclose(f);
    return 0;
}

/* The unit costs that explain the rows: one request seal, one verify, one
 * durable commit of a one-record transaction. */
static int cost_model(const env_t *e)
{
    static const char *dbs[] = INTAKE_DBS;
    char dir[1200];
    cpm_store_t *st = temp_store(e, "cost", dbs, dir);
    fx_ctx_t fc;
    base_t b;
    if (!st)
        return -1;
    enum { N = 400 };
    int64_t seal = 0, verify = 0, commit = 0;
    int rc = base_open(&b, e, &fc, st, "cost");
    for (int i = 0; rc == 0 && i < N; i++) {
        Cpm__Complaint cp;
        complaint_bufs_t bufs;
        make_complaint(e, "cost", (uint64_t)i, &cp, &bufs);
        uint8_t *frame = NULL;
        size_t len = 0;
        int64_t t0 = mono_us();
        if (cpm_sender_seal(&b.client, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, e->self_svc, NULL,
                            &cp.base, NULL, &frame, &len) != 0) {
            rc = -1;
            break;
        }
        int64_t t1 = mono_us();
        cpm_verify_ctx_t ctx = {.self = e->self_svc, .service = "intake", .transport_user = e->as};
        cpm_msg_t m = {0};
        cpm_verdict_t v =
            cpm_verifier_check(b.server_ver, e->reg, &ctx, frame, len, cpm_now_ms(), &m);
        int64_t t2 = mono_us();
        cpm_msg_clear(&m);
        free(frame);
        MDB_txn *txn = NULL;
        rc = v == CPM_V_OK ? cpm_store_begin(st, true, &txn) : -1;
        if (rc == 0)
            rc = cpm_store_put_u64(st, txn, "bench.cost", (uint64_t)i);
        rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), -1);
        seal += t1 - t0, verify += t2 - t1, commit += mono_us() - t2;
    }
    if (rc == 0)
        printf("unit costs here: seal (sign) a complaint %.0f us, verify it %.0f us, durable "
               "commit of a one-record txn %.0f us\n",
               (double)seal / N, (double)verify / N, (double)commit / N);
    else
        fprintf(stderr, "bench_intake: the unit cost measurement failed\n");
    base_close(&b);
    temp_store_drop(&st, dir);
    return rc == 0 ? 0 : -1;
}

typedef struct {
    mesh_result_t m;
    base_result_t b, br;
    size_t g;
} row_t;

static void print_rows(const row_t *rows, int n)
{
    printf("\n%-9s %9s %7s %7s %6s | %5s %9s %6s | %10s %6s\n", "clients", "intake/s", "p50 ms",
           "p99 ms", "group", "g", "base/s", "ratio", "+replies/s", "ratio");
    for (int i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        printf("%2d x %-4d %9.0f %7.2f %7.2f %6.1f | %5zu %9.0f %6.2f | %10.0f %6.2f\n",
               r->m.clients, r->m.window, r->m.rate, r->m.p50, r->m.p99, r->m.group, r->g,
               r->b.rate, r->b.rate > 0 ? r->m.rate / r->b.rate : 0, r->br.rate,
               r->br.rate > 0 ? r->m.rate / r->br.rate : 0);
    }
    printf("\nCPU per complaint, us; cores: ours = total x rate, machine = every process "
           "(other work on the machine included)\n");
    printf("%-9s %7s %7s %7s %7s %6s %7s | %9s %9s\n", "clients", "intake", "others", "clients",
           "total", "ours", "machine", "base", "base g ms");
    for (int i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        double tot = r->m.server_cpu_us + (r->m.others_cpu_us > 0 ? r->m.others_cpu_us : 0) +
                     r->m.client_cpu_us;
        printf("%2d x %-4d %7.0f %7.0f %7.0f %7.0f %6.2f %7.2f | %9.0f %9.2f\n", r->m.clients,
               r->m.window, r->m.server_cpu_us, r->m.others_cpu_us, r->m.client_cpu_us, tot,
               tot * r->m.rate / 1e6, r->m.machine_cores, r->b.cpu_us, r->b.group_p50_ms);
    }
}

static const char usage[] =
    "usage: bench_intake --home DIR [--node hn.doit] [--as operator.hn.doit] [--seconds S]\n"
    "                    [--window W] [--clients 1,4,8] [--deliver N]\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"home", required_argument, 0, 'H'},
                                         {"node", required_argument, 0, 'n'},
                                         {"as", required_argument, 0, 'a'},
                                         {"seconds", required_argument, 0, 's'},
                                         {"window", required_argument, 0, 'w'},
                                         {"clients", required_argument, 0, 'c'},
                                         {"deliver", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    env_t e;
    memset(&e, 0, sizeof e);
    e.node = "hn.doit";
    e.as = "operator.hn.doit";
    double secs = 3;
    int window = 32, clients[8] = {1, 4, 8}, nclients = 3, opt;
    long long deliver = 20000;
    const char *home = NULL;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'H':
            home = optarg;
            break;
        case 'n':
            e.node = optarg;
            break;
        case 'a':
            e.as = optarg;
            break;
        case 's':
            secs = atof(optarg);
            break;
        case 'w':
            window = atoi(optarg);
            break;
        case 'd':
            deliver = atoll(optarg);
            break;
        case 'c':
            nclients = 0;
            for (char *t = strtok(optarg, ","); t && nclients < 8; t = strtok(NULL, ","))
                clients[nclients++] = atoi(t);
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    bool bad = !home || secs <= 0 || window < 1 || window > MAX_WINDOW || deliver < 0;
    for (int i = 0; i < nclients; i++)
        bad |= clients[i] < 1 || clients[i] > MAX_CLIENTS;
    if (bad) {
        fputs(usage, stderr);
        return 2;
    }
    snprintf(e.home, sizeof e.home, "%s", home);
    if (env_load(&e) != 0)
        return 1;
    health_links_t hl;
    char why[256], inst[64], inst2[64];
    snprintf(inst, sizeof inst, "bench.%d.%s.hi", (int)getpid(), e.run_id);
    snprintf(inst2, sizeof inst2, "bench.%d.%s.hr", (int)getpid(), e.run_id);
    if (link_open(&hl.intake, &e, "intake", inst, why, sizeof why) != 0 ||
        link_open(&hl.routing, &e, "routing", inst2, why, sizeof why) != 0) {
        fprintf(stderr, "bench_intake: %s\n", why);
        return 1;
    }
    int64_t dur = (int64_t)(secs * 1e6);
    printf("bench_intake: signed, durable submit_complaint to %s as %s, %ld cores, %.1f s per "
           "phase\n",
           e.self_svc, e.as, sysconf(_SC_NPROCESSORS_ONLN), secs);
    printf("baseline: same complaints in this process without sockets: seal, verify, decode, "
           "intake_submit (outbox + event log), durable commit in groups of the size the "
           "service achieved (g); '+replies' also seals the reply and verifies it\n\n");
    int rc = cost_model(&e) == 0 ? 0 : 1;
    double p50_single = -1, worst_ratio = 1e9;
    row_t rows[8];
    int nrows = 0;
    for (int i = 0; i < nclients && rc == 0; i++) {
        int w = clients[i] == 1 ? 1 : window;
        row_t *r = &rows[nrows];
        if (mesh_phase(&e, &hl.intake, clients[i], w, dur, &r->m) != 0) {
            rc = 1;
            break;
        }
        r->g = r->m.group >= 1 ? (size_t)(r->m.group + 0.5) : 1;
        if (baseline_phase(&e, r->g, false, dur / 2, &r->b) != 0 ||
            baseline_phase(&e, r->g, true, dur / 2, &r->br) != 0) {
            rc = 1;
            break;
        }
        nrows++;
        if (clients[i] == 1 && w == 1)
            p50_single = r->m.p50;
        if (r->b.rate > 0 && r->m.rate / r->b.rate < worst_ratio)
            worst_ratio = r->m.rate / r->b.rate;
    }
    print_rows(rows, nrows);
    if (rc == 0) {
        printf("\naim intake >= 80%% of baseline: %s (lowest ratio %.2f)\n",
               worst_ratio >= 0.8 ? "met" : "NOT met", worst_ratio);
        if (p50_single >= 0)
            printf("aim 1-client acknowledgement p50 < 2 ms: %s (%.2f ms)\n",
                   p50_single < 2.0 ? "met" : "NOT met", p50_single);
    }
    if (rc == 0 && deliver > 0 && delivery_phase(&e, &hl, (uint64_t)deliver, 4, 64) != 0)
        rc = 1;
    link_close(&hl.intake);
    link_close(&hl.routing);
    cpm_identity_wipe(&e.id);
    cpm_rules_destroy(&e.rules);
    cpm_registry_destroy(&e.reg);
    return rc;
}
