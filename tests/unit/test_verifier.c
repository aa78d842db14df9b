/* Tests of cpm_verifier: every verdict, the order of the checks, counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/signed_registry.h"

#include "cpm_envelope.h"
#include "cpm_verifier.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1767225600000LL /* 2026-01-01T00:00:00Z */
#define SKEW 300000LL       /* 5 minutes */

static cpm_identity_t root, doit, hk, lan, old, ghost;
static cpm_registry_t *reg;
static uint64_t next_seq = 1767225600000000ull;

static Cpm__ServiceEndpoint *endpoint(const char *name, int port)
{
    Cpm__ServiceEndpoint *s = calloc(1, sizeof *s);
    cpm__service_endpoint__init(s);
    s->name = (char *)name;
    s->endpoint = malloc(40);
    s->pub_endpoint = malloc(40);
    snprintf(s->endpoint, 40, "tcp://127.0.0.1:%d", port);
    snprintf(s->pub_endpoint, 40, "tcp://127.0.0.1:%d", port + 1);
    return s;
}

static void free_member(Cpm__Member *m)
{
    for (size_t i = 0; i < m->n_services; i++) {
        free(m->services[i]->endpoint);
        free(m->services[i]->pub_endpoint);
        free(m->services[i]);
    }
    free(m->services);
    free(m);
}

static int setup(void **state)
{
    (void)state;
    cpm_identity_t *ids[] = {&root, &doit, &hk, &lan, &old, &ghost};
    const char *names[] = {"root",      "hn.doit",   "hn.d.hoan-kiem",
                           "hn.op.lan", "hn.op.old", "hn.op.ghost"};
    if (sreg_identities(ids, names, 6, 0x40) != 0)
        return -1;
    static char *doit_rules[] = {"assign_batch@inspection", "events_fetch@*", "health_query@*"};
    static char *hk_rules[] = {"case_batch@routing", "update_batch@routing", "events_fetch@*"};
    static char *op_rules[] = {"submit_complaint@intake", "record_consultation@intake",
                               "status_query@routing", "events_fetch@*"};
    Cpm__Member *ms[4] = {
        sreg_member(&doit, "department", doit_rules, 3),
        sreg_member(&hk, "area", hk_rules, 3),
        sreg_member(&lan, "operator", op_rules, 4),
        sreg_member(&old, "operator", op_rules, 4),
    };
    ms[0]->ticket_prefix = "HN";
    ms[0]->n_services = 2;
    ms[0]->services = calloc(2, sizeof *ms[0]->services);
    ms[0]->services[0] = endpoint("intake", 7100);
    ms[0]->services[1] = endpoint("routing", 7110);
    ms[1]->ticket_prefix = "HK";
    ms[1]->area = "hoan-kiem";
    ms[1]->n_services = 2;
    ms[1]->services = calloc(2, sizeof *ms[1]->services);
    ms[1]->services[0] = endpoint("intake", 7200);
    ms[1]->services[1] = endpoint("inspection", 7220);

    char *revoked[1] = {old.key_id};
    Cpm__Registry doc = CPM__REGISTRY__INIT;
    doc.version = 3;
    doc.issued_ms = NOW - 86400000;
    doc.mesh = "hanoi-test";
    doc.members = ms;
    doc.n_members = 4;
    doc.revoked_keys = revoked;
    doc.n_revoked_keys = 1;
    reg = sreg_sign_load(&doc, &root);
    for (int i = 0; i < 4; i++)
        free_member(ms[i]);
    return reg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cpm_registry_destroy(&reg);
    return 0;
}

/* A message from lan's hotline client to doit's intake, which test cases
 * change one field at a time. */
typedef struct {
    const cpm_identity_t *from;   /* sender and key id */
    const cpm_identity_t *signer; /* secret key that signs */
    const char *key_id;           /* overrides from->key_id */
    const char *instance;
    uint32_t version;
    uint64_t seq;
    int64_t sent_ms;
    int type;
    const char *correlation_id;
    const char *recipient;
    uint32_t sign_as; /* 0: signed as its version says; 2 or 3: that version's way */
} msg_t;

