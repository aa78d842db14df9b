/* Checks the protocol vectors in tests/vectors against the code: keys from
 * seeds, registry bytes and signature, event hashes, envelope bytes,
 * signature inputs, signatures, frames and verdicts are all recomputed and
 * compared with the files. A change of the wire format fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../vectors/vector_registry.h"

#include "cpm_envelope.h"
#include "cpm_eventlog.h"
#include "cpm_keys.h"
#include "cpm_receipt.h"
#include "cpm_registry.h"
#include "cpm_util.h"
#include "cpm_verifier.h"
#include "cpm_xevidence.h"
#include "cpm_xlog.h"

#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *keys_doc, *reg_doc, *env_doc, *events_doc;
static cpm_registry_t *reg;

static json_t *load(const char *name)
{
    const char *dir = getenv("CPM_VECTORS_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/vectors", name);
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        fprintf(stderr, "%s: %s (line %d)\n", path, je.text, je.line);
    return doc;
}

static const char *str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("field \"%s\" is missing or not a string", key);
    return json_string_value(v);
}

static json_int_t num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("field \"%s\" is missing or not an integer", key);
    return json_integer_value(v);
}

/* Hex of any length into a malloc'd buffer. */
static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *b = malloc(n ? n : 1);
    assert_int_equal(strlen(hex) % 2, 0);
    assert_int_equal(cpm_hex_decode(hex, b, n), 0);
    *len = n;
    return b;
}

static void assert_hex(const uint8_t *bin, size_t len, const char *want, const char *what)
{
    char *got = malloc(2 * len + 1);
    cpm_hex_encode(bin, len, got);
    if (strcmp(got, want) != 0)
        fail_msg("%s differs from the vector\n got  %s\n want %s", what, got, want);
    free(got);
}

static json_t *identity_json(const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(keys_doc, "identities"), i, v)
    {
        if (strcmp(str(v, "id"), id) == 0)
            return v;
    }
    fail_msg("no identity %s in keys.json", id);
    return NULL;
}

/* The identity recomputed from the seed in keys.json. */
static void identity_of(const char *id, cpm_identity_t *out)
{
    json_t *v = identity_json(id);
    uint8_t seed[32];
    assert_int_equal(cpm_hex_decode(str(v, "seed"), seed, 32), 0);
    assert_int_equal(cpm_identity_from_seed(out, id, seed), 0);
}

static int setup(void **state)
{
    (void)state;
    keys_doc = load("keys.json");
    reg_doc = load("registry.json");
    env_doc = load("envelopes.json");
    events_doc = load("events.json");
    if (!keys_doc || !reg_doc || !env_doc || !events_doc)
        return -1;
    /* The registry straight from its signed bytes, with the root key from its seed. */
    cpm_identity_t root;
    json_t *v;
    size_t i, len;
    json_array_foreach(json_object_get(keys_doc, "identities"), i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "id")),
                   json_string_value(json_object_get(reg_doc, "root"))) != 0)
            continue;
        uint8_t seed[32];
        if (cpm_hex_decode(json_string_value(json_object_get(v, "seed")), seed, 32) != 0 ||
            cpm_identity_from_seed(&root, "root", seed) != 0)
            return -1;
    }
    const char *hex = json_string_value(json_object_get(reg_doc, "signed_registry_hex"));
    len = strlen(hex) / 2;
    uint8_t *buf = malloc(len);
    char err[256] = "";
    if (cpm_hex_decode(hex, buf, len) == 0)
        reg = cpm_registry_from_signed(buf, len, root.sign_pk, err, sizeof err);
    free(buf);
    if (!reg)
        fprintf(stderr, "registry.json: %s\n", err);
    return reg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cpm_registry_destroy(&reg);
    json_decref(keys_doc);
    json_decref(reg_doc);
    json_decref(env_doc);
    json_decref(events_doc);
    return 0;
}

static void test_keys(void **state)
{
    (void)state;
    assert_hex((const uint8_t *)"CPMESH-CURVE-SEED", 18, str(keys_doc, "curve_seed_domain_hex"),
               "curve seed domain");
    size_t i;
    json_t *v;
    size_t n = 0;
    json_array_foreach(json_object_get(keys_doc, "identities"), i, v)
    {
        cpm_identity_t id;
        identity_of(str(v, "id"), &id);
        assert_hex(id.sign_pk, 32, str(v, "sign_pk"), "sign_pk");
        assert_hex(id.sign_sk, 64, str(v, "sign_sk"), "sign_sk");
        assert_hex(id.curve_pk, 32, str(v, "curve_pk"), "curve_pk");
        assert_hex(id.curve_sk, 32, str(v, "curve_sk"), "curve_sk");
        assert_string_equal(id.key_id, str(v, "key_id"));
        /* The documented derivations, by hand. */
        uint8_t seed[32], h[32], in[18 + 32];
        assert_int_equal(cpm_hex_decode(str(v, "seed"), seed, 32), 0);
        memcpy(in, "CPMESH-CURVE-SEED", 18);
        memcpy(in + 18, seed, 32);
        crypto_hash_sha256(h, in, sizeof in);
        assert_memory_equal(h, id.curve_sk, 32);
        assert_memory_equal(id.sign_sk, seed, 32);
        crypto_hash_sha256(h, id.sign_pk, 32);
        assert_hex(h, 8, str(v, "key_id"), "key_id");
        cpm_identity_wipe(&id);
        n++;
    }
    assert_true(n >= 6);
}

