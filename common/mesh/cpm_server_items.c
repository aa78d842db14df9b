/* Batch requests of items (cpm_server_on_items) and their group receipts
 * (docs/protocol.md "Group receipts"): each item is applied like a single
 * request, in one nested transaction per run of items (cpm_runs); after
 * the group commit, every
 * item's answer is a leaf of one Merkle tree whose root is signed once, and
 * each connection gets the proofs of its own leaves, in frames of at most
 * CPM_REPLY_BYTES cut at batch boundaries. */
#include "cpm_log.h"
#include "cpm_merkle.h"
#include "cpm_pbcheck.h"
#include "cpm_ratelimit.h"
#include "cpm_runs.h"
#include "cpm_server_int.h"
#include "cpm_transport.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cpm_runs_init aborts past its bound: a batch must fit it. */
_Static_assert(CPM_SUBMIT_BATCH_MAX <= CPM_RUNS_ITEMS_MAX, "a SubmitBatch fits cpm_runs");

static void count(cpm_server_t *s, const char *what, const char *detail)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", what, detail);
    cpm_metrics_add(s->metrics, name, 1);
}

/* A failed item's leaf: the ErrorReply a single request would have got. */
static int answer_error(item_answer_t *a, const cpm_error_t *e)
{
    Cpm__ErrorReply er = CPM__ERROR_REPLY__INIT;
    er.code = (uint32_t)e->code;
    er.field = (char *)e->field;
    er.message = (char *)e->message;
    er.retryable = cpm_err_retryable(e->code);
    a->len = cpm__error_reply__get_packed_size(&er);
    a->buf = malloc(a->len ? a->len : 1);
    if (!a->buf)
        return CPM_E_INTERNAL;
    cpm__error_reply__pack(&er, a->buf);
    a->type = CPM__MSG_TYPE__MSG_ERROR;
    return 0;
}

/* Item i is refused with rc (e filled by the handler, or not): its answer
 * is the refusal a single request would have got, counted. 0, or
 * CPM_E_INTERNAL when the answer cannot be made. */
static int refuse_item(cpm_server_t *s, item_answer_t *a, int rc, cpm_error_t *e)
{
    free(a->buf);
    a->buf = NULL;
    if (cpm_err_is_store(rc)) {
        cpm_error_set(e, rc, "", "not applied (%s); nothing was recorded, send again later",
                      cpm_err_name(rc));
        cpm_metrics_add(s->metrics, "store.failures", 1);
    } else if (e->code != rc) {
        cpm_error_set(e, rc, "", "not applied: %s", cpm_err_name(rc));
    }
    count(s, "invalid", cpm_err_name(rc));
    return answer_error(a, e);
}

/* The items of one batch as cpm_runs sees them (cpm_runs.h): applied in
 * nested transactions of the request's, one per run of items; a refusal
 * (store errors too) answers its item alone, except a run's failure that
 * leaves the request's transaction in error, which fails the request. */
typedef struct {
    cpm_server_t *s;
    pending_t *p;
    const ProtobufCBinaryData *items;
    size_t queued_before; /* s->nqueued when the run began */
    bool out_of_memory;   /* an answer could not be made: the batch stopped */
} batch_items_t;

/* Admitted like a single request: a refusal there writes nothing. */
static int admit_item(void *ctx, MDB_txn *child, size_t i, cpm_error_t *e)
{
    batch_items_t *b = ctx;
    (void)i;
    (void)e;
    return cpm_store_admit(b->s->store, child);
}

static int apply_item(void *ctx, MDB_txn *child, size_t i, cpm_error_t *e)
{
    batch_items_t *b = ctx;
    item_answer_t *a = &b->p->items[i];
    const ProtobufCBinaryData *item = &b->items[i];
    cpm_reply_t reply = {0};
    int rc = b->p->h->item(b->s, child, &b->p->msg, (uint32_t)i, item->data, item->len, &reply, e);
    if (rc != 0) {
        free(reply.buf);
        return rc;
    }
    free(a->buf); /* an answer of a run undone since */
    a->type = reply.type;
    a->buf = reply.buf;
    a->len = reply.len;
    return 0;
}

/* Answered for good; CPM_E_INTERNAL (out of memory answering) stops the
 * batch. */
