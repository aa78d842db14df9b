/* cpm_server: the event loop every service runs, and the mechanisms every
 * service shares: verification of each frame, group commit, replies, reliable
 * delivery (outbox pump, inbox apply, acknowledgements), event publication,
 * registry reload and the health report.
 *
 * A service is described by a table (cpm_service.h), which registers the
 * handlers below for it; cpm_service_main then calls cpm_server_run.
 * Handlers get a verified message and, for writes, the transaction of the
 * current group: every write request that arrived together is applied in one
 * LMDB transaction, committed once, and only then answered. Each request runs
 * in a nested transaction of its own (the records of a delivery batch and the
 * items of a batch request share one per run, undone and run again without a
 * refused one): when its handler fails, even half way or on a full map, its
 * writes are undone and it alone gets the error (retryable for store errors);
 * the rest of the group commits. */
#ifndef CPM_SERVER_H
#define CPM_SERVER_H

#include "cpm_config.h"
#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_keys.h"
#include "cpm_metrics.h"
#include "cpm_registry.h"
#include "cpm_store.h"
#include "cpm_verifier.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cpm_server cpm_server_t;

/* What a handler answers: a payload of a reply type. The server seals it. */
typedef struct {
    Cpm__MsgType type;
    uint8_t *buf; /* serialized payload, malloc'd; the server frees it */
    size_t len;
} cpm_reply_t;

/* Serialize payload into r. 0 or CPM_E_INTERNAL. */
CPM_MUST_CHECK int cpm_reply_set(cpm_reply_t *r, Cpm__MsgType type,
                                 const ProtobufCMessage *payload);

/* A request handler. txn is NULL for read-only handlers. Returns 0 with *reply
 * set, or an error code with err filled (sent back as an ErrorReply). */
typedef int (*cpm_handle_fn)(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                             cpm_reply_t *reply, cpm_error_t *err);

/* Applies one delivered record inside the group's transaction. Returns 0, a
 * store error (aborts the group), or another code with err filled: the record
 * is then kept as a dead letter and skipped. */
typedef int (*cpm_apply_fn)(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m, const uint8_t *rec,
                            size_t len, cpm_error_t *err);

/* Load identity, registry and store as cfg says, bind the service's sockets.
 * extra_dbs: the service's own databases (NULL-terminated). NULL on failure
 * with the reason logged. */
CPM_MUST_CHECK cpm_server_t *cpm_server_new(const cpm_config_t *cfg, const char *const *extra_dbs);
void cpm_server_destroy(cpm_server_t **p);

CPM_MUST_CHECK int cpm_server_on_request(cpm_server_t *srv, Cpm__MsgType type, bool write,
                                         cpm_handle_fn fn);
/* For a write handler of type: requests for which reads(m) is true (m is
 * verified, its payload not yet checked) are answered at once in a read-only
 * transaction, like a read handler's, by the same handler: they are not held
 * back by the store's high-water mark (cpm_store_admit), which is for new
 * work. The handler must write nothing for them (the transaction refuses). */
typedef bool (*cpm_reads_fn)(cpm_server_t *srv, const cpm_msg_t *m);
CPM_MUST_CHECK int cpm_server_reads_when(cpm_server_t *srv, Cpm__MsgType type, cpm_reads_fn reads);
/* Requests of type keep their whole signed frame in cpm_msg_t.frame for the
 * handler (those who must show later who said what: an officer's case
 * action). Other requests are not copied. */
CPM_MUST_CHECK int cpm_server_keep_frame(cpm_server_t *srv, Cpm__MsgType type);
CPM_MUST_CHECK int cpm_server_on_batch(cpm_server_t *srv, Cpm__MsgType type, cpm_apply_fn fn);
/* Optional for a batch type of cpm_server_on_batch: the part of applying a
 * record that depends on the record alone (decoding it, work that reads no
 * store), done for every record of a batch at once on the verification
 * pool's threads and the loop's, before the batch is applied in order; the
 * apply function finds the result with cpm_server_prepared. prepare must be
 * safe to run for several records at once; it runs for every record of the
 * batch, duplicates included, and may return NULL (apply then does without).
 * release frees each result after the batch, used or not. Only with a pool
 * of two threads or more (verify_threads): else apply does it all. */
