/* cpm-gen-vectors: writes the protocol test vectors (keys.json, registry.json,
 * envelopes.json, events.json) into the folder given as argument.
 *
 * Everything is derived from fixed seeds and fixed times, and Ed25519 is
 * deterministic, so running it twice gives the same files. The vectors are
 * checked in; tests/unit/test_vectors.c recomputes them and fails when the
 * code no longer produces these bytes. Regenerate only for a deliberate
 * change of the wire format, and say so in the change. See README.md. */
#include "cpm_envelope.h"
#include "cpm_keys.h"
#include "cpm_merkle.h"
#include "cpm_pbcheck.h"
#include "cpm_registry.h"
#include "cpm_util.h"
#include "cpm_verifier.h"
#include "exchange.pb-c.h"
#include "vector_registry.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS 1767225600000LL /* 2026-01-01T00:00:00Z */
#define MAX_SKEW_MS 300000LL
#define CURVE_SEED_DOMAIN "CPMESH-CURVE-SEED"
#define EVENT_NODE "hn.doit"
#define EVENT_SERVICE "routing"

enum { ROOT, DOIT, HK, LAN, OLD, GHOST, NIDS };
static const char *const ID_NAMES[NIDS] = {"root",      "hn.doit",   "hn.d.hoan-kiem",
                                           "hn.op.lan", "hn.op.old", "hn.op.ghost"};
static cpm_identity_t ids[NIDS];
static uint8_t seeds[NIDS][32];

static json_t *hexj(const uint8_t *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    cpm_hex_encode(b, n, s);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static int write_doc(const char *dir, const char *name, json_t *doc)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (!text)
        return -1;
    size_t n = strlen(text);
    char *withnl = malloc(n + 2);
    memcpy(withnl, text, n);
    withnl[n] = '\n';
    int rc = cpm_write_file(path, withnl, n + 1, 0644);
    free(withnl);
    free(text);
    if (rc != 0)
        fprintf(stderr, "cannot write %s\n", path);
    return rc;
}

/* ---- keys ------------------------------------------------------------------- */

static json_t *gen_keys(void)
{
    json_t *list = json_array();
    for (int i = 0; i < NIDS; i++) {
        memset(seeds[i], 0xa0 + i, 32);
        if (cpm_identity_from_seed(&ids[i], ID_NAMES[i], seeds[i]) != 0)
            return NULL;
        const cpm_identity_t *id = &ids[i];
        json_array_append_new(
            list, json_pack("{s:s, s:o, s:s, s:o, s:o, s:o, s:o}", "id", id->id, "seed",
                            hexj(seeds[i], 32), "key_id", id->key_id, "sign_pk",
                            hexj(id->sign_pk, 32), "sign_sk", hexj(id->sign_sk, 64), "curve_pk",
                            hexj(id->curve_pk, 32), "curve_sk", hexj(id->curve_sk, 32)));
    }
    return json_pack("{s:s, s:o, s:o}", "description",
                     "Identities derived with cpm_identity_from_seed. sign_sk = seed || sign_pk "
                     "(libsodium form); curve_sk = SHA-256(curve_seed_domain || seed); "
                     "curve_pk = X25519 base point times curve_sk; key_id = hex of the first 8 "
                     "bytes of SHA-256(sign_pk). All values lowercase hex.",
                     "curve_seed_domain_hex",
                     hexj((const uint8_t *)CURVE_SEED_DOMAIN, sizeof CURVE_SEED_DOMAIN),
                     "identities", list);
}

/* ---- registry ----------------------------------------------------------------- */

typedef struct {
    int who;
    const char *role, *ticket_prefix, *area;
    const char *services[3][3]; /* name, endpoint, pub_endpoint */
    const char *may_send[6];
} member_def_t;

static const member_def_t MEMBERS[] = {
    {DOIT,
     "department",
     "HN",
     "",
     {{"intake", "tcp://10.0.0.1:7101", "tcp://10.0.0.1:7102"},
      {"routing", "tcp://10.0.0.1:7111", "tcp://10.0.0.1:7112"},
      {"exchange", "tcp://10.0.0.1:7131", "tcp://10.0.0.1:7132"}},
     {"assign_batch@inspection", "events_fetch@*", "health_query@*"}},
    {HK,
     "area",
     "HK",
     "hoan-kiem",
     {{"intake", "tcp://10.0.1.1:7101", "tcp://10.0.1.1:7102"},
      {"inspection", "tcp://10.0.1.1:7121", "tcp://10.0.1.1:7122"},
      {"exchange", "tcp://10.0.1.1:7131", "tcp://10.0.1.1:7132"}},
     {"case_batch@routing", "update_batch@routing", "events_fetch@*", "health_query@*"}},
    {LAN,
     "operator",
     "",
     "",
     {{0}},
     {"submit_complaint@intake", "record_consultation@intake", "status_query@routing",
      "events_fetch@*", "health_query@*"}},
    {OLD, "operator", "", "", {{0}}, {"submit_complaint@intake", "status_query@routing"}},
};
#define NMEMBERS (sizeof MEMBERS / sizeof MEMBERS[0])
#define REG_VERSION 7
#define REG_ISSUED_MS (NOW_MS - 86400000LL)
#define REG_MESH "hanoi-vectors"

static cpm_registry_t *registry;

static json_t *member_json(const member_def_t *d)
{
    const cpm_identity_t *id = &ids[d->who];
    json_t *svcs = json_array(), *rules = json_array();
    for (int s = 0; s < 3 && d->services[s][0]; s++)
        json_array_append_new(svcs,
                              json_pack("{s:s, s:s, s:s}", "name", d->services[s][0], "endpoint",
                                        d->services[s][1], "pub_endpoint", d->services[s][2]));
    for (int r = 0; r < 6 && d->may_send[r]; r++)
        json_array_append_new(rules, json_string(d->may_send[r]));
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s}", "id", id->id, "agency",
                     id->id, "role", d->role, "name", id->id, "sign_pk", hexj(id->sign_pk, 32),
                     "curve_pk", hexj(id->curve_pk, 32), "services", svcs, "may_send", rules,
                     "ticket_prefix", d->ticket_prefix, "area", d->area);
}

static json_t *gen_registry(void)
{
    json_t *members = json_array();
    for (size_t i = 0; i < NMEMBERS; i++)
        json_array_append_new(members, member_json(&MEMBERS[i]));
    json_t *doc = json_pack("{s:i, s:I, s:s, s:o, s:[s]}", "version", REG_VERSION, "issued_ms",
                            (json_int_t)REG_ISSUED_MS, "mesh", REG_MESH, "members", members,
                            "revoked_keys", ids[OLD].key_id);
    Cpm__Registry *r = vector_registry_from_json(doc);
    size_t rlen = cpm__registry__get_packed_size(r);
    uint8_t *rbytes = malloc(rlen);
    cpm__registry__pack(r, rbytes);
    uint8_t *signed_buf = NULL;
    size_t signed_len = 0;
    if (cpm_registry_sign(r, ids[ROOT].sign_sk, &signed_buf, &signed_len) != 0)
        return NULL;
    cpm__registry__free_unpacked(r, NULL); /* every field was malloc'd */

    size_t dlen = sizeof CPM_REGISTRY_DOMAIN;
    uint8_t *input = malloc(dlen + rlen);
    memcpy(input, CPM_REGISTRY_DOMAIN, dlen);
    memcpy(input + dlen, rbytes, rlen);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, input, dlen + rlen, ids[ROOT].sign_sk);

    char err[256] = "";
    registry = cpm_registry_from_signed(signed_buf, signed_len, ids[ROOT].sign_pk, err, sizeof err);
    if (!registry) {
        fprintf(stderr, "registry refused: %s\n", err);
        return NULL;
    }
    json_t *out = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "description",
        "A registry signed by the root key. registry_hex is the serialized Registry built "
        "from document; signature = Ed25519(root sign_sk, domain || registry bytes); "
        "signed_registry_hex is the SignedRegistry {1: registry bytes, 2: signature}.",
        "root", ID_NAMES[ROOT], "root_sign_pk", hexj(ids[ROOT].sign_pk, 32), "domain_hex",
        hexj((const uint8_t *)CPM_REGISTRY_DOMAIN, dlen), "document", doc, "registry_hex",
        hexj(rbytes, rlen), "signature_input_hex", hexj(input, dlen + rlen), "signature_hex",
        hexj(sig, 64), "signed_registry_hex", hexj(signed_buf, signed_len));
    free(input);
    free(rbytes);
    free(signed_buf);
    return out;
}

/* ---- envelopes ------------------------------------------------------------- */

/* A layout case (docs/protocol.md section 6, checks 2 and 3) edits the
 * standard bytes: the envelope before signing, so the signature is valid and
 * only the layout is wrong, or the frame after signing. */
enum { EDIT_NONE, EDIT_ENVELOPE, EDIT_FRAME };
enum { EDIT_APPEND, EDIT_REPLACE, EDIT_REPEAT };

