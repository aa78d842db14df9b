/* exchange_checkpoint: checkpoints and co-signing. See exchange_checkpoint.h. */
#include "exchange_checkpoint.h"

#include "cpm_client.h"
#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "cpm_util.h"
#include "cpm_verifier.h"
#include "cpm_xlog.h"
#include "exchange_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the store ----------------------------------------------------------- */

static int put_cp(cpm_store_t *st, MDB_txn *txn, uint64_t seq, const Cpm__SignedCheckpoint *sc)
{
    uint8_t key[8];
    cpm_put_be64(key, seq);
    size_t len = cpm__signed_checkpoint__get_packed_size(sc);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return CPM_E_INTERNAL;
    cpm__signed_checkpoint__pack(sc, buf);
    int rc = cpm_store_put(st, txn, EXCHANGE_CHECKPOINTS_DB, key, 8, buf, len);
    free(buf);
    return rc;
}

static int unpack_cp(const void *v, size_t len, Cpm__SignedCheckpoint **out)
{
    *out = cpm__signed_checkpoint__unpack(cpm_pb_budget(len), len, v);
    return *out ? 0 : CPM_E_BAD_MESSAGE;
}

int exchange_checkpoint_get(cpm_store_t *st, MDB_txn *txn, uint64_t seq,
                            Cpm__SignedCheckpoint **out)
{
    uint8_t key[8];
    const void *v;
    size_t len;
    *out = NULL;
    cpm_put_be64(key, seq);
    int rc = cpm_store_get(st, txn, EXCHANGE_CHECKPOINTS_DB, key, 8, &v, &len);
    return rc != 0 ? rc : unpack_cp(v, len, out);
}

/* seq 0 with last: the last checkpoint; else the first at or after seq. */
static int seek(cpm_store_t *st, MDB_txn *txn, uint64_t seq, bool last, Cpm__SignedCheckpoint **out,
                uint64_t *cp_seq)
{
    MDB_cursor *cur;
    *out = NULL;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, EXCHANGE_CHECKPOINTS_DB), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    uint8_t key[8];
    cpm_put_be64(key, seq);
    MDB_val k = {8, key}, v;
    rc = mdb_cursor_get(cur, &k, &v, last ? MDB_LAST : MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == 8) {
        if (cp_seq)
            *cp_seq = cpm_get_be64(k.mv_data);
        rc = unpack_cp(v.mv_data, v.mv_size, out);
    } else {
        rc = rc == MDB_NOTFOUND || rc == 0 ? CPM_E_NOT_FOUND : cpm_store_err(rc);
    }
    mdb_cursor_close(cur);
    return rc;
}

int exchange_checkpoint_at_or_after(cpm_store_t *st, MDB_txn *txn, uint64_t seq,
                                    Cpm__SignedCheckpoint **out, uint64_t *cp_seq)
{
    return seek(st, txn, seq, false, out, cp_seq);
}

int exchange_checkpoint_last(cpm_store_t *st, MDB_txn *txn, uint64_t *cp_seq,
                             Cpm__SignedCheckpoint **out)
{
    return seek(st, txn, 0, true, out, cp_seq);
}

int exchange_checkpoint_add_cosig(cpm_store_t *st, MDB_txn *txn, uint64_t seq,
                                  const Cpm__Cosignature *c)
{
    Cpm__SignedCheckpoint *sc;
    int rc = exchange_checkpoint_get(st, txn, seq, &sc);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < sc->n_cosignatures; i++)
        if (strcmp(sc->cosignatures[i]->cosigner, c->cosigner) == 0) {
            cpm__signed_checkpoint__free_unpacked(sc, NULL);
            return 0;
        }
    Cpm__SignedCheckpoint n = *sc;
    Cpm__Cosignature **all = calloc(sc->n_cosignatures + 1, sizeof *all);
    if (!all) {
        cpm__signed_checkpoint__free_unpacked(sc, NULL);
        return CPM_E_INTERNAL;
    }
    if (sc->n_cosignatures)
        memcpy(all, sc->cosignatures, sc->n_cosignatures * sizeof *all);
    all[sc->n_cosignatures] = (Cpm__Cosignature *)c;
    n.cosignatures = all;
    n.n_cosignatures = sc->n_cosignatures + 1;
    rc = put_cp(st, txn, seq, &n);
    free(all);
    cpm__signed_checkpoint__free_unpacked(sc, NULL);
    return rc;
}

