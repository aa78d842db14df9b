/* cpmctl inspector checkout / sync: the device talks to its agency's
 * inspection service (docs/protocol.md 16.2).
 *
 * sync: records not yet accepted go up in batches (<= 500 records, <= 1 MiB
 * of frames), each frame the same bytes as first signed; the node answers
 * per record (stored, same, conflict, refused) and names the evidence it
 * lacks. Then each missing file goes up in chunks of up to 1 MiB from what
 * the node says it holds (an empty chunk asks), so an interrupted upload
 * resumes where it stopped and nothing that arrived is sent again. What the
 * node accepted is noted on the device: a second sync sends nothing. */
#include "ctl_inspector.h"

#include "ctl_args.h"
#include "cpm_fieldrec.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UPLOAD_BYTES (1000u * 1000u) /* frames per upload: under the 1 MiB limit */
#define CALL_ATTEMPTS 3

typedef struct {
    ctl_t c;
    const ctl_field_t *w;
    field_device_t d;
    const char *agency;
    /* figures */
    uint64_t records_sent, stored, same, conflict, refused;
    uint64_t evidence_files, evidence_bytes_sent, evidence_resumed, evidence_unwritten,
        record_bytes, frame_bytes, messages;
    uint64_t total_bytes, done_bytes; /* for the progress bar */
    bool bar;
    size_t env_overhead; /* bytes a signed envelope adds to a payload */
    MDB_txn *batch;      /* verdicts of one upload: one durable commit, not one per record */
    json_t *refusals;    /* --json: why records were refused (the first REFUSALS_SHOWN) */
} sync_t;

#define REFUSALS_SHOWN 100

static int fail_e(const ctl_field_t *w, const cpm_error_t *e)
{
    if (w->json)
        ctl_print_json(json_pack("{s:b,s:s,s:s,s:s}", "ok", 0, "error", cpm_err_name(e->code),
                                 "field", e->field, "message", e->message));
    else
        fprintf(stderr, "cpmctl inspector: %s%s%s\n", e->field, *e->field ? ": " : "", e->message);
    return 1;
}

static int connect_agency(sync_t *s, const ctl_opts_t *o)
{
    if (ctl_open_as(&s->c, o, s->w->as) != 0)
        return -1;
    const Cpm__Member *me = cpm_registry_member(s->c.reg, s->w->as);
    if (!me || !me->agency || !*me->agency) {
        cpm_error_t e;
        cpm_error_set(&e, CPM_E_NOT_FOUND, "as",
                      "%s is not a member with an agency in the registry", s->w->as);
        fail_e(s->w, &e);
        ctl_close(&s->c);
        return -1;
    }
    s->agency = me->agency;
    /* the size of a signed envelope around a payload, measured once */
    cpm_sender_t snd;
    cpm_sender_init(&snd, &s->c.id, "cli.0000000000.00000000");
    uint8_t *f = NULL;
    size_t len = 0;
    char rcp[200];
    snprintf(rcp, sizeof rcp, "%s/inspection", s->agency);
    if (cpm_sender_seal_raw(&snd, CPM__MSG_TYPE__MSG_FIELD_UPLOAD, rcp, NULL, NULL, 0, NULL, &f,
                            &len) == 0)
        s->env_overhead = len + 40; /* + correlation id of a reply */
    free(f);
    return 0;
}

static void progress(sync_t *s)
{
    if (!s->bar || !s->total_bytes)
        return;
    int width = 30, full = (int)(width * s->done_bytes / s->total_bytes);
    fprintf(stderr, "\r[%.*s%*s] %6.1f / %6.1f MB", full, "##############################",
            width - full, "", s->done_bytes / 1e6, s->total_bytes / 1e6);
    if (s->done_bytes >= s->total_bytes)
        fputc('\n', stderr);
    fflush(stderr);
}