static msg_t good(void)
{
    msg_t m = {
        .from = &lan,
        .signer = &lan,
        .instance = "cli.1",
        .version = CPM_PROTO_VERSION,
        .seq = next_seq++,
        .sent_ms = NOW,
        .type = CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
        .recipient = "hn.doit/intake",
    };
    return m;
}

static const cpm_verify_ctx_t intake_ctx = {
    .self = "hn.doit/intake",
    .service = "intake",
    .transport_user = "hn.op.lan",
};

/* The signature of envelope bytes the way a version signs them: version 2
 * over "CPMESH-ENVELOPE-V1\0" and the bytes, version 3 over
 * "CPMESH-ENVELOPE-V3\0" and their BLAKE2b-512 (written out here, not taken
 * from cpm_envelope). */
static void sign_as(uint32_t version, const uint8_t *env, size_t n, const cpm_identity_t *id,
                    uint8_t sig[64])
{
    uint8_t *in = malloc(19 + (n > 64 ? n : 64));
    size_t in_len;
    if (version == 2) {
        memcpy(in, "CPMESH-ENVELOPE-V1", 19);
        memcpy(in + 19, env, n);
        in_len = 19 + n;
    } else {
        memcpy(in, "CPMESH-ENVELOPE-V3", 19);
        crypto_generichash(in + 19, 64, env, n, NULL, 0);
        in_len = 19 + 64;
    }
    crypto_sign_detached(sig, NULL, in, in_len, id->sign_sk);
    free(in);
}

/* Built by hand rather than with cpm_envelope_seal, so that version and type
 * can take values the sealer never writes. */
static uint8_t *build(const msg_t *m, size_t *len)
{
    static const uint8_t payload[] = {0x12, 0x03, 'w', 'e', 'b'}; /* Complaint.channel */
    Cpm__Envelope e = CPM__ENVELOPE__INIT;
    e.version = m->version;
    e.sender = (char *)m->from->id;
    e.sender_instance = (char *)m->instance;
    e.key_id = (char *)(m->key_id ? m->key_id : m->from->key_id);
    e.seq = m->seq;
    e.sent_ms = m->sent_ms;
    e.type = (Cpm__MsgType)m->type;
    e.msg_id = "0123456789abcdef0123456789abcdef";
    e.correlation_id = (char *)(m->correlation_id ? m->correlation_id : "");
    e.recipient = (char *)m->recipient;
    e.payload.data = (uint8_t *)payload;
    e.payload.len = sizeof payload;
    size_t n = cpm__envelope__get_packed_size(&e);
    uint8_t *envb = malloc(n);
    cpm__envelope__pack(&e, envb);
    uint8_t sig[64];
    sign_as(m->sign_as ? m->sign_as : m->version, envb, n, m->signer, sig);
    Cpm__SignedEnvelope se = CPM__SIGNED_ENVELOPE__INIT;
    se.envelope.data = envb;
    se.envelope.len = n;
    se.signature.data = sig;
    se.signature.len = 64;
    *len = cpm__signed_envelope__get_packed_size(&se);
    uint8_t *out = malloc(*len);
    cpm__signed_envelope__pack(&se, out);
    free(envb);
    return out;
}

static cpm_verdict_t run(cpm_verifier_t *v, const cpm_verify_ctx_t *ctx, const msg_t *m,
                         int64_t now)
{
    size_t len;
    uint8_t *f = build(m, &len);
    cpm_msg_t out = {.env = (Cpm__Envelope *)1, .member = (const Cpm__Member *)1}; /* cleared */
    cpm_verdict_t r = cpm_verifier_check(v, reg, ctx, f, len, now, &out);
    if (r == CPM_V_OK) {
        assert_non_null(out.env);
        assert_ptr_equal(out.member, cpm_registry_member(reg, m->from->id));
        assert_int_equal(out.env->seq, m->seq);
        cpm_msg_clear(&out);
    }
    assert_null(out.env);
    assert_null(out.member);
    free(f);
    return r;
}

static void expect(const cpm_verify_ctx_t *ctx, const msg_t *m, cpm_verdict_t want)
{
    cpm_verifier_t *v = cpm_verifier_new(SKEW);
    cpm_verdict_t got = run(v, ctx, m, NOW);
    if (got != want)
        fail_msg("got %s, want %s", cpm_verdict_name(got), cpm_verdict_name(want));
    assert_int_equal(cpm_verifier_count(v, want), 1);
    cpm_verifier_destroy(&v);
}

