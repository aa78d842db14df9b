/* cpm_receipt: a group of answers for three recipients sealed once by a
 * registered service; each connection's frame verified (cpm_verifier_check
 * on the prefix) and opened; stand-alone proofs checked by a third party;
 * and every way a frame can lie refused with the field named: a leaf for
 * someone else, swapped proofs, any flipped byte, a forged signature, field
 * 3 out of place, counts and sizes out of bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/signed_registry.h"

#include "cpm_receipt.h"
#include "cpm_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H CPM_MERKLE_HASH
#define COMMITTED 1767225600123LL

static cpm_identity_t root, doit, lan, old, ghost;
static cpm_registry_t *reg;

static int setup(void **state)
{
    (void)state;
    cpm_identity_t *ids[] = {&root, &doit, &lan, &old, &ghost};
    const char *names[] = {"root", "hn.doit", "hn.op.lan", "hn.op.old", "hn.op.ghost"};
    if (sreg_identities(ids, names, 5, 0x50) != 0)
        return -1;
    static char *op_rules[] = {"submit_complaint@intake"};
    Cpm__ServiceEndpoint ep = CPM__SERVICE_ENDPOINT__INIT, st = CPM__SERVICE_ENDPOINT__INIT,
                         *eps[2] = {&ep, &st};
    ep.name = "intake";
    ep.endpoint = "tcp://127.0.0.1:7100";
    ep.pub_endpoint = "tcp://127.0.0.1:7101";
    st.name = "status"; /* a service of hn.doit that answers no submit */
    st.endpoint = "tcp://127.0.0.1:7102";
    st.pub_endpoint = "tcp://127.0.0.1:7103";
    Cpm__Member *ms[3] = {sreg_member(&doit, "department", NULL, 0),
                          sreg_member(&lan, "operator", op_rules, 1),
                          sreg_member(&old, "operator", op_rules, 1)};
    ms[0]->ticket_prefix = "HN";
    ms[0]->services = eps;
    ms[0]->n_services = 2;
    Cpm__Registry doc = CPM__REGISTRY__INIT;
    doc.version = 1;
    doc.issued_ms = COMMITTED - 86400000;
    doc.mesh = "hanoi-test";
    doc.members = ms;
    doc.n_members = 3;
    reg = sreg_sign_load(&doc, &root);
    for (int i = 0; i < 3; i++)
        free(ms[i]);
    return reg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cpm_registry_destroy(&reg);
    return 0;
}

/* ---- a group of 3 recipients: a/0..2, b/0..1 and c/0 (an error) ---- */

enum { NREC = 3, NLEAF = 6 };
static const char *const RECIPIENT[NREC] = {"hn.op.lan/a", "hn.op.lan/b", "hn.op.old/a"};
static const char *const REQUEST[NREC] = {"aaaa0000aaaa0000aaaa0000aaaa0000",
                                          "bbbb0000bbbb0000bbbb0000bbbb0000",
                                          "cccc0000cccc0000cccc0000cccc0000"};
/* Interleaved the way a group commit mixes its clients. */
static const int WHO[NLEAF] = {0, 1, 0, 2, 1, 0};

typedef struct {
    cpm_rgroup_t *g;
    cpm_sender_t sender;
    size_t idx[NREC][NLEAF], n[NREC];
    uint32_t item[NLEAF];
    uint8_t *frame[NREC];
    size_t frame_len[NREC];
} group_t;

static void payload_of(size_t leaf, char *buf, size_t n)
{
    snprintf(buf, n, "ticket HN-%04zu", leaf);
}

static void make_group_as(group_t *t, const cpm_identity_t *signer, const char *instance)
{
    memset(t, 0, sizeof *t);
    t->g = cpm_rgroup_new();
    assert_non_null(t->g);
    cpm_sender_init(&t->sender, signer, instance);
    for (size_t i = 0; i < NLEAF; i++) {
        int w = WHO[i];
        char p[32], item[32];
        payload_of(i, p, sizeof p);
        uint8_t ih[H];
        snprintf(item, sizeof item, "complaint %zu", i);
        crypto_hash_sha256(ih, (const uint8_t *)item, strlen(item));
        t->item[i] = (uint32_t)t->n[w];
        Cpm__MsgType ty = w == 2 ? CPM__MSG_TYPE__MSG_ERROR : CPM__MSG_TYPE__MSG_SUBMIT_REPLY;
        long ix = cpm_rgroup_add(t->g, RECIPIENT[w], REQUEST[w], t->item[i], ty, (uint8_t *)p,
                                 strlen(p), ih);
        assert_int_equal(ix, (long)i);
        t->idx[w][t->n[w]++] = i;
    }
    assert_int_equal(cpm_rgroup_size(t->g), NLEAF);
    uint8_t *f = NULL;
    size_t fl = 0;
    assert_int_equal(cpm_rgroup_frame(t->g, t->idx[0], 1, &f, &fl), -1); /* not sealed */
    assert_int_equal(cpm_rgroup_seal(t->g, &t->sender, COMMITTED), 0);
    assert_int_equal(cpm_rgroup_seal(t->g, &t->sender, COMMITTED), -1); /* once */
    for (int w = 0; w < NREC; w++) {
        assert_int_equal(cpm_rgroup_frame(t->g, t->idx[w], t->n[w], &t->frame[w], &t->frame_len[w]),
                         0);
        /* its size told without making it: field 3's contents and what
         * comes before field 3 */
        size_t proofs_len = 0, prefix_len = 0;
        assert_int_equal(cpm_rgroup_frame_size(t->g, t->idx[w], t->n[w], &proofs_len, &prefix_len),
                         0);
        cpm_slice_t env, sig, proofs;
        size_t signed_len = 0;
        assert_int_equal(
            cpm_receipt_parse_frame(t->frame[w], t->frame_len[w], &env, &sig, &proofs, &signed_len),
            0);
        assert_int_equal(proofs_len, proofs.len);
        assert_int_equal(prefix_len, signed_len);
    }
}

