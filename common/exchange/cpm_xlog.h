/* cpm_xlog: the exchange's proof log, as bytes anyone can check.
 *
 * Each entry is a LogRecord (proto/exchange.proto): the serialized LogEntry
 * (body), the previous entry's hash and its own:
 *   content = SHA-256(body)
 *   hash    = SHA-256("CPMESH-XLOG-V1\0" || prev_hash || content)
 * so that an entry is linked to a later checkpoint by the content hashes of
 * the entries between them alone (docs/protocol.md 19.5). A checkpoint is a
 * Checkpoint sealed as a MSG_EXCHANGE_CHECKPOINT envelope by the agency node;
 * a cosignature is Ed25519 by a peer agency over
 *   "CPMESH-XCOSIGN-V1\0" || checkpoint frame || at_ms (i64 BE).
 * Pure functions: no store, no sockets (the service keeps the log, cpmctl
 * verifies it offline). */
#ifndef CPM_XLOG_H
#define CPM_XLOG_H

#include "cpm_envelope.h"
#include "cpm_keyhist.h"
#include "cpm_registry.h"
#include "exchange.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_XLOG_DOMAIN "CPMESH-XLOG-V1"
#define CPM_XCOSIGN_DOMAIN "CPMESH-XCOSIGN-V1"

/* SHA-256(body). */
void cpm_xlog_content(const uint8_t *body, size_t len, uint8_t content[32]);
/* The entry hash from its predecessor's hash and its content hash. */
void cpm_xlog_link(const uint8_t prev[32], const uint8_t content[32], uint8_t out[32]);

/* Where a verification stopped: the first bad seq and a sentence. */
typedef struct {
    uint64_t seq;   /* the first entry (or checkpoint) seq found bad; 0 when none */
    char what[256]; /* "seq 7: hash does not match its body (a changed byte)" */
} cpm_xlog_problem_t;
/* Fill p (may be NULL) with seq and the sentence; returns -1. */
int cpm_xlog_problem(cpm_xlog_problem_t *p, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A verified run's end, to continue with the next page. */
typedef struct {
    uint64_t seq;     /* last entry verified (0: none yet) */
    uint8_t hash[32]; /* its hash (zero: none yet) */
    bool any_start;   /* seq 0: the first record may have any seq (a page), else seq 1 */
} cpm_xlog_head_t;

/* Verify records[0..n) as the continuation of *head (seq 0 = the log's
 * start): every body decodes as a LogEntry whose seq is head->seq + 1, + 2,
 * ...; every prev_hash is the previous hash (zero for seq 1); every hash is
 * link(prev_hash, SHA-256(body)). Starting at head->seq 0 with any_start
 * checks continuity from whatever seq the first record has (a page).
 * 0 with *head moved to the last record, or -1 with *p naming the first bad
 * seq and what is wrong (a changed byte, a missing record, out of order). */
int cpm_xlog_verify_run(Cpm__LogRecord *const *records, size_t n, cpm_xlog_head_t *head,
                        cpm_xlog_problem_t *p);

/* Seal a Checkpoint (agency, seq, head, at_ms) as a MSG_EXCHANGE_CHECKPOINT
 * envelope by s (the agency node). *out malloc'd. 0 or -1. */
int cpm_xcheckpoint_seal(cpm_sender_t *s, const char *agency, uint64_t seq, const uint8_t head[32],
                         int64_t at_ms, uint8_t **out, size_t *out_len);
/* Verify a checkpoint frame with reg: signed by a key of its sender valid at
 * the checkpoint's at_ms (current or past, cpm_keyhist), type
 * MSG_EXCHANGE_CHECKPOINT, payload a Checkpoint whose agency is the signer,
 * a 32-byte head. 0 with *out (owned: cpm__checkpoint__free_unpacked), or -1
 * with *p. */
int cpm_xcheckpoint_verify(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                           Cpm__Checkpoint **out, cpm_xlog_problem_t *p);

/* The cosignature's signed bytes' signature: Ed25519 by sk over
 * "CPMESH-XCOSIGN-V1\0" || frame || at_ms (i64 BE). 0 or -1. */
int cpm_xcosign_sign(const uint8_t sk[64], const uint8_t *frame, size_t len, int64_t at_ms,
                     uint8_t sig[64]);
int cpm_xcosign_check(const uint8_t pk[32], const uint8_t *frame, size_t len, int64_t at_ms,
                      const uint8_t *sig, size_t sig_len);
/* Verify c over frame with reg: cosigner a member, not the checkpoint's own
 * agency (agency may be NULL), signature by one of its keys valid at
 * c->at_ms. 0 or -1 with *p (p->seq = seq). */
int cpm_xcosign_verify(const cpm_registry_t *reg, const Cpm__Cosignature *c, const char *agency,
                       const uint8_t *frame, size_t len, uint64_t seq, cpm_xlog_problem_t *p);

/* A SignedCheckpoint in full: the checkpoint and every cosignature. On 0,
 * *out (may be NULL) gets the checkpoint. */
int cpm_xcheckpoint_verify_signed(const cpm_registry_t *reg, const Cpm__SignedCheckpoint *sc,
                                  Cpm__Checkpoint **out, cpm_xlog_problem_t *p);

#endif
