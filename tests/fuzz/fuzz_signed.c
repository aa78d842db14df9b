/* Fuzz target: validly SIGNED frames around fuzzed bytes, so that the fuzzer
 * gets past the signature check to everything the verifier trusts after it
 * and to the payload decoders.
 *
 * Input byte 0 chooses the form:
 *   even: the rest is the serialized Envelope itself. The harness reads its
 *         sender (when it decodes) and signs as that member when it has the
 *         member's key (the vectors' seeds), else as the operator.
 *   odd:  the rest is [type byte][payload]: a well-formed envelope from the
 *         operator (or, for batch types, the area node) to the service
 *         that serves the type, fresh sequence number, the fuzzed payload.
 * A frame that passes is decoded as the payload its type names, as the
 * service's handler would. */
#include "fuzz_env.h"

#include "cpm_envelope.h"
#include "cpm_verifier.h"
#include "cpm_util.h"
#include "intake_validate.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_payload(int type, const uint8_t *p, size_t len)
{
    cpm_error_t err;
    switch (type) {
    case CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT: {
        Cpm__Complaint *c = cpm__complaint__unpack(NULL, len, p);
        if (c)
            intake_validate_complaint(c, fz_rules(), fz_now_ms(), &err);
        cpm__complaint__free_unpacked(c, NULL);
        break;
    }
    case CPM__MSG_TYPE__MSG_RECORD_CONSULTATION: {
        Cpm__Consultation *c = cpm__consultation__unpack(NULL, len, p);
        if (c)
            intake_validate_consultation(c, fz_rules(), &err);
        cpm__consultation__free_unpacked(c, NULL);
        break;
    }
    case CPM__MSG_TYPE__MSG_CASE_BATCH:
    case CPM__MSG_TYPE__MSG_ASSIGN_BATCH:
    case CPM__MSG_TYPE__MSG_UPDATE_BATCH:
        cpm__delivery_batch__free_unpacked(cpm__delivery_batch__unpack(NULL, len, p), NULL);
        break;
    case CPM__MSG_TYPE__MSG_CASE_ACTION:
        cpm__case_action__free_unpacked(cpm__case_action__unpack(NULL, len, p), NULL);
        break;
    case CPM__MSG_TYPE__MSG_STATUS_QUERY:
        cpm__status_query__free_unpacked(cpm__status_query__unpack(NULL, len, p), NULL);
        break;
    case CPM__MSG_TYPE__MSG_CASE_LIST_QUERY:
        cpm__case_list_query__free_unpacked(cpm__case_list_query__unpack(NULL, len, p), NULL);
        break;
    case CPM__MSG_TYPE__MSG_REPORT_QUERY:
        cpm__report_query__free_unpacked(cpm__report_query__unpack(NULL, len, p), NULL);
        break;
    case CPM__MSG_TYPE__MSG_EVENTS_FETCH:
        cpm__events_fetch__free_unpacked(cpm__events_fetch__unpack(NULL, len, p), NULL);
        break;
    case CPM__MSG_TYPE__MSG_EVENTS_REPLY:
    case CPM__MSG_TYPE__MSG_EVENTS_PUBLISH:
        cpm__event_batch__free_unpacked(cpm__event_batch__unpack(NULL, len, p), NULL);
        break;
    case CPM__MSG_TYPE__MSG_ACK:
        cpm__ack__free_unpacked(cpm__ack__unpack(NULL, len, p), NULL);
        break;
    case CPM__MSG_TYPE__MSG_ERROR:
        cpm__error_reply__free_unpacked(cpm__error_reply__unpack(NULL, len, p), NULL);
        break;
    default:
        break;
    }
}

/* Sign env_bytes as id, the way the version they carry says (version 2
 * over the domain of version 2 and the bytes, any other over the version 3
 * input), and wrap them in a SignedEnvelope. */
static uint8_t *wrap(const cpm_identity_t *id, const uint8_t *env_bytes, size_t env_len,
                     size_t *out_len)
{
    uint8_t sig[64];
    cpm_envelope_view_t view;
    if (cpm_envelope_parse_view(env_bytes, env_len, &view) == 0 &&
        view.version == CPM_PROTO_VERSION_V2) {
        static const char domain[] = CPM_ENVELOPE_DOMAIN_V2;
        size_t mlen = sizeof domain + env_len; /* sizeof counts the zero byte */
        uint8_t *msg = malloc(mlen);
        if (!msg)
            return NULL;
        memcpy(msg, domain, sizeof domain);
        if (env_len)
            memcpy(msg + sizeof domain, env_bytes, env_len);
        crypto_sign_detached(sig, NULL, msg, mlen, id->sign_sk);
        free(msg);
    } else {
        uint8_t in[CPM_ENVELOPE_SIG_INPUT_LEN];
        cpm_envelope_sig_input(env_len ? env_bytes : (const uint8_t *)"", env_len, in);
        crypto_sign_detached(sig, NULL, in, sizeof in, id->sign_sk);
    }
    Cpm__SignedEnvelope se = CPM__SIGNED_ENVELOPE__INIT;
    se.envelope.data = (uint8_t *)env_bytes;
    se.envelope.len = env_len;
    se.signature.data = sig;
    se.signature.len = sizeof sig;
    *out_len = cpm__signed_envelope__get_packed_size(&se);
    uint8_t *out = malloc(*out_len ? *out_len : 1);
    if (out)
        cpm__signed_envelope__pack(&se, out);
    return out;
}