static void make_group(group_t *t, const cpm_identity_t *signer)
{
    make_group_as(t, signer, "intake.reply");
}

static void free_group(group_t *t)
{
    for (int w = 0; w < NREC; w++)
        free(t->frame[w]);
    cpm_rgroup_destroy(&t->g);
    cpm_rgroup_destroy(&t->g); /* safe twice */
}

/* What a client does: the verifier on the prefix, then open. */
static int client_open(const uint8_t *frame, size_t len, const char *self, cpm_receipt_t **r,
                       cpm_error_t *err)
{
    cpm_slice_t e, s, p;
    size_t signed_len = 0;
    assert_int_equal(cpm_receipt_parse_frame(frame, len, &e, &s, &p, &signed_len), 0);
    cpm_verifier_t *v = cpm_verifier_new(300000);
    assert_non_null(v);
    cpm_verify_ctx_t ctx = {NULL, NULL, NULL, "*", "hn.doit"};
    cpm_msg_t m = {0};
    cpm_verdict_t vd = cpm_verifier_check(v, reg, &ctx, frame, signed_len, cpm_now_ms(), &m);
    cpm_verifier_destroy(&v);
    if (vd != CPM_V_OK)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "verifier", "%s", cpm_verdict_name(vd));
    int rc = cpm_receipt_open(&m, frame, len, self, r, err);
    cpm_msg_clear(&m);
    return rc;
}

static void assert_refused(int rc, const cpm_error_t *err, const char *field)
{
    assert_int_equal(rc, CPM_E_FORBIDDEN);
    if (strcmp(err->field, field) != 0)
        fail_msg("refused with field %s (%s), expected %s", err->field, err->message, field);
}

static void test_open_each(void **state)
{
    (void)state;
    group_t t;
    make_group(&t, &doit);
    for (int w = 0; w < NREC; w++) {
        cpm_receipt_t *r = NULL;
        cpm_error_t err = {0};
        if (client_open(t.frame[w], t.frame_len[w], RECIPIENT[w], &r, &err) != 0)
            fail_msg("%s: %s: %s", RECIPIENT[w], err.field, err.message);
        assert_int_equal(cpm_receipt_count(r), t.n[w]);
        assert_int_equal(cpm_receipt_committed_ms(r), COMMITTED);
        for (size_t k = 0; k < t.n[w]; k++) {
            const cpm_receipt_item_t *it = cpm_receipt_at(r, k);
            size_t leaf = t.idx[w][k];
            char p[32], item[32];
            uint8_t ih[H];
            payload_of(leaf, p, sizeof p);
            snprintf(item, sizeof item, "complaint %zu", leaf);
            crypto_hash_sha256(ih, (const uint8_t *)item, strlen(item));
            assert_int_equal(it->index, leaf);
            assert_string_equal(it->correlation_id, REQUEST[w]);
            assert_int_equal(it->item, k);
            assert_int_equal(it->type,
                             w == 2 ? CPM__MSG_TYPE__MSG_ERROR : CPM__MSG_TYPE__MSG_SUBMIT_REPLY);
            assert_int_equal(it->payload_len, strlen(p));
            assert_memory_equal(it->payload, p, strlen(p));
            assert_memory_equal(it->item_hash, ih, H);
        }
        assert_null(cpm_receipt_at(r, t.n[w]));
        /* Each item's stand-alone proof, checked by a third party. */
        for (size_t k = 0; k < t.n[w]; k++) {
            uint8_t *pf = NULL;
            size_t pl = 0;
            assert_int_equal(cpm_receipt_proof_frame(r, k, &pf, &pl), 0);
            Cpm__ReceiptLeaf *leaf = NULL;
            const Cpm__Member *signer = NULL;
            int64_t at = 0;
            if (cpm_receipt_check(reg, pf, pl, &leaf, &signer, &at, NULL, &err) != 0)
                fail_msg("proof %zu: %s: %s", k, err.field, err.message);
            assert_string_equal(signer->id, "hn.doit");
            assert_int_equal(at, COMMITTED);
            assert_string_equal(leaf->recipient, RECIPIENT[w]);
            assert_string_equal(leaf->correlation_id, REQUEST[w]);
            assert_int_equal(leaf->item, k);
            cpm__receipt_leaf__free_unpacked(leaf, NULL);
            free(pf);
        }
        assert_int_equal(cpm_receipt_proof_frame(r, t.n[w], &(uint8_t *){NULL}, &(size_t){0}), -1);
        cpm_receipt_destroy(&r);
        cpm_receipt_destroy(&r);
    }
    /* The whole frame holds several proofs: not a stand-alone proof. */
    Cpm__ReceiptLeaf *leaf = NULL;
    const Cpm__Member *signer = NULL;
    cpm_error_t err = {0};
    assert_refused(
        cpm_receipt_check(reg, t.frame[0], t.frame_len[0], &leaf, &signer, NULL, NULL, &err), &err,
        "proofs");
    free_group(&t);
}

