#include "intake_domain.h"
#include "intake_consumer.h"
#include "cpm_outbox.h"
#include "cpm_stream.h"
#include "cpm_util.h"
#include "intake_contact.h"
#include "intake_lookup.h"
#include "intake_place.h"
#include "intake_place_gen.h"
#include "intake_triage.h"
#include "intake_validate.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct intake {
    const cpm_rules_t *rules;
    char node[128];
    char prefix[24];
    char routing[128];
    char stream[CPM_STREAM_MAX]; /* ours to routing's: built when routing is set */
    const cpm_registry_t *reg;
    const cpm_places_t *places;
    cpm_metrics_t *metrics;
    uint8_t ref_key[32];
    uint8_t consumer_secret[32]; /* keys Complaint.consumer_key */
    bool has_consumer_secret;
    intake_triage_t *triage;         /* borrowed; NULL: no suggestions */
    cpm_sealer_t *sealer;            /* owned: contacts sealed in format v2 */
    intake_route_memo_t *route_memo; /* owned: the agencies contacts are sealed to */
    bool legacy_refs;                /* "refs" holds keys of the sender-first form */
};

intake_t *intake_new(const cpm_rules_t *rules, const char *node, const char *ticket_prefix,
                     const char *routing_member)
{
    if (!rules || !node || !ticket_prefix || !*ticket_prefix)
        return NULL;
    intake_t *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->rules = rules;
    if (!(in->sealer = cpm_sealer_new()) || !(in->route_memo = intake_route_memo_new())) {
        cpm_sealer_destroy(&in->sealer);
        free(in);
        return NULL;
    }
    snprintf(in->node, sizeof in->node, "%s", node);
    snprintf(in->prefix, sizeof in->prefix, "%s", ticket_prefix);
    intake_set_routing(in, routing_member);
    return in;
}

void intake_destroy(intake_t **p)
{
    if (!p || !*p)
        return;
    sodium_memzero((*p)->ref_key, sizeof(*p)->ref_key);
    sodium_memzero((*p)->consumer_secret, sizeof(*p)->consumer_secret);
    /* This thread's keyed copies (the lookup code's HMAC, the consumer
     * key's BLAKE2b): other threads' go when those threads end. */
    intake_lookup_forget();
    intake_consumer_forget();
    cpm_sealer_destroy(&(*p)->sealer);
    intake_route_memo_destroy(&(*p)->route_memo);
    free(*p);
    *p = NULL;
}

void intake_sweep_keys(intake_t *in, int64_t now_ms)
{
    cpm_sealer_sweep(in->sealer, now_ms);
}

void intake_set_routing(intake_t *in, const char *routing_member)
{
    snprintf(in->routing, sizeof in->routing, "%s", routing_member ? routing_member : "");
    if (!*in->routing ||
        cpm_stream_build(in->stream, sizeof in->stream, in->node, "intake", in->routing, "routing"))
        in->stream[0] = 0; /* no routing: nothing is queued, so nothing is tracked */
}

void intake_set_registry(intake_t *in, const cpm_registry_t *reg)
{
    in->reg = reg;
}

void intake_set_places(intake_t *in, const cpm_places_t *places, cpm_metrics_t *metrics)
{
    in->places = places;
    in->metrics = metrics;
}

/* "place.<method>": how complaints were placed, refusals (unknown) too. */
static void count_place(intake_t *in, cpm_place_method_t m)
{
    char name[32];
    snprintf(name, sizeof name, "place.%s", cpm_place_method_name(m));
    if (in->metrics)
        cpm_metrics_add(in->metrics, name, 1);
}

void intake_set_ref_key(intake_t *in, const uint8_t key[32])
{
    memcpy(in->ref_key, key, sizeof in->ref_key);
}

void intake_set_consumer_secret(intake_t *in, const uint8_t secret[32])
{
    memcpy(in->consumer_secret, secret, sizeof in->consumer_secret);
    in->has_consumer_secret = true;
}

void intake_set_triage(intake_t *in, intake_triage_t *triage)
{
    in->triage = triage;
}

/* Set c->consumer_key from the clear contact (before it is sealed); a key a
 * client sent is never kept. 0 or CPM_E_INTERNAL. */