/* The registry document of registry.json as a Cpm__Registry (built as the
 * generator builds it), whose keys must be those derived from the seeds. */
static Cpm__Registry *registry_from_json(json_t *doc)
{
    Cpm__Registry *r = vector_registry_from_json(doc);
    for (size_t i = 0; i < r->n_members; i++) {
        const Cpm__Member *m = r->members[i];
        cpm_identity_t id;
        identity_of(m->id, &id);
        assert_int_equal(m->sign_pk.len, 32);
        assert_int_equal(m->curve_pk.len, 32);
        assert_memory_equal(m->sign_pk.data, id.sign_pk, 32);
        assert_memory_equal(m->curve_pk.data, id.curve_pk, 32);
    }
    return r;
}

static void test_registry(void **state)
{
    (void)state;
    cpm_identity_t root, other;
    identity_of(str(reg_doc, "root"), &root);
    assert_hex(root.sign_pk, 32, str(reg_doc, "root_sign_pk"), "root_sign_pk");
    assert_hex((const uint8_t *)CPM_REGISTRY_DOMAIN, sizeof CPM_REGISTRY_DOMAIN,
               str(reg_doc, "domain_hex"), "registry domain");

    Cpm__Registry *doc = registry_from_json(json_object_get(reg_doc, "document"));
    size_t rlen = cpm__registry__get_packed_size(doc);
    uint8_t *rbytes = malloc(rlen + 32);
    cpm__registry__pack(doc, rbytes);
    assert_hex(rbytes, rlen, str(reg_doc, "registry_hex"), "registry bytes");

    size_t dlen = sizeof CPM_REGISTRY_DOMAIN;
    uint8_t *input = malloc(dlen + rlen);
    memcpy(input, CPM_REGISTRY_DOMAIN, dlen);
    memcpy(input + dlen, rbytes, rlen);
    assert_hex(input, dlen + rlen, str(reg_doc, "signature_input_hex"), "registry signature input");
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, input, dlen + rlen, root.sign_sk);
    assert_hex(sig, 64, str(reg_doc, "signature_hex"), "registry signature");

    uint8_t *signed_buf;
    size_t signed_len;
    assert_int_equal(cpm_registry_sign(doc, root.sign_sk, &signed_buf, &signed_len), 0);
    assert_hex(signed_buf, signed_len, str(reg_doc, "signed_registry_hex"), "signed registry");

    /* Only the root key opens it. */
    char err[256];
    identity_of("hn.doit", &other);
    cpm_registry_t *r =
        cpm_registry_from_signed(signed_buf, signed_len, other.sign_pk, err, sizeof err);
    assert_null(r);
    assert_int_equal(cpm_registry_version(reg),
                     (uint64_t)num(json_object_get(reg_doc, "document"), "version"));
    free(signed_buf);
    free(input);
    free(rbytes);
    cpm__registry__free_unpacked(doc, NULL);
}

