/* bench_latency: the floor under one client's acknowledgement latency, part
 * by part, measured on this machine in one process (figures only; nothing
 * here asserts a timing: the machine is shared).
 *
 *   bench_latency [DIR] [rounds]
 *     DIR     where the LMDB store and the fdatasync file go (default /tmp;
 *             use the disk the homes are on)
 *     rounds  round trips / commits per part (default 2000 / 300)
 *
 * Parts (medians and p99 in microseconds):
 *   wake    one thread hop: a pthread condition signal answered by another
 *           thread (half a ping-pong), what each hand-over between threads
 *           (zmq io thread, pool thread) costs here
 *   zmq     a DEALER -> ROUTER -> DEALER round trip over loopback TCP, two
 *           threads, plain and with CURVE (the socket types and security of
 *           cpm_client and cpm_server; no ZAP handler), 700-byte request and
 *           300-byte reply
 *   sign / verify  Ed25519 (libsodium) over 700 bytes, as a request's and a
 *           reply's envelope
 *   commit  one durable LMDB commit (default flags: fdatasync + the meta
 *           page) of one 1 KiB put; against a 4 KiB pwrite + fdatasync of a
 *           plain file (the device's floor); then a complaint's commit (one
 *           put in each of six named databases, as intake's), with cpm_store's
 *           flags and with MDB_WRITEMAP (a figure for a choice not made: the
 *           store's flags are cpm_store's)
 *   pages   12 pages of 4 KiB (a pwrite each) and one fdatasync, adjacent
 *           against every other page (as an LMDB commit's pages lie
 *           once freed pages are reused: an strace of intake shows it): what
 *           the layout of a commit's pages costs on this disk; and twelve
 *           pages 4 MB apart, as a large store's random-key trees place them
 *   journal the complaint's commit as a redo journal would make it (a design
 *           not built: docs/operations.md "A redo journal"): LMDB commits
 *           with MDB_NOSYNC (pages and meta written, nothing flushed), the
 *           transaction's writes (keys and values, 2.6 KB) appended to a
 *           preallocated journal file and flushed (one fdatasync); a thread
 *           makes the store durable every 100 ms (mdb_env_sync: the
 *           checkpoint), on the same disk, as it would have to
 *
 * The floor of one acknowledgement is then zmq(CURVE) + 2 x sign + 2 x verify
 * + commit: what no change inside intake's loop can go below. */
#include "bench_time.h"
#include <lmdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* ---- wake: a condition variable ping-pong -------------------------------- */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int turn, rounds; /* 0: main's, 1: the other's; -1 stop */
} pp_t;

static void *pong(void *arg)
{
    pp_t *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->turn == 0)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->turn < 0)
            break;
        p->turn = 0;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static bench_fig_t bench_wake(int rounds)
{
    pp_t p = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, rounds};
    pthread_t t;
    pthread_create(&t, NULL, pong, &p);
    double *v = calloc((size_t)rounds, sizeof *v);
    for (int i = 0; i < rounds; i++) {
        double t0 = bench_now_us();
        pthread_mutex_lock(&p.mu);
        p.turn = 1;
        pthread_cond_broadcast(&p.cv);
        while (p.turn == 1)
            pthread_cond_wait(&p.cv, &p.mu);
        pthread_mutex_unlock(&p.mu);
        v[i] = (bench_now_us() - t0) / 2; /* two hops per ping-pong */
    }
    pthread_mutex_lock(&p.mu);
    p.turn = -1;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    pthread_join(t, NULL);
    bench_fig_t f = bench_figs(v, rounds);
    free(v);
    return f;
}

/* ---- zmq: DEALER -> ROUTER round trips ----------------------------------- */
typedef struct {
    void *ctx;
    char ep[128];
    int curve;
    uint8_t pk[41], sk[41];
    volatile int ready;
} srv_t;

static void *router_echo(void *arg)
{
    srv_t *s = arg;
    void *r = zmq_socket(s->ctx, ZMQ_ROUTER);
    int one = 1, linger = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(r, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    if (s->curve) {
        zmq_setsockopt(r, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, s->sk, 40);
    }
    zmq_bind(r, "tcp://127.0.0.1:*");
    size_t len = sizeof s->ep;
    zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, s->ep, &len);
    __atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
    uint8_t reply[300];
    memset(reply, 0x5a, sizeof reply);
    for (;;) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&id, r, 0) < 0)
            break;
        zmq_msg_recv(&body, r, 0);
        int stop = zmq_msg_size(&body) == 0;
        zmq_msg_send(&id, r, ZMQ_SNDMORE);
        zmq_send(r, reply, sizeof reply, 0);
        zmq_msg_close(&body);
        if (stop)
            break;
    }
    zmq_close(r);
    return NULL;
}