int exchange_checkpoint_make(const exchange_t *x, cpm_sender_t *s, cpm_store_t *st, MDB_txn *txn,
                             int64_t now_ms, uint64_t *seq_out)
{
    uint64_t head;
    uint8_t hash[32];
    *seq_out = 0;
    int rc = exchange_log_head(st, txn, &head, hash);
    if (rc != 0 || head == 0)
        return rc;
    uint8_t *frame = NULL;
    size_t len = 0;
    if (cpm_xcheckpoint_seal(s, x->node, head, hash, now_ms, &frame, &len) != 0)
        return CPM_E_INTERNAL;
    Cpm__SignedCheckpoint sc = CPM__SIGNED_CHECKPOINT__INIT;
    sc.checkpoint.data = frame;
    sc.checkpoint.len = len;
    exchange_log_entry_t le = {"checkpoint", x->node, NULL, NULL, 0, frame, len};
    if ((rc = put_cp(st, txn, head, &sc)) == 0 &&
        (rc = exchange_log_append(st, txn, now_ms, &le, NULL)) == 0)
        *seq_out = head;
    free(frame);
    return rc;
}

/* ---- the co-signer ------------------------------------------------------- */

static int refuse(const exchange_t *x, const char *counter, cpm_error_t *err, int code,
                  const char *field, const char *what)
{
    exchange_count(x, counter);
    cpm_warn("exchange: co-signing refused: %s", what);
    return cpm_error_set(err, code, field, "%s", what);
}

