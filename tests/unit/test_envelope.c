/* Tests of cpm_envelope: sealing, the signature input, type names, senders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_envelope.h"
#include "cpm_util.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static cpm_identity_t alice, bob;

static int setup(void **state)
{
    (void)state;
    uint8_t seed[32];
    memset(seed, 0x11, 32);
    if (cpm_identity_from_seed(&alice, "hn.op.alice", seed) != 0)
        return -1;
    memset(seed, 0x22, 32);
    return cpm_identity_from_seed(&bob, "hn.op.bob", seed);
}

static cpm_env_fields_t sample_fields(void)
{
    static const uint8_t payload[] = {0x0a, 0x03, 'a', 'b', 'c'};
    cpm_env_fields_t f = {
        .sender = alice.id,
        .sender_instance = "cli.42",
        .key_id = alice.key_id,
        .seq = 1767225600000000ull,
        .sent_ms = 1767225600000,
        .type = CPM__MSG_TYPE__MSG_STATUS_QUERY,
        .msg_id = "000102030405060708090a0b0c0d0e0f",
        .correlation_id = NULL,
        .recipient = "hn.doit/routing",
        .payload = payload,
        .payload_len = sizeof payload,
    };
    return f;
}

static void test_seal_roundtrip(void **state)
{
    (void)state;
    cpm_env_fields_t f = sample_fields();
    uint8_t *frame = NULL;
    size_t len = 0;
    assert_int_equal(cpm_envelope_seal(&f, alice.sign_sk, &frame, &len), 0);

    Cpm__SignedEnvelope *se = cpm__signed_envelope__unpack(NULL, len, frame);
    assert_non_null(se);
    assert_int_equal(se->signature.len, 64);
    Cpm__Envelope *e = cpm__envelope__unpack(NULL, se->envelope.len, se->envelope.data);
    assert_non_null(e);
    assert_int_equal(e->version, CPM_PROTO_VERSION);
    assert_string_equal(e->sender, "hn.op.alice");
    assert_string_equal(e->sender_instance, "cli.42");
    assert_string_equal(e->key_id, alice.key_id);
    assert_int_equal(e->seq, f.seq);
    assert_int_equal(e->sent_ms, f.sent_ms);
    assert_int_equal(e->type, CPM__MSG_TYPE__MSG_STATUS_QUERY);
    assert_string_equal(e->msg_id, f.msg_id);
    assert_string_equal(e->correlation_id, "");
    assert_string_equal(e->recipient, "hn.doit/routing");
    assert_int_equal(e->payload.len, f.payload_len);
    assert_memory_equal(e->payload.data, f.payload, f.payload_len);

    /* The signature input is the domain, one zero byte, then BLAKE2b-512 of
     * the envelope bytes: 83 bytes. */
    uint8_t in[83];
    memcpy(in, "CPMESH-ENVELOPE-V3", 18);
    in[18] = 0;
    crypto_generichash(in + 19, 64, se->envelope.data, se->envelope.len, NULL, 0);
    assert_int_equal(crypto_sign_verify_detached(se->signature.data, in, sizeof in, alice.sign_pk),
                     0);
    uint8_t mine[CPM_ENVELOPE_SIG_INPUT_LEN];
    assert_int_equal(sizeof mine, 83);
    cpm_envelope_sig_input(se->envelope.data, se->envelope.len, mine);
    assert_memory_equal(mine, in, sizeof in);
    /* Without the domain, or over the bytes themselves, it is not valid. */
    assert_int_not_equal(
        crypto_sign_verify_detached(se->signature.data, in + 19, 64, alice.sign_pk), 0);
    assert_int_not_equal(crypto_sign_verify_detached(se->signature.data, se->envelope.data,
                                                     se->envelope.len, alice.sign_pk),
                         0);
    /* The frame is exactly field 1 then field 2, as the general encoder
     * writes it. */
    uint8_t *packed = malloc(len);
    assert_int_equal(cpm__signed_envelope__get_packed_size(se), len);
    cpm__signed_envelope__pack(se, packed);
    assert_memory_equal(packed, frame, len);
    free(packed);

    assert_int_equal(cpm_envelope_verify_sig(CPM_PROTO_VERSION, se->envelope.data, se->envelope.len,
                                             se->signature.data, 64, alice.sign_pk),
                     0);
    /* Ed25519 is deterministic: sealing again gives the same frame. */
    uint8_t *again = NULL;
    size_t again_len = 0;
    assert_int_equal(cpm_envelope_seal(&f, alice.sign_sk, &again, &again_len), 0);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, frame, len);
    free(again);
    cpm__envelope__free_unpacked(e, NULL);
    cpm__signed_envelope__free_unpacked(se, NULL);
    free(frame);
}