typedef struct {
    int target; /* EDIT_* */
    int op;     /* append ins; replace field `field` by ins; append a copy of field `field` */
    uint32_t field;
    uint8_t ins[64];
    size_t ins_len;
} edit_t;

typedef struct {
    const char *name, *description;
    const char *expect[3];
    int signer;
    int from;
    const char *key_id; /* NULL: the sender's */
    uint32_t version;
    const char *instance;
    uint64_t seq;
    int64_t sent_ms;
    int type;
    const char *msg_id, *correlation_id, *recipient;
    const char *payload_type;
    uint8_t payload[4096]; /* the largest: good_publish's EventBatch of the five events */
    size_t payload_len;
    json_t *payload_json;
    cpm_verify_ctx_t ctx;
    int tamper; /* flip the last payload byte of the frame */
    edit_t edit;
    uint32_t sign_as; /* 0: signed as its version says; 2 or 3: that version's way */
} case_t;

static json_t *ctx_json(const cpm_verify_ctx_t *c)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "self", str_or_null(c->self), "service",
                     str_or_null(c->service), "transport_user", str_or_null(c->transport_user),
                     "awaiting_reply", str_or_null(c->awaiting_reply), "expect_sender",
                     str_or_null(c->expect_sender));
}

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Where field `number` is encoded in buf (tag included): 0, or -1 when absent. */
static int find_field(const uint8_t *buf, size_t len, uint32_t number, size_t *off, size_t *n)
{
    const uint8_t *p = buf, *end = buf + len, *start = p;
    cpm_pb_field_t f;
    while (cpm_pb_next(&p, end, &f) == 1) {
        if (f.number == number) {
            *off = (size_t)(start - buf);
            *n = (size_t)(p - start);
            return 0;
        }
        start = p;
    }
    return -1;
}

/* Applies c->edit to *buf (malloc'd, *len bytes): at offset, delete bytes,
 * insert bytes. Returns the edit as JSON, or NULL on failure. */
static json_t *apply_edit(const edit_t *ed, uint8_t **buf, size_t *len)
{
    size_t off = *len, del = 0, at, n;
    const uint8_t *ins = ed->ins;
    size_t ins_len = ed->ins_len;
    uint8_t copy[1024];
    if (ed->op != EDIT_APPEND) {
        if (find_field(*buf, *len, ed->field, &at, &n) != 0)
            return NULL;
        if (ed->op == EDIT_REPLACE) {
            off = at;
            del = n;
        } else {
            if (n > sizeof copy)
                return NULL;
            memcpy(copy, *buf + at, n);
            ins = copy;
            ins_len = n;
        }
    }
    uint8_t *out = malloc(*len - del + ins_len);
    memcpy(out, *buf, off);
    memcpy(out + off, ins, ins_len);
    memcpy(out + off + ins_len, *buf + off + del, *len - off - del);
    json_t *j = json_pack(
        "{s:s, s:I, s:I, s:o}", "target", ed->target == EDIT_ENVELOPE ? "envelope" : "frame",
        "offset", (json_int_t)off, "delete", (json_int_t)del, "insert_hex", hexj(ins, ins_len));
    free(*buf);
    *buf = out;
    *len = *len - del + ins_len;
    return j;
}

/* The signature input of envelope bytes as a version signs them (malloc'd). */
static uint8_t *sig_input(uint32_t version, const uint8_t *envb, size_t env_len, size_t *len)
{
    if (version == CPM_PROTO_VERSION_V2) {
        size_t dlen = sizeof CPM_ENVELOPE_DOMAIN_V2;
        uint8_t *in = malloc(dlen + env_len);
        memcpy(in, CPM_ENVELOPE_DOMAIN_V2, dlen);
        memcpy(in + dlen, envb, env_len);
        *len = dlen + env_len;
        return in;
    }
    uint8_t *in = malloc(CPM_ENVELOPE_SIG_INPUT_LEN);
    cpm_envelope_sig_input(envb, env_len, in);
    *len = CPM_ENVELOPE_SIG_INPUT_LEN;
    return in;
}

static json_t *envelope_case(case_t *c)
{
    const cpm_identity_t *from = &ids[c->from];
    const char *type_name =
        protobuf_c_enum_descriptor_get_value(&cpm__msg_type__descriptor, c->type)
            ? protobuf_c_enum_descriptor_get_value(&cpm__msg_type__descriptor, c->type)->name
            : "";
    Cpm__Envelope e = CPM__ENVELOPE__INIT;
    e.version = c->version;
    e.sender = (char *)from->id;
    e.sender_instance = (char *)c->instance;
    e.key_id = (char *)(c->key_id ? c->key_id : from->key_id);
    e.seq = c->seq;
    e.sent_ms = c->sent_ms;
    e.type = (Cpm__MsgType)c->type;
    e.msg_id = (char *)c->msg_id;
    e.correlation_id = (char *)(c->correlation_id ? c->correlation_id : "");
    e.recipient = (char *)c->recipient;
    e.payload.data = c->payload;
    e.payload.len = c->payload_len;
    size_t env_len = cpm__envelope__get_packed_size(&e);
    uint8_t *envb = malloc(env_len);
    cpm__envelope__pack(&e, envb);
    json_t *edit = NULL;
    if (c->edit.target == EDIT_ENVELOPE && !(edit = apply_edit(&c->edit, &envb, &env_len))) {
        free(envb);
        return NULL;
    }
    /* Version 2: the domain "CPMESH-ENVELOPE-V1\0" and the envelope bytes;
     * version 3: "CPMESH-ENVELOPE-V3\0" and BLAKE2b-512 of the bytes. */
    size_t in_len;
    uint32_t signed_as = c->sign_as                           ? c->sign_as
                         : c->version == CPM_PROTO_VERSION_V2 ? CPM_PROTO_VERSION_V2
                                                              : CPM_PROTO_VERSION;
    uint8_t *input = sig_input(signed_as, envb, env_len, &in_len);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, input, in_len, ids[c->signer].sign_sk);
    Cpm__SignedEnvelope se = CPM__SIGNED_ENVELOPE__INIT;
    se.envelope.data = envb;
    se.envelope.len = env_len;
    se.signature.data = sig;
    se.signature.len = 64;
    size_t frame_len = cpm__signed_envelope__get_packed_size(&se);
    uint8_t *frame = malloc(frame_len);
    cpm__signed_envelope__pack(&se, frame);

    json_t *mutation = json_null();
    if (c->tamper) {
        /* The frame starts with tag 0x0a and the envelope length; the payload
         * is the envelope's last field, so its last byte is here: */
        size_t off = 1 + varint_len(env_len) + env_len - 1;
        frame[off] ^= 0x01;
        mutation = json_pack("{s:I, s:s}", "frame_offset", (json_int_t)off, "xor", "01");
    }
    if (c->edit.target == EDIT_FRAME && !(edit = apply_edit(&c->edit, &frame, &frame_len))) {
        free(frame);
        free(input);
        free(envb);
        return NULL;
    }

    json_t *env = json_pack(
        "{s:i, s:s, s:s, s:s, s:I, s:I, s:s, s:i, s:s, s:s, s:s, s:s, s:o, s:o}", "version",
        (int)c->version, "sender", from->id, "sender_instance", c->instance, "key_id", e.key_id,
        "seq", (json_int_t)c->seq, "sent_ms", (json_int_t)c->sent_ms, "type", type_name,
        "type_value", c->type, "msg_id", c->msg_id, "correlation_id", e.correlation_id, "recipient",
        c->recipient, "payload_type", c->payload_type ? c->payload_type : "", "payload",
        c->payload_json ? c->payload_json : json_null(), "payload_hex",
        hexj(c->payload, c->payload_len));
    json_t *expect = json_array();
    for (int i = 0; i < 3 && c->expect[i]; i++)
        json_array_append_new(expect, json_string(c->expect[i]));
    json_t *out = json_pack("{s:s, s:s, s:s, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
                            c->name, "description", c->description, "signer", ID_NAMES[c->signer],
                            "envelope", env, "signed_as", (int)signed_as, "envelope_hex",
                            hexj(envb, env_len), "signature_input_hex", hexj(input, in_len),
                            "signature_hex", hexj(sig, 64), "mutation", mutation, "frame_hex",
                            hexj(frame, frame_len), "ctx", ctx_json(&c->ctx), "expect", expect);
    if (edit)
        json_object_set_new(out, "edit", edit); /* only layout cases have one */

    /* The generator checks its own expectations, so a wrong vector is never written. */
    cpm_verifier_t *v = cpm_verifier_new(MAX_SKEW_MS);
    for (int i = 0; i < 3 && c->expect[i]; i++) {
        cpm_msg_t m;
        cpm_verdict_t r = cpm_verifier_check(v, registry, &c->ctx, frame, frame_len, NOW_MS, &m);
        cpm_msg_clear(&m);
        if (strcmp(cpm_verdict_name(r), c->expect[i]) != 0) {
            fprintf(stderr, "case %s: verdict %s, expected %s\n", c->name, cpm_verdict_name(r),
                    c->expect[i]);
            json_decref(out);
            out = NULL;
            break;
        }
    }
    cpm_verifier_destroy(&v);
    free(frame);
    free(input);
    free(envb);
    return out;
}