static bench_fig_t bench_zmq(int rounds, int curve)
{
    srv_t s;
    memset(&s, 0, sizeof s);
    s.ctx = zmq_ctx_new();
    s.curve = curve;
    uint8_t cpk[41], csk[41];
    zmq_curve_keypair((char *)s.pk, (char *)s.sk);
    zmq_curve_keypair((char *)cpk, (char *)csk);
    pthread_t t;
    pthread_create(&t, NULL, router_echo, &s);
    while (!__atomic_load_n(&s.ready, __ATOMIC_ACQUIRE))
        usleep(1000);
    void *d = zmq_socket(s.ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    if (curve) {
        zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, s.pk, 40);
        zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, cpk, 40);
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, csk, 40);
    }
    zmq_connect(d, s.ep);
    uint8_t req[700], buf[512];
    memset(req, 0xa5, sizeof req);
    double *v = calloc((size_t)rounds, sizeof *v);
    for (int i = -50; i < rounds; i++) { /* 50 to warm up (handshake) */
        double t0 = bench_now_us();
        zmq_send(d, req, sizeof req, 0);
        zmq_recv(d, buf, sizeof buf, 0);
        if (i >= 0)
            v[i] = bench_now_us() - t0;
    }
    zmq_send(d, "", 0, 0);
    zmq_recv(d, buf, sizeof buf, 0);
    pthread_join(t, NULL);
    zmq_close(d);
    zmq_ctx_term(s.ctx);
    bench_fig_t f = bench_figs(v, rounds);
    free(v);
    return f;
}

/* ---- sign / verify ------------------------------------------------------- */
static void bench_sig(int rounds, bench_fig_t *sign, bench_fig_t *verify)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], msg[700],
        sig[crypto_sign_BYTES];
    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, sizeof msg);
    double *a = calloc((size_t)rounds, sizeof *a), *b = calloc((size_t)rounds, sizeof *b);
    for (int i = 0; i < rounds; i++) {
        msg[0] = (uint8_t)i;
        double t0 = bench_now_us();
        crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
        double t1 = bench_now_us();
        if (crypto_sign_verify_detached(sig, msg, sizeof msg, pk) != 0)
            fprintf(stderr, "bench_latency: a signature did not verify\n");
        a[i] = t1 - t0;
        b[i] = bench_now_us() - t1;
    }
    *sign = bench_figs(a, rounds);
    *verify = bench_figs(b, rounds);
    free(a);
    free(b);
}

/* ---- a complaint's commit: six named databases ------------------------- */
/* As intake's commit of one complaint touches them: a counter, the complaint,
 * its client reference, an event, an outbox record, a contact note; each a
 * B-tree whose leaf (and the main and free databases) LMDB writes page by
 * page. */
static const char *const six_names[6] = {"counters", "complaints", "refs",
                                         "events",   "outbox",     "contacts"};
static const size_t six_sizes[6] = {8, 1024, 64, 300, 1100, 40};

/* A new store in a new folder under dir (its name in path) with the six
 * databases. 0 or -1. */
