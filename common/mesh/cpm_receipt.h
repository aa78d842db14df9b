/* cpm_receipt: group receipts (docs/protocol.md "Group receipts").
 *
 * A service answers every item of the batch requests (MSG_SUBMIT_BATCH) of
 * one group commit with ONE signature: the ReceiptLeaf of each item (its
 * SubmitReply or ErrorReply, addressed to its request) is a leaf of a Merkle
 * tree (cpm_merkle); the GroupRoot (root, size, commit time) is sealed once
 * as a MSG_GROUP_RECEIPT envelope; each requesting connection gets one frame:
 * that SignedEnvelope plus, in its unsigned field 3, the ReceiptProofs of its
 * own leaves. A client verifies one signature for all its answers in the
 * group, and can later show one answer to a third party alone: the same
 * frame with just that proof (cpm_receipt_proof_frame, cpm_receipt_check).
 *
 * Server side: cpm_rgroup (leaves of the current group, reset per group).
 * Client side: cpm_receipt_open, after cpm_verifier_check accepted the
 * envelope. Third party: cpm_receipt_check, with the registry only. */
#ifndef CPM_RECEIPT_H
#define CPM_RECEIPT_H

#include "cpm_envelope.h"
#include "cpm_err.h"
#include "cpm_keyhist.h"
#include "cpm_merkle.h"
#include "cpm_registry.h"
#include "cpm_verifier.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_SUBMIT_BATCH_MAX 64      /* items in one SubmitBatch */
#define CPM_RECEIPT_LEAVES_MAX 65536 /* leaves in one group receipt */
/* The one service that seals group receipts: every leaf answers an item
 * of a SubmitBatch, which only intake takes. Its instance is
 * CPM_RECEIPT_SERVICE ".reply"; cpm_receipt_open and cpm_receipt_check
 * refuse any other (field envelope.sender_instance). */
#define CPM_RECEIPT_SERVICE "intake"

/* ---- server: the leaves of one group commit ---- */
typedef struct cpm_rgroup cpm_rgroup_t;

CPM_MUST_CHECK cpm_rgroup_t *cpm_rgroup_new(void);
void cpm_rgroup_destroy(cpm_rgroup_t **p);
/* Forget every leaf (the next group starts empty; memory is kept). */
void cpm_rgroup_reset(cpm_rgroup_t *g);
/* Add the answer to item `item` of request correlation_id from recipient
 * ("<member>/<instance>"): a serialized SubmitReply or ErrorReply payload of
 * type. item_hash: SHA-256 of the item's bytes as received. Returns the
 * leaf's index (>= 0), or -1 when the group is full, already sealed (reset
 * it first) or out of memory. */
CPM_MUST_CHECK long cpm_rgroup_add(cpm_rgroup_t *g, const char *recipient,
                                   const char *correlation_id, uint32_t item, Cpm__MsgType type,
                                   const uint8_t *payload, size_t len,
                                   const uint8_t item_hash[CPM_MERKLE_HASH]);
size_t cpm_rgroup_size(const cpm_rgroup_t *g);
/* Compute the root and seal the GroupRoot once with sender (recipient "*",
 * no correlation id): the one signature of the group. 0, or -1 (no leaf,
 * sealed already, out of memory). */
CPM_MUST_CHECK int cpm_rgroup_seal(cpm_rgroup_t *g, cpm_sender_t *sender, int64_t committed_ms);
/* Sign the sealed group's root again, under a new sequence number, for
 * the frames made from now on: a client's replay window refuses a second
 * frame carrying the same signed envelope, so each further frame to one
 * connection needs its own. 0 or -1 (the previous seal stays). */
CPM_MUST_CHECK int cpm_rgroup_reseal(cpm_rgroup_t *g, cpm_sender_t *sender, int64_t committed_ms);
/* The frame for one connection: the sealed root and the proofs of leaves
 * idx[0..n) (in that order: strictly increasing, as clients require).
 * *out is malloc'd. 0 or -1 (not sealed yet, n = 0, an index out of range
 * or out of order, out of memory). */
CPM_MUST_CHECK int cpm_rgroup_frame(const cpm_rgroup_t *g, const size_t *idx, size_t n,
                                    uint8_t **out, size_t *out_len);