/* The version an envelope is sealed in and verified by: env's version field
 * and signature, checked both ways (*got_version gets the field). */
static void sealed_as(const cpm_env_fields_t *f, uint64_t *got_version, int *ok2, int *ok3)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    assert_int_equal(cpm_envelope_seal(f, alice.sign_sk, &frame, &len), 0);
    cpm_slice_t env, sig;
    cpm_envelope_view_t v;
    assert_int_equal(cpm_envelope_parse_signed(frame, len, &env, &sig), 0);
    assert_int_equal(cpm_envelope_parse_view(env.data, env.len, &v), 0);
    *got_version = v.version;
    *ok2 = cpm_envelope_verify_sig(2, env.data, env.len, sig.data, sig.len, alice.sign_pk) == 0;
    *ok3 = cpm_envelope_verify_sig(3, env.data, env.len, sig.data, sig.len, alice.sign_pk) == 0;
    free(frame);
}

/* Version 2 is still sent when asked for (a reply to a version-2 request, a
 * process set to send 2 during an upgrade), signed over the domain
 * "CPMESH-ENVELOPE-V1\0" and the bytes; any other version is refused. */
static void test_seal_version_2(void **state)
{
    (void)state;
    cpm_env_fields_t f = sample_fields();
    uint64_t got;
    int ok2, ok3;
    f.version = 2;
    sealed_as(&f, &got, &ok2, &ok3);
    assert_int_equal(got, 2);
    assert_true(ok2);
    assert_false(ok3);
    f.version = 0; /* the process's send version: 3 */
    assert_int_equal(cpm_envelope_send_version(), 3);
    sealed_as(&f, &got, &ok2, &ok3);
    assert_int_equal(got, 3);
    assert_false(ok2);
    assert_true(ok3);
    assert_int_equal(cpm_envelope_set_send_version(2), 0);
    sealed_as(&f, &got, &ok2, &ok3);
    assert_int_equal(got, 2);
    assert_true(ok2);
    f.version = 3; /* named: whatever the process sends */
    sealed_as(&f, &got, &ok2, &ok3);
    assert_int_equal(got, 3);
    assert_true(ok3);
    assert_int_equal(cpm_envelope_set_send_version(3), 0);
    uint8_t *frame = NULL;
    size_t len = 0;
    for (uint64_t bad = 1; bad < 6; bad += 3) { /* 1 and 4 */
        f.version = bad;
        assert_int_equal(cpm_envelope_seal(&f, alice.sign_sk, &frame, &len), -1);
        assert_null(frame);
        assert_int_equal(cpm_envelope_set_send_version(bad), -1);
    }
    assert_int_equal(cpm_envelope_send_version(), 3);
}

/* CPM_ENVELOPE_VERSION: unset or empty leaves the send version, 2 and 3 set
 * it, anything else is refused naming the variable. */
static void test_version_from_env(void **state)
{
    (void)state;
    cpm_error_t err = {0};
    unsetenv("CPM_ENVELOPE_VERSION");
    assert_int_equal(cpm_envelope_version_from_env(&err), 0);
    assert_int_equal(cpm_envelope_send_version(), 3);
    setenv("CPM_ENVELOPE_VERSION", "2", 1);
    assert_int_equal(cpm_envelope_version_from_env(&err), 0);
    assert_int_equal(cpm_envelope_send_version(), 2);
    setenv("CPM_ENVELOPE_VERSION", "", 1);
    assert_int_equal(cpm_envelope_version_from_env(&err), 0);
    assert_int_equal(cpm_envelope_send_version(), 2);
    static const char *const bad[] = {"4", "23", "3x", "-3", " 3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("CPM_ENVELOPE_VERSION", bad[i], 1);
        assert_int_equal(cpm_envelope_version_from_env(&err), CPM_E_INVALID);
        assert_string_equal(err.field, "CPM_ENVELOPE_VERSION");
        assert_non_null(strstr(err.message, "must be 2 or 3"));
        assert_int_equal(cpm_envelope_send_version(), 2);
    }
    setenv("CPM_ENVELOPE_VERSION", "3", 1);
    assert_int_equal(cpm_envelope_version_from_env(&err), 0);
    assert_int_equal(cpm_envelope_send_version(), 3);
    unsetenv("CPM_ENVELOPE_VERSION");
}