static void test_good(void **state)
{
    (void)state;
    msg_t m = good();
    cpm_verifier_t *v = cpm_verifier_new(SKEW);
    size_t len;
    uint8_t *f = build(&m, &len);
    cpm_msg_t out = {0};
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, f, len, NOW, &out), CPM_V_OK);
    assert_string_equal(out.env->sender, "hn.op.lan");
    assert_string_equal(out.env->sender_instance, "cli.1");
    assert_int_equal(out.env->type, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT);
    assert_int_equal(out.env->payload.len, 5);
    assert_string_equal(out.member->role, "operator");
    assert_int_equal(cpm_verifier_count(v, CPM_V_OK), 1);
    cpm_msg_clear(&out);
    assert_null(out.env);
    cpm_msg_clear(&out);
    cpm_msg_clear(NULL);
    /* The same message through cpm_envelope_seal is accepted too. */
    cpm_env_fields_t fields = {.sender = lan.id,
                               .sender_instance = "cli.2",
                               .key_id = lan.key_id,
                               .seq = 5,
                               .sent_ms = NOW,
                               .type = CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                               .msg_id = "ab",
                               .recipient = "hn.doit/intake"};
    uint8_t *sealed;
    size_t sealed_len;
    assert_int_equal(cpm_envelope_seal(&fields, lan.sign_sk, &sealed, &sealed_len), 0);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, sealed, sealed_len, NOW, &out),
                     CPM_V_OK);
    cpm_msg_clear(&out);
    free(sealed);
    free(f);
    cpm_verifier_destroy(&v);
}

/* Sign env (any bytes) with id's key and wrap it with sig_extra (raw wire
 * bytes) after the signature. */
static uint8_t *sign_raw(const uint8_t *env, size_t n, const cpm_identity_t *id,
                         const uint8_t *extra, size_t elen, size_t *len)
{
    uint8_t sig[64];
    sign_as(CPM_PROTO_VERSION, env, n, id, sig);
    Cpm__SignedEnvelope se = CPM__SIGNED_ENVELOPE__INIT;
    se.envelope.data = (uint8_t *)env;
    se.envelope.len = n;
    se.signature.data = sig;
    se.signature.len = 64;
    size_t base = cpm__signed_envelope__get_packed_size(&se);
    uint8_t *out = malloc(base + elen + 1);
    cpm__signed_envelope__pack(&se, out);
    if (elen)
        memcpy(out + base, extra, elen);
    *len = base + elen;
    return out;
}

/* The envelope of good() with extra wire bytes appended, signed properly. */
static uint8_t *good_plus(const uint8_t *extra, size_t elen, size_t *len)
{
    msg_t m = good();
    size_t flen;
    uint8_t *f = build(&m, &flen);
    Cpm__SignedEnvelope *se = cpm__signed_envelope__unpack(NULL, flen, f);
    assert_non_null(se);
    uint8_t *env = malloc(se->envelope.len + elen);
    memcpy(env, se->envelope.data, se->envelope.len);
    memcpy(env + se->envelope.len, extra, elen);
    uint8_t *out = sign_raw(env, se->envelope.len + elen, &lan, NULL, 0, len);
    free(env);
    cpm__signed_envelope__free_unpacked(se, NULL);
    free(f);
    return out;
}

/* The outer and inner envelopes are read in place: only their own fields,
 * each once, whatever the signature says. */
