/* delivery: the mesh from an empty pipe (intake -> routing), against the same
 * pipeline in one process: intake groups of 512, then routing applies the
 * outbox records in 512-record transactions. */
#include "delivery.h"

#include "baseline.h"
#include "mesh.h"

#include "cpm_err.h"
#include "cpm_inbox.h"
#include "cpm_outbox.h"
#include "cpm_util.h"
#include "routing_domain.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DELIVERY_GROUP 512
#define ROUTED_TIMEOUT_MS 60000

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
    cpm_effects_t rfx = {fx_send, fx_event, &rfc, NULL, NULL};
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

/* Wait until routing's delivery.records_applied reaches target; *r gets its
 * last health. 0, or -1 when health fails or the timeout passes (said). */
static int wait_applied(const env_t *e, health_links_t *hl, uint64_t target, uint64_t from,
                        health_t *r)
{
    int64_t deadline = mono_us() + ROUTED_TIMEOUT_MS * 1000LL;
    do {
        if (health_get(&hl->routing, e, "routing", r) != 0)
            return -1;
        if (r->records_applied >= target)
            return 0;
        usleep(2000);
    } while (mono_us() < deadline);
    fprintf(stderr, "bench_intake: routing applied %llu of %llu within %d s\n",
            (unsigned long long)(r->records_applied - from), (unsigned long long)(target - from),
            ROUTED_TIMEOUT_MS / 1000);
    return -1;
}

/* 1 when pid runs cpmesh-routing (/proc/<pid>/comm): a pid read from
 * run/pids at start may since be another process's. */
static bool is_routing(int pid)
{
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    FILE *f = fopen(path, "r");
    bool ok = f && fgets(comm, sizeof comm, f) && !strncmp(comm, "cpmesh-routing", 14);
    if (f)
        fclose(f);
    return ok;
}

/* A child that continues pid (SIGCONT) once the pipe it reads is closed:
 * when the parent closes it, and also when the parent dies in any way
 * (killed, crashed, interrupted), so that routing is never left stopped.
 * It ignores the terminal's signals (Ctrl-C reaches the whole group). The
 * write end in *wfd; -1 when it cannot be made (then nothing is stopped). */
static pid_t cont_guard(int pid, int *wfd)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t g = fork();
    if (g == 0) {
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        close(p[1]);
        char c;
        while (read(p[0], &c, 1) != 0 && errno == EINTR)
            ;
        kill(pid, SIGCONT);
        _exit(0);
    }
    close(p[0]);
    if (g < 0) {
        close(p[1]);
        return -1;
    }
    *wfd = p[1];
    return g;
}

/* Where the drain's CPU went, per record: routing, intake, the other
 * services (inspection takes the Assignments) and the whole machine, with the
 * cores it kept busy; then the other services' CPU once they settle (CPU
 * growing by less than 1 ms in 300 ms, at most 10 s), since inspection goes
 * on with the Assignments after routing has applied the last record. This is
 * the budget that a delivery rate on this machine has to fit in. */
static void drain_budget(const env_t *e, uint64_t got, int64_t us, int64_t rcpu, int64_t icpu,
                         int64_t ocpu, int64_t box, int64_t ocpu0, int64_t rcpu0,
                         const int64_t *each0)
{
    if (!got || ocpu < 0 || rcpu < 0 || icpu < 0)
        return;
    double n = (double)got;
    int64_t other = ocpu - rcpu; /* others_cpu_us counts routing among them */
    printf("  drain budget, CPU us per record: routing %.1f + intake %.1f + the other services "
           "%.1f = %.1f",
           (double)rcpu / n, (double)icpu / n, (double)other / n, (double)(ocpu + icpu) / n);
    if (box >= 0)
        printf("; the machine %.1f (%.2f of %ld cores busy)", (double)box / n,
               (double)box / (double)us, sysconf(_SC_NPROCESSORS_ONLN));
    printf("\n");
    int64_t last = others_cpu_us(e), t0 = mono_us();
    for (;;) {
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int64_t now = others_cpu_us(e);
        if (now - last < 1000 || mono_us() - t0 > 10 * 1000000LL)
            break;
        last = now;
    }
    int64_t rnow = proc_cpu_us(e->routing_pid);
    if (rnow < 0)
        return;
    int64_t settled = (others_cpu_us(e) - ocpu0) - (rnow - rcpu0);
    printf("  until they settled (%.1f s more): routing %.1f, the other services %.1f us per "
           "record\n",
           (double)(mono_us() - t0) / 1e6, (double)(rnow - rcpu0) / n, (double)settled / n);
    printf("    of which (us per record, at least 0.5):");
    for (int i = 0; i < e->nother; i++) {
        int64_t v = proc_cpu_us(e->other_pids[i]);
        if (e->other_pids[i] == e->routing_pid || v < 0 || each0[i] < 0 ||
            (double)(v - each0[i]) / n < 0.5)
            continue;
        printf(" %s %.1f", e->other_names[i], (double)(v - each0[i]) / n);
    }
    printf("\n");
}

