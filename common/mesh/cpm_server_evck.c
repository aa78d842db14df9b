/* The server's side of event checkpoints and filtered fetches
 * (docs/protocol.md section 20): a signed checkpoint of the log every
 * event_checkpoint_every events, after event_checkpoint_s seconds with new
 * events and at a clean stop; EventsFetch with filters applied here. */
#include "cpm_server_int.h"

#include "cpm_evcheck.h"
#include "cpm_eventlog.h"
#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "cpm_ratelimit.h"
#include "cpm_util.h"

#include <stdlib.h>
#include <string.h>

/* A filtered reply reads at most this many events (their hashes, 32 bytes
 * each, must fit in the reply beside the events) and steps back at most
 * REWIND_MAX before from_seq to start at a checkpoint's range. */
#define SCAN_MAX 2048
#define REWIND_MAX 1024
#define CKPT_MAX 16

void cpm_server_checkpoint_init(cpm_server_t *s)
{
    MDB_txn *txn;
    s->ckpt_mono_ms = cpm_mono_ms();
    if (cpm_store_begin(s->store, false, &txn) != 0)
        return;
    if (cpm_evcheck_last(s->store, txn, &s->ckpt_seq) != 0)
        s->ckpt_seq = 0;
    cpm_store_abort(&txn);
    if (s->ckpt_seq > s->published) {
        /* Events this service signed are gone: an old copy of the store, or
         * an edit. Readers see it too (the checkpoint past the head). */
        cpm_error("the event log ends at %llu but a checkpoint of %llu was signed: events are "
                  "missing",
                  (unsigned long long)s->published, (unsigned long long)s->ckpt_seq);
        cpm_metrics_add(s->metrics, "events.log_behind_checkpoint", 1);
    }
}

