/* cpm_eventlog: the hash-chained event log. See cpm_eventlog.h. */
#include "cpm_eventlog.h"
#include "cpm_case.h"

#include "cpm_err.h"
#include "cpm_eventlog_int.h"
#include "cpm_log.h"
#include "cpm_util.h"

#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_KEY "events.head"
#define HASH_KEY "events.hash"

/* SHA-256 of the chain with nettle, which uses the CPU's SHA instructions
 * where it has them: libsodium's portable SHA-256 made hashing most of a
 * verified replay's time (docs/protocol.md section 20). Same digest.
 *
 * The input is gathered in a buffer and handed to nettle a buffer at a time:
 * some twenty small updates per event (4-byte lengths, short strings) cost
 * more than the hashing itself. The digest is that of the same bytes. */
typedef struct {
    struct sha256_ctx st;
    size_t n;
    uint8_t buf[512];
} feed_t;

static void feed(feed_t *f, const void *data, size_t len)
{
    if (f->n + len > sizeof f->buf) {
        sha256_update(&f->st, f->n, f->buf);
        f->n = 0;
        if (len > sizeof f->buf) {
            sha256_update(&f->st, len, data);
            return;
        }
    }
    memcpy(f->buf + f->n, data, len);
    f->n += len;
}

static void feed_u32(feed_t *f, uint32_t v)
{
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    feed(f, be, sizeof be);
}

static void feed_u64(feed_t *f, uint64_t v)
{
    uint8_t be[8];
    cpm_put_be64(be, v);
    feed(f, be, sizeof be);
}

static void hash_str(feed_t *f, const char *str)
{
    size_t len = str ? strlen(str) : 0;
    feed_u32(f, (uint32_t)len);
    if (len)
        feed(f, str, len);
}

static bool set(const char *x)
{
    return x != NULL && x[0] != '\0';
}

bool cpm_event_has_record(const Cpm__Event *ev)
{
    return set(ev->business) || set(ev->address) || set(ev->violation) || ev->fine_vnd != 0 ||
           set(ev->tax_code) || set(ev->inspection) || set(ev->channel) || ev->outcome != 0;
}

void cpm_event_hash(const Cpm__Event *ev, const uint8_t prev[32], uint8_t out[32])
{
    feed_t f;
    sha256_init(&f.st);
    f.n = 0;
    feed(&f, prev, 32);
    feed_u64(&f, ev->seq);
    feed_u64(&f, (uint64_t)ev->at_ms);
    hash_str(&f, ev->kind);
    hash_str(&f, ev->ticket);
    hash_str(&f, ev->agency);
    hash_str(&f, ev->area);
    hash_str(&f, ev->category);
    feed_u32(&f, (uint32_t)ev->state);
    hash_str(&f, ev->rule);
    hash_str(&f, ev->actor);
    hash_str(&f, ev->note);
    if (cpm_event_has_record(ev)) {
        /* The record fields (14-20) only when one is set, so that every
         * event written before they existed keeps its hash. */
        feed(&f, "R1", 2);
        hash_str(&f, ev->business);
        hash_str(&f, ev->address);
        hash_str(&f, ev->violation);
        feed_u64(&f, (uint64_t)ev->fine_vnd);
        hash_str(&f, ev->tax_code);
        hash_str(&f, ev->inspection);
        hash_str(&f, ev->channel);
        feed_u32(&f, (uint32_t)ev->outcome);
    }
    if (set(ev->product) || set(ev->suggested) || ev->suggestion_pm != 0 || set(ev->category_by)) {
        /* Issue 12's fields (22-25), likewise only when one is set. */
        feed(&f, "R2", 2);
        hash_str(&f, ev->product);
        hash_str(&f, ev->suggested);
        feed_u32(&f, ev->suggestion_pm);
        hash_str(&f, ev->category_by);
    }
    sha256_update(&f.st, f.n, f.buf);
    sha256_digest(&f.st, 32, out);
}

