#include "cpm_subscriber.h"
#include "cpm_evcheck.h"
#include "cpm_eventlog.h"
#include "cpm_store.h"
#include "cpm_transport.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SUB_DB "cursor"
#define SUB_MAP (8u << 20) /* a cursor is ~300 bytes a source */
#define SUB_MAX_POLL 256

typedef struct {
    char member[128];
    char service[32];
    char key[200];
    void *sub;
    uint64_t last;
    uint8_t hash[32];
    bool have_hash;
    bool unreachable; /* told already */
    uint64_t proven;  /* highest seq a checkpoint proved */
    /* The lowest seq above proven whose hash is only the source's claim (a
     * skipped hash of a filtered reply that no checked range digest
     * covered); 0: none. A signed head beyond it proves nothing before it:
     * the events delivered below it were never chained to that head. */
    uint64_t claim;
    uint64_t broke;    /* first seq delivered off the chain (accept_broken): proven stays below */
    uint64_t pend_seq; /* a live checkpoint ahead of the cursor, checked on arrival */
    uint8_t pend_hash[32];
} src_t;

struct cpm_subscriber {
    const cpm_registry_t *reg;
    cpm_client_t *client;
    cpm_verifier_t *verifier;
    cpm_store_t *store;
    cpm_sub_opts_t o;
    char node[128], service[32], kind[64], agency[128], area[64], category[64];
    src_t *srcs;
    size_t n;
    uint64_t refused;
    uint64_t ckpt_ok, ckpt_bad;
};

static void notice(cpm_subscriber_t *s, src_t *src, cpm_sub_notice_t what, const char *detail)
{
    if (s->o.on_notice)
        s->o.on_notice(s->o.arg, src->member, src->service, what, detail ? detail : "");
}

static bool eq_or_any(const char *want, const char *have)
{
    return !*want || strcmp(want, have ? have : "") == 0;
}

static bool wanted(const cpm_subscriber_t *s, const Cpm__Event *ev)
{
    return (!*s->kind || strncmp(ev->kind ? ev->kind : "", s->kind, strlen(s->kind)) == 0) &&
           eq_or_any(s->agency, ev->agency) && eq_or_any(s->area, ev->area) &&
           eq_or_any(s->category, ev->category) &&
           (s->o.filter.state == 0 || s->o.filter.state == ev->state);
}

/* Whether fetches are filtered at the source. */
static bool filtering(const cpm_subscriber_t *s)
{
    return *s->kind || *s->agency || *s->area || *s->category || s->o.filter.state != 0;
}

/* A checkpoint matched the hash held for seq: every event delivered up to
 * seq is proven when every hash from the proven one up to seq was rebuilt
 * from its event or covered by a checked range digest. */
static void prove(src_t *src, uint64_t seq)
{
    if (seq > src->proven && (!src->broke || seq < src->broke) && (!src->claim || src->claim > seq))
        src->proven = seq;
}

/* Checked range digests of a reply that starts at or before the lowest
 * claim held (the service steps back to a checkpoint's range) cover claims
 * of earlier replies. Only the lowest claim is kept, so the one covered moves
 * to the seq after its range, which stands for any claim above it up to the
 * cursor until a range covers that too; past the cursor none is left. */
static void resolve_claim(src_t *src, const uint64_t (*covered)[2], size_t n)
{
    for (bool moved = true; src->claim && moved;) {
        moved = false;
        for (size_t i = 0; i < n; i++)
            if (covered[i][0] <= src->claim && src->claim <= covered[i][1]) {
                src->claim = covered[i][1] >= src->last ? 0 : covered[i][1] + 1;
                moved = true;
                break;
            }
    }
}

static void ckpt_wrong(cpm_subscriber_t *s, src_t *src, uint64_t seq, const char *why)
{
    char d[200];
    snprintf(d, sizeof d, "checkpoint %llu: %s", (unsigned long long)seq, why);
    s->ckpt_bad++;
    s->refused++;
    notice(s, src, CPM_SUB_BROKEN_CHAIN, d);
}

