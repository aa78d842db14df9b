/* bench_refuse: what it costs a service to refuse a hostile 4 MiB frame of
 * 2-byte unknown fields (issue 5, item 3), against a normal signed 4 MiB
 * frame, in one process:
 *
 *   decoder   the path before the fix: protobuf-c decodes the SignedEnvelope
 *             and the Envelope, then refuse() decodes both a second time
 *   verifier  cpm_verifier_check as it is now (refusal needs no decoding)
 *
 * Each case runs in a forked child so that its peak memory (ru_maxrss over
 * the child's baseline) is its own. Prints one line per case; asserts
 * nothing about time (the machine is shared).
 *
 *   bench_refuse [rounds]      (default 5; the median time is printed) */
#include "cpm_envelope.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_util.h"
#include "cpm_verifier.h"
#include "signed_registry.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static cpm_identity_t root, doit, lan;
static cpm_registry_t *reg;

static int setup(void)
{
    cpm_identity_t *ids[] = {&root, &doit, &lan};
    const char *names[] = {"root", "hn.doit", "hn.op.lan"};
    if (sreg_identities(ids, names, 3, 0x50) != 0)
        return -1;
    static char *op_rules[] = {"submit_complaint@intake"};
    static Cpm__ServiceEndpoint ep = CPM__SERVICE_ENDPOINT__INIT, *eps[1] = {&ep};
    ep.name = "intake";
    ep.endpoint = "tcp://127.0.0.1:7100";
    ep.pub_endpoint = "tcp://127.0.0.1:7101";
    Cpm__Member *ms[2] = {sreg_member(&doit, "department", NULL, 0),
                          sreg_member(&lan, "operator", op_rules, 1)};
    if (!ms[0] || !ms[1]) {
        free(ms[0]);
        free(ms[1]);
        return -1;
    }
    ms[0]->ticket_prefix = "DOIT";
    ms[0]->services = eps;
    ms[0]->n_services = 1;
    Cpm__Registry doc = CPM__REGISTRY__INIT;
    doc.version = 1;
    doc.issued_ms = cpm_now_ms();
    doc.mesh = "bench";
    doc.members = ms;
    doc.n_members = 2;
    reg = sreg_sign_load(&doc, &root);
    free(ms[0]);
    free(ms[1]);
    return reg ? 0 : -1;
}

/* CPM_MAX_MSG bytes of field 3, varint 1: what the attack sends. */
static uint8_t *twobyte_frame(size_t *len)
{
    *len = CPM_MAX_MSG;
    uint8_t *f = malloc(*len);
    for (size_t i = 0; f && i < *len; i += 2) {
        f[i] = 0x18;
        f[i + 1] = 0x01;
    }
    return f;
}

/* A complaint frame from lan to doit's intake just under CPM_MAX_MSG. */
static uint8_t *normal_frame(size_t *len)
{
    size_t plen = CPM_MAX_MSG - 400;
    uint8_t *p = malloc(plen);
    memset(p, 'a', plen);
    char msg_id[33];
    cpm_random_id(msg_id);
    cpm_env_fields_t f = {.sender = lan.id,
                          .sender_instance = "cli.1",
                          .key_id = lan.key_id,
                          .seq = (uint64_t)cpm_now_us(),
                          .sent_ms = cpm_now_ms(),
                          .type = CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                          .msg_id = msg_id,
                          .recipient = "hn.doit/intake",
                          .payload = p,
                          .payload_len = plen};
    uint8_t *out = NULL;
    int rc = cpm_envelope_seal(&f, lan.sign_sk, &out, len);
    free(p);
    return rc == 0 ? out : NULL;
}

/* The old path: decode, and on a refusal decode again to address it. */
static int decoder_path(const uint8_t *buf, size_t len)
{
    for (int pass = 0; pass < 2; pass++) {
        Cpm__SignedEnvelope *se = cpm__signed_envelope__unpack(NULL, len, buf);
        Cpm__Envelope *e =
            se ? cpm__envelope__unpack(NULL, se->envelope.len, se->envelope.data) : NULL;
        int refused = !e || e->version != CPM_PROTO_VERSION;
        cpm__envelope__free_unpacked(e, NULL);
        cpm__signed_envelope__free_unpacked(se, NULL);
        if (!refused)
            return 0; /* accepted: no second decoding */
    }
    return 1;
}

static int verifier_path(const uint8_t *buf, size_t len)
{
    cpm_verifier_t *v = cpm_verifier_new(300000);
    cpm_verify_ctx_t ctx = {.self = "hn.doit/intake", .service = "intake"};
    cpm_msg_t m;
    cpm_verdict_t r = cpm_verifier_check(v, reg, &ctx, buf, len, cpm_now_ms(), &m);
    cpm_msg_clear(&m);
    cpm_verifier_destroy(&v);
    return r != CPM_V_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* In a child: build the frame, then time the path once; writes seconds and
 * peak KiB over the baseline to fd. */
static void child(int fd, int twobyte, int verifier)
{
    size_t len;
    uint8_t *f = twobyte ? twobyte_frame(&len) : normal_frame(&len);
    if (!f)
        _exit(1);
    long base = maxrss_kb();
    double t0 = now_s();
    int refused = verifier ? verifier_path(f, len) : decoder_path(f, len);
    double t = now_s() - t0;
    double out[3] = {t, (double)(maxrss_kb() - base), refused};
    if (write(fd, out, sizeof out) != sizeof out)
        _exit(1);
    _exit(0);
}

static int run_case(int twobyte, int verifier, double *t, double *kb, int *refused)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child(p[1], twobyte, verifier);
    }
    close(p[1]);
    double out[3];
    ssize_t n = read(p[0], out, sizeof out);
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    if (n != sizeof out)
        return -1;
    *t = out[0];
    *kb = out[1];
    *refused = (int)out[2];
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    if (rounds < 1 || rounds > 50 || sodium_init() < 0 || setup() != 0)
        return 1;
    const char *frame_name[2] = {"normal 4 MiB", "2-byte fields"};
    const char *path_name[2] = {"decoder (before)", "verifier (now)"};
    double med[2][2];
    printf("%-18s %-14s %10s %12s %8s\n", "path", "frame", "median ms", "peak MiB", "refused");
    for (int verifier = 0; verifier < 2; verifier++) {
        for (int twobyte = 0; twobyte < 2; twobyte++) {
            double ts[50], kb = 0;
            int refused = 0;
            for (int r = 0; r < rounds; r++)
                if (run_case(twobyte, verifier, &ts[r], &kb, &refused) != 0)
                    return 1;
            qsort(ts, (size_t)rounds, sizeof ts[0], cmp);
            med[verifier][twobyte] = ts[rounds / 2];
            printf("%-18s %-14s %10.2f %12.1f %8s\n", path_name[verifier], frame_name[twobyte],
                   ts[rounds / 2] * 1e3, kb / 1024, refused ? "yes" : "no");
        }
    }
    for (int verifier = 0; verifier < 2; verifier++)
        printf("%s: refusing the 2-byte frame costs %.4fx a normal 4 MiB frame\n",
               path_name[verifier], med[verifier][1] / med[verifier][0]);
    cpm_registry_destroy(&reg);
    return 0;
}