static void test_layout(void **state)
{
    (void)state;
    cpm_verifier_t *v = cpm_verifier_new(SKEW);
    cpm_msg_t out;
    size_t len;
    /* A validly signed envelope with an unknown field 12. */
    const uint8_t unknown[] = {0x62, 0x01, 'x'};
    uint8_t *f = good_plus(unknown, sizeof unknown, &len);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, f, len, NOW, &out), CPM_V_MALFORMED);
    free(f);
    /* ... with its sender twice (protobuf would take the last). */
    const uint8_t twice[] = {0x12, 0x07, 'h', 'n', '.', 'd', 'o', 'i', 't'};
    f = good_plus(twice, sizeof twice, &len);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, f, len, NOW, &out), CPM_V_MALFORMED);
    free(f);
    /* ... with a string field sent as a varint. */
    const uint8_t wrong_type[] = {0x48, 0x01}; /* correlation_id (9) as a varint */
    f = good_plus(wrong_type, sizeof wrong_type, &len);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, f, len, NOW, &out), CPM_V_MALFORMED);
    free(f);
    /* control: nothing appended passes */
    f = good_plus(wrong_type, 0, &len);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, f, len, NOW, &out), CPM_V_OK);
    cpm_msg_clear(&out);
    free(f);
    msg_t m = good();
    size_t flen;
    uint8_t *g = build(&m, &flen);
    /* A SignedEnvelope with a third field, or a field of the wrong type. */
    const uint8_t third[] = {0x1a, 0x00};
    uint8_t *h = malloc(flen + sizeof third);
    memcpy(h, g, flen);
    memcpy(h + flen, third, sizeof third);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, h, flen + 2, NOW, &out),
                     CPM_V_MALFORMED);
    memcpy(h + flen, wrong_type, sizeof wrong_type);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, h, flen + 2, NOW, &out),
                     CPM_V_MALFORMED);
    free(h);
    free(g);
    /* A frame of 2-byte unknown fields is refused at its first byte. */
    uint8_t *junk = malloc(1 << 20);
    for (size_t i = 0; i < (1 << 20); i += 2) {
        junk[i] = 0x18; /* field 3, varint */
        junk[i + 1] = 0x01;
    }
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, junk, 1 << 20, NOW, &out),
                     CPM_V_MALFORMED);
    assert_false(out.addr.known);
    free(junk);
    assert_int_equal(cpm_verifier_count(v, CPM_V_MALFORMED), 6);
    cpm_verifier_destroy(&v);
}

/* A refusal hands back where the answer goes; verified only after the
 * signature. */
static void test_reply_address(void **state)
{
    (void)state;
    cpm_verifier_t *v = cpm_verifier_new(SKEW);
    cpm_msg_t out;
    msg_t m = good();
    m.signer = &hk; /* bad signature */
    size_t len;
    uint8_t *f = build(&m, &len);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, f, len, NOW, &out),
                     CPM_V_BAD_SIGNATURE);
    assert_true(out.addr.known);
    assert_false(out.addr.verified);
    assert_string_equal(out.addr.sender, "hn.op.lan");
    assert_string_equal(out.addr.sender_instance, "cli.1");
    assert_string_equal(out.addr.msg_id, "0123456789abcdef0123456789abcdef");
    assert_null(out.env);
    free(f);
    m = good();
    m.recipient = "hn.doit/routing";
    f = build(&m, &len);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, f, len, NOW, &out),
                     CPM_V_WRONG_RECIPIENT);
    assert_true(out.addr.known && out.addr.verified);
    free(f);
    cpm_verifier_destroy(&v);
}

static void test_size_and_decoding(void **state)
{
    (void)state;
    cpm_verifier_t *v = cpm_verifier_new(SKEW);
    cpm_msg_t out;
    uint8_t *big = calloc(1, CPM_MAX_MSG + 1);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, big, CPM_MAX_MSG + 1, NOW, &out),
                     CPM_V_OVERSIZE);
    /* At the limit the size passes and decoding refuses the zeros. */
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, big, CPM_MAX_MSG, NOW, &out),
                     CPM_V_MALFORMED);
    free(big);
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, garbage, sizeof garbage, NOW, &out),
                     CPM_V_MALFORMED);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, NULL, 10, NOW, &out), CPM_V_MALFORMED);
    /* A SignedEnvelope whose envelope field is not an Envelope. */
    const uint8_t bad_inner[] = {0x0a, 0x02, 0xff, 0xff, 0x12, 0x00};
    assert_int_equal(
        cpm_verifier_check(v, reg, &intake_ctx, bad_inner, sizeof bad_inner, NOW, &out),
        CPM_V_MALFORMED);
    /* Truncated good frame. */
    msg_t m = good();
    size_t len;
    uint8_t *f = build(&m, &len);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, f, len - 10, NOW, &out),
                     CPM_V_MALFORMED);
    free(f);
    /* An empty frame decodes (protobuf) as an envelope without a version. */
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, garbage, 0, NOW, &out),
                     CPM_V_BAD_VERSION);
    assert_int_equal(cpm_verifier_count(v, CPM_V_OVERSIZE), 1);
    assert_int_equal(cpm_verifier_count(v, CPM_V_MALFORMED), 5);
    assert_int_equal(cpm_verifier_count(v, CPM_V_BAD_VERSION), 1);
    cpm_verifier_destroy(&v);
}

