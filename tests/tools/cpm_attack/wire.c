/* wire: attacks on the cost of input. See wire.h. */
#include "wire.h"

#include "frames.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int at_padded_complaint(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    size_t clen, pad = (size_t)(a->o->count > 0 ? a->o->count : 1024) * 1024;
    uint8_t *c = frame_complaint("Padded Shop", &clen);
    if (!c)
        return 1;
    /* field 99, wire type 2: tag 0x9a 0x06, then the length as a varint */
    uint8_t *p = malloc(clen + 16 + pad);
    if (!p) {
        free(c);
        return 1;
    }
    memcpy(p, c, clen);
    size_t n = clen;
    p[n++] = 0x9a;
    p[n++] = 0x06;
    for (size_t v = pad;; v >>= 7) {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    memset(p + n, 'P', pad);
    n += pad;
    int rc = frame_valid(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, p, n, out, len);
    free(p);
    free(c);
    return rc;
}

int at_twobyte_fields(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    *len = CPM_MAX_MSG;
    if (!(*out = malloc(*len)))
        return 1;
    for (size_t i = 0; i + 1 < *len; i += 2) {
        (*out)[i] = 0x18;
        (*out)[i + 1] = 0x01;
    }
    return 0;
}

/* A batch on our own stream "<us>/<instance>><target>" of n records, each of
 * size bytes of fill, sent as a CASE_BATCH. */
static int own_batch(attack_t *a, size_t n, size_t size, uint8_t fill, uint8_t **out, size_t *len)
{
    char stream[600];
    snprintf(stream, sizeof stream, "%s/%s>%s", a->id.id, a->instance, a->recipient);
    uint8_t *rec = size ? malloc(size) : NULL;
    ProtobufCBinaryData *recs = calloc(n ? n : 1, sizeof *recs);
    if ((size && !rec) || !recs) {
        free(rec);
        free(recs);
        return 1;
    }
    if (size)
        memset(rec, fill, size);
    for (size_t i = 0; i < n; i++)
        recs[i] = (ProtobufCBinaryData){size, rec};
    Cpm__DeliveryBatch b = CPM__DELIVERY_BATCH__INIT;
    b.stream = stream;
    b.first_seq = 1;
    b.epoch = 1;
    b.n_records = n;
    b.records = recs;
    size_t plen;
    uint8_t *p = frame_pack(&b.base, &plen);
    int rc = p ? frame_valid(a, CPM__MSG_TYPE__MSG_CASE_BATCH, p, plen, out, len) : 1;
    free(p);
    free(recs);
    free(rec);
    return rc;
}

int at_empty_records(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    return own_batch(a, (size_t)a->o->count, 0, 0, out, len);
}

int at_oversize_batch(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    return own_batch(a, 3, 1u << 20, 0xff, out, len);
}

int at_bad_records(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    return own_batch(a, (size_t)a->o->count, 1, 0xff, out, len);
}
