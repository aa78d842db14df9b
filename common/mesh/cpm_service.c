/* cpm_service: runs a service from its table (see cpm_service.h). The
 * adapters below are registered with cpm_server for every entry; they find
 * the entry by message type, decode and check once, call it, free. */
#include "cpm_service.h"

#include "cpm_config.h"
#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "cpm_retention.h"
#include "cpm_server_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Tell the state about a registry it has not seen yet. */
static void refresh(cpm_server_t *s)
{
    uint64_t v = cpm_registry_version(s->reg);
    if (v == s->svc_reg_version)
        return;
    s->svc_reg_version = v;
    if (s->svc->registry_changed)
        s->svc->registry_changed(s->svc_state, s);
}

static const cpm_svc_request_t *find_in(const cpm_svc_request_t *r, int type)
{
    for (; r && r->fn; r++)
        if ((int)r->type == type)
            return r;
    return NULL;
}

static const cpm_svc_request_t *find_request(const cpm_service_t *d, int type)
{
    return find_in(d->requests, type);
}

static const cpm_svc_batch_t *find_batch(const cpm_service_t *d, int type)
{
    for (const cpm_svc_batch_t *b = d->batches; b && b->fn; b++)
        if ((int)b->type == type)
            return b;
    return NULL;
}

#define NOT_ITEM UINT32_MAX /* decode's index when the bytes are not an item */

/* Decode len bytes as desc under the untrusted-input budget, then check;
 * NULL with err filled ("<what> is not a <Type>", what[index] for item index,
 * or the check's finding). The item's name is formatted only when refused. */
static ProtobufCMessage *decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                                size_t len, const char *what, uint32_t index, cpm_error_t *err)
{
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, cpm_pb_budget(len), len, buf);
    if (!msg) {
        char name[48];
        if (index == NOT_ITEM)
            snprintf(name, sizeof name, "%s", what);
        else
            snprintf(name, sizeof name, "%s[%u]", what, index);
        cpm_error_set(err, CPM_E_BAD_MESSAGE, name, "%s is not a %s", name, desc->short_name);
        return NULL;
    }
    if (cpm_pbcheck_or_free(msg, err) != 0)
        return NULL;
    return msg;
}

static int on_request(cpm_server_t *s, MDB_txn *txn, const cpm_msg_t *m, cpm_reply_t *reply,
                      cpm_error_t *err)
{
    const cpm_svc_request_t *r = find_request(s->svc, m->env->type);
    if (!r)
        return cpm_error_set(err, CPM_E_INTERNAL, "type", "no entry for this type");
    refresh(s);
    ProtobufCMessage *p =
        decode(r->payload, m->env->payload.data, m->env->payload.len, "payload", NOT_ITEM, err);
    if (!p)
        return err->code;
    int rc = r->fn(s->svc_state, s, txn, m, p, reply, err);
    protobuf_c_message_free_unpacked(p, NULL);
    return rc;
}

/* One item of a batch request, decoded with the entry's payload descriptor
 * and handled exactly as a single request of that payload. */
static int on_item(cpm_server_t *s, MDB_txn *txn, const cpm_msg_t *m, uint32_t index,
                   const uint8_t *item, size_t len, cpm_reply_t *reply, cpm_error_t *err)
{
    const cpm_svc_request_t *r = find_in(s->svc->items, m->env->type);
    if (!r)
        return cpm_error_set(err, CPM_E_INTERNAL, "type", "no entry for this type");
    refresh(s);
    ProtobufCMessage *p = decode(r->payload, item, len, "complaints", index, err);
    if (!p)
        return err->code;
    int rc = r->fn(s->svc_state, s, txn, m, p, reply, err);
    protobuf_c_message_free_unpacked(p, NULL);
    return rc;
}

static bool on_reads(cpm_server_t *s, const cpm_msg_t *m)
{
    const cpm_svc_request_t *r = find_request(s->svc, m->env->type);
    if (!r || !r->reads)
        return false;
    /* A look only: a payload that does not decode is a write, which then
     * gets its refusal from on_request. */
    ProtobufCMessage *p = protobuf_c_message_unpack(r->payload, cpm_pb_budget(m->env->payload.len),
                                                    m->env->payload.len, m->env->payload.data);
    bool reads = p && r->reads(p);
    if (p)
        protobuf_c_message_free_unpacked(p, NULL);
    return reads;
}

/* A record prepared on the pool (cpm_server_prepare_batch): decoded and
 * checked there, and the service's own part. The decoded record goes to fn
 * once: fn may change it (routing drops a contact sent in clear), and a
 * record applied again (cpm_delivery's runs) is decoded again. */
typedef struct {
    const cpm_svc_batch_t *b;
    ProtobufCMessage *rec; /* NULL once handed to fn */
    void *own;             /* b->prepare's */
} prepared_t;

static void *prepare_record(cpm_server_t *s, const cpm_msg_t *m, const uint8_t *rec, size_t len)
{
    const cpm_svc_batch_t *b = find_batch(s->svc, m->env->type);
    cpm_error_t err;
    prepared_t *p = b ? calloc(1, sizeof *p) : NULL;
    if (!p)
        return NULL;
    p->b = b;
    /* a record that does not decode is refused by on_record, as before */
    if ((p->rec = decode(b->record, rec, len, "record", NOT_ITEM, &err)) != NULL && b->prepare)
        p->own = b->prepare(p->rec);
    return p;
}

static void release_record(void *prepared)
{
    prepared_t *p = prepared;
    if (p->rec)
        protobuf_c_message_free_unpacked(p->rec, NULL);
    if (p->own)
        p->b->release(p->own);
    free(p);
}

const void *cpm_svc_prepared(const cpm_server_t *s)
{
    return s->svc_prepared;
}

