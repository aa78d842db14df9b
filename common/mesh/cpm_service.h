/* cpm_service: a service described by a table, and the one main that runs it.
 *
 * A service binary is a cpm_service_t (its name, databases, the requests and
 * delivery batches it serves with the protobuf descriptor of each payload or
 * record, the streams it sends, a tick, init and fini) plus small adapter
 * functions that call its domain modules. The library does everything else:
 * it parses --config, loads the configuration (checking that it is for this
 * service), opens identity, registry and store, and runs the cpm_server loop.
 * For each request (and each delivered record) it unpacks the payload with
 * the entry's descriptor under cpm_pb_budget, checks it with cpm_pbcheck
 * (unknown fields, limits, UTF-8), calls the entry, and frees it: handlers
 * get a decoded, checked message and never unpack or free.
 *
 * State: each service binary defines `struct cpm_svc` (its own state, e.g.
 * the loaded rules); init creates it, every callback receives it typed, fini
 * destroys it. The state learns of a new registry version through
 * registry_changed before any callback sees it (so members looked up there,
 * such as the routing member, are resolved once per registry version).
 *
 * See docs/adding-a-service.md. */
#ifndef CPM_SERVICE_H
#define CPM_SERVICE_H

#include "cpm_err.h"

#include "cpm_server.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

/* Defined by each service binary (one service per process). */
typedef struct cpm_svc cpm_svc_t;

/* A request: payload is the decoded, checked message of the entry's
 * descriptor (cast it to its type), the handler's to use (and change) until it
 * returns; the library frees it. txn is read-only for read entries and
 * for requests the entry's reads predicate marks. Returns 0 with *reply set,
 * or an error code with err filled. */
typedef int (*cpm_svc_request_fn)(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn,
                                  const cpm_msg_t *m, ProtobufCMessage *payload, cpm_reply_t *reply,
                                  cpm_error_t *err);
/* For a write request: true when this payload only reads (see
 * cpm_server_reads_when). payload is decoded but not yet checked. */
typedef bool (*cpm_svc_reads_fn)(const ProtobufCMessage *payload);
/* One delivered record of a batch, decoded and checked (see cpm_apply_fn for
 * what the result means). */
typedef int (*cpm_svc_record_fn)(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                                 ProtobufCMessage *rec, cpm_error_t *err);

typedef struct {
    Cpm__MsgType type;
    const ProtobufCMessageDescriptor *payload;
    bool write;
    cpm_svc_request_fn fn;
    cpm_svc_reads_fn reads; /* optional, write entries only */
    bool keep_frame;        /* the handler gets the signed frame (cpm_msg_t.frame) */
} cpm_svc_request_t;

/* Optional, for a batch entry: the part of fn's work on a record that reads
 * no store, on a decoded and checked record, for every record of a batch at
 * once on several threads before they are applied (cpm_server_prepare_batch;
 * the library also decodes the records there). fn finds the result with
 * cpm_svc_prepared. It must not change rec (fn may get the same decoded
 * record) and must be safe to run for several records at once. */
typedef void *(*cpm_svc_prepare_fn)(const ProtobufCMessage *rec);

typedef struct {
    Cpm__MsgType type; /* the batch message type */
    const ProtobufCMessageDescriptor *record;
    cpm_svc_record_fn fn;
    cpm_svc_prepare_fn prepare; /* optional, with release */
    void (*release)(void *prepared);
} cpm_svc_batch_t;

/* Inside a batch entry's fn: what its prepare made of the record fn was
 * given, or NULL (no prepare, not prepared, or prepare said NULL): fn must
 * then do that part itself. */
const void *cpm_svc_prepared(const cpm_server_t *srv);

/* The peer's node acknowledged rec (decoded with the stream entry's record
 * descriptor), a record this service sent it. Runs inside the write
 * transaction that records the acknowledgement (see cpm_pump_on_acked), so
 * what it writes (its databases, events through cpm_server_effects) commits
 * with the ack, exactly once; it must not send records. 0, or a store error
 * (then ack and effect are tried again); anything else it logs itself. */
typedef int (*cpm_svc_acked_fn)(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn,
                                const char *peer_member, ProtobufCMessage *rec);

/* Records for peer_service travel in batches of type. */
typedef struct {
    const char *peer_service;
    Cpm__MsgType type;
} cpm_svc_stream_t;

/* The same with the record's bytes as stored, undecoded: for a hook that
 * needs a field or two of a large record (it reads them with cpm_pb_next). */
typedef int (*cpm_svc_acked_raw_fn)(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn,
                                    const char *peer_member, const uint8_t *rec, size_t len);

/* Hear of each record of a stream to peer_service that the peer
 * acknowledged: decoded with record and given to fn, or, with record NULL,
 * as its bytes to raw. */
typedef struct {
    const char *peer_service;
    const ProtobufCMessageDescriptor *record;
    cpm_svc_acked_fn fn;
    cpm_svc_acked_raw_fn raw;
} cpm_svc_acked_t;

typedef struct cpm_service {
    const char *name;                   /* must equal the config's service */
    const char *const *databases;       /* the service's own, NULL-terminated */
    const char *const *config_requires; /* optional config fields it needs, NULL-terminated */
    const cpm_svc_request_t *requests;  /* ended by an entry with fn NULL */
    /* Optional, ended by an entry with fn NULL: batch requests of items (type
     * MSG_SUBMIT_BATCH, cpm_server_on_items). Each item is decoded with the
     * entry's payload descriptor and given to fn exactly as a single request
     * of that payload (the same handler), its writes undone alone when it
     * fails (the items share nested transactions: fn may run twice for an
     * item, see cpm_item_fn); the answers go out as one group receipt. write must be true, reads
     * and keep_frame unset. */
    const cpm_svc_request_t *items;
    const cpm_svc_batch_t *batches;  /* ended by an entry with fn NULL */
    const cpm_svc_stream_t *streams; /* ended by an entry with peer_service NULL */
    const cpm_svc_acked_t *acked;    /* optional, ended by an entry with fn and raw NULL */
    /* After the server is up: create the state. 0, or -1 with the reason
     * logged (the process exits 1). */
    int (*init)(cpm_server_t *srv, cpm_svc_t **st);
    void (*fini)(cpm_svc_t **st);
    /* Once per registry version, before callbacks see it; may be NULL. */
    void (*registry_changed)(cpm_svc_t *st, cpm_server_t *srv);
    /* Between loop iterations; may be NULL. The library runs
     * cpm_retention_tick after it for every service. */
    void (*tick)(cpm_svc_t *st, cpm_server_t *srv);
} cpm_service_t;

/* Register desc's tables on srv with st as their state. 0, or -1 when a
 * table does not fit (too many handlers, unknown stream service). */
CPM_MUST_CHECK int cpm_service_attach(cpm_server_t *srv, const cpm_service_t *desc, cpm_svc_t *st);

/* The whole main of a service binary: `<binary> --config FILE.yaml`.
 * Returns the process exit code: 0 on a clean stop, 1 on an error, 2 on
 * wrong usage. */
CPM_MUST_CHECK int cpm_service_main(const cpm_service_t *desc, int argc, char **argv);
/* A service's main.c ends with CPM_SERVICE_MAIN(its descriptor): the binary's
 * main function, the same for every service. */
#define CPM_SERVICE_MAIN(desc)                                                                     \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return cpm_service_main(&(desc), argc, argv);                                              \
    }

#endif
