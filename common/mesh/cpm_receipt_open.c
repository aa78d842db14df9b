/* cpm_receipt_open: the readers of group receipts. A client opens the frame
 * it received (cpm_receipt_open) and may keep one answer's proof
 * (cpm_receipt_proof_frame); anyone with the registry checks such a proof
 * (cpm_receipt_check). Everything read here came from the network: every
 * count, length and index is bounded before it is used, and any failure
 * refuses the whole frame with an error naming the field. */
#include "cpm_receipt.h"
#include "cpm_receipt_int.h"

#include "cpm_keyhist.h"
#include "cpm_pbcheck.h"
#include "cpm_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H CPM_MERKLE_HASH

struct cpm_receipt {
    uint8_t *frame; /* the frame as received */
    size_t frame_len, signed_len;
    int64_t committed_ms;
    Cpm__ReceiptProofs *proofs;
    Cpm__ReceiptLeaf **leaves; /* decoded proofs[i].leaf */
    cpm_receipt_item_t *items;
    size_t n;
};

static int refuse(cpm_error_t *err, const char *field, const char *what)
{
    return cpm_error_set(err, CPM_E_FORBIDDEN, field, "group receipt refused: %s", what);
}

/* The GroupRoot of a verified envelope's payload: root and size. */
static int read_root(const uint8_t *payload, size_t len, uint8_t root[H], uint64_t *size,
                     int64_t *committed_ms, cpm_error_t *err)
{
    Cpm__GroupRoot *gr = cpm__group_root__unpack(cpm_pb_budget(len), len, payload);
    cpm_error_t pe;
    if (!gr || cpm_pbcheck_or_free(&gr->base, &pe) != 0)
        return refuse(err, "group_root", "the payload is not a GroupRoot");
    int rc = 0;
    if (gr->root.len != H)
        rc = refuse(err, "group_root.root", "the root is not 32 bytes");
    else if (gr->size == 0 || gr->size > CPM_RECEIPT_LEAVES_MAX)
        rc = refuse(err, "group_root.size", "the size is 0 or above 65536 leaves");
    if (rc == 0) {
        memcpy(root, gr->root.data, H);
        *size = gr->size;
        *committed_ms = gr->committed_ms;
    }
    cpm__group_root__free_unpacked(gr, NULL);
    return rc;
}

/* The ReceiptProofs of field 3: at most max proofs, counted before the
 * decoder runs, and no unknown field anywhere. */
static int read_proofs(cpm_slice_t sl, size_t max, Cpm__ReceiptProofs **out, cpm_error_t *err)
{
    size_t cnt = 0;
    if (sl.len == 0)
        return refuse(err, "proofs", "the frame carries no proof");
    if (cpm_pb_count_fields(sl.data, sl.len, max, &cnt) != 0)
        return refuse(err, "proofs", "more proofs than the group has leaves, or not protobuf");
    Cpm__ReceiptProofs *ps = cpm__receipt_proofs__unpack(cpm_pb_budget(sl.len), sl.len, sl.data);
    if (!ps)
        return refuse(err, "proofs", "not a ReceiptProofs");
    /* What cpm_pbcheck would find in these messages of bytes and numbers
     * (unknown fields; sizes are bounded by the frame), without the field
     * paths it formats for every element: a 32-proof frame took 300. */
    bool unknown = ps->base.n_unknown_fields > 0;
    for (size_t i = 0; i < ps->n_proofs && !unknown; i++)
        unknown = ps->proofs[i]->base.n_unknown_fields > 0;
    if (unknown) {
        cpm__receipt_proofs__free_unpacked(ps, NULL);
        return refuse(err, "proofs", "a field unknown to this protocol version");
    }
    if (ps->n_proofs == 0 || ps->n_proofs > max) {
        cpm__receipt_proofs__free_unpacked(ps, NULL);
        return refuse(err, "proofs", "no proof, or more proofs than leaves");
    }
    *out = ps;
    return 0;
}

/* A refusal about proof i: the field "proofs[i]<sub>", formatted only on
 * failure (a frame of many proofs that holds formats nothing). */
static int refuse_at(cpm_error_t *err, size_t i, const char *sub, const char *what)
{
    char field[48];
    snprintf(field, sizeof field, "proofs[%zu]%s", i, sub);
    return refuse(err, field, what);
}

/* Proof i against (root, size): its path, then its leaf. self: the
 * recipient the leaf must name, or NULL (a third party). On 0 *leaf_out is
 * the decoded leaf. */