static void test_events(void **state)
{
    (void)state;
    assert_string_equal(str(events_doc, "node"), "hn.doit");
    uint8_t prev[32] = {0};
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(events_doc, "events"), i, v)
    {
        Cpm__Event ev = CPM__EVENT__INIT;
        ev.seq = (uint64_t)num(v, "seq");
        ev.at_ms = num(v, "at_ms");
        ev.kind = (char *)str(v, "kind");
        ev.ticket = (char *)str(v, "ticket");
        ev.agency = (char *)str(v, "agency");
        ev.area = (char *)str(v, "area");
        ev.category = (char *)str(v, "category");
        ev.state = (Cpm__CaseState)num(v, "state");
        ev.rule = (char *)str(v, "rule");
        ev.actor = (char *)str(v, "actor");
        ev.note = (char *)str(v, "note");
        bool rec = json_object_get(v, "business") != NULL; /* a record-carrying event */
        if (rec) {
            ev.business = (char *)str(v, "business");
            ev.address = (char *)str(v, "address");
            ev.violation = (char *)str(v, "violation");
            ev.fine_vnd = num(v, "fine_vnd");
            ev.tax_code = (char *)str(v, "tax_code");
            ev.inspection = (char *)str(v, "inspection");
            ev.channel = (char *)str(v, "channel");
            ev.outcome = (Cpm__Outcome)num(v, "outcome");
        }
        bool sug = json_object_get(v, "category_by") != NULL; /* the suggestion fields */
        if (sug) {
            ev.product = (char *)str(v, "product");
            ev.suggested = (char *)str(v, "suggested");
            ev.suggestion_pm = (uint32_t)num(v, "suggestion_pm");
            ev.category_by = (char *)str(v, "category_by");
        }
        assert_int_equal(cpm_event_has_record(&ev), rec);
        assert_int_equal(ev.seq, i + 1);
        assert_hex(prev, 32, str(v, "prev_hash_hex"), "prev_hash");

        /* The hash input, by hand from the documented layout. */
        uint8_t in[1024];
        size_t n = 0;
        memcpy(in, prev, 32);
        n = 32;
        cpm_put_be64(in + n, ev.seq);
        n += 8;
        cpm_put_be64(in + n, (uint64_t)ev.at_ms);
        n += 8;
        const char *strs[9] = {ev.kind, ev.ticket, ev.agency, ev.area, ev.category,
                               NULL,    ev.rule,   ev.actor,  ev.note};
        for (int k = 0; k < 9; k++) {
            if (!strs[k]) { /* state, a number between the strings */
                uint32_t st = (uint32_t)ev.state;
                in[n++] = (uint8_t)(st >> 24);
                in[n++] = (uint8_t)(st >> 16);
                in[n++] = (uint8_t)(st >> 8);
                in[n++] = (uint8_t)st;
                continue;
            }
            uint32_t len = (uint32_t)strlen(strs[k]);
            in[n++] = (uint8_t)(len >> 24);
            in[n++] = (uint8_t)(len >> 16);
            in[n++] = (uint8_t)(len >> 8);
            in[n++] = (uint8_t)len;
            memcpy(in + n, strs[k], len);
            n += len;
        }
        if (rec) { /* "R1", then the record fields (cpm_eventlog.h) */
            in[n++] = 'R';
            in[n++] = '1';
            const char *rs[7] = {ev.business, ev.address,    ev.violation, NULL,
                                 ev.tax_code, ev.inspection, ev.channel};
            for (int k = 0; k < 7; k++) {
                if (!rs[k]) { /* fine_vnd, i64 BE */
                    cpm_put_be64(in + n, (uint64_t)ev.fine_vnd);
                    n += 8;
                    continue;
                }
                uint32_t len = (uint32_t)strlen(rs[k]);
                in[n++] = (uint8_t)(len >> 24);
                in[n++] = (uint8_t)(len >> 16);
                in[n++] = (uint8_t)(len >> 8);
                in[n++] = (uint8_t)len;
                memcpy(in + n, rs[k], len);
                n += len;
            }
            uint32_t oc = (uint32_t)ev.outcome;
            in[n++] = (uint8_t)(oc >> 24);
            in[n++] = (uint8_t)(oc >> 16);
            in[n++] = (uint8_t)(oc >> 8);
            in[n++] = (uint8_t)oc;
        }
        if (sug) { /* "R2", then the suggestion fields (cpm_eventlog.h) */
            in[n++] = 'R';
            in[n++] = '2';
            const char *ss[4] = {ev.product, ev.suggested, NULL, ev.category_by};
            for (int k = 0; k < 4; k++) {
                uint32_t x = k == 2 ? ev.suggestion_pm : (uint32_t)strlen(ss[k]);
                in[n++] = (uint8_t)(x >> 24);
                in[n++] = (uint8_t)(x >> 16);
                in[n++] = (uint8_t)(x >> 8);
                in[n++] = (uint8_t)x;
                if (k != 2) {
                    memcpy(in + n, ss[k], x);
                    n += x;
                }
            }
        }
        assert_hex(in, n, str(v, "hash_input_hex"), "event hash input");
        uint8_t h[32], h2[32];
        crypto_hash_sha256(h, in, n);
        assert_hex(h, 32, str(v, "hash_hex"), "event hash");
        cpm_event_hash(&ev, prev, h2);
        assert_memory_equal(h, h2, 32);

        ev.prev_hash.data = prev;
        ev.prev_hash.len = 32;
        ev.hash.data = h;
        ev.hash.len = 32;
        size_t elen = cpm__event__get_packed_size(&ev);
        uint8_t *ebuf = malloc(elen);
        cpm__event__pack(&ev, ebuf);
        assert_hex(ebuf, elen, str(v, "event_hex"), "event bytes");
        free(ebuf);
        memcpy(prev, h, 32);
    }
    assert_int_equal(i, 5);

    /* The batch verifies as a chain; any changed field breaks it. */
    size_t blen;
    uint8_t *b = unhex(str(events_doc, "event_batch_hex"), &blen);
    Cpm__EventBatch *batch = cpm__event_batch__unpack(NULL, blen, b);
    assert_non_null(batch);
    assert_string_equal(batch->service, str(events_doc, "service"));
    assert_int_equal(batch->head_seq, 5);
    uint8_t zero[32] = {0};
    assert_int_equal(cpm_eventlog_verify_chain(batch->events, batch->n_events, zero), 0);
    batch->events[1]->at_ms++;
    assert_int_equal(cpm_eventlog_verify_chain(batch->events, batch->n_events, zero), -1);
    batch->events[1]->at_ms--;
    batch->events[3]->fine_vnd++; /* a record field is covered too */
    assert_int_equal(cpm_eventlog_verify_chain(batch->events, batch->n_events, zero), -1);
    batch->events[3]->fine_vnd--;
    batch->events[4]->suggestion_pm++; /* and a suggestion field */
    assert_int_equal(cpm_eventlog_verify_chain(batch->events, batch->n_events, zero), -1);
    cpm__event_batch__free_unpacked(batch, NULL);
    free(b);
}