/* Check ev against the chain, deliver it (if the filter wants it) and move
 * the cursor. false when refused. */
static bool deliver(cpm_subscriber_t *s, src_t *src, const Cpm__Event *ev, bool suspect)
{
    Cpm__Event *one[1] = {(Cpm__Event *)ev};
    bool chain_ok = !suspect && ev->seq == src->last + 1 &&
                    cpm_eventlog_verify_chain(one, 1, src->have_hash ? src->hash : NULL) == 0;
    if (chain_ok && src->pend_seq == ev->seq) { /* a live checkpoint waited for this event */
        src->pend_seq = 0;
        if (ev->hash.len != 32 || memcmp(src->pend_hash, ev->hash.data, 32) != 0) {
            ckpt_wrong(s, src, ev->seq, "the event's hash differs from the signed head");
            chain_ok = false;
        } else {
            s->ckpt_ok++;
            prove(src, ev->seq);
        }
    }
    if (!chain_ok && s->o.accept_broken && !src->broke)
        src->broke = ev->seq;
    if (!chain_ok && !s->o.accept_broken) {
        s->refused++;
        char d[80];
        snprintf(d, sizeof d, "event %llu", (unsigned long long)ev->seq);
        notice(s, src, CPM_SUB_BROKEN_CHAIN, d);
        return false;
    }
    if (wanted(s, ev) && s->o.on_event)
        s->o.on_event(s->o.arg, src->member, src->service, ev, chain_ok);
    src->last = ev->seq;
    if (ev->hash.len == 32) {
        memcpy(src->hash, ev->hash.data, 32);
        src->have_hash = true;
    }
    return true;
}

/* The checkpoints of a reply, each checked against the registry: the good
 * ones into cs (at most cap), a forged one told. false when one was forged. */
static bool reply_checkpoints(cpm_subscriber_t *s, src_t *src, const Cpm__EventBatch *b,
                              cpm_evcheck_t *cs, size_t cap, size_t *n)
{
    bool ok = true;
    *n = 0;
    for (size_t i = 0; i < b->n_checkpoints; i++) {
        cpm_evcheck_t c;
        cpm_error_t err = {0};
        if (cpm_evcheck_verify(s->reg, b->checkpoints[i].data, b->checkpoints[i].len, src->member,
                               src->service, &c, &err) != 0) {
            ckpt_wrong(s, src, 0, err.message);
            ok = false;
        } else if (c.seq > b->head_seq) {
            ckpt_wrong(s, src, c.seq, "signed beyond the log's head: events are missing");
            ok = false;
        } else if (*n < cap) {
            cs[(*n)++] = c;
        }
    }
    return ok;
}

#define REPLY_CKPTS 32

/* A filtered reply (docs/protocol.md section 20): rebuild the hash of every
 * seq read from the events in full and the skipped hashes, check it against
 * the cursor and the checkpoints, then deliver. Events delivered, or -1 when
 * refused. *done: the cursor reached scan_to. */