static int check_proof(const Cpm__ReceiptProof *p, size_t i, const uint8_t root[H], uint64_t size,
                       const char *self, Cpm__ReceiptLeaf **leaf_out, cpm_error_t *err)
{
    if (p->index >= size)
        return refuse_at(err, i, ".index", "the index is not below the group's size");
    if (p->n_path > CPM_MERKLE_PATH_MAX)
        return refuse_at(err, i, ".path", "the path is longer than 32 hashes");
    uint8_t path[CPM_MERKLE_PATH_MAX][H];
    for (size_t k = 0; k < p->n_path; k++) {
        if (p->path[k].len != H)
            return refuse_at(err, i, ".path", "a path hash is not 32 bytes");
        memcpy(path[k], p->path[k].data, H);
    }
    uint8_t lh[H];
    cpm_merkle_leaf_hash(p->leaf.data, p->leaf.len, lh);
    if (cpm_merkle_verify(lh, p->index, size, (const uint8_t(*)[H])path, p->n_path, root) != 0)
        return refuse_at(err, i, ".path", "the leaf and path do not lead to the signed root");
    /* Only a leaf the signature covers is decoded. */
    Cpm__ReceiptLeaf *l =
        cpm__receipt_leaf__unpack(cpm_pb_budget(p->leaf.len), p->leaf.len, p->leaf.data);
    if (!l)
        return refuse_at(err, i, ".leaf", "not a ReceiptLeaf");
    int rc = 0;
    /* cpm_pbcheck's rules, checked directly (see read_proofs). */
    if (l->base.n_unknown_fields > 0 || !cpm_text_utf8_valid(l->recipient, strlen(l->recipient)) ||
        !cpm_text_utf8_valid(l->correlation_id, strlen(l->correlation_id)))
        rc = refuse_at(err, i, ".leaf",
                       "not a ReceiptLeaf of this version (unknown field, text not UTF-8)");
    else if (l->type != CPM__MSG_TYPE__MSG_SUBMIT_REPLY && l->type != CPM__MSG_TYPE__MSG_ERROR)
        rc = refuse_at(err, i, ".leaf.type", "an answer is a submit_reply or an error");
    else if (l->item_hash.len != H)
        rc = refuse_at(err, i, ".leaf.item_hash", "the item hash is not 32 bytes");
    else if (!l->correlation_id[0])
        rc = refuse_at(err, i, ".leaf.correlation_id", "the leaf names no request");
    else if (self ? strcmp(l->recipient, self) != 0 : !l->recipient[0])
        rc = refuse_at(err, i, ".leaf.recipient", "the answer is addressed to someone else");
    if (rc != 0) {
        cpm__receipt_leaf__free_unpacked(l, NULL);
        return rc;
    }
    *leaf_out = l;
    return 0;
}

void cpm_receipt_destroy(cpm_receipt_t **p)
{
    if (!p || !*p)
        return;
    cpm_receipt_t *r = *p;
    for (size_t i = 0; i < r->n; i++)
        if (r->leaves[i])
            cpm__receipt_leaf__free_unpacked(r->leaves[i], NULL);
    if (r->proofs)
        cpm__receipt_proofs__free_unpacked(r->proofs, NULL);
    free(r->leaves);
    free(r->items);
    free(r->frame);
    free(r);
    *p = NULL;
}

/* The envelope in the frame is the one m was verified from: same bytes
 * decoded, so the proofs are checked against the root that was signed. */
static int same_envelope(const cpm_msg_t *m, cpm_slice_t envb, cpm_error_t *err)
{
    cpm_envelope_view_t v;
    const Cpm__Envelope *e = m->env;
    if (cpm_envelope_parse_view(envb.data, envb.len, &v) != 0 || v.type != (uint64_t)e->type ||
        v.seq != e->seq || v.sent_ms != e->sent_ms || v.payload.len != e->payload.len ||
        (v.payload.len && memcmp(v.payload.data, e->payload.data, v.payload.len) != 0) ||
        v.msg_id.len != strlen(e->msg_id) || memcmp(v.msg_id.data, e->msg_id, v.msg_id.len) != 0)
        return refuse(err, "envelope", "the frame is not the envelope that was verified");
    return 0;
}

/* The service a group receipt's sealing instance speaks for: instance
 * "<service>.reply" (what cpm_server seals replies with), and the service
 * must be CPM_RECEIPT_SERVICE, since every leaf answers a SubmitBatch item
 * (leaf types SUBMIT_REPLY and ERROR only). A signature alone says "some
 * member"; this says "its intake", so an operator's own key cannot mint a
 * receipt for a ticket. */