static int set_consumer_key(const intake_t *in, Cpm__Complaint *c)
{
    free(c->consumer_key.data);
    c->consumer_key.data = NULL;
    c->consumer_key.len = 0;
    uint8_t k[INTAKE_CONSUMER_KEY_LEN];
    if (!in->has_consumer_secret ||
        !intake_consumer_key(in->consumer_secret, c->consumer_phone, c->consumer_email, k))
        return 0;
    if (!(c->consumer_key.data = malloc(sizeof k)))
        return CPM_E_INTERNAL;
    memcpy(c->consumer_key.data, k, sizeof k);
    c->consumer_key.len = sizeof k;
    return 0;
}

/* What a client reference stands for: a keyed BLAKE2b over the fields the
 * client set, each length-prefixed, so that a resubmission matches and a
 * different request under the same reference does not. Keyed, because the
 * fields include the consumer's contact, which the store must not let anyone
 * confirm by guessing. */
/* BLAKE2b's input gathered in blocks of 512 bytes (every complaint fills
 * a few, so this one path is what the pinned digest's test runs). */
typedef struct {
    crypto_generichash_state st;
    uint8_t buf[512];
    size_t used;
} digest_buf_t;

static void digest_put(digest_buf_t *d, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        size_t k = sizeof d->buf - d->used < n ? sizeof d->buf - d->used : n;
        memcpy(d->buf + d->used, p, k);
        d->used += k;
        p += k;
        n -= k;
        if (d->used == sizeof d->buf) {
            crypto_generichash_update(&d->st, d->buf, d->used);
            d->used = 0;
        }
    }
}

static void digest_fields(const uint8_t key[32], const char *const *fields, size_t n, int64_t a,
                          int64_t b, uint8_t out[32])
{
    /* The same bytes as one update per piece, gathered into blocks: the
     * pieces (22 for a complaint) cost more than the hashing. */
    digest_buf_t d = {.used = 0};
    crypto_generichash_init(&d.st, key, 32, 32);
    for (size_t i = 0; i < n; i++) {
        const char *f = fields[i] ? fields[i] : "";
        size_t len = strlen(f);
        uint8_t lenb[8];
        cpm_put_be64(lenb, len);
        digest_put(&d, lenb, 8);
        digest_put(&d, f, len);
    }
    uint8_t tail[16];
    cpm_put_be64(tail, (uint64_t)a);
    cpm_put_be64(tail + 8, (uint64_t)b);
    digest_put(&d, tail, sizeof tail);
    crypto_generichash_update(&d.st, d.buf, d.used);
    crypto_generichash_final(&d.st, out, 32);
}

/* A reference's key in "refs": kind 'C' (complaints) or 'K' (consultations),
 * then the reference, then the sender: "C\x1f<client_ref>\x1f<sender>". The
 * reference first, so that references made in time order
 * (cpm_time_ordered_id: cpmctl, the gateway's form) by many senders meet at
 * one end of the index, whose few pages a group of complaints then shares.
 * Sender first (kind 'c' or 'k', the form before 2026-12-01), each sender's
 * references made a run of their own, and a group from N senders changed N
 * leaves and their branches: at 10 million complaints most of what a group
 * wrote. Either form reads one way: a client_ref holds no 0x1f
 * (intake_validate: [A-Za-z0-9._:-]), so the new form splits at its second
 * 0x1f and the old at its last, whatever the sender's id holds. false when
 * the key does not fit (a sender's id of some 190 bytes): the reference is
 * then refused, never cut short. */
bool intake_ref_key(char *out, size_t cap, char kind, const char *sender, const char *client_ref)
{
    bool ref_first = kind == 'C' || kind == 'K';
    const char *a = ref_first ? client_ref : sender, *b = ref_first ? sender : client_ref;
    size_t la = strlen(a), lb = strlen(b);
    if (4 + la + lb > cap) /* cut short, two senders could share a key */
        return false;
    out[0] = kind;
    out[1] = '\x1f';
    memcpy(out + 2, a, la);
    out[2 + la] = '\x1f';
    memcpy(out + 3 + la, b, lb + 1);
    return true;
}

bool intake_refs_scan(intake_t *in, cpm_store_t *st, MDB_txn *txn)
{
    MDB_cursor *cur = NULL;
    in->legacy_refs = false;
    if (!txn || mdb_cursor_open(txn, cpm_store_dbi(st, INTAKE_REFS_DB), &cur) != 0) {
        in->legacy_refs = true; /* unknown: look in both forms */
        return true;
    }
    static const char *const old[] = {"c\x1f", "k\x1f"};
    for (size_t i = 0; i < 2 && !in->legacy_refs; i++) {
        MDB_val k = {2, (void *)old[i]}, v;
        int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == 0 ? k.mv_size >= 2 && memcmp(k.mv_data, old[i], 2) == 0 : rc != MDB_NOTFOUND)
            in->legacy_refs = true;
    }
    mdb_cursor_close(cur);
    return in->legacy_refs;
}