static const ProtobufCMessageDescriptor *payload_descriptor(const char *name)
{
    const ProtobufCMessageDescriptor *all[] = {
        &cpm__complaint__descriptor,
        &cpm__submit_reply__descriptor,
        &cpm__delivery_batch__descriptor,
        &cpm__event_batch__descriptor,
        &cpm__ack__descriptor,
        &cpm__error_reply__descriptor,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->short_name, name) == 0)
            return all[i];
    fail_msg("unknown payload_type %s", name);
    return NULL;
}

/* A layout case's edit of the envelope or the frame (README.md): at offset,
 * delete bytes, insert bytes. Nothing when the case has no edit for target. */
static void apply_edit(json_t *c, const char *target, uint8_t **buf, size_t *len)
{
    json_t *ed = json_object_get(c, "edit");
    if (!ed || strcmp(str(ed, "target"), target) != 0)
        return;
    json_int_t off = num(ed, "offset"), del = num(ed, "delete");
    assert_true(off >= 0 && del >= 0 && (size_t)(off + del) <= *len);
    size_t ins_len;
    uint8_t *ins = unhex(str(ed, "insert_hex"), &ins_len);
    size_t n = *len - (size_t)del + ins_len;
    uint8_t *out = malloc(n ? n : 1);
    memcpy(out, *buf, (size_t)off);
    memcpy(out + off, ins, ins_len);
    memcpy(out + off + ins_len, *buf + off + del, *len - (size_t)(off + del));
    free(ins);
    free(*buf);
    *buf = out;
    *len = n;
}

static int has_edit(json_t *c, const char *target)
{
    json_t *ed = json_object_get(c, "edit");
    return ed && strcmp(str(ed, "target"), target) == 0;
}

/* Rebuild one case's frame from its fields and check each step against the
 * file. Returns the frame that is delivered (malloc'd). */