static size_t pack_msg(const ProtobufCMessage *m, uint8_t *buf)
{
    if (protobuf_c_message_get_packed_size(m) > sizeof((case_t *)0)->payload) {
        fprintf(stderr, "gen_vectors: a payload is larger than case_t.payload\n");
        exit(1);
    }
    return protobuf_c_message_pack(m, buf);
}

/* The standard cases start from this: an operator's hotline client submits
 * a complaint to the city's intake. */
static case_t base_case(const char *name, const char *description, const char *verdict)
{
    case_t c = {
        .name = name,
        .description = description,
        .expect = {verdict},
        .signer = LAN,
        .from = LAN,
        .version = CPM_PROTO_VERSION,
        .instance = "cli.4242",
        .seq = (uint64_t)(NOW_MS - 1500) * 1000,
        .sent_ms = NOW_MS - 1500,
        .type = CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
        .msg_id = "00112233445566778899aabbccddeeff",
        .recipient = "hn.doit/intake",
        .payload_type = "Complaint",
        .ctx = {.self = "hn.doit/intake", .service = "intake", .transport_user = "hn.op.lan"},
    };
    Cpm__Complaint k = CPM__COMPLAINT__INIT;
    k.channel = "hotline";
    k.consumer_name = "Nguyen Van A";
    k.consumer_phone = "0900000000";
    k.business_name = "Cua hang X";
    k.area = "hoan-kiem";
    k.category = "food";
    k.description = "Expired milk sold on 2025-12-30";
    k.event_time_ms = NOW_MS - 2 * 86400000LL;
    k.client_ref = "cli-0001";
    c.payload_len = pack_msg(&k.base, c.payload);
    c.payload_json = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "channel", k.channel, "consumer_name",
        k.consumer_name, "consumer_phone", k.consumer_phone, "business_name", k.business_name,
        "area", k.area, "category", k.category, "description", k.description, "event_time_ms",
        (json_int_t)k.event_time_ms, "client_ref", k.client_ref);
    return c;
}

static int add(json_t *cases, case_t c)
{
    json_t *j = envelope_case(&c);
    if (!j)
        return -1;
    json_array_append_new(cases, j);
    return 0;
}

static void set_reply(case_t *c)
{
    json_decref(c->payload_json);
    c->from = c->signer = DOIT;
    c->instance = "intake";
    c->type = CPM__MSG_TYPE__MSG_SUBMIT_REPLY;
    c->msg_id = "ffeeddccbbaa99887766554433221100";
    c->correlation_id = "00112233445566778899aabbccddeeff";
    c->recipient = "hn.op.lan/cli.4242";
    c->seq = (uint64_t)(NOW_MS - 1400) * 1000;
    c->sent_ms = NOW_MS - 1400;
    c->payload_type = "SubmitReply";
    Cpm__SubmitReply r = CPM__SUBMIT_REPLY__INIT;
    r.ticket = "HN-2026-000001";
    c->payload_len = pack_msg(&r.base, c->payload);
    c->payload_json = json_pack("{s:s, s:b}", "ticket", r.ticket, "duplicate", 0);
    c->ctx = (cpm_verify_ctx_t){.self = "hn.op.lan/cli.4242",
                                .awaiting_reply = "00112233445566778899aabbccddeeff",
                                .expect_sender = "hn.doit"};
}

static void set_batch(case_t *c)
{
    json_decref(c->payload_json);
    /* The record is the complaint of the base case, now with its ticket. */
    Cpm__Complaint *k = cpm__complaint__unpack(NULL, c->payload_len, c->payload);
    k->ticket = "HK-2026-000001";
    k->received_ms = NOW_MS - 1000;
    k->intake_node = "hn.d.hoan-kiem";
    uint8_t rec[400];
    ProtobufCBinaryData records[1] = {{cpm__complaint__pack(k, rec), rec}};
    k->ticket = k->intake_node = NULL; /* not ours to free */
    cpm__complaint__free_unpacked(k, NULL);
    Cpm__DeliveryBatch b = CPM__DELIVERY_BATCH__INIT;
    b.stream = "hn.d.hoan-kiem/intake>hn.doit/routing";
    b.first_seq = 1;
    b.n_records = 1;
    b.records = records;
    c->from = c->signer = HK;
    c->instance = "intake";
    c->type = CPM__MSG_TYPE__MSG_CASE_BATCH;
    c->msg_id = "0123456789abcdef0123456789abcdef";
    c->recipient = "hn.doit/routing";
    c->seq = (uint64_t)(NOW_MS - 900) * 1000;
    c->sent_ms = NOW_MS - 900;
    c->payload_type = "DeliveryBatch";
    c->payload_len = pack_msg(&b.base, c->payload);
    c->payload_json = json_pack("{s:s, s:i, s:[o]}", "stream", b.stream, "first_seq", 1,
                                "records_hex", hexj(rec, records[0].len));
    c->ctx = (cpm_verify_ctx_t){
        .self = "hn.doit/routing", .service = "routing", .transport_user = "hn.d.hoan-kiem"};
}

/* ---- events ------------------------------------------------------------------ */

typedef struct {
    const char *kind, *ticket, *agency, *area, *category;
    uint32_t state; /* CaseState number */
    const char *rule, *actor, *note;
    /* the record fields (14-21): hashed after "R1" only when one is set */
    const char *business, *address, *violation;
    int64_t fine_vnd;
    const char *tax_code, *inspection, *channel;
    uint32_t outcome; /* Outcome number */
    /* the suggestion fields (22-25): hashed after "R2" only when one is set */
    const char *product, *suggested;
    uint32_t suggestion_pm;
    const char *category_by;
} event_def_t;

#define NO_SUGGESTION NULL, NULL, 0, NULL
#define NO_RECORD NULL, NULL, NULL, 0, NULL, NULL, NULL, 0
static const event_def_t EVENTS[] = {
    {"case.routed", "HK-2026-000001", "hn.d.hoan-kiem", "hoan-kiem", "food", 2, "area-food", "",
     "reason=Đơn mới", NO_RECORD, NO_SUGGESTION},
    {"case.assigned", "HK-2026-000001", "hn.d.hoan-kiem", "hoan-kiem", "food", 3, "area-food",
     "hn.d.hoan-kiem", "", NO_RECORD, NO_SUGGESTION},
    {"case.accepted", "HK-2026-000001", "hn.d.hoan-kiem", "hoan-kiem", "food", 4, "area-food",
     "hn.i.tuan", "", NO_RECORD, NO_SUGGESTION},
    {"violation.recorded", "HK-2026-000001", "hn.d.hoan-kiem", "hoan-kiem", "food", 0, "",
     "hn.i.tuan", "finding", "Công ty TNHH Phở Cồ", "12 Hàng Bạc", "ND115-2018-6", 7000000,
     "0101234567-001", "hn.d.hoan-kiem/I1", "", 0, NO_SUGGESTION},
    {"case.categorized", "HK-2026-000002", "hn.d.hoan-kiem", "hoan-kiem", "food_safety", 2,
     "R02-food", "coordinator.hn.doit", "category other -> food_safety", NO_RECORD, "", "pricing",
     412, "person"},
};
#define NEVENTS (sizeof EVENTS / sizeof EVENTS[0])

static void put_str(uint8_t *buf, size_t *n, const char *s)
{
    uint32_t len = (uint32_t)strlen(s);
    buf[(*n)++] = (uint8_t)(len >> 24);
    buf[(*n)++] = (uint8_t)(len >> 16);
    buf[(*n)++] = (uint8_t)(len >> 8);
    buf[(*n)++] = (uint8_t)len;
    memcpy(buf + *n, s, len);
    *n += len;
}