/* "refs" values: the id, a zero byte, the 32-byte digest. 0 with *duplicate
 * set and id filled when the reference is known with the same digest;
 * CPM_E_NOT_FOUND when new; CPM_E_CONFLICT (err filled) when it stands for
 * another request. kind: 'C' or 'K'; in a store from before (legacy_refs)
 * the sender-first form is looked up too. key: the new form's, for ref_store. */
static int ref_lookup(intake_t *in, cpm_store_t *st, MDB_txn *txn, char kind, const char *sender,
                      const char *client_ref, const uint8_t digest[32], char key[256],
                      char id[INTAKE_TICKET_MAX], bool *duplicate, cpm_error_t *err)
{
    const void *v;
    size_t vlen;
    /* the old form has the same parts, so it fits when this one does: made
     * only for a store that has such keys (not on every complaint) */
    if (!intake_ref_key(key, 256, kind, sender, client_ref))
        return cpm_error_set(err, CPM_E_INVALID, "client_ref",
                             "client_ref %s of %s makes a reference key over 255 bytes", client_ref,
                             sender);
    int rc = cpm_store_get(st, txn, INTAKE_REFS_DB, key, strlen(key), &v, &vlen);
    char old[256];
    if (rc == CPM_E_NOT_FOUND && in->legacy_refs &&
        intake_ref_key(old, sizeof old, (char)(kind + ('a' - 'A')), sender, client_ref))
        rc = cpm_store_get(st, txn, INTAKE_REFS_DB, old, strlen(old), &v, &vlen);
    if (rc != 0)
        return rc;
    size_t idlen = strnlen(v, vlen);
    snprintf(id, INTAKE_TICKET_MAX, "%.*s", (int)idlen, (const char *)v);
    if (vlen != idlen + 1 + 32 || memcmp((const uint8_t *)v + idlen + 1, digest, 32) != 0)
        return cpm_error_set(err, CPM_E_CONFLICT, "client_ref",
                             "client_ref %s was already used for a different request (%s)",
                             client_ref, id);
    *duplicate = true;
    return 0;
}

static int ref_store(cpm_store_t *st, MDB_txn *txn, const char *key, const char *id,
                     const uint8_t digest[32])
{
    uint8_t val[INTAKE_TICKET_MAX + 1 + 32];
    size_t idlen = strlen(id);
    memcpy(val, id, idlen + 1);
    memcpy(val + idlen + 1, digest, 32);
    return cpm_store_put(st, txn, INTAKE_REFS_DB, key, strlen(key), val, idlen + 1 + 32);
}

static int next_id(intake_t *in, cpm_store_t *st, MDB_txn *txn, const char *counter,
                   const char *infix, char id[INTAKE_TICKET_MAX])
{
    uint64_t n;
    int rc = cpm_store_get_u64(st, txn, counter, &n);
    if (rc == 0)
        rc = cpm_store_put_u64(st, txn, counter, n + 1);
    if (rc == 0) { /* "%s-%s%08llu" of prefix, infix and n + 1, without snprintf */
        char pre[INTAKE_TICKET_MAX];
        size_t k = cpm_str_copy(pre, sizeof pre, in->prefix);
        if (k + 1 < sizeof pre) {
            pre[k] = '-';
            cpm_str_copy(pre + k + 1, sizeof pre - k - 1, infix);
        }
        cpm_str_num(id, INTAKE_TICKET_MAX, pre, n + 1, 8);
    }
    return rc;
}

/* The record just queued for routing holds a sealed contact: note its
 * number (the outbox's newest) for intake_contact_sweep. The stream name is
 * built once per routing member, the number read in one lookup. */
static int track_contact(intake_t *in, cpm_store_t *st, MDB_txn *txn, const char *ticket)
{
    uint64_t last = 0;
    if (!*in->stream)
        return CPM_E_INVALID;
    int rc = cpm_outbox_last(st, txn, in->stream, &last);
    return rc ? rc : intake_contact_track(st, txn, in->stream, last, ticket);
}