static void test_version(void **state)
{
    (void)state;
    msg_t m = good();
    m.version = CPM_PROTO_VERSION + 1;
    expect(&intake_ctx, &m, CPM_V_BAD_VERSION);
    m.version = 1; /* the version before typed events */
    expect(&intake_ctx, &m, CPM_V_BAD_VERSION);
    m.version = 0;
    expect(&intake_ctx, &m, CPM_V_BAD_VERSION);
}

/* Version 2 (signed over the envelope bytes) is still taken; a signature
 * made the other version's way is a bad signature either way round. */
static void test_version_2_still_taken(void **state)
{
    (void)state;
    msg_t m = good();
    assert_int_equal(m.version, 3);
    expect(&intake_ctx, &m, CPM_V_OK);
    m = good();
    m.version = 2;
    expect(&intake_ctx, &m, CPM_V_OK);
    m = good();
    m.version = 2;
    m.sign_as = 3;
    expect(&intake_ctx, &m, CPM_V_BAD_SIGNATURE);
    m = good();
    m.sign_as = 2;
    expect(&intake_ctx, &m, CPM_V_BAD_SIGNATURE);
}

static void test_sender_and_keys(void **state)
{
    (void)state;
    msg_t m = good();
    m.from = m.signer = &ghost;
    expect(NULL, &m, CPM_V_UNKNOWN_SENDER);

    /* lan's name with another key: unknown, whatever signs it. */
    m = good();
    m.key_id = ghost.key_id;
    m.signer = &ghost;
    expect(&intake_ctx, &m, CPM_V_UNKNOWN_KEY);
    m.key_id = "";
    m.signer = &lan;
    expect(&intake_ctx, &m, CPM_V_UNKNOWN_KEY);
    m.key_id = "not-hex";
    expect(&intake_ctx, &m, CPM_V_UNKNOWN_KEY);

    /* A revoked key, as the member's current key or named by someone else. */
    m = good();
    m.from = m.signer = &old;
    expect(NULL, &m, CPM_V_REVOKED_KEY);
    m = good();
    m.key_id = old.key_id;
    m.signer = &old;
    expect(&intake_ctx, &m, CPM_V_REVOKED_KEY);
}

static void test_signature(void **state)
{
    (void)state;
    msg_t m = good();
    m.signer = &ghost; /* right name and key id, wrong secret */
    expect(&intake_ctx, &m, CPM_V_BAD_SIGNATURE);

    /* Any changed byte of envelope or signature, as long as it still decodes
     * to lan's envelope with the right key id. */
    m = good();
    size_t len;
    uint8_t *f = build(&m, &len);
    cpm_verifier_t *v = cpm_verifier_new(SKEW);
    cpm_msg_t out;
    unsigned bad_sig = 0;
    for (size_t i = 0; i < len; i++) {
        f[i] ^= 0x01;
        cpm_verdict_t r = cpm_verifier_check(v, reg, &intake_ctx, f, len, NOW, &out);
        f[i] ^= 0x01;
        assert_int_not_equal(r, CPM_V_OK);
        bad_sig += r == CPM_V_BAD_SIGNATURE;
    }
    assert_true(bad_sig > 64); /* at least every byte of the signature */
    /* The untouched frame is still fresh: forgeries did not use its number. */
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, f, len, NOW, &out), CPM_V_OK);
    cpm_msg_clear(&out);
    free(f);

    /* A signature of the wrong length. */
    f = build(&m, &len);
    Cpm__SignedEnvelope *se = cpm__signed_envelope__unpack(NULL, len, f);
    se->signature.len = 63;
    size_t n = cpm__signed_envelope__get_packed_size(se);
    uint8_t *short_sig = malloc(n);
    cpm__signed_envelope__pack(se, short_sig);
    se->signature.len = 64;
    cpm__signed_envelope__free_unpacked(se, NULL);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, short_sig, n, NOW, &out),
                     CPM_V_BAD_SIGNATURE);
    free(short_sig);
    free(f);
    cpm_verifier_destroy(&v);
}