/* The delivery alone: routing is stopped (SIGSTOP) while the clients submit n
 * complaints, so that they wait in intake's outbox (its depth printed: the
 * proof that routing took none meanwhile); then it goes on (SIGCONT), and
 * the time until it has applied them all is the pipe's own rate, not
 * bounded by how fast intake takes complaints. Printed beside the
 * one-process routing rate of the baseline. 0 or -1. */
static int drain_phase(const env_t *e, health_links_t *hl, uint64_t n, int nclients, int window,
                       double base_routing_rate)
{
    if (e->routing_pid <= 0 || !is_routing(e->routing_pid)) {
        printf("  drain: no cpmesh-routing at the pid of run/pids; not measured\n");
        return 0;
    }
    uint64_t r0 = 0;
    if (wait_drained(e, hl, &r0) != 0)
        return -1;
    int wfd = -1;
    pid_t guard = cont_guard(e->routing_pid, &wfd);
    if (guard < 0 || kill(e->routing_pid, SIGSTOP) != 0) {
        perror("bench_intake: stopping routing");
        if (guard > 0) {
            close(wfd);
            waitpid(guard, NULL, 0);
        }
        return -1;
    }
    mesh_result_t mr;
    int rc = run_clients(e, nclients, window, 0, n, &mr);
    health_t in = {0};
    if (rc == 0)
        rc = health_get(&hl->intake, e, "intake", &in);
    int64_t rcpu0 = proc_cpu_us(e->routing_pid), icpu0 = proc_cpu_us(e->intake_pid);
    int64_t ocpu0 = others_cpu_us(e), box0 = machine_busy_us();
    int64_t each0[32];
    for (int i = 0; i < e->nother; i++)
        each0[i] = proc_cpu_us(e->other_pids[i]);
    int64_t t0 = mono_us();
    kill(e->routing_pid, SIGCONT);
    close(wfd); /* the guard continues it too, and ends */
    waitpid(guard, NULL, 0);
    if (rc != 0)
        return -1;
    health_t r1 = {0};
    if (wait_applied(e, hl, r0 + n + (uint64_t)nclients, r0, &r1) != 0)
        return -1;
    int64_t us = mono_us() - t0;
    int64_t rcpu = proc_cpu_us(e->routing_pid) - rcpu0, icpu = proc_cpu_us(e->intake_pid) - icpu0;
    int64_t ocpu = others_cpu_us(e) - ocpu0, box = machine_busy_us() - box0;
    uint64_t got = r1.records_applied - r0;
    double rate = (double)got * 1e6 / (double)us;
    printf("  drain:    routing stopped while intake took them (%.0f/s; %llu records waiting in "
           "its outbox), then went on: applied %llu records in %.2f s: %.0f records/s; CPU per "
           "record routing %.1f us, intake %.1f us\n",
           mr.rate, (unsigned long long)in.routing_backlog, (unsigned long long)got,
           (double)us / 1e6, rate, rcpu0 >= 0 ? (double)rcpu / (double)got : -1.0,
           icpu0 >= 0 ? (double)icpu / (double)got : -1.0);
    printf("  ratio drain/baseline routing alone (%.0f records/s): %.2f\n", base_routing_rate,
           base_routing_rate > 0 ? rate / base_routing_rate : 0);
    drain_budget(e, got, us, rcpu, icpu, ocpu0 >= 0 ? ocpu : -1, box0 >= 0 ? box : -1, ocpu0, rcpu0,
                 each0);
    return 0;
}

int delivery_phase(const env_t *e, health_links_t *hl, uint64_t n, int nclients, int window)
{
    health_t r1 = {0};
    uint64_t r0 = 0;
    if (wait_drained(e, hl, &r0) != 0)
        return -1;
    mesh_result_t mr;
    if (run_clients(e, nclients, window, 0, n, &mr) != 0)
        return -1;
    /* the clients' warm-up complaints are delivered too */
    if (wait_applied(e, hl, r0 + n + (uint64_t)nclients, r0, &r1) != 0)
        return -1;
    int64_t routed_us = mono_us() - mr.start_us;
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
    return drain_phase(e, hl, n, nclients, window, db.routing_s > 0 ? (double)n / db.routing_s : 0);
}
