/* baseline: for the same complaints as the mesh phases: seal (client),
 * cpm_verifier_check with the mesh's registry, decode, intake_submit (in a
 * nested transaction per request, as the service loop does) with effects that
 * write the outbox and the event log, committed durably in groups of the size
 * that phase's service achieved. The second row adds the reply the service
 * also makes (seal) and the client checks (verify). */
#include "baseline.h"

#include "report.h"

#include "cpm_err.h"
#include "cpm_eventlog.h"
#include "cpm_outbox.h"
#include "cpm_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fx_send(void *ctx, MDB_txn *txn, const char *member, const char *service,
            const ProtobufCMessage *rec)
{
    fx_ctx_t *f = ctx;
    char stream[512];
    snprintf(stream, sizeof stream, "%s>%s/%s", f->self, member, service);
    size_t len = protobuf_c_message_get_packed_size(rec);
    uint8_t stackbuf[4096], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return CPM_E_INTERNAL;
    protobuf_c_message_pack(rec, buf);
    int rc = cpm_outbox_put(f->st, txn, stream, buf, len, NULL);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

/* As the server's: intake's complaint by reference to its stored bytes. */
static int fx_send_stored(void *ctx, MDB_txn *txn, const char *member, const char *service,
                          const char *db, const void *key, size_t klen, size_t len)
{
    fx_ctx_t *f = ctx;
    char stream[512];
    snprintf(stream, sizeof stream, "%s>%s/%s", f->self, member, service);
    return cpm_outbox_put_ref(f->st, txn, stream, db, key, klen, NULL);
}

int fx_event(void *ctx, MDB_txn *txn, const cpm_event_t *ev)
{
    fx_ctx_t *f = ctx;
    return cpm_eventlog_append(f->st, txn, cpm_now_ms(), ev, NULL);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* A fresh store in a temp folder under the home (the disk the mesh uses). */
cpm_store_t *temp_store(const env_t *e, const char *what, const char *const *dbs, char dir[1200])
{
    char err[256];
    snprintf(dir, 1200, "%s/bench-%s-XXXXXX", e->home, what);
    if (!mkdtemp(dir)) {
        perror("bench_intake: mkdtemp");
        return NULL;
    }
    cpm_store_t *st = cpm_store_open(dir, (size_t)2 << 30, dbs, err, sizeof err);
    if (!st)
        fprintf(stderr, "bench_intake: store %s: %s\n", dir, err);
    return st;
}

void temp_store_drop(cpm_store_t **st, const char *dir)
{
    cpm_store_destroy(st);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int base_open(base_t *b, const env_t *e, fx_ctx_t *fc, cpm_store_t *st, const char *inst)
{
    memset(b, 0, sizeof *b);
    b->e = e;
    b->st = st;
    fc->st = st;
    snprintf(fc->self, sizeof fc->self, "%s", e->self_svc);
    b->fx = (cpm_effects_t){fx_send, fx_event, fc, NULL, fx_send_stored};
    b->in = intake_new(e->rules, e->node, e->ticket_prefix, e->routing_member);
    if (b->in) { /* as the service: contacts sealed to registry keys, places, consumer key */
        intake_set_registry(b->in, e->reg);
        intake_set_places(b->in, e->places, NULL);
        if (e->have_consumer_secret)
            intake_set_consumer_secret(b->in, e->consumer_secret);
    }
    b->server_ver = cpm_verifier_new(300000);
    b->client_ver = cpm_verifier_new(300000);
    cpm_sender_init(&b->client, &e->id, inst);
    cpm_sender_init(&b->server, &e->id, "intake"); /* signs as itself: the key is immaterial */
    snprintf(b->client_self, sizeof b->client_self, "%s/%s", e->id.id, inst);
    return b->in && b->server_ver && b->client_ver ? 0 : -1;
}

void base_close(base_t *b)
{
    intake_destroy(&b->in);
    cpm_verifier_destroy(&b->server_ver);
    cpm_verifier_destroy(&b->client_ver);
}

/* One complaint through seal, verify, decode and intake_submit in txn; with
 * replies, also the reply's seal and its check by the client. 0 or -1. */
int base_one(base_t *b, MDB_txn *txn, const char *tag, uint64_t i, bool replies)
{
    const env_t *e = b->e;
    Cpm__Complaint cp;
    complaint_bufs_t bufs;
    make_complaint(e, tag, i, &cp, &bufs);
    uint8_t *frame = NULL;
    size_t len = 0;
    if (cpm_sender_seal(&b->client, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, e->self_svc, NULL,
                        &cp.base, NULL, &frame, &len) != 0)
        return -1;
    cpm_verify_ctx_t ctx = {.self = e->self_svc, .service = "intake", .transport_user = e->as};
    cpm_msg_t m = {0};
    cpm_verdict_t v = cpm_verifier_check(b->server_ver, e->reg, &ctx, frame, len, cpm_now_ms(), &m);
    free(frame);
    if (v != CPM_V_OK) {
        fprintf(stderr, "bench_intake: baseline verify: %s\n", cpm_verdict_name(v));
        return -1;
    }
    Cpm__Complaint *c = cpm__complaint__unpack(NULL, m.env->payload.len, m.env->payload.data);
    char ticket[INTAKE_TICKET_MAX];
    bool dup = false;
    cpm_error_t err = {0};
    /* As the service loop does: each request in a nested transaction. */
    MDB_txn *child = NULL;
    int rc = c ? cpm_store_begin_child(b->st, txn, &child) : CPM_E_BAD_MESSAGE;
    if (rc == 0)
        rc = intake_submit(b->in, b->st, child, &b->fx, m.env->sender, c, cpm_now_ms(), ticket,
                           &dup, &err);
    if (rc == 0)
        rc = cpm_store_commit(child);
    else if (child)
        cpm_store_abort(&child);
    cpm__complaint__free_unpacked(c, NULL);
    if (rc != 0) {
        fprintf(stderr, "bench_intake: baseline intake_submit: %s %s\n", cpm_err_name(rc),
                err.message);
        cpm_msg_clear(&m);
        return -1;
    }
    if (replies) {
        Cpm__SubmitReply r = CPM__SUBMIT_REPLY__INIT;
        r.ticket = ticket;
        uint8_t *rf = NULL;
        size_t rlen = 0;
        rc = cpm_sender_seal(&b->server, CPM__MSG_TYPE__MSG_SUBMIT_REPLY, b->client_self,
                             m.env->msg_id, &r.base, NULL, &rf, &rlen);
        cpm_verify_ctx_t cctx = {
            .self = b->client_self, .awaiting_reply = "*", .expect_sender = e->id.id};
        cpm_msg_t rm = {0};
        if (rc == 0 && cpm_verifier_check(b->client_ver, e->reg, &cctx, rf, rlen, cpm_now_ms(),
                                          &rm) != CPM_V_OK)
            rc = -1;
        cpm_msg_clear(&rm);
        free(rf);
    }
    cpm_msg_clear(&m);
    return rc == 0 ? 0 : -1;
}

/* Groups of `group` complaints per durable transaction for dur_us. */
int baseline_phase(const env_t *e, size_t group, bool replies, int64_t dur_us, base_result_t *res)
{
    static const char *dbs[] = INTAKE_DBS;
    char dir[1200], tag[32];
    cpm_store_t *st = temp_store(e, "base", dbs, dir);
    fx_ctx_t fc;
    base_t b;
    if (!st)
        return -1;
    snprintf(tag, sizeof tag, "base%zu%c", group, replies ? 'r' : 'n');
    int rc = base_open(&b, e, &fc, st, tag);
    size_t cap = 4096, ng = 0;
    int64_t *gl = malloc(cap * sizeof *gl);
    memset(res, 0, sizeof *res);
    int64_t t0 = mono_us(), cpu0 = thread_cpu_us();
    while (rc == 0 && gl && mono_us() - t0 < dur_us) {
        int64_t g0 = mono_us();
        MDB_txn *txn = NULL;
        if (cpm_store_begin(st, true, &txn) != 0) {
            rc = -1;
            break;
        }
        for (size_t i = 0; rc == 0 && i < group; i++)
            rc = base_one(&b, txn, tag, res->n++, replies);
        if (rc != 0 || cpm_store_commit(txn) != 0) {
            if (rc != 0)
                cpm_store_abort(&txn);
            rc = -1;
            break;
        }
        if (ng == cap) {
            int64_t *p = realloc(gl, (cap *= 2) * sizeof *gl);
            if (!p)
                break;
            gl = p;
        }
        gl[ng++] = mono_us() - g0;
    }
    int64_t el = mono_us() - t0;
    if (rc == 0 && ng) {
        res->rate = (double)res->n * 1e6 / (double)el;
        res->cpu_us = (double)(thread_cpu_us() - cpu0) / (double)res->n;
        qsort(gl, ng, sizeof *gl, cmp_i64);
        res->group_p50_ms = pct_ms(gl, ng, 0.5);
    }
    free(gl);
    base_close(&b);
    temp_store_drop(&st, dir);
    return rc;
}

/* The unit costs that explain the rows: one request seal, one verify, one
 * durable commit of a one-record transaction. */
int cost_model(const env_t *e)
{
    static const char *dbs[] = INTAKE_DBS;
    char dir[1200];
    cpm_store_t *st = temp_store(e, "cost", dbs, dir);
    fx_ctx_t fc;
    base_t b;
    if (!st)
        return -1;
    enum { N = 400 };
    int64_t seal = 0, verify = 0, commit = 0;
    int rc = base_open(&b, e, &fc, st, "cost");
    for (int i = 0; rc == 0 && i < N; i++) {
        Cpm__Complaint cp;
        complaint_bufs_t bufs;
        make_complaint(e, "cost", (uint64_t)i, &cp, &bufs);
        uint8_t *frame = NULL;
        size_t len = 0;
        int64_t t0 = mono_us();
        if (cpm_sender_seal(&b.client, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, e->self_svc, NULL,
                            &cp.base, NULL, &frame, &len) != 0) {
            rc = -1;
            break;
        }
        int64_t t1 = mono_us();
        cpm_verify_ctx_t ctx = {.self = e->self_svc, .service = "intake", .transport_user = e->as};
        cpm_msg_t m = {0};
        cpm_verdict_t v =
            cpm_verifier_check(b.server_ver, e->reg, &ctx, frame, len, cpm_now_ms(), &m);
        int64_t t2 = mono_us();
        cpm_msg_clear(&m);
        free(frame);
        MDB_txn *txn = NULL;
        rc = v == CPM_V_OK ? cpm_store_begin(st, true, &txn) : -1;
        if (rc == 0)
            rc = cpm_store_put_u64(st, txn, "bench.cost", (uint64_t)i);
        rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), -1);
        seal += t1 - t0, verify += t2 - t1, commit += mono_us() - t2;
    }
    if (rc == 0)
        printf("unit costs here: seal (sign) a complaint %.0f us, verify it %.0f us, durable "
               "commit of a one-record txn %.0f us\n",
               (double)seal / N, (double)verify / N, (double)commit / N);
    else
        fprintf(stderr, "bench_intake: the unit cost measurement failed\n");
    base_close(&b);
    temp_store_drop(&st, dir);
    return rc == 0 ? 0 : -1;
}