static long filtered_batch(cpm_subscriber_t *s, src_t *src, const Cpm__EventBatch *b, long budget,
                           bool *done)
{
    *done = false;
    uint64_t from = b->scan_from, to = b->scan_to;
    size_t nskip = b->skipped_hashes.len / 32;
    bool bad = false;
    const char *why = "";
    if (from == 0 || from > src->last + 1 || to < src->last || to - from >= (1u << 20) ||
        b->skipped_hashes.len % 32 != 0 || b->n_events + nskip != to - from + 1) {
        ckpt_wrong(s, src, 0, "a filtered reply that does not cover its range");
        return -1;
    }
    size_t count = (size_t)(to - from + 1);
    if (count == 0) { /* nothing read */
        *done = true;
        return 0;
    }
    uint8_t(*h)[32] = malloc(count * 32);
    if (!h)
        return -1;
    /* claimed[i]: seq from+i is known only by the hash the source claims. */
    bool *claimed = calloc(count, sizeof *claimed);
    if (!claimed) {
        free(h);
        return -1;
    }
    size_t j = 0, k = 0;
    for (size_t i = 0; i < count && !bad; i++) {
        uint64_t seq = from + i;
        if (j < b->n_events && b->events[j]->seq == seq) {
            const Cpm__Event *ev = b->events[j++];
            const uint8_t *prev = i > 0                                      ? h[i - 1]
                                  : (seq == src->last + 1 && src->have_hash) ? src->hash
                                  : ev->prev_hash.len == 32                  ? ev->prev_hash.data
                                                                             : NULL;
            if (!prev || ev->prev_hash.len != 32 || memcmp(ev->prev_hash.data, prev, 32) != 0 ||
                ev->hash.len != 32) {
                bad = true, why = "an event does not link to the hash before it";
                break;
            }
            cpm_event_hash(ev, prev, h[i]);
            if (memcmp(h[i], ev->hash.data, 32) != 0)
                bad = true, why = "an event's hash does not match its fields";
        } else if (k < nskip) {
            memcpy(h[i], b->skipped_hashes.data + 32 * k++, 32);
            claimed[i] = seq > src->last; /* below: the cursor's chain holds it already */
        } else {
            bad = true, why = "events out of order";
        }
    }
    if (!bad && j != b->n_events)
        bad = true, why = "events outside the range read";
    if (!bad && src->last >= from && src->have_hash && memcmp(h[src->last - from], src->hash, 32))
        bad = true, why = "the range does not continue the cursor's chain";
    cpm_evcheck_t cs[REPLY_CKPTS];
    size_t ncs = 0;
    uint64_t heads[REPLY_CKPTS]; /* the seqs whose signed head matched, ascending */
    size_t nheads = 0;
    uint64_t covered[REPLY_CKPTS][2]; /* ranges whose digest was checked here */
    size_t ncovered = 0;
    if (!reply_checkpoints(s, src, b, cs, REPLY_CKPTS, &ncs))
        bad = true, why = "a checkpoint's signature";
    for (size_t i = 0; i < ncs && !bad; i++) {
        const cpm_evcheck_t *c = &cs[i];
        if (c->seq < from || c->seq > to)
            continue;
        if (memcmp(h[c->seq - from], c->head_hash, 32) != 0) {
            bad = true, why = "the head hash differs from the signed one";
            break;
        }
        /* A range that starts before the reply: its digest cannot be
         * checked here, only the head; prove() then holds back unless every
         * hash since the proven one was rebuilt (no claim below the head). */
        if (c->range_from >= from) { /* the whole range is here: its digest too */
            cpm_evrange_t r;
            uint8_t d[32];
            cpm_evrange_init(&r, c->range_from);
            for (uint64_t q = c->range_from; q <= c->seq; q++)
                cpm_evrange_add(&r, h[q - from]);
            cpm_evrange_final(&r, d);
            if (memcmp(d, c->range_digest, 32) != 0) {
                bad = true, why = "the range digest differs from the signed one";
                break;
            }
            /* The signature covers each hash of the range: none is a claim. */
            memset(claimed + (c->range_from - from), 0, (size_t)(c->seq - c->range_from + 1));
            covered[ncovered][0] = c->range_from, covered[ncovered++][1] = c->seq;
        }
        s->ckpt_ok++;
        size_t at = nheads++;
        for (; at > 0 && heads[at - 1] > c->seq; at--)
            heads[at] = heads[at - 1];
        heads[at] = c->seq;
    }
    if (bad) {
        char d[160];
        snprintf(d, sizeof d, "events %llu..%llu: %s", (unsigned long long)from,
                 (unsigned long long)to, why);
        ckpt_wrong(s, src, 0, d);
        if (!s->o.accept_broken) {
            free(h);
            free(claimed);
            return -1;
        }
    }
    long got = 0;
    uint64_t end = to;
    for (size_t i = 0; i < b->n_events; i++) {
        const Cpm__Event *ev = b->events[i];
        if (ev->seq <= src->last)
            continue;
        if (budget > 0 && got >= budget) {
            end = ev->seq - 1;
            break;
        }
        if (wanted(s, ev) && s->o.on_event)
            s->o.on_event(s->o.arg, src->member, src->service, ev, !bad);
        got++;
    }
    if (!bad)
        resolve_claim(src, covered, ncovered);
    for (uint64_t q = src->last + 1; q <= end && (!src->claim || q < src->claim); q++)
        if (claimed[q - from]) { /* the lowest claim now held */
            src->claim = q;
            break;
        }
    src->last = end;
    memcpy(src->hash, h[end - from], 32);
    src->have_hash = true;
    if (bad && !src->broke)
        src->broke = from;
    for (size_t i = 0; !bad && i < nheads && heads[i] <= end; i++)
        prove(src, heads[i]);
    *done = end == to;
    free(h);
    free(claimed);
    return got;
}

