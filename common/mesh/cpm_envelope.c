/* cpm_envelope: sealing and signature checks of SignedEnvelope frames. */
#include "cpm_envelope.h"
#include "cpm_text.h"

#include "cpm_docsig.h"
#include "cpm_pbcheck.h"
#include "cpm_util.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The domain string with its terminating zero byte (19 bytes). */
#define DOMAIN_LEN (sizeof CPM_ENVELOPE_DOMAIN)

int cpm_envelope_version_known(uint64_t version)
{
    return version == CPM_PROTO_VERSION || version == CPM_PROTO_VERSION_V2;
}

static _Atomic uint64_t send_version = CPM_PROTO_VERSION;

int cpm_envelope_set_send_version(uint64_t version)
{
    if (!cpm_envelope_version_known(version))
        return -1;
    atomic_store(&send_version, version);
    return 0;
}

uint64_t cpm_envelope_send_version(void)
{
    return atomic_load(&send_version);
}

int cpm_envelope_version_from_env(cpm_error_t *err)
{
    const char *v = getenv("CPM_ENVELOPE_VERSION");
    if (!v || !*v)
        return 0;
    if ((strcmp(v, "2") && strcmp(v, "3")) || cpm_envelope_set_send_version((uint64_t)(*v - '0')))
        return cpm_error_set(err, CPM_E_INVALID, "CPM_ENVELOPE_VERSION",
                             "CPM_ENVELOPE_VERSION must be 2 or 3 (the envelope version to "
                             "send), not '%.16s'",
                             v);
    return 0;
}

void cpm_envelope_sig_input(const uint8_t *env, size_t env_len,
                            uint8_t out[CPM_ENVELOPE_SIG_INPUT_LEN])
{
    memcpy(out, CPM_ENVELOPE_DOMAIN, DOMAIN_LEN);
    crypto_generichash(out + DOMAIN_LEN, CPM_ENVELOPE_DIGEST_LEN, env, env_len, NULL, 0);
}

static char *str_or_empty(const char *s)
{
    return (char *)(s ? s : "");
}

