/* routing_casewire: see routing_casewire.h. */
#include "routing_casewire.h"

#include <string.h>

/* StatusReply's field numbers (proto/cpmesh.proto) that are read or added. */
#define F_AGENCY 3
#define F_RULE_ID 4
#define F_AREA 5
#define F_CATEGORY 6
#define F_HISTORY 12
#define F_STATE 16

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* A varint at *p (before e) into *v, *p past it; false when malformed. */
static bool get_varint(const uint8_t **p, const uint8_t *e, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; *p < e && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

static size_t put_varint(uint64_t v, uint8_t *out)
{
    size_t n = 0;
    do {
        out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

bool routing_casewire_peek(const uint8_t *b, size_t n, routing_casewire_t *out)
{
    memset(out, 0, sizeof *out);
    const uint8_t *p = b, *e = b + n;
    while (p < e) {
        uint64_t tag, v;
        if (!get_varint(&p, e, &tag) || tag >> 3 == 0 || tag >> 32)
            return false;
        uint32_t field = (uint32_t)(tag >> 3);
        switch (tag & 7) {
        case WT_VARINT:
            if (!get_varint(&p, e, &v))
                return false;
            if (field == F_STATE)
                out->state = (uint32_t)v;
            break;
        case WT_I64:
        case WT_I32: {
            size_t w = (tag & 7) == WT_I64 ? 8 : 4;
            if ((size_t)(e - p) < w)
                return false;
            p += w;
            break;
        }
        case WT_LEN: {
            if (!get_varint(&p, e, &v) || v > (uint64_t)(e - p))
                return false;
            const uint8_t **s = field == F_AGENCY     ? &out->agency
                                : field == F_RULE_ID  ? &out->rule_id
                                : field == F_AREA     ? &out->area
                                : field == F_CATEGORY ? &out->category
                                                      : NULL;
            size_t *l = field == F_AGENCY     ? &out->agency_len
                        : field == F_RULE_ID  ? &out->rule_id_len
                        : field == F_AREA     ? &out->area_len
                        : field == F_CATEGORY ? &out->category_len
                                              : NULL;
            if (s) {
                *s = p;
                *l = (size_t)v;
            }
            p += v;
            break;
        }
        default: /* groups (never in a StatusReply) or garbage */
            return false;
        }
    }
    return true;
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