static void test_verify_sig_refusals(void **state)
{
    (void)state;
    cpm_env_fields_t f = sample_fields();
    uint8_t *frame = NULL;
    size_t len = 0;
    assert_int_equal(cpm_envelope_seal(&f, alice.sign_sk, &frame, &len), 0);
    Cpm__SignedEnvelope *se = cpm__signed_envelope__unpack(NULL, len, frame);
    assert_non_null(se);
    uint8_t *env = se->envelope.data, *sig = se->signature.data;
    size_t env_len = se->envelope.len;

    assert_int_equal(cpm_envelope_verify_sig(CPM_PROTO_VERSION, env, env_len, sig, 64, bob.sign_pk),
                     -1);
    assert_int_equal(
        cpm_envelope_verify_sig(CPM_PROTO_VERSION, env, env_len, sig, 63, alice.sign_pk), -1);
    assert_int_equal(
        cpm_envelope_verify_sig(CPM_PROTO_VERSION, env, env_len, sig, 65, alice.sign_pk), -1);
    assert_int_equal(
        cpm_envelope_verify_sig(CPM_PROTO_VERSION, env, env_len, NULL, 64, alice.sign_pk), -1);
    assert_int_equal(
        cpm_envelope_verify_sig(CPM_PROTO_VERSION, NULL, env_len, sig, 64, alice.sign_pk), -1);
    assert_int_equal(cpm_envelope_verify_sig(CPM_PROTO_VERSION, env, env_len, sig, 64, NULL), -1);
    assert_int_equal(
        cpm_envelope_verify_sig(CPM_PROTO_VERSION, env, env_len - 1, sig, 64, alice.sign_pk), -1);
    /* Every single flipped bit of the envelope or the signature is caught. */
    for (size_t i = 0; i < env_len; i++) {
        env[i] ^= 0x01;
        assert_int_equal(
            cpm_envelope_verify_sig(CPM_PROTO_VERSION, env, env_len, sig, 64, alice.sign_pk), -1);
        env[i] ^= 0x01;
    }
    for (size_t i = 0; i < 64; i++) {
        sig[i] ^= 0x80;
        assert_int_equal(
            cpm_envelope_verify_sig(CPM_PROTO_VERSION, env, env_len, sig, 64, alice.sign_pk), -1);
        sig[i] ^= 0x80;
    }
    assert_int_equal(
        cpm_envelope_verify_sig(CPM_PROTO_VERSION, env, env_len, sig, 64, alice.sign_pk), 0);
    cpm__signed_envelope__free_unpacked(se, NULL);
    free(frame);
}

/* Version 2 frames (signed over "CPMESH-ENVELOPE-V1\0" and the envelope
 * bytes) are still verified; a signature of one version's kind never passes
 * as the other's, and an unknown version never verifies. */
static void test_verify_sig_version_2(void **state)
{
    (void)state;
    Cpm__Envelope e = CPM__ENVELOPE__INIT;
    e.version = 2;
    e.sender = "hn.op.alice";
    e.sender_instance = "cli.42";
    e.key_id = alice.key_id;
    e.seq = 7;
    e.type = CPM__MSG_TYPE__MSG_STATUS_QUERY;
    e.msg_id = "00112233445566778899aabbccddeeff";
    e.recipient = "hn.doit/routing";
    size_t n = cpm__envelope__get_packed_size(&e);
    uint8_t *in = malloc(19 + n);
    memcpy(in, "CPMESH-ENVELOPE-V1", 19);
    cpm__envelope__pack(&e, in + 19);
    uint8_t sig[64], sig3[64], in3[CPM_ENVELOPE_SIG_INPUT_LEN];
    crypto_sign_detached(sig, NULL, in, 19 + n, alice.sign_sk);
    assert_int_equal(cpm_envelope_verify_sig(2, in + 19, n, sig, 64, alice.sign_pk), 0);
    assert_int_equal(cpm_envelope_verify_sig(3, in + 19, n, sig, 64, alice.sign_pk), -1);
    assert_int_equal(cpm_envelope_verify_sig(2, in + 19, n, sig, 64, bob.sign_pk), -1);
    in[19 + n - 1] ^= 1;
    assert_int_equal(cpm_envelope_verify_sig(2, in + 19, n, sig, 64, alice.sign_pk), -1);
    in[19 + n - 1] ^= 1;
    cpm_envelope_sig_input(in + 19, n, in3);
    crypto_sign_detached(sig3, NULL, in3, sizeof in3, alice.sign_sk);
    assert_int_equal(cpm_envelope_verify_sig(3, in + 19, n, sig3, 64, alice.sign_pk), 0);
    assert_int_equal(cpm_envelope_verify_sig(2, in + 19, n, sig3, 64, alice.sign_pk), -1);
    for (uint64_t v = 0; v < 6; v++) {
        assert_int_equal(cpm_envelope_version_known(v), v == 2 || v == 3);
        if (v != 2 && v != 3) {
            assert_int_equal(cpm_envelope_verify_sig(v, in + 19, n, sig, 64, alice.sign_pk), -1);
            assert_int_equal(cpm_envelope_verify_sig(v, in + 19, n, sig3, 64, alice.sign_pk), -1);
        }
    }
    free(in);
}

