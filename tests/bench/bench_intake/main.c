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
 * then routing applies the outbox records in 512-record transactions).
 *
 * Here: the command line and the order of the phases. The parts: env.c (the
 * home, CPU counters), complaints.c, link.c (signed links, health counters),
 * mesh.c (client threads), baseline.c, delivery.c, report.c (the table). */
#include "bench.h"
#include "baseline.h"
#include "delivery.h"
#include "mesh.h"
#include "report.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WINDOW 1024

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
    env_free(&e);
    return rc;
}