static bool def_has_record(const event_def_t *d)
{
    const char *s[] = {d->business, d->address,    d->violation,
                       d->tax_code, d->inspection, d->channel};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        if (s[i] && *s[i])
            return true;
    return d->fine_vnd != 0 || d->outcome != 0;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static bool def_has_suggestion(const event_def_t *d)
{
    return (d->product && *d->product) || (d->suggested && *d->suggested) ||
           d->suggestion_pm != 0 || (d->category_by && *d->category_by);
}

/* Writes events.json and fills batch with the chain, for the publish case. */
static json_t *gen_events(Cpm__EventBatch *batch, Cpm__Event **evs)
{
    json_t *list = json_array();
    uint8_t prev[32] = {0};
    static uint8_t hashes[NEVENTS][32], prevs[NEVENTS][32];
    for (size_t i = 0; i < NEVENTS; i++) {
        const event_def_t *d = &EVENTS[i];
        int64_t at = NOW_MS - 60000 + 1000 * (int64_t)i;
        uint8_t input[1024];
        size_t n = 0;
        memcpy(input, prev, 32);
        n = 32;
        cpm_put_be64(input + n, i + 1);
        n += 8;
        cpm_put_be64(input + n, (uint64_t)at);
        n += 8;
        put_str(input, &n, d->kind);
        put_str(input, &n, d->ticket);
        put_str(input, &n, d->agency);
        put_str(input, &n, d->area);
        put_str(input, &n, d->category);
        input[n++] = (uint8_t)(d->state >> 24);
        input[n++] = (uint8_t)(d->state >> 16);
        input[n++] = (uint8_t)(d->state >> 8);
        input[n++] = (uint8_t)d->state;
        put_str(input, &n, d->rule);
        put_str(input, &n, d->actor);
        put_str(input, &n, d->note);
        bool rec = def_has_record(d);
        if (rec) { /* the record tail "R1" */
            input[n++] = 'R';
            input[n++] = '1';
            put_str(input, &n, or_empty(d->business));
            put_str(input, &n, or_empty(d->address));
            put_str(input, &n, or_empty(d->violation));
            cpm_put_be64(input + n, (uint64_t)d->fine_vnd);
            n += 8;
            put_str(input, &n, or_empty(d->tax_code));
            put_str(input, &n, or_empty(d->inspection));
            put_str(input, &n, or_empty(d->channel));
            input[n++] = (uint8_t)(d->outcome >> 24);
            input[n++] = (uint8_t)(d->outcome >> 16);
            input[n++] = (uint8_t)(d->outcome >> 8);
            input[n++] = (uint8_t)d->outcome;
        }
        bool sug = def_has_suggestion(d);
        if (sug) { /* the suggestion tail "R2" */
            input[n++] = 'R';
            input[n++] = '2';
            put_str(input, &n, or_empty(d->product));
            put_str(input, &n, or_empty(d->suggested));
            input[n++] = (uint8_t)(d->suggestion_pm >> 24);
            input[n++] = (uint8_t)(d->suggestion_pm >> 16);
            input[n++] = (uint8_t)(d->suggestion_pm >> 8);
            input[n++] = (uint8_t)d->suggestion_pm;
            put_str(input, &n, or_empty(d->category_by));
        }
        memcpy(prevs[i], prev, 32);
        crypto_hash_sha256(hashes[i], input, n);
        memcpy(prev, hashes[i], 32);

        Cpm__Event *ev = evs[i];
        cpm__event__init(ev);
        ev->seq = i + 1;
        ev->at_ms = at;
        ev->kind = (char *)d->kind;
        ev->ticket = (char *)d->ticket;
        ev->agency = (char *)d->agency;
        ev->area = (char *)d->area;
        ev->category = (char *)d->category;
        ev->state = (Cpm__CaseState)d->state;
        ev->rule = (char *)d->rule;
        ev->actor = (char *)d->actor;
        ev->note = (char *)d->note;
        if (rec) {
            ev->business = (char *)or_empty(d->business);
            ev->address = (char *)or_empty(d->address);
            ev->violation = (char *)or_empty(d->violation);
            ev->fine_vnd = d->fine_vnd;
            ev->tax_code = (char *)or_empty(d->tax_code);
            ev->inspection = (char *)or_empty(d->inspection);
            ev->channel = (char *)or_empty(d->channel);
            ev->outcome = (Cpm__Outcome)d->outcome;
        }
        if (sug) {
            ev->product = (char *)or_empty(d->product);
            ev->suggested = (char *)or_empty(d->suggested);
            ev->suggestion_pm = d->suggestion_pm;
            ev->category_by = (char *)or_empty(d->category_by);
        }
        ev->prev_hash.data = prevs[i];
        ev->prev_hash.len = 32;
        ev->hash.data = hashes[i];
        ev->hash.len = 32;
        size_t elen = cpm__event__get_packed_size(ev);
        uint8_t ebuf[1024];
        cpm__event__pack(ev, ebuf);
        json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "seq",
                              (json_int_t)(i + 1), "at_ms", (json_int_t)at, "kind", d->kind,
                              "ticket", d->ticket, "agency", d->agency, "area", d->area, "category",
                              d->category, "state", (json_int_t)d->state, "rule", d->rule, "actor",
                              d->actor, "note", d->note);
        if (rec) {
            json_object_set_new(o, "business", json_string(or_empty(d->business)));
            json_object_set_new(o, "address", json_string(or_empty(d->address)));
            json_object_set_new(o, "violation", json_string(or_empty(d->violation)));
            json_object_set_new(o, "fine_vnd", json_integer(d->fine_vnd));
            json_object_set_new(o, "tax_code", json_string(or_empty(d->tax_code)));
            json_object_set_new(o, "inspection", json_string(or_empty(d->inspection)));
            json_object_set_new(o, "channel", json_string(or_empty(d->channel)));
            json_object_set_new(o, "outcome", json_integer(d->outcome));
        }
        if (sug) {
            json_object_set_new(o, "product", json_string(or_empty(d->product)));
            json_object_set_new(o, "suggested", json_string(or_empty(d->suggested)));
            json_object_set_new(o, "suggestion_pm", json_integer(d->suggestion_pm));
            json_object_set_new(o, "category_by", json_string(or_empty(d->category_by)));
        }
        json_object_set_new(o, "prev_hash_hex", hexj(prevs[i], 32));
        json_object_set_new(o, "hash_input_hex", hexj(input, n));
        json_object_set_new(o, "hash_hex", hexj(hashes[i], 32));
        json_object_set_new(o, "event_hex", hexj(ebuf, elen));
        json_array_append_new(list, o);
    }
    batch->node = EVENT_NODE;
    batch->service = EVENT_SERVICE;
    batch->head_seq = NEVENTS;
    batch->n_events = NEVENTS;
    batch->events = evs;
    size_t blen = cpm__event_batch__get_packed_size(batch);
    uint8_t *bbuf = malloc(blen);
    cpm__event_batch__pack(batch, bbuf);
    json_t *out = json_pack(
        "{s:s, s:s, s:s, s:o, s:o}", "description",
        "An event log's first five events. hash = SHA-256(hash_input); hash_input = prev_hash "
        "(32) || seq (u64 BE) || at_ms (i64 BE) || for kind, ticket, agency, area, category: "
        "length (u32 BE) || UTF-8 bytes || state (u32 BE, the CaseState number) || for rule, "
        "actor, note: length (u32 BE) || UTF-8 bytes, and only when one of the record fields "
        "(14-21) is set (event 4): \"R1\" || for business, address, violation: length || UTF-8 "
        "|| fine_vnd (i64 BE) || for tax_code, inspection, channel: length || UTF-8 || outcome "
        "(u32 BE, the Outcome number), and only when one of the suggestion fields (22-25) is "
        "set (event 5): \"R2\" || for product, suggested: length || UTF-8 || suggestion_pm "
        "(u32 BE) || category_by: length || UTF-8. prev_hash of seq 1 is 32 zero bytes. "
        "event_batch_hex is the "
        "EventBatch carrying all five, as in EventsReply and on PUB.",
        "node", EVENT_NODE, "service", EVENT_SERVICE, "events", list, "event_batch_hex",
        hexj(bbuf, blen));
    free(bbuf);
    return out;
}

static void set_publish(case_t *c, const Cpm__EventBatch *batch)
{
    json_decref(c->payload_json);
    c->from = c->signer = DOIT;
    c->instance = "routing";
    c->type = CPM__MSG_TYPE__MSG_EVENTS_PUBLISH;
    c->msg_id = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
    c->recipient = "*";
    c->seq = (uint64_t)(NOW_MS - 800) * 1000;
    c->sent_ms = NOW_MS - 800;
    c->payload_type = "EventBatch";
    c->payload_len = pack_msg(&batch->base, c->payload);
    c->payload_json = json_pack("{s:s}", "see", "events.json");
    c->ctx = (cpm_verify_ctx_t){.self = "hn.op.lan/cli.4242", .expect_sender = "hn.doit"};
}

/* A layout case: case good, signed by its sender, with one rule of the
 * fixed layout (docs/protocol.md section 6, checks 2 and 3) broken. */
static case_t layout_case(const char *name, const char *description, int target, int op,
                          uint32_t field, const void *ins, size_t ins_len)
{
    case_t c = base_case(name, description, "malformed");
    c.edit = (edit_t){.target = target, .op = op, .field = field, .ins_len = ins_len};
    if (ins_len)
        memcpy(c.edit.ins, ins, ins_len);
    return c;
}