/* One request and its reply, counted; the reply's payload unpacked by desc. */
static ProtobufCMessage *call(sync_t *s, Cpm__MsgType type, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *desc, cpm_error_t *e)
{
    cpm_msg_t reply = {0};
    if (cpm_client_call_retry(s->c.client, s->agency, "inspection", type, req, s->c.timeout_ms,
                              CALL_ATTEMPTS, &reply, e) != 0)
        return NULL;
    s->messages += 2;
    s->frame_bytes +=
        protobuf_c_message_get_packed_size(req) + reply.env->payload.len + 2 * s->env_overhead;
    ProtobufCMessage *m =
        protobuf_c_message_unpack(desc, NULL, reply.env->payload.len, reply.env->payload.data);
    cpm_msg_clear(&reply);
    if (!m)
        cpm_error_set(e, CPM_E_BAD_MESSAGE, "reply", "the agency's reply does not decode");
    return m;
}

/* ---- checkout ---------------------------------------------------------------- */

int ctl_inspector_checkout(const ctl_opts_t *o, const ctl_field_t *w, int argc, char **argv)
{
    (void)argc, (void)argv;
    sync_t s = {.w = w};
    if (connect_agency(&s, o) != 0)
        return 1;
    cpm_error_t e = {0};
    int rc = field_device_open(&s.d, w->home, w->as, w->device_dir, &e);
    Cpm__FieldCheckout q = CPM__FIELD_CHECKOUT__INIT;
    Cpm__FieldCheckoutReply *r =
        rc ? NULL
           : (Cpm__FieldCheckoutReply *)call(&s, CPM__MSG_TYPE__MSG_FIELD_CHECKOUT, &q.base,
                                             &cpm__field_checkout_reply__descriptor, &e);
    MDB_txn *txn = NULL;
    if (r && (rc = cpm_store_begin(s.d.st, true, &txn)) == 0) {
        /* The reply is the whole of the work now assigned: an inspection
         * closed or given to others since, and its case facts, leave the
         * device (nothing more is recorded on it); records stay and sync. */
        int mrc = cpm_store_mdb_drop(s.d.st, txn, cpm_store_dbi(s.d.st, FIELD_DEV_INSPECTIONS));
        if (mrc == 0)
            mrc = cpm_store_mdb_drop(s.d.st, txn, cpm_store_dbi(s.d.st, FIELD_DEV_CASES));
        rc = mrc ? cpm_store_err(mrc) : 0;
        for (size_t i = 0; rc == 0 && i < r->n_inspections; i++)
            rc = cpm_store_put_msg(s.d.st, txn, FIELD_DEV_INSPECTIONS, r->inspections[i]->id,
                                   &r->inspections[i]->base);
        for (size_t i = 0; rc == 0 && i < r->n_cases; i++)
            rc = cpm_store_put_msg(s.d.st, txn, FIELD_DEV_CASES, r->cases[i]->ticket,
                                   &r->cases[i]->base);
        rc = rc ? (cpm_store_abort(&txn), rc) : cpm_store_commit(txn);
        if (rc)
            cpm_error_set(&e, rc, "device", "storing the checkout: %s", cpm_err_name(rc));
    }
    int exit_code = 0;
    if (!r || rc) {
        exit_code = fail_e(w, &e);
    } else if (w->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_inspections; i++)
            json_array_append_new(a, json_string(ctl_utf8(r->inspections[i]->id)));
        ctl_print_json(
            json_pack("{s:b,s:o,s:I}", "ok", 1, "inspections", a, "cases", (json_int_t)r->n_cases));
    } else {
        for (size_t i = 0; i < r->n_inspections; i++)
            printf("%s  %s%s%s\n", ctl_safe(r->inspections[i]->id),
                   ctl_safe(r->inspections[i]->business), *r->inspections[i]->address ? ", " : "",
                   ctl_safe(r->inspections[i]->address));
        printf("%zu inspections, %zu cases checked out\n", r->n_inspections, r->n_cases);
    }
    if (r)
        cpm__field_checkout_reply__free_unpacked(r, NULL);
    if (s.d.st)
        field_device_close(&s.d);
    ctl_close(&s.c);
    return exit_code;
}

/* ---- sync -------------------------------------------------------------------- */

typedef struct {
    char key[300];
    ProtobufCBinaryData frame;
    int verdict;
} rec_t;