/* Fetch and deliver everything after src->last; events delivered or -1. */
static long catch_up(cpm_subscriber_t *s, src_t *src, long budget)
{
    long total = 0;
    for (;;) {
        Cpm__EventsFetch q = CPM__EVENTS_FETCH__INIT;
        q.from_seq = src->last + 1;
        q.max = 1000;
        q.checkpoints = true;
        if (filtering(s)) {
            q.kind_prefix = s->kind;
            q.agency = s->agency;
            q.area = s->area;
            q.category = s->category;
            q.state = s->o.filter.state;
        }
        cpm_msg_t reply = {0};
        cpm_error_t err = {0};
        if (cpm_client_call(s->client, src->member, src->service, CPM__MSG_TYPE__MSG_EVENTS_FETCH,
                            &q.base, s->o.fetch_timeout_ms, &reply, &err) != 0) {
            if (!src->unreachable) /* once, until it answers again */
                notice(s, src, CPM_SUB_UNREACHABLE, err.message);
            src->unreachable = true;
            return total ? total : -1;
        }
        if (src->unreachable)
            notice(s, src, CPM_SUB_REACHABLE, NULL);
        src->unreachable = false;
        Cpm__EventBatch *b =
            cpm__event_batch__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
        cpm_msg_clear(&reply);
        if (!b)
            return -1;
        if (filtering(s) && b->scan_to > 0) {
            bool done = false;
            uint64_t was = src->last;
            long got = filtered_batch(s, src, b, budget > 0 ? budget - total : 0, &done);
            bool more = got >= 0 && done && src->last > was && src->last < b->head_seq;
            cpm__event_batch__free_unpacked(b, NULL);
            if (got < 0)
                return total ? total : -1;
            total += got;
            if (!more)
                return total;
            continue;
        }
        /* Unfiltered (or a server without filters): the chain from the
         * cursor, and each checkpoint in the batch against it. */
        cpm_evcheck_t cs[REPLY_CKPTS];
        size_t ncs = 0;
        uint64_t suspect_to = 0, proves = 0;
        if (!reply_checkpoints(s, src, b, cs, REPLY_CKPTS, &ncs))
            suspect_to = b->n_events ? b->events[b->n_events - 1]->seq : 0;
        for (size_t c = 0; c < ncs; c++) {
            for (size_t i = 0; i < b->n_events; i++) {
                const Cpm__Event *ev = b->events[i];
                if (ev->seq != cs[c].seq)
                    continue;
                if (ev->hash.len != 32 || memcmp(ev->hash.data, cs[c].head_hash, 32) != 0) {
                    ckpt_wrong(s, src, ev->seq, "the event's hash differs from the signed head");
                    suspect_to = ev->seq > suspect_to ? ev->seq : suspect_to;
                } else {
                    s->ckpt_ok++;
                    proves = ev->seq > proves ? ev->seq : proves;
                }
            }
        }
        size_t n = 0;
        bool broken = false;
        for (size_t i = 0; i < b->n_events && (budget <= 0 || total < budget) && !broken; i++) {
            if (b->events[i]->seq != src->last + 1)
                continue;
            if (!deliver(s, src, b->events[i], b->events[i]->seq <= suspect_to)) {
                broken = true;
                break;
            }
            total++, n++;
        }
        if (proves <= src->last && proves > suspect_to)
            prove(src, proves);
        bool more = !broken && n > 0 && src->last < b->head_seq && (budget <= 0 || total < budget);
        cpm__event_batch__free_unpacked(b, NULL);
        if (!more)
            return total;
    }
}