/* What cpm_rgroup_frame would make of the same leaves, without making it:
 * *proofs_len, the bytes of their ReceiptProofs (field 3's contents), and
 * *prefix_len, the bytes before field 3 (the signed envelope of the seal in
 * force). 0, or -1 as cpm_rgroup_frame. */
CPM_MUST_CHECK int cpm_rgroup_frame_size(const cpm_rgroup_t *g, const size_t *idx, size_t n,
                                         size_t *proofs_len, size_t *prefix_len);

/* ---- client: the answers in a received group receipt ---- */
typedef struct {
    uint64_t index;             /* leaf index in the group */
    const char *correlation_id; /* msg_id of our request */
    uint32_t item;              /* item of that request */
    Cpm__MsgType type;          /* MSG_SUBMIT_REPLY or MSG_ERROR */
    const uint8_t *payload;     /* SubmitReply or ErrorReply bytes */
    size_t payload_len;
    const uint8_t *item_hash; /* 32 bytes */
} cpm_receipt_item_t;

typedef struct cpm_receipt cpm_receipt_t;

/* The frame's three fields read in place: fields 1, 2 and 3 in this order,
 * each once (field 3 may be absent), nothing else. Since field 3 comes
 * last, buf[0 .. len - bytes of field 3) is a plain SignedEnvelope that
 * cpm_verifier_check takes as it is: *signed_len is its length. 0 or -1. */
CPM_MUST_CHECK int cpm_receipt_parse_frame(const uint8_t *buf, size_t len, cpm_slice_t *envelope,
                                           cpm_slice_t *signature, cpm_slice_t *proofs,
                                           size_t *signed_len);
/* m: the frame's envelope, already accepted by cpm_verifier_check (type
 * MSG_GROUP_RECEIPT, signed by the member asked); frame: the whole frame as
 * received (copied into *out). Checks the sealing instance is
 * "intake.reply" (CPM_RECEIPT_SERVICE; that the member is the one asked is
 * the verifier's expect_sender, and that it runs intake the client's link:
 * it only connects to a member's listed services). Decodes the GroupRoot and the proofs
 * (bounded), checks every proof's path against the root and that each leaf
 * names self as recipient. Any failure refuses the whole frame
 * (CPM_E_FORBIDDEN, err names the field). On 0 *out holds the items (the
 * caller matches correlation ids to its pending requests). */
CPM_MUST_CHECK int cpm_receipt_open(const cpm_msg_t *m, const uint8_t *frame, size_t frame_len,
                                    const char *self, cpm_receipt_t **out, cpm_error_t *err);
void cpm_receipt_destroy(cpm_receipt_t **p);
size_t cpm_receipt_count(const cpm_receipt_t *r);
const cpm_receipt_item_t *cpm_receipt_at(const cpm_receipt_t *r, size_t i);
int64_t cpm_receipt_committed_ms(const cpm_receipt_t *r);

/* A stand-alone proof of item i of r, for a third party: the received
 * frame's signed envelope and signature with only that item's proof in
 * field 3. *out is malloc'd. 0 or -1. */
CPM_MUST_CHECK int cpm_receipt_proof_frame(const cpm_receipt_t *r, size_t i, uint8_t **out,
                                           size_t *out_len);

/* Third party: check a stand-alone proof frame with the registry alone:
 * the GroupRoot's signature by a registered member's key that its key id
 * names, current or past (cpm_verify_signed_key), valid at the GroupRoot's
 * committed_ms (cpm_keyhist_check_at: a proof kept across a key rotation
 * still holds; *standing says "current", "rotated" or "revoked"), type group_receipt to "*", the
 * sealing instance "intake.reply" of a signer that runs intake (a receipt signed by any other
 * member, or by another of its services, is refused: field envelope.sender_instance or
 * envelope.sender), exactly one proof, its path to the root. On 0 *leaf is the decoded ReceiptLeaf
 * (free with cpm__receipt_leaf__free_unpacked), *signer the member (borrowed), and the service that
 * answered is CPM_RECEIPT_SERVICE (always: no out parameter), *committed_ms the GroupRoot's commit
 * time. The leaf's payload (a SubmitReply) holds the ticket's lookup code: whoever holds the proof
 * can read the ticket's public status. */
CPM_MUST_CHECK int cpm_receipt_check(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                                     Cpm__ReceiptLeaf **leaf, const Cpm__Member **signer,
                                     int64_t *committed_ms, cpm_key_standing_t *standing,
                                     cpm_error_t *err);

#endif
