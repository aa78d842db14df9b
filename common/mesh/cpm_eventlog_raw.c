/* cpm_eventlog_raw: the log's events as their stored bytes, for the readers
 * that only pass them on (a publication) or need only their hash (a
 * checkpoint): decoding each event and packing it again was most of what
 * publishing cost. See cpm_eventlog.h. */
#include "cpm_eventlog.h"

#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "cpm_util.h"

#include <stdlib.h>
#include <string.h>

#define EVENTS_FIELD 4 /* EventBatch.events */

/* The wire type a field of Event is packed with (protobuf-c refuses the
 * event when a known field comes with another): 0 for the numbers and enums,
 * 2 for strings and bytes; -1 for a number Event does not have (kept, as the
 * decoder keeps unknown fields). */
static int wire_type_of(uint32_t number)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(&cpm__event__descriptor, number);
    if (!fd)
        return -1;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 2;
    default: /* Event holds only varint numbers and enums besides */
        return 0;
    }
}

/* Walk the bytes of one event as the decoder would: 0 with seq and hash
 * (the last of each, as the decoder takes them; hash NULL unless 32 bytes)
 * or -1 where the decoder would refuse them. */
static int parse(const uint8_t *data, size_t len, uint64_t *seq, const uint8_t **hash)
{
    const uint8_t *p = data, *end = data + len;
    cpm_pb_field_t f;
    int r;
    *seq = 0;
    *hash = NULL;
    while ((r = cpm_pb_next(&p, end, &f)) == 1) {
        int want = wire_type_of(f.number);
        if (want >= 0 && f.wire_type != want)
            return -1;
        if (f.number == 1)
            *seq = f.value;
        else if (f.number == 8)
            *hash = f.len == 32 ? f.data : NULL;
    }
    return r == 0 ? 0 : -1;
}

int cpm_eventlog_read_raw(cpm_store_t *s, MDB_txn *txn, uint64_t from_seq, size_t max,
                          cpm_event_raw_t *out, size_t *n)
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
    bool corrupt = false;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && *n < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        cpm_event_raw_t *e = &out[*n];
        e->data = v.mv_data;
        e->len = v.mv_size;
        /* A key that is not its event's seq is as corrupt as bad bytes. */
        if ((corrupt = parse(e->data, e->len, &e->seq, &e->hash) != 0 || k.mv_size != 8 ||
                       e->seq != cpm_get_be64(k.mv_data)))
            break;
        (*n)++;
    }
    mdb_cursor_close(cur);
    if (corrupt || (rc != 0 && rc != MDB_NOTFOUND)) {
        if (corrupt)
            cpm_error("eventlog: read: the event after %zu read cannot be decoded or has "
                      "the wrong seq (corrupt store?)",
                      *n);
        else
            cpm_error("eventlog: read: %s", mdb_strerror(rc));
        *n = 0;
        return corrupt ? CPM_E_INTERNAL : cpm_store_err(rc);
    }
    return 0;
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

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

int cpm_eventlog_batch_payload(const Cpm__EventBatch *head, const cpm_event_raw_t *ev, size_t n,
                               uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (head->n_events || head->scan_from || head->scan_to || head->skipped_hashes.len ||
        head->n_checkpoints)
        return CPM_E_INVALID; /* fields after events would have to come after them */
    size_t hl = cpm__event_batch__get_packed_size(head), total = hl;
    for (size_t i = 0; i < n; i++)
        total += 1 + varint_len(ev[i].len) + ev[i].len;
    uint8_t *b = malloc(total ? total : 1);
    if (!b)
        return CPM_E_INTERNAL;
    /* protobuf-c packs fields in the order of their numbers: node, service,
     * head_seq, then events; each event is its own bytes behind its tag. */
    size_t o = cpm__event_batch__pack(head, b);
    for (size_t i = 0; i < n; i++) {
        b[o++] = EVENTS_FIELD << 3 | 2;
        o += put_varint(b + o, ev[i].len);
        memcpy(b + o, ev[i].data, ev[i].len);
        o += ev[i].len;
    }
    *out = b;
    *len = o;
    return 0;
}
