/* cpm_envelope: build, sign and check SignedEnvelope frames.
 *
 * Version 3 (sent unless the process is set to send version 2, for a
 * rolling upgrade: cpm_envelope_set_send_version): the signature is over the 19 ASCII bytes
 * "CPMESH-ENVELOPE-V3" and a zero byte, then the 64-byte BLAKE2b digest of
 * the serialized Envelope bytes as carried in SignedEnvelope.envelope.
 * Version 2 (still accepted): over "CPMESH-ENVELOPE-V1", a zero byte and the
 * envelope bytes themselves. Receivers verify the bytes received; they never
 * re-serialize. See docs/protocol.md section 5. */
#ifndef CPM_ENVELOPE_H
#define CPM_ENVELOPE_H

#include "cpm_err.h"

#include "cpm_keys.h"
#include "cpmesh.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define CPM_PROTO_VERSION 3    /* what this code sends by default */
#define CPM_PROTO_VERSION_V2 2 /* still accepted: signed over the whole envelope */
#define CPM_MAX_MSG (4u << 20) /* largest frame any socket accepts */
#define CPM_ENVELOPE_DOMAIN "CPMESH-ENVELOPE-V3"    /* version 3, over the digest */
#define CPM_ENVELOPE_DOMAIN_V2 "CPMESH-ENVELOPE-V1" /* version 2, over the bytes */
#define CPM_ENVELOPE_DIGEST_LEN 64                  /* BLAKE2b-512 of the envelope */
#define CPM_ENVELOPE_SIG_INPUT_LEN (sizeof CPM_ENVELOPE_DOMAIN + CPM_ENVELOPE_DIGEST_LEN)
#define CPM_INSTANCE_MAX 63 /* bytes of Envelope.sender_instance; receivers refuse longer */

/* What a sender fills in; strings may be NULL for empty. */
typedef struct {
    const char *sender;
    const char *sender_instance;
    const char *key_id;
    uint64_t seq;
    int64_t sent_ms;
    Cpm__MsgType type;
    const char *msg_id;
    const char *correlation_id;
    const char *recipient;
    const uint8_t *payload;
    size_t payload_len;
    uint64_t version; /* 2 or 3; 0: the process's send version */
} cpm_env_fields_t;

/* The version every envelope of this process is sealed in unless its caller
 * names one (a reply goes in its request's version): 3, or 2 while the
 * nodes and clients it talks to are being upgraded (docs/operations.md
 * "Protocol version 3"). Set once at start. 0, or -1 for a version this code
 * does not send. */
CPM_MUST_CHECK int cpm_envelope_set_send_version(uint64_t version);
uint64_t cpm_envelope_send_version(void);
/* The send version from the environment variable CPM_ENVELOPE_VERSION ("2"
 * or "3"; unset or empty: unchanged), for programs without a configuration
 * file (cpmctl). 0, or CPM_E_INVALID with err naming CPM_ENVELOPE_VERSION. */
CPM_MUST_CHECK int cpm_envelope_version_from_env(cpm_error_t *err);

/* Serialize the Envelope, sign it with sk (64-byte libsodium secret key) and
 * serialize the SignedEnvelope into a malloc'd buffer the caller frees.
 * 0 or -1. */
CPM_MUST_CHECK int cpm_envelope_seal(const cpm_env_fields_t *f, const uint8_t sk[64], uint8_t **out,
                                     size_t *out_len);

/* 1 for an Envelope.version a receiver takes (3, or 2), 0 otherwise. */
int cpm_envelope_version_known(uint64_t version);

/* The 83-byte signature input of a version 3 envelope: the domain and its
 * zero byte, then BLAKE2b-512 of env. */
void cpm_envelope_sig_input(const uint8_t *env, size_t env_len,
                            uint8_t out[CPM_ENVELOPE_SIG_INPUT_LEN]);