int exchange_cosign(const exchange_t *x, cpm_store_t *st, MDB_txn *txn, const char *sender,
                    const uint8_t *frame, size_t frame_len, const Cpm__CosignRequest *req,
                    int64_t now_ms, Cpm__Cosignature *out, uint8_t sig[64], cpm_error_t *err)
{
    const char *rc_ = "exchange.cosign_refused";
    char what[320];
    cpm_xlog_problem_t p = {0};
    Cpm__Checkpoint *cp = NULL;
    if (cpm_xcheckpoint_verify(x->reg, req->checkpoint.data, req->checkpoint.len, &cp, &p) != 0)
        return refuse(x, rc_, err, CPM_E_INVALID, "checkpoint", p.what);
    cpm_slice_t envb;
    const Cpm__Member *signer = NULL;
    int rc = 0;
    int64_t skew = now_ms - cp->at_ms;
    if (cpm_verify_signed(x->reg, req->checkpoint.data, req->checkpoint.len, &envb, &signer) !=
        CPM_V_OK) {
        rc = refuse(x, rc_, err, CPM_E_INVALID, "checkpoint",
                    "the checkpoint is not signed with its agency's current key");
    } else if (!sender || strcmp(sender, cp->agency) != 0) {
        snprintf(what, sizeof what, "%.100s may not ask for %.100s's checkpoint to be co-signed",
                 sender ? sender : "", cp->agency);
        rc = refuse(x, rc_, err, CPM_E_FORBIDDEN, "sender", what);
    } else if (strcmp(cp->agency, x->node) == 0) {
        rc = refuse(x, rc_, err, CPM_E_INVALID, "checkpoint",
                    "an agency does not co-sign its own checkpoint");
    } else if (skew > x->max_skew_ms || -skew > x->max_skew_ms) {
        snprintf(what, sizeof what,
                 "at_ms %lld is %lld ms from this exchange's clock (at most %lld): no backdating",
                 (long long)cp->at_ms, (long long)skew, (long long)x->max_skew_ms);
        rc = refuse(x, rc_, err, CPM_E_INVALID, "at_ms", what);
    }
    if (rc != 0) {
        cpm__checkpoint__free_unpacked(cp, NULL);
        return rc;
    }
    Cpm__Checkpoint *last = NULL;
    rc = cpm_store_get_msg(st, txn, EXCHANGE_COSIGNED_DB, cp->agency, &cpm__checkpoint__descriptor,
                           (ProtobufCMessage **)&last);
    if (rc == 0) {
        bool same_head =
            last->head_hash.len == 32 && memcmp(last->head_hash.data, cp->head_hash.data, 32) == 0;
        if (cp->seq == last->seq && !same_head) {
            snprintf(what, sizeof what,
                     "%.100s's checkpoint %llu names another head than the one co-signed: a fork",
                     cp->agency, (unsigned long long)cp->seq);
            rc = refuse(x, "exchange.cosign_fork", err, CPM_E_CONFLICT, "checkpoint", what);
        } else if (cp->seq < last->seq) {
            snprintf(what, sizeof what,
                     "%.100s's checkpoint %llu is not above %llu, already co-signed", cp->agency,
                     (unsigned long long)cp->seq, (unsigned long long)last->seq);
            rc = refuse(x, rc_, err, CPM_E_CONFLICT, "checkpoint", what);
        }
        cpm__checkpoint__free_unpacked(last, NULL);
    } else if (rc == CPM_E_NOT_FOUND) {
        rc = 0;
    }
    Cpm__Checkpoint keep = CPM__CHECKPOINT__INIT;
    keep.agency = cp->agency;
    keep.seq = cp->seq;
    keep.head_hash = cp->head_hash;
    keep.at_ms = cp->at_ms;
    if (rc == 0)
        rc = cpm_store_put_msg(st, txn, EXCHANGE_COSIGNED_DB, cp->agency, &keep.base);
    if (rc == 0 && cpm_xcosign_sign(x->id->sign_sk, req->checkpoint.data, req->checkpoint.len,
                                    now_ms, sig) != 0)
        rc = CPM_E_INTERNAL;
    if (rc == 0) {
        out->cosigner = (char *)x->node;
        out->at_ms = now_ms;
        out->signature.data = sig;
        out->signature.len = 64;
        uint8_t reply[512];
        size_t rlen = cpm__cosignature__get_packed_size(out);
        if (rlen > sizeof reply) {
            rc = CPM_E_INTERNAL;
        } else {
            cpm__cosignature__pack(out, reply);
            exchange_log_entry_t le = {"cosign", cp->agency, NULL, frame, frame_len, reply, rlen};
            rc = exchange_log_append(st, txn, now_ms, &le, NULL);
        }
    }
    if (rc == 0)
        exchange_count(x, "exchange.cosign_given");
    cpm__checkpoint__free_unpacked(cp, NULL);
    return rc;
}

/* ---- the requester (tick) ------------------------------------------------ */

struct exchange_ckpt {
    cpm_client_t *cli;
    cpm_sender_t snd;
    bool loaded;
    uint64_t last_cp, scanned, n_new;
    bool traffic; /* entries other than checkpoints and cosignatures since last_cp */
    int64_t last_cp_ms;
    uint64_t pending; /* checkpoint awaiting a cosignature, 0: none */
    uint8_t *frame;   /* its frame */
    size_t frame_len;
    bool inflight, stalled;
    char peer[128];
    char msg_id[33];
    int64_t sent_ms, round_ms;
    size_t rot, tried;
};