/* The service a request type goes to, and who may send it in the vectors. */
static const char *service_of(int type, const char **sender)
{
    *sender = FZ_OPERATOR;
    switch (type) {
    case CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT:
    case CPM__MSG_TYPE__MSG_RECORD_CONSULTATION:
        return "intake";
    case CPM__MSG_TYPE__MSG_CASE_BATCH:
    case CPM__MSG_TYPE__MSG_UPDATE_BATCH:
        *sender = FZ_AREA;
        return "routing";
    case CPM__MSG_TYPE__MSG_ASSIGN_BATCH:
        *sender = FZ_CITY;
        return "inspection";
    case CPM__MSG_TYPE__MSG_STATUS_QUERY:
    case CPM__MSG_TYPE__MSG_CASE_LIST_QUERY:
    case CPM__MSG_TYPE__MSG_REPORT_QUERY:
        return "routing";
    default:
        return "intake";
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t seq = 1767225598500000; /* fresh per input: never a replay */
    if (size < 1)
        return 0;
    const cpm_registry_t *reg = fz_registry();
    const cpm_identity_t *signer = fz_identity(FZ_OPERATOR);
    uint8_t *env_bytes = NULL, *frame = NULL;
    size_t env_len = 0, frame_len = 0;
    char self[200] = "hn.doit/intake", service[32] = "intake", user[128] = FZ_OPERATOR;
    if (data[0] % 2 == 0) {
        env_len = size - 1;
        env_bytes = malloc(env_len ? env_len : 1);
        if (!env_bytes)
            return 0;
        if (env_len)
            memcpy(env_bytes, data + 1, env_len);
        Cpm__Envelope *e = cpm__envelope__unpack(NULL, env_len, env_bytes);
        if (e) {
            const cpm_identity_t *id = fz_identity(e->sender);
            if (id) {
                signer = id;
                snprintf(user, sizeof user, "%s", e->sender);
            }
            const char *slash = strchr(e->recipient, '/');
            if (slash && slash[1]) { /* arrive where it is addressed */
                snprintf(self, sizeof self, "%s", e->recipient);
                snprintf(service, sizeof service, "%s", slash + 1);
            }
        }
        cpm__envelope__free_unpacked(e, NULL);
    } else {
        int type = size > 1 ? data[1] : 0;
        const char *sender;
        const char *svc = service_of(type, &sender);
        char msg_id[33], recipient[200];
        snprintf(recipient, sizeof recipient, "%s/%s",
                 !strcmp(svc, "inspection") ? FZ_AREA : FZ_CITY, svc);
        snprintf(self, sizeof self, "%s", recipient);
        snprintf(service, sizeof service, "%s", svc);
        snprintf(user, sizeof user, "%s", sender);
        signer = fz_identity(sender);
        cpm_random_id(msg_id);
        cpm_env_fields_t f = {.sender = sender,
                              .sender_instance = "fuzz.1",
                              .key_id = signer->key_id,
                              .seq = ++seq,
                              .sent_ms = fz_now_ms(),
                              .type = type,
                              .msg_id = msg_id,
                              .recipient = recipient,
                              .payload = size > 2 ? data + 2 : NULL,
                              .payload_len = size > 2 ? size - 2 : 0};
        if (cpm_envelope_seal(&f, signer->sign_sk, &frame, &frame_len) != 0)
            return 0;
    }
    if (!frame)
        frame = wrap(signer, env_bytes, env_len, &frame_len);
    free(env_bytes);
    if (!frame)
        return 0;
    cpm_verifier_t *v = cpm_verifier_new(300000);
    if (!v)
        fz_die("verifier", "cpm_verifier_new");
    cpm_verify_ctx_t ctx = {self, service, user, NULL, NULL};
    cpm_msg_t m = {0};
    if (cpm_verifier_check(v, reg, &ctx, frame, frame_len, fz_now_ms(), &m) == CPM_V_OK)
        decode_payload(m.env->type, m.env->payload.data, m.env->payload.len);
    cpm_msg_clear(&m);
    cpm_verifier_destroy(&v);
    free(frame);
    return 0;
}