static int add_layout_cases(json_t *cases)
{
    int rc = 0;
    /* String literals: the sizes leave out the terminating zero. */
    static const char unknown3[] = "\x1a\x03xxx";
    static const char wire2[] = "\x10\x40";
    static const char unknown12[] = "\x62\x03xxx";
    static const char again10[] = "\x52\x15hn.d.hoan-kiem/intake";
    static const char overlong[] = "\x52\x0fhn.doit\xc0\xafintake";
    static const char zero[] = "\x12\x0ahn.op.lan\x00";
    uint8_t fixed64[9] = {0x29}; /* the seq of base_case, little-endian */
    for (int i = 0; i < 8; i++)
        fixed64[1 + i] = (uint8_t)((uint64_t)(NOW_MS - 1500) * 1000 >> (8 * i));

    rc |= add(cases, layout_case("frame_unknown_field",
                                 "Case good with field 3 (3 bytes \"xxx\") appended to the "
                                 "SignedEnvelope: only fields 1 and 2 may appear.",
                                 EDIT_FRAME, EDIT_APPEND, 0, unknown3, sizeof unknown3 - 1));
    rc |= add(cases, layout_case("frame_repeated_envelope",
                                 "Case good with field 1 (the envelope) appended again after the "
                                 "signature: each field at most once.",
                                 EDIT_FRAME, EDIT_REPEAT, 1, NULL, 0));
    rc |= add(cases, layout_case("frame_signature_wire_type",
                                 "Case good with the signature field replaced by field 2 as a "
                                 "varint (tag 10, value 64): field 2 must be length-delimited.",
                                 EDIT_FRAME, EDIT_REPLACE, 2, wire2, sizeof wire2 - 1));
    rc |= add(cases, layout_case("envelope_unknown_field",
                                 "Case good with field 12 (3 bytes \"xxx\") appended to the "
                                 "Envelope before signing: only fields 1 to 11 may appear.",
                                 EDIT_ENVELOPE, EDIT_APPEND, 0, unknown12, sizeof unknown12 - 1));
    rc |= add(cases, layout_case("envelope_repeated_field",
                                 "Case good with a second recipient (field 10, "
                                 "\"hn.d.hoan-kiem/intake\") appended to the Envelope before "
                                 "signing; a decoder would keep the last: each field at most once.",
                                 EDIT_ENVELOPE, EDIT_APPEND, 0, again10, sizeof again10 - 1));
    rc |= add(cases, layout_case("envelope_wrong_wire_type",
                                 "Case good with seq (field 5) as a fixed64 (tag 29, 8 bytes "
                                 "little-endian) instead of a varint, before signing.",
                                 EDIT_ENVELOPE, EDIT_REPLACE, 5, fixed64, sizeof fixed64));
    rc |= add(cases, layout_case("envelope_string_not_utf8",
                                 "Case good with recipient \"hn.doit\" c0 af \"intake\" (the "
                                 "slash in an overlong two-byte form, not UTF-8), before signing.",
                                 EDIT_ENVELOPE, EDIT_REPLACE, 10, overlong, sizeof overlong - 1));
    rc |= add(cases, layout_case("envelope_string_zero_byte",
                                 "Case good with sender \"hn.op.lan\" followed by a zero byte "
                                 "(which a C string would drop), before signing.",
                                 EDIT_ENVELOPE, EDIT_REPLACE, 2, zero, sizeof zero - 1));
    return rc;
}

static json_t *gen_envelopes(const Cpm__EventBatch *batch)
{
    json_t *cases = json_array();
    case_t c;
    int rc = 0;

    rc |= add(cases, base_case("good", "A hotline client submits a complaint to intake.", "ok"));

    c = base_case("good_reply", "Intake answers the complaint of case good.", "ok");
    set_reply(&c);
    rc |= add(cases, c);

    c = base_case("good_batch", "An area intake delivers one complaint to routing.", "ok");
    set_batch(&c);
    rc |= add(cases, c);

    c = base_case("good_publish", "Routing publishes the events of events.json.", "ok");
    set_publish(&c, batch);
    rc |= add(cases, c);

    c = base_case("at_skew_limit", "sent_ms exactly max_skew_ms before now_ms.", "ok");
    c.sent_ms = NOW_MS - MAX_SKEW_MS;
    rc |= add(cases, c);

    c = base_case("bad_signature", "Right sender and key id, signed with another secret key.",
                  "bad_signature");
    c.signer = GHOST;
    rc |= add(cases, c);

    c = base_case("tampered_envelope_byte",
                  "Case good with the last payload byte flipped after signing.", "bad_signature");
    c.tamper = 1;
    rc |= add(cases, c);

    c = base_case("unknown_sender", "A key pair that is not in the registry signs as itself.",
                  "unknown_sender");
    c.from = c.signer = GHOST;
    rc |= add(cases, c);

    c = base_case("unknown_key_id", "hn.op.lan's name with another key's id and signature.",
                  "unknown_key");
    c.key_id = ids[GHOST].key_id;
    c.signer = GHOST;
    rc |= add(cases, c);

    c = base_case("revoked_key", "A member whose key id is in revoked_keys.", "revoked_key");
    c.from = c.signer = OLD;
    c.ctx.transport_user = "hn.op.old";
    rc |= add(cases, c);

    c = base_case("forbidden_type", "An operator sends a case batch; no may_send rule allows it.",
                  "forbidden");
    c.type = CPM__MSG_TYPE__MSG_CASE_BATCH;
    c.recipient = "hn.doit/routing";
    c.ctx = (cpm_verify_ctx_t){
        .self = "hn.doit/routing", .service = "routing", .transport_user = "hn.op.lan"};
    rc |= add(cases, c);

    c = base_case("unsolicited_reply", "Case good_reply arriving when no request is waiting.",
                  "forbidden");
    set_reply(&c);
    c.ctx.awaiting_reply = NULL;
    rc |= add(cases, c);

    c = base_case("wrong_recipient", "Addressed to the area's intake, received by the city's.",
                  "wrong_recipient");
    c.recipient = "hn.d.hoan-kiem/intake";
    rc |= add(cases, c);

    c = base_case("transport_mismatch",
                  "Case good arriving on a link authenticated as another "
                  "member.",
                  "transport_mismatch");
    c.ctx.transport_user = "hn.d.hoan-kiem";
    rc |= add(cases, c);

    c = base_case("clock_skew_past", "sent_ms one millisecond beyond max_skew_ms in the past.",
                  "clock_skew");
    c.sent_ms = NOW_MS - MAX_SKEW_MS - 1;
    rc |= add(cases, c);

    c = base_case("clock_skew_future", "sent_ms one millisecond beyond max_skew_ms ahead.",
                  "clock_skew");
    c.sent_ms = NOW_MS + MAX_SKEW_MS + 1;
    rc |= add(cases, c);

    c = base_case("bad_version", "Envelope version 4 (this is version 3; 2 is still taken).",
                  "bad_version");
    c.version = CPM_PROTO_VERSION + 1;
    rc |= add(cases, c);

    c = base_case("version_2_still_taken",
                  "Case good as a version 2 envelope, signed over the domain "
                  "\"CPMESH-ENVELOPE-V1\" and the envelope bytes themselves.",
                  "ok");
    c.version = CPM_PROTO_VERSION_V2;
    rc |= add(cases, c);

    c = base_case("version_2_signed_as_3",
                  "A version 2 envelope signed the version 3 way (over the digest): the "
                  "version says how to verify, so the signature is bad.",
                  "bad_signature");
    c.version = CPM_PROTO_VERSION_V2;
    c.sign_as = CPM_PROTO_VERSION;
    rc |= add(cases, c);

    c = base_case("version_3_signed_as_2",
                  "A version 3 envelope signed the version 2 way (over the bytes): bad.",
                  "bad_signature");
    c.sign_as = CPM_PROTO_VERSION_V2;
    rc |= add(cases, c);

    c = base_case("unknown_type", "Type 999, unknown to versions 2 and 3.", "unknown_type");
    c.type = 999;
    rc |= add(cases, c);

    c = base_case("replay", "Case good delivered twice to the same receiver.", "ok");
    c.expect[1] = "replay";
    rc |= add(cases, c);

    json_t *garbage = json_pack(
        "{s:s, s:s, s:s, s:o, s:[s]}", "name", "garbage_bytes", "description",
        "Bytes that are not a SignedEnvelope (an unterminated varint).", "frame_hex", "deadbeef",
        "ctx", ctx_json(&(cpm_verify_ctx_t){.self = "hn.doit/intake", .service = "intake"}),
        "expect", "malformed");
    json_array_append_new(cases, garbage);
    rc |= add_layout_cases(cases);
    json_t *oversize =
        json_pack("{s:s, s:s, s:{s:I, s:s}, s:o, s:[s]}", "name", "oversize", "description",
                  "A frame one byte over the 4 MiB limit; refused before decoding.", "frame",
                  "length", (json_int_t)CPM_MAX_MSG + 1, "fill_hex", "00", "ctx",
                  ctx_json(&(cpm_verify_ctx_t){.self = "hn.doit/intake", .service = "intake"}),
                  "expect", "oversize");
    json_array_append_new(cases, oversize);
    if (rc != 0) {
        json_decref(cases);
        return NULL;
    }
    return json_pack(
        "{s:s, s:I, s:I, s:o, s:o, s:o}", "description",
        "Envelopes and the verdict of cpm_verifier_check with ctx at now_ms. Each "
        "case starts from a fresh verifier; when expect lists several verdicts the "
        "same frame is delivered that many times. See README.md.",
        "now_ms", (json_int_t)NOW_MS, "max_skew_ms", (json_int_t)MAX_SKEW_MS, "domain_hex",
        hexj((const uint8_t *)CPM_ENVELOPE_DOMAIN, sizeof CPM_ENVELOPE_DOMAIN), "domain_v2_hex",
        hexj((const uint8_t *)CPM_ENVELOPE_DOMAIN_V2, sizeof CPM_ENVELOPE_DOMAIN_V2), "cases",
        cases);
}