int exchange_ckpt_new(exchange_ckpt_t **out, cpm_server_t *srv)
{
    exchange_ckpt_t *k = calloc(1, sizeof *k);
    if (!k)
        return -1;
    cpm_error_t err = {0};
    if (cpm_client_new(&k->cli, cpm_server_zctx(srv), cpm_server_registry(srv),
                       cpm_server_identity(srv), "exchange.ckpt", &err) != 0) {
        cpm_error("exchange: no client for co-signing: %s", err.message);
        free(k);
        return -1;
    }
    cpm_sender_init(&k->snd, cpm_server_identity(srv), "exchange.ckpt");
    *out = k;
    return 0;
}

void exchange_ckpt_destroy(exchange_ckpt_t **p)
{
    if (!p || !*p)
        return;
    cpm_client_destroy(&(*p)->cli);
    free((*p)->frame);
    free(*p);
    *p = NULL;
}

void exchange_ckpt_registry(exchange_ckpt_t *k, const cpm_registry_t *reg)
{
    if (k)
        cpm_client_set_registry(k->cli, reg);
}

static void set_pending(exchange_ckpt_t *k, uint64_t seq, const uint8_t *frame, size_t len)
{
    free(k->frame);
    k->frame = NULL;
    k->pending = 0;
    k->inflight = false;
    k->tried = 0;
    k->round_ms = 0;
    if (seq && (k->frame = malloc(len ? len : 1)) != NULL) {
        memcpy(k->frame, frame, len);
        k->frame_len = len;
        k->pending = seq;
    }
}

static void load(exchange_ckpt_t *k, cpm_server_t *srv)
{
    cpm_store_t *st = cpm_server_store(srv);
    MDB_txn *txn;
    if (cpm_store_begin(st, false, &txn) != 0)
        return;
    Cpm__SignedCheckpoint *sc = NULL;
    uint64_t seq = 0;
    if (exchange_checkpoint_last(st, txn, &seq, &sc) == 0) {
        k->last_cp = seq;
        k->scanned = seq + 1; /* its own "checkpoint" entry */
        if (sc->n_cosignatures == 0)
            set_pending(k, seq, sc->checkpoint.data, sc->checkpoint.len);
        cpm__signed_checkpoint__free_unpacked(sc, NULL);
    }
    cpm_store_abort(&txn);
    k->last_cp_ms = cpm_now_ms();
    k->loaded = true;
}

/* Count the entries appended since the last look (at most 4096 a tick). */
static void scan(exchange_ckpt_t *k, cpm_server_t *srv)
{
    cpm_store_t *st = cpm_server_store(srv);
    MDB_txn *txn;
    uint64_t head = 0;
    if (cpm_store_begin(st, false, &txn) != 0)
        return;
    if (exchange_log_head(st, txn, &head, NULL) == 0)
        for (int n = 0; k->scanned < head && n < 4096; n++) {
            Cpm__LogRecord *r = NULL;
            if (exchange_log_get(st, txn, k->scanned + 1, &r) != 0)
                break;
            Cpm__LogEntry *e =
                cpm__log_entry__unpack(cpm_pb_budget(r->body.len), r->body.len, r->body.data);
            if (e && strcmp(e->kind, "checkpoint") != 0) {
                k->n_new++;
                if (strcmp(e->kind, "cosign") != 0)
                    k->traffic = true;
            }
            if (e)
                cpm__log_entry__free_unpacked(e, NULL);
            cpm__log_record__free_unpacked(r, NULL);
            k->scanned++;
        }
    cpm_store_abort(&txn);
}

typedef struct {
    const exchange_t *x;
    exchange_ckpt_t *k;
    uint64_t seq;
    const Cpm__Cosignature *cosig;
} wctx_t;

static int write_make(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    wctx_t *w = ctx;
    int64_t now = cpm_now_ms();
    int rc = exchange_checkpoint_make(w->x, &w->k->snd, cpm_server_store(srv), txn, now, &w->seq);
    if (rc != 0 || w->seq == 0)
        return rc;
    char note[64];
    snprintf(note, sizeof note, "checkpoint at seq %llu", (unsigned long long)w->seq);
    cpm_event_t ev = {.kind = "exchange.checkpoint", .agency = w->x->node, .note = note};
    return cpm_server_event(srv, txn, &ev);
}

