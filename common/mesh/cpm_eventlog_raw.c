/* cpm_eventlog_raw: the log's events as their stored bytes, for the readers
 * that only pass them on (a publication) or need only their hash (a
 * checkpoint): decoding each event and packing it again was most of what
 * publishing cost. See cpm_eventlog.h. */
#include "cpm_eventlog.h"

#include "cpm_eventlog_int.h"
#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "cpm_receipt_int.h"
#include "cpm_util.h"

#include <stdlib.h>
#include <string.h>

#define EVENTS_FIELD 4 /* EventBatch.events */

int cpm_event_field_wire_type(const ProtobufCFieldDescriptor *fd)
{
    if (fd->label == PROTOBUF_C_LABEL_REPEATED)
        return -1; /* packed or not: both decode */
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_ENUM:
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        return CPM_EVENT_WIRE_ANY;
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
        return 2;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    default: /* PROTOBUF_C_TYPE_MESSAGE */
        return -1;
    }
}

/* Walk the bytes of one event as the decoder would: 0 with seq and hash
 * (the last of each, as the decoder takes them; hash NULL unless 32 bytes)
 * or -1 where the decoder would refuse them. A field Event does not have
 * is kept by the decoder, whatever its wire type. */
static int parse(const uint8_t *data, size_t len, uint64_t *seq, const uint8_t **hash)
{
    cpm_pb_field_t f;
    int r;
    *seq = 0;
    *hash = NULL;
    if (len == 0)
        return 0; /* data may be NULL then */
    const uint8_t *p = data, *end = data + len;
    while ((r = cpm_pb_next_as_decoder(&p, end, &f)) == 1) {
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(&cpm__event__descriptor, f.number);
        int want = fd ? cpm_event_field_wire_type(fd) : CPM_EVENT_WIRE_ANY;
        if (want != CPM_EVENT_WIRE_ANY && f.wire_type != want)
            return -1;
        if (f.number == 1)
            *seq = f.value;
        else if (f.number == 8)
            *hash = f.len == 32 ? f.data : NULL;
    }
    return r == 0 ? 0 : -1;
}

int cpm_eventlog_walk(cpm_store_t *s, MDB_txn *txn, uint64_t from_seq, size_t max, bool judge,
                      cpm_eventlog_visit_fn visit, void *ctx, size_t *n)
{
    *n = 0;
    if (max == 0) {
        cpm_error("eventlog: read: max must be at least 1");
        return CPM_E_INVALID;
    }
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(s, CPM_DB_EVENTS), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    uint8_t key[8];
    cpm_put_be64(key, from_seq);
    MDB_val k = {8, key}, v;
    int stop = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && *n < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        cpm_event_raw_t e = {.data = v.mv_data, .len = v.mv_size};
        /* A key that is not its event's seq is as corrupt as bad bytes. A
         * visitor that decodes (judge false) has the decoder judge the bytes
         * and checks the seq against the key itself (e.seq is the key's). */
        if (k.mv_size != 8)
            stop = CPM_EVENTLOG_CORRUPT;
        else if (!judge)
            e.seq = cpm_get_be64(k.mv_data), stop = visit(ctx, &e, *n);
        else if (parse(e.data, e.len, &e.seq, &e.hash) != 0 || e.seq != cpm_get_be64(k.mv_data))
            stop = CPM_EVENTLOG_CORRUPT;
        else
            stop = visit(ctx, &e, *n);
        if (stop)
            break;
        (*n)++;
    }
    mdb_cursor_close(cur);
    if (stop || (rc != 0 && rc != MDB_NOTFOUND)) {
        if (stop == CPM_EVENTLOG_OOM)
            cpm_error("eventlog: read: out of memory after %zu events", *n);
        else if (stop)
            cpm_error("eventlog: read: the event after %zu read cannot be decoded or has "
                      "the wrong seq (corrupt store?)",
                      *n);
        else
            cpm_error("eventlog: read: %s", mdb_strerror(rc));
        *n = 0;
        return stop ? CPM_E_INTERNAL : cpm_store_err(rc);
    }
    return 0;
}

static int keep_raw(void *ctx, const cpm_event_raw_t *e, size_t i)
{
    ((cpm_event_raw_t *)ctx)[i] = *e;
    return 0;
}

int cpm_eventlog_read_raw(cpm_store_t *s, MDB_txn *txn, uint64_t from_seq, size_t max,
                          cpm_event_raw_t *out, size_t *n)
{
    return cpm_eventlog_walk(s, txn, from_seq, max, true, keep_raw, out, n);
}

size_t cpm_event_raw_within(const cpm_event_raw_t *ev, size_t n, size_t bytes)
{
    size_t total = 0, k = 0;
    for (; k < n; k++) {
        total += ev[k].len + 8; /* tag and length */
        if (total > bytes && k > 0)
            break;
    }
    return k;
}

int cpm_eventlog_batch_payload(const Cpm__EventBatch *head, const cpm_event_raw_t *ev, size_t n,
                               uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    /* Fields after events, or unknown ones (packed last), would have to
     * come after them. */
    if (head->n_events || head->scan_from || head->scan_to || head->skipped_hashes.len ||
        head->n_checkpoints || head->base.n_unknown_fields)
        return CPM_E_INVALID;
    size_t hl = cpm__event_batch__get_packed_size(head), total = hl;
    for (size_t i = 0; i < n; i++)
        total += 1 + cpm_pb_varint_len(ev[i].len) + ev[i].len;
    uint8_t *b = malloc(total ? total : 1);
    if (!b)
        return CPM_E_INTERNAL;
    /* protobuf-c packs fields in the order of their numbers: node, service,
     * head_seq, then events; each event is its own bytes behind its tag. */
    uint8_t *o = b + cpm__event_batch__pack(head, b);
    for (size_t i = 0; i < n; i++) {
        *o++ = EVENTS_FIELD << 3 | 2;
        o = cpm_pb_put_varint(o, ev[i].len);
        memcpy(o, ev[i].data, ev[i].len);
        o += ev[i].len;
    }
    *out = b;
    *len = (size_t)(o - b);
    return 0;
}