typedef struct {
    rec_t *v;
    size_t n, cap;
    uint8_t (*ev)[32]; /* evidence to send, deduplicated */
    uint64_t *ev_size;
    size_t n_ev;
} work_t;

static bool accepted(int v)
{
    return v == CPM__FIELD_VERDICT__FIELD_VERDICT_STORED ||
           v == CPM__FIELD_VERDICT__FIELD_VERDICT_SAME ||
           v == CPM__FIELD_VERDICT__FIELD_VERDICT_CONFLICT;
}

static int collect(void *ctx, const char *key, const uint8_t *frame, size_t len, int verdict)
{
    work_t *w = ctx;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        rec_t *g = realloc(w->v, cap * sizeof *g);
        if (!g)
            return CPM_E_INTERNAL;
        w->v = g;
        w->cap = cap;
    }
    rec_t *r = &w->v[w->n];
    snprintf(r->key, sizeof r->key, "%s", key);
    r->frame.data = malloc(len);
    if (!r->frame.data)
        return CPM_E_INTERNAL;
    memcpy(r->frame.data, frame, len);
    r->frame.len = len;
    r->verdict = verdict;
    w->n++;
    return 0;
}

static bool evidence_done(sync_t *s, const uint8_t *hash)
{
    char key[80];
    cpm_evidence_hex(hash, key + 2);
    key[0] = 'E', key[1] = 0x1f;
    MDB_txn *txn = s->batch;
    if (!txn && cpm_store_begin(s->d.st, false, &txn) != 0)
        return false;
    const void *v;
    size_t vl;
    bool done = cpm_store_get(s->d.st, txn, FIELD_DEV_SYNC, key, 66, &v, &vl) == 0;
    if (txn != s->batch)
        cpm_store_abort(&txn);
    return done;
}

static int note(sync_t *s, const char *key, size_t klen, uint8_t verdict)
{
    if (s->batch)
        return cpm_store_put(s->d.st, s->batch, FIELD_DEV_SYNC, key, klen, &verdict, 1);
    MDB_txn *txn;
    int rc = cpm_store_begin(s->d.st, true, &txn);
    if (rc)
        return rc;
    rc = cpm_store_put(s->d.st, txn, FIELD_DEV_SYNC, key, klen, &verdict, 1);
    return rc ? (cpm_store_abort(&txn), rc) : cpm_store_commit(txn);
}

static int note_evidence_done(sync_t *s, const uint8_t *hash)
{
    char key[80];
    cpm_evidence_hex(hash, key + 2);
    key[0] = 'E', key[1] = 0x1f;
    return note(s, key, 66, 1);
}

/* hash goes on the list to send unless the node has it (missing says not). */
static int want_evidence(sync_t *s, work_t *w, const Cpm__EvidenceRef *ref)
{
    for (size_t i = 0; i < w->n_ev; i++)
        if (!memcmp(w->ev[i], ref->blake2b.data, 32))
            return 0;
    if (evidence_done(s, ref->blake2b.data))
        return 0;
    uint8_t(*g)[32] = realloc(w->ev, (w->n_ev + 1) * sizeof *g);
    uint64_t *gs = g ? realloc(w->ev_size, (w->n_ev + 1) * sizeof *gs) : NULL;
    if (g)
        w->ev = g;
    if (!gs)
        return CPM_E_INTERNAL;
    w->ev_size = gs;
    memcpy(w->ev[w->n_ev], ref->blake2b.data, 32);
    w->ev_size[w->n_ev++] = ref->size;
    s->total_bytes += ref->size;
    return 0;
}

/* The evidence of an accepted record: missing at the node goes on the list,
 * the rest is noted as done. */
static int evidence_of(sync_t *s, work_t *w, const rec_t *r, const Cpm__FieldRecordResult *res)
{
    cpm_fieldrec_t f;
    if (cpm_fieldrec_parse(r->frame.data, r->frame.len, &f, NULL) != 0)
        return 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < f.rec->n_evidence; i++) {
        const Cpm__EvidenceRef *ref = f.rec->evidence[i];
        bool missing = !res;
        for (size_t k = 0; res && k < res->n_missing_evidence; k++)
            missing |= res->missing_evidence[k].len == 32 &&
                       !memcmp(res->missing_evidence[k].data, ref->blake2b.data, 32);
        rc = missing ? want_evidence(s, w, ref) : note_evidence_done(s, ref->blake2b.data);
    }
    cpm_fieldrec_clear(&f);
    return rc;
}