int cpm_eventlog_head(cpm_store_t *s, MDB_txn *txn, uint64_t *seq, uint8_t hash[32])
{
    int rc = cpm_store_get_u64(s, txn, HEAD_KEY, seq);
    if (rc != 0 || hash == NULL)
        return rc;
    const void *val;
    size_t len;
    rc = cpm_store_get(s, txn, CPM_DB_META, HASH_KEY, sizeof HASH_KEY - 1, &val, &len);
    if (rc == CPM_E_NOT_FOUND && *seq == 0) {
        memset(hash, 0, 32);
        return 0;
    }
    if (rc == CPM_E_NOT_FOUND || (rc == 0 && len != 32)) {
        cpm_error("eventlog: head %llu has no 32-byte hash in meta (corrupt store?)",
                  (unsigned long long)*seq);
        return CPM_E_INTERNAL;
    }
    if (rc != 0)
        return rc;
    memcpy(hash, val, 32);
    return 0;
}

#define OR_EMPTY(x) ((char *)((x) ? (x) : ""))

int cpm_eventlog_append(cpm_store_t *s, MDB_txn *txn, int64_t at_ms, const cpm_event_t *e,
                        uint64_t *seq_out)
{
    uint64_t head;
    uint8_t prev[32], hash[32];
    int rc = cpm_eventlog_head(s, txn, &head, prev);
    if (rc != 0)
        return rc;
    Cpm__Event ev;
    cpm__event__init(&ev);
    ev.seq = head + 1;
    ev.at_ms = at_ms;
    ev.kind = OR_EMPTY(e->kind);
    ev.ticket = OR_EMPTY(e->ticket);
    ev.agency = OR_EMPTY(e->agency);
    ev.area = OR_EMPTY(e->area);
    ev.category = OR_EMPTY(e->category);
    ev.state = e->state;
    ev.rule = OR_EMPTY(e->rule);
    ev.actor = OR_EMPTY(e->actor);
    ev.note = OR_EMPTY(e->note);
    ev.business = OR_EMPTY(e->business);
    ev.address = OR_EMPTY(e->address);
    ev.violation = OR_EMPTY(e->violation);
    ev.fine_vnd = e->fine_vnd;
    ev.tax_code = OR_EMPTY(e->tax_code);
    ev.inspection = OR_EMPTY(e->inspection);
    ev.channel = OR_EMPTY(e->channel);
    ev.outcome = e->outcome;
    ev.product = OR_EMPTY(e->product);
    ev.suggested = OR_EMPTY(e->suggested);
    ev.suggestion_pm = e->suggestion_pm;
    ev.category_by = OR_EMPTY(e->category_by);
    cpm_event_hash(&ev, prev, hash);
    ev.prev_hash.len = 32;
    ev.prev_hash.data = prev;
    ev.hash.len = 32;
    ev.hash.data = hash;

    uint8_t key[8];
    cpm_put_be64(key, ev.seq);
    MDB_val k = {8, key};
    /* Seqs only grow, so the put appends (no search from the root); a key
     * at or below the last one (a log whose head fell behind its events) is
     * put the usual way, overwriting as before. */
    MDB_dbi dbi = cpm_store_dbi(s, CPM_DB_EVENTS);
    rc = cpm_store_mdb_put_msg(s, txn, dbi, &k, &ev.base, MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        rc = cpm_store_mdb_put_msg(s, txn, dbi, &k, &ev.base, 0);
    if (rc != 0) {
        if (rc != MDB_MAP_FULL)
            cpm_error("eventlog: append %llu: %s", (unsigned long long)ev.seq, mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    if ((rc = cpm_store_put_u64(s, txn, HEAD_KEY, ev.seq)) != 0 ||
        (rc = cpm_store_put(s, txn, CPM_DB_META, HASH_KEY, sizeof HASH_KEY - 1, hash, 32)) != 0)
        return rc;
    if (seq_out != NULL)
        *seq_out = ev.seq;
    return 0;
}

void cpm_eventlog_free(Cpm__Event ***events, size_t n)
{
    if (events == NULL || *events == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        cpm__event__free_unpacked((*events)[i], NULL);
    free(*events);
    *events = NULL;
}

typedef struct {
    Cpm__Event **events;
    size_t n, cap, max;
} decoded_t;

/* Decode one event the walk checked into the growing array. */
static int decode_into(void *ctx, const cpm_event_raw_t *e, size_t i)
{
    decoded_t *d = ctx;
    (void)i;
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : (d->max < 64 ? d->max : 64);
        Cpm__Event **grown = realloc(d->events, ncap * sizeof *grown);
        if (grown == NULL)
            return CPM_EVENTLOG_OOM;
        d->events = grown;
        d->cap = ncap;
    }
    Cpm__Event *ev = cpm__event__unpack(NULL, e->len, e->data);
    if (ev == NULL || ev->seq != e->seq) { /* the decoder judges; e->seq is the key's */
        cpm__event__free_unpacked(ev, NULL);
        return CPM_EVENTLOG_CORRUPT;
    }
    d->events[d->n++] = ev;
    return 0;
}

int cpm_eventlog_read(cpm_store_t *s, MDB_txn *txn, uint64_t from_seq, size_t max,
                      Cpm__Event ***events, size_t *n)
{
    *events = NULL;
    decoded_t d = {.max = max};
    int rc = cpm_eventlog_walk(s, txn, from_seq, max, false, decode_into, &d, n);
    if (rc != 0) {
        cpm_eventlog_free(&d.events, d.n);
        return rc;
    }
    *events = d.events;
    return 0;
}

static int hash_is(const ProtobufCBinaryData *b, const uint8_t want[32])
{
    return b->len == 32 && b->data != NULL && memcmp(b->data, want, 32) == 0;
}

int cpm_eventlog_verify_chain(Cpm__Event *const *events, size_t n, const uint8_t *prev)
{
    static const uint8_t zero[32];
    uint8_t h[32];
    if (n == 0)
        return 0;
    if (events == NULL || events[0] == NULL)
        return -1;
    if (prev == NULL) {
        if (events[0]->prev_hash.len != 32 || events[0]->prev_hash.data == NULL)
            return -1;
        prev = events[0]->prev_hash.data;
    }
    /* The first event of a log links to nothing. */
    if (events[0]->seq == 0 || (events[0]->seq == 1 && memcmp(prev, zero, 32) != 0))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const Cpm__Event *ev = events[i];
        if (ev == NULL || (i > 0 && ev->seq != events[i - 1]->seq + 1))
            return -1;
        if (!hash_is(&ev->prev_hash, prev))
            return -1;
        cpm_event_hash(ev, prev, h);
        if (!hash_is(&ev->hash, h))
            return -1;
        prev = ev->hash.data;
    }
    return 0;
}

const char *cpm_event_describe(const Cpm__Event *ev, char *buf, size_t n)
{
    const char *state = cpm_case_state_name(ev->state);
    char pm[16] = "";
    if (ev->suggestion_pm)
        snprintf(pm, sizeof pm, "%u", ev->suggestion_pm);
    const char *names[] = {"area",  "category",  "state",         "rule",
                           "actor", "suggested", "suggestion_pm", "category_by"};
    const char *vals[] = {ev->area,  ev->category,  state, ev->rule,
                          ev->actor, ev->suggested, pm,    ev->category_by};
    size_t at = 0;
    if (n == 0)
        return buf;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!vals[i] || !*vals[i] || at >= n)
            continue;
        int w = snprintf(buf + at, n - at, "%s%s=%s", at ? " " : "", names[i], vals[i]);
        at += w > 0 ? (size_t)w : 0;
    }
    if (ev->note && *ev->note && at < n)
        snprintf(buf + at, n - at, "%s%s", at ? " " : "", ev->note);
    return buf;
}