static int refused_item(void *ctx, size_t i, int rc, cpm_error_t *e, bool again)
{
    batch_items_t *b = ctx;
    if (again) /* its first application counted and said what it did: undone here */
        cpm_warn("batch item %zu refused after it had applied once: %s", i, cpm_err_name(rc));
    int made = refuse_item(b->s, &b->p->items[i], rc, e);
    b->out_of_memory = made != 0;
    return made;
}

static void run_begun(void *ctx)
{
    batch_items_t *b = ctx;
    b->queued_before = b->s->nqueued;
}

static void run_undone(void *ctx)
{
    batch_items_t *b = ctx;
    b->s->nqueued = b->queued_before; /* the run's records were not written */
}

static const cpm_runs_ops_t item_runs = {
    .admit = admit_item,
    .apply = apply_item,
    .refused = refused_item,
    .run_begun = run_begun,
    .run_undone = run_undone,
    .store_errors_stop = false,
};

int cpm_server_apply_items(cpm_server_t *s, MDB_txn *txn, pending_t *p)
{
    const Cpm__Envelope *env = p->msg.env;
    /* Counted in place before decoding (by cpm_server_recv.c, when it took
     * the request): a container of 4 MiB of empty items would otherwise cost
     * a million allocations. */
    size_t nfields = p->counted;
    int counted = p->counted_rc;
    if (counted != 0 || nfields == 0) {
        count(s, "rejected", "batch_items");
        if (counted != 0 && nfields != CPM_SUBMIT_BATCH_MAX + 1)
            return cpm_error_set(&p->err, CPM_E_BAD_MESSAGE, "payload",
                                 "payload is not a SubmitBatch");
        return cpm_error_set(&p->err, nfields ? CPM_E_TOO_LARGE : CPM_E_INVALID, "complaints",
                             "a SubmitBatch holds 1 to %d complaints", CPM_SUBMIT_BATCH_MAX);
    }
    Cpm__SubmitBatch *b = cpm__submit_batch__unpack(cpm_pb_budget(env->payload.len),
                                                    env->payload.len, env->payload.data);
    int rc;
    if (!b) {
        count(s, "rejected", "batch_items");
        return cpm_error_set(&p->err, CPM_E_BAD_MESSAGE, "payload", "payload is not a SubmitBatch");
    }
    if ((rc = cpm_pbcheck(&b->base, NULL, &p->err)) != 0 || b->n_complaints != nfields) {
        cpm__submit_batch__free_unpacked(b, NULL);
        count(s, "rejected", "batch_items");
        return rc ? rc
                  : cpm_error_set(&p->err, CPM_E_BAD_MESSAGE, "complaints",
                                  "a SubmitBatch holds complaints (field 1) only");
    }
    p->items = calloc(b->n_complaints, sizeof *p->items);
    if (!p->items) {
        cpm__submit_batch__free_unpacked(b, NULL);
        return cpm_error_set(&p->err, CPM_E_INTERNAL, "", "out of memory");
    }
    p->nitems = (uint32_t)b->n_complaints; /* at most CPM_SUBMIT_BATCH_MAX: counted above */
    for (uint32_t i = 0; i < p->nitems; i++)
        cpm_merkle_sha256(b->complaints[i].data, b->complaints[i].len, p->items[i].hash);
    /* One nested transaction per run of items rather than per item: a child
     * costs its copies of every page already dirty in its parent that it
     * touches, and a merge of dirty lists at its commit (~12 pages per
     * complaint, intake's largest CPU cost under batches). */
    cpm_runs_t r;
    cpm_runs_init(&r, p->nitems);
    batch_items_t items = {.s = s, .p = p, .items = b->complaints};
    rc = cpm_runs_apply(&r, s->store, txn, &item_runs, &items);
    cpm__submit_batch__free_unpacked(b, NULL);
    /* The request fails whole (the caller aborts txn; a store error's
     * message is the caller's): out of memory, or a run that left txn in
     * error (cpm_runs.h). */
    if (rc != 0 && items.out_of_memory)
        cpm_error_set(&p->err, rc, "", "out of memory answering the batch");
    else if (rc != 0)
        cpm_error_set(&p->err, rc, "",
                      "not applied (%s): the batch's transaction failed; "
                      "nothing was recorded",
                      cpm_err_name(rc));
    return rc;
}

