/* Fuzz target: a frame as it arrives on a service's socket, through
 * cpm_verifier_check (every check, the vectors' registry and clock), then the
 * refusal path's own parse of the same bytes (to address the error reply).
 * Seeds: the frames of tests/vectors/envelopes.json. */
#include "fuzz_env.h"

#include "cpm_verifier.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const cpm_registry_t *reg = fz_registry();
    /* A fresh verifier per input: replay state must not make a finding depend
     * on the inputs before it. */
    cpm_verifier_t *v = cpm_verifier_new(300000);
    if (!v)
        fz_die("verifier", "cpm_verifier_new");
    /* Where the frame arrives decides the recipient, transport and
     * authorization checks: every input is tried at each of these. */
    static const cpm_verify_ctx_t ctxs[] = {
        {"hn.doit/intake", "intake", NULL, NULL, NULL},
        {"hn.doit/intake", "intake", FZ_OPERATOR, NULL, NULL},
        {"hn.doit/routing", "routing", FZ_AREA, NULL, NULL},
        {"hn.op.lan/cli.4242", NULL, FZ_CITY, "*", FZ_CITY},
    };
    cpm_verdict_t verdict = CPM_V_OK;
    for (size_t i = 0; i < sizeof ctxs / sizeof ctxs[0]; i++) {
        cpm_msg_t m = {0};
        verdict = cpm_verifier_check(v, reg, &ctxs[i], data, size, fz_now_ms(), &m);
        (void)cpm_verdict_name(verdict);
        cpm_msg_clear(&m);
    }
    if (verdict != CPM_V_OK && verdict != CPM_V_OVERSIZE) {
        Cpm__SignedEnvelope *se = cpm__signed_envelope__unpack(NULL, size, data);
        Cpm__Envelope *env =
            se ? cpm__envelope__unpack(NULL, se->envelope.len, se->envelope.data) : NULL;
        cpm__envelope__free_unpacked(env, NULL);
        cpm__signed_envelope__free_unpacked(se, NULL);
    }
    cpm_verifier_destroy(&v);
    return 0;
}
