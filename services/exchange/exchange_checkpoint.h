/* exchange_checkpoint: signed checkpoints of the proof log, co-signed by a
 * peer agency (docs/protocol.md 19.5).
 *
 * DB "xcheckpoints": seq (u64 BE) -> SignedCheckpoint (the agency's signed
 * Checkpoint frame plus the cosignatures received). DB "xcosigned": agency
 * id -> Checkpoint (seq, head, at_ms) last co-signed for that agency, so a
 * second head for a seq (a fork) or an older seq is refused.
 *
 * The tick seals a checkpoint every checkpoint_every entries or checkpoint_s
 * seconds with new entries, then asks peer exchanges in turn (a rotating
 * order) to co-sign: one request in flight, polled briefly each tick, the
 * next peer after a refusal or cosign_wait_ms (config, default 3 s) without
 * answer. A checkpoint no peer co-signs stays pending (counted, logged once
 * per state change) and the exchange goes on answering: no single peer can
 * halt it. */
#ifndef EXCHANGE_CHECKPOINT_H
#define EXCHANGE_CHECKPOINT_H

#include "cpm_envelope.h"
#include "cpm_err.h"
#include "cpm_server.h"
#include "cpm_store.h"
#include "exchange.pb-c.h"
#include "exchange_domain.h"

#include <stdint.h>

#define EXCHANGE_CHECKPOINTS_DB "xcheckpoints"
#define EXCHANGE_COSIGNED_DB "xcosigned"

/* Seal a checkpoint over the current head with s, store it and append its
 * "checkpoint" entry, in txn. *seq_out: the checkpoint's seq (0 when the log
 * is empty: nothing done). */
CPM_MUST_CHECK int exchange_checkpoint_make(const exchange_t *x, cpm_sender_t *s, cpm_store_t *st,
                                            MDB_txn *txn, int64_t now_ms, uint64_t *seq_out);
/* The stored checkpoint of seq (CPM_E_NOT_FOUND), the first at or after seq
 * (CPM_E_NOT_FOUND when none), or the last one. *out owned
 * (cpm__signed_checkpoint__free_unpacked). */
CPM_MUST_CHECK int exchange_checkpoint_get(cpm_store_t *st, MDB_txn *txn, uint64_t seq,
                                           Cpm__SignedCheckpoint **out);
CPM_MUST_CHECK int exchange_checkpoint_at_or_after(cpm_store_t *st, MDB_txn *txn, uint64_t seq,
                                                   Cpm__SignedCheckpoint **out, uint64_t *cp_seq);
CPM_MUST_CHECK int exchange_checkpoint_last(cpm_store_t *st, MDB_txn *txn, uint64_t *cp_seq,
                                            Cpm__SignedCheckpoint **out);
/* Add a verified cosignature to checkpoint seq (once per cosigner). */
CPM_MUST_CHECK int exchange_checkpoint_add_cosig(cpm_store_t *st, MDB_txn *txn, uint64_t seq,
                                                 const Cpm__Cosignature *c);

/* The co-signer's side of MSG_EXCHANGE_COSIGN from sender (frame = the
 * request as received, logged). On 0 *out is filled; its cosigner and
 * signature point into x and sig. Refusals: 400 (checkpoint, at_ms), 403
 * (sender), 409 (a fork or a seq not above the last co-signed). */
CPM_MUST_CHECK int exchange_cosign(const exchange_t *x, cpm_store_t *st, MDB_txn *txn,
                                   const char *sender, const uint8_t *frame, size_t frame_len,
                                   const Cpm__CosignRequest *req, int64_t now_ms,
                                   Cpm__Cosignature *out, uint8_t sig[64], cpm_error_t *err);

/* The requester's side, run from the service's tick. */
typedef struct exchange_ckpt exchange_ckpt_t;
CPM_MUST_CHECK int exchange_ckpt_new(exchange_ckpt_t **out, cpm_server_t *srv);
void exchange_ckpt_destroy(exchange_ckpt_t **p);
void exchange_ckpt_registry(exchange_ckpt_t *k, const cpm_registry_t *reg);
void exchange_ckpt_tick(exchange_ckpt_t *k, const exchange_t *x, cpm_server_t *srv);

#endif
