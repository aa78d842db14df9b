/* cpm_server_int: the server's state, shared by cpm_server.c (setup),
 * cpm_server_loop.c (the loop) and cpm_server_recv.c (its receiving half).
 * Internal: services never include it. */
#ifndef CPM_SERVER_INT_H
#define CPM_SERVER_INT_H

#include "cpm_err.h"

#include "cpm_pump.h"
#include "cpm_receipt.h"
#include "cpm_seqres.h"
#include "cpm_server.h"
#include "cpm_transport.h"

#include <stdatomic.h>
#include <sys/stat.h>
#include <zmq.h>

#define MAX_HANDLERS 16
#define GROUP_MAX 2048
#define EVENTS_FETCH_MAX 1000
/* A reply or publication of events stops before it would pass this size, so
 * that a reader pins at most CPM_SOCK_HWM of them (see cpm_transport.h). */
#define EVENTS_REPLY_BYTES (CPM_REPLY_BYTES - 4096)
/* One turn of the loop takes at most TURN_FRAMES requests or TURN_MS of them,
 * then commits the group, runs delivery, answers ZAP and reloads the
 * registry: reads and writes alternate however many requests wait. */
#define TURN_FRAMES 256
#define TURN_MS 50
/* Requests one principal (ZAP User-Id) may have taken in one turn when others
 * have requests in it too; more are refused at once as busy (503, retryable),
 * so that one reader cannot take every turn, whatever number of connections
 * it opens. */
#define TURN_PER_PRINCIPAL 64
#define TURN_PRINCIPALS 64

typedef struct {
    Cpm__MsgType type;
    bool write;
    bool batch;
    cpm_handle_fn handle;
    cpm_apply_fn apply;
    cpm_reads_fn reads;     /* a write handler's requests that only read */
    bool keep_frame;        /* copy the signed frame into cpm_msg_t.frame */
    cpm_item_fn item;       /* a batch request of items (cpm_server_on_items) */
    cpm_prepare_fn prepare; /* a batch's records before they are applied */
    cpm_release_fn release;
} handler_t;

/* The answer to one item of a batch request: its leaf's payload. */
typedef struct {
    Cpm__MsgType type; /* MSG_SUBMIT_REPLY (what the handler said) or MSG_ERROR */
    uint8_t *buf;      /* serialized payload, malloc'd */
    size_t len;
    uint8_t hash[CPM_MERKLE_HASH]; /* SHA-256 of the item's bytes */
} item_answer_t;

/* A write request waiting for the group's commit. */
typedef struct {
    zmq_msg_t route;
    cpm_msg_t msg;
    const handler_t *h;
    cpm_reply_t reply;
    cpm_error_t err;
    int rc;
    item_answer_t *items; /* a batch request of items: one answer each */
    uint32_t nitems;
    /* Its fields as cpm_server_recv.c counted them in place, once (the
     * principal's share, then cpm_server_apply_items's bounds). */
    int counted_rc;
    size_t counted;
    bool receipted; /* answered by the group receipt */
} pending_t;

typedef struct {
    char stream[320];
    uint64_t seq;
    size_t bytes; /* the record's, as it will travel (the pump's linger counts them) */
} queued_t;

/* A frame for a ROUTER peer, held until the group before it is durable. */
typedef struct {
    zmq_msg_t route;
    uint8_t *frame;
    size_t len;
} held_frame_t;

/* Requests taken from one principal in the current turn. */
typedef struct {
    char user[128];
    unsigned taken;
} turn_share_t;