static void test_seal_refusals(void **state)
{
    (void)state;
    cpm_env_fields_t f = sample_fields();
    uint8_t *frame = NULL;
    size_t len = 0;
    assert_int_equal(cpm_envelope_seal(NULL, alice.sign_sk, &frame, &len), -1);
    assert_int_equal(cpm_envelope_seal(&f, NULL, &frame, &len), -1);
    assert_int_equal(cpm_envelope_seal(&f, alice.sign_sk, NULL, &len), -1);
    assert_int_equal(cpm_envelope_seal(&f, alice.sign_sk, &frame, NULL), -1);
    /* A payload that cannot fit in a frame. */
    uint8_t *big = calloc(1, CPM_MAX_MSG);
    f.payload = big;
    f.payload_len = CPM_MAX_MSG;
    assert_int_equal(cpm_envelope_seal(&f, alice.sign_sk, &frame, &len), -1);
    free(big);
    assert_null(frame);
}

static void test_empty_strings(void **state)
{
    (void)state;
    cpm_env_fields_t f = {.type = CPM__MSG_TYPE__MSG_HEALTH_QUERY};
    uint8_t *frame = NULL;
    size_t len = 0;
    assert_int_equal(cpm_envelope_seal(&f, alice.sign_sk, &frame, &len), 0);
    Cpm__SignedEnvelope *se = cpm__signed_envelope__unpack(NULL, len, frame);
    Cpm__Envelope *e = cpm__envelope__unpack(NULL, se->envelope.len, se->envelope.data);
    assert_non_null(e);
    assert_string_equal(e->sender, "");
    assert_string_equal(e->recipient, "");
    assert_int_equal(e->payload.len, 0);
    /* proto3 omits empty fields: version (tag 0x08) and type (0x38) only. */
    const uint8_t want[] = {0x08, CPM_PROTO_VERSION, 0x38, 60};
    assert_int_equal(se->envelope.len, sizeof want);
    assert_memory_equal(se->envelope.data, want, sizeof want);
    cpm__envelope__free_unpacked(e, NULL);
    cpm__signed_envelope__free_unpacked(se, NULL);
    free(frame);
}

static void test_type_names_match_descriptor(void **state)
{
    (void)state;
    const ProtobufCEnumDescriptor *d = &cpm__msg_type__descriptor;
    unsigned named = 0;
    for (unsigned i = 0; i < d->n_values; i++) {
        int v = d->values[i].value;
        const char *name = cpm_msg_type_name(v);
        if (v == CPM__MSG_TYPE__MSG_UNSPECIFIED) {
            assert_null(name);
            continue;
        }
        char want[64];
        const char *src = d->values[i].name + 4; /* without "MSG_" */
        size_t k = 0;
        for (; src[k] && k < sizeof want - 1; k++)
            want[k] = (char)tolower((unsigned char)src[k]);
        want[k] = 0;
        assert_non_null(name);
        assert_string_equal(name, want);
        named++;

        size_t n = strlen(want);
        int reply = strcmp(want, "ack") == 0 || strcmp(want, "error") == 0 ||
                    strcmp(want, "group_receipt") == 0 ||
                    (n > 6 && strcmp(want + n - 6, "_reply") == 0);
        assert_int_equal(cpm_msg_type_is_reply(v), reply);
    }
    assert_int_equal(named, d->n_values - 1);
    assert_null(cpm_msg_type_name(3));
    assert_null(cpm_msg_type_name(999));
    assert_null(cpm_msg_type_name(-1));
    assert_int_equal(cpm_msg_type_is_reply(999), 0);
    assert_int_equal(cpm_msg_type_is_reply(CPM__MSG_TYPE__MSG_EVENTS_PUBLISH), 0);
}

