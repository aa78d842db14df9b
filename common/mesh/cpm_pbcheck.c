/* cpm_pbcheck: descriptor-driven checks of decoded messages, and a wire
 * reader without allocation. See cpm_pbcheck.h. */
#include "cpm_pbcheck.h"
#include "cpm_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

typedef struct {
    const cpm_pb_limits_t *lim;
    cpm_error_t *err;
    char path[128]; /* of the message being checked, "" at the top */
} walk_t;

/* path + "." + name (+ "[i]") into out. */
static void field_path(const walk_t *w, const char *name, long index, char *out, size_t n)
{
    /* A path too long for out is cut short: it only names the field. */
    const char *dot = w->path[0] ? "." : "";
    int rc = index >= 0 ? snprintf(out, n, "%s%s%s[%ld]", w->path, dot, name, index)
                        : snprintf(out, n, "%s%s%s", w->path, dot, name);
    if (rc < 0)
        out[0] = 0;
}

static int check_message(walk_t *w, const ProtobufCMessage *m, unsigned depth);

static int check_string(walk_t *w, const char *path, const char *s)
{
    if (!s)
        return 0; /* a hand-built message may hold NULL for "" */
    size_t n = strlen(s);
    if (n > w->lim->max_string)
        return cpm_error_set(w->err, CPM_E_TOO_LARGE, path,
                             "%s is %zu bytes long; at most %zu bytes are allowed.", path, n,
                             w->lim->max_string);
    if (!cpm_text_utf8_valid(s, n))
        return cpm_error_set(w->err, CPM_E_INVALID, path, "%s is not valid UTF-8.", path);
    return 0;
}

static int check_bytes(walk_t *w, const char *path, const ProtobufCBinaryData *b)
{
    if (b->len > w->lim->max_bytes)
        return cpm_error_set(w->err, CPM_E_TOO_LARGE, path,
                             "%s is %zu bytes long; at most %zu bytes are allowed.", path, b->len,
                             w->lim->max_bytes);
    return 0;
}

static int check_sub(walk_t *w, const char *path, const ProtobufCMessage *sub, unsigned depth)
{
    if (!sub)
        return 0;
    walk_t inner = *w;
    if (snprintf(inner.path, sizeof inner.path, "%s", path) < 0)
        inner.path[0] = 0;
    return check_message(&inner, sub, depth + 1);
}

/* One element of a field: value points at the char *, ProtobufCBinaryData or
 * ProtobufCMessage * it is made of; index is -1 for a field not repeated. The
 * path that names it is made only for a refusal or a sub-message: formatting
 * it for every field of every message was most of what a check cost. */
static int check_value(walk_t *w, const ProtobufCFieldDescriptor *fd, long index, const void *value,
                       unsigned depth)
{
    char path[128];
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)value;
        size_t n = s ? strlen(s) : 0;
        if (!s || (n <= w->lim->max_string && cpm_text_utf8_valid(s, n)))
            return 0;
        field_path(w, fd->name, index, path, sizeof path);
        return check_string(w, path, s);
    }
    case PROTOBUF_C_TYPE_BYTES:
        if (((const ProtobufCBinaryData *)value)->len <= w->lim->max_bytes)
            return 0;
        field_path(w, fd->name, index, path, sizeof path);
        return check_bytes(w, path, value);
    case PROTOBUF_C_TYPE_MESSAGE:
        if (!*(ProtobufCMessage *const *)value)
            return 0;
        field_path(w, fd->name, index, path, sizeof path);
        return check_sub(w, path, *(ProtobufCMessage *const *)value, depth);
    default:
        return 0; /* numbers and enums: any value decodes, validators judge them */
    }
}

static size_t element_size(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return 0;
    }
}

static int check_field(walk_t *w, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
                       unsigned depth)
{
    const char *base = (const char *)m;
    char path[128];
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)(base + fd->quantifier_offset);
        if (n > w->lim->max_repeated) {
            field_path(w, fd->name, -1, path, sizeof path);
            return cpm_error_set(w->err, CPM_E_TOO_LARGE, path,
                                 "%s holds %zu elements; at most %zu are allowed.", path, n,
                                 w->lim->max_repeated);
        }
        size_t es = element_size(fd);
        const char *arr = *(const char *const *)(base + fd->offset);
        for (size_t i = 0; es && i < n; i++) {
            int rc = check_value(w, fd, (long)i, arr + i * es, depth);
            if (rc)
                return rc;
        }
        return 0;
    }
    if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
        return 0; /* another member of the oneof is set */
    return check_value(w, fd, -1, base + fd->offset, depth);
}

static int check_message(walk_t *w, const ProtobufCMessage *m, unsigned depth)
{
    if (depth > w->lim->max_depth)
        return cpm_error_set(w->err, CPM_E_INVALID, w->path,
                             "%s is nested more than %u messages deep.", w->path,
                             w->lim->max_depth);
    if (m->n_unknown_fields > 0) {
        const ProtobufCMessageUnknownField *u = &m->unknown_fields[0];
        char path[140];
        if (snprintf(path, sizeof path, "%s%s#%u", w->path, w->path[0] ? "." : "", u->tag) < 0)
            path[0] = 0;
        return cpm_error_set(w->err, CPM_E_INVALID, path,
                             "field number %u (%zu bytes) is not part of %s in this protocol "
                             "version; unknown fields are refused.",
                             u->tag, u->len, m->descriptor->short_name);
    }
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        int rc = check_field(w, m, &d->fields[i], depth);
        if (rc)
            return rc;
    }
    return 0;
}

