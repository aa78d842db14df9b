/* cpm_evcheck: signed checkpoints over a service's event log.
 *
 * A checkpoint is an EventCheckpoint (node, service, seq, head_hash, at_ms,
 * range_from, range_digest) signed by the service's node as the payload of a
 * SignedEnvelope of type MSG_EVENT_CHECKPOINT (sender = node,
 * sender_instance = "<service>.ckpt", seq = the checkpoint's seq, sent_ms =
 * at_ms, recipient "*"). head_hash is the Event.hash of seq, so one signature
 * proves every event a reader chained up to it; range_digest =
 * SHA-256("CPM-EVRANGE-V1\0" || Event.hash of range_from .. seq) lets a
 * reader that got only some events in full (a filtered fetch) and the hashes
 * of the others prove the range too. range_from is the previous checkpoint's
 * seq + 1. See docs/protocol.md section 20.
 *
 * Kept in the service's meta map under "evck" || seq (u64 BE) with the
 * newest seq under "evck.last". */
#ifndef CPM_EVCHECK_H
#define CPM_EVCHECK_H

#include "cpm_err.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_EVRANGE_DOMAIN "CPM-EVRANGE-V1" /* followed by one zero byte */
/* A checkpoint covers at most this many events: a longer backlog is signed
 * in several checkpoints (cpm_evcheck_make). */
#define CPM_EVCHECK_RANGE_MAX 10000

typedef struct {
    char node[128];
    char service[32];
    uint64_t seq;
    uint8_t head_hash[32];
    int64_t at_ms;
    uint64_t range_from;
    uint8_t range_digest[32];
} cpm_evcheck_t;

/* The running digest of a range of event hashes. A plain value. */
typedef struct {
    crypto_hash_sha256_state st;
    uint64_t from, next; /* first seq, and the seq the next hash is for */
} cpm_evrange_t;

void cpm_evrange_init(cpm_evrange_t *r, uint64_t from);
void cpm_evrange_add(cpm_evrange_t *r, const uint8_t hash[32]);
void cpm_evrange_final(cpm_evrange_t *r, uint8_t out[32]);

/* Sign c (its fields filled) with id; *frame is malloc'd. 0 or -1. */
CPM_MUST_CHECK int cpm_evcheck_seal(const cpm_evcheck_t *c, const cpm_identity_t *id,
                                    uint8_t **frame, size_t *len);
/* Check a checkpoint frame signed with pk (32 bytes): layout, type, domain,
 * signature, payload, and that the envelope's sender, instance and seq agree
 * with the payload. 0 and *out, or CPM_E_BAD_SIGNATURE / CPM_E_BAD_MESSAGE
 * with err naming what. */
CPM_MUST_CHECK int cpm_evcheck_open(const uint8_t *frame, size_t len, const uint8_t pk[32],
                                    cpm_evcheck_t *out, cpm_error_t *err);
/* The same with the signer's key from the registry (current or past, by the
 * frame's key id), and that it is node/service's checkpoint (either may be
 * NULL: any). */
CPM_MUST_CHECK int cpm_evcheck_verify(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                                      const char *node, const char *service, cpm_evcheck_t *out,
                                      cpm_error_t *err);

/* Make, sign and keep a checkpoint of the log's head in txn (a write txn).
 * *made false when the head already has one (or the log is empty). The frame
 * is also returned (*frame malloc'd, may be NULL when not wanted). */
CPM_MUST_CHECK int cpm_evcheck_make(cpm_store_t *s, MDB_txn *txn, const cpm_identity_t *id,
                                    const char *service, int64_t now_ms, bool *made,
                                    uint8_t **frame, size_t *len);
/* The seq of the newest kept checkpoint (0: none). */
CPM_MUST_CHECK int cpm_evcheck_last(cpm_store_t *s, MDB_txn *txn, uint64_t *seq);
/* The newest kept checkpoint with seq < below (0: none): its seq. */
CPM_MUST_CHECK int cpm_evcheck_before(cpm_store_t *s, MDB_txn *txn, uint64_t below, uint64_t *seq);
/* Copies of the kept checkpoint frames with from <= seq <= to, at most max,
 * oldest first. Free with cpm_evcheck_frames_free. */
CPM_MUST_CHECK int cpm_evcheck_list(cpm_store_t *s, MDB_txn *txn, uint64_t from, uint64_t to,
                                    size_t max, ProtobufCBinaryData **frames, size_t *n);
void cpm_evcheck_frames_free(ProtobufCBinaryData **frames, size_t n);

/* Whether ev passes the filter of an EventsFetch (fields 30-34). */
bool cpm_evcheck_match(const Cpm__EventsFetch *q, const Cpm__Event *ev);
/* Whether q filters at all. */
bool cpm_evcheck_filtered(const Cpm__EventsFetch *q);

#endif