/* Another recipient's frame, or a frame holding one leaf of another. */
static void test_other_recipient(void **state)
{
    (void)state;
    group_t t;
    make_group(&t, &doit);
    cpm_receipt_t *r = NULL;
    cpm_error_t err = {0};
    assert_refused(client_open(t.frame[1], t.frame_len[1], RECIPIENT[0], &r, &err), &err,
                   "proofs[0].leaf.recipient");
    assert_null(r);
    /* a's leaves 0 and 2 plus b's leaf 4. */
    size_t idx[3] = {0, 2, 4};
    uint8_t *f = NULL;
    size_t fl = 0;
    assert_int_equal(cpm_rgroup_frame(t.g, idx, 3, &f, &fl), 0);
    assert_refused(client_open(f, fl, RECIPIENT[0], &r, &err), &err, "proofs[2].leaf.recipient");
    free(f);
    /* The server refuses indexes out of order, twice, or past the group. */
    size_t bad[3][2] = {{2, 0}, {2, 2}, {0, NLEAF}};
    size_t pl = 0, xl = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cpm_rgroup_frame(t.g, bad[i], 2, &f, &fl), -1);
        assert_int_equal(cpm_rgroup_frame_size(t.g, bad[i], 2, &pl, &xl), -1);
    }
    assert_int_equal(cpm_rgroup_frame(t.g, idx, 0, &f, &fl), -1);
    free_group(&t);
}

/* The frame's prefix with proofs (re-encoded) in field 3. */
static uint8_t *reframe(const uint8_t *frame, size_t len, const Cpm__ReceiptProofs *ps,
                        size_t *out_len)
{
    cpm_slice_t e, s, p;
    size_t signed_len;
    assert_int_equal(cpm_receipt_parse_frame(frame, len, &e, &s, &p, &signed_len), 0);
    size_t n = cpm__receipt_proofs__get_packed_size(ps);
    uint8_t *b = malloc(signed_len + 6 + n), *q = b + signed_len;
    memcpy(b, frame, signed_len);
    *q++ = 0x1a;
    size_t v = n;
    for (; v >= 0x80; v >>= 7)
        *q++ = (uint8_t)(v | 0x80);
    *q++ = (uint8_t)v;
    q += cpm__receipt_proofs__pack(ps, q);
    *out_len = (size_t)(q - b);
    return b;
}

static Cpm__ReceiptProofs *proofs_of(const uint8_t *frame, size_t len)
{
    cpm_slice_t e, s, p;
    size_t signed_len;
    assert_int_equal(cpm_receipt_parse_frame(frame, len, &e, &s, &p, &signed_len), 0);
    Cpm__ReceiptProofs *ps = cpm__receipt_proofs__unpack(NULL, p.len, p.data);
    assert_non_null(ps);
    return ps;
}