static int check_instance(const char *inst, size_t len, cpm_error_t *err)
{
    static const char want[] = CPM_RECEIPT_SERVICE ".reply";
    if (len != sizeof want - 1 || memcmp(inst, want, len) != 0)
        return refuse(err, "envelope.sender_instance",
                      "a group receipt is sealed by instance \"" CPM_RECEIPT_SERVICE
                      ".reply\" (answers to submit_batch come from intake)");
    return 0;
}

int cpm_receipt_open(const cpm_msg_t *m, const uint8_t *frame, size_t frame_len, const char *self,
                     cpm_receipt_t **out, cpm_error_t *err)
{
    *out = NULL;
    if (!m || !m->env || !frame || !self)
        return refuse(err, "envelope", "nothing verified to open");
    const Cpm__Envelope *e = m->env;
    if (e->type != CPM__MSG_TYPE__MSG_GROUP_RECEIPT)
        return refuse(err, "envelope.type", "not a group_receipt");
    if (strcmp(e->recipient, "*") != 0)
        return refuse(err, "envelope.recipient", "a group receipt is addressed to \"*\"");
    if (e->correlation_id[0])
        return refuse(err, "envelope.correlation_id", "a group receipt answers no one request");
    int rc;
    if ((rc = check_instance(e->sender_instance, strlen(e->sender_instance), err)) != 0)
        return rc;
    cpm_slice_t envb, sig, proofs;
    size_t signed_len;
    if (frame_len > CPM_MAX_MSG ||
        cpm_receipt_parse_frame(frame, frame_len, &envb, &sig, &proofs, &signed_len) != 0)
        return refuse(err, "frame", "not fields 1, 2 and 3 of a SignedEnvelope, in order");
    if ((rc = same_envelope(m, envb, err)) != 0)
        return rc;
    uint8_t root[H];
    uint64_t size;
    int64_t committed_ms;
    if ((rc = read_root(e->payload.data, e->payload.len, root, &size, &committed_ms, err)) != 0)
        return rc;
    Cpm__ReceiptProofs *ps = NULL;
    if ((rc = read_proofs(proofs, (size_t)size, &ps, err)) != 0)
        return rc;
    cpm_receipt_t *r = calloc(1, sizeof *r);
    if (r) {
        r->proofs = ps;
        r->leaves = calloc(ps->n_proofs, sizeof *r->leaves);
        r->items = calloc(ps->n_proofs, sizeof *r->items);
        r->frame = malloc(frame_len);
    }
    if (!r || !r->leaves || !r->items || !r->frame) {
        if (r)
            cpm_receipt_destroy(&r);
        else
            cpm__receipt_proofs__free_unpacked(ps, NULL);
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    }
    memcpy(r->frame, frame, frame_len);
    r->frame_len = frame_len;
    r->signed_len = signed_len;
    r->committed_ms = committed_ms;
    for (size_t i = 0; i < ps->n_proofs; i++) {
        const Cpm__ReceiptProof *p = ps->proofs[i];
        if (i && p->index <= ps->proofs[i - 1]->index) {
            rc = refuse_at(err, i, ".index", "proofs come once each, in increasing index order");
        } else {
            rc = check_proof(p, i, root, size, self, &r->leaves[i], err);
        }
        r->n = i + 1; /* leaves[0..n) freed by destroy */
        if (rc != 0) {
            cpm_receipt_destroy(&r);
            return rc;
        }
        const Cpm__ReceiptLeaf *l = r->leaves[i];
        r->items[i] =
            (cpm_receipt_item_t){p->index,        l->correlation_id, l->item,          l->type,
                                 l->payload.data, l->payload.len,    l->item_hash.data};
    }
    *out = r;
    return 0;
}

size_t cpm_receipt_count(const cpm_receipt_t *r)
{
    return r ? r->n : 0;
}

const cpm_receipt_item_t *cpm_receipt_at(const cpm_receipt_t *r, size_t i)
{
    return r && i < r->n ? &r->items[i] : NULL;
}

int64_t cpm_receipt_committed_ms(const cpm_receipt_t *r)
{
    return r ? r->committed_ms : 0;
}

