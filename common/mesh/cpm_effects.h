/* cpm_effects: what a service's domain logic may do besides writing its own
 * databases: queue a record for another service and append an event. Inside a
 * service these are bound to cpm_server_send_record and cpm_server_event; unit
 * tests bind them to a real store without sockets. Both act inside txn, so
 * they commit or vanish together with the effect that caused them. */
#ifndef CPM_EFFECTS_H
#define CPM_EFFECTS_H

#include "cpm_eventlog.h"

#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>

typedef struct {
    int (*send)(void *ctx, MDB_txn *txn, const char *peer_member, const char *peer_service,
                const ProtobufCMessage *rec);
    int (*event)(void *ctx, MDB_txn *txn, const cpm_event_t *ev);
    void *ctx;
    /* Optional (NULL: send): send rec, given as well as packed, its bytes as
     * protobuf_c_message_pack makes them, for a caller that has just packed
     * it for a store of its own (intake's complaint): not packed twice. */
    int (*send_packed)(void *ctx, MDB_txn *txn, const char *peer_member, const char *peer_service,
                       const ProtobufCMessage *rec, const uint8_t *packed, size_t len);
    /* Optional (NULL: send_packed or send): send the record this service has
     * just stored in its database db under key, as protobuf_c_message_pack
     * makes it. The outbox keeps a reference, not a second copy
     * (cpm_outbox_put_ref): the service must leave those bytes as they are
     * until the peer has acknowledged the record (today only intake does,
     * for its complaints: their contact is stripped after routing's ack;
     * the pump's acked hook, if any, reads them before the ack deletes).
     * len: those bytes' length (the pump counts a batch's bytes by it). */
    int (*send_stored)(void *ctx, MDB_txn *txn, const char *peer_member, const char *peer_service,
                       const char *db, const void *key, size_t klen, size_t len);
} cpm_effects_t;

#endif