static void cursor_load(cpm_subscriber_t *s)
{
    MDB_txn *txn = NULL;
    if (!s->store || cpm_store_begin(s->store, false, &txn) != 0)
        return;
    for (size_t i = 0; i < s->n; i++) {
        const void *v;
        size_t len;
        src_t *src = &s->srcs[i];
        if (cpm_store_get(s->store, txn, SUB_DB, src->key, strlen(src->key), &v, &len) != 0 ||
            (len != 41 && len != 49 && len != 57))
            continue;
        const uint8_t *p = v;
        src->last = 0;
        for (int k = 0; k < 8; k++)
            src->last = src->last << 8 | p[k];
        memcpy(src->hash, p + 8, 32);
        src->have_hash = p[40] != 0;
        src->proven = len >= 49 ? cpm_get_be64(p + 41) : 0; /* 41: written before checkpoints */
        /* 49: written before claims were kept; a filtered reader may hold
         * claims anywhere after the proven seq. */
        src->claim = len == 57                                 ? cpm_get_be64(p + 49)
                     : filtering(s) && src->last > src->proven ? src->proven + 1
                                                               : 0;
    }
    cpm_store_abort(&txn);
}

#define EXTRA_PREFIX "extra:" /* the caller's values; source keys have a '/' */

int cpm_subscriber_save_with(cpm_subscriber_t *s, const char *key, const void *val, size_t len)
{
    if (!s->store)
        return 0;
    MDB_txn *txn = NULL;
    int rc = cpm_store_begin(s->store, true, &txn);
    if (rc == 0 && key) {
        char k[200];
        snprintf(k, sizeof k, EXTRA_PREFIX "%s", key);
        rc = cpm_store_put(s->store, txn, SUB_DB, k, strlen(k), val, len);
    }
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        uint8_t v[57];
        for (int k = 0; k < 8; k++)
            v[k] = (uint8_t)(s->srcs[i].last >> (56 - 8 * k));
        memcpy(v + 8, s->srcs[i].hash, 32);
        v[40] = s->srcs[i].have_hash;
        cpm_put_be64(v + 41, s->srcs[i].proven);
        cpm_put_be64(v + 49, s->srcs[i].claim);
        rc = cpm_store_put(s->store, txn, SUB_DB, s->srcs[i].key, strlen(s->srcs[i].key), v,
                           sizeof v);
    }
    if (rc == 0)
        rc = cpm_store_commit(txn);
    else
        cpm_store_abort(&txn);
    if (rc != 0 && s->n > 0)
        notice(s, &s->srcs[0], CPM_SUB_CURSOR_SAVE, s->o.cursor_dir);
    return rc;
}

int cpm_subscriber_save(cpm_subscriber_t *s)
{
    return cpm_subscriber_save_with(s, NULL, NULL, 0);
}

