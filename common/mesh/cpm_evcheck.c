/* cpm_evcheck: signed checkpoints over the event log. See cpm_evcheck.h. */
#include "cpm_evcheck.h"
#include "cpm_envelope.h"
#include "cpm_eventlog.h"
#include "cpm_keyhist.h"
#include "cpm_log.h"
#include "cpm_util.h"
#include "cpm_verifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVCHECK_STEP 1000 /* events read per step of a checkpoint */

#define LAST_KEY "evck.last"
#define KEY_PREFIX "evck"

void cpm_evrange_init(cpm_evrange_t *r, uint64_t from)
{
    crypto_hash_sha256_init(&r->st);
    crypto_hash_sha256_update(&r->st, (const uint8_t *)CPM_EVRANGE_DOMAIN,
                              sizeof CPM_EVRANGE_DOMAIN); /* with its zero byte */
    r->from = r->next = from;
}

void cpm_evrange_add(cpm_evrange_t *r, const uint8_t hash[32])
{
    crypto_hash_sha256_update(&r->st, hash, 32);
    r->next++;
}

void cpm_evrange_final(cpm_evrange_t *r, uint8_t out[32])
{
    crypto_hash_sha256_final(&r->st, out);
}

int cpm_evcheck_seal(const cpm_evcheck_t *c, const cpm_identity_t *id, uint8_t **frame, size_t *len)
{
    Cpm__EventCheckpoint p = CPM__EVENT_CHECKPOINT__INIT;
    p.node = (char *)c->node;
    p.service = (char *)c->service;
    p.seq = c->seq;
    p.head_hash = (ProtobufCBinaryData){32, (uint8_t *)c->head_hash};
    p.at_ms = c->at_ms;
    p.range_from = c->range_from;
    p.range_digest = (ProtobufCBinaryData){32, (uint8_t *)c->range_digest};
    size_t plen = cpm__event_checkpoint__get_packed_size(&p);
    uint8_t *pl = malloc(plen ? plen : 1);
    if (!pl)
        return -1;
    cpm__event_checkpoint__pack(&p, pl);
    char instance[48], msg_id[33];
    snprintf(instance, sizeof instance, "%s.ckpt", c->service);
    /* The msg id is derived, so the same checkpoint always signs the same
     * bytes (Ed25519 is deterministic): vectors stay fixed. */
    cpm_hex_encode(c->head_hash, 16, msg_id);
    cpm_env_fields_t f = {.sender = id->id,
                          .sender_instance = instance,
                          .key_id = id->key_id,
                          .seq = c->seq,
                          .sent_ms = c->at_ms,
                          .type = CPM__MSG_TYPE__MSG_EVENT_CHECKPOINT,
                          .msg_id = msg_id,
                          .recipient = "*",
                          .payload = pl,
                          .payload_len = plen};
    int rc = cpm_envelope_seal(&f, id->sign_sk, frame, len);
    free(pl);
    return rc;
}

static bool slice_is(const cpm_slice_t *s, const char *str)
{
    return s->len == strlen(str) && memcmp(s->data, str, s->len) == 0;
}

/* The payload of a signature-checked envelope, against the envelope. */
static int decode(const cpm_envelope_view_t *v, cpm_evcheck_t *out, cpm_error_t *err)
{
    if (v->type != CPM__MSG_TYPE__MSG_EVENT_CHECKPOINT)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "type", "not an event checkpoint (type %llu)",
                             (unsigned long long)v->type);
    Cpm__EventCheckpoint *p = cpm__event_checkpoint__unpack(NULL, v->payload.len, v->payload.data);
    if (!p)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "payload",
                             "payload is not an EventCheckpoint");
    char instance[48];
    snprintf(instance, sizeof instance, "%s.ckpt", p->service);
    int rc = 0;
    if (p->head_hash.len != 32 || p->range_digest.len != 32)
        rc = cpm_error_set(err, CPM_E_BAD_MESSAGE, "head_hash", "hashes must be 32 bytes");
    else if (!slice_is(&v->sender, p->node) || !slice_is(&v->sender_instance, instance) ||
             v->seq != p->seq)
        rc = cpm_error_set(err, CPM_E_BAD_MESSAGE, "node",
                           "the envelope's sender, instance or seq differ from the checkpoint's");
    else if (p->seq == 0 || p->range_from == 0 || p->range_from > p->seq ||
             strlen(p->node) >= sizeof out->node || strlen(p->service) >= sizeof out->service)
        rc = cpm_error_set(err, CPM_E_BAD_MESSAGE, "seq", "seq or range_from out of range");
    if (rc == 0) {
        snprintf(out->node, sizeof out->node, "%s", p->node);
        snprintf(out->service, sizeof out->service, "%s", p->service);
        out->seq = p->seq;
        memcpy(out->head_hash, p->head_hash.data, 32);
        out->at_ms = p->at_ms;
        out->range_from = p->range_from;
        memcpy(out->range_digest, p->range_digest.data, 32);
    }
    cpm__event_checkpoint__free_unpacked(p, NULL);
    return rc;
}