void cpm_server_items_free(pending_t *p)
{
    for (uint32_t i = 0; i < p->nitems; i++)
        free(p->items[i].buf);
    free(p->items);
    p->items = NULL;
    p->nitems = 0;
}

static bool same_route(zmq_msg_t *a, zmq_msg_t *b)
{
    return zmq_msg_size(a) == zmq_msg_size(b) &&
           memcmp(zmq_msg_data(a), zmq_msg_data(b), zmq_msg_size(a)) == 0;
}

/* Add the leaves of every applied batch of the group; false when the tree
 * cannot take them (out of memory: a turn holds at most TURN_FRAMES requests
 * of CPM_SUBMIT_BATCH_MAX items, below CPM_RECEIPT_LEAVES_MAX). */
static bool add_leaves(cpm_server_t *s, size_t *first)
{
    for (size_t i = 0; i < s->ngroup; i++) {
        pending_t *p = &s->group[i];
        if (p->rc != 0 || !p->h->item)
            continue;
        char recipient[200];
        snprintf(recipient, sizeof recipient, "%s/%s", p->msg.env->sender,
                 p->msg.env->sender_instance);
        first[i] = cpm_rgroup_size(s->rgroup);
        for (uint32_t k = 0; k < p->nitems; k++) {
            const item_answer_t *a = &p->items[k];
            if (cpm_rgroup_add(s->rgroup, recipient, p->msg.env->msg_id, k, a->type, a->buf, a->len,
                               a->hash) < 0)
                return false;
        }
    }
    return true;
}

/* Batches j0..j1 (those of idx[0..n)) could not be answered by the receipt:
 * a classic refusal, retryable, since a resend finds every item recorded
 * (idempotent by client_ref). */
static void refuse_unanswered(cpm_server_t *s, size_t j0, size_t j1, pending_t *p)
{
    for (size_t j = j0; j <= j1; j++) {
        pending_t *q = &s->group[j];
        if (q->rc != 0 || !q->h->item || q->receipted || !same_route(&p->route, &q->route))
            continue;
        q->rc = cpm_error_set(&q->err, CPM_E_UNAVAILABLE, "",
                              "recorded, but the receipt could not be made; send again to "
                              "have it");
        cpm_metrics_add(s->metrics, "receipts.refused", 1);
    }
}

/* Send the frame of the leaves idx[0..n) to p's connection and mark the
 * batches j0..j1 of that connection answered; or refuse them (above). A
 * further frame to the same connection (reseal) carries a new seal of the
 * same root, since the client's replay window refuses a repeated one. */
static void flush_frame(cpm_server_t *s, pending_t *p, const size_t *idx, size_t n, size_t j0,
                        size_t j1, bool reseal, int64_t committed_ms)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    if ((reseal && cpm_rgroup_reseal(s->rgroup, &s->reply_sender, committed_ms) != 0) ||
        cpm_rgroup_frame(s->rgroup, idx, n, &frame, &len) != 0) {
        cpm_error("cannot make a group receipt frame of %zu leaves", n);
        cpm_metrics_add(s->metrics, "receipts.failed", 1);
        refuse_unanswered(s, j0, j1, p);
        return;
    }
    /* Never block, as send_reply: a peer that does not read loses it (as
     * it would lose a refusal: the batches count as answered). */
    if (cpm_server_out(s, &p->route, frame, len) == 0) /* held while a group's flush runs */
        cpm_metrics_add(s->metrics, "receipts.frames", 1);
    free(frame);
    for (size_t j = j0; j <= j1; j++) {
        pending_t *q = &s->group[j];
        if (q->rc != 0 || !q->h->item || q->receipted || !same_route(&p->route, &q->route))
            continue;
        q->receipted = true;
        cpm_metrics_add(s->metrics, "applied", 1);
    }
}

/* The bytes of ReceiptProofs that batch j's leaves take in a frame, or 0
 * when its frame cannot be made (the signed prefix is the same in every
 * frame of the group). */
