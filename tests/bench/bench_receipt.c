/* bench_receipt: what a group receipt costs, against one Ed25519 signature
 * and one verification measured in the same process.
 *
 *   server: 256 leaves added, tree built and root sealed (one signature);
 *           the frame of one connection with 32 proofs
 *   client: a 32-proof frame verified (cpm_verifier_check on the prefix:
 *           one verification) and opened (cpm_receipt_open: 32 paths)
 *   third party: one stand-alone proof written and checked
 *
 * Usage: bench_receipt [rounds]   (default 2000). Prints microseconds per
 * operation (the median of the rounds). */
#include "bench_time.h"
#include "cpm_receipt.h"
#include "cpm_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEAVES 256
#define MINE 32

static cpm_registry_t *make_registry(const cpm_identity_t *root, const cpm_identity_t *svc)
{
    Cpm__Member m = CPM__MEMBER__INIT, *ms[1] = {&m};
    m.id = m.agency = m.name = (char *)svc->id;
    m.role = "department";
    m.sign_pk = (ProtobufCBinaryData){32, (uint8_t *)svc->sign_pk};
    m.curve_pk = (ProtobufCBinaryData){32, (uint8_t *)svc->curve_pk};
    /* It runs intake: only intake.reply of such a member seals a receipt. */
    Cpm__ServiceEndpoint ep = CPM__SERVICE_ENDPOINT__INIT, *eps[1] = {&ep};
    ep.name = "intake";
    ep.endpoint = "tcp://127.0.0.1:7100";
    ep.pub_endpoint = "tcp://127.0.0.1:7101";
    m.services = eps;
    m.n_services = 1;
    m.ticket_prefix = "HN";
    Cpm__Registry doc = CPM__REGISTRY__INIT;
    doc.version = 1;
    doc.mesh = "bench";
    doc.members = ms;
    doc.n_members = 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    if (cpm_registry_sign(&doc, root->sign_sk, &buf, &len) != 0)
        return NULL;
    cpm_registry_t *r = cpm_registry_from_signed(buf, len, root->sign_pk, err, sizeof err);
    free(buf);
    return r;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 2000;
    if (rounds < 10 || sodium_init() < 0)
        return 2;
    cpm_identity_t root, svc;
    uint8_t seed[32];
    memset(seed, 1, 32);
    if (cpm_identity_from_seed(&root, "root", seed) != 0)
        return 1;
    memset(seed, 2, 32);
    if (cpm_identity_from_seed(&svc, "hn.doit", seed) != 0)
        return 1;
    cpm_registry_t *reg = make_registry(&root, &svc);
    cpm_rgroup_t *g = cpm_rgroup_new();
    cpm_verifier_t *v = cpm_verifier_new(300000);
    if (!reg || !g || !v)
        return 1;
    double *t_sign = calloc((size_t)rounds, sizeof(double)),
           *t_verify = calloc((size_t)rounds, sizeof(double)),
           *t_seal = calloc((size_t)rounds, sizeof(double)),
           *t_frame = calloc((size_t)rounds, sizeof(double)),
           *t_vopen = calloc((size_t)rounds, sizeof(double)),
           *t_open = calloc((size_t)rounds, sizeof(double)),
           *t_check = calloc((size_t)rounds, sizeof(double));
    /* A SubmitReply-sized answer and an envelope-sized message for the baseline. */
    const char *answer = "\x0a\x10"
                         "DOIT-2026-000001"
                         "\x1a\x06"
                         "K7Q2M9";
    size_t alen = 26;
    uint8_t msg[300], sig[64], ih[32];
    randombytes_buf(msg, sizeof msg);
    randombytes_buf(ih, sizeof ih);
    size_t idx[MINE];
    for (int k = 0; k < MINE; k++)
        idx[k] = (size_t)k * (LEAVES / MINE) + 3; /* spread over the tree */
    size_t frame_len = 0;
    char who[8][32];
    for (int i = 0; i < 8; i++)
        snprintf(who[i], sizeof who[i], "hn.op.%d/cli.%d", i, i);
    for (int r = 0; r < rounds; r++) {
        double t0 = bench_now_us();
        crypto_sign_detached(sig, NULL, msg, sizeof msg, svc.sign_sk);
        double t1 = bench_now_us();
        if (crypto_sign_verify_detached(sig, msg, sizeof msg, svc.sign_pk) != 0)
            return 1;
        double t2 = bench_now_us();
        t_sign[r] = t1 - t0;
        t_verify[r] = t2 - t1;

        cpm_sender_t s;
        cpm_sender_init(&s, &svc, "intake.reply");
        cpm_rgroup_reset(g);
        t0 = bench_now_us();
        for (int i = 0; i < LEAVES; i++) {
            if (cpm_rgroup_add(g, who[i % 8], "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0", (uint32_t)(i / 8),
                               CPM__MSG_TYPE__MSG_SUBMIT_REPLY, (const uint8_t *)answer, alen,
                               ih) < 0)
                return 1;
        }
        if (cpm_rgroup_seal(g, &s, 1767225600000LL) != 0)
            return 1;
        t1 = bench_now_us();
        uint8_t *frame = NULL;
        if (cpm_rgroup_frame(g, idx, MINE, &frame, &frame_len) != 0)
            return 1;
        t2 = bench_now_us();
        t_seal[r] = t1 - t0;
        t_frame[r] = t2 - t1;

        /* The client; every proof names the same recipient here, so the
         * frame is opened as hn.op.3/cli.3 (idx = 3 mod 8). */
        cpm_slice_t e, sg, p;
        size_t signed_len;
        cpm_verify_ctx_t ctx = {NULL, NULL, NULL, "*", "hn.doit"};
        cpm_msg_t m = {0};
        cpm_receipt_t *rc = NULL;
        cpm_error_t err;
        t0 = bench_now_us();
        if (cpm_receipt_parse_frame(frame, frame_len, &e, &sg, &p, &signed_len) != 0 ||
            cpm_verifier_check(v, reg, &ctx, frame, signed_len, cpm_now_ms(), &m) != CPM_V_OK)
            return 1;
        t1 = bench_now_us();
        if (cpm_receipt_open(&m, frame, frame_len, "hn.op.3/cli.3", &rc, &err) != 0) {
            fprintf(stderr, "open: %s: %s\n", err.field, err.message);
            return 1;
        }
        t2 = bench_now_us();
        t_vopen[r] = t2 - t0;
        t_open[r] = t2 - t1;
        uint8_t *pf = NULL;
        size_t pfl = 0;
        Cpm__ReceiptLeaf *leaf = NULL;
        const Cpm__Member *signer = NULL;
        t0 = bench_now_us();
        if (cpm_receipt_proof_frame(rc, 7, &pf, &pfl) != 0 ||
            cpm_receipt_check(reg, pf, pfl, &leaf, &signer, NULL, NULL, &err) != 0)
            return 1;
        t1 = bench_now_us();
        t_check[r] = t1 - t0;
        cpm__receipt_leaf__free_unpacked(leaf, NULL);
        free(pf);
        cpm_receipt_destroy(&rc);
        cpm_msg_clear(&m);
        free(frame);
    }
    double sign = bench_median(t_sign, rounds), ver = bench_median(t_verify, rounds);
    double seal = bench_median(t_seal, rounds), fr = bench_median(t_frame, rounds);
    double vopen = bench_median(t_vopen, rounds), open = bench_median(t_open, rounds);
    double chk = bench_median(t_check, rounds);
    printf("bench_receipt: %d rounds, medians in microseconds\n", rounds);
    printf("  baseline  Ed25519 sign (300 B)                 %8.1f\n", sign);
    printf("  baseline  Ed25519 verify (300 B)               %8.1f\n", ver);
    printf(
        "  server    add %d leaves + tree + seal          %8.1f  (%.2f verifies, %.2f us/leaf)\n",
        LEAVES, seal, seal / ver, seal / LEAVES);
    printf("  server    frame of %d proofs (%zu bytes)      %8.1f\n", MINE, frame_len, fr);
    printf(
        "  client    verify prefix + open %d proofs       %8.1f  (%.2f verifies, %.2f us/answer)\n",
        MINE, vopen, vopen / ver, vopen / MINE);
    printf("  client    open alone (%d paths, decode)         %8.1f  (%.2f verifies)\n", MINE, open,
           open / ver);
    printf("  3rd party proof frame + check                  %8.1f  (%.2f verifies)\n", chk,
           chk / ver);
    cpm_verifier_destroy(&v);
    cpm_rgroup_destroy(&g);
    cpm_registry_destroy(&reg);
    cpm_identity_wipe(&svc);
    cpm_identity_wipe(&root);
    free(t_sign);
    free(t_verify);
    free(t_seal);
    free(t_frame);
    free(t_vopen);
    free(t_open);
    free(t_check);
    return 0;
}
