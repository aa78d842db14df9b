/* cpm_eventlog_int: what cpm_eventlog.c (decoded events) and
 * cpm_eventlog_raw.c (stored bytes) share: one walk over the stored events,
 * so both readers refuse the same events with the same messages. Internal:
 * services include cpm_eventlog.h only. */
#ifndef CPM_EVENTLOG_INT_H
#define CPM_EVENTLOG_INT_H

#include <stdbool.h>
#include "cpm_eventlog.h"

/* What a visitor returns to stop a walk (0 goes on). */
#define CPM_EVENTLOG_CORRUPT 1 /* the event cannot be decoded */
#define CPM_EVENTLOG_OOM 2

/* Called with the i-th event read: with judge, its bytes checked as the
 * decoder would check them and its seq its key's; without, unchecked, seq
 * the key's and hash NULL (a visitor that decodes the bytes itself). */
typedef int (*cpm_eventlog_visit_fn)(void *ctx, const cpm_event_raw_t *e, size_t i);

/* Walk at most max events from from_seq on, calling visit for each (judge:
 * see cpm_eventlog_visit_fn). 0 with
 * *n visited; else the error, logged ("eventlog: read: ..."), with *n = 0:
 * CPM_E_INVALID (max 0), CPM_E_INTERNAL (an event that is corrupt, or the
 * visitor's CPM_EVENTLOG_CORRUPT / _OOM) or the store's error. */
int cpm_eventlog_walk(cpm_store_t *s, MDB_txn *txn, uint64_t from_seq, size_t max, bool judge,
                      cpm_eventlog_visit_fn visit, void *ctx, size_t *n);

/* A field protobuf-c's decoder takes with any wire type (1.4.1 does not
 * check a bool's: parse_required_member). */
#define CPM_EVENT_WIRE_ANY (-2)

/* The wire type protobuf-c's decoder requires of a field of Event (0, 1, 2
 * or 5; CPM_EVENT_WIRE_ANY for a bool), or -1 for a field whose bytes the raw reader cannot judge
 * as the decoder does (a repeated field, packed or not; a sub-message, whose own decoding may
 * fail): an event holding one is refused as corrupt, so every field of Event must have a wire type
 * here (test_eventlog_raw checks). */
int cpm_event_field_wire_type(const ProtobufCFieldDescriptor *fd);

#endif
