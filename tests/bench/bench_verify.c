/* bench_verify: frames per second through the stateless half of the
 * verifier (cpm_verifier_precheck: layout, registry key lookup, Ed25519) on
 * one thread against the pool (cpm_vpool, as the service loop runs it: one
 * parallel for per turn of up to 256 frames), in the same process. Also
 * turns of 8 and 2 frames, where waking the pool costs most per frame.
 * Prints figures and the ratios; asserts nothing (the machine is shared).
 *
 *   bench_verify [frames] [rounds] [threads]
 *     frames   signed frames made once and checked each round (default 4096)
 *     rounds   the best of this many rounds is printed (default 5)
 *     threads  the pool's size (default: verify_threads' default, the online
 *              cores at most 8) */
#include "cpm_envelope.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_verifier.h"
#include "cpm_vpool.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW 1767225600000LL

static cpm_identity_t root, lan;
static cpm_registry_t *reg;

static int setup(void)
{
    cpm_identity_t *ids[] = {&root, &lan};
    const char *names[] = {"root", "hn.op.lan"};
    for (int i = 0; i < 2; i++) {
        uint8_t seed[32];
        memset(seed, 0x60 + i, 32);
        if (cpm_identity_from_seed(ids[i], names[i], seed) != 0)
            return -1;
    }
    static char *rules[] = {"submit_complaint@intake"};
    Cpm__Member m = CPM__MEMBER__INIT, *ms[1] = {&m};
    m.id = m.agency = m.name = lan.id;
    m.role = "operator";
    m.sign_pk = (ProtobufCBinaryData){32, lan.sign_pk};
    m.curve_pk = (ProtobufCBinaryData){32, lan.curve_pk};
    m.may_send = rules;
    m.n_may_send = 1;
    Cpm__Registry doc = CPM__REGISTRY__INIT;
    doc.version = 1;
    doc.issued_ms = NOW;
    doc.mesh = "bench";
    doc.members = ms;
    doc.n_members = 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    if (cpm_registry_sign(&doc, root.sign_sk, &buf, &len) != 0)
        return -1;
    reg = cpm_registry_from_signed(buf, len, root.sign_pk, err, sizeof err);
    free(buf);
    if (!reg)
        fprintf(stderr, "registry: %s\n", err);
    return reg ? 0 : -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
    const uint8_t **bufs;
    size_t *lens;
    cpm_precheck_t *out;
    size_t n;
} frames_t;

/* Best wall time of rounds passes over every frame in turns of turn frames;
 * *cpu: that pass's process CPU. Exits when a frame is refused. */
static double pass(cpm_vpool_t *pool, const frames_t *f, size_t turn, int rounds, double *cpu)
{
    double best = 1e9;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s(), c0 = cpu_s();
        for (size_t i = 0; i < f->n; i += turn) {
            size_t k = f->n - i < turn ? f->n - i : turn;
            cpm_vpool_precheck(pool, reg, f->bufs + i, f->lens + i, k, f->out + i);
        }
        double t = now_s() - t0, c = cpu_s() - c0;
        for (size_t i = 0; i < f->n; i++)
            if (f->out[i].verdict != CPM_V_OK) {
                fprintf(stderr, "frame %zu refused: %s\n", i, cpm_verdict_name(f->out[i].verdict));
                exit(1);
            }
        if (t < best) {
            best = t;
            *cpu = c;
        }
    }
    return best;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 4096;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    unsigned threads = argc > 3 ? (unsigned)atoi(argv[3]) : cpm_vpool_default_threads();
    if (n == 0 || rounds <= 0 || sodium_init() < 0 || setup() != 0)
        return 1;
    /* Complaint-sized payloads (about 400 bytes), as intake receives them. */
    uint8_t payload[400];
    memset(payload, 'x', sizeof payload);
    frames_t f = {calloc(n, sizeof *f.bufs), calloc(n, sizeof *f.lens), calloc(n, sizeof *f.out),
                  n};
    for (size_t i = 0; i < n; i++) {
        char inst[32];
        snprintf(inst, sizeof inst, "bench.%zu", i % 8);
        cpm_env_fields_t e = {.sender = lan.id,
                              .sender_instance = inst,
                              .key_id = lan.key_id,
                              .seq = i + 1,
                              .sent_ms = NOW,
                              .type = CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                              .msg_id = "0123456789abcdef0123456789abcdef",
                              .recipient = "hn.doit/intake",
                              .payload = payload,
                              .payload_len = sizeof payload};
        uint8_t *buf;
        if (cpm_envelope_seal(&e, lan.sign_sk, &buf, &f.lens[i]) != 0)
            return 1;
        f.bufs[i] = buf;
    }
    cpm_vpool_t *one = cpm_vpool_new(1), *pool = cpm_vpool_new(threads);
    if (!one || !pool) {
        fprintf(stderr, "cannot make a pool of %u threads\n", threads);
        return 1;
    }
    printf("bench_verify: %zu signed frames of %zu bytes, best of %d rounds, pool of %u threads "
           "(%u online cores)\n",
           n, f.lens[0], rounds, threads, cpm_vpool_default_threads());
    printf("%-6s %12s %12s %14s %14s %8s\n", "turn", "1 thread/s", "pool/s", "cpu us/fr 1",
           "cpu us/fr pool", "ratio");
    static const size_t turns[] = {256, 8, 2};
    for (size_t t = 0; t < sizeof turns / sizeof turns[0]; t++) {
        /* Rounds alternate between the two, so that both see the same
         * neighbours on a shared machine. */
        double c1 = 0, cp = 0, t1 = 1e9, tp = 1e9;
        for (int r = 0; r < rounds; r++) {
            double c, w = pass(one, &f, turns[t], 1, &c);
            if (w < t1) {
                t1 = w;
                c1 = c;
            }
            w = pass(pool, &f, turns[t], 1, &c);
            if (w < tp) {
                tp = w;
                cp = c;
            }
        }
        printf("%-6zu %12.0f %12.0f %14.1f %14.1f %7.2fx\n", turns[t], n / t1, n / tp, c1 * 1e6 / n,
               cp * 1e6 / n, t1 / tp);
    }
    cpm_vpool_destroy(&one);
    cpm_vpool_destroy(&pool);
    for (size_t i = 0; i < n; i++)
        free((void *)f.bufs[i]);
    free(f.bufs);
    free(f.lens);
    free(f.out);
    cpm_registry_destroy(&reg);
    return 0;
}