int cpm_evcheck_open(const uint8_t *frame, size_t len, const uint8_t pk[32], cpm_evcheck_t *out,
                     cpm_error_t *err)
{
    cpm_slice_t env, sig;
    cpm_envelope_view_t v;
    if (cpm_envelope_parse_signed(frame, len, &env, &sig) != 0 ||
        cpm_envelope_parse_view(env.data, env.len, &v) != 0)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "checkpoint", "not a signed envelope");
    if (cpm_envelope_verify_sig(v.version, env.data, env.len, sig.data, sig.len, pk) != 0)
        return cpm_error_set(err, CPM_E_INVALID, "signature",
                             "the checkpoint's signature is wrong");
    return decode(&v, out, err);
}

int cpm_evcheck_verify(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                       const char *node, const char *service, cpm_evcheck_t *out, cpm_error_t *err)
{
    cpm_slice_t envb;
    cpm_envelope_view_t v;
    const Cpm__Member *m = NULL;
    cpm_member_key_t key;
    cpm_verdict_t vd = cpm_verify_signed_key(reg, frame, len, &envb, &v, &m, &key);
    if (vd != CPM_V_OK)
        return cpm_error_set(err, CPM_E_INVALID, "signature", "checkpoint refused: %s",
                             cpm_verdict_name(vd));
    int rc = decode(&v, out, err);
    if (rc != 0)
        return rc;
    if ((node && strcmp(node, out->node) != 0) || (service && strcmp(service, out->service) != 0))
        return cpm_error_set(err, CPM_E_INVALID, "node", "checkpoint of %s/%s, not of %s/%s",
                             out->node, out->service, node ? node : "*", service ? service : "*");
    return 0;
}

static void ckpt_key(uint8_t key[12], uint64_t seq)
{
    memcpy(key, KEY_PREFIX, 4);
    cpm_put_be64(key + 4, seq);
}

int cpm_evcheck_last(cpm_store_t *s, MDB_txn *txn, uint64_t *seq)
{
    return cpm_store_get_u64(s, txn, LAST_KEY, seq);
}

int cpm_evcheck_make(cpm_store_t *s, MDB_txn *txn, const cpm_identity_t *id, const char *service,
                     int64_t now_ms, bool *made, uint8_t **frame, size_t *len)
{
    *made = false;
    if (frame)
        *frame = NULL;
    cpm_evcheck_t c = {0};
    uint64_t last;
    int rc = cpm_evcheck_last(s, txn, &last);
    if (rc == 0)
        rc = cpm_eventlog_head(s, txn, &c.seq, c.head_hash);
    if (rc != 0 || c.seq == 0 || c.seq <= last)
        return rc;
    /* A long backlog (the first checkpoint after an upgrade) is signed in
     * steps, so one write transaction never reads more than this many events;
     * the server makes the next step at its next turn. */
    bool capped = c.seq - last > CPM_EVCHECK_RANGE_MAX;
    if (capped)
        c.seq = last + CPM_EVCHECK_RANGE_MAX;
    snprintf(c.node, sizeof c.node, "%s", id->id);
    snprintf(c.service, sizeof c.service, "%s", service);
    c.at_ms = now_ms;
    c.range_from = last + 1;
    /* The range's hashes, read in steps so that memory stays small. */
    cpm_evrange_t r;
    cpm_evrange_init(&r, c.range_from);
    /* Only the hashes: the stored events are not decoded. Their bytes are
     * the map's pages in this write transaction, good until its next write:
     * each step's are used before anything is written. */
    size_t step = c.seq - last < EVCHECK_STEP ? (size_t)(c.seq - last) : EVCHECK_STEP;
    cpm_event_raw_t *evs = malloc(step * sizeof *evs);
    if (!evs)
        return CPM_E_INTERNAL;
    while (r.next <= c.seq) {
        size_t n = 0, want = c.seq - r.next < step ? (size_t)(c.seq - r.next + 1) : step;
        if ((rc = cpm_eventlog_read_raw(s, txn, r.next, want, evs, &n)) != 0) {
            free(evs);
            return rc;
        }
        for (size_t i = 0; i < n && r.next <= c.seq; i++) {
            if (evs[i].seq != r.next || !evs[i].hash) {
                cpm_error("evcheck: event %llu missing or without hash (corrupt store?)",
                          (unsigned long long)r.next);
                free(evs);
                return CPM_E_INTERNAL;
            }
            cpm_evrange_add(&r, evs[i].hash);
            if (capped && r.next - 1 == c.seq) /* the step ends here: its head is this event */
                memcpy(c.head_hash, evs[i].hash, 32);
        }
        if (n == 0) {
            cpm_error("evcheck: the log ends before its head %llu", (unsigned long long)c.seq);
            free(evs);
            return CPM_E_INTERNAL;
        }
    }
    free(evs);
    cpm_evrange_final(&r, c.range_digest);
    uint8_t *f = NULL;
    size_t flen = 0;
    if (cpm_evcheck_seal(&c, id, &f, &flen) != 0)
        return CPM_E_INTERNAL;
    uint8_t key[12];
    ckpt_key(key, c.seq);
    rc = cpm_store_put(s, txn, CPM_DB_META, key, sizeof key, f, flen);
    if (rc == 0)
        rc = cpm_store_put_u64(s, txn, LAST_KEY, c.seq);
    if (rc != 0 || !frame) {
        free(f);
    } else {
        *frame = f;
        *len = flen;
    }
    *made = rc == 0;
    return rc;
}