static int upload_batch(sync_t *s, work_t *w, size_t *idx, size_t n, cpm_error_t *e)
{
    Cpm__FieldUpload up = CPM__FIELD_UPLOAD__INIT;
    ProtobufCBinaryData *frames = calloc(n, sizeof *frames);
    if (!frames)
        return cpm_error_set(e, CPM_E_INTERNAL, "memory", "out of memory");
    for (size_t i = 0; i < n; i++)
        frames[i] = w->v[idx[i]].frame;
    up.records = frames;
    up.n_records = n;
    Cpm__FieldUploadReply *r = (Cpm__FieldUploadReply *)call(
        s, CPM__MSG_TYPE__MSG_FIELD_UPLOAD, &up.base, &cpm__field_upload_reply__descriptor, e);
    free(frames);
    if (!r)
        return e->code ? e->code : CPM_E_INTERNAL;
    int rc = cpm_store_begin(s->d.st, true, &s->batch);
    if (rc)
        cpm_error_set(e, rc, "device", "%s", cpm_err_name(rc));
    if (rc == 0 && r->n_results != n)
        rc = cpm_error_set(e, CPM_E_BAD_MESSAGE, "results",
                           "the reply has %zu results for %zu records", r->n_results, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rec_t *rec = &w->v[idx[i]];
        const Cpm__FieldRecordResult *res = r->results[i];
        s->records_sent++;
        s->done_bytes += rec->frame.len;
        switch (res->verdict) {
        case CPM__FIELD_VERDICT__FIELD_VERDICT_STORED:
            s->stored++;
            break;
        case CPM__FIELD_VERDICT__FIELD_VERDICT_SAME:
            s->same++;
            break;
        case CPM__FIELD_VERDICT__FIELD_VERDICT_CONFLICT:
            s->conflict++;
            break;
        default:
            s->refused++;
            if (s->w->json && s->refused <= REFUSALS_SHOWN) {
                if (!s->refusals)
                    s->refusals = json_array();
                json_array_append_new(s->refusals,
                                      json_pack("{s:s,s:s,s:s}", "id", ctl_utf8(res->id), "field",
                                                ctl_utf8(res->field), "message",
                                                ctl_utf8(res->message)));
            }
            if (!s->w->json)
                fprintf(stderr, "record %s refused: %s: %s\n", ctl_safe(res->id),
                        ctl_safe(res->field), ctl_safe(res->message));
        }
        rec->verdict = res->verdict;
        rc = note(s, rec->key, strlen(rec->key), (uint8_t)res->verdict);
        if (rc == 0 && accepted(res->verdict))
            rc = evidence_of(s, w, rec, res);
        if (rc)
            cpm_error_set(e, rc, "device", "noting the verdict: %s", cpm_err_name(rc));
    }
    if (s->batch) {
        int crc = rc ? (cpm_store_abort(&s->batch), 0) : cpm_store_commit(s->batch);
        s->batch = NULL;
        if (crc)
            rc = cpm_error_set(e, crc, "device", "noting the verdicts: %s", cpm_err_name(crc));
    }
    cpm__field_upload_reply__free_unpacked(r, NULL);
    progress(s);
    return rc;
}

/* The node's answer to one chunk sent with cpm_client_send. */
static int recv_status(sync_t *s, const char *msg_id, uint64_t *received, bool *complete,
                       cpm_error_t *e)
{
    cpm_msg_t reply = {0};
    int rc = cpm_client_recv(s->c.client, s->agency, "inspection", s->c.timeout_ms, &reply, e);
    if (rc != 0)
        return rc;
    s->messages++;
    s->frame_bytes += reply.env->payload.len + s->env_overhead;
    if (strcmp(reply.env->correlation_id, msg_id) != 0)
        rc = cpm_error_set(e, CPM_E_BAD_MESSAGE, "reply", "a reply out of order");
    if (rc == 0)
        rc = cpm_client_reply_error(&reply, e);
    Cpm__EvidenceStatus *st =
        rc ? NULL
           : cpm__evidence_status__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    if (rc == 0 && !st)
        rc = cpm_error_set(e, CPM_E_BAD_MESSAGE, "reply", "the agency's reply does not decode");
    if (st) {
        *received = st->received;
        *complete = st->complete;
        cpm__evidence_status__free_unpacked(st, NULL);
    }
    cpm_msg_clear(&reply);
    return rc;
}