/* ---- the exchange's proof log (docs/protocol.md 19.5, 19.6) --------------- */
static void xlink(const uint8_t prev[32], const uint8_t content[32], uint8_t out[32])
{
    static const char dom[] = "CPMESH-XLOG-V1";
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)dom, sizeof dom);
    crypto_hash_sha256_update(&st, prev, 32);
    crypto_hash_sha256_update(&st, content, 32);
    crypto_hash_sha256_final(&st, out);
}

/* hn.doit's two-entry log (hashed here with libsodium alone), its checkpoint
 * over entry 2, hn.d.hoan-kiem's cosignature and the evidence of entry 1. */
static json_t *gen_exchange(void)
{
    uint8_t body[2][256], prev[2][32], content[2][32], hash[2][32];
    size_t blen[2];
    json_t *log = json_array();
    static const char *const kinds[2] = {"publish", "delivery"};
    memset(prev[0], 0, 32);
    Cpm__LogRecord recs[2];
    for (int i = 0; i < 2; i++) {
        Cpm__LogEntry e = CPM__LOG_ENTRY__INIT;
        e.seq = (uint64_t)i + 1;
        e.at_ms = NOW_MS + i;
        e.kind = (char *)kinds[i];
        e.peer = i ? "hn.d.hoan-kiem" : "hn.doit";
        e.dataset = "watchlist";
        e.response.data = (uint8_t *)"record bytes";
        e.response.len = 12;
        blen[i] = cpm__log_entry__pack(&e, body[i]);
        if (i)
            memcpy(prev[i], hash[i - 1], 32);
        crypto_hash_sha256(content[i], body[i], blen[i]);
        xlink(prev[i], content[i], hash[i]);
        cpm__log_record__init(&recs[i]);
        recs[i].body = (ProtobufCBinaryData){blen[i], body[i]};
        recs[i].prev_hash = (ProtobufCBinaryData){32, prev[i]};
        recs[i].hash = (ProtobufCBinaryData){32, hash[i]};
        json_array_append_new(log, json_pack("{s:I,s:s,s:o,s:o,s:o,s:o}", "seq", (json_int_t)e.seq,
                                             "kind", e.kind, "body_hex", hexj(body[i], blen[i]),
                                             "prev_hash_hex", hexj(prev[i], 32), "content_hex",
                                             hexj(content[i], 32), "hash_hex", hexj(hash[i], 32)));
    }
    Cpm__Checkpoint cp = CPM__CHECKPOINT__INIT;
    cp.agency = "hn.doit";
    cp.seq = 2;
    cp.head_hash = (ProtobufCBinaryData){32, hash[1]};
    cp.at_ms = NOW_MS + 10;
    uint8_t cpb[256];
    size_t cplen = cpm__checkpoint__pack(&cp, cpb);
    cpm_env_fields_t f = {"hn.doit",
                          "exchange",
                          ids[DOIT].key_id,
                          1,
                          NOW_MS + 10,
                          CPM__MSG_TYPE__MSG_EXCHANGE_CHECKPOINT,
                          "c0ffee00c0ffee00c0ffee00c0ffee00",
                          NULL,
                          "hn.doit",
                          cpb,
                          cplen,
                          CPM_PROTO_VERSION};
    uint8_t *frame = NULL, *sreg = NULL;
    size_t flen = 0, slen = 0;
    if (cpm_envelope_seal(&f, ids[DOIT].sign_sk, &frame, &flen) != 0 ||
        cpm_registry_sign(cpm_registry_doc(registry), ids[ROOT].sign_sk, &sreg, &slen) != 0)
        return NULL;
    static const char cdom[] = "CPMESH-XCOSIGN-V1";
    int64_t cat = NOW_MS + 20;
    size_t mlen = sizeof cdom + flen + 8;
    uint8_t *msg = malloc(mlen), sig[64];
    memcpy(msg, cdom, sizeof cdom);
    memcpy(msg + sizeof cdom, frame, flen);
    cpm_put_be64(msg + sizeof cdom + flen, (uint64_t)cat);
    crypto_sign_detached(sig, NULL, msg, mlen, ids[HK].sign_sk);
    Cpm__Cosignature cs = CPM__COSIGNATURE__INIT;
    cs.cosigner = "hn.d.hoan-kiem";
    cs.at_ms = cat;
    cs.signature = (ProtobufCBinaryData){64, sig};
    Cpm__Cosignature *csv[1] = {&cs};
    Cpm__SignedCheckpoint sc = CPM__SIGNED_CHECKPOINT__INIT;
    sc.checkpoint = (ProtobufCBinaryData){flen, frame};
    sc.cosignatures = csv;
    sc.n_cosignatures = 1;
    Cpm__ExchangeEvidence ev = CPM__EXCHANGE_EVIDENCE__INIT;
    ProtobufCBinaryData next[1] = {{32, content[1]}};
    ev.version = 1;
    ev.signed_registry = (ProtobufCBinaryData){slen, sreg};
    ev.record = &recs[0];
    ev.next_content_hashes = next;
    ev.n_next_content_hashes = 1;
    ev.checkpoint = &sc;
    size_t evlen = cpm__exchange_evidence__get_packed_size(&ev);
    uint8_t *evb = malloc(evlen);
    cpm__exchange_evidence__pack(&ev, evb);
    json_t *doc = json_pack(
        "{s:s,s:o,s:{s:s,s:I,s:I,s:o,s:o},s:{s:s,s:I,s:o,s:o},s:{s:I,s:o}}", "description",
        "hn.doit's proof log of two entries: content = SHA-256(body), hash = SHA-256("
        "\"CPMESH-XLOG-V1\\0\" || prev_hash || content). A checkpoint over entry 2 sealed as a "
        "MSG_EXCHANGE_CHECKPOINT envelope by hn.doit; hn.d.hoan-kiem's cosignature = Ed25519 over "
        "\"CPMESH-XCOSIGN-V1\\0\" || checkpoint frame || at_ms (i64 BE); the evidence of entry 1 "
        "(registry = registry.json's signed_registry). The root key is in keys.json.",
        "log", log, "checkpoint", "agency", "hn.doit", "seq", (json_int_t)2, "at_ms",
        (json_int_t)cp.at_ms, "payload_hex", hexj(cpb, cplen), "frame_hex", hexj(frame, flen),
        "cosignature", "cosigner", "hn.d.hoan-kiem", "at_ms", (json_int_t)cat, "signed_bytes_hex",
        hexj(msg, mlen), "signature_hex", hexj(sig, 64), "evidence", "entry", (json_int_t)1,
        "file_hex", hexj(evb, evlen));
    free(msg);
    free(frame);
    free(sreg);
    free(evb);
    return doc;
}

/* ---- group receipts (docs/protocol.md "Group receipts") ---------------------- */

#define RC_SEQ 1767225600000500ull
#define RC_SENT_MS (NOW_MS + 500)
#define RC_COMMITTED_MS (NOW_MS + 499)
#define RC_MSG_ID "9e0e1ec79e0e1ec79e0e1ec79e0e1ec7"
#define RC_SELF "hn.op.lan/cli.4242"

/* Bytes with their hex, for a JSON object. */
static json_t *bytes_j(const uint8_t *b, size_t n)
{
    return hexj(b, n);
}

/* The trees of sizes 1..8 and 13 over the leaves "leaf-0".."leaf-12". */
static json_t *gen_trees(void)
{
    static const size_t sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 13};
    uint8_t lh[13][32];
    json_t *names = json_array(), *hashes = json_array();
    for (int i = 0; i < 13; i++) {
        char s[16];
        int n = snprintf(s, sizeof s, "leaf-%d", i);
        cpm_merkle_leaf_hash((const uint8_t *)s, (size_t)n, lh[i]);
        json_array_append_new(names, json_string(s));
        json_array_append_new(hashes, bytes_j(lh[i], 32));
    }
    json_t *trees = json_array();
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        uint8_t root[32], path[CPM_MERKLE_PATH_MAX][32];
        if (cpm_merkle_root(lh, n, root) != 0)
            return NULL;
        json_t *paths = json_array();
        for (size_t i = 0; i < n; i++) {
            size_t np = 0;
            if (cpm_merkle_path(lh, n, i, path, &np) != 0 ||
                cpm_merkle_verify(lh[i], i, n, path, np, root) != 0)
                return NULL;
            json_t *pj = json_array();
            for (size_t j = 0; j < np; j++)
                json_array_append_new(pj, bytes_j(path[j], 32));
            json_array_append_new(paths, pj);
        }
        json_array_append_new(trees, json_pack("{s:I,s:o,s:o}", "size", (json_int_t)n, "root_hex",
                                               bytes_j(root, 32), "paths_hex", paths));
    }
    return json_pack("{s:o,s:o,s:o}", "leaves", names, "leaf_hashes_hex", hashes, "trees", trees);
}