long cpm_subscriber_load_extra(cpm_subscriber_t *s, const char *key, void *buf, size_t cap)
{
    MDB_txn *txn = NULL;
    if (!s->store || cpm_store_begin(s->store, false, &txn) != 0)
        return -1;
    char k[200];
    snprintf(k, sizeof k, EXTRA_PREFIX "%s", key);
    const void *v;
    size_t len;
    long got = -1;
    if (cpm_store_get(s->store, txn, SUB_DB, k, strlen(k), &v, &len) == 0) {
        memcpy(buf, v, len < cap ? len : cap);
        got = (long)len;
    }
    cpm_store_abort(&txn);
    return got;
}

static src_t *add_source(cpm_subscriber_t *s, const char *member, const char *service)
{
    src_t *src = &s->srcs[s->n++];
    snprintf(src->member, sizeof src->member, "%s", member);
    snprintf(src->service, sizeof src->service, "%s", service);
    snprintf(src->key, sizeof src->key, "%s/%s", member, service);
    return src;
}

static int list_sources(cpm_subscriber_t *s, void *zctx, const cpm_identity_t *id)
{
    const Cpm__Registry *doc = cpm_registry_doc(s->reg);
    size_t cap = 1;
    for (size_t i = 0; i < doc->n_members; i++)
        cap += doc->members[i]->n_services;
    s->srcs = calloc(cap, sizeof *s->srcs);
    if (!s->srcs)
        return -1;
    if (s->o.fetch_only && *s->node && *s->service) {
        add_source(s, s->node, s->service);
        return 0;
    }
    for (size_t i = 0; i < doc->n_members; i++) {
        const Cpm__Member *m = doc->members[i];
        if (*s->node && strcmp(s->node, m->id) != 0)
            continue;
        for (size_t k = 0; k < m->n_services; k++) {
            const Cpm__ServiceEndpoint *ep = m->services[k];
            if ((*s->service && strcmp(s->service, ep->name) != 0) ||
                !(ep->pub_endpoint && *ep->pub_endpoint))
                continue;
            src_t *src = add_source(s, m->id, ep->name);
            if (s->o.fetch_only)
                continue;
            src->sub = cpm_sock_client(zctx, ZMQ_SUB, id, m->curve_pk.data, ep->pub_endpoint);
            if (src->sub)
                zmq_setsockopt(src->sub, ZMQ_SUBSCRIBE, "", 0);
        }
    }
    return 0;
}

int cpm_subscriber_new(cpm_subscriber_t **out, void *zctx, const cpm_registry_t *reg,
                       const cpm_identity_t *id, cpm_client_t *client, const cpm_sub_opts_t *o,
                       cpm_error_t *err)
{
    *out = NULL;
    cpm_subscriber_t *s = calloc(1, sizeof *s);
    if (!s)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    s->reg = reg;
    s->client = client;
    s->o = *o;
    if (s->o.fetch_timeout_ms <= 0)
        s->o.fetch_timeout_ms = 2000;
    snprintf(s->node, sizeof s->node, "%s", o->filter.node ? o->filter.node : "");
    snprintf(s->service, sizeof s->service, "%s", o->filter.service ? o->filter.service : "");
    snprintf(s->kind, sizeof s->kind, "%s", o->filter.kind_prefix ? o->filter.kind_prefix : "");
    snprintf(s->agency, sizeof s->agency, "%s", o->filter.agency ? o->filter.agency : "");
    snprintf(s->area, sizeof s->area, "%s", o->filter.area ? o->filter.area : "");
    snprintf(s->category, sizeof s->category, "%s", o->filter.category ? o->filter.category : "");
    s->o.filter = (cpm_sub_filter_t){s->node, s->service,  s->kind,        s->agency,
                                     s->area, s->category, o->filter.state};
    s->verifier = cpm_verifier_new(300000);
    if (!s->verifier || list_sources(s, zctx, id) != 0) {
        cpm_subscriber_destroy(&s);
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    }
    for (size_t i = 0; o->start_seq > 1 && i < s->n; i++)
        s->srcs[i].last = o->start_seq - 1;
    if (o->cursor_dir) {
        static const char *const dbs[] = {SUB_DB, NULL};
        char e[300];
        s->store = cpm_store_open(o->cursor_dir, SUB_MAP, dbs, e, sizeof e);
        if (!s->store) {
            cpm_subscriber_destroy(&s);
            return cpm_error_set(err, CPM_E_INVALID, "cursor", "cursor %s: %s", o->cursor_dir, e);
        }
        if (!o->from_start)
            cursor_load(s);
    }
    *out = s;
    return 0;
}