static uint8_t *rebuild_case(json_t *c, size_t *frame_len)
{
    const char *name = str(c, "name");
    json_t *e = json_object_get(c, "envelope");
    cpm_identity_t signer;
    identity_of(str(c, "signer"), &signer);

    size_t payload_len;
    uint8_t *payload = unhex(str(e, "payload_hex"), &payload_len);
    Cpm__Envelope env = CPM__ENVELOPE__INIT;
    env.version = (uint32_t)num(e, "version");
    env.sender = (char *)str(e, "sender");
    env.sender_instance = (char *)str(e, "sender_instance");
    env.key_id = (char *)str(e, "key_id");
    env.seq = (uint64_t)num(e, "seq");
    env.sent_ms = num(e, "sent_ms");
    env.type = (Cpm__MsgType)num(e, "type_value");
    env.msg_id = (char *)str(e, "msg_id");
    env.correlation_id = (char *)str(e, "correlation_id");
    env.recipient = (char *)str(e, "recipient");
    env.payload.data = payload;
    env.payload.len = payload_len;

    /* The type's name, its may_send name and its payload. */
    const ProtobufCEnumValue *tv =
        protobuf_c_enum_descriptor_get_value(&cpm__msg_type__descriptor, env.type);
    const char *lower = cpm_msg_type_name(env.type);
    if (tv) {
        assert_string_equal(tv->name, str(e, "type"));
        for (size_t k = 0; lower[k]; k++)
            assert_int_equal(lower[k], tolower((unsigned char)tv->name[4 + k]));
        ProtobufCMessage *pm = protobuf_c_message_unpack(payload_descriptor(str(e, "payload_type")),
                                                         NULL, payload_len, payload);
        if (!pm)
            fail_msg("%s: payload does not decode as %s", name, str(e, "payload_type"));
        protobuf_c_message_free_unpacked(pm, NULL);
    } else {
        assert_null(lower);
    }

    size_t env_len = cpm__envelope__get_packed_size(&env);
    uint8_t *envb = malloc(env_len);
    cpm__envelope__pack(&env, envb);
    apply_edit(c, "envelope", &envb, &env_len);
    assert_hex(envb, env_len, str(c, "envelope_hex"), "envelope bytes");
    /* Signed the way signed_as says: its version's, or the other version's
     * on purpose (then the verdict is bad_signature). */
    const char *want_in = str(c, "signature_input_hex");
    json_int_t signed_as = num(c, "signed_as");
    assert_true(signed_as == CPM_PROTO_VERSION || signed_as == CPM_PROTO_VERSION_V2);
    if (env.version == CPM_PROTO_VERSION_V2 || env.version == CPM_PROTO_VERSION)
        assert_true(signed_as == (json_int_t)env.version ||
                    !strcmp(json_string_value(json_array_get(json_object_get(c, "expect"), 0)),
                            "bad_signature"));
    uint8_t *input = malloc(19 + (env_len > 64 ? env_len : 64));
    size_t in_len;
    if (signed_as == CPM_PROTO_VERSION) {
        cpm_envelope_sig_input(envb, env_len, input);
        in_len = CPM_ENVELOPE_SIG_INPUT_LEN;
    } else {
        memcpy(input, CPM_ENVELOPE_DOMAIN_V2, 19);
        memcpy(input + 19, envb, env_len);
        in_len = 19 + env_len;
    }
    assert_hex(input, in_len, want_in, "signature input");
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, input, in_len, signer.sign_sk);
    assert_hex(sig, 64, str(c, "signature_hex"), "signature");
    if (env.version == CPM_PROTO_VERSION_V2 || env.version == CPM_PROTO_VERSION) {
        int as_own = cpm_envelope_verify_sig(env.version, envb, env_len, sig, 64, signer.sign_pk);
        assert_int_equal(as_own == 0, signed_as == (json_int_t)env.version);
    }

    Cpm__SignedEnvelope se = CPM__SIGNED_ENVELOPE__INIT;
    se.envelope.data = envb;
    se.envelope.len = env_len;
    se.signature.data = sig;
    se.signature.len = 64;
    size_t n = cpm__signed_envelope__get_packed_size(&se);
    uint8_t *frame = malloc(n);
    cpm__signed_envelope__pack(&se, frame);

    /* cpm_envelope_seal writes exactly these bytes for a version 3 envelope
     * signed its own way
     * (an edited envelope is not one it would write). */
    if (env.version == CPM_PROTO_VERSION && in_len == CPM_ENVELOPE_SIG_INPUT_LEN &&
        !has_edit(c, "envelope")) {
        cpm_env_fields_t f = {.sender = env.sender,
                              .sender_instance = env.sender_instance,
                              .key_id = env.key_id,
                              .seq = env.seq,
                              .sent_ms = env.sent_ms,
                              .type = env.type,
                              .msg_id = env.msg_id,
                              .correlation_id = env.correlation_id,
                              .recipient = env.recipient,
                              .payload = payload,
                              .payload_len = payload_len};
        uint8_t *sealed;
        size_t sealed_len;
        assert_int_equal(cpm_envelope_seal(&f, signer.sign_sk, &sealed, &sealed_len), 0);
        assert_int_equal(sealed_len, n);
        assert_memory_equal(sealed, frame, n);
        free(sealed);
    }

    json_t *mut = json_object_get(c, "mutation");
    if (json_is_object(mut)) {
        json_int_t off = num(mut, "frame_offset");
        uint8_t x;
        assert_int_equal(cpm_hex_decode(str(mut, "xor"), &x, 1), 0);
        assert_true(off >= 0 && (size_t)off < n);
        frame[off] ^= x;
    }
    apply_edit(c, "frame", &frame, &n);
    assert_hex(frame, n, str(c, "frame_hex"), "frame");
    free(input);
    free(envb);
    free(payload);
    cpm_identity_wipe(&signer);
    *frame_len = n;
    return frame;
}

