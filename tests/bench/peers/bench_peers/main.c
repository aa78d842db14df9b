/* bench_peers: one phase of the benchmark beside PostgreSQL and Redis.
 *
 *   bench_peers pg    --target CONNINFO  [--clients N] [--window W] [--seconds S]
 *   bench_peers redis --target HOST:PORT [...]
 *   bench_peers mesh  --home DIR         [...]   single signed submits (bench_intake's clients)
 *   bench_peers batch --home DIR --batch B [...] SubmitBatch, group receipts
 *   bench_peers warm  --mb N          N MiB of new memory touched and given back
 *                 (warm.c); prints "WARM mb us_per_page"
 *
 *   --server-pids P1,P2,...  the system's server processes: their CPU (and
 *                 their descendants') from the phase's start until it stops
 *                 growing after the phase, per acknowledged record
 *
 * Every system gets the same bytes: the complaints bench_intake sends
 * (make_complaint), packed; PostgreSQL stores them in a bytea column, one
 * INSERT per transaction (pipelined with a sync after each INSERT when the
 * window is above 1); Redis as the field of an XADD (pipelined when the window
 * is above 1); the mesh as the payload of a signed submit_complaint. Prints
 * one line "RESULT system clients window ok rate p50_ms p99_ms intake_cpu_us
 * busy bytes server_cpu_us client_cpu_us loop_cpu_us loop_wait_us" (per
 * acknowledged record, -1 when not measured; the client's CPU is this whole
 * process's; loop_*: intake's loop thread on a core and waiting for one, batch
 * phases only) that tests/bench/run --peers makes a
 * table of. Figures only. Exit 0, 1 on a failure, 3 when the batch phase is not available. */
#include "peers.h"

#include "mesh.h"

#include "cpm_util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: bench_peers pg|redis|mesh|batch [--target T] [--home DIR] [--clients N]\n"
    "                   [--window W] [--batch B] [--seconds S] [--label L]\n"
    "                   [--server-pids P1,P2,...]\n"
    "       bench_peers warm --mb N   (N MiB, 1 to 8192)\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"target", required_argument, 0, 't'},
                                         {"home", required_argument, 0, 'H'},
                                         {"clients", required_argument, 0, 'c'},
                                         {"window", required_argument, 0, 'w'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"seconds", required_argument, 0, 's'},
                                         {"label", required_argument, 0, 'l'},
                                         {"server-pids", required_argument, 0, 'p'},
                                         {"mb", required_argument, 0, 'm'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *mode = argv[1], *target = NULL, *home = NULL, *label = NULL;
    int clients = 1, window = 1, batch = 16, opt, pids[64], npids = 0, mb = 0;
    double secs = 3;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            target = optarg;
            break;
        case 'H':
            home = optarg;
            break;
        case 'c':
            clients = atoi(optarg);
            break;
        case 'w':
            window = atoi(optarg);
            break;
        case 'b':
            batch = atoi(optarg);
            break;
        case 's':
            secs = atof(optarg);
            break;
        case 'l':
            label = optarg;
            break;
        case 'p':
            for (char *t = strtok(optarg, ","); t && npids < 64; t = strtok(NULL, ","))
                if (atoi(t) > 0)
                    pids[npids++] = atoi(t);
            break;
        case 'm':
            mb = atoi(optarg);
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (!strcmp(mode, "warm")) {
        double us = 0;
        if (mb < 1 || mb > 8192) {
            fputs(usage, stderr);
            return 2;
        }
        if (peers_warm((size_t)mb, &us) != 0) {
            fprintf(stderr, "bench_peers: warm: could not map %d MiB\n", mb);
            return 1;
        }
        printf("WARM %d %.2f\n", mb, us);
        return 0;
    }
    bool peer = !strcmp(mode, "pg") || !strcmp(mode, "redis");
    bool mesh = !strcmp(mode, "mesh") || !strcmp(mode, "batch");
    if ((!peer && !mesh) || (peer && !target) || (mesh && !home) || clients < 1 ||
        clients > MAX_CLIENTS || window < 1 || window > 1024 || secs <= 0) {
        fputs(usage, stderr);
        return 2;
    }
    env_t e;
    memset(&e, 0, sizeof e);
    e.node = "hn.doit";
    e.as = "operator.hn.doit";
    char rid[33];
    cpm_random_id(rid);
    snprintf(e.run_id, sizeof e.run_id, "%.8s", rid);
    if (mesh) {
        snprintf(e.home, sizeof e.home, "%s", home);
        if (env_load(&e) != 0)
            return 1;
    }
    uint8_t buf[2048];
    size_t bytes = peer_complaint(&e, 0, 0, buf, sizeof buf);
    int64_t dur = (int64_t)(secs * 1e6);
    peer_result_t r;
    int64_t srv0 = npids ? peers_tree_cpu_us(pids, npids) : -1, cli0 = peers_self_cpu_us();
    char why[300] = "";
    int rc;
    if (!strcmp(mode, "pg"))
        rc = pg_prepare(target, why, sizeof why) ||
             peer_phase(&pg_ops, target, &e, clients, window, dur, &r);
    else if (!strcmp(mode, "redis"))
        rc = redis_prepare(target, why, sizeof why) ||
             peer_phase(&redis_ops, target, &e, clients, window, dur, &r);
    else if (!strcmp(mode, "batch"))
        rc = batch_phase(&e, clients, window, batch, dur, &r);
    else {
        mesh_result_t m;
        rc = run_clients(&e, clients, window, dur, 0, &m) != 0;
        r = (peer_result_t){.ok = m.ok,
                            .busy = m.busy,
                            .rate = m.rate,
                            .p50 = m.p50,
                            .p99 = m.p99,
                            .intake_cpu_us = m.server_cpu_us,
                            .loop_cpu_us = -1,
                            .loop_wait_us = -1};
    }
    int64_t cli1 = peers_self_cpu_us();
    int64_t srv1 = srv0 >= 0 && rc == 0 ? peers_cpu_settle(pids, npids, 120 * 1000000LL) : -1;
    double srv = srv1 >= 0 && r.ok ? (double)(srv1 - srv0) / (double)r.ok : -1;
    double cli = cli0 >= 0 && cli1 >= 0 && r.ok ? (double)(cli1 - cli0) / (double)r.ok : -1;
    if (*why)
        fprintf(stderr, "bench_peers: %s\n", why);
    if (rc == 0)
        printf("RESULT %s %d %d %llu %.0f %.3f %.3f %.1f %llu %zu %.1f %.1f %.2f %.2f\n",
               label ? label : mode, clients, window, (unsigned long long)r.ok, r.rate, r.p50,
               r.p99, r.intake_cpu_us, (unsigned long long)r.busy, bytes, srv, cli, r.loop_cpu_us,
               r.loop_wait_us);
    if (mesh)
        env_free(&e);
    return rc == 0 ? 0 : rc == 1 && !strcmp(mode, "batch") ? 3 : 1;
}