#define WINDOW 4 /* chunks in flight: the device reads and seals while the node writes */

/* One file: ask what the node holds, then send the rest in order, WINDOW
 * chunks ahead. The node writes a chunk only at its received offset, so
 * after any refusal or gap the replies say where to go on from. */
static int send_evidence(sync_t *s, const uint8_t *hash, uint64_t size, uint8_t *buf,
                         cpm_error_t *e)
{
    Cpm__EvidenceChunk c = CPM__EVIDENCE_CHUNK__INIT;
    c.blake2b.data = (uint8_t *)hash;
    c.blake2b.len = 32;
    c.size = size;
    Cpm__EvidenceStatus *st = (Cpm__EvidenceStatus *)call(
        s, CPM__MSG_TYPE__MSG_EVIDENCE_CHUNK, &c.base, &cpm__evidence_status__descriptor, e);
    if (!st)
        return e->code ? e->code : CPM_E_INTERNAL;
    bool complete = st->complete;
    uint64_t received = st->received;
    cpm__evidence_status__free_unpacked(st, NULL);
    s->evidence_resumed += received; /* what arrived before: not sent again */
    s->done_bytes += received < size ? received : size;
    while (!complete) {
        if (received > size)
            return cpm_error_set(e, CPM_E_CONFLICT, "received",
                                 "the node holds more than the file");
        char ids[WINDOW][33];
        uint64_t ends[WINDOW];
        int n = 0;
        for (uint64_t next = received; n < WINDOW && next < size; n++) {
            size_t got = 0;
            int rc = cpm_evidence_read(s->d.ev, hash, next, buf, CPM_EVIDENCE_CHUNK, &got, e);
            if (rc == 0 && got == 0)
                rc = cpm_error_set(e, CPM_E_INTERNAL, "evidence", "the device's file is shorter");
            c.offset = next;
            c.data.data = buf;
            c.data.len = got;
            if (rc == 0)
                rc = cpm_client_send(s->c.client, s->agency, "inspection",
                                     CPM__MSG_TYPE__MSG_EVIDENCE_CHUNK, &c.base, ids[n], e);
            if (rc != 0)
                return rc;
            s->messages++;
            s->frame_bytes += protobuf_c_message_get_packed_size(&c.base) + s->env_overhead;
            s->evidence_bytes_sent += got;
            next += got;
            ends[n] = next;
        }
        if (n == 0)
            return cpm_error_set(e, CPM_E_INTERNAL, "evidence", "nothing left to send");
        uint64_t was0 = received;
        for (int i = 0; i < n; i++) {
            uint64_t was = received;
            int rc = recv_status(s, ids[i], &received, &complete, e);
            if (rc != 0)
                return rc;
            if (received > was)
                s->done_bytes += received - was;
            uint64_t start = i ? ends[i - 1] : was0;
            if (!complete && received != ends[i]) /* not written: the node held other bytes */
                s->evidence_unwritten += ends[i] - start;
        }
        progress(s);
    }
    s->evidence_files++;
    return note_evidence_done(s, hash);
}