/* 0 when sig is a valid Ed25519 signature by pk over the signature input of
 * an envelope of this version (the version the envelope bytes carry), -1
 * otherwise (including an unknown version and a signature that is not 64
 * bytes). Version 3 hashes the bytes once (BLAKE2b) and verifies 83 bytes;
 * version 2 verifies over the bytes themselves. */
CPM_MUST_CHECK int cpm_envelope_verify_sig(uint64_t version, const uint8_t *env, size_t env_len,
                                           const uint8_t *sig, size_t sig_len,
                                           const uint8_t pk[32]);

/* A piece of a received frame: points into the caller's buffer. */
typedef struct {
    const uint8_t *data;
    size_t len;
} cpm_slice_t;

/* The two fields of a SignedEnvelope, read without the general decoder and
 * without allocating: the layout is fixed, so anything but field 1 and field
 * 2, each length-delimited and at most once (absent = empty), is refused.
 * A frame of 2-byte unknown fields thus costs one pass over its first bytes,
 * not a decoder's allocations. 0 or -1. */
CPM_MUST_CHECK int cpm_envelope_parse_signed(const uint8_t *buf, size_t len, cpm_slice_t *envelope,
                                             cpm_slice_t *signature);

/* The fields of an Envelope, read the same way (slices into buf). Only the
 * fields 1 to 11 of section 4 of docs/protocol.md, each at most once with its
 * own wire type; strings valid UTF-8 without zero bytes. Anything else
 * (an unknown field, a field twice) is refused: -1. */
typedef struct {
    uint64_t version, seq, type;
    int64_t sent_ms;
    cpm_slice_t sender, sender_instance, key_id, msg_id, correlation_id, recipient, payload;
} cpm_envelope_view_t;

CPM_MUST_CHECK int cpm_envelope_parse_view(const uint8_t *buf, size_t len, cpm_envelope_view_t *v);

/* The lowercase name of a type as used in may_send rules, e.g.
 * MSG_SUBMIT_COMPLAINT -> "submit_complaint"; NULL for an unknown value. */
const char *cpm_msg_type_name(int type);
/* 1 for reply types (ACK, ERROR, *_REPLY), 0 otherwise. */
int cpm_msg_type_is_reply(int type);

/* A sender: identity plus a strictly increasing sequence number. The sequence
 * starts at the current time in microseconds and then counts up by one per
 * message (never below the clock), so it keeps increasing across restarts
 * without storage. A plain value type: no allocation. */
typedef struct {
    const cpm_identity_t *id; /* borrowed */
    char instance[CPM_INSTANCE_MAX + 1];
    uint64_t last_seq;
} cpm_sender_t;

void cpm_sender_init(cpm_sender_t *s, const cpm_identity_t *id, const char *instance);
/* Serialize payload (may be NULL for an empty payload), wrap and sign it as a
 * message of type to recipient. The new msg_id is copied to msg_id_out when not
 * NULL. *out is malloc'd; the caller frees it. 0 or -1. */
CPM_MUST_CHECK int cpm_sender_seal(cpm_sender_t *s, Cpm__MsgType type, const char *recipient,
                                   const char *correlation_id, const ProtobufCMessage *payload,
                                   char msg_id_out[33], uint8_t **out, size_t *out_len);
/* The same with a payload already serialized (payload may be NULL when
 * payload_len is 0). */
CPM_MUST_CHECK int cpm_sender_seal_raw(cpm_sender_t *s, Cpm__MsgType type, const char *recipient,
                                       const char *correlation_id, const uint8_t *payload,
                                       size_t payload_len, char msg_id_out[33], uint8_t **out,
                                       size_t *out_len);
/* cpm_sender_seal_raw in envelope version (2 or 3; 0: the process's send
 * version): a server answers a request in the request's version. */
CPM_MUST_CHECK int cpm_sender_seal_raw_v(cpm_sender_t *s, uint64_t version, Cpm__MsgType type,
                                         const char *recipient, const char *correlation_id,
                                         const uint8_t *payload, size_t payload_len,
                                         char msg_id_out[33], uint8_t **out, size_t *out_len);

#endif