void intake_received_event(const Cpm__Complaint *c, cpm_place_method_t method,
                           char note[INTAKE_NOTE_MAX], cpm_event_t *ev)
{
    snprintf(note, INTAKE_NOTE_MAX, "channel=%s%s place=%s", c->channel, c->urgent ? " urgent" : "",
             cpm_place_method_name(method));
    *ev = (cpm_event_t){.kind = "complaint.received",
                        .ticket = c->ticket,
                        .area = c->area,
                        .category = c->category,
                        .state = CPM__CASE_STATE__CASE_STATE_RECEIVED,
                        .actor = c->intake_node,
                        .note = note,
                        .channel = c->channel,
                        .business = c->business_name,
                        .address = c->business_address,
                        .product = c->product,
                        .suggested = c->category_suggested,
                        .suggestion_pm = c->suggestion_pm,
                        .category_by = c->category_by};
}

/* The complaint c (ticket set), packed as cbuf: stored, its reference and
 * its event written, and sent to routing. */
static int store_and_send(intake_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                          const Cpm__Complaint *c, const uint8_t *cbuf, size_t clen,
                          const char *refkey, const uint8_t digest[32],
                          const cpm_placement_t *place)
{
    int rc = cpm_store_put(st, txn, INTAKE_COMPLAINTS_DB, c->ticket, strlen(c->ticket), cbuf, clen);
    if (rc != 0)
        return rc;
    if (*refkey && (rc = ref_store(st, txn, refkey, c->ticket, digest)) != 0)
        return rc;
    char note[INTAKE_NOTE_MAX];
    cpm_event_t ev;
    intake_received_event(c, place->method, note, &ev);
    if ((rc = fx->event(fx->ctx, txn, &ev)) != 0)
        return rc;
    /* The complaint's bytes stay as stored until routing has acknowledged it
     * (its contact is stripped only after: intake_contact_sweep), so the
     * outbox may refer to them. */
    if (fx->send_stored)
        return fx->send_stored(fx->ctx, txn, in->routing, "routing", INTAKE_COMPLAINTS_DB,
                               c->ticket, strlen(c->ticket), clen);
    return fx->send_packed
               ? fx->send_packed(fx->ctx, txn, in->routing, "routing", &c->base, cbuf, clen)
               : fx->send(fx->ctx, txn, in->routing, "routing", &c->base);
}