static Cpm__Envelope *open_frame(const uint8_t *frame, size_t len)
{
    Cpm__SignedEnvelope *se = cpm__signed_envelope__unpack(NULL, len, frame);
    assert_non_null(se);
    assert_int_equal(cpm_envelope_verify_sig(CPM_PROTO_VERSION, se->envelope.data, se->envelope.len,
                                             se->signature.data, se->signature.len, alice.sign_pk),
                     0);
    Cpm__Envelope *e = cpm__envelope__unpack(NULL, se->envelope.len, se->envelope.data);
    cpm__signed_envelope__free_unpacked(se, NULL);
    assert_non_null(e);
    return e;
}

static void test_sender(void **state)
{
    (void)state;
    cpm_sender_t s;
    cpm_sender_init(&s, &alice, "cli.7");
    assert_int_equal(s.last_seq, 0);

    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = "HN-000001";
    char msg_id[33];
    uint8_t *frame = NULL;
    size_t len = 0;
    uint64_t before = (uint64_t)cpm_now_us();
    assert_int_equal(cpm_sender_seal(&s, CPM__MSG_TYPE__MSG_STATUS_QUERY, "hn.doit/routing", NULL,
                                     &q.base, msg_id, &frame, &len),
                     0);
    Cpm__Envelope *e = open_frame(frame, len);
    assert_true(e->seq >= before);
    assert_true(e->seq <= (uint64_t)cpm_now_us());
    assert_int_equal(e->seq, s.last_seq);
    assert_true(llabs(e->sent_ms - cpm_now_ms()) < 5000);
    assert_string_equal(e->msg_id, msg_id);
    assert_int_equal(strlen(msg_id), 32);
    assert_string_equal(e->sender, "hn.op.alice");
    assert_string_equal(e->sender_instance, "cli.7");
    assert_string_equal(e->key_id, alice.key_id);
    assert_string_equal(e->recipient, "hn.doit/routing");
    Cpm__StatusQuery *back = cpm__status_query__unpack(NULL, e->payload.len, e->payload.data);
    assert_non_null(back);
    assert_string_equal(back->ticket, "HN-000001");
    cpm__status_query__free_unpacked(back, NULL);
    uint64_t first = e->seq;
    cpm__envelope__free_unpacked(e, NULL);
    free(frame);

    /* Strictly increasing, even when the clock has not moved on. */
    char id2[33];
    assert_int_equal(cpm_sender_seal(&s, CPM__MSG_TYPE__MSG_ACK, "hn.doit/routing", msg_id, NULL,
                                     id2, &frame, &len),
                     0);
    e = open_frame(frame, len);
    assert_true(e->seq > first);
    assert_string_equal(e->correlation_id, msg_id);
    assert_string_not_equal(id2, msg_id);
    assert_int_equal(e->payload.len, 0);
    cpm__envelope__free_unpacked(e, NULL);
    free(frame);

    /* A sender ahead of the clock (the clock stepped back) keeps counting. */
    s.last_seq = (uint64_t)cpm_now_us() + 60000000ull;
    uint64_t ahead = s.last_seq;
    assert_int_equal(
        cpm_sender_seal(&s, CPM__MSG_TYPE__MSG_HEALTH_QUERY, "x/y", NULL, NULL, NULL, &frame, &len),
        0);
    e = open_frame(frame, len);
    assert_int_equal(e->seq, ahead + 1);
    cpm__envelope__free_unpacked(e, NULL);
    free(frame);

    /* Refusals leave the sequence alone. */
    assert_int_equal(
        cpm_sender_seal(&s, CPM__MSG_TYPE__MSG_ACK, "x/y", NULL, NULL, NULL, NULL, &len), -1);
    assert_int_equal(s.last_seq, ahead + 1);
    cpm_sender_t empty;
    cpm_sender_init(&empty, NULL, NULL);
    assert_string_equal(empty.instance, "");
    assert_int_equal(
        cpm_sender_seal(&empty, CPM__MSG_TYPE__MSG_ACK, "x/y", NULL, NULL, NULL, &frame, &len), -1);
}