static int on_record(cpm_server_t *s, MDB_txn *txn, const cpm_msg_t *m, const uint8_t *rec,
                     size_t len, cpm_error_t *err)
{
    const cpm_svc_batch_t *b = find_batch(s->svc, m->env->type);
    if (!b)
        return cpm_error_set(err, CPM_E_INTERNAL, "type", "no entry for this batch type");
    refresh(s);
    prepared_t *p = cpm_server_prepared(s, rec);
    ProtobufCMessage *r =
        p && p->rec ? p->rec : decode(b->record, rec, len, "record", NOT_ITEM, err);
    if (!r)
        return err->code;
    if (p && r == p->rec)
        p->rec = NULL; /* fn's now, freed below */
    s->svc_prepared = p ? p->own : NULL;
    int rc = b->fn(s->svc_state, s, txn, m, r, err);
    s->svc_prepared = NULL;
    protobuf_c_message_free_unpacked(r, NULL);
    return rc;
}

/* The pump's acked hook (cpm_pump_on_acked): decode once, call the entry. */
static int on_acked(void *ctx, MDB_txn *txn, const char *peer_member, const char *peer_service,
                    uint64_t seq, const uint8_t *rec, size_t len)
{
    cpm_server_t *s = ctx;
    const cpm_svc_acked_t *o = s->svc->acked;
    while (o && (o->fn || o->raw) && strcmp(o->peer_service, peer_service) != 0)
        o++;
    if (!o || !(o->fn || o->raw))
        return 0;
    refresh(s);
    if (!o->record)
        return o->raw(s->svc_state, s, txn, peer_member, rec, len);
    cpm_error_t err = {0};
    ProtobufCMessage *r = decode(o->record, rec, len, "record", NOT_ITEM, &err);
    if (!r) { /* our own record: only a bug or a damaged store gets here */
        cpm_error("%s/%s: acknowledged record %llu does not decode (%s); passed over", peer_member,
                  peer_service, (unsigned long long)seq, err.message);
        return 0;
    }
    int rc = o->fn(s->svc_state, s, txn, peer_member, r);
    protobuf_c_message_free_unpacked(r, NULL);
    return rc;
}

static void on_tick(cpm_server_t *s)
{
    refresh(s);
    if (s->svc->tick)
        s->svc->tick(s->svc_state, s);
    cpm_retention_tick(s);
}

int cpm_service_attach(cpm_server_t *s, const cpm_service_t *d, cpm_svc_t *st)
{
    s->svc = d;
    s->svc_state = st;
    s->svc_reg_version = 0;
    for (const cpm_svc_request_t *r = d->items; r && r->fn; r++)
        if (!r->write || r->reads || r->keep_frame ||
            cpm_server_on_items(s, r->type, on_item) != 0) {
            cpm_error("%s: cannot register %s", d->name, cpm_msg_type_name(r->type));
            return -1;
        }
    for (const cpm_svc_request_t *r = d->requests; r && r->fn; r++) {
        if (cpm_server_on_request(s, r->type, r->write, on_request) != 0 ||
            (r->reads && cpm_server_reads_when(s, r->type, on_reads) != 0) ||
            (r->keep_frame && cpm_server_keep_frame(s, r->type) != 0)) {
            cpm_error("%s: cannot register %s", d->name, cpm_msg_type_name(r->type));
            return -1;
        }
    }
    for (const cpm_svc_batch_t *b = d->batches; b && b->fn; b++)
        if (cpm_server_on_batch(s, b->type, on_record) != 0 ||
            (b->prepare && (!b->release || cpm_server_prepare_batch(s, b->type, prepare_record,
                                                                    release_record) != 0))) {
            cpm_error("%s: cannot register %s", d->name, cpm_msg_type_name(b->type));
            return -1;
        }
    for (const cpm_svc_stream_t *o = d->streams; o && o->peer_service; o++)
        if (cpm_server_outbound(s, o->peer_service, o->type) != 0) {
            cpm_error("%s: cannot send %s to %s", d->name, cpm_msg_type_name(o->type),
                      o->peer_service);
            return -1;
        }
    for (const cpm_svc_acked_t *a = d->acked; a && (a->fn || a->raw); a++)
        if ((a->record ? !a->fn : !a->raw) ||
            cpm_pump_on_acked(s->pump, a->peer_service, on_acked, s) != 0) {
            cpm_error("%s: cannot hear acknowledgements from %s (no such stream, or the entry "
                      "has no function for its record: fn with record, raw without)",
                      d->name, a->peer_service);
            return -1;
        }
    cpm_server_on_tick(s, on_tick);
    refresh(s);
    return 0;
}

int cpm_service_main(const cpm_service_t *d, int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--config") != 0) {
        fprintf(stderr, "usage: cpmesh-%s --config FILE.yaml\n", d->name);
        return 2;
    }
    cpm_error_t err = {0};
    cpm_config_t *cfg = NULL;
    if (cpm_config_load(argv[2], &cfg, &err) == 0 &&
        cpm_config_check_service(cfg, d->name, d->config_requires, &err) != 0)
        cpm_config_destroy(&cfg);
    if (!cfg) {
        fprintf(stderr, "cpmesh-%s: %s: %s\n", d->name, argv[2], err.message);
        return 1;
    }
    cpm_server_t *srv = cpm_server_new(cfg, d->databases);
    cpm_svc_t *st = NULL;
    int rc = 1;
    if (srv && (!d->init || d->init(srv, &st) == 0) && cpm_service_attach(srv, d, st) == 0)
        rc = cpm_server_run(srv) == 0 ? 0 : 1;
    if (d->fini) /* also after a failed init, which may leave a partial state */
        d->fini(&st);
    cpm_server_destroy(&srv);
    cpm_config_destroy(&cfg);
    return rc;
}