/* Where the caller cannot act on a failed save: cpm_subscriber_save has told
 * the notice callback already (CPM_SUB_CURSOR_SAVE). */
static void save_noted(cpm_subscriber_t *s)
{
    if (s->o.caller_saves)
        return;
    int rc = cpm_subscriber_save(s);
    (void)rc;
}

void cpm_subscriber_destroy(cpm_subscriber_t **p)
{
    if (!p || !*p)
        return;
    cpm_subscriber_t *s = *p;
    if (s->store)
        save_noted(s);
    for (size_t i = 0; s->srcs && i < s->n; i++)
        cpm_sock_close(&s->srcs[i].sub);
    free(s->srcs);
    cpm_store_destroy(&s->store);
    cpm_verifier_destroy(&s->verifier);
    free(s);
    *p = NULL;
}

long cpm_subscriber_sweep(cpm_subscriber_t *s, long budget, int *failed)
{
    long total = 0;
    int bad = 0;
    for (size_t i = 0; i < s->n && (budget <= 0 || total < budget); i++) {
        long got = catch_up(s, &s->srcs[i], budget > 0 ? budget - total : 0);
        if (got < 0)
            bad++;
        total += got > 0 ? got : 0;
    }
    if (failed)
        *failed = bad;
    save_noted(s);
    return total;
}

/* The frame's type, read without checking anything (cheap). */
static bool is_checkpoint(const uint8_t *buf, size_t len)
{
    cpm_slice_t env, sig;
    cpm_envelope_view_t v;
    return cpm_envelope_parse_signed(buf, len, &env, &sig) == 0 &&
           cpm_envelope_parse_view(env.data, env.len, &v) == 0 &&
           v.type == CPM__MSG_TYPE__MSG_EVENT_CHECKPOINT;
}

/* A signed checkpoint on the live stream: checked against the cursor's hash
 * when it names the cursor's seq, kept until that event when ahead of it;
 * one behind the cursor was checked by the fetch that passed it or is
 * checked by a later one. */
static void live_checkpoint(cpm_subscriber_t *s, src_t *src, const cpm_evcheck_t *c)
{
    if (c->seq == src->last && src->have_hash) {
        if (memcmp(c->head_hash, src->hash, 32) != 0) {
            ckpt_wrong(s, src, c->seq, "the signed head differs from the event delivered");
        } else {
            s->ckpt_ok++;
            prove(src, c->seq);
        }
    } else if (c->seq > src->last) {
        src->pend_seq = c->seq;
        memcpy(src->pend_hash, c->head_hash, 32);
    }
}

/* A publication on src->sub: deliver what follows the cursor, fetch what
 * was missed. */