static void print_summary(sync_t *s, int rc, const cpm_error_t *e)
{
    uint64_t payload = s->record_bytes + s->evidence_bytes_sent;
    double overhead =
        payload ? 100.0 * ((double)s->frame_bytes - (double)payload) / (double)payload : 0;
    if (s->w->json) {
        json_t *j =
            json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}", "ok", rc == 0,
                      "records_sent", (json_int_t)s->records_sent, "stored", (json_int_t)s->stored,
                      "same", (json_int_t)s->same, "conflict", (json_int_t)s->conflict, "refused",
                      (json_int_t)s->refused, "evidence_files", (json_int_t)s->evidence_files,
                      "evidence_bytes_sent", (json_int_t)s->evidence_bytes_sent, "record_bytes",
                      (json_int_t)s->record_bytes, "wire_bytes", (json_int_t)s->frame_bytes,
                      "messages", (json_int_t)s->messages, "overhead_pct", overhead);
        json_object_set_new(j, "evidence_bytes_unwritten",
                            json_integer((json_int_t)s->evidence_unwritten));
        json_object_set_new(j, "evidence_bytes_resumed",
                            json_integer((json_int_t)s->evidence_resumed));
        if (s->refusals)
            json_object_set_new(j, "refusals", s->refusals);
        s->refusals = NULL;
        if (rc)
            json_object_set_new(j, "error",
                                json_pack("{s:s,s:s,s:s}", "code", cpm_err_name(e->code), "field",
                                          e->field, "message", e->message));
        ctl_print_json(j);
        return;
    }
    printf("records sent %llu: stored %llu, same %llu, conflict %llu, refused %llu\n",
           (unsigned long long)s->records_sent, (unsigned long long)s->stored,
           (unsigned long long)s->same, (unsigned long long)s->conflict,
           (unsigned long long)s->refused);
    printf("evidence: %llu files complete, %llu bytes sent; %llu bytes of signed frames "
           "(%.2f%% over the payload)\n",
           (unsigned long long)s->evidence_files, (unsigned long long)s->evidence_bytes_sent,
           (unsigned long long)s->frame_bytes, overhead);
    if (rc)
        fprintf(stderr, "cpmctl inspector sync: %s: %s (run sync again to resume)\n", e->field,
                e->message);
}

int ctl_inspector_sync(const ctl_opts_t *o, const ctl_field_t *w, int argc, char **argv)
{
    (void)argc, (void)argv;
    sync_t s = {.w = w};
    s.bar = !w->json && isatty(2);
    cpm_error_t e = {0};
    if (field_device_open(&s.d, w->home, w->as, w->device_dir, &e) != 0)
        return fail_e(w, &e);
    work_t wk = {0};
    int rc = field_device_each_record(&s.d, collect, &wk);
    if (rc == 0 && connect_agency(&s, o) != 0) {
        field_device_close(&s.d);
        return 1;
    }
    /* what to send: records not accepted yet; evidence of accepted ones not done */
    size_t *idx = calloc(wk.n ? wk.n : 1, sizeof *idx), n_idx = 0;
    for (size_t i = 0; rc == 0 && i < wk.n; i++) {
        if (accepted(wk.v[i].verdict)) {
            rc = evidence_of(&s, &wk, &wk.v[i], NULL);
        } else {
            idx[n_idx++] = i;
            s.total_bytes += wk.v[i].frame.len;
            s.record_bytes += wk.v[i].frame.len;
        }
    }
    if (rc)
        cpm_error_set(&e, rc, "device", "%s", cpm_err_name(rc));
    for (size_t start = 0; rc == 0 && start < n_idx;) {
        size_t n = 0, bytes = 0;
        while (start + n < n_idx && n < 500 &&
               bytes + wk.v[idx[start + n]].frame.len <= UPLOAD_BYTES)
            bytes += wk.v[idx[start + n++]].frame.len;
        rc = upload_batch(&s, &wk, idx + start, n, &e);
        start += n;
    }
    uint8_t *buf = malloc(CPM_EVIDENCE_CHUNK);
    for (size_t i = 0; rc == 0 && buf && i < wk.n_ev; i++)
        rc = send_evidence(&s, wk.ev[i], wk.ev_size[i], buf, &e);
    free(buf);
    print_summary(&s, rc, &e);
    for (size_t i = 0; i < wk.n; i++)
        free(wk.v[i].frame.data);
    free(wk.v);
    free(wk.ev);
    free(wk.ev_size);
    free(idx);
    field_device_close(&s.d);
    ctl_close(&s.c);
    return rc ? 1 : (s.refused ? 1 : 0);
}
