/* cpm_xanswer: checking a signed exchange answer. See cpm_xanswer.h. */
#include "cpm_xanswer.h"

#include "cpm_envelope.h"
#include "cpm_verifier.h"

#include <sodium.h>
#include <string.h>

static bool slice_is(cpm_slice_t s, const char *v)
{
    return v && s.len == strlen(v) && memcmp(s.data, v, s.len) == 0;
}

int cpm_xanswer_verify(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                       const cpm_xanswer_expect_t *x, Cpm__ExchangeAnswer **out, cpm_error_t *err)
{
    *out = NULL;
    cpm_slice_t envb;
    const Cpm__Member *signer = NULL;
    if (cpm_verify_signed(reg, frame, len, &envb, &signer) != CPM_V_OK)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "signature",
                             "the answer does not verify against the registry");
    if (strcmp(signer->id, x->publisher) != 0)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "signature",
                             "the answer is signed by %.64s, not by %.64s", signer->id,
                             x->publisher);
    cpm_envelope_view_t v;
    if (cpm_envelope_parse_view(envb.data, envb.len, &v) != 0)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "answer", "the answer does not decode");
    if (v.type != CPM__MSG_TYPE__MSG_EXCHANGE_ANSWER_SIGNED || !slice_is(v.recipient, x->self) ||
        !slice_is(v.correlation_id, x->msg_id))
        return cpm_error_set(err, CPM_E_FORBIDDEN, "binding",
                             "the answer is not addressed to our request (type, recipient or "
                             "correlation id)");
    Cpm__ExchangeAnswer *a = cpm__exchange_answer__unpack(NULL, v.payload.len, v.payload.data);
    if (!a)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "answer", "the answer does not decode");
    if (a->request_hash.len != 32 || sodium_memcmp(a->request_hash.data, x->request_hash, 32) ||
        strcmp(a->request_id, x->msg_id) || strcmp(a->requester, x->requester) ||
        strcmp(a->publisher, x->publisher)) {
        cpm__exchange_answer__free_unpacked(a, NULL);
        return cpm_error_set(err, CPM_E_FORBIDDEN, "binding",
                             "the answer names another request (request hash, id, requester or "
                             "publisher)");
    }
    *out = a;
    return 0;
}
