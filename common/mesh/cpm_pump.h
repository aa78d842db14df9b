/* cpm_pump: the sending half of reliable delivery, inside a service.
 *
 * For every outgoing stream it keeps a DEALER socket to the peer service (from
 * the registry), sends the records after the acknowledged one as one signed
 * DeliveryBatch, waits for the Ack, and resends with exponential backoff
 * (250 ms doubling up to 8 s) until the peer acknowledges. One batch is in
 * flight per stream. Acks are applied to the outbox in the store, those of
 * every stream gathered for up to 50 ms (or 1,024 records) and recorded in
 * one commit: durable where an acked hook ran (its events are published),
 * else relaxed (cpm_store_commit_relaxed, one device flush): an ack whose
 * record a crash undoes only makes this pump resend records the receiver
 * drops as duplicates (it dedupes by seq, cpm_delivery.h). The records
 * themselves are only ever read from the store, so a restart loses nothing.
 *
 * After a start each stream first learns the peer's mark, sending only the
 * records it held at start (an empty batch when none): records committed
 * before that answer wait for it. A peer that has applied more than this store ever held
 * means the store was restored from an older copy: the stream halts, deletes
 * nothing, and says so (log, "delivery.rewound", PeerStatus.halted), instead
 * of letting new records be taken for ones the peer already has.
 *
 * A record that can never be sent (over CPM_DELIVERY_RECORD_MAX bytes) is
 * kept as a dead letter in this store ("dead", under the stream and its
 * number), counted once ("delivery.unsendable"), logged once, and sent as an
 * empty tombstone that the receiver passes over, so the records after it
 * still go. Any sending that does not get out (store, sealing, socket) is
 * counted ("delivery.read_failed", "delivery.seal_failed",
 * "delivery.send_failed", and PeerStatus.retries) and logged at a bounded
 * rate: a stream never stops making progress in silence. */
#ifndef CPM_PUMP_H
#define CPM_PUMP_H

#include "cpm_err.h"

#include "cpm_envelope.h"
#include "cpm_metrics.h"
#include "cpm_registry.h"
#include "cpm_store.h"
#include "cpm_verifier.h"

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct cpm_pump cpm_pump_t;

/* self: "<member>/<service>" of this service. Everything is borrowed. */
CPM_MUST_CHECK cpm_pump_t *cpm_pump_new(void *zctx, cpm_store_t *store, cpm_sender_t *sender,
                                        const char *self, cpm_verifier_t *verifier,
                                        cpm_metrics_t *metrics, size_t batch_max);
void cpm_pump_destroy(cpm_pump_t **p);

/* Coalescing at low load: a batch that is not full goes once its oldest
 * record is ms old (0, a new pump's value: at once; services set
 * delivery_linger_ms, default 50). Resends, the first probe and a
 * queue of a full batch or more (in records, or in bytes: 1 MiB) never
 * wait. Receivers then commit once per several records instead of once per
 * record (docs/operations.md, "Flushes per complaint"). */
void cpm_pump_set_linger(cpm_pump_t *p, uint32_t ms);
/* Records for peer_service travel in batches of type. */
CPM_MUST_CHECK int cpm_pump_outbound(cpm_pump_t *p, const char *peer_service, Cpm__MsgType type);
/* Called once for every record a peer on a stream to peer_service has
 * acknowledged (seq, the record's bytes), inside the write transaction that
 * records the acknowledgement: what it writes commits with the ack or not at
 * all, so a crash between the two cannot happen (that commit is durable;
 * it comes up to 50 ms after the ack arrived). Records sent as tombstones
 * (see above) are passed over. Return 0, or a store error: then the ack is
 * not recorded and both are tried again 50 ms later (so return 0 for
 * anything that will not get better). It must not queue records. */
typedef int (*cpm_pump_acked_fn)(void *ctx, MDB_txn *txn, const char *peer_member,
                                 const char *peer_service, uint64_t seq, const uint8_t *rec,
                                 size_t len);
/* Set the hook for the records of peer_service (after cpm_pump_outbound). */
CPM_MUST_CHECK int cpm_pump_on_acked(cpm_pump_t *p, const char *peer_service, cpm_pump_acked_fn fn,
                                     void *ctx);
/* The stream name for a peer into out. 0 or -1 (too long). */
CPM_MUST_CHECK int cpm_pump_stream_name(const cpm_pump_t *p, const char *peer_member,
                                        const char *peer_service, char *out, size_t n);
/* Pick up every stream the store knows (at start). */
CPM_MUST_CHECK int cpm_pump_load(cpm_pump_t *p);
/* A record with this seq, of bytes bytes as it will travel, was committed
 * on stream at now_ms (the clock cpm_pump_run is given: the delivery linger
 * counts from it, and records of a full batch's bytes do not wait it out). */
void cpm_pump_committed(cpm_pump_t *p, const char *stream, uint64_t seq, size_t bytes,
                        int64_t now_ms);

/* How many streams (an upper bound for cpm_pump_poll_items). */
size_t cpm_pump_size(const cpm_pump_t *p);
/* Fill poll items for the streams' sockets and their monitors (at most two
 * per stream); returns how many (at most max). */
CPM_MUST_CHECK int cpm_pump_poll_items(cpm_pump_t *p, zmq_pollitem_t *items, int max);
/* After the poll, with the items cpm_pump_poll_items filled: from then on
 * cpm_pump_run reads a stream's socket and monitor only when the poll found
 * something there (or the link is new), instead of on every call. A caller
 * that never calls this gets every stream read on every cpm_pump_run. */
void cpm_pump_polled(cpm_pump_t *p, const zmq_pollitem_t *items, int n);
/* Handle whatever arrived on the sockets, then send what is due. Returns
 * how many acknowledged records went through an acked hook and were
 * committed (their effects, e.g. events, are now in the store). */
int cpm_pump_run(cpm_pump_t *p, const cpm_registry_t *reg, int64_t now_ms);
/* Milliseconds until the next resend is due (for the poll timeout), or -1. */
int64_t cpm_pump_next_due_ms(const cpm_pump_t *p, int64_t now_ms);
/* Append a PeerStatus per stream to h (allocated with malloc; freed by
 * cpm_pump_health_free). */
void cpm_pump_health(cpm_pump_t *p, Cpm__HealthReply *h);
void cpm_pump_health_free(Cpm__HealthReply *h);

#endif