static void test_swapped_proofs(void **state)
{
    (void)state;
    group_t t;
    make_group(&t, &doit);
    cpm_receipt_t *r = NULL;
    cpm_error_t err = {0};
    Cpm__ReceiptProofs *ps = proofs_of(t.frame[0], t.frame_len[0]);
    assert_int_equal(ps->n_proofs, 3);
    size_t fl;
    uint8_t *f;
    /* Leaf 0 with leaf 2's path. */
    ProtobufCBinaryData *pa = ps->proofs[0]->path;
    size_t na = ps->proofs[0]->n_path;
    ps->proofs[0]->path = ps->proofs[1]->path;
    ps->proofs[0]->n_path = ps->proofs[1]->n_path;
    f = reframe(t.frame[0], t.frame_len[0], ps, &fl);
    assert_refused(client_open(f, fl, RECIPIENT[0], &r, &err), &err, "proofs[0].path");
    free(f);
    ps->proofs[0]->path = pa;
    ps->proofs[0]->n_path = na;
    /* Leaf 0 claiming index 1 (its path unchanged). */
    ps->proofs[0]->index = 1;
    f = reframe(t.frame[0], t.frame_len[0], ps, &fl);
    assert_refused(client_open(f, fl, RECIPIENT[0], &r, &err), &err, "proofs[0].path");
    free(f);
    ps->proofs[0]->index = 0;
    /* The proofs in the wrong order, and one twice. */
    Cpm__ReceiptProof *p0 = ps->proofs[0], *orig[3] = {ps->proofs[0], ps->proofs[1], ps->proofs[2]};
    ps->proofs[0] = ps->proofs[1];
    ps->proofs[1] = p0;
    f = reframe(t.frame[0], t.frame_len[0], ps, &fl);
    assert_refused(client_open(f, fl, RECIPIENT[0], &r, &err), &err, "proofs[1].index");
    free(f);
    ps->proofs[0] = ps->proofs[1];
    f = reframe(t.frame[0], t.frame_len[0], ps, &fl);
    assert_refused(client_open(f, fl, RECIPIENT[0], &r, &err), &err, "proofs[1].index");
    free(f);
    memcpy(ps->proofs, orig, sizeof orig);
    /* A path of 33 hashes. */
    uint8_t zero[H] = {0};
    ProtobufCBinaryData longp[CPM_MERKLE_PATH_MAX + 1];
    for (int i = 0; i <= CPM_MERKLE_PATH_MAX; i++)
        longp[i] = (ProtobufCBinaryData){H, zero};
    pa = ps->proofs[0]->path;
    na = ps->proofs[0]->n_path;
    ps->proofs[0]->path = longp;
    ps->proofs[0]->n_path = CPM_MERKLE_PATH_MAX + 1;
    f = reframe(t.frame[0], t.frame_len[0], ps, &fl);
    assert_refused(client_open(f, fl, RECIPIENT[0], &r, &err), &err, "proofs[0].path");
    free(f);
    /* A path hash of 31 bytes. */
    ps->proofs[0]->path = pa;
    ps->proofs[0]->n_path = na;
    pa[0].len = H - 1;
    f = reframe(t.frame[0], t.frame_len[0], ps, &fl);
    assert_refused(client_open(f, fl, RECIPIENT[0], &r, &err), &err, "proofs[0].path");
    free(f);
    pa[0].len = H;
    /* An index past the group. */
    ps->proofs[2]->index = NLEAF;
    f = reframe(t.frame[0], t.frame_len[0], ps, &fl);
    assert_refused(client_open(f, fl, RECIPIENT[0], &r, &err), &err, "proofs[2].index");
    free(f);
    /* More proofs than leaves (the group has 6). */
    Cpm__ReceiptProof *many[NLEAF + 1];
    for (int i = 0; i <= NLEAF; i++)
        many[i] = p0;
    Cpm__ReceiptProof **keep = ps->proofs;
    size_t nkeep = ps->n_proofs;
    ps->proofs = many;
    ps->n_proofs = NLEAF + 1;
    f = reframe(t.frame[0], t.frame_len[0], ps, &fl);
    assert_refused(client_open(f, fl, RECIPIENT[0], &r, &err), &err, "proofs");
    free(f);
    ps->proofs = keep;
    ps->n_proofs = nkeep;
    cpm__receipt_proofs__free_unpacked(ps, NULL);
    free_group(&t);
}

