/* routing_casewire: see routing_casewire.h. */
#include "routing_casewire.h"

#include "cpm_pbcheck.h"

#include <string.h>

/* StatusReply's field numbers (proto/cpmesh.proto) that are read or added. */
#define F_AGENCY 3
#define F_RULE_ID 4
#define F_AREA 5
#define F_CATEGORY 6
#define F_HISTORY 12
#define F_STATE 16

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static size_t put_varint(uint64_t v, uint8_t *out)
{
    size_t n = 0;
    do {
        out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* Whether wire type wt is one the decoder takes for field f (repeated
 * scalars also packed, as length-delimited). */
static bool wire_ok(const ProtobufCFieldDescriptor *f, int wt)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return wt == WT_LEN;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return wt == WT_I32 || (f->label == PROTOBUF_C_LABEL_REPEATED && wt == WT_LEN);
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return wt == WT_I64 || (f->label == PROTOBUF_C_LABEL_REPEATED && wt == WT_LEN);
    default: /* varints: ints, bool, enum */
        return wt == WT_VARINT || (f->label == PROTOBUF_C_LABEL_REPEATED && wt == WT_LEN);
    }
}

bool routing_casewire_peek(const uint8_t *b, size_t n, routing_casewire_t *out)
{
    memset(out, 0, sizeof *out);
    const uint8_t *p = b, *e = b + n;
    cpm_pb_field_t f;
    int rc;
    /* read as protobuf-c's decoder reads (its limits on tags and lengths),
     * a field of StatusReply in a wire type it would refuse refused too;
     * what is inside the history entries and the placement is not looked at
     * (the decoder reads it when the case is next decoded) */
    while ((rc = cpm_pb_next_as_decoder(&p, e, &f)) == 1) {
        const ProtobufCFieldDescriptor *d =
            protobuf_c_message_descriptor_get_field(&cpm__status_reply__descriptor, f.number);
        if (d && !wire_ok(d, f.wire_type))
            return false;
        if (f.number == F_STATE && f.wire_type == WT_VARINT)
            out->state = (uint32_t)f.value;
        if (f.wire_type != WT_LEN)
            continue;
        const uint8_t **str = f.number == F_AGENCY     ? &out->agency
                              : f.number == F_RULE_ID  ? &out->rule_id
                              : f.number == F_AREA     ? &out->area
                              : f.number == F_CATEGORY ? &out->category
                                                       : NULL;
        size_t *len = f.number == F_AGENCY     ? &out->agency_len
                      : f.number == F_RULE_ID  ? &out->rule_id_len
                      : f.number == F_AREA     ? &out->area_len
                      : f.number == F_CATEGORY ? &out->category_len
                                               : NULL;
        if (str) {
            *str = f.data;
            *len = f.len;
        }
    }
    return rc == 0;
}

size_t routing_casewire_append(Cpm__CaseState state, const Cpm__StatusEntry *e, uint8_t *out,
                               size_t cap)
{
    size_t el = protobuf_c_message_get_packed_size(&e->base);
    if (cap < 2 * 10 + 2 * 10 + el)
        return 0;
    size_t n = put_varint((uint64_t)F_STATE << 3 | WT_VARINT, out);
    n += put_varint((uint64_t)(int64_t)state, out + n);
    n += put_varint((uint64_t)F_HISTORY << 3 | WT_LEN, out + n);
    n += put_varint(el, out + n);
    return n + protobuf_c_message_pack(&e->base, out + n);
}