typedef struct {
    const char *recipient, *correlation_id;
    uint32_t item;
    bool error;
    const char *ticket_or_field, *code_or_message;
    const char *item_text; /* stands for the Complaint bytes of the item */
} rc_leaf_def_t;

/* A group of five answers: hn.op.lan/cli.4242's request A (items 0 and 1,
 * the second refused) and hn.op.old/cli.7's requests B and C. */
static const rc_leaf_def_t RC_LEAVES[] = {
    {RC_SELF, "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0", 0, false, "DOIT-2026-000001", "K7Q2M9",
     "item A0"},
    {"hn.op.old/cli.7", "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", 0, false, "DOIT-2026-000002", "P4X8D3",
     "item B0"},
    {RC_SELF, "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0", 1, true, "complaint.description",
     "description is empty", "item A1"},
    {"hn.op.old/cli.7", "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", 1, false, "DOIT-2026-000003", "R2T6W1",
     "item B1"},
    {"hn.op.old/cli.7", "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0", 0, false, "DOIT-2026-000004", "V5N3H8",
     "item C0"},
};
#define RC_N 5

/* ReceiptProofs of leaves idx[0..n) (lh: leaf hashes, lb/ll: leaf bytes). */
static size_t rc_proofs(const uint8_t (*lh)[32], uint8_t lb[RC_N][256], const size_t *ll,
                        const size_t *idx, size_t n, uint8_t *out)
{
    Cpm__ReceiptProof ps[RC_N], *pp[RC_N];
    uint8_t path[RC_N][CPM_MERKLE_PATH_MAX][32];
    ProtobufCBinaryData pd[RC_N][CPM_MERKLE_PATH_MAX];
    for (size_t k = 0; k < n; k++) {
        size_t np = 0;
        if (cpm_merkle_path(lh, RC_N, idx[k], path[k], &np) != 0)
            return 0;
        for (size_t j = 0; j < np; j++)
            pd[k][j] = (ProtobufCBinaryData){32, path[k][j]};
        cpm__receipt_proof__init(&ps[k]);
        ps[k].leaf = (ProtobufCBinaryData){ll[idx[k]], lb[idx[k]]};
        ps[k].index = idx[k];
        ps[k].path = pd[k];
        ps[k].n_path = np;
        pp[k] = &ps[k];
    }
    Cpm__ReceiptProofs rp = CPM__RECEIPT_PROOFS__INIT;
    rp.proofs = pp;
    rp.n_proofs = n;
    return cpm__receipt_proofs__pack(&rp, out);
}

/* prefix || field 3 (proofs) into a malloc'd buffer. */
static uint8_t *rc_frame(const uint8_t *prefix, size_t plen, const uint8_t *proofs, size_t n,
                         size_t *len)
{
    uint8_t *b = malloc(plen + 11 + n), *p = b + plen;
    memcpy(b, prefix, plen);
    *p++ = 0x1a;
    size_t v = n;
    for (; v >= 0x80; v >>= 7)
        *p++ = (uint8_t)(v | 0x80);
    *p++ = (uint8_t)v;
    memcpy(p, proofs, n);
    *len = (size_t)(p + n - b);
    return b;
}

static json_t *refusal(const char *name, const char *description, const char *by, const char *self,
                       const uint8_t *frame, size_t len, const char *verifier, const char *field)
{
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:s}", "name", name, "description", description,
                     "by", by, "self", str_or_null(self), "frame_hex", hexj(frame, len),
                     "verifier_whole_frame", str_or_null(verifier), "field", field);
}