/* Every byte of field 3 flipped, one at a time: always refused. */
static void test_flipped_byte(void **state)
{
    (void)state;
    group_t t;
    make_group(&t, &doit);
    cpm_slice_t e, s, p;
    size_t signed_len;
    uint8_t *f = t.frame[0];
    size_t fl = t.frame_len[0];
    assert_int_equal(cpm_receipt_parse_frame(f, fl, &e, &s, &p, &signed_len), 0);
    cpm_verifier_t *v = cpm_verifier_new(300000);
    cpm_verify_ctx_t ctx = {NULL, NULL, NULL, "*", "hn.doit"};
    cpm_msg_t m = {0};
    assert_int_equal(cpm_verifier_check(v, reg, &ctx, f, signed_len, cpm_now_ms(), &m), CPM_V_OK);
    for (size_t i = signed_len; i < fl; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            f[i] ^= (uint8_t)(1u << bit);
            cpm_receipt_t *r = NULL;
            cpm_error_t err = {0};
            if (cpm_receipt_open(&m, f, fl, RECIPIENT[0], &r, &err) == 0)
                fail_msg("byte %zu bit %d flipped: accepted", i, bit);
            assert_int_equal(err.code, CPM_E_FORBIDDEN);
            assert_true(err.field[0] != 0);
            f[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* The frame opened against another verified envelope. */
    group_t t2;
    make_group(&t2, &doit);
    cpm_receipt_t *r = NULL;
    cpm_error_t err = {0};
    assert_refused(cpm_receipt_open(&m, t2.frame[0], t2.frame_len[0], RECIPIENT[0], &r, &err), &err,
                   "envelope");
    assert_int_equal(cpm_receipt_open(&m, f, fl, RECIPIENT[0], &r, &err), 0);
    cpm_receipt_destroy(&r);
    free_group(&t2);
    cpm_msg_clear(&m);
    cpm_verifier_destroy(&v);
    free_group(&t);
}

static void test_proof_refusals(void **state)
{
    (void)state;
    group_t t;
    make_group(&t, &doit);
    cpm_receipt_t *r = NULL;
    cpm_error_t err = {0};
    assert_int_equal(client_open(t.frame[0], t.frame_len[0], RECIPIENT[0], &r, &err), 0);
    uint8_t *pf = NULL;
    size_t pl = 0;
    assert_int_equal(cpm_receipt_proof_frame(r, 1, &pf, &pl), 0);
    Cpm__ReceiptLeaf *leaf = NULL;
    const Cpm__Member *signer = NULL;
    /* Any flipped byte of the proof frame: the envelope, the signature or
     * the proof no longer holds. */
    for (size_t i = 0; i < pl; i++) {
        pf[i] ^= 0x01;
        if (cpm_receipt_check(reg, pf, pl, &leaf, &signer, NULL, NULL, &err) == 0)
            fail_msg("proof frame byte %zu flipped: accepted", i);
        assert_null(leaf);
        assert_true(err.field[0] != 0);
        pf[i] ^= 0x01;
    }
    /* The signature alone. */
    cpm_slice_t e, s, p;
    size_t signed_len;
    assert_int_equal(cpm_receipt_parse_frame(pf, pl, &e, &s, &p, &signed_len), 0);
    ((uint8_t *)s.data)[10] ^= 0x40;
    assert_refused(cpm_receipt_check(reg, pf, pl, &leaf, &signer, NULL, NULL, &err), &err,
                   "signature");
    ((uint8_t *)s.data)[10] ^= 0x40;
    /* Without field 3; with field 3 before field 2. */
    assert_refused(cpm_receipt_check(reg, pf, signed_len, &leaf, &signer, NULL, NULL, &err), &err,
                   "proofs");
    size_t f3 = pl - signed_len, sig_field = 2 + 64;
    uint8_t *sw = malloc(pl);
    memcpy(sw, pf, signed_len - sig_field);
    memcpy(sw + signed_len - sig_field, pf + signed_len, f3);
    memcpy(sw + signed_len - sig_field + f3, pf + signed_len - sig_field, sig_field);
    assert_int_equal(cpm_receipt_parse_frame(sw, pl, &e, &s, &p, &signed_len), -1);
    assert_refused(cpm_receipt_check(reg, sw, pl, &leaf, &signer, NULL, NULL, &err), &err, "frame");
    free(sw);
    assert_int_equal(cpm_receipt_check(reg, pf, pl, &leaf, &signer, NULL, NULL, &err), 0);
    cpm__receipt_leaf__free_unpacked(leaf, NULL);
    free(pf);
    cpm_receipt_destroy(&r);
    free_group(&t);
}

/* A group sealed by someone the registry does not know, and one sealed
 * with hn.doit's name and key id but another secret key. */
static void test_forged(void **state)
{
    (void)state;
    group_t t;
    make_group(&t, &ghost);
    cpm_receipt_t *r = NULL;
    cpm_error_t err = {0};
    assert_refused(client_open(t.frame[0], t.frame_len[0], RECIPIENT[0], &r, &err), &err,
                   "verifier");
    Cpm__ReceiptLeaf *leaf = NULL;
    const Cpm__Member *signer = NULL;
    uint8_t *pf = NULL;
    size_t pl = 0;
    assert_int_equal(cpm_rgroup_frame(t.g, t.idx[0], 1, &pf, &pl), 0);
    assert_refused(cpm_receipt_check(reg, pf, pl, &leaf, &signer, NULL, NULL, &err), &err,
                   "envelope.sender");
    free(pf);
    free_group(&t);

    cpm_identity_t forger = doit;
    uint8_t seed[32];
    memset(seed, 0x77, 32);
    cpm_identity_t other;
    assert_int_equal(cpm_identity_from_seed(&other, "hn.doit", seed), 0);
    memcpy(forger.sign_sk, other.sign_sk, sizeof forger.sign_sk);
    make_group(&t, &forger);
    assert_int_equal(cpm_rgroup_frame(t.g, t.idx[0], 1, &pf, &pl), 0);
    assert_refused(cpm_receipt_check(reg, pf, pl, &leaf, &signer, NULL, NULL, &err), &err,
                   "signature");
    free(pf);
    free_group(&t);
}

/* A group sealed with a registered member's own key but not by its intake:
 * an operator (no service at all) claiming "intake.reply", the department's
 * status service, and the department's intake without ".reply". Each is a
 * valid signature by a registered member; the third party and the client
 * refuse all of them, naming the field. */
static void test_not_intake(void **state)
{
    (void)state;
    static const struct {
        const cpm_identity_t *who;
        const char *instance, *field;
    } cases[] = {
        {&lan, "intake.reply", "envelope.sender"},
        {&doit, "status.reply", "envelope.sender_instance"},
        {&doit, "intake", "envelope.sender_instance"},
        {&lan, "status.reply", "envelope.sender_instance"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        group_t t;
        make_group_as(&t, cases[c].who, cases[c].instance);
        uint8_t *pf = NULL;
        size_t pl = 0;
        assert_int_equal(cpm_rgroup_frame(t.g, t.idx[0], 1, &pf, &pl), 0);
        Cpm__ReceiptLeaf *leaf = NULL;
        const Cpm__Member *signer = NULL;
        cpm_error_t err = {0};
        assert_refused(cpm_receipt_check(reg, pf, pl, &leaf, &signer, NULL, NULL, &err), &err,
                       cases[c].field);
        assert_null(leaf);
        free(pf);
        /* The client asked hn.doit: the verifier accepts its signature, and
         * cpm_receipt_open refuses the instance. */
        if (cases[c].who == &doit) {
            cpm_receipt_t *r = NULL;
            assert_refused(client_open(t.frame[0], t.frame_len[0], RECIPIENT[0], &r, &err), &err,
                           "envelope.sender_instance");
            assert_null(r);
        }
        free_group(&t);
    }
}

/* A GroupRoot that is not what a service seals, signed by the service. */
static uint8_t *sealed_root(const uint8_t *hash, size_t root_len, uint64_t size, const char *rcpt,
                            Cpm__MsgType type, size_t *len)
{
    Cpm__GroupRoot gr = CPM__GROUP_ROOT__INIT;
    gr.root = (ProtobufCBinaryData){root_len, (uint8_t *)hash};
    gr.size = size;
    gr.committed_ms = COMMITTED;
    uint8_t buf[128];
    size_t bl = cpm__group_root__pack(&gr, buf);
    cpm_sender_t s;
    cpm_sender_init(&s, &doit, "intake.reply");
    uint8_t *out = NULL;
    assert_int_equal(cpm_sender_seal_raw(&s, type, rcpt, NULL, buf, bl, NULL, &out, len), 0);
    return out;
}

static void test_root_bounds(void **state)
{
    (void)state;
    /* One leaf, its proof with an empty path: the root is the leaf hash. */
    uint8_t lb[256], lh[H];
    Cpm__ReceiptLeaf l = CPM__RECEIPT_LEAF__INIT;
    uint8_t ih[H] = {1};
    l.recipient = "hn.op.lan/a";
    l.correlation_id = "aaaa";
    l.type = CPM__MSG_TYPE__MSG_SUBMIT_REPLY;
    l.item_hash = (ProtobufCBinaryData){H, ih};
    size_t ll = cpm__receipt_leaf__pack(&l, lb);
    cpm_merkle_leaf_hash(lb, ll, lh);
    Cpm__ReceiptProof p = CPM__RECEIPT_PROOF__INIT, *pp[2] = {&p, &p};
    p.leaf = (ProtobufCBinaryData){ll, lb};
    Cpm__ReceiptProofs ps = CPM__RECEIPT_PROOFS__INIT;
    ps.proofs = pp;
    ps.n_proofs = 1;
    struct {
        const char *name;
        size_t root_len;
        uint64_t size;
        const char *rcpt;
        Cpm__MsgType type;
        size_t nproofs;
        const char *field; /* NULL: accepted */
    } cases[] = {
        {"one leaf", H, 1, "*", CPM__MSG_TYPE__MSG_GROUP_RECEIPT, 1, NULL},
        {"size 0", H, 0, "*", CPM__MSG_TYPE__MSG_GROUP_RECEIPT, 1, "group_root.size"},
        {"size 65537", H, CPM_RECEIPT_LEAVES_MAX + 1, "*", CPM__MSG_TYPE__MSG_GROUP_RECEIPT, 1,
         "group_root.size"},
        {"root of 31 bytes", H - 1, 1, "*", CPM__MSG_TYPE__MSG_GROUP_RECEIPT, 1, "group_root.root"},
        {"2 proofs, 1 leaf", H, 1, "*", CPM__MSG_TYPE__MSG_GROUP_RECEIPT, 2, "proofs"},
        {"no proof", H, 1, "*", CPM__MSG_TYPE__MSG_GROUP_RECEIPT, 0, "proofs"},
        {"to one client", H, 1, "hn.op.lan/a", CPM__MSG_TYPE__MSG_GROUP_RECEIPT, 1,
         "envelope.recipient"},
        {"a submit reply", H, 1, "*", CPM__MSG_TYPE__MSG_SUBMIT_REPLY, 1, "envelope.type"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t sl = 0, fl = 0;
        uint8_t *sealed =
            sealed_root(lh, cases[c].root_len, cases[c].size, cases[c].rcpt, cases[c].type, &sl);
        ps.n_proofs = cases[c].nproofs;
        uint8_t *f = reframe(sealed, sl, &ps, &fl);
        if (cases[c].nproofs == 0)
            fl = sl; /* no field 3 at all */
        cpm_verifier_t *v = cpm_verifier_new(300000);
        cpm_verify_ctx_t ctx = {NULL, NULL, NULL, "*", "hn.doit"};
        cpm_msg_t m = {0};
        assert_int_equal(cpm_verifier_check(v, reg, &ctx, sealed, sl, cpm_now_ms(), &m), CPM_V_OK);
        cpm_receipt_t *r = NULL;
        cpm_error_t err = {0};
        int rc = cpm_receipt_open(&m, f, fl, "hn.op.lan/a", &r, &err);
        Cpm__ReceiptLeaf *leaf = NULL;
        const Cpm__Member *signer = NULL;
        cpm_error_t err2 = {0};
        int rc2 = cpm_receipt_check(reg, f, fl, &leaf, &signer, NULL, NULL, &err2);
        if (!cases[c].field) {
            if (rc != 0 || rc2 != 0)
                fail_msg("%s: refused: %s / %s", cases[c].name, err.message, err2.message);
            cpm_receipt_destroy(&r);
            cpm__receipt_leaf__free_unpacked(leaf, NULL);
        } else {
            if (rc == 0 || strcmp(err.field, cases[c].field) != 0)
                fail_msg("%s: open gave %d %s", cases[c].name, rc, err.field);
            if (rc2 == 0 || strcmp(err2.field, cases[c].field) != 0)
                fail_msg("%s: check gave %d %s", cases[c].name, rc2, err2.field);
        }
        cpm_msg_clear(&m);
        cpm_verifier_destroy(&v);
        free(f);
        free(sealed);
    }
}

/* Unknown fields, signed over or not, refuse the frame: in a leaf (its
 * bytes are the tree's, so the root is built over them) and in the proofs. */
static void test_unknown_fields(void **state)
{
    (void)state;
    uint8_t lb[256], lh[H], ih[H] = {2};
    Cpm__ReceiptLeaf l = CPM__RECEIPT_LEAF__INIT;
    l.recipient = "hn.op.lan/a";
    l.correlation_id = "aaaa";
    l.type = CPM__MSG_TYPE__MSG_SUBMIT_REPLY;
    l.item_hash = (ProtobufCBinaryData){H, ih};
    size_t ll = cpm__receipt_leaf__pack(&l, lb);
    for (int variant = 0; variant < 3; variant++) {
        size_t n = ll;
        if (variant == 1) { /* field 9, varint 1, inside the leaf */
            lb[n++] = 0x48;
            lb[n++] = 0x01;
        }
        cpm_merkle_leaf_hash(lb, n, lh);
        Cpm__ReceiptProof p = CPM__RECEIPT_PROOF__INIT, *pp[1] = {&p};
        p.leaf = (ProtobufCBinaryData){n, lb};
        Cpm__ReceiptProofs ps = CPM__RECEIPT_PROOFS__INIT;
        ps.proofs = pp;
        ps.n_proofs = 1;
        size_t sl = 0, fl = 0;
        uint8_t *sealed = sealed_root(lh, H, 1, "*", CPM__MSG_TYPE__MSG_GROUP_RECEIPT, &sl);
        uint8_t *f = reframe(sealed, sl, &ps, &fl);
        if (variant == 2) { /* field 4 (varint 1) at the end of the ReceiptProof */
            uint8_t *g = malloc(fl + 2);
            memcpy(g, f, fl);
            g[fl] = 0x20;
            g[fl + 1] = 0x01;
            assert_true(g[sl + 1] < 0x7e && g[sl + 2] == 0x0a && g[sl + 3] < 0x7e);
            g[sl + 1] += 2; /* field 3's length (one byte: the proofs are short) */
            g[sl + 3] += 2; /* the proof's */
            free(f);
            f = g;
            fl += 2;
        }
        cpm_verifier_t *v = cpm_verifier_new(300000);
        cpm_verify_ctx_t ctx = {NULL, NULL, NULL, "*", "hn.doit"};
        cpm_msg_t m = {0};
        assert_int_equal(cpm_verifier_check(v, reg, &ctx, sealed, sl, cpm_now_ms(), &m), CPM_V_OK);
        cpm_receipt_t *r = NULL;
        cpm_error_t err = {0};
        int rc = cpm_receipt_open(&m, f, fl, "hn.op.lan/a", &r, &err);
        if (variant == 0) {
            assert_int_equal(rc, 0);
            cpm_receipt_destroy(&r);
        } else {
            assert_refused(rc, &err, variant == 1 ? "proofs[0].leaf" : "proofs");
        }
        cpm_msg_clear(&m);
        cpm_verifier_destroy(&v);
        free(f);
        free(sealed);
    }
}

/* The group holds at most 65,536 leaves; reset empties it for the next. */
static void test_group_bounds(void **state)
{
    (void)state;
    cpm_rgroup_t *g = cpm_rgroup_new();
    uint8_t ih[H] = {0};
    for (long i = 0; i < CPM_RECEIPT_LEAVES_MAX; i++)
        assert_int_equal(cpm_rgroup_add(g, "hn.op.lan/a", "aaaa", 0,
                                        CPM__MSG_TYPE__MSG_SUBMIT_REPLY, NULL, 0, ih),
                         i);
    assert_int_equal(
        cpm_rgroup_add(g, "hn.op.lan/a", "aaaa", 0, CPM__MSG_TYPE__MSG_SUBMIT_REPLY, NULL, 0, ih),
        -1);
    cpm_sender_t s;
    cpm_sender_init(&s, &doit, "intake.reply");
    assert_int_equal(cpm_rgroup_seal(g, &s, COMMITTED), 0);
    /* Sealed: closed until reset. */
    assert_int_equal(
        cpm_rgroup_add(g, "hn.op.lan/a", "aaaa", 0, CPM__MSG_TYPE__MSG_SUBMIT_REPLY, NULL, 0, ih),
        -1);
    size_t last = CPM_RECEIPT_LEAVES_MAX - 1;
    uint8_t *f = NULL;
    size_t fl = 0;
    assert_int_equal(cpm_rgroup_frame(g, &last, 1, &f, &fl), 0);
    cpm_receipt_t *r = NULL;
    cpm_error_t err = {0};
    if (client_open(f, fl, "hn.op.lan/a", &r, &err) != 0)
        fail_msg("%s: %s", err.field, err.message);
    assert_int_equal(cpm_receipt_at(r, 0)->index, last);
    cpm_receipt_destroy(&r);
    free(f);
    cpm_rgroup_reset(g);
    assert_int_equal(cpm_rgroup_size(g), 0);
    assert_int_equal(cpm_rgroup_seal(g, &s, COMMITTED), -1); /* nothing to seal */
    assert_int_equal(
        cpm_rgroup_add(g, "hn.op.lan/a", "aaaa", 0, CPM__MSG_TYPE__MSG_SUBMIT_REPLY, NULL, 0, ih),
        0);
    cpm_rgroup_destroy(&g);
}

/* A proof kept across a key rotation. hn.doit signed a group with the key
 * it had then; the registry now lists that key as a past key (valid until
 * an hour after the group) and a new current key. The proof still holds,
 * "rotated"; a group the old key says it committed after its period is
 * refused (envelope.key_id); and the wire, which takes current keys only,
 * refuses the old key. */
static void test_rotated_key(void **state)
{
    (void)state;
    cpm_identity_t now;
    uint8_t seed[32];
    memset(seed, 0x61, 32);
    assert_int_equal(cpm_identity_from_seed(&now, "hn.doit", seed), 0);
    Cpm__ServiceEndpoint ep = CPM__SERVICE_ENDPOINT__INIT, *eps[1] = {&ep};
    ep.name = "intake";
    ep.endpoint = "tcp://127.0.0.1:7100";
    ep.pub_endpoint = "tcp://127.0.0.1:7101";
    Cpm__PastKey past = CPM__PAST_KEY__INIT, *pasts[1] = {&past};
    past.sign_pk = (ProtobufCBinaryData){32, (uint8_t *)doit.sign_pk};
    past.valid_until_ms = COMMITTED + 3600000;
    past.reason = "rotated";
    Cpm__Member *m = sreg_member(&now, "department", NULL, 0);
    m->ticket_prefix = "HN";
    m->services = eps;
    m->n_services = 1;
    m->past_keys = pasts;
    m->n_past_keys = 1;
    Cpm__Registry doc = CPM__REGISTRY__INIT;
    doc.version = 2;
    doc.issued_ms = COMMITTED + 7200000;
    doc.mesh = "hanoi-test";
    doc.members = &m;
    doc.n_members = 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    assert_int_equal(cpm_registry_sign(&doc, root.sign_sk, &buf, &len), 0);
    free(m);
    cpm_registry_t *rot = cpm_registry_from_signed(buf, len, root.sign_pk, err, sizeof err);
    free(buf);
    if (!rot)
        fail_msg("registry: %s", err);

    static const int64_t at[2] = {COMMITTED, COMMITTED + 3600000 + 1};
    for (int k = 0; k < 2; k++) {
        cpm_rgroup_t *g = cpm_rgroup_new();
        assert_non_null(g);
        cpm_sender_t snd;
        cpm_sender_init(&snd, &doit, "intake.reply");
        uint8_t ih[H] = {1};
        const char *p = "ticket HN-0001";
        assert_int_equal(cpm_rgroup_add(g, RECIPIENT[0], REQUEST[0], 0,
                                        CPM__MSG_TYPE__MSG_SUBMIT_REPLY, (const uint8_t *)p,
                                        strlen(p), ih),
                         0);
        assert_int_equal(cpm_rgroup_seal(g, &snd, at[k]), 0);
        size_t idx = 0;
        uint8_t *pf = NULL;
        size_t pl = 0;
        assert_int_equal(cpm_rgroup_frame(g, &idx, 1, &pf, &pl), 0);
        Cpm__ReceiptLeaf *leaf = NULL;
        const Cpm__Member *signer = NULL;
        cpm_key_standing_t st = CPM_KEY_REVOKED;
        int64_t when = 0;
        cpm_error_t e = {0};
        if (k == 0) {
            assert_int_equal(cpm_receipt_check(rot, pf, pl, &leaf, &signer, &when, &st, &e), 0);
            assert_int_equal(st, CPM_KEY_ROTATED);
            assert_int_equal(when, COMMITTED);
            assert_string_equal(signer->id, "hn.doit");
            cpm__receipt_leaf__free_unpacked(leaf, NULL);
            /* the same proof under the registry of its time: current */
            assert_int_equal(cpm_receipt_check(reg, pf, pl, &leaf, &signer, NULL, &st, &e), 0);
            assert_int_equal(st, CPM_KEY_CURRENT);
            cpm__receipt_leaf__free_unpacked(leaf, NULL);
            /* the wire takes the current key only */
            cpm_slice_t envb;
            const Cpm__Member *wm = NULL;
            size_t signed_len = 0;
            cpm_slice_t es, ss, ps;
            assert_int_equal(cpm_receipt_parse_frame(pf, pl, &es, &ss, &ps, &signed_len), 0);
            assert_int_equal(cpm_verify_signed(rot, pf, signed_len, &envb, &wm), CPM_V_UNKNOWN_KEY);
        } else {
            assert_refused(cpm_receipt_check(rot, pf, pl, &leaf, &signer, &when, &st, &e), &e,
                           "envelope.key_id");
            assert_null(leaf);
        }
        free(pf);
        cpm_rgroup_destroy(&g);
    }
    cpm_registry_destroy(&rot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_each),      cmocka_unit_test(test_other_recipient),
        cmocka_unit_test(test_swapped_proofs), cmocka_unit_test(test_flipped_byte),
        cmocka_unit_test(test_proof_refusals), cmocka_unit_test(test_forged),
        cmocka_unit_test(test_root_bounds),    cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_group_bounds),   cmocka_unit_test(test_not_intake),
        cmocka_unit_test(test_rotated_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
