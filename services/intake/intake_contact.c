/* intake_contact: sealing and retention of consumers' contacts. See
 * intake_contact.h and intake_domain.h. */
#include "intake_contact.h"
#include "intake_domain.h"

#include "cpm_outbox.h"
#include "cpm_seal.h"
#include "cpm_util.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_MAX 400

/* Wipe and free a string the unpacker allocated; leave the shared "". */
static void wipe_field(char **s)
{
    if (*s && *s != protobuf_c_empty_string) {
        sodium_memzero(*s, strlen(*s));
        free(*s);
    }
    *s = (char *)protobuf_c_empty_string;
}

#define MEMO_SLOTS 64

typedef struct {
    bool used, urgent;
    char category[48], area[64]; /* longer ones are not remembered */
    cpm_route_t route;
} memo_slot_t;

struct intake_route_memo {
    const cpm_rules_t *rules; /* the slots hold the decisions of these */
    uint32_t rules_version;
    const cpm_registry_t *reg;
    uint64_t reg_version;
    const char *generation;
    memo_slot_t slot[MEMO_SLOTS];
};

intake_route_memo_t *intake_route_memo_new(void)
{
    return calloc(1, sizeof(intake_route_memo_t));
}

void intake_route_memo_destroy(intake_route_memo_t **p)
{
    if (p) {
        free(*p);
        *p = NULL;
    }
}

/* cpm_rules_route_q of (category, area, urgent) at at_ms (0: now), through memo. */
static void route_of(intake_route_memo_t *memo, const cpm_rules_t *rules, const cpm_registry_t *reg,
                     const char *category, const char *area, bool urgent, int64_t at_ms,
                     cpm_route_t *out)
{
    int64_t now = at_ms ? at_ms : cpm_now_ms();
    cpm_route_query_t q = {NULL, now, category, area, urgent, NULL, 0};
    category = category ? category : "";
    area = area ? area : "";
    size_t lc = strlen(category), la = strlen(area);
    if (!memo || lc >= sizeof memo->slot[0].category || la >= sizeof memo->slot[0].area) {
        cpm_rules_route_q(rules, reg, &q, out);
        return;
    }
    const char *gen = cpm_rules_generation_at(rules, now);
    uint64_t rv = reg ? cpm_registry_version(reg) : 0;
    if (memo->rules != rules || memo->rules_version != cpm_rules_version(rules) ||
        memo->reg != reg || memo->reg_version != rv || memo->generation != gen) {
        memset(memo->slot, 0, sizeof memo->slot); /* another configuration: forget */
        memo->rules = rules;
        memo->rules_version = cpm_rules_version(rules);
        memo->reg = reg;
        memo->reg_version = rv;
        memo->generation = gen;
    }
    uint32_t h = 2166136261u; /* FNV-1a of both and the flag */
    for (const char *t = category; *t; t++)
        h = (h ^ (uint8_t)*t) * 16777619u;
    h = (h ^ 0x1f) * 16777619u;
    for (const char *t = area; *t; t++)
        h = (h ^ (uint8_t)*t) * 16777619u;
    h = (h ^ (urgent ? 1u : 2u)) * 16777619u;
    memo_slot_t *m = &memo->slot[h % MEMO_SLOTS];
    if (m->used && m->urgent == urgent && strcmp(m->category, category) == 0 &&
        strcmp(m->area, area) == 0) {
        *out = m->route;
        return;
    }
    cpm_rules_route_q(rules, reg, &q, out);
    m->used = true;
    m->urgent = urgent;
    memcpy(m->category, category, lc + 1);
    memcpy(m->area, area, la + 1);
    m->route = *out;
}