int intake_submit(intake_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                  const char *sender, Cpm__Complaint *c, int64_t now_ms,
                  char ticket[INTAKE_TICKET_MAX], bool *duplicate, cpm_error_t *err)
{
    int rc = intake_validate_complaint(c, in->rules, now_ms, err);
    if (rc != 0)
        return rc;
    cpm_placement_t place;
    rc = intake_place_resolve(in->places, c, &place, err);
    if (rc == 0) /* in the units of the generation in force (a mesh still on 2024) */
        intake_place_generation(in->places, cpm_rules_generation_at(in->rules, now_ms), c, &place);
    count_place(in, place.method);
    if (rc != 0)
        return rc;
    *duplicate = false;
    char refkey[256] = "";
    uint8_t digest[32];
    /* Over what the client sent: location and point only when given, so
     * that a reference of a client before placement keeps its digest. */
    char point[64] = ""; /* formatted only when there is one (a printf of doubles) */
    if (c->has_point)
        snprintf(point, sizeof point, "%.9g,%.9g", c->lat, c->lon);
    bool where = (c->location && *c->location) || c->has_point;
    const char *fields[] = {c->channel,
                            c->consumer_name,
                            c->consumer_phone,
                            c->consumer_email,
                            c->business_name,
                            c->business_address,
                            c->area,
                            c->category,
                            c->description,
                            c->location,
                            c->has_point ? point : ""};
    digest_fields(in->ref_key, fields, sizeof fields / sizeof *fields - (where ? 0 : 2),
                  c->event_time_ms, c->urgent, digest);
    if (c->client_ref && *c->client_ref) {
        rc = ref_lookup(in, st, txn, 'C', sender, c->client_ref, digest, refkey, ticket, duplicate,
                        err);
        if (rc != CPM_E_NOT_FOUND)
            return rc;
    }
    if (!*in->routing)
        return cpm_error_set(err, CPM_E_UNAVAILABLE, "", "no routing service in the registry");
    /* Before the contact is sealed: the category the model sets routes it. */
    if ((rc = intake_triage_apply(in->triage, in->rules, c, err)) != 0)
        return rc;
    if ((rc = next_id(in, st, txn, "intake.ticket", "", ticket)) != 0)
        return rc;
    /* Only strings we own go into c: the caller frees c with the unpacker,
     * which frees these fields, so give it heap copies. */
    free(c->ticket != protobuf_c_empty_string ? c->ticket : NULL);
    free(c->intake_node != protobuf_c_empty_string ? c->intake_node : NULL);
    c->ticket = strdup(ticket);
    c->intake_node = strdup(in->node);
    if (!c->ticket || !c->intake_node)
        return CPM_E_INTERNAL;
    c->received_ms = now_ms;
    if ((rc = intake_place_apply(&place, c)) != 0)
        return rc;
    char code[CPM_TEXT_CODE_LEN + 1]; /* travels to routing: the public view asks for it */
    free(c->lookup_code != protobuf_c_empty_string ? c->lookup_code : NULL);
    c->lookup_code = NULL;
    if ((rc = intake_lookup_code(st, txn, ticket, code)) != 0 || !(c->lookup_code = strdup(code)))
        return rc ? rc : CPM_E_INTERNAL;
    /* From here on the contact exists only sealed: nothing clear is stored. */
    if ((rc = set_consumer_key(in, c)) != 0 ||
        (rc = intake_contact_seal(in->rules, in->reg, in->sealer, in->route_memo, c, err)) != 0)
        return rc;
    /* Packed once: the stored complaint is the record routing gets. */
    size_t clen = cpm__complaint__get_packed_size(c);
    uint8_t stackbuf[4096], *cbuf = clen <= sizeof stackbuf ? stackbuf : malloc(clen);
    if (!cbuf)
        return CPM_E_INTERNAL;
    cpm__complaint__pack(c, cbuf);
    rc = store_and_send(in, st, txn, fx, c, cbuf, clen, refkey, digest, &place);
    if (cbuf != stackbuf)
        free(cbuf);
    if (rc != 0)
        return rc;
    return c->sealed_contact.len ? track_contact(in, st, txn, ticket) : 0;
}

int intake_consult(intake_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                   const char *sender, Cpm__Consultation *c, int64_t now_ms,
                   char id[INTAKE_TICKET_MAX], bool *duplicate, cpm_error_t *err)
{
    int rc = intake_validate_consultation(c, in->rules, err);
    if (rc != 0)
        return rc;
    *duplicate = false;
    char refkey[256] = "";
    uint8_t digest[32];
    const char *fields[] = {c->channel, c->category, c->summary};
    digest_fields(in->ref_key, fields, sizeof fields / sizeof *fields, c->duration_s, 0, digest);
    if (c->client_ref && *c->client_ref) {
        rc =
            ref_lookup(in, st, txn, 'K', sender, c->client_ref, digest, refkey, id, duplicate, err);
        if (rc != CPM_E_NOT_FOUND)
            return rc;
    }
    if ((rc = next_id(in, st, txn, "intake.consultation", "C", id)) != 0)
        return rc;
    free(c->id != protobuf_c_empty_string ? c->id : NULL);
    free(c->operator_ != protobuf_c_empty_string ? c->operator_ : NULL);
    c->id = strdup(id);
    c->operator_ = strdup(sender);
    if (!c->id || !c->operator_)
        return CPM_E_INTERNAL;
    c->received_ms = now_ms;
    if ((rc = cpm_store_put_msg(st, txn, INTAKE_CONSULTATIONS_DB, id, &c->base)) != 0)
        return rc;
    if (*refkey && (rc = ref_store(st, txn, refkey, id, digest)) != 0)
        return rc;
    char note[96];
    snprintf(note, sizeof note, "channel=%s duration_s=%u", c->channel, c->duration_s);
    cpm_event_t ev = {.kind = "consultation.recorded",
                      .ticket = id,
                      .category = c->category,
                      .actor = c->operator_,
                      .note = note,
                      .channel = c->channel};
    return fx->event(fx->ctx, txn, &ev);
}

Cpm__Complaint *intake_complaint(cpm_store_t *st, MDB_txn *txn, const char *ticket)
{
    ProtobufCMessage *m;
    if (cpm_store_get_msg(st, txn, INTAKE_COMPLAINTS_DB, ticket, &cpm__complaint__descriptor, &m) !=
        0)
        return NULL;
    return (Cpm__Complaint *)m;
}