static json_t *gen_receipts(void)
{
    uint8_t lb[RC_N][256], lh[RC_N][32], ih[RC_N][32], pl[RC_N][128];
    size_t ll[RC_N], plen[RC_N];
    json_t *leaves = json_array();
    for (int i = 0; i < RC_N; i++) {
        const rc_leaf_def_t *d = &RC_LEAVES[i];
        crypto_hash_sha256(ih[i], (const uint8_t *)d->item_text, strlen(d->item_text));
        json_t *pj;
        if (d->error) {
            Cpm__ErrorReply e = CPM__ERROR_REPLY__INIT;
            e.code = 400;
            e.field = (char *)d->ticket_or_field;
            e.message = (char *)d->code_or_message;
            plen[i] = cpm__error_reply__pack(&e, pl[i]);
            pj = json_pack("{s:i,s:s,s:s,s:b}", "code", 400, "field", e.field, "message", e.message,
                           "retryable", 0);
        } else {
            Cpm__SubmitReply r = CPM__SUBMIT_REPLY__INIT;
            r.ticket = (char *)d->ticket_or_field;
            r.lookup_code = (char *)d->code_or_message;
            plen[i] = cpm__submit_reply__pack(&r, pl[i]);
            pj = json_pack("{s:s,s:b,s:s}", "ticket", r.ticket, "duplicate", 0, "lookup_code",
                           r.lookup_code);
        }
        Cpm__ReceiptLeaf l = CPM__RECEIPT_LEAF__INIT;
        l.recipient = (char *)d->recipient;
        l.correlation_id = (char *)d->correlation_id;
        l.item = d->item;
        l.type = d->error ? CPM__MSG_TYPE__MSG_ERROR : CPM__MSG_TYPE__MSG_SUBMIT_REPLY;
        l.payload = (ProtobufCBinaryData){plen[i], pl[i]};
        l.item_hash = (ProtobufCBinaryData){32, ih[i]};
        ll[i] = cpm__receipt_leaf__pack(&l, lb[i]);
        cpm_merkle_leaf_hash(lb[i], ll[i], lh[i]);
        json_array_append_new(
            leaves, json_pack("{s:i,s:s,s:s,s:i,s:s,s:i,s:s,s:o,s:o,s:s,s:o,s:o,s:o}", "index", i,
                              "recipient", d->recipient, "correlation_id", d->correlation_id,
                              "item", (int)d->item, "type",
                              d->error ? "MSG_ERROR" : "MSG_SUBMIT_REPLY", "type_value",
                              (int)l.type, "payload_type", d->error ? "ErrorReply" : "SubmitReply",
                              "payload", pj, "payload_hex", hexj(pl[i], plen[i]), "item_text",
                              d->item_text, "item_hash_hex", hexj(ih[i], 32), "leaf_hex",
                              hexj(lb[i], ll[i]), "leaf_hash_hex", hexj(lh[i], 32)));
    }
    uint8_t root[32];
    if (cpm_merkle_root(lh, RC_N, root) != 0)
        return NULL;
    Cpm__GroupRoot gr = CPM__GROUP_ROOT__INIT;
    gr.root = (ProtobufCBinaryData){32, root};
    gr.size = RC_N;
    gr.committed_ms = RC_COMMITTED_MS;
    uint8_t grb[96];
    size_t grl = cpm__group_root__pack(&gr, grb);
    cpm_env_fields_t f = {"hn.doit",
                          "intake.reply",
                          ids[DOIT].key_id,
                          RC_SEQ,
                          RC_SENT_MS,
                          CPM__MSG_TYPE__MSG_GROUP_RECEIPT,
                          RC_MSG_ID,
                          NULL,
                          "*",
                          grb,
                          grl,
                          CPM_PROTO_VERSION};
    uint8_t *sealed = NULL;
    size_t sl = 0;
    if (cpm_envelope_seal(&f, ids[DOIT].sign_sk, &sealed, &sl) != 0)
        return NULL;
    cpm_slice_t envb, sig;
    if (cpm_envelope_parse_signed(sealed, sl, &envb, &sig) != 0)
        return NULL;
    /* The frame of RC_SELF: its leaves 0 and 2. */
    size_t mine[2] = {0, 2}, one[1] = {2}, foreign[2] = {0, 1};
    uint8_t pb[4096], pb1[4096], pbx[4096];
    size_t pbl = rc_proofs(lh, lb, ll, mine, 2, pb);
    size_t pbl1 = rc_proofs(lh, lb, ll, one, 1, pb1);
    size_t pblx = rc_proofs(lh, lb, ll, foreign, 2, pbx);
    size_t fl, pfl, xl;
    uint8_t *frame = rc_frame(sealed, sl, pb, pbl, &fl);
    uint8_t *proof = rc_frame(sealed, sl, pb1, pbl1, &pfl);
    uint8_t *other = rc_frame(sealed, sl, pbx, pblx, &xl);
    json_t *refusals = json_array();
    json_array_append_new(
        refusals, refusal("leaf_for_another_recipient",
                          "RC_SELF's frame with leaf 1 (hn.op.old/cli.7's) as its second "
                          "proof: every path holds, the recipient does not",
                          "open", RC_SELF, other, xl, "malformed", "proofs[1].leaf.recipient"));
    /* The stand-alone proof with the last byte of its last path hash flipped. */
    uint8_t *bad = malloc(pfl);
    memcpy(bad, proof, pfl);
    bad[pfl - 1] ^= 0x01;
    json_array_append_new(refusals,
                          refusal("wrong_path",
                                  "the stand-alone proof with the last byte of its "
                                  "last path hash XORed with 01",
                                  "check", NULL, bad, pfl, "malformed", "proofs[0].path"));
    free(bad);
    /* Index 2 -> 3 (same path length in a tree of 5: the path then fails). */
    Cpm__ReceiptProofs *ps = cpm__receipt_proofs__unpack(NULL, pbl1, pb1);
    if (!ps)
        return NULL;
    ps->proofs[0]->index = 3;
    uint8_t pbi[4096];
    size_t pbil = cpm__receipt_proofs__pack(ps, pbi);
    cpm__receipt_proofs__free_unpacked(ps, NULL);
    size_t il;
    bad = rc_frame(sealed, sl, pbi, pbil, &il);
    json_array_append_new(refusals,
                          refusal("wrong_index",
                                  "the stand-alone proof of leaf 2 claiming index 3, its path "
                                  "unchanged",
                                  "check", NULL, bad, il, "malformed", "proofs[0].path"));
    free(bad);
    /* Field 3 moved between fields 1 and 2. */
    size_t sigf = sl - (size_t)(envb.data + envb.len - sealed); /* field 2, whole */
    size_t head = sl - sigf, f3 = pfl - sl;
    bad = malloc(pfl);
    memcpy(bad, proof, head);
    memcpy(bad + head, proof + sl, f3);
    memcpy(bad + head + f3, proof + head, sigf);
    json_array_append_new(refusals,
                          refusal("field_3_before_field_2",
                                  "the stand-alone proof with field 3 placed between fields 1 and "
                                  "2: not the receipt layout",
                                  "check", NULL, bad, pfl, "malformed", "frame"));
    free(bad);
    /* Field 3 on a frame that is no group receipt: a signed SubmitReply. */
    cpm_env_fields_t sr = f;
    sr.type = CPM__MSG_TYPE__MSG_SUBMIT_REPLY;
    sr.recipient = RC_SELF;
    sr.correlation_id = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0";
    sr.payload = pl[0];
    sr.payload_len = plen[0];
    uint8_t *srb = NULL;
    size_t srl = 0;
    if (cpm_envelope_seal(&sr, ids[DOIT].sign_sk, &srb, &srl) != 0)
        return NULL;
    bad = rc_frame(srb, srl, pb1, pbl1, &il);
    json_array_append_new(refusals,
                          refusal("field_3_on_a_submit_reply",
                                  "a signed MSG_SUBMIT_REPLY with a proof in field 3: services "
                                  "and the verifier refuse field 3, and it is no group receipt",
                                  "check", NULL, bad, il, "malformed", "envelope.type"));
    free(bad);
    free(srb);
    /* The same GroupRoot signed by a registered member that is not an
     * intake: an operator with its own key under "intake.reply", and
     * hn.doit's routing. Each signature holds; the sealer does not. */
    static const struct {
        int who;
        const char *instance, *name, *description, *field;
    } sealers[] = {
        {LAN, "intake.reply", "sealed_by_an_operator",
         "the stand-alone proof's GroupRoot signed by hn.op.lan (no service) as intake.reply: "
         "any member's signature is not enough",
         "envelope.sender"},
        {DOIT, "routing.reply", "sealed_by_routing",
         "the stand-alone proof's GroupRoot signed by hn.doit as routing.reply: answers to "
         "submits come from intake only",
         "envelope.sender_instance"},
    };
    for (size_t k = 0; k < sizeof sealers / sizeof sealers[0]; k++) {
        cpm_env_fields_t o = f;
        o.sender = ids[sealers[k].who].id;
        o.sender_instance = sealers[k].instance;
        o.key_id = ids[sealers[k].who].key_id;
        if (cpm_envelope_seal(&o, ids[sealers[k].who].sign_sk, &srb, &srl) != 0)
            return NULL;
        bad = rc_frame(srb, srl, pb1, pbl1, &il);
        json_array_append_new(refusals, refusal(sealers[k].name, sealers[k].description, "check",
                                                NULL, bad, il, "malformed", sealers[k].field));
        free(bad);
        free(srb);
    }
    json_t *items = json_array();
    for (int k = 0; k < 2; k++)
        json_array_append_new(items, json_pack("{s:i,s:s,s:i}", "index", (int)mine[k],
                                               "correlation_id", RC_LEAVES[mine[k]].correlation_id,
                                               "item", (int)RC_LEAVES[mine[k]].item));
    json_t *env =
        json_pack("{s:i,s:s,s:s,s:s,s:I,s:I,s:s,s:i,s:s,s:s,s:s,s:o}", "version", CPM_PROTO_VERSION,
                  "sender", f.sender, "sender_instance", f.sender_instance, "key_id", f.key_id,
                  "seq", (json_int_t)f.seq, "sent_ms", (json_int_t)f.sent_ms, "type",
                  "MSG_GROUP_RECEIPT", "type_value", (int)f.type, "msg_id", f.msg_id,
                  "correlation_id", "", "recipient", "*", "payload_hex", hexj(grb, grl));
    json_t *trees = gen_trees();
    if (!trees)
        return NULL;
    json_t *doc = json_pack(
        "{s:s,s:o,s:{s:I,s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:o,s:o},"
        "s:{s:I,s:o,s:s,s:I,s:o},s:o}",
        "description",
        "Group receipts (docs/protocol.md \"Group receipts\"). trees: RFC 9162 2.1 Merkle tree "
        "hashes over SHA-256 of the leaves \"leaf-0\"..\"leaf-12\" (ASCII), leaf hash = SHA-256("
        "0x00 || leaf), node = SHA-256(0x01 || left || right); every audit path, leaf to root. "
        "group: one group commit of 5 answers sealed once by hn.doit (keys.json) at now_ms + 500 "
        "(check with now_ms = 1767225600000 and max_skew_ms 300000 of envelopes.json); frame_hex: "
        "the frame hn.op.lan/cli.4242 receives (its leaves 0 and 2); proof: its stand-alone proof "
        "of leaf 2. refusals: by \"open\" (the client, as self, after the verifier accepted the "
        "prefix) or \"check\" (a third party with the registry); verifier_whole_frame: the verdict "
        "of cpm_verifier_check on the whole frame (a service's view: every frame with field 3 is "
        "malformed to it); field: the field the refusal names.",
        "trees", trees, "group", "size", (json_int_t)RC_N, "committed_ms",
        (json_int_t)RC_COMMITTED_MS, "signer", "hn.doit", "leaves", leaves, "root_hex",
        hexj(root, 32), "group_root_hex", hexj(grb, grl), "envelope", env, "envelope_hex",
        hexj(envb.data, envb.len), "signature_hex", hexj(sig.data, sig.len), "signed_envelope_hex",
        hexj(sealed, sl), "proofs_hex", hexj(pb, pbl), "self", RC_SELF, "items", items, "frame_hex",
        hexj(frame, fl), "proof", "leaf", (json_int_t)2, "proofs_hex", hexj(pb1, pbl1), "signer",
        "hn.doit", "committed_ms", (json_int_t)RC_COMMITTED_MS, "frame_hex", hexj(proof, pfl),
        "refusals", refusals);
    free(sealed);
    free(frame);
    free(proof);
    free(other);
    return doc;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/vectors";
    if (sodium_init() < 0)
        return 1;
    json_t *keys = gen_keys();
    json_t *reg = keys ? gen_registry() : NULL;
    Cpm__EventBatch batch = CPM__EVENT_BATCH__INIT;
    Cpm__Event ev_store[NEVENTS], *evs[NEVENTS];
    for (size_t i = 0; i < NEVENTS; i++)
        evs[i] = &ev_store[i];
    json_t *events = reg ? gen_events(&batch, evs) : NULL;
    json_t *envs = events ? gen_envelopes(&batch) : NULL;
    json_t *exch = envs ? gen_exchange() : NULL;
    json_t *rcpt = exch ? gen_receipts() : NULL;
    cpm_registry_destroy(&registry);
    int rc = 0;
    if (!envs || !exch || !rcpt) {
        json_decref(exch);
        json_decref(rcpt);
        fprintf(stderr, "cpm-gen-vectors: failed; nothing written\n");
        json_decref(keys);
        json_decref(reg);
        json_decref(events);
        rc = 1;
    } else {
        /* write_doc releases each document, written or not. */
        rc |= write_doc(dir, "keys.json", keys);
        rc |= write_doc(dir, "registry.json", reg);
        rc |= write_doc(dir, "events.json", events);
        rc |= write_doc(dir, "envelopes.json", envs);
        rc |= write_doc(dir, "exchange.json", exch);
        rc |= write_doc(dir, "receipts.json", rcpt);
    }
    for (int i = 0; i < NIDS; i++)
        cpm_identity_wipe(&ids[i]);
    if (rc != 0)
        return 1;
    printf("wrote keys.json, registry.json, events.json, envelopes.json, exchange.json, "
           "receipts.json in %s\n",
           dir);
    return 0;
}