int cpm_pbcheck(const ProtobufCMessage *m, const cpm_pb_limits_t *limits, cpm_error_t *err)
{
    static const cpm_pb_limits_t defaults = {CPM_PB_REPEATED_MAX, CPM_PB_STRING_MAX,
                                             CPM_PB_BYTES_MAX, CPM_PB_DEPTH_MAX};
    if (!m || !m->descriptor)
        return cpm_error_set(err, CPM_E_INVALID, "", "no message");
    walk_t w = {.lim = limits ? limits : &defaults, .err = err, .path = ""};
    return check_message(&w, m, 0);
}

int cpm_pbcheck_or_free(ProtobufCMessage *m, cpm_error_t *err)
{
    int rc = cpm_pbcheck(m, NULL, err);
    if (rc != 0 && m)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* A varint of at most max bytes (10 hold 64 bits). 0 or -1. */
static int read_varint(const uint8_t **p, const uint8_t *end, unsigned max, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < max; i++) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* cpm_pb_next (as_decoder false) or cpm_pb_next_as_decoder. */
static int pb_next(const uint8_t **p, const uint8_t *end, cpm_pb_field_t *f, bool as_decoder)
{
    if (*p >= end)
        return 0;
    const uint8_t first = **p;
    uint64_t tag;
    if (read_varint(p, end, as_decoder ? 5 : 10, &tag) != 0)
        return -1;
    /* protobuf-c's parse_tag_and_wiretype: a one-byte tag of number 0 is
     * refused, any other tag of 5 bytes or fewer read (numbers up to 2^32-1,
     * unknown fields when the message has no such number). */
    if (as_decoder ? (first & 0xf8) == 0 : tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
        return -1;
    memset(f, 0, sizeof *f);
    f->number = (uint32_t)(tag >> 3);
    f->wire_type = (int)(tag & 7);
    size_t left;
    switch (f->wire_type) {
    case 0:
        return read_varint(p, end, 10, &f->value) == 0 ? 1 : -1;
    case 1:
    case 5: {
        size_t n = f->wire_type == 1 ? 8 : 4;
        if ((size_t)(end - *p) < n)
            return -1;
        for (size_t i = 0; i < n; i++)
            f->value |= (uint64_t)(*p)[i] << (8 * i);
        *p += n;
        return 1;
    }
    case 2:
        /* protobuf-c's scan_length_prefixed_data reads at most 5 bytes */
        if (read_varint(p, end, as_decoder ? 5 : 10, &f->value) != 0)
            return -1;
        left = (size_t)(end - *p);
        if (f->value > left || (as_decoder && f->value > INT_MAX)) /* the decoder's int */
            return -1;
        f->data = *p;
        f->len = (size_t)f->value;
        *p += f->len;
        return 1;
    default:
        return -1; /* groups (3, 4) are not used by cpmesh; 6, 7 do not exist */
    }
}

int cpm_pb_next(const uint8_t **p, const uint8_t *end, cpm_pb_field_t *f)
{
    return pb_next(p, end, f, false);
}

int cpm_pb_next_as_decoder(const uint8_t **p, const uint8_t *end, cpm_pb_field_t *f)
{
    return pb_next(p, end, f, true);
}

int cpm_pb_count_fields(const uint8_t *buf, size_t len, size_t max, size_t *n)
{
    cpm_pb_field_t f;
    int r;
    *n = 0;
    if (len == 0)
        return 0; /* buf may be NULL then: no arithmetic on it */
    if (!buf)
        return -1;
    const uint8_t *p = buf, *end = buf + len;
    while ((r = cpm_pb_next(&p, end, &f)) == 1)
        if (++*n > max)
            return -1;
    return r == 0 ? 0 : -1;
}

typedef struct {
    size_t used, budget;
} budget_t;

static void *budget_alloc(void *data, size_t size)
{
    budget_t *b = data;
    if (size > b->budget - b->used) /* used <= budget always holds */
        return NULL;
    b->used += size;
    return malloc(size);
}

static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

ProtobufCAllocator *cpm_pb_budget(size_t len)
{
    /* One per thread: client threads (cpm_receipt_open in the bench's eight)
     * and a service's threads decode at once. */
    static _Thread_local budget_t b;
    static _Thread_local ProtobufCAllocator a;
    a = (ProtobufCAllocator){budget_alloc, budget_free, &b};
    b.used = 0;
    b.budget = len > (SIZE_MAX - CPM_PB_ALLOC_BASE) / CPM_PB_ALLOC_FACTOR
                   ? SIZE_MAX
                   : CPM_PB_ALLOC_FACTOR * len + CPM_PB_ALLOC_BASE;
    return &a;
}

size_t cpm_pb_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

uint8_t *cpm_pb_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}