struct cpm_server {
    const cpm_config_t *cfg;
    cpm_identity_t id;
    uint8_t root_pk[32];
    cpm_registry_t *reg;
    struct stat reg_stat;
    char self[192];
    void *zctx, *router, *pub;
    cpm_zap_t *zap;
    cpm_store_t *store;
    cpm_verifier_t *verifier;
    cpm_metrics_t *metrics;
    /* One principal per connection kind, since a receiver's replay window is
     * per principal and only messages on one connection arrive in order:
     * batches from the pump ("<service>"), replies ("<service>.reply"),
     * publications ("<service>.pub"). */
    cpm_sender_t sender;
    cpm_sender_t reply_sender;
    cpm_sender_t pub_sender;
    cpm_seqres_t seqres[3]; /* the three senders' reserved sequences */
    char bind_ep[256], pub_ep[256];
    turn_share_t shares[TURN_PRINCIPALS];
    size_t nshares;
    struct cpm_server_recv *recv; /* a turn's frames and the verification pool */
    cpm_pump_t *pump;
    handler_t handlers[MAX_HANDLERS];
    size_t nhandlers;
    pending_t *group;
    size_t ngroup;
    queued_t *queued; /* records written by the current group */
    size_t nqueued, capqueued;
    /* A group committed early (cpm_store_commit_early) whose flush runs:
     * every frame for a ROUTER peer waits in out (cpm_server_out), its
     * records are handed to the pump and its events published only once
     * it is durable (cpm_server_held.c). */
    struct {
        bool on;
        uint64_t ticket;  /* the store's flush ticket */
        uint64_t ev_head; /* the event log's head at its commit */
        queued_t *queued;
        size_t nqueued, capqueued;
        held_frame_t *out;
        size_t nout, capout, bytes;
    } held;
    uint64_t pub_limit;              /* while a group is held: events durable up to here */
    uint64_t published;              /* event head already published */
    int64_t publish_due_ms;          /* events committed, not yet published: when (0: none) */
    uint64_t ckpt_seq;               /* event head of the newest checkpoint (cpm_server_evck.c) */
    int64_t ckpt_mono_ms;            /* when it was made */
    uint64_t replay_evicted;         /* the verifier's replay evictions already counted */
    cpm_store_journal_stats_t jseen; /* the store journal's figures already counted */
    uint64_t loop_cpu_ms, loop_wait_ms; /* the loop thread's time already counted */
    zmq_pollitem_t *items;              /* the loop's poll set: zap, router, one per stream */
    size_t items_cap;
    int64_t started_ms;
    cpm_tick_fn tick;
    /* The table the service runs (cpm_service_attach), its state, and the
     * registry version the state last saw. */
    const struct cpm_service *svc;
    struct cpm_svc *svc_state;
    uint64_t svc_reg_version;
    cpm_rgroup_t *rgroup; /* the current group's receipt leaves (cpm_server_items.c) */
    /* The batch being applied and what cpm_server_prepare_batch's prepare
     * makes of its records on the pool meanwhile: out[i] is the loop's once
     * ready[i] is set (NULL: none); found by the record's pointer. */
    struct {
        const handler_t *h;
        const cpm_msg_t *m;
        const uint8_t *const *recs;
        const size_t *lens;
        void **out;
        atomic_bool *ready;
        atomic_bool cancel;
        size_t n, first, next; /* first: the first new record (past the mark) */
    } prep;
    const void *svc_prepared; /* the service's part of it for the record applied now */
};

/* Reload the registry file when it changed; first: at start. A new version
 * that takes access from a member drops every connection (see
 * cpm_server_rebind). 0 or -1. */
CPM_MUST_CHECK int cpm_server_load_registry(cpm_server_t *s, bool first);
/* Close and re-create the ROUTER and PUB sockets on the same endpoints, so
 * that every peer reconnects and passes ZAP under the current registry. 0 or
 * -1 when an endpoint cannot be bound again. */
CPM_MUST_CHECK int cpm_server_rebind(cpm_server_t *s);
CPM_MUST_CHECK int cpm_server_handle_events_fetch(cpm_server_t *srv, MDB_txn *txn,
                                                  const cpm_msg_t *m, cpm_reply_t *reply,
                                                  cpm_error_t *err);
/* Event checkpoints (cpm_server_evck.c): read the newest at start; make one
 * when due (force: whenever the head has none). */