static long on_publication(cpm_subscriber_t *s, src_t *src, long budget)
{
    zmq_msg_t f[2];
    int parts = cpm_sock_recv(src->sub, f, 2, ZMQ_DONTWAIT);
    if (parts <= 0)
        return 0;
    long got = 0;
    cpm_msg_t m = {0};
    cpm_verify_ctx_t ctx = {.expect_sender = src->member};
    cpm_evcheck_t c;
    cpm_error_t cerr = {0};
    if (parts == 2 && is_checkpoint(zmq_msg_data(&f[1]), zmq_msg_size(&f[1]))) {
        if (cpm_evcheck_verify(s->reg, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), src->member,
                               src->service, &c, &cerr) == 0)
            live_checkpoint(s, src, &c);
        else
            ckpt_wrong(s, src, 0, cerr.message);
    } else if (parts == 2 &&
               cpm_verifier_check(s->verifier, s->reg, &ctx, zmq_msg_data(&f[1]),
                                  zmq_msg_size(&f[1]), cpm_now_ms(), &m) == CPM_V_OK &&
               m.env->type == CPM__MSG_TYPE__MSG_EVENTS_PUBLISH) {
        Cpm__EventBatch *b =
            cpm__event_batch__unpack(NULL, m.env->payload.len, m.env->payload.data);
        if (b && !strcmp(b->service, src->service) && !strcmp(b->node, src->member)) {
            for (size_t i = 0; i < b->n_events && (budget <= 0 || got < budget); i++) {
                if (b->events[i]->seq <= src->last)
                    continue;
                if (b->events[i]->seq > src->last + 1) { /* a gap: fetch it */
                    long more = catch_up(s, src, budget > 0 ? budget - got : 0);
                    got += more > 0 ? more : 0;
                    if (b->events[i]->seq != src->last + 1)
                        continue;
                }
                if (!deliver(s, src, b->events[i], false))
                    break;
                got++;
            }
        }
        cpm__event_batch__free_unpacked(b, NULL);
    } else {
        s->refused++;
        notice(s, src, CPM_SUB_REFUSED_PUB, NULL);
    }
    cpm_msg_clear(&m);
    for (int i = 0; i < parts; i++)
        zmq_msg_close(&f[i]);
    return got;
}

long cpm_subscriber_poll(cpm_subscriber_t *s, int timeout_ms, long budget)
{
    zmq_pollitem_t items[SUB_MAX_POLL];
    size_t k = 0;
    for (size_t i = 0; i < s->n && k < SUB_MAX_POLL; i++)
        if (s->srcs[i].sub)
            items[k++] = (zmq_pollitem_t){s->srcs[i].sub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(items, (int)k, timeout_ms) <= 0)
        return 0;
    long got = 0;
    for (size_t i = 0, j = 0; i < s->n && j < k; i++) {
        if (!s->srcs[i].sub)
            continue;
        if (items[j++].revents & ZMQ_POLLIN)
            got += on_publication(s, &s->srcs[i], budget > 0 ? budget - got : 0);
    }
    if (got > 0)
        save_noted(s);
    return got;
}

uint64_t cpm_subscriber_cursor(const cpm_subscriber_t *s, const char *node, const char *service)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->srcs[i].member, node) && !strcmp(s->srcs[i].service, service))
            return s->srcs[i].last;
    return 0;
}

uint64_t cpm_subscriber_refused(const cpm_subscriber_t *s)
{
    return s->refused;
}

int cpm_subscriber_seek(cpm_subscriber_t *s, const char *node, const char *service, uint64_t seq,
                        const uint8_t hash[32])
{
    for (size_t i = 0; i < s->n; i++) {
        src_t *src = &s->srcs[i];
        if (strcmp(src->member, node) != 0 || strcmp(src->service, service) != 0)
            continue;
        src->last = seq;
        if (src->claim > seq) /* the claims held are no longer behind the cursor */
            src->claim = 0;
        src->have_hash = hash != NULL;
        if (hash)
            memcpy(src->hash, hash, 32);
        return 0;
    }
    return CPM_E_NOT_FOUND;
}

uint64_t cpm_subscriber_proven(const cpm_subscriber_t *s, const char *node, const char *service)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->srcs[i].member, node) && !strcmp(s->srcs[i].service, service))
            return s->srcs[i].proven;
    return 0;
}

uint64_t cpm_subscriber_checkpoints(const cpm_subscriber_t *s, uint64_t *bad)
{
    if (bad)
        *bad = s->ckpt_bad;
    return s->ckpt_ok;
}