int intake_contact_seal(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_sealer_t *sealer,
                        intake_route_memo_t *memo, Cpm__Complaint *c, cpm_error_t *err)
{
    /* Only intake seals: a client may not bring its own sealed bytes. */
    if (c->sealed_contact.len)
        return cpm_error_set(err, CPM_E_INVALID, "sealed_contact",
                             "sealed_contact is set by intake; send the contact in clear");
    if (c->contact_for && *c->contact_for)
        return cpm_error_set(err, CPM_E_INVALID, "contact_for",
                             "contact_for is set by intake; leave it empty");
    Cpm__ContactCard card = CPM__CONTACT_CARD__INIT;
    card.ticket = c->ticket;
    card.name = c->consumer_name;
    card.phone = c->consumer_phone;
    card.email = c->consumer_email;
    if (cpm_seal_card_empty(&card))
        return 0;
    /* The same decision routing will take, so that the agency that gets the
     * case can open the contact; routing counts any disagreement. */
    cpm_route_t route;
    route_of(memo, rules, reg, c->category, c->area, c->urgent, c->received_ms, &route);
    const Cpm__Member *m = reg ? cpm_registry_member(reg, route.agency) : NULL;
    if (!m || m->curve_pk.len != 32)
        return cpm_error_set(err, CPM_E_UNAVAILABLE, "consumer_name",
                             "no transport key of %s in the registry to seal the consumer's "
                             "contact to; nothing was recorded",
                             route.agency);
    uint8_t *sealed = NULL;
    size_t len = 0;
    /* A sealer (the service's) shares an ephemeral key over a few seals: two
     * X25519 operations per contact were most of intake's CPU (cpm_seal.h). */
    int rc = sealer ? cpm_sealer_seal(sealer, &card, m->curve_pk.data, cpm_mono_ms(), &sealed, &len)
                    : cpm_seal_contact(&card, m->curve_pk.data, &sealed, &len);
    if (rc != 0)
        return cpm_error_set(err, rc, "consumer_name", "cannot seal the consumer's contact to %s",
                             route.agency);
    char *who = strdup(route.agency);
    if (!who) {
        free(sealed);
        return CPM_E_INTERNAL;
    }
    free(c->sealed_contact.data);
    if (c->contact_for && c->contact_for != protobuf_c_empty_string)
        free(c->contact_for);
    c->sealed_contact.data = sealed;
    c->sealed_contact.len = len;
    c->contact_for = who;
    wipe_field(&c->consumer_name);
    wipe_field(&c->consumer_phone);
    wipe_field(&c->consumer_email);
    return 0;
}

/* "p\x1f<stream>\0<seq BE>" */
static size_t pending_key(uint8_t *k, const char *stream, uint64_t seq)
{
    size_t sl = strlen(stream);
    k[0] = 'p';
    k[1] = 0x1f;
    memcpy(k + 2, stream, sl + 1);
    cpm_put_be64(k + 3 + sl, seq);
    return sl + 11;
}

int intake_contact_track(cpm_store_t *st, MDB_txn *txn, const char *stream, uint64_t seq,
                         const char *ticket)
{
    if (strlen(stream) > STREAM_MAX)
        return CPM_E_INVALID;
    uint8_t k[STREAM_MAX + 16];
    size_t kl = pending_key(k, stream, seq);
    return cpm_store_put(st, txn, INTAKE_CONTACTS_DB, k, kl, ticket, strlen(ticket));
}

/* Keys collected by a read pass, changed after the cursor is closed (LMDB
 * cursors and puts on the same database do not mix well). */
typedef struct {
    uint8_t key[STREAM_MAX + 16];
    size_t klen;
    char ticket[INTAKE_TICKET_MAX];
} entry_t;

/* Pending entries whose record routing has acknowledged, at most max. Keys
 * sort by stream, then seq: within a stream the first entry not yet
 * acknowledged ends that stream, and the cursor jumps to the next. */