static size_t proofs_bytes(cpm_server_t *s, const size_t *first, size_t j, size_t *idx,
                           size_t *prefix)
{
    const pending_t *q = &s->group[j];
    for (uint32_t k = 0; k < q->nitems; k++)
        idx[k] = first[j] + k;
    size_t bytes = 0;
    return cpm_rgroup_frame_size(s->rgroup, idx, q->nitems, &bytes, prefix) == 0 ? bytes : 0;
}

/* A new seal's envelope may be a few bytes longer (its sequence number). */
#define RESEAL_SLACK 64

static size_t varint_len(size_t v)
{
    size_t n = 1;
    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}

/* The frames to the connection of group[i]: the proofs of the leaves of its
 * batches and of every later one on the same connection, cut at batch
 * boundaries so that no frame passes CPM_REPLY_BYTES (the client takes any
 * frame answering whole batches; a ROUTER's queue for one connection is
 * sized for replies of that bound, cpm_transport.h). A batch of
 * CPM_SUBMIT_BATCH_MAX leaves always fits one frame. */
static void send_frames(cpm_server_t *s, size_t i, const size_t *first, size_t *idx,
                        int64_t committed_ms)
{
    pending_t *p = &s->group[i];
    size_t n = 0, bytes = 0, j0 = i, last = i;
    bool reseal = false;
    for (size_t j = i; j < s->ngroup; j++) {
        pending_t *q = &s->group[j];
        if (q->rc != 0 || !q->h->item || q->receipted || !same_route(&p->route, &q->route))
            continue;
        size_t prefix = 0;
        size_t b = proofs_bytes(s, first, j, idx + n, &prefix);
        if (b == 0) { /* cannot be answered by a receipt: refused alone */
            refuse_unanswered(s, j, j, p);
            continue;
        }
        size_t more = bytes + b;
        if (n > 0 && prefix + RESEAL_SLACK + 1 + varint_len(more) + more > CPM_REPLY_BYTES) {
            flush_frame(s, p, idx, n, j0, last, reseal, committed_ms);
            reseal = true;
            for (uint32_t k = 0; k < q->nitems; k++) /* batch j's leaves to the front */
                idx[k] = first[j] + k;
            n = bytes = 0;
            j0 = j;
        }
        n += q->nitems;
        bytes += b;
        last = j;
    }
    if (n > 0)
        flush_frame(s, p, idx, n, j0, last, reseal, committed_ms);
}

void cpm_server_send_receipts(cpm_server_t *s, int64_t committed_ms)
{
    size_t nleaves = 0;
    for (size_t i = 0; i < s->ngroup; i++)
        if (s->group[i].rc == 0 && s->group[i].h->item)
            nleaves += s->group[i].nitems;
    if (nleaves == 0)
        return;
    if (!s->rgroup)
        s->rgroup = cpm_rgroup_new();
    else
        cpm_rgroup_reset(s->rgroup);
    size_t *first = calloc(s->ngroup, sizeof *first);
    size_t *idx = calloc(nleaves, sizeof *idx);
    bool ok = s->rgroup && first && idx && add_leaves(s, first) &&
              cpm_rgroup_seal(s->rgroup, &s->reply_sender, committed_ms) == 0;
    if (ok) {
        cpm_metrics_add(s->metrics, "receipts.groups", 1);
        cpm_metrics_add(s->metrics, "receipts.leaves", cpm_rgroup_size(s->rgroup));
        for (size_t i = 0; i < s->ngroup; i++) {
            pending_t *p = &s->group[i];
            if (p->rc == 0 && p->h->item && !p->receipted)
                send_frames(s, i, first, idx, committed_ms);
        }
    } else {
        /* Applied and committed, but unanswerable: the batches get a
         * refusal; a resend finds every item recorded (client_ref). */
        cpm_error("cannot make the group receipt of %zu leaves", nleaves);
        cpm_metrics_add(s->metrics, "receipts.failed", 1);
        for (size_t i = 0; i < s->ngroup; i++) {
            pending_t *p = &s->group[i];
            if (p->rc == 0 && p->h->item)
                p->rc = cpm_error_set(&p->err, CPM_E_UNAVAILABLE, "",
                                      "recorded, but the receipt could not be made; send "
                                      "again to have it");
        }
    }
    free(first);
    free(idx);
}