static int write_cosig(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    wctx_t *w = ctx;
    return exchange_checkpoint_add_cosig(cpm_server_store(srv), txn, w->seq, w->cosig);
}

/* The i-th (mod n) peer exchange other than this node, in registry order. */
static const char *peer_at(const exchange_t *x, size_t i, size_t *n_out)
{
    const Cpm__Registry *doc = cpm_registry_doc(x->reg);
    size_t n = 0;
    for (size_t j = 0; j < doc->n_members; j++)
        if (strcmp(doc->members[j]->id, x->node) != 0 &&
            cpm_member_service(doc->members[j], "exchange"))
            n++;
    *n_out = n;
    if (n == 0)
        return NULL;
    i %= n;
    for (size_t j = 0; j < doc->n_members; j++)
        if (strcmp(doc->members[j]->id, x->node) != 0 &&
            cpm_member_service(doc->members[j], "exchange") && i-- == 0)
            return doc->members[j]->id;
    return NULL;
}

static void next_peer(exchange_ckpt_t *k, const exchange_t *x, const char *why)
{
    cpm_info("exchange: checkpoint %llu: %s %s; asking the next peer",
             (unsigned long long)k->pending, k->peer, why);
    exchange_count(x, "exchange.cosign_peer_failed");
    k->inflight = false;
    k->tried++;
}

static void got_reply(exchange_ckpt_t *k, const exchange_t *x, cpm_server_t *srv, cpm_msg_t *m)
{
    cpm_error_t err = {0};
    if (cpm_client_reply_error(m, &err) != 0) {
        char why[200];
        snprintf(why, sizeof why, "refused (%d %s: %.120s)", err.code, err.field, err.message);
        next_peer(k, x, why);
        return;
    }
    Cpm__Cosignature *c = NULL;
    if (m->env->type == CPM__MSG_TYPE__MSG_EXCHANGE_COSIGN_REPLY)
        c = cpm__cosignature__unpack(cpm_pb_budget(m->env->payload.len), m->env->payload.len,
                                     m->env->payload.data);
    cpm_xlog_problem_t p = {0};
    if (!c || !c->cosigner || strcmp(c->cosigner, k->peer) != 0 ||
        cpm_xcosign_verify(x->reg, c, x->node, k->frame, k->frame_len, k->pending, &p) != 0) {
        next_peer(k, x, c ? "answered a cosignature that does not verify" : "answered garbage");
        if (c)
            cpm__cosignature__free_unpacked(c, NULL);
        return;
    }
    wctx_t w = {x, k, k->pending, c};
    int rc = cpm_server_write(srv, write_cosig, &w);
    cpm__cosignature__free_unpacked(c, NULL);
    if (rc != 0) {
        cpm_warn("exchange: checkpoint %llu: cannot store the cosignature (%d)",
                 (unsigned long long)k->pending, rc);
        k->inflight = false;
        return;
    }
    exchange_count(x, "exchange.cosigned");
    cpm_info("exchange: checkpoint %llu co-signed by %s%s", (unsigned long long)k->pending, k->peer,
             k->stalled ? " (co-signing resumed)" : "");
    k->stalled = false;
    set_pending(k, 0, NULL, 0);
}