typedef void *(*cpm_prepare_fn)(cpm_server_t *srv, const cpm_msg_t *m, const uint8_t *rec,
                                size_t len);
typedef void (*cpm_release_fn)(void *prepared);
CPM_MUST_CHECK int cpm_server_prepare_batch(cpm_server_t *srv, Cpm__MsgType type,
                                            cpm_prepare_fn prepare, cpm_release_fn release);
/* Inside an apply function: what prepare made of rec (the pointer apply was
 * given), or NULL (none made, or not in a prepared batch). */
void *cpm_server_prepared(cpm_server_t *srv, const uint8_t *rec);
/* Applies item `index` (its bytes as received) of a batch request
 * (SubmitBatch, docs/protocol.md "Group receipts") in txn, a nested
 * transaction inside the group's that several items of the batch share: 0
 * with *reply set, or an error code with err filled; either becomes the
 * item's leaf of the group receipt (a failed item's writes are undone, the
 * others stand). Since a refusal undoes the items before it in txn, which
 * then run again, fn may be called more than once for an item (twice when it
 * answers the same each time; an answer that changes, e.g. with the clock,
 * costs another run): it must keep its state in txn (its counters and log
 * lines are muted after the first time; a refusal only then is logged by
 * the server). */
typedef int (*cpm_item_fn)(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m, uint32_t index,
                           const uint8_t *item, size_t len, cpm_reply_t *reply, cpm_error_t *err);
/* Requests of type are SubmitBatch containers of 1..CPM_SUBMIT_BATCH_MAX
 * items, each applied by fn and answered, with every other item of the
 * group commit, by one signed group receipt per connection. */
CPM_MUST_CHECK int cpm_server_on_items(cpm_server_t *srv, Cpm__MsgType type, cpm_item_fn fn);
/* Records this service sends to peer_service travel in batches of type. */
CPM_MUST_CHECK int cpm_server_outbound(cpm_server_t *srv, const char *peer_service,
                                       Cpm__MsgType type);

/* Queue a record for peer_member's peer_service inside txn (see cpm_outbox). */
CPM_MUST_CHECK int cpm_server_send_record(cpm_server_t *srv, MDB_txn *txn, const char *peer_member,
                                          const char *peer_service, const ProtobufCMessage *rec);
/* Append an event to this service's log inside txn; published after commit. */
CPM_MUST_CHECK int cpm_server_event(cpm_server_t *srv, MDB_txn *txn, const cpm_event_t *ev);

/* Effects bound to this server (send_record and event). */
cpm_effects_t cpm_server_effects(cpm_server_t *srv);

/* Called by the loop between iterations (e.g. deadline checks); may be NULL. */
typedef void (*cpm_tick_fn)(cpm_server_t *srv);
void cpm_server_on_tick(cpm_server_t *srv, cpm_tick_fn fn);

/* A change the service makes on its own (e.g. from a tick): fn runs in a
 * write transaction that is committed durably when fn returns 0 (aborted
 * otherwise); its records are then delivered and its events published like
 * those of a request. Returns fn's result or a store error. */
typedef int (*cpm_write_fn)(cpm_server_t *srv, MDB_txn *txn, void *ctx);
CPM_MUST_CHECK int cpm_server_write(cpm_server_t *srv, cpm_write_fn fn, void *ctx);

/* Run until SIGINT/SIGTERM. 0 on a clean stop, -1 on a fatal error. */
CPM_MUST_CHECK int cpm_server_run(cpm_server_t *srv);

cpm_store_t *cpm_server_store(cpm_server_t *srv);
const cpm_registry_t *cpm_server_registry(cpm_server_t *srv);
const cpm_identity_t *cpm_server_identity(cpm_server_t *srv);
const cpm_config_t *cpm_server_config(cpm_server_t *srv);
cpm_metrics_t *cpm_server_metrics(cpm_server_t *srv);
/* The server's ZeroMQ context, for a service's own clients (cpm_client_new). */
void *cpm_server_zctx(cpm_server_t *srv);
/* Service state reaches handlers typed, through cpm_service (struct cpm_svc). */
/* The first member running service (e.g. "routing"), or NULL. */
const Cpm__Member *cpm_server_find_service(cpm_server_t *srv, const char *service);

#endif