static void test_clock_skew(void **state)
{
    (void)state;
    msg_t m = good();
    m.sent_ms = NOW - SKEW;
    expect(&intake_ctx, &m, CPM_V_OK);
    m.sent_ms = NOW + SKEW;
    expect(&intake_ctx, &m, CPM_V_OK);
    m.sent_ms = NOW - SKEW - 1;
    expect(&intake_ctx, &m, CPM_V_CLOCK_SKEW);
    m.sent_ms = NOW + SKEW + 1;
    expect(&intake_ctx, &m, CPM_V_CLOCK_SKEW);
    m.sent_ms = INT64_MIN;
    expect(&intake_ctx, &m, CPM_V_CLOCK_SKEW);
    m.sent_ms = INT64_MAX;
    expect(&intake_ctx, &m, CPM_V_CLOCK_SKEW);
    m.sent_ms = 0;
    expect(&intake_ctx, &m, CPM_V_CLOCK_SKEW);
}

static void test_type(void **state)
{
    (void)state;
    msg_t m = good();
    const int bad[] = {0, 3, 9, 53, 999, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m.type = bad[i];
        m.seq = next_seq++;
        expect(&intake_ctx, &m, CPM_V_UNKNOWN_TYPE);
    }
}

static void test_recipient_and_transport(void **state)
{
    (void)state;
    msg_t m = good();
    m.recipient = "hn.doit/routing";
    expect(&intake_ctx, &m, CPM_V_WRONG_RECIPIENT);
    m.recipient = "";
    expect(&intake_ctx, &m, CPM_V_WRONG_RECIPIENT);
    m.recipient = "*";
    expect(&intake_ctx, &m, CPM_V_WRONG_RECIPIENT);
    /* Without ctx.self no recipient is checked. */
    cpm_verify_ctx_t ctx = intake_ctx;
    ctx.self = NULL;
    m.recipient = "anything";
    expect(&ctx, &m, CPM_V_OK);

    m = good();
    ctx = intake_ctx;
    ctx.transport_user = "hn.d.hoan-kiem";
    expect(&ctx, &m, CPM_V_TRANSPORT_MISMATCH);
    ctx.transport_user = "";
    expect(&ctx, &m, CPM_V_TRANSPORT_MISMATCH);
    ctx.transport_user = NULL;
    expect(&ctx, &m, CPM_V_OK);
    /* Recipient is checked before transport. */
    ctx.transport_user = "hn.d.hoan-kiem";
    m.recipient = "hn.doit/routing";
    expect(&ctx, &m, CPM_V_WRONG_RECIPIENT);
}

static void test_requests_need_may_send(void **state)
{
    (void)state;
    msg_t m = good();
    /* lan may not send case batches to routing. */
    cpm_verify_ctx_t routing = {.self = "hn.doit/routing", .service = "routing"};
    m.type = CPM__MSG_TYPE__MSG_CASE_BATCH;
    m.recipient = "hn.doit/routing";
    expect(&routing, &m, CPM_V_FORBIDDEN);
    /* hk may. */
    m.from = m.signer = &hk;
    m.instance = "intake";
    expect(&routing, &m, CPM_V_OK);
    /* lan may query status at routing, but not at intake. */
    m = good();
    m.type = CPM__MSG_TYPE__MSG_STATUS_QUERY;
    expect(&intake_ctx, &m, CPM_V_FORBIDDEN);
    m.recipient = "hn.doit/routing";
    routing.transport_user = "hn.op.lan";
    expect(&routing, &m, CPM_V_OK);
    /* A wildcard service. */
    m.type = CPM__MSG_TYPE__MSG_EVENTS_FETCH;
    expect(&routing, &m, CPM_V_OK);
    /* A process that serves nothing accepts no requests. */
    cpm_verify_ctx_t client = {.self = "hn.doit/routing"};
    expect(&client, &m, CPM_V_FORBIDDEN);
    /* expect_sender narrows who may talk. */
    routing.expect_sender = "hn.doit";
    expect(&routing, &m, CPM_V_FORBIDDEN);
    routing.expect_sender = "hn.op.lan";
    expect(&routing, &m, CPM_V_OK);
}