static void test_sender_instance_truncated(void **state)
{
    (void)state;
    char longname[200];
    memset(longname, 'i', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    cpm_sender_t s;
    cpm_sender_init(&s, &alice, longname);
    assert_int_equal(strlen(s.instance), sizeof s.instance - 1);
}

/* The in-place readers give the same fields as the decoder and refuse any
 * other layout. */
static void test_parse_in_place(void **state)
{
    (void)state;
    cpm_env_fields_t f = sample_fields();
    uint8_t *frame;
    size_t len;
    assert_int_equal(cpm_envelope_seal(&f, alice.sign_sk, &frame, &len), 0);
    cpm_slice_t env, sig;
    assert_int_equal(cpm_envelope_parse_signed(frame, len, &env, &sig), 0);
    assert_int_equal(sig.len, 64);
    cpm_envelope_view_t v;
    assert_int_equal(cpm_envelope_parse_view(env.data, env.len, &v), 0);
    assert_int_equal(v.version, CPM_PROTO_VERSION);
    assert_int_equal(v.seq, f.seq);
    assert_int_equal(v.sent_ms, f.sent_ms);
    assert_int_equal(v.type, f.type);
    assert_int_equal(v.sender.len, strlen(alice.id));
    assert_memory_equal(v.sender.data, alice.id, v.sender.len);
    assert_int_equal(v.payload.len, f.payload_len);
    assert_int_equal(cpm_envelope_verify_sig(CPM_PROTO_VERSION, env.data, env.len, sig.data,
                                             sig.len, alice.sign_pk),
                     0);
    /* empty: both fields empty */
    assert_int_equal(cpm_envelope_parse_signed(frame, 0, &env, &sig), 0);
    assert_int_equal(env.len + sig.len, 0);
    /* a field twice, a third field, a wrong wire type, trailing garbage */
    uint8_t *two = malloc(2 * len);
    memcpy(two, frame, len);
    memcpy(two + len, frame, len);
    assert_int_equal(cpm_envelope_parse_signed(two, 2 * len, &env, &sig), -1);
    free(two);
    const uint8_t third[] = {0x1a, 0x00}, varint[] = {0x08, 0x01}, trunc[] = {0x0a, 0x05, 0x00};
    assert_int_equal(cpm_envelope_parse_signed(third, 2, &env, &sig), -1);
    assert_int_equal(cpm_envelope_parse_signed(varint, 2, &env, &sig), -1);
    assert_int_equal(cpm_envelope_parse_signed(trunc, 3, &env, &sig), -1);
    /* the envelope: unknown field, duplicate, zero byte or bad UTF-8 in a string */
    const uint8_t unknown[] = {0x08, 0x01, 0x60, 0x01};
    const uint8_t dup[] = {0x08, 0x01, 0x08, 0x01};
    const uint8_t nul[] = {0x12, 0x02, 'a', 0x00};
    const uint8_t bad_utf8[] = {0x12, 0x01, 0xff};
    const uint8_t type_as_bytes[] = {0x3a, 0x00};
    assert_int_equal(cpm_envelope_parse_view(unknown, sizeof unknown, &v), -1);
    assert_int_equal(cpm_envelope_parse_view(dup, sizeof dup, &v), -1);
    assert_int_equal(cpm_envelope_parse_view(nul, sizeof nul, &v), -1);
    assert_int_equal(cpm_envelope_parse_view(bad_utf8, sizeof bad_utf8, &v), -1);
    assert_int_equal(cpm_envelope_parse_view(type_as_bytes, sizeof type_as_bytes, &v), -1);
    assert_int_equal(cpm_envelope_parse_view(NULL, 0, &v), 0);
    assert_int_equal(v.version, 0);
    free(frame);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_roundtrip),
        cmocka_unit_test(test_verify_sig_refusals),
        cmocka_unit_test(test_verify_sig_version_2),
        cmocka_unit_test(test_seal_refusals),
        cmocka_unit_test(test_empty_strings),
        cmocka_unit_test(test_type_names_match_descriptor),
        cmocka_unit_test(test_sender),
        cmocka_unit_test(test_sender_instance_truncated),
        cmocka_unit_test(test_parse_in_place),
        cmocka_unit_test(test_seal_version_2),
        cmocka_unit_test(test_version_from_env),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
