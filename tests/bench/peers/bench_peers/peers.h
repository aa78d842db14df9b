/* bench_peers: the same serialized complaints through PostgreSQL (one INSERT
 * per transaction), Redis (XADD) and cpmesh intake (signed submits, single or
 * as SubmitBatch with group receipts), at the same concurrency, from one
 * program, so every system gets the same bytes. tests/bench/run --peers
 * starts the private instances and the mesh, and prints the table. */
#ifndef BENCH_PEERS_H
#define BENCH_PEERS_H

#include "bench.h"

#include <stddef.h>
#include <stdint.h>

/* Figures of one phase: printed as one "RESULT" line for the run script. */
typedef struct {
    uint64_t ok, busy;
    double rate, p50, p99;
    double intake_cpu_us; /* -1: not measured (the peers) */
    /* intake's loop thread (its main thread), per acknowledged record: time
     * on a core and time runnable but waiting for one (schedstat); -1: not
     * measured. Their sum bounds the rate the loop allows. */
    double loop_cpu_us, loop_wait_us;
    int failed;
} peer_result_t;

/* One connection of a peer system, driven by peer_phase: send queues one
 * request (pipelined up to the window), recv waits for the oldest answer.
 * Both return 0, or -1 with why filled. */
typedef struct {
    void *(*open)(const char *target, int window, char *why, size_t n);
    int (*send)(void *conn, const uint8_t *buf, size_t len, char *why, size_t n);
    int (*recv)(void *conn, char *why, size_t n);
    void (*close)(void *conn);
} peer_ops_t;

extern const peer_ops_t pg_ops;    /* target: libpq conninfo */
extern const peer_ops_t redis_ops; /* target: "host:port" */

/* Prepares the peer's schema (the table, a fresh stream key). 0 or -1. */
int pg_prepare(const char *conninfo, char *why, size_t n);
int redis_prepare(const char *target, char *why, size_t n);

/* nclients threads, window requests in flight each, dur_us. 0 or -1. */
int peer_phase(const peer_ops_t *ops, const char *target, const env_t *e, int nclients, int window,
               int64_t dur_us, peer_result_t *res);

/* cpmesh intake with SubmitBatch: each client keeps window complaints in
 * flight as batches of batch items. 0, -1, or 1 when the client library or
 * the service does not offer batches (said on stdout). */
int batch_phase(const env_t *e, int nclients, int window, int batch, int64_t dur_us,
                peer_result_t *res);

/* The complaint i of client tid, packed (the same bytes every system gets). */
size_t peer_complaint(const env_t *e, int tid, uint64_t i, uint8_t *buf, size_t cap);

/* CPU (user + system, us) of the processes roots and all their live
 * descendants, with their reaped children's; -1 when none is readable. */
int64_t peers_tree_cpu_us(const int *roots, int nroots);

/* Waits (at most max_us) until that CPU stops growing, then returns it: the
 * work a server still does for what it acknowledged is counted too. */
int64_t peers_cpu_settle(const int *roots, int nroots, int64_t max_us);

/* This process's CPU (every thread), us; -1 on error. */
int64_t peers_self_cpu_us(void);

/* Touches mb MiB of new memory, one write per page, and gives it back
 * (warm.c says why); *us_per_page: the time it took per 4 KiB page. 0 or -1. */
int peers_warm(size_t mb, double *us_per_page);

/* Sorted latencies (us) to p50/p99 in res. */
void peer_percentiles(int64_t *lat, size_t n, peer_result_t *res);

#endif