int cpm_envelope_seal(const cpm_env_fields_t *f, const uint8_t sk[64], uint8_t **out,
                      size_t *out_len)
{
    if (!f || !sk || !out || !out_len)
        return -1;
    Cpm__Envelope e = CPM__ENVELOPE__INIT;
    e.version = f->version ? f->version : cpm_envelope_send_version();
    if (!cpm_envelope_version_known(e.version))
        return -1;
    e.sender = str_or_empty(f->sender);
    e.sender_instance = str_or_empty(f->sender_instance);
    e.key_id = str_or_empty(f->key_id);
    e.seq = f->seq;
    e.sent_ms = f->sent_ms;
    e.type = f->type;
    e.msg_id = str_or_empty(f->msg_id);
    e.correlation_id = str_or_empty(f->correlation_id);
    e.recipient = str_or_empty(f->recipient);
    e.payload.data = (uint8_t *)f->payload;
    e.payload.len = f->payload ? f->payload_len : 0;

    /* The SignedEnvelope is written here, not by the general encoder: field
     * 1 (tag 0x0a, the length, the envelope packed in place) and field 2
     * (tag 0x12, length 64, the signature), the fixed layout of section 4.
     * So the envelope is packed once, into the frame, and hashed there. The
     * version is never 0, so the envelope is never empty (never left out). */
    size_t env_len = cpm__envelope__get_packed_size(&e);
    uint8_t head[11];
    head[0] = 0x0a;
    size_t hl = (size_t)(cpm_pb_put_varint(head + 1, env_len) - head);
    size_t n = hl + env_len + 2 + crypto_sign_BYTES;
    if (env_len > CPM_MAX_MSG || n > CPM_MAX_MSG)
        return -1;
    uint8_t *buf = malloc(n);
    if (!buf)
        return -1;
    memcpy(buf, head, hl);
    uint8_t *env = buf + hl;
    cpm__envelope__pack(&e, env);
    uint8_t *sig = env + env_len;
    sig[0] = 0x12;
    sig[1] = crypto_sign_BYTES;
    int rc;
    if (e.version == CPM_PROTO_VERSION_V2) { /* over the bytes themselves */
        rc = cpm_docsig_sign(CPM_ENVELOPE_DOMAIN_V2, env, env_len, sk, sig + 2);
    } else {
        uint8_t in[CPM_ENVELOPE_SIG_INPUT_LEN];
        cpm_envelope_sig_input(env, env_len, in);
        rc = crypto_sign_detached(sig + 2, NULL, in, sizeof in, sk);
    }
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

int cpm_envelope_verify_sig(uint64_t version, const uint8_t *env, size_t env_len,
                            const uint8_t *sig, size_t sig_len, const uint8_t pk[32])
{
    if ((!env && env_len) || !sig || sig_len != crypto_sign_BYTES || !pk)
        return -1;
    if (version == CPM_PROTO_VERSION_V2) /* over the domain and the bytes themselves */
        return cpm_docsig_verify(CPM_ENVELOPE_DOMAIN_V2, env, env_len, sig, sig_len, pk);
    if (version != CPM_PROTO_VERSION)
        return -1;
    uint8_t in[CPM_ENVELOPE_SIG_INPUT_LEN];
    cpm_envelope_sig_input(env ? env : (const uint8_t *)"", env_len, in);
    return crypto_sign_verify_detached(sig, in, sizeof in, pk) == 0 ? 0 : -1;
}

int cpm_envelope_parse_signed(const uint8_t *buf, size_t len, cpm_slice_t *envelope,
                              cpm_slice_t *signature)
{
    *envelope = (cpm_slice_t){NULL, 0};
    *signature = (cpm_slice_t){NULL, 0};
    if (len == 0)
        return 0; /* both fields empty */
    if (!buf)
        return -1;
    const uint8_t *p = buf, *end = buf + len;
    unsigned seen = 0;
    cpm_pb_field_t f;
    int r;
    while ((r = cpm_pb_next(&p, end, &f)) == 1) {
        if ((f.number != 1 && f.number != 2) || f.wire_type != 2 || (seen & (1u << f.number)))
            return -1;
        seen |= 1u << f.number;
        *(f.number == 1 ? envelope : signature) = (cpm_slice_t){f.data, f.len};
    }
    return r == 0 ? 0 : -1;
}

/* A string field: UTF-8 (the rest of the code reads them as C strings, so
 * no zero byte either). */
static int text_ok(const cpm_pb_field_t *f)
{
    return memchr(f->data, 0, f->len) == NULL && cpm_text_utf8_valid((const char *)f->data, f->len);
}

int cpm_envelope_parse_view(const uint8_t *buf, size_t len, cpm_envelope_view_t *v)
{
    memset(v, 0, sizeof *v);
    if (len == 0)
        return 0;
    if (!buf)
        return -1;
    /* Field number -> where a length-delimited field goes (NULL: a varint). */
    cpm_slice_t *const slots[12] = {
        [2] = &v->sender,         [3] = &v->sender_instance, [4] = &v->key_id,  [8] = &v->msg_id,
        [9] = &v->correlation_id, [10] = &v->recipient,      [11] = &v->payload};
    const uint8_t *p = buf, *end = buf + len;
    unsigned seen = 0;
    cpm_pb_field_t f;
    int r;
    while ((r = cpm_pb_next(&p, end, &f)) == 1) {
        if (f.number < 1 || f.number > 11 || (seen & (1u << f.number)))
            return -1;
        seen |= 1u << f.number;
        cpm_slice_t *slot = slots[f.number];
        if (f.wire_type != (slot ? 2 : 0))
            return -1;
        if (slot) {
            if (f.number != 11 && !text_ok(&f))
                return -1;
            *slot = (cpm_slice_t){f.data, f.len};
        } else if (f.number == 1) {
            v->version = f.value;
        } else if (f.number == 5) {
            v->seq = f.value;
        } else if (f.number == 6) {
            v->sent_ms = (int64_t)f.value;
        } else {
            v->type = f.value;
        }
    }
    return r == 0 ? 0 : -1;
}

/* Spelled out rather than derived from the protobuf descriptor so the strings
 * are static; test_envelope checks this table against the descriptor. */
const char *cpm_msg_type_name(int type)
{
    switch (type) {
    case CPM__MSG_TYPE__MSG_ACK:
        return "ack";
    case CPM__MSG_TYPE__MSG_ERROR:
        return "error";
    case CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT:
        return "submit_complaint";
    case CPM__MSG_TYPE__MSG_SUBMIT_REPLY:
        return "submit_reply";
    case CPM__MSG_TYPE__MSG_RECORD_CONSULTATION:
        return "record_consultation";
    case CPM__MSG_TYPE__MSG_CONSULTATION_REPLY:
        return "consultation_reply";
    case CPM__MSG_TYPE__MSG_SUBMIT_BATCH:
        return "submit_batch";
    case CPM__MSG_TYPE__MSG_GROUP_RECEIPT:
        return "group_receipt";
    case CPM__MSG_TYPE__MSG_CASE_BATCH:
        return "case_batch";
    case CPM__MSG_TYPE__MSG_ASSIGN_BATCH:
        return "assign_batch";
    case CPM__MSG_TYPE__MSG_UPDATE_BATCH:
        return "update_batch";
    case CPM__MSG_TYPE__MSG_CASE_ACTION:
        return "case_action";
    case CPM__MSG_TYPE__MSG_CASE_ACTION_REPLY:
        return "case_action_reply";
    case CPM__MSG_TYPE__MSG_STATUS_QUERY:
        return "status_query";
    case CPM__MSG_TYPE__MSG_STATUS_REPLY:
        return "status_reply";
    case CPM__MSG_TYPE__MSG_CASE_LIST_QUERY:
        return "case_list_query";
    case CPM__MSG_TYPE__MSG_CASE_LIST_REPLY:
        return "case_list_reply";
    case CPM__MSG_TYPE__MSG_CASE_ASSIGN:
        return "case_assign";
    case CPM__MSG_TYPE__MSG_CASE_ASSIGN_REPLY:
        return "case_assign_reply";
    case CPM__MSG_TYPE__MSG_EVENTS_FETCH:
        return "events_fetch";
    case CPM__MSG_TYPE__MSG_EVENTS_REPLY:
        return "events_reply";
    case CPM__MSG_TYPE__MSG_EVENTS_PUBLISH:
        return "events_publish";
    case CPM__MSG_TYPE__MSG_CLUSTERS_QUERY:
        return "clusters_query";
    case CPM__MSG_TYPE__MSG_CLUSTERS_REPLY:
        return "clusters_reply";
    case CPM__MSG_TYPE__MSG_REPORT_QUERY:
        return "report_query";
    case CPM__MSG_TYPE__MSG_REPORT_REPLY:
        return "report_reply";
    case CPM__MSG_TYPE__MSG_HEALTH_QUERY:
        return "health_query";
    case CPM__MSG_TYPE__MSG_HEALTH_REPLY:
        return "health_reply";
    case CPM__MSG_TYPE__MSG_INSPECTION_PLAN:
        return "inspection_plan";
    case CPM__MSG_TYPE__MSG_INSPECTION_ASSIGN:
        return "inspection_assign";
    case CPM__MSG_TYPE__MSG_INSPECTION_REVIEW:
        return "inspection_review";
    case CPM__MSG_TYPE__MSG_INSPECTION_QUERY:
        return "inspection_query";
    case CPM__MSG_TYPE__MSG_INSPECTION_REPLY:
        return "inspection_reply";
    case CPM__MSG_TYPE__MSG_FIELD_CHECKOUT:
        return "field_checkout";
    case CPM__MSG_TYPE__MSG_FIELD_CHECKOUT_REPLY:
        return "field_checkout_reply";
    case CPM__MSG_TYPE__MSG_FIELD_UPLOAD:
        return "field_upload";
    case CPM__MSG_TYPE__MSG_FIELD_UPLOAD_REPLY:
        return "field_upload_reply";
    case CPM__MSG_TYPE__MSG_EVIDENCE_CHUNK:
        return "evidence_chunk";
    case CPM__MSG_TYPE__MSG_EVIDENCE_REPLY:
        return "evidence_reply";
    case CPM__MSG_TYPE__MSG_FIELD_RECORD:
        return "field_record";
    case CPM__MSG_TYPE__MSG_MONITOR_REPORT:
        return "monitor_report";
    case CPM__MSG_TYPE__MSG_MONITOR_REPORT_REPLY:
        return "monitor_report_reply";
    case CPM__MSG_TYPE__MSG_PROGRAMME_RECORD:
        return "programme_record";
    case CPM__MSG_TYPE__MSG_PROGRAMME_RECORD_REPLY:
        return "programme_record_reply";
    case CPM__MSG_TYPE__MSG_PROGRAMME_PROGRESS:
        return "programme_progress";
    case CPM__MSG_TYPE__MSG_PROGRAMME_PROGRESS_REPLY:
        return "programme_progress_reply";
    case CPM__MSG_TYPE__MSG_EXCHANGE_QUERY:
        return "exchange_query";
    case CPM__MSG_TYPE__MSG_EXCHANGE_QUERY_REPLY:
        return "exchange_query_reply";
    case CPM__MSG_TYPE__MSG_EXCHANGE_PUBLISH:
        return "exchange_publish";
    case CPM__MSG_TYPE__MSG_EXCHANGE_PUBLISH_REPLY:
        return "exchange_publish_reply";
    case CPM__MSG_TYPE__MSG_EXCHANGE_SUBSCRIBE:
        return "exchange_subscribe";
    case CPM__MSG_TYPE__MSG_EXCHANGE_SUBSCRIBE_REPLY:
        return "exchange_subscribe_reply";
    case CPM__MSG_TYPE__MSG_EXCHANGE_BATCH:
        return "exchange_batch";
    case CPM__MSG_TYPE__MSG_EXCHANGE_COSIGN:
        return "exchange_cosign";
    case CPM__MSG_TYPE__MSG_EXCHANGE_COSIGN_REPLY:
        return "exchange_cosign_reply";
    case CPM__MSG_TYPE__MSG_EXCHANGE_LOG_QUERY:
        return "exchange_log_query";
    case CPM__MSG_TYPE__MSG_EXCHANGE_LOG_REPLY:
        return "exchange_log_reply";
    case CPM__MSG_TYPE__MSG_EXCHANGE_RECEIVED_QUERY:
        return "exchange_received_query";
    case CPM__MSG_TYPE__MSG_EXCHANGE_RECEIVED_REPLY:
        return "exchange_received_reply";
    case CPM__MSG_TYPE__MSG_EXCHANGE_ANSWER_SIGNED:
        return "exchange_answer_signed";
    case CPM__MSG_TYPE__MSG_EXCHANGE_CHECKPOINT:
        return "exchange_checkpoint";
    case CPM__MSG_TYPE__MSG_EVENT_CHECKPOINT:
        return "event_checkpoint";
    case CPM__MSG_TYPE__MSG_WEB_GRANT:
        return "web_grant";
    case CPM__MSG_TYPE__MSG_HOTSPOT_LIST:
        return "hotspot_list";
    case CPM__MSG_TYPE__MSG_HOTSPOT_LIST_REPLY:
        return "hotspot_list_reply";
    case CPM__MSG_TYPE__MSG_HOTSPOT_DECIDE:
        return "hotspot_decide";
    case CPM__MSG_TYPE__MSG_HOTSPOT_DECIDE_REPLY:
        return "hotspot_decide_reply";
    case CPM__MSG_TYPE__MSG_TRIAGE_STATS:
        return "triage_stats";
    case CPM__MSG_TYPE__MSG_TRIAGE_STATS_REPLY:
        return "triage_stats_reply";
    default:
        return NULL; /* including MSG_UNSPECIFIED: never valid on the wire */
    }
}

int cpm_msg_type_is_reply(int type)
{
    switch (type) {
    case CPM__MSG_TYPE__MSG_ACK:
    case CPM__MSG_TYPE__MSG_ERROR:
    case CPM__MSG_TYPE__MSG_SUBMIT_REPLY:
    case CPM__MSG_TYPE__MSG_CONSULTATION_REPLY:
    case CPM__MSG_TYPE__MSG_GROUP_RECEIPT:
    case CPM__MSG_TYPE__MSG_CASE_ACTION_REPLY:
    case CPM__MSG_TYPE__MSG_STATUS_REPLY:
    case CPM__MSG_TYPE__MSG_CASE_LIST_REPLY:
    case CPM__MSG_TYPE__MSG_CASE_ASSIGN_REPLY:
    case CPM__MSG_TYPE__MSG_CLUSTERS_REPLY:
    case CPM__MSG_TYPE__MSG_REPORT_REPLY:
    case CPM__MSG_TYPE__MSG_EVENTS_REPLY:
    case CPM__MSG_TYPE__MSG_HEALTH_REPLY:
    case CPM__MSG_TYPE__MSG_INSPECTION_REPLY:
    case CPM__MSG_TYPE__MSG_FIELD_CHECKOUT_REPLY:
    case CPM__MSG_TYPE__MSG_FIELD_UPLOAD_REPLY:
    case CPM__MSG_TYPE__MSG_EVIDENCE_REPLY:
    case CPM__MSG_TYPE__MSG_EXCHANGE_QUERY_REPLY:
    case CPM__MSG_TYPE__MSG_EXCHANGE_PUBLISH_REPLY:
    case CPM__MSG_TYPE__MSG_EXCHANGE_SUBSCRIBE_REPLY:
    case CPM__MSG_TYPE__MSG_EXCHANGE_COSIGN_REPLY:
    case CPM__MSG_TYPE__MSG_EXCHANGE_LOG_REPLY:
    case CPM__MSG_TYPE__MSG_EXCHANGE_RECEIVED_REPLY:
    case CPM__MSG_TYPE__MSG_MONITOR_REPORT_REPLY:
    case CPM__MSG_TYPE__MSG_PROGRAMME_RECORD_REPLY:
    case CPM__MSG_TYPE__MSG_PROGRAMME_PROGRESS_REPLY:
    case CPM__MSG_TYPE__MSG_HOTSPOT_LIST_REPLY:
    case CPM__MSG_TYPE__MSG_HOTSPOT_DECIDE_REPLY:
    case CPM__MSG_TYPE__MSG_TRIAGE_STATS_REPLY:
        return 1;
    default:
        return 0;
    }
}

void cpm_sender_init(cpm_sender_t *s, const cpm_identity_t *id, const char *instance)
{
    memset(s, 0, sizeof *s);
    s->id = id;
    if (instance)
        snprintf(s->instance, sizeof s->instance, "%s", instance);
}

int cpm_sender_seal(cpm_sender_t *s, Cpm__MsgType type, const char *recipient,
                    const char *correlation_id, const ProtobufCMessage *payload,
                    char msg_id_out[33], uint8_t **out, size_t *out_len)
{
    uint8_t *pl = NULL;
    size_t pl_len = 0;
    if (payload) {
        pl_len = protobuf_c_message_get_packed_size(payload);
        if (pl_len > CPM_MAX_MSG)
            return -1;
        pl = malloc(pl_len ? pl_len : 1);
        if (!pl)
            return -1;
        protobuf_c_message_pack(payload, pl);
    }
    int rc = cpm_sender_seal_raw(s, type, recipient, correlation_id, pl, pl_len, msg_id_out, out,
                                 out_len);
    free(pl);
    return rc;
}

int cpm_sender_seal_raw(cpm_sender_t *s, Cpm__MsgType type, const char *recipient,
                        const char *correlation_id, const uint8_t *payload, size_t payload_len,
                        char msg_id_out[33], uint8_t **out, size_t *out_len)
{
    return cpm_sender_seal_raw_v(s, 0, type, recipient, correlation_id, payload, payload_len,
                                 msg_id_out, out, out_len);
}

int cpm_sender_seal_raw_v(cpm_sender_t *s, uint64_t version, Cpm__MsgType type,
                          const char *recipient, const char *correlation_id, const uint8_t *payload,
                          size_t payload_len, char msg_id_out[33], uint8_t **out, size_t *out_len)
{
    if (!s || !s->id || !out || !out_len || payload_len > CPM_MAX_MSG)
        return -1;
    /* Never below the clock, so a restarted sender starts above anything it
     * sent before; never repeating, even when the clock steps back. */
    uint64_t now_us = (uint64_t)cpm_now_us();
    uint64_t seq = s->last_seq + 1 > now_us ? s->last_seq + 1 : now_us;

    char msg_id[33];
    cpm_random_id(msg_id);
    cpm_env_fields_t f = {
        .sender = s->id->id,
        .sender_instance = s->instance,
        .key_id = s->id->key_id,
        .seq = seq,
        .sent_ms = cpm_now_ms(),
        .type = type,
        .msg_id = msg_id,
        .correlation_id = correlation_id,
        .recipient = recipient,
        .payload = payload,
        .payload_len = payload_len,
        .version = version,
    };
    if (cpm_envelope_seal(&f, s->id->sign_sk, out, out_len) != 0)
        return -1;
    s->last_seq = seq;
    if (msg_id_out)
        memcpy(msg_id_out, msg_id, sizeof msg_id);
    return 0;
}
