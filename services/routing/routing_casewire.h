/* routing_casewire: a stored case (the StatusReply bytes cpm_store_put_msg
 * wrote) read and extended as protobuf wire bytes, without decoding and
 * encoding the whole record. Routing marks every case it routed assigned
 * once the agency's node has it (routing_assignment_delivered): that changes
 * the state and adds one history entry, and decoding the record (placement,
 * history, strings: a dozen allocations) to encode it again was half of
 * routing's work per acknowledgement.
 *
 * Protobuf's rules make the change an append: a parser keeps the last value
 * of a field that is not repeated and collects a repeated field's values in
 * order, so the record followed by "state = S" and "history = E" decodes as
 * the record with state S and E as its last history entry, which is what
 * decoding it, setting them and encoding it again stores (but for the order
 * of the bytes: the state field twice until the case is next written whole).
 * No store, no sockets. */
#ifndef ROUTING_CASEWIRE_H
#define ROUTING_CASEWIRE_H

#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What routing needs of a case to mark it assigned, as a parser would read
 * it (the last value of each field); the strings point into the bytes read,
 * NULL with length 0 when absent. */
typedef struct {
    uint32_t state;
    const uint8_t *agency, *area, *category, *rule_id;
    size_t agency_len, area_len, category_len, rule_id_len;
} routing_casewire_t;

/* The fields of case bytes b (n) into *out. false when b is not a
 * sequence of well-formed fields of the kinds a StatusReply has (then
 * decode it). */
bool routing_casewire_peek(const uint8_t *b, size_t n, routing_casewire_t *out);

/* The bytes that, appended to a case, make it decode with state and with e
 * as its last history entry, into out (cap bytes): their length, 0 when cap
 * is too small. */
size_t routing_casewire_append(Cpm__CaseState state, const Cpm__StatusEntry *e, uint8_t *out,
                               size_t cap);

#endif
