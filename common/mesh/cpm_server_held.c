/* The server's group committed early (docs/operations.md "The journal's flush
 * beside the next group"): a busy group's journal record is flushed on the
 * store's flusher thread while the loop applies the next group. Until that
 * flush ends, nothing that depends on the group leaves the process: every
 * frame for a ROUTER peer (its answers, and any other answer or refusal sent
 * meanwhile, in order), the records it queued for the pump, the events it
 * wrote. The next commit of the store waits for the flush first, so at most
 * one group is held. */
#include "cpm_server_int.h"

#include "cpm_log.h"
#include "cpm_ratelimit.h"
#include "cpm_util.h"

#include <stdlib.h>
#include <string.h>

static void count_unroutable(cpm_server_t *s)
{
    cpm_metrics_add(s->metrics, "replies.unroutable", 1);
}

static int send_now(cpm_server_t *s, zmq_msg_t *route, const uint8_t *frame, size_t len)
{
    /* Never block: a peer that does not read has a full queue (ROUTER_MANDATORY
     * then says EAGAIN) and loses the reply, not the loop. */
    if (zmq_send(s->router, zmq_msg_data(route), zmq_msg_size(route), ZMQ_SNDMORE | ZMQ_DONTWAIT) <
            0 ||
        zmq_send(s->router, frame, len, ZMQ_DONTWAIT) < 0) {
        count_unroutable(s);
        return -1;
    }
    return 0;
}

/* What a held group may keep waiting: its own answers (a group and one
 * turn's refusals fit), not the reads of turn after turn while a flush does
 * not end (a stuck disk), each up to a reply's size. Past either, the loop
 * waits for the flush, then sends (replies.held_full). */
#define HELD_FRAMES_MAX (GROUP_MAX + TURN_FRAMES)
#define HELD_BYTES_MAX ((size_t)64 << 20)

int cpm_server_out(cpm_server_t *s, zmq_msg_t *route, const uint8_t *frame, size_t len)
{
    if (s->held.on && (s->held.nout >= HELD_FRAMES_MAX || s->held.bytes + len > HELD_BYTES_MAX)) {
        static cpm_ratelimit_t said = CPM_RATELIMIT_INIT(5, 60000);
        uint64_t dropped = 0;
        cpm_metrics_add(s->metrics, "replies.held_full", 1);
        if (cpm_ratelimit_allow(&said, cpm_mono_ms(), &dropped))
            cpm_warn("%zu answers (%zu bytes) wait for a journal flush that has not ended: the "
                     "loop waits for it%s",
                     s->held.nout, s->held.bytes, cpm_ratelimit_note(dropped));
        (void)cpm_server_held_release(s, true);
    }
    if (!s->held.on)
        return send_now(s, route, frame, len);
    if (s->held.nout == s->held.capout) {
        size_t nc = s->held.capout ? s->held.capout * 2 : 64;
        held_frame_t *o = realloc(s->held.out, nc * sizeof *o);
        if (o == NULL) {
            count_unroutable(s);
            return -1;
        }
        s->held.out = o;
        s->held.capout = nc;
    }
    held_frame_t *h = &s->held.out[s->held.nout];
    h->frame = malloc(len ? len : 1);
    zmq_msg_init(&h->route);
    if (h->frame == NULL || zmq_msg_copy(&h->route, route) != 0) {
        zmq_msg_close(&h->route);
        free(h->frame);
        cpm_error("out of memory holding an answer until its group is durable");
        count_unroutable(s);
        return -1;
    }
    memcpy(h->frame, frame, len);
    h->len = len;
    s->held.nout++;
    s->held.bytes += len;
    return 0;
}

void cpm_server_held_begin(cpm_server_t *s, uint64_t ticket, uint64_t ev_head)
{
    /* The group's queued records move to the held group; the arrays swap. */
    queued_t *q = s->held.queued;
    size_t cap = s->held.capqueued;
    s->held.queued = s->queued;
    s->held.capqueued = s->capqueued;
    s->held.nqueued = s->nqueued;
    s->queued = q;
    s->capqueued = cap;
    s->nqueued = 0;
    s->held.ticket = ticket;
    s->held.ev_head = ev_head;
    s->held.on = true;
    cpm_metrics_add(s->metrics, "store.commits_early", 1);
}

bool cpm_server_held_release(cpm_server_t *s, bool wait)
{
    if (!s->held.on)
        return false;
    if (wait)
        cpm_store_wait_flushed(s->store);
    if (!cpm_store_flushed(s->store, s->held.ticket))
        return true;
    s->held.on = false;
    for (size_t i = 0; i < s->held.nout; i++) {
        held_frame_t *h = &s->held.out[i];
        (void)send_now(s, &h->route, h->frame, h->len);
        zmq_msg_close(&h->route);
        free(h->frame);
    }
    if (s->held.nout > 0)
        cpm_metrics_add(s->metrics, "replies.held", s->held.nout);
    s->held.nout = 0;
    s->held.bytes = 0;
    int64_t now = cpm_mono_ms();
    for (size_t i = 0; i < s->held.nqueued; i++)
        cpm_pump_committed(s->pump, s->held.queued[i].stream, s->held.queued[i].seq,
                           s->held.queued[i].bytes, now);
    s->held.nqueued = 0;
    s->pub_limit = s->held.ev_head;
    if (s->published < s->held.ev_head && s->publish_due_ms == 0)
        s->publish_due_ms = now; /* its events, held back while it was not durable */
    return false;
}

void cpm_server_held_free(cpm_server_t *s)
{
    for (size_t i = 0; i < s->held.nout; i++) {
        zmq_msg_close(&s->held.out[i].route);
        free(s->held.out[i].frame);
    }
    free(s->held.out);
    free(s->held.queued);
    memset(&s->held, 0, sizeof s->held);
}