static void cosign_step(exchange_ckpt_t *k, const exchange_t *x, cpm_server_t *srv, int64_t now)
{
    /* per peer asked (cosign_wait_ms, default 3 s); a round without a
     * cosignature is retried after three times that */
    int64_t wait = cpm_server_config(srv)->cosign_wait_ms;
    if (k->inflight) {
        cpm_msg_t m = {0};
        cpm_error_t err = {0};
        /* a short look: the reply is read on a later tick, never waited for */
        int rc = cpm_client_recv(k->cli, k->peer, "exchange", 5, &m, &err);
        if (rc == 0) {
            bool ours = m.env->correlation_id && strcmp(m.env->correlation_id, k->msg_id) == 0;
            if (ours)
                got_reply(k, x, srv, &m);
            cpm_msg_clear(&m);
            if (ours)
                return;
        } else if (rc != CPM_E_TIMEOUT) {
            char why[200];
            snprintf(why, sizeof why, "failed (%.150s)", err.message);
            next_peer(k, x, why);
            return;
        }
        if (k->inflight && now - k->sent_ms > wait)
            next_peer(k, x, "did not answer in time");
        return;
    }
    size_t n = 0;
    peer_at(x, 0, &n);
    if (k->tried >= n) { /* a whole round without a cosignature */
        if (!k->stalled) {
            k->stalled = true;
            exchange_count(x, "exchange.cosign_stalled");
            cpm_warn("exchange: checkpoint %llu stays pending: %s; the exchange goes on and "
                     "retries every %lld ms",
                     (unsigned long long)k->pending,
                     n ? "no peer exchange co-signed it" : "no peer exchange in the registry",
                     (long long)(wait * 3));
        }
        if (k->round_ms == 0)
            k->round_ms = now;
        if (now - k->round_ms < wait * 3 || n == 0)
            return;
        k->tried = 0;
        k->round_ms = 0;
    }
    const char *peer = peer_at(x, k->rot++, &n);
    if (!peer)
        return;
    snprintf(k->peer, sizeof k->peer, "%s", peer);
    Cpm__CosignRequest req = CPM__COSIGN_REQUEST__INIT;
    req.checkpoint.data = k->frame;
    req.checkpoint.len = k->frame_len;
    cpm_error_t err = {0};
    if (cpm_client_send(k->cli, k->peer, "exchange", CPM__MSG_TYPE__MSG_EXCHANGE_COSIGN, &req.base,
                        k->msg_id, &err) != 0) {
        next_peer(k, x, "cannot be reached");
        return;
    }
    if (k->tried > 0)
        exchange_count(x, "exchange.cosign_retry");
    k->inflight = true;
    k->sent_ms = now;
}

void exchange_ckpt_tick(exchange_ckpt_t *k, const exchange_t *x, cpm_server_t *srv)
{
    if (!k)
        return;
    if (!k->loaded)
        load(k, srv);
    const cpm_config_t *cfg = cpm_server_config(srv);
    int64_t now = cpm_now_ms();
    scan(k, srv);
    uint64_t every = cfg->checkpoint_every ? cfg->checkpoint_every : 256;
    int64_t period = (int64_t)(cfg->checkpoint_s ? cfg->checkpoint_s : 60) * 1000;
    if (k->n_new >= every || (k->traffic && now - k->last_cp_ms >= period)) {
        wctx_t w = {x, k, 0, NULL};
        int rc = cpm_server_write(srv, write_make, &w);
        if (rc == 0 && w.seq) {
            exchange_count(x, "exchange.checkpoints");
            if (k->pending)
                exchange_count(x, "exchange.cosign_superseded");
            MDB_txn *txn;
            Cpm__SignedCheckpoint *sc = NULL;
            cpm_store_t *st = cpm_server_store(srv);
            if (cpm_store_begin(st, false, &txn) == 0) {
                if (exchange_checkpoint_get(st, txn, w.seq, &sc) == 0) {
                    set_pending(k, w.seq, sc->checkpoint.data, sc->checkpoint.len);
                    cpm__signed_checkpoint__free_unpacked(sc, NULL);
                }
                cpm_store_abort(&txn);
            }
            k->last_cp = w.seq;
            k->scanned = w.seq + 1;
            k->n_new = 0;
            k->traffic = false;
            k->last_cp_ms = now;
        } else if (rc != 0) {
            cpm_warn("exchange: cannot make a checkpoint (%d); retried next tick", rc);
        }
    }
    if (k->pending)
        cosign_step(k, x, srv, now);
}
