/* cpm_pbcheck: checks that a protobuf message holds only what this version
 * knows, within limits, before anyone acts on it.
 *
 * protobuf-c keeps the fields it does not know and packs them again: a
 * message padded with an unknown field would be stored and forwarded with
 * its padding. So every request payload and every delivered record is
 * checked after decoding: no unknown fields at any depth, repeated fields
 * and strings/bytes within limits, every string valid UTF-8. The first
 * problem fills a cpm_error_t whose field is the path of the field, e.g.
 * "complaint.description", "records[3]" or "#999" (an unknown field, by
 * number).
 *
 * Also here: a reader of the protobuf wire format that allocates nothing, for
 * the places that must look at untrusted bytes before paying for a decoder
 * (the outer envelope, a batch's record count). */
#ifndef CPM_PBCHECK_H
#define CPM_PBCHECK_H

#include "cpm_err.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t max_repeated; /* elements of any one repeated field */
    size_t max_string;   /* bytes of any one string field */
    size_t max_bytes;    /* bytes of any one bytes field */
    unsigned max_depth;  /* nesting of sub-messages */
} cpm_pb_limits_t;

/* What cpm_pbcheck uses when limits is NULL: generous for any message of
 * version 1 (fields have tighter limits of their own in the validators). */
#define CPM_PB_REPEATED_MAX 4096
#define CPM_PB_STRING_MAX 65536
#define CPM_PB_BYTES_MAX (4u << 20)
#define CPM_PB_DEPTH_MAX 8

/* An allocator for decoding len untrusted bytes: it fails (so the unpack
 * returns NULL and frees what it took) once the decoding has allocated more
 * than CPM_PB_ALLOC_FACTOR * len + CPM_PB_ALLOC_BASE bytes. A message of
 * known fields needs about len plus its structs; one of millions of tiny
 * unknown fields needs tens of times len, and is refused after that budget
 * instead of costing a service hundreds of MiB. Memory comes from malloc, so
 * free the message with NULL (the default allocator). The allocator is one
 * object per thread (_Thread_local), reset by each call: threads decode in
 * parallel safely, and within a thread use it for one unpack at a time (the
 * pointer returned is only good until the thread's next call). */
#define CPM_PB_ALLOC_FACTOR 4
#define CPM_PB_ALLOC_BASE (64u << 10)
ProtobufCAllocator *cpm_pb_budget(size_t len);

/* 0 when m (and every message inside it) passes; else CPM_E_INVALID (an
 * unknown field, a string that is not UTF-8, nesting too deep) or
 * CPM_E_TOO_LARGE (a repeated field or a string/bytes field over its limit),
 * with err naming the field. limits may be NULL for the defaults above. */
CPM_MUST_CHECK int cpm_pbcheck(const ProtobufCMessage *m, const cpm_pb_limits_t *limits,
                               cpm_error_t *err);

/* cpm_pbcheck with the defaults; on failure frees m (decoded with the default
 * allocator) so a handler can return at once. 0 or the error code. */
CPM_MUST_CHECK int cpm_pbcheck_or_free(ProtobufCMessage *m, cpm_error_t *err);

/* One field read from the wire. For wire type 0 value holds the varint, for
 * 1 and 5 the fixed value; for 2 data/len is the payload inside the buffer. */
typedef struct {
    uint32_t number;
    int wire_type; /* 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    uint64_t value;
    const uint8_t *data;
    size_t len;
} cpm_pb_field_t;

/* Read the field at *p (below end) and move *p past it. 1 when a field was
 * read, 0 at the end, -1 on anything that is not well-formed wire format
 * (field number 0, groups, a length past the end, a varint of more than
 * 10 bytes). Allocates nothing. */
CPM_MUST_CHECK int cpm_pb_next(const uint8_t **p, const uint8_t *end, cpm_pb_field_t *f);
/* cpm_pb_next with the limits of protobuf-c 1.4's decoder instead, for a
 * reader that must refuse exactly what the decoder refuses (the event log's
 * raw reader): a tag of at most 5 bytes, of any number that fits (above
 * 2^29-1, or 0 when written in more than one byte, it is read: the decoder
 * keeps it as an unknown field), and a length prefix of at most 5 bytes. */
CPM_MUST_CHECK int cpm_pb_next_as_decoder(const uint8_t **p, const uint8_t *end, cpm_pb_field_t *f);

/* Bytes of v as a varint (1 to 10); cpm_pb_put_varint writes it at p and
 * returns its end. For the few frames written by hand (a SignedEnvelope,
 * a group receipt's proofs, a raw event batch). */
size_t cpm_pb_varint_len(uint64_t v);
uint8_t *cpm_pb_put_varint(uint8_t *p, uint64_t v);

/* Count the top-level fields of buf, stopping as soon as there are more than
 * max. 0 with *n set, or -1 when buf is not well-formed wire format or holds
 * more than max fields (*n is then max + 1). */
CPM_MUST_CHECK int cpm_pb_count_fields(const uint8_t *buf, size_t len, size_t max, size_t *n);

#endif