static void test_replies(void **state)
{
    (void)state;
    msg_t m = good();
    m.from = m.signer = &doit;
    m.instance = "intake";
    m.recipient = "hn.op.lan/cli.1";
    m.type = CPM__MSG_TYPE__MSG_SUBMIT_REPLY;
    m.correlation_id = "aaaabbbbccccddddaaaabbbbccccdddd";
    cpm_verify_ctx_t client = {.self = "hn.op.lan/cli.1",
                               .awaiting_reply = "aaaabbbbccccddddaaaabbbbccccdddd",
                               .expect_sender = "hn.doit"};
    expect(&client, &m, CPM_V_OK);
    /* Every reply type goes through the same rule. */
    const int replies[] = {CPM__MSG_TYPE__MSG_ACK, CPM__MSG_TYPE__MSG_ERROR,
                           CPM__MSG_TYPE__MSG_HEALTH_REPLY, CPM__MSG_TYPE__MSG_EVENTS_REPLY};
    for (size_t i = 0; i < 4; i++) {
        m.type = replies[i];
        expect(&client, &m, CPM_V_OK);
    }
    m.type = CPM__MSG_TYPE__MSG_SUBMIT_REPLY;
    /* Unsolicited, or for another request. */
    client.awaiting_reply = NULL;
    expect(&client, &m, CPM_V_FORBIDDEN);
    client.awaiting_reply = "ffffbbbbccccddddaaaabbbbccccdddd";
    expect(&client, &m, CPM_V_FORBIDDEN);
    /* An empty correlation id never matches, even an empty expectation. */
    client.awaiting_reply = "";
    m.correlation_id = "";
    expect(&client, &m, CPM_V_FORBIDDEN);
    /* "*" takes any reply, whatever it correlates with (cumulative acks). */
    client.awaiting_reply = "*";
    expect(&client, &m, CPM_V_OK);
    m.correlation_id = "0000bbbbccccddddaaaabbbbccccdddd";
    expect(&client, &m, CPM_V_OK);
    /* ... but only replies. */
    m.type = CPM__MSG_TYPE__MSG_CASE_BATCH;
    expect(&client, &m, CPM_V_FORBIDDEN);
    m.type = CPM__MSG_TYPE__MSG_SUBMIT_REPLY;
    /* From someone else than the one asked. */
    m.correlation_id = client.awaiting_reply = "aaaabbbbccccddddaaaabbbbccccdddd";
    client.expect_sender = "hn.d.hoan-kiem";
    expect(&client, &m, CPM_V_FORBIDDEN);
}

static void test_publish(void **state)
{
    (void)state;
    msg_t m = good();
    m.from = m.signer = &doit;
    m.instance = "routing";
    m.type = CPM__MSG_TYPE__MSG_EVENTS_PUBLISH;
    m.recipient = "*";
    cpm_verify_ctx_t sub = {.self = "hn.op.lan/cli.1", .expect_sender = "hn.doit"};
    expect(&sub, &m, CPM_V_OK);
    expect(NULL, &m, CPM_V_OK);
    /* Addressed to someone: publications go to "*" only. */
    m.recipient = "hn.op.lan/cli.1";
    expect(&sub, &m, CPM_V_WRONG_RECIPIENT);
    expect(NULL, &m, CPM_V_WRONG_RECIPIENT);
    m.recipient = "*";
    /* doit runs no inspection service. */
    m.instance = "inspection";
    expect(&sub, &m, CPM_V_FORBIDDEN);
    /* lan runs no service at all. */
    m.from = m.signer = &lan;
    m.instance = "intake";
    sub.expect_sender = NULL;
    expect(&sub, &m, CPM_V_FORBIDDEN);
}

