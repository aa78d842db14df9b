/* cpm_eventlog: the hash-chained event log. See cpm_eventlog.h. */
#include "cpm_eventlog.h"
#include "cpm_case.h"

#include "cpm_err.h"
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
 * verified replay's time (docs/protocol.md section 20). Same digest. */
static void hash_str(struct sha256_ctx *st, const char *str)
{
    size_t len = str ? strlen(str) : 0;
    uint8_t be[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    sha256_update(st, sizeof be, be);
    if (len)
        sha256_update(st, len, (const uint8_t *)str);
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
    struct sha256_ctx st;
    uint8_t num[8];
    sha256_init(&st);
    sha256_update(&st, 32, prev);
    cpm_put_be64(num, ev->seq);
    sha256_update(&st, 8, num);
    cpm_put_be64(num, (uint64_t)ev->at_ms);
    sha256_update(&st, 8, num);
    hash_str(&st, ev->kind);
    hash_str(&st, ev->ticket);
    hash_str(&st, ev->agency);
    hash_str(&st, ev->area);
    hash_str(&st, ev->category);
    cpm_put_be64(num, (uint64_t)(uint32_t)ev->state);
    sha256_update(&st, 4, num + 4);
    hash_str(&st, ev->rule);
    hash_str(&st, ev->actor);
    hash_str(&st, ev->note);
    if (cpm_event_has_record(ev)) {
        /* The record fields (14-20) only when one is set, so that every
         * event written before they existed keeps its hash. */
        sha256_update(&st, 2, (const uint8_t *)"R1");
        hash_str(&st, ev->business);
        hash_str(&st, ev->address);
        hash_str(&st, ev->violation);
        cpm_put_be64(num, (uint64_t)ev->fine_vnd);
        sha256_update(&st, 8, num);
        hash_str(&st, ev->tax_code);
        hash_str(&st, ev->inspection);
        hash_str(&st, ev->channel);
        cpm_put_be64(num, (uint64_t)(uint32_t)ev->outcome);
        sha256_update(&st, 4, num + 4);
    }
    if (set(ev->product) || set(ev->suggested) || ev->suggestion_pm != 0 || set(ev->category_by)) {
        /* Issue 12's fields (22-25), likewise only when one is set. */
        sha256_update(&st, 2, (const uint8_t *)"R2");
        hash_str(&st, ev->product);
        hash_str(&st, ev->suggested);
        cpm_put_be64(num, (uint64_t)ev->suggestion_pm);
        sha256_update(&st, 4, num + 4);
        hash_str(&st, ev->category_by);
    }
    sha256_digest(&st, 32, out);
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
    MDB_val k = {8, key}, v = {cpm__event__get_packed_size(&ev), NULL};
    /* Pack straight into the map page: no temporary buffer. */
    rc = mdb_put(txn, cpm_store_dbi(s, CPM_DB_EVENTS), &k, &v, MDB_RESERVE);
    if (rc != 0) {
        if (rc != MDB_MAP_FULL)
            cpm_error("eventlog: append %llu: %s", (unsigned long long)ev.seq, mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    cpm__event__pack(&ev, v.mv_data);
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

int cpm_eventlog_read(cpm_store_t *s, MDB_txn *txn, uint64_t from_seq, size_t max,
                      Cpm__Event ***events, size_t *n)
{
    *events = NULL;
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
    size_t cap = 0;
    int oom = 0, corrupt = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && *n < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : (max < 64 ? max : 64);
            Cpm__Event **grown = realloc(*events, ncap * sizeof *grown);
            if ((oom = grown == NULL))
                break;
            *events = grown;
            cap = ncap;
        }
        Cpm__Event *ev = cpm__event__unpack(NULL, v.mv_size, v.mv_data);
        /* A key that is not its event's seq is as corrupt as bad bytes. */
        if ((corrupt = ev == NULL || k.mv_size != 8 || ev->seq != cpm_get_be64(k.mv_data))) {
            cpm__event__free_unpacked(ev, NULL);
            break;
        }
        (*events)[(*n)++] = ev;
    }
    mdb_cursor_close(cur);
    if (oom || corrupt || (rc != 0 && rc != MDB_NOTFOUND)) {
        if (oom)
            cpm_error("eventlog: read: out of memory after %zu events", *n);
        else if (corrupt)
            cpm_error("eventlog: read: the event after %zu read cannot be decoded or has "
                      "the wrong seq (corrupt store?)",
                      *n);
        else
            cpm_error("eventlog: read: %s", mdb_strerror(rc));
        cpm_eventlog_free(events, *n);
        *n = 0;
        return (oom || corrupt) ? CPM_E_INTERNAL : cpm_store_err(rc);
    }
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