void cpm_server_checkpoint(cpm_server_t *s, bool force)
{
    int64_t now = cpm_mono_ms();
    uint32_t every = s->cfg->event_checkpoint_every ? s->cfg->event_checkpoint_every : 1000;
    uint32_t secs = s->cfg->event_checkpoint_s ? s->cfg->event_checkpoint_s : 60;
    if (s->published <= s->ckpt_seq ||
        (!force && s->published - s->ckpt_seq < every && now - s->ckpt_mono_ms < secs * 1000LL))
        return;
    MDB_txn *txn = NULL;
    bool made = false;
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = cpm_store_begin(s->store, true, &txn);
    uint64_t signed_to = s->published;
    if (rc == 0)
        rc = cpm_evcheck_make(s->store, txn, &s->id, s->cfg->service, cpm_now_ms(), &made, &frame,
                              &len);
    if (rc == 0) /* less than the head after a long backlog: the next turn goes on */
        rc = cpm_evcheck_last(s->store, txn, &signed_to);
    if (rc == 0)
        rc = cpm_store_commit(txn);
    else
        cpm_store_abort(&txn);
    s->ckpt_mono_ms = now;
    if (rc != 0) {
        /* Tried again at the next turn or second; readers meanwhile verify
         * up to the previous checkpoint. */
        static cpm_ratelimit_t said = CPM_RATELIMIT_INIT(5, 60000);
        uint64_t dropped = 0;
        cpm_metrics_add(s->metrics, "events.checkpoint_failed", 1);
        if (cpm_ratelimit_allow(&said, now, &dropped))
            cpm_error("cannot make a checkpoint of the event log: %s%s", cpm_err_name(rc),
                      cpm_ratelimit_note(dropped));
        free(frame);
        return;
    }
    if (made) {
        cpm_metrics_add(s->metrics, "events.checkpoints", 1);
        /* Like a publication: never waits; a reader that misses it gets it
         * with its next fetch. */
        if (frame && (zmq_send(s->pub, s->self, strlen(s->self), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                      zmq_send(s->pub, frame, len, ZMQ_DONTWAIT) < 0))
            cpm_metrics_add(s->metrics, "events.publish_send_failed", 1);
    }
    s->ckpt_seq = signed_to < s->published ? signed_to : s->published;
    free(frame);
}

/* How many of the first events fit in bytes (at least one). */
static size_t fit(Cpm__Event **evs, size_t n, size_t bytes)
{
    size_t total = 0, k = 0;
    for (; k < n; k++) {
        total += cpm__event__get_packed_size(evs[k]) + 8;
        if (total > bytes && k > 0)
            break;
    }
    return k;
}

typedef struct {
    Cpm__Event **kept;
    size_t nkept;
    uint8_t *skipped;
    size_t nskipped;
    size_t bytes; /* of kept events and skipped hashes */
} scan_t;

/* Read from scan_from on: events >= from that match go in full (at most
 * max), the others as their hashes. The last seq read goes to *scan_to. */
static int scan(cpm_server_t *s, MDB_txn *txn, const Cpm__EventsFetch *q, uint64_t scan_from,
                uint64_t from, size_t max, scan_t *o, uint64_t *scan_to)
{
    uint64_t next = scan_from;
    *scan_to = scan_from - 1;
    if (!(o->kept = calloc(max, sizeof *o->kept)) || !(o->skipped = malloc(SCAN_MAX * 32)))
        return CPM_E_INTERNAL;
    while (next - scan_from < SCAN_MAX && o->nkept < max) {
        Cpm__Event **evs = NULL;
        size_t n = 0;
        int rc = cpm_eventlog_read(s->store, txn, next, 500, &evs, &n);
        if (rc != 0)
            return rc;
        size_t i = 0;
        bool full = false;
        for (; i < n && next - scan_from < SCAN_MAX && o->nkept < max; i++) {
            Cpm__Event *ev = evs[i];
            if (ev->seq != next || ev->hash.len != 32)
                break; /* a hole (corrupt store): stop before it */
            if (ev->seq >= from && cpm_evcheck_match(q, ev)) {
                size_t sz = cpm__event__get_packed_size(ev) + 8;
                if (o->bytes + sz > EVENTS_REPLY_BYTES && o->nkept > 0) {
                    full = true;
                    break;
                }
                o->bytes += sz;
                o->kept[o->nkept++] = ev;
                evs[i] = NULL;
            } else {
                if (o->bytes + 32 > EVENTS_REPLY_BYTES) {
                    full = true;
                    break;
                }
                memcpy(o->skipped + 32 * o->nskipped++, ev->hash.data, 32);
                o->bytes += 32;
            }
            *scan_to = next++;
        }
        bool hole = i < n && !full && next - scan_from < SCAN_MAX && o->nkept < max;
        for (size_t k = 0; k < n; k++)
            if (evs[k])
                cpm__event__free_unpacked(evs[k], NULL);
        free(evs);
        if (n == 0 || full || hole)
            break;
    }
    return 0;
}

int cpm_server_handle_events_fetch(cpm_server_t *s, MDB_txn *txn, const cpm_msg_t *m,
                                   cpm_reply_t *reply, cpm_error_t *err)
{
    Cpm__EventsFetch *q = cpm__events_fetch__unpack(cpm_pb_budget(m->env->payload.len),
                                                    m->env->payload.len, m->env->payload.data);
    if (!q)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "payload", "payload is not an EventsFetch");
    size_t max = q->max && q->max < EVENTS_FETCH_MAX ? q->max : EVENTS_FETCH_MAX;
    uint64_t from = q->from_seq ? q->from_seq : 1;
    bool filtered = cpm_evcheck_filtered(q), want_ckpt = q->checkpoints || filtered;
    Cpm__EventBatch eb = CPM__EVENT_BATCH__INIT;
    Cpm__Event **evs = NULL;
    size_t n = 0;
    scan_t sc = {0};
    ProtobufCBinaryData *frames = NULL;
    size_t nframes = 0;
    int rc = cpm_eventlog_head(s->store, txn, &eb.head_seq, NULL);
    if (rc == 0 && filtered) {
        /* Start at the checkpoint range that holds the reader's cursor
         * (from - 1), so that the reader can check that range's digest and
         * prove its tail (docs/protocol.md 20). */
        uint64_t before = 0;
        uint64_t scan_from = from;
        if (cpm_evcheck_before(s->store, txn, from > 1 ? from - 1 : 1, &before) == 0 &&
            from - (before + 1) <= REWIND_MAX)
            scan_from = before + 1;
        rc = scan(s, txn, q, scan_from, from, max, &sc, &eb.scan_to);
        eb.scan_from = scan_from;
        eb.events = sc.kept;
        eb.n_events = sc.nkept;
        eb.skipped_hashes = (ProtobufCBinaryData){sc.nskipped * 32, sc.skipped};
    } else if (rc == 0) {
        rc = cpm_eventlog_read(s->store, txn, from, max, &evs, &n);
        eb.events = evs;
        eb.n_events = fit(evs, n, EVENTS_REPLY_BYTES - (want_ckpt ? 8192 : 0));
        if (want_ckpt && eb.n_events > 0) {
            eb.scan_from = from;
            eb.scan_to = evs[eb.n_events - 1]->seq;
        }
    }
    if (rc == 0 && want_ckpt && eb.scan_to >= eb.scan_from && eb.scan_from > 0 &&
        (rc = cpm_evcheck_list(s->store, txn, eb.scan_from,
                               /* at the head: also any checkpoint past it, so that a
                                  log cut short shows */
                               eb.scan_to >= eb.head_seq ? UINT64_MAX : eb.scan_to, CKPT_MAX,
                               &frames, &nframes)) == 0) {
        eb.checkpoints = frames;
        eb.n_checkpoints = nframes;
    }
    cpm__events_fetch__free_unpacked(q, NULL);
    if (rc != 0) {
        rc = cpm_error_set(err, rc, "", "cannot read the event log: %s", cpm_err_name(rc));
    } else {
        eb.node = s->id.id;
        eb.service = (char *)s->cfg->service;
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_EVENTS_REPLY, &eb.base);
        if (filtered)
            cpm_metrics_add(s->metrics, "events.fetch_filtered", 1);
    }
    cpm_eventlog_free(&evs, n);
    cpm_eventlog_free(&sc.kept, sc.nkept);
    free(sc.skipped);
    cpm_evcheck_frames_free(&frames, nframes);
    return rc;
}