static void test_replay(void **state)
{
    (void)state;
    cpm_verifier_t *v = cpm_verifier_new(SKEW);
    msg_t m = good();
    assert_int_equal(run(v, &intake_ctx, &m, NOW), CPM_V_OK);
    assert_int_equal(run(v, &intake_ctx, &m, NOW), CPM_V_REPLAY);
    assert_int_equal(run(v, &intake_ctx, &m, NOW + SKEW), CPM_V_REPLAY);
    /* Another instance of the same member has its own numbers. */
    m.instance = "cli.2";
    assert_int_equal(run(v, &intake_ctx, &m, NOW), CPM_V_OK);
    /* A refused message does not use up its number. */
    msg_t f = good();
    f.recipient = "hn.doit/routing";
    assert_int_equal(run(v, &intake_ctx, &f, NOW), CPM_V_WRONG_RECIPIENT);
    f.recipient = "hn.doit/intake";
    f.type = CPM__MSG_TYPE__MSG_CASE_BATCH;
    assert_int_equal(run(v, &intake_ctx, &f, NOW), CPM_V_FORBIDDEN);
    f.type = CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT;
    assert_int_equal(run(v, &intake_ctx, &f, NOW), CPM_V_OK);
    /* Long after, the window has forgotten the principal and the skew check
     * is what refuses the old message. */
    m.instance = "cli.1";
    assert_int_equal(run(v, &intake_ctx, &m, NOW + 2 * SKEW + 2000), CPM_V_CLOCK_SKEW);
    assert_int_equal(cpm_verifier_count(v, CPM_V_OK), 3);
    assert_int_equal(cpm_verifier_count(v, CPM_V_REPLAY), 2);
    assert_int_equal(cpm_verifier_count(v, CPM_V_CLOCK_SKEW), 1);
    cpm_verifier_destroy(&v);
}

static void test_api_edges(void **state)
{
    (void)state;
    assert_null(cpm_verifier_new(0));
    assert_null(cpm_verifier_new(-1));
    cpm_verifier_t *v = cpm_verifier_new(SKEW);
    msg_t m = good();
    size_t len;
    uint8_t *f = build(&m, &len);
    cpm_msg_t out;
    assert_int_equal(cpm_verifier_check(NULL, reg, &intake_ctx, f, len, NOW, &out),
                     CPM_V_MALFORMED);
    assert_int_equal(cpm_verifier_check(v, NULL, &intake_ctx, f, len, NOW, &out), CPM_V_MALFORMED);
    assert_int_equal(cpm_verifier_check(v, reg, &intake_ctx, f, len, NOW, NULL), CPM_V_MALFORMED);
    /* No context: nothing to authorize a request against. */
    assert_int_equal(cpm_verifier_check(v, reg, NULL, f, len, NOW, &out), CPM_V_FORBIDDEN);
    free(f);
    for (int i = 0; i < CPM_V_COUNT; i++)
        assert_int_equal(cpm_verifier_count(v, (cpm_verdict_t)i), i == CPM_V_FORBIDDEN ? 1 : 0);
    assert_int_equal(cpm_verifier_count(v, CPM_V_COUNT), 0);
    assert_int_equal(cpm_verifier_count(NULL, CPM_V_OK), 0);
    cpm_verifier_destroy(&v);
    assert_null(v);
    cpm_verifier_destroy(&v);
    cpm_verifier_destroy(NULL);
}

static void test_verdict_names(void **state)
{
    (void)state;
    const char *want[CPM_V_COUNT] = {"ok",           "oversize",        "malformed",
                                     "bad_version",  "unknown_sender",  "unknown_key",
                                     "revoked_key",  "bad_signature",   "clock_skew",
                                     "unknown_type", "wrong_recipient", "transport_mismatch",
                                     "forbidden",    "replay",          "key_not_valid_at"};
    for (int i = 0; i < CPM_V_COUNT; i++)
        assert_string_equal(cpm_verdict_name((cpm_verdict_t)i), want[i]);
    assert_string_equal(cpm_verdict_name(CPM_V_COUNT), "invalid");
    assert_string_equal(cpm_verdict_name((cpm_verdict_t)-1), "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_size_and_decoding),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_reply_address),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_version_2_still_taken),
        cmocka_unit_test(test_sender_and_keys),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_clock_skew),
        cmocka_unit_test(test_type),
        cmocka_unit_test(test_recipient_and_transport),
        cmocka_unit_test(test_requests_need_may_send),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_publish),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_api_edges),
        cmocka_unit_test(test_verdict_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