static int collect_acked(cpm_store_t *st, MDB_txn *txn, entry_t *out, size_t max, size_t *n)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, INTAKE_CONTACTS_DB), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    uint8_t seek[STREAM_MAX + 3] = {'p', 0x1f};
    MDB_val k = {2, seek}, v;
    char stream[STREAM_MAX + 1] = "";
    uint64_t acked = 0;
    int code = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && *n < max) {
        const uint8_t *kp = k.mv_data;
        if (k.mv_size < 11 || kp[0] != 'p' || kp[1] != 0x1f)
            break; /* past the pending entries */
        size_t sl = k.mv_size - 11;
        if (sl > STREAM_MAX || kp[2 + sl] != 0) {
            code = CPM_E_INTERNAL;
            break;
        }
        if (strlen(stream) != sl || memcmp(stream, kp + 2, sl) != 0) {
            memcpy(stream, kp + 2, sl);
            stream[sl] = 0;
            if ((code = cpm_outbox_acked(st, txn, stream, &acked)) != 0)
                break;
        }
        if (cpm_get_be64(kp + 3 + sl) > acked) { /* seek "p\x1f<stream>\x01" */
            memcpy(seek, kp, 2 + sl);
            seek[2 + sl] = 1;
            k.mv_data = seek;
            k.mv_size = 3 + sl;
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            continue;
        }
        entry_t *e = &out[(*n)++];
        memcpy(e->key, kp, k.mv_size);
        e->klen = k.mv_size;
        snprintf(e->ticket, sizeof e->ticket, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (code == 0 && rc != 0 && rc != MDB_NOTFOUND)
        code = cpm_store_err(rc);
    return code;
}

/* Due entries ("d<due BE>\x1f<ticket>") with due <= now_ms, at most max. */
static int collect_due(cpm_store_t *st, MDB_txn *txn, int64_t now_ms, entry_t *out, size_t max,
                       size_t *n)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, INTAKE_CONTACTS_DB), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    MDB_val k = {1, (void *)"d"}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && *n < max) {
        const uint8_t *kp = k.mv_data;
        if (k.mv_size < 10 || kp[0] != 'd' || k.mv_size - 10 >= INTAKE_TICKET_MAX ||
            (int64_t)cpm_get_be64(kp + 1) > now_ms)
            break;
        entry_t *e = &out[(*n)++];
        memcpy(e->key, kp, k.mv_size);
        e->klen = k.mv_size;
        snprintf(e->ticket, sizeof e->ticket, "%.*s", (int)(k.mv_size - 10), (const char *)kp + 10);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : cpm_store_err(rc);
}

/* Rewrite the complaint without its sealed contact (contact_for stays: it
 * tells that there was one). A complaint gone is not an error. */
static int strip(cpm_store_t *st, MDB_txn *txn, const char *ticket)
{
    Cpm__Complaint *c = intake_complaint(st, txn, ticket);
    if (!c)
        return 0;
    free(c->sealed_contact.data);
    c->sealed_contact.data = NULL;
    c->sealed_contact.len = 0;
    int rc = cpm_store_put_msg(st, txn, INTAKE_COMPLAINTS_DB, ticket, &c->base);
    cpm__complaint__free_unpacked(c, NULL);
    return rc;
}

#define SWEEP_BATCH 256

int intake_contact_sweep(intake_t *in, cpm_store_t *st, MDB_txn *txn, int64_t now_ms,
                         int64_t retention_ms, size_t max, size_t *stripped)
{
    (void)in;
    *stripped = 0;
    entry_t *es = malloc(SWEEP_BATCH * sizeof *es);
    if (!es)
        return CPM_E_INTERNAL;
    int rc = 0;
    size_t budget = max;
    while (rc == 0 && budget > 0) { /* acknowledged: start the retention clock */
        size_t n = 0, want = budget < SWEEP_BATCH ? budget : SWEEP_BATCH;
        if ((rc = collect_acked(st, txn, es, want, &n)) != 0 || n == 0)
            break;
        for (size_t i = 0; i < n && rc == 0; i++) {
            uint8_t dk[9 + INTAKE_TICKET_MAX];
            size_t tl = strlen(es[i].ticket);
            dk[0] = 'd';
            cpm_put_be64(dk + 1, (uint64_t)(now_ms + retention_ms));
            dk[9] = 0x1f;
            memcpy(dk + 10, es[i].ticket, tl);
            rc = cpm_store_del(st, txn, INTAKE_CONTACTS_DB, es[i].key, es[i].klen);
            if (rc == 0)
                rc = cpm_store_put(st, txn, INTAKE_CONTACTS_DB, dk, 10 + tl, "", 0);
        }
        budget -= n;
    }
    while (rc == 0 && budget > 0) { /* retention over: strip */
        size_t n = 0, want = budget < SWEEP_BATCH ? budget : SWEEP_BATCH;
        if ((rc = collect_due(st, txn, now_ms, es, want, &n)) != 0 || n == 0)
            break;
        for (size_t i = 0; i < n && rc == 0; i++) {
            rc = strip(st, txn, es[i].ticket);
            if (rc == 0)
                rc = cpm_store_del(st, txn, INTAKE_CONTACTS_DB, es[i].key, es[i].klen);
            if (rc == 0)
                (*stripped)++;
        }
        budget -= n;
    }
    free(es);
    return rc;
}