void cpm_server_checkpoint_init(cpm_server_t *s);
void cpm_server_checkpoint(cpm_server_t *s, bool force);
/* The receiving half of the loop (cpm_server_recv.c): a turn's frames,
 * held over when a turn is cut, and the pool of verify_threads that checks
 * their signatures. */
typedef struct cpm_server_recv cpm_server_recv_t;
CPM_MUST_CHECK cpm_server_recv_t *cpm_server_recv_new(unsigned verify_threads);
void cpm_server_recv_destroy(cpm_server_recv_t **p);
/* Receive, verify and dispatch one turn's frames; write requests join the
 * group (s->group), which the caller then commits. */
void cpm_server_take_turn(cpm_server_t *s);
/* Frames of a cut turn wait for the next one: the loop must not sleep. */
bool cpm_server_recv_held(const cpm_server_t *s);
/* The next turn's first frames, taken off the socket before a group's
 * commit and checked on the pool's threads while the loop thread waits for
 * the commit's flushes; they are then held for the next turn, which
 * dispatches them first. Only when nothing is held and the pool has a
 * thread besides the caller's. true: a check was started, and
 * cpm_server_recv_prefetch_finish must follow (after the commit) before the
 * pool's next job. */
bool cpm_server_recv_prefetch_start(cpm_server_t *s);
void cpm_server_recv_prefetch_finish(cpm_server_t *s);
/* Every connection is dropped (cpm_server_rebind): frames held for the next
 * turn came on them and could not be answered, so they go too, as those
 * still queued in the old socket do (counted: rejected.rebind). */
void cpm_server_recv_drop_held(cpm_server_t *s);
/* The pool of verify_threads, which the loop also uses to seal a group's
 * answers beside its commit (cpm_server_loop.c). */
struct cpm_vpool *cpm_server_recv_pool(cpm_server_t *s);
/* The loop's answering, for cpm_server_recv.c (cpm_server_loop.c). */
void cpm_server_count(cpm_server_t *s, const char *what, const char *detail);
void cpm_server_send_error(cpm_server_t *s, zmq_msg_t *route, const Cpm__Envelope *request,
                           const cpm_error_t *e);
void cpm_server_answer_now(cpm_server_t *s, zmq_msg_t *route, cpm_msg_t *m, const handler_t *h);
const handler_t *cpm_server_find_handler(cpm_server_t *s, int type);
CPM_MUST_CHECK int cpm_server_handle_health(cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                                            cpm_reply_t *reply, cpm_error_t *err);

/* Batch requests of items (cpm_server_items.c): apply p's items inside txn
 * (the request's nested transaction), in one nested transaction per run of
 * items; 0, or an error code with p->err filled when the batch is refused
 * whole. */
CPM_MUST_CHECK int cpm_server_apply_items(cpm_server_t *s, MDB_txn *txn, pending_t *p);
/* After the group committed: one group receipt for every applied batch of
 * the group, one frame per connection; sets p->receipted, or p->rc and
 * p->err when no receipt could be made (then answered as a refusal). */
void cpm_server_send_receipts(cpm_server_t *s, int64_t committed_ms);
/* Free p's item answers. */
void cpm_server_items_free(pending_t *p);

/* Groups committed early (cpm_server_held.c). Send frame to the ROUTER peer
 * route now, or keep a copy until the held group is durable: 0 (sent or
 * kept), -1 (unroutable now: counted replies.unroutable). */
int cpm_server_out(cpm_server_t *s, zmq_msg_t *route, const uint8_t *frame, size_t len);
/* The group just committed early (ticket, the event head at its commit) is
 * held: its queued records wait with it. Only when none is held. */
void cpm_server_held_begin(cpm_server_t *s, uint64_t ticket, uint64_t ev_head);
/* When the held group is durable (wait: wait for it): send its frames, hand
 * its records to the pump, let its events be published. Whether a group is
 * still held after. */
bool cpm_server_held_release(cpm_server_t *s, bool wait);
void cpm_server_held_free(cpm_server_t *s);

#endif