static const char *opt(json_t *ctx, const char *key)
{
    json_t *v = json_object_get(ctx, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_envelopes(void **state)
{
    (void)state;
    assert_hex((const uint8_t *)CPM_ENVELOPE_DOMAIN, sizeof CPM_ENVELOPE_DOMAIN,
               str(env_doc, "domain_hex"), "envelope domain");
    assert_hex((const uint8_t *)CPM_ENVELOPE_DOMAIN_V2, sizeof CPM_ENVELOPE_DOMAIN_V2,
               str(env_doc, "domain_v2_hex"), "envelope domain of version 2");
    int64_t now = num(env_doc, "now_ms");
    int64_t skew = num(env_doc, "max_skew_ms");
    int seen[CPM_V_COUNT] = {0};
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(env_doc, "cases"), i, c)
    {
        const char *name = str(c, "name");
        uint8_t *frame;
        size_t len;
        json_t *spec = json_object_get(c, "frame");
        if (json_object_get(c, "envelope")) {
            frame = rebuild_case(c, &len);
        } else if (json_is_object(spec)) {
            len = (size_t)num(spec, "length");
            uint8_t fill;
            assert_int_equal(cpm_hex_decode(str(spec, "fill_hex"), &fill, 1), 0);
            frame = malloc(len);
            memset(frame, fill, len);
        } else {
            frame = unhex(str(c, "frame_hex"), &len);
        }

        /* The layout rules alone (checks 2 and 3) refuse exactly the
         * malformed frames, and an edited frame at check 2, an edited
         * envelope at check 3. */
        if (len <= CPM_MAX_MSG) {
            cpm_slice_t eb, sb;
            cpm_envelope_view_t ev;
            int outer = cpm_envelope_parse_signed(frame, len, &eb, &sb);
            int inner = outer == 0 ? cpm_envelope_parse_view(eb.data, eb.len, &ev) : -1;
            const char *first = json_string_value(json_array_get(json_object_get(c, "expect"), 0));
            int malformed = first && strcmp(first, "malformed") == 0;
            if ((outer == 0 && inner == 0) == malformed)
                fail_msg("case %s: layout %s, the vector says %s", name,
                         outer || inner ? "refused" : "accepted", first ? first : "nothing");
            if (has_edit(c, "frame"))
                assert_int_equal(outer, -1);
            if (has_edit(c, "envelope")) {
                assert_int_equal(outer, 0);
                assert_int_equal(inner, -1);
            }
        }

        json_t *cj = json_object_get(c, "ctx");
        cpm_verify_ctx_t ctx = {.self = opt(cj, "self"),
                                .service = opt(cj, "service"),
                                .transport_user = opt(cj, "transport_user"),
                                .awaiting_reply = opt(cj, "awaiting_reply"),
                                .expect_sender = opt(cj, "expect_sender")};
        cpm_verifier_t *v = cpm_verifier_new(skew);
        size_t k;
        json_t *want;
        json_array_foreach(json_object_get(c, "expect"), k, want)
        {
            cpm_msg_t m;
            cpm_verdict_t r = cpm_verifier_check(v, reg, &ctx, frame, len, now, &m);
            if (strcmp(cpm_verdict_name(r), json_string_value(want)) != 0)
                fail_msg("case %s, delivery %zu: verdict %s, the vector says %s", name, k + 1,
                         cpm_verdict_name(r), json_string_value(want));
            seen[r] = 1;
            cpm_msg_clear(&m);
        }
        assert_true(k >= 1);
        cpm_verifier_destroy(&v);
        free(frame);
    }
    /* The vectors show every verdict at least once; key_not_valid_at is a
     * verdict of kept acts (cpm_keyhist.h), never of a frame on the wire. */
    for (int r = 0; r < CPM_V_COUNT; r++)
        if (!seen[r] && r != CPM_V_KEY_NOT_VALID_AT)
            fail_msg("no vector has verdict %s", cpm_verdict_name((cpm_verdict_t)r));
}

/* exchange.json: the proof log's hashes, the checkpoint, the cosignature and
 * the evidence file (docs/protocol.md 19.5, 19.6), with the code's own
 * functions. */
static void test_exchange(void **state)
{
    (void)state;
    json_t *doc = load("exchange.json");
    assert_non_null(doc);
    json_t *log = json_object_get(doc, "log"), *v;
    size_t i, n = json_array_size(log);
    assert_int_equal(n, 2);
    Cpm__LogRecord recs[2], *rp[2];
    uint8_t *bufs[6];
    json_array_foreach(log, i, v)
    {
        cpm__log_record__init(&recs[i]);
        bufs[3 * i] = unhex(str(v, "body_hex"), &recs[i].body.len);
        bufs[3 * i + 1] = unhex(str(v, "prev_hash_hex"), &recs[i].prev_hash.len);
        bufs[3 * i + 2] = unhex(str(v, "hash_hex"), &recs[i].hash.len);
        recs[i].body.data = bufs[3 * i];
        recs[i].prev_hash.data = bufs[3 * i + 1];
        recs[i].hash.data = bufs[3 * i + 2];
        uint8_t c[32];
        cpm_xlog_content(recs[i].body.data, recs[i].body.len, c);
        assert_hex(c, 32, str(v, "content_hex"), "content");
        rp[i] = &recs[i];
    }
    cpm_xlog_head_t h = {0, {0}, false};
    cpm_xlog_problem_t p = {0};
    assert_int_equal(cpm_xlog_verify_run(rp, 2, &h, &p), 0);
    json_t *cj = json_object_get(doc, "checkpoint");
    size_t flen, slen, elen;
    uint8_t *frame = unhex(str(cj, "frame_hex"), &flen);
    Cpm__Checkpoint *cp = NULL;
    assert_int_equal(cpm_xcheckpoint_verify(reg, frame, flen, &cp, &p), 0);
    assert_int_equal(cp->seq, 2);
    assert_memory_equal(cp->head_hash.data, h.hash, 32);
    cpm__checkpoint__free_unpacked(cp, NULL);
    json_t *sj = json_object_get(doc, "cosignature");
    uint8_t *sig = unhex(str(sj, "signature_hex"), &slen);
    cpm_identity_t hk;
    identity_of(str(sj, "cosigner"), &hk);
    assert_int_equal(cpm_xcosign_check(hk.sign_pk, frame, flen, num(sj, "at_ms"), sig, slen), 0);
    cpm_identity_t root;
    identity_of("root", &root);
    uint8_t *ev = unhex(str(json_object_get(doc, "evidence"), "file_hex"), &elen);
    char *summary = NULL;
    if (cpm_xevidence_verify(ev, elen, root.sign_pk, &summary, &p) != 0)
        fail_msg("exchange.json evidence: %s", p.what);
    free(summary);
    ev[elen / 2] ^= 1;
    assert_int_equal(cpm_xevidence_verify(ev, elen, root.sign_pk, &summary, &p), -1);
    for (i = 0; i < 6; i++)
        free(bufs[i]);
    free(frame);
    free(sig);
    free(ev);
    json_decref(doc);
}

/* receipts.json: the trees, the group's leaves and proofs as cpm_rgroup
 * writes them, the frame opened as its recipient, the stand-alone proof as
 * cpm_receipt_proof_frame writes it and checked, and every refusal with
 * its field. */
static void test_receipts(void **state)
{
    (void)state;
    json_t *doc = load("receipts.json");
    assert_non_null(doc);
    json_t *tj = json_object_get(doc, "trees"), *v, *w;
    size_t i, j, len;
    uint8_t lh[16][32], root[32], path[CPM_MERKLE_PATH_MAX][32];
    json_array_foreach(json_object_get(tj, "leaves"), i, v)
    {
        const char *s = json_string_value(v);
        cpm_merkle_leaf_hash((const uint8_t *)s, strlen(s), lh[i]);
        assert_hex(lh[i], 32,
                   json_string_value(json_array_get(json_object_get(tj, "leaf_hashes_hex"), i)),
                   "leaf hash");
    }
    json_array_foreach(json_object_get(tj, "trees"), i, v)
    {
        size_t n = (size_t)num(v, "size");
        assert_int_equal(cpm_merkle_root(lh, n, root), 0);
        assert_hex(root, 32, str(v, "root_hex"), "tree root");
        json_array_foreach(json_object_get(v, "paths_hex"), j, w)
        {
            size_t np = 0;
            assert_int_equal(cpm_merkle_path(lh, n, j, path, &np), 0);
            assert_int_equal(np, json_array_size(w));
            for (size_t k = 0; k < np; k++)
                assert_hex(path[k], 32, json_string_value(json_array_get(w, k)), "path hash");
            assert_int_equal(cpm_merkle_verify(lh[j], j, n, path, np, root), 0);
        }
    }
    /* The same leaves through cpm_rgroup give the vector's proofs. */
    json_t *g = json_object_get(doc, "group");
    cpm_rgroup_t *rg = cpm_rgroup_new();
    json_array_foreach(json_object_get(g, "leaves"), i, v)
    {
        size_t pl, hl;
        uint8_t *p = unhex(str(v, "payload_hex"), &pl), *ih = unhex(str(v, "item_hash_hex"), &hl);
        assert_int_equal(cpm_rgroup_add(rg, str(v, "recipient"), str(v, "correlation_id"),
                                        (uint32_t)num(v, "item"),
                                        (Cpm__MsgType)num(v, "type_value"), p, pl, ih),
                         (long)i);
        free(p);
        free(ih);
    }
    cpm_identity_t doit;
    identity_of("hn.doit", &doit);
    cpm_sender_t snd;
    cpm_sender_init(&snd, &doit, "intake.reply");
    assert_int_equal(cpm_rgroup_seal(rg, &snd, num(g, "committed_ms")), 0);
    size_t mine[8], nmine = 0;
    json_array_foreach(json_object_get(g, "items"), i, v) mine[nmine++] = (size_t)num(v, "index");
    uint8_t *rf = NULL;
    size_t rfl = 0;
    assert_int_equal(cpm_rgroup_frame(rg, mine, nmine, &rf, &rfl), 0);
    cpm_slice_t e, s, p;
    size_t signed_len;
    assert_int_equal(cpm_receipt_parse_frame(rf, rfl, &e, &s, &p, &signed_len), 0);
    assert_hex(p.data, p.len, str(g, "proofs_hex"), "proofs written by cpm_rgroup_frame");
    free(rf);
    cpm_rgroup_destroy(&rg);
    /* The vector's frame, as its recipient gets it. */
    uint8_t *frame = unhex(str(g, "frame_hex"), &len);
    assert_int_equal(cpm_receipt_parse_frame(frame, len, &e, &s, &p, &signed_len), 0);
    assert_hex(frame, signed_len, str(g, "signed_envelope_hex"), "signed envelope");
    int64_t now = num(env_doc, "now_ms");
    cpm_verifier_t *vf = cpm_verifier_new(num(env_doc, "max_skew_ms"));
    cpm_verify_ctx_t ctx = {NULL, NULL, NULL, "*", str(g, "signer")};
    cpm_msg_t m = {0};
    assert_int_equal(cpm_verifier_check(vf, reg, &ctx, frame, signed_len, now, &m), CPM_V_OK);
    /* A service's view of the whole frame: field 3 is refused. */
    cpm_msg_t m2 = {0};
    assert_int_equal(cpm_verifier_check(vf, reg, &ctx, frame, len, now, &m2), CPM_V_MALFORMED);
    cpm_receipt_t *r = NULL;
    cpm_error_t err = {0};
    if (cpm_receipt_open(&m, frame, len, str(g, "self"), &r, &err) != 0)
        fail_msg("receipts.json frame: %s: %s", err.field, err.message);
    assert_int_equal(cpm_receipt_count(r), nmine);
    assert_int_equal(cpm_receipt_committed_ms(r), num(g, "committed_ms"));
    json_array_foreach(json_object_get(g, "items"), i, v)
    {
        const cpm_receipt_item_t *it = cpm_receipt_at(r, i);
        assert_int_equal(it->index, num(v, "index"));
        assert_string_equal(it->correlation_id, str(v, "correlation_id"));
        assert_int_equal(it->item, num(v, "item"));
    }
    json_t *pj = json_object_get(doc, "proof");
    uint8_t *pf = NULL;
    size_t pfl = 0, k = 0;
    for (k = 0; k < nmine && mine[k] != (size_t)num(pj, "leaf"); k++)
        ;
    assert_int_equal(cpm_receipt_proof_frame(r, k, &pf, &pfl), 0);
    assert_hex(pf, pfl, str(pj, "frame_hex"), "stand-alone proof frame");
    Cpm__ReceiptLeaf *leaf = NULL;
    const Cpm__Member *signer = NULL;
    int64_t at = 0;
    assert_int_equal(cpm_receipt_check(reg, pf, pfl, &leaf, &signer, &at, NULL, &err), 0);
    assert_string_equal(signer->id, str(pj, "signer"));
    assert_int_equal(at, num(pj, "committed_ms"));
    assert_int_equal(leaf->item,
                     num(json_array_get(json_object_get(g, "leaves"), num(pj, "leaf")), "item"));
    cpm__receipt_leaf__free_unpacked(leaf, NULL);
    free(pf);
    cpm_receipt_destroy(&r);
    json_array_foreach(json_object_get(doc, "refusals"), i, v)
    {
        size_t fl;
        uint8_t *f = unhex(str(v, "frame_hex"), &fl);
        cpm_msg_t mw = {0};
        assert_string_equal(cpm_verdict_name(cpm_verifier_check(vf, reg, &ctx, f, fl, now, &mw)),
                            str(v, "verifier_whole_frame"));
        int rc;
        if (strcmp(str(v, "by"), "open") == 0) {
            rc = cpm_receipt_open(&m, f, fl, str(v, "self"), &r, &err);
        } else {
            rc = cpm_receipt_check(reg, f, fl, &leaf, &signer, NULL, NULL, &err);
        }
        if (rc == 0 || strcmp(err.field, str(v, "field")) != 0)
            fail_msg("refusal %s: rc %d field %s (%s)", str(v, "name"), rc, err.field, err.message);
        free(f);
    }
    cpm_msg_clear(&m);
    cpm_verifier_destroy(&vf);
    cpm_identity_wipe(&doit);
    free(frame);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),     cmocka_unit_test(test_registry),
        cmocka_unit_test(test_events),   cmocka_unit_test(test_envelopes),
        cmocka_unit_test(test_exchange), cmocka_unit_test(test_receipts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