static int six_open(const char *dir, unsigned flags, char path[4096], MDB_env **env, MDB_dbi dbi[6])
{
    MDB_txn *txn;
    snprintf(path, 4096, "%s/bench_latency.XXXXXX", dir);
    if (!mkdtemp(path))
        return -1;
    mdb_env_create(env);
    mdb_env_set_mapsize(*env, 256u << 20);
    mdb_env_set_maxdbs(*env, 16);
    if (mdb_env_open(*env, path, MDB_NOTLS | flags, 0600) != 0)
        return -1;
    mdb_txn_begin(*env, NULL, 0, &txn);
    for (int d = 0; d < 6; d++)
        mdb_dbi_open(txn, six_names[d], MDB_CREATE, &dbi[d]);
    return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

/* flags: 0 (cpm_store's) or MDB_WRITEMAP (pages written in the map, flushed
 * by msync: no pwrite per page). */
static int bench_complaint_commit(const char *dir, int rounds, unsigned flags, bench_fig_t *out)
{
    char path[4096];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi[6];
    static const size_t *const sizes = six_sizes;
    if (six_open(dir, flags, path, &env, dbi) != 0)
        return -1;
    uint8_t val[1100];
    memset(val, 0x21, sizeof val);
    double *v = calloc((size_t)rounds, sizeof *v);
    for (int i = -20; i < rounds; i++) { /* 20 to grow the trees a little first */
        char key[32];
        snprintf(key, sizeof key, "%012d", i + 20);
        double t0 = bench_now_us();
        mdb_txn_begin(env, NULL, 0, &txn);
        for (int d = 0; d < 6; d++) {
            MDB_val k = {d == 0 ? 6 : strlen(key), d == 0 ? (char *)"ticket" : key};
            MDB_val dv = {sizes[d], val};
            mdb_put(txn, dbi[d], &k, &dv, 0);
        }
        mdb_txn_commit(txn);
        if (i >= 0)
            v[i] = bench_now_us() - t0;
    }
    mdb_env_close(env);
    *out = bench_figs(v, rounds);
    free(v);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- journal: a complaint's commit with one flush ------------------------ */
typedef struct {
    MDB_env *env;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int syncs;
    double sync_us; /* summed */
} ckpt_t;

static void *checkpointer(void *arg)
{
    ckpt_t *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        if (c->stop)
            break;
        pthread_mutex_unlock(&c->mu);
        double t0 = bench_now_us();
        int rc = mdb_env_sync(c->env, 1);
        double dt = bench_now_us() - t0;
        pthread_mutex_lock(&c->mu);
        if (rc == 0) {
            c->syncs++;
            c->sync_us += dt;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

#define JOURNAL_BYTES (8u << 20)
/* As bench_complaint_commit, with MDB_NOSYNC and a journal flush instead of
 * LMDB's two; *ckpt_us: the checkpoints' mean duration (*nckpt of them). */
static int bench_journal_commit(const char *dir, int rounds, bench_fig_t *out, double *ckpt_us,
                                int *nckpt)
{
    char path[4096];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi[6];
    static const size_t *const sizes = six_sizes;
    if (six_open(dir, MDB_NOSYNC, path, &env, dbi) != 0)
        return -1;
    char jpath[4200];
    snprintf(jpath, sizeof jpath, "%s/journal", path);
    int fd = open(jpath, O_RDWR | O_CREAT, 0600);
    static uint8_t zero[1 << 16];
    int rc = fd >= 0 ? 0 : -1;
    for (size_t off = 0; off < JOURNAL_BYTES && rc == 0; off += sizeof zero)
        rc = pwrite(fd, zero, sizeof zero, (off_t)off) == (ssize_t)sizeof zero ? 0 : -1;
    if (rc != 0 || fsync(fd) != 0) { /* written through: no block allocated while measured */
        perror("bench_latency: journal file");
        return -1;
    }
    ckpt_t c = {.env = env, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t th;
    pthread_create(&th, NULL, checkpointer, &c);
    uint8_t val[1100], rec[4096];
    memset(val, 0x21, sizeof val);
    double *v = calloc((size_t)rounds, sizeof *v);
    size_t joff = 0;
    for (int i = -20; i < rounds && rc == 0; i++) {
        char key[32];
        snprintf(key, sizeof key, "%012d", i + 20);
        double t0 = bench_now_us();
        mdb_txn_begin(env, NULL, 0, &txn);
        size_t n = 8; /* a length and a sequence number */
        for (int d = 0; d < 6; d++) {
            MDB_val k = {d == 0 ? 6 : strlen(key), d == 0 ? (char *)"ticket" : key};
            MDB_val dv = {sizes[d], val};
            mdb_put(txn, dbi[d], &k, &dv, 0);
            rec[n++] = (uint8_t)d; /* the database, the key, the value: what replay needs */
            memcpy(rec + n, k.mv_data, k.mv_size);
            n += k.mv_size;
            memcpy(rec + n, val, dv.mv_size);
            n += dv.mv_size;
        }
        mdb_txn_commit(txn); /* MDB_NOSYNC: nothing flushed */
        n += 32;             /* a checksum's room */
        if (joff + n > JOURNAL_BYTES)
            joff = 0;
        rc = pwrite(fd, rec, n, (off_t)joff) == (ssize_t)n && fdatasync(fd) == 0 ? 0 : -1;
        joff += n;
        if (i >= 0)
            v[i] = bench_now_us() - t0;
    }
    pthread_mutex_lock(&c.mu);
    c.stop = 1;
    pthread_cond_signal(&c.cv);
    pthread_mutex_unlock(&c.mu);
    pthread_join(th, NULL);
    close(fd);
    mdb_env_close(env);
    *out = bench_figs(v, rounds);
    *nckpt = c.syncs;
    *ckpt_us = c.syncs ? c.sync_us / c.syncs : 0;
    free(v);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return rc == 0 && system(cmd) == 0 ? 0 : -1;
}

/* ---- commit: LMDB against a plain fdatasync ------------------------------ */
static int bench_commit(const char *dir, int rounds, bench_fig_t *lmdb, bench_fig_t *raw)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_latency.XXXXXX", dir);
    if (!mkdtemp(path)) {
        perror("bench_latency: mkdtemp");
        return -1;
    }
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    mdb_env_create(&env);
    mdb_env_set_mapsize(env, 256u << 20);
    if (mdb_env_open(env, path, MDB_NOTLS, 0600) != 0) {
        fprintf(stderr, "bench_latency: cannot open LMDB in %s\n", path);
        return -1;
    }
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, NULL, 0, &dbi);
    mdb_txn_commit(txn);
    uint8_t val[1024];
    memset(val, 0x33, sizeof val);
    double *v = calloc((size_t)rounds, sizeof *v);
    for (int i = 0; i < rounds; i++) {
        char key[32];
        snprintf(key, sizeof key, "c%012d", i);
        double t0 = bench_now_us();
        mdb_txn_begin(env, NULL, 0, &txn);
        MDB_val k = {strlen(key), key}, d = {sizeof val, val};
        mdb_put(txn, dbi, &k, &d, 0);
        mdb_txn_commit(txn);
        v[i] = bench_now_us() - t0;
    }
    *lmdb = bench_figs(v, rounds);
    mdb_env_close(env);
    char file[4200];
    snprintf(file, sizeof file, "%s/raw", path);
    int fd = open(file, O_RDWR | O_CREAT, 0600);
    uint8_t page[4096];
    memset(page, 0x44, sizeof page);
    for (int i = 0; i < rounds; i++) {
        double t0 = bench_now_us();
        if (pwrite(fd, page, sizeof page, (off_t)(i % 64) * 4096) != (ssize_t)sizeof page ||
            fdatasync(fd) != 0)
            perror("bench_latency: pwrite");
        v[i] = bench_now_us() - t0;
    }
    close(fd);
    *raw = bench_figs(v, rounds);
    free(v);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_latency: could not remove %s\n", path);
    return 0;
}

/* ---- pages: how the pages of one commit lie in the file ------------------- */
/* n pages of 4 KiB written at a stride of `stride` pages (1: adjacent, in one
 * pwrite; 2: every other page, one pwrite each, as LMDB's reuse of the pages
 * two transactions freed leaves a commit's pages), then fdatasync: a device
 * with a request per run of adjacent pages pays per run, not per byte. Each
 * page is its own pwrite either way (as LMDB writes a lone page), so the
 * system calls are the same and only the layout differs. */
#define PAGES_N 12
static int bench_pages(const char *dir, int rounds, int stride, bench_fig_t *out)
{
    char file[4200];
    snprintf(file, sizeof file, "%s/bench_latency.pages.XXXXXX", dir);
    int fd = mkstemp(file);
    if (fd < 0) {
        perror("bench_latency: mkstemp");
        return -1;
    }
    unlink(file);
    static uint8_t buf[PAGES_N * 4096];
    memset(buf, 0x55, sizeof buf);
    /* pages: each round writes elsewhere in it; written through first, so
     * that no round allocates blocks (a journal commit of its own) */
    const int span = PAGES_N * stride * 2;
    int rc = 0;
    for (int p = 0; p < span && rc == 0; p += PAGES_N)
        rc = pwrite(fd, buf, sizeof buf, (off_t)p * 4096) == (ssize_t)sizeof buf ? 0 : -1;
    if (rc != 0 || fsync(fd) != 0) {
        perror("bench_latency: pages file");
        close(fd);
        return -1;
    }
    double *v = calloc((size_t)rounds, sizeof *v);
    for (int i = 0; i < rounds && rc == 0; i++) {
        off_t base = (off_t)((i * 37) % (span - PAGES_N * stride)) * 4096;
        double t0 = bench_now_us();
        for (int k = 0; k < PAGES_N && rc == 0; k++) /* a write each: the same system calls */
            rc = pwrite(fd, buf, 4096, base + (off_t)k * stride * 4096) == 4096 ? 0 : -1;
        if (rc == 0)
            rc = fdatasync(fd);
        v[i] = bench_now_us() - t0;
    }
    if (rc != 0)
        perror("bench_latency: pages");
    close(fd);
    *out = bench_figs(v, rounds);
    free(v);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    int rounds = argc > 2 ? atoi(argv[2]) : 2000;
    if (rounds < 10 || sodium_init() < 0) {
        fputs("usage: bench_latency [DIR] [rounds >= 10]\n", stderr);
        return 2;
    }
    int crounds = rounds / 7 > 10 ? rounds / 7 : 10;
    bench_fig_t wake = bench_wake(rounds), plain = bench_zmq(rounds, 0),
                curve = bench_zmq(rounds, 1), sign, verify, lmdb, raw;
    bench_sig(rounds, &sign, &verify);
    bench_fig_t six, six_wm, six_j, adjacent, scattered, spread;
    double ckpt_us = 0;
    int nckpt = 0;
    if (bench_commit(dir, crounds, &lmdb, &raw) != 0 ||
        bench_pages(dir, crounds, 1, &adjacent) != 0 ||
        bench_pages(dir, crounds, 2, &scattered) != 0 ||
        bench_pages(dir, crounds, 1000, &spread) != 0 ||
        bench_complaint_commit(dir, crounds, 0, &six) != 0 ||
        bench_complaint_commit(dir, crounds, MDB_WRITEMAP, &six_wm) != 0 ||
        bench_journal_commit(dir, 10 * crounds, &six_j, &ckpt_us, &nckpt) != 0)
        return 1;
    printf("bench_latency: the parts of one acknowledgement, us (p50 / p99), %ld cores\n",
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("  thread hop (cond signal -> other thread runs)  %7.1f / %7.1f\n", wake.p50, wake.p99);
    printf("  zmq DEALER->ROUTER round trip, plain TCP       %7.1f / %7.1f\n", plain.p50,
           plain.p99);
    printf("  zmq DEALER->ROUTER round trip, CURVE           %7.1f / %7.1f  (x%.2f plain)\n",
           curve.p50, curve.p99, curve.p50 / plain.p50);
    printf("  Ed25519 sign, 700 bytes                        %7.1f / %7.1f\n", sign.p50, sign.p99);
    printf("  Ed25519 verify, 700 bytes                      %7.1f / %7.1f\n", verify.p50,
           verify.p99);
    printf("  4 KiB pwrite + fdatasync (%d)                  %7.1f / %7.1f\n", crounds, raw.p50,
           raw.p99);
    printf("  LMDB durable commit, one 1 KiB put (%d)        %7.1f / %7.1f  (x%.2f fdatasync)\n",
           crounds, lmdb.p50, lmdb.p99, lmdb.p50 / raw.p50);
    printf("  LMDB durable commit, a complaint's 6 databases  %7.1f / %7.1f  (x%.2f one put)\n",
           six.p50, six.p99, six.p50 / lmdb.p50);
    printf("  the same with MDB_WRITEMAP (no pwrite per page) %7.1f / %7.1f  (x%.2f default)\n",
           six_wm.p50, six_wm.p99, six_wm.p50 / six.p50);
    printf("  the same journaled: MDB_NOSYNC + one flush (%d) %7.1f / %7.1f  (x%.2f default; "
           "%d checkpoints of %.0f us)\n",
           10 * crounds, six_j.p50, six_j.p99, six_j.p50 / six.p50, nckpt, ckpt_us);
    printf("  %d adjacent 4 KiB pages + fdatasync            %7.1f / %7.1f\n", PAGES_N,
           adjacent.p50, adjacent.p99);
    printf("  %d pages, every other one, + fdatasync         %7.1f / %7.1f  (x%.2f adjacent)\n",
           PAGES_N, scattered.p50, scattered.p99, scattered.p50 / adjacent.p50);
    printf("  %d pages 4 MB apart (a large store) + fdatasync %7.1f / %7.1f  (x%.2f adjacent)\n",
           PAGES_N, spread.p50, spread.p99, spread.p50 / adjacent.p50);
    double floor = curve.p50 + 2 * sign.p50 + 2 * verify.p50 + lmdb.p50;
    printf("floor of one acknowledgement (round trip + 2 signs + 2 verifies + commit): %.0f us "
           "(commit %.0f%%, crypto %.0f%%, transport %.0f%%)\n",
           floor, 100 * lmdb.p50 / floor, 100 * 2 * (sign.p50 + verify.p50) / floor,
           100 * curve.p50 / floor);
    return 0;
}
