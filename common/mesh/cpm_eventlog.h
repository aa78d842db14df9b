/* cpm_eventlog: the service's numbered, hash-chained log of state changes.
 *
 * "events" maps seq (big-endian u64, from 1) to a serialized Event. "meta"
 * holds "events.head" (u64) and "events.hash" (32 bytes, hash of the head
 * event; all zero for an empty log). Event.hash (protocol version 2) =
 * SHA-256 of:
 *   prev_hash (32) || seq (u64 BE) || at_ms (i64 BE)
 *   || for kind, ticket, agency, area, category: length (u32 BE) || UTF-8
 *   || state (u32 BE, the CaseState number)
 *   || for rule, actor, note: length (u32 BE) || UTF-8
 *   and, only when one of the record fields 14-21 is set (violation.recorded,
 *   complaint.received, consultation.recorded): "R1"
 *   || for business, address, violation: length (u32 BE) || UTF-8
 *   || fine_vnd (i64 BE) || for tax_code, inspection, channel: length || UTF-8
 *   || outcome (u32 BE, the Outcome number)
 *   and, only when one of the suggestion fields 22-25 is set: "R2"
 *   || for product, suggested: length (u32 BE) || UTF-8
 *   || suggestion_pm (u32 BE) || category_by: length (u32 BE) || UTF-8
 * so that the chain is checked without re-serializing protobuf. */
#ifndef CPM_EVENTLOG_H
#define CPM_EVENTLOG_H

#include "cpm_err.h"

#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a service says happened: the typed fields of an Event (strings may
 * be NULL for empty; state 0 for none). Never the consumer's personal data. */
typedef struct {
    const char *kind, *ticket, *agency, *area, *category;
    Cpm__CaseState state;
    const char *rule, *actor, *note;
    /* The record fields (a violation found, a complaint's or consultation's
     * channel): NULL/0 for none. */
    const char *business, *address, *violation;
    int64_t fine_vnd;
    const char *tax_code, *inspection, *channel;
    Cpm__Outcome outcome; /* case.resolved */
    /* Issue 12 (complaint.received, case.categorized): NULL/0 for none. */
    const char *product, *suggested, *category_by;
    uint32_t suggestion_pm;
} cpm_event_t;

/* Append one event. */
CPM_MUST_CHECK int cpm_eventlog_append(cpm_store_t *s, MDB_txn *txn, int64_t at_ms,
                                       const cpm_event_t *e, uint64_t *seq_out);
/* Head seq (0 when empty) and its hash (hash may be NULL). */
CPM_MUST_CHECK int cpm_eventlog_head(cpm_store_t *s, MDB_txn *txn, uint64_t *seq, uint8_t hash[32]);
/* Events from from_seq on, at most max. *events is malloc'd; free with
 * cpm_eventlog_free. Reading past the head gives n = 0. */
CPM_MUST_CHECK int cpm_eventlog_read(cpm_store_t *s, MDB_txn *txn, uint64_t from_seq, size_t max,
                                     Cpm__Event ***events, size_t *n);
void cpm_eventlog_free(Cpm__Event ***events, size_t n);

/* An event as its stored bytes (what cpm_eventlog_append packed), inside
 * the map: good until the next write in txn (a put or delete may move or
 * reuse the pages of a write transaction), or its end. hash points at its
 * 32-byte hash inside data, NULL when it has none of that size. */
typedef struct {
    uint64_t seq;
    const uint8_t *data;
    size_t len;
    const uint8_t *hash;
} cpm_event_raw_t;

/* cpm_eventlog_read without decoding, for readers that pass events on or
 * want only their hash (cpm_eventlog_raw.c): at most max events from
 * from_seq on into out (room for max). An event is refused exactly when
 * protobuf-c's decoder would refuse it (bytes not well-formed within its
 * limits, a field of Event with another wire type; cpm_pb_next_as_decoder)
 * or when its seq is not its key: CPM_E_INTERNAL, logged, n = 0.
 * cpm_eventlog_read is this walk with each event then decoded. */
CPM_MUST_CHECK int cpm_eventlog_read_raw(cpm_store_t *s, MDB_txn *txn, uint64_t from_seq,
                                         size_t max, cpm_event_raw_t *out, size_t *n);
/* How many of ev[0..n) fit in about bytes of a batch (at least one), counted
 * as a server counts decoded events: each one's size plus 8. */
size_t cpm_event_raw_within(const cpm_event_raw_t *ev, size_t n, size_t bytes);
/* The packed EventBatch of head's fields (node, service, head_seq; nothing
 * else set, no unknown fields, else CPM_E_INVALID) with ev[0..n) as its
 * events, each its stored bytes. For events as cpm_eventlog_append stores
 * them (protobuf-c's packing) it is byte for byte what packing head with
 * those events decoded would give; an event stored otherwise (fields out of
 * order or twice, unknown fields, longer varints) is passed on as stored,
 * which its decoded packing would not be. *out is malloc'd. 0,
 * CPM_E_INVALID or CPM_E_INTERNAL. */
CPM_MUST_CHECK int cpm_eventlog_batch_payload(const Cpm__EventBatch *head,
                                              const cpm_event_raw_t *ev, size_t n, uint8_t **out,
                                              size_t *len);

/* One of the record fields 14-21 is set (they then enter the hash). */
bool cpm_event_has_record(const Cpm__Event *ev);
/* The hash of ev given the previous hash (ev->prev_hash is not read). */
void cpm_event_hash(const Cpm__Event *ev, const uint8_t prev[32], uint8_t out[32]);
/* Check that events are consecutive and each hash and prev_hash links up,
 * starting from prev (the hash before events[0]; NULL to trust events[0]'s
 * prev_hash). 0 or -1. */
CPM_MUST_CHECK int cpm_eventlog_verify_chain(Cpm__Event *const *events, size_t n,
                                             const uint8_t *prev);

/* The typed fields after kind, ticket and agency as one line for humans:
 * "area=.. category=.. state=.. rule=.. actor=.. note" (empty ones left out),
 * truncated to n. Returns buf. */
const char *cpm_event_describe(const Cpm__Event *ev, char *buf, size_t n);

#endif
