/* bench_sigver: what signing and verifying an envelope costs by its size,
 * protocol version 3 (Ed25519 over the domain and BLAKE2b-512 of the
 * envelope: cpm_envelope_seal, cpm_envelope_verify_sig) against version 2,
 * the baseline in the same process (Ed25519 over the domain and the envelope
 * bytes themselves, as cpmesh signed before; verified by the same
 * cpm_envelope_verify_sig, which still takes version 2).
 *
 * Sizes: a single complaint's payload (300 bytes; its frame is 409), a SubmitBatch of 16 (8 KiB),
 * a delivery batch of 512 records (512 KiB) and the largest frame (4 MiB
 * less the envelope). Prints microseconds per seal and per verification,
 * the nanoseconds per byte above the fixed cost, and the ratios; asserts
 * nothing (the machine is shared). No mesh.
 *
 *   bench_sigver [rounds]   best of this many rounds (default 5) */
#include "cpm_envelope.h"
#include "cpm_keys.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static cpm_env_fields_t fields(const cpm_identity_t *id, const uint8_t *payload, size_t len)
{
    cpm_env_fields_t f = {.sender = id->id,
                          .sender_instance = "intake",
                          .key_id = id->key_id,
                          .seq = 1767225600000000ULL,
                          .sent_ms = 1767225600000LL,
                          .type = CPM__MSG_TYPE__MSG_CASE_BATCH,
                          .msg_id = "00112233445566778899aabbccddeeff",
                          .recipient = "hn.doit/routing",
                          .payload = payload,
                          .payload_len = len};
    return f;
}

/* The envelope of a version 3 frame (field 1, after its tag and length). */
static const uint8_t *env_of(const uint8_t *frame, size_t len, size_t *env_len, const uint8_t **sig)
{
    cpm_slice_t e, s;
    if (cpm_envelope_parse_signed(frame, len, &e, &s) != 0)
        return NULL;
    *env_len = e.len;
    *sig = s.data;
    return e.data;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    if (rounds < 1 || sodium_init() < 0)
        return 2;
    cpm_identity_t id;
    uint8_t seed[32];
    memset(seed, 0x42, sizeof seed);
    if (cpm_identity_from_seed(&id, "hn.doit", seed) != 0)
        return 2;
    const size_t sizes[] = {300, 8 << 10, 512 << 10, (4 << 20) - 256};
    const char *what[] = {"one complaint", "SubmitBatch of 16", "delivery batch", "largest frame"};
    uint8_t *payload = malloc(sizes[3]);
    if (!payload)
        return 2;
    randombytes_buf(payload, sizes[3]);
    printf("bench_sigver: best of %d rounds; v3 = Ed25519 over BLAKE2b-512 of the envelope, "
           "v2 (baseline) = Ed25519 over the envelope bytes\n",
           rounds);
    printf("%-18s %9s | %10s %10s %6s | %10s %10s %6s\n", "frame", "bytes", "seal v3 us",
           "seal v2 us", "v2/v3", "vrfy v3 us", "vrfy v2 us", "v2/v3");
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        int reps = n < 100000 ? 400 : n < 1000000 ? 20 : 4;
        cpm_env_fields_t f = fields(&id, payload, n);
        uint8_t *frame = NULL;
        size_t flen = 0;
        if (cpm_envelope_seal(&f, id.sign_sk, &frame, &flen) != 0)
            return 1;
        size_t env_len;
        const uint8_t *sig3;
        const uint8_t *env = env_of(frame, flen, &env_len, &sig3);
        /* The same envelope as version 2, signed the version 2 way. */
        uint8_t *in2 = malloc(19 + env_len);
        if (!env || !in2)
            return 1;
        memcpy(in2, CPM_ENVELOPE_DOMAIN_V2, 19);
        memcpy(in2 + 19, env, env_len);
        in2[19 + 1] = CPM_PROTO_VERSION_V2; /* field 1 (tag 0x08) is the first byte */
        uint8_t sig2[64];
        double best[4] = {1e30, 1e30, 1e30, 1e30};
        for (int r = 0; r < rounds; r++) {
            double t = now_us();
            for (int i = 0; i < reps; i++) {
                uint8_t *fr = NULL;
                size_t fl = 0;
                if (cpm_envelope_seal(&f, id.sign_sk, &fr, &fl) != 0)
                    return 1;
                free(fr);
            }
            double s3 = (now_us() - t) / reps;
            t = now_us();
            for (int i = 0; i < reps; i++) {
                /* What the seal of version 2 did: the domain and the
                 * envelope side by side, signed, then the frame. */
                uint8_t *m = malloc(19 + env_len), *fr = malloc(env_len + 80);
                memcpy(m, in2, 19 + env_len);
                crypto_sign_detached(sig2, NULL, m, 19 + env_len, id.sign_sk);
                memcpy(fr, m + 19, env_len);
                free(m);
                free(fr);
            }
            double s2 = (now_us() - t) / reps;
            t = now_us();
            for (int i = 0; i < reps; i++)
                if (cpm_envelope_verify_sig(3, env, env_len, sig3, 64, id.sign_pk) != 0)
                    return 1;
            double v3 = (now_us() - t) / reps;
            t = now_us();
            for (int i = 0; i < reps; i++)
                if (cpm_envelope_verify_sig(2, in2 + 19, env_len, sig2, 64, id.sign_pk) != 0)
                    return 1;
            double v2 = (now_us() - t) / reps;
            double got[4] = {s3, s2, v3, v2};
            for (int j = 0; j < 4; j++)
                best[j] = got[j] < best[j] ? got[j] : best[j];
        }
        printf("%-18s %9zu | %10.1f %10.1f %6.2f | %10.1f %10.1f %6.2f\n", what[k], env_len,
               best[0], best[1], best[1] / best[0], best[2], best[3], best[3] / best[2]);
        free(in2);
        free(frame);
    }
    free(payload);
    cpm_identity_wipe(&id);
    return 0;
}