int cpm_receipt_proof_frame(const cpm_receipt_t *r, size_t i, uint8_t **out, size_t *out_len)
{
    if (!r || i >= r->n || !out || !out_len)
        return -1;
    /* ReceiptProofs with one proof: field 1 around the proof as received. */
    const Cpm__ReceiptProof *p = r->proofs->proofs[i];
    size_t sz = cpm__receipt_proof__get_packed_size(p);
    size_t total = 1 + cpm_pb_varint_len(sz) + sz;
    uint8_t *buf = NULL, *at = NULL;
    if (cpm_receipt_frame_alloc(r->frame, r->signed_len, total, &buf, out_len, &at) != 0)
        return -1;
    *at++ = 0x0a;
    at = cpm_pb_put_varint(at, sz);
    cpm__receipt_proof__pack(p, at);
    *out = buf;
    return 0;
}

/* A verdict of cpm_verify_signed as the field it is about. */
static const char *verdict_field(cpm_verdict_t v)
{
    switch (v) {
    case CPM_V_UNKNOWN_SENDER:
        return "envelope.sender";
    case CPM_V_UNKNOWN_KEY:
    case CPM_V_REVOKED_KEY:
        return "envelope.key_id";
    case CPM_V_BAD_SIGNATURE:
        return "signature";
    case CPM_V_BAD_VERSION:
        return "envelope.version";
    default:
        return "envelope";
    }
}

int cpm_receipt_check(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                      Cpm__ReceiptLeaf **leaf, const Cpm__Member **signer, int64_t *committed_ms,
                      cpm_key_standing_t *standing, cpm_error_t *err)
{
    *leaf = NULL;
    *signer = NULL;
    cpm_slice_t envb, sig, proofs;
    size_t signed_len;
    if (!reg || !frame || len > CPM_MAX_MSG ||
        cpm_receipt_parse_frame(frame, len, &envb, &sig, &proofs, &signed_len) != 0)
        return refuse(err, "frame", "not fields 1, 2 and 3 of a SignedEnvelope, in order");
    /* A proof is kept and shown later, after the intake may have rotated
     * its key: it is judged with the key its key id names, current or past
     * (cpm_keyhist), at the time the group committed (below). */
    const Cpm__Member *m = NULL;
    cpm_envelope_view_t v;
    cpm_member_key_t key;
    cpm_verdict_t vd = cpm_verify_signed_key(reg, frame, signed_len, &envb, &v, &m, &key);
    if (vd != CPM_V_OK) {
        char msg[96];
        snprintf(msg, sizeof msg, "the signed root does not verify (%s)", cpm_verdict_name(vd));
        return refuse(err, verdict_field(vd), msg);
    }
    if (v.type != CPM__MSG_TYPE__MSG_GROUP_RECEIPT)
        return refuse(err, "envelope.type", "not a group_receipt");
    if (v.recipient.len != 1 || v.recipient.data[0] != '*')
        return refuse(err, "envelope.recipient", "a group receipt is addressed to \"*\"");
    int rc;
    /* Signed by a member is not enough: by the intake that member runs. */
    if ((rc = check_instance((const char *)v.sender_instance.data, v.sender_instance.len, err)) !=
        0)
        return rc;
    if (!cpm_member_service(m, CPM_RECEIPT_SERVICE))
        return refuse(err, "envelope.sender",
                      "the signer runs no " CPM_RECEIPT_SERVICE " service: it answers no submit");
    uint8_t root[H];
    uint64_t size;
    int64_t at;
    if ((rc = read_root(v.payload.data, v.payload.len, root, &size, &at, err)) != 0)
        return rc;
    cpm_key_standing_t st = CPM_KEY_CURRENT;
    vd = cpm_keyhist_check_at(&key, at, &st);
    if (vd == CPM_V_KEY_NOT_VALID_AT)
        return refuse(err, "envelope.key_id",
                      "the key that signed the root was not the signer's key when the group "
                      "says it committed (payload.committed_ms)");
    if (vd != CPM_V_OK)
        return refuse(err, "envelope.key_id",
                      "the key that signed the root is revoked with no time: it proves nothing");
    Cpm__ReceiptProofs *ps = NULL;
    if ((rc = read_proofs(proofs, 1, &ps, err)) != 0)
        return rc;
    rc = check_proof(ps->proofs[0], 0, root, size, NULL, leaf, err);
    cpm__receipt_proofs__free_unpacked(ps, NULL);
    if (rc != 0)
        return rc;
    *signer = m;
    if (committed_ms)
        *committed_ms = at;
    if (standing)
        *standing = st;
    return 0;
}