/* Walk the kept checkpoints from seq `from` on (cursor at the first). */
static int walk(cpm_store_t *s, MDB_txn *txn, uint64_t from, uint8_t key[12], MDB_cursor **cur,
                MDB_val *k, MDB_val *v)
{
    int rc = mdb_cursor_open(txn, cpm_store_dbi(s, CPM_DB_META), cur);
    if (rc != 0) {
        *cur = NULL;
        return rc;
    }
    ckpt_key(key, from);
    *k = (MDB_val){12, key};
    return mdb_cursor_get(*cur, k, v, MDB_SET_RANGE);
}

static bool is_ckpt(const MDB_val *k)
{
    return k->mv_size == 12 && memcmp(k->mv_data, KEY_PREFIX, 4) == 0;
}

int cpm_evcheck_before(cpm_store_t *s, MDB_txn *txn, uint64_t below, uint64_t *seq)
{
    *seq = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t key[12];
    int rc = walk(s, txn, below, key, &cur, &k, &v);
    if (!cur)
        return cpm_store_err(rc);
    /* At the first key >= "evck" below (or past the end): step back one. */
    rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && is_ckpt(&k))
        *seq = cpm_get_be64((const uint8_t *)k.mv_data + 4);
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : cpm_store_err(rc);
}

int cpm_evcheck_list(cpm_store_t *s, MDB_txn *txn, uint64_t from, uint64_t to, size_t max,
                     ProtobufCBinaryData **frames, size_t *n)
{
    *frames = NULL;
    *n = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t key[12];
    int rc = walk(s, txn, from, key, &cur, &k, &v);
    if (!cur)
        return cpm_store_err(rc);
    for (; rc == 0 && is_ckpt(&k) && *n < max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (cpm_get_be64((const uint8_t *)k.mv_data + 4) > to)
            break;
        ProtobufCBinaryData *grown = realloc(*frames, (*n + 1) * sizeof *grown);
        uint8_t *copy = malloc(v.mv_size ? v.mv_size : 1);
        if (!grown || !copy) {
            free(copy);
            if (grown)
                *frames = grown;
            mdb_cursor_close(cur);
            cpm_evcheck_frames_free(frames, *n);
            *n = 0;
            return CPM_E_INTERNAL;
        }
        *frames = grown;
        memcpy(copy, v.mv_data, v.mv_size);
        (*frames)[(*n)++] = (ProtobufCBinaryData){v.mv_size, copy};
    }
    mdb_cursor_close(cur);
    return 0;
}

void cpm_evcheck_frames_free(ProtobufCBinaryData **frames, size_t n)
{
    if (!frames || !*frames)
        return;
    for (size_t i = 0; i < n; i++)
        free((*frames)[i].data);
    free(*frames);
    *frames = NULL;
}

static bool str_set(const char *x)
{
    return x && *x;
}

static bool eq(const char *want, const char *have)
{
    return !str_set(want) || strcmp(want, have ? have : "") == 0;
}

bool cpm_evcheck_filtered(const Cpm__EventsFetch *q)
{
    return str_set(q->kind_prefix) || str_set(q->agency) || str_set(q->area) ||
           str_set(q->category) || q->state != 0;
}

bool cpm_evcheck_match(const Cpm__EventsFetch *q, const Cpm__Event *ev)
{
    return (!str_set(q->kind_prefix) ||
            strncmp(ev->kind ? ev->kind : "", q->kind_prefix, strlen(q->kind_prefix)) == 0) &&
           eq(q->agency, ev->agency) && eq(q->area, ev->area) && eq(q->category, ev->category) &&
           (q->state == 0 || q->state == ev->state);
}
