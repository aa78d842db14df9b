/* bench_deliver: delivery intake -> routing at the domain level, in one
 * process, against a baseline in the same process.
 *
 * An intake store holds N complaints in its outbox (written before the clock
 * starts). Then, batch after batch of up to 1,024 records (and 1 MiB), what the mesh does
 * on the two sides of the wire, without the sockets:
 *   pump     cpm_outbox_read, the DeliveryBatch built and sealed (one
 *            Ed25519 signature);
 *   receive  the frame verified (cpm_verify_signed: registry key, Ed25519),
 *            the DeliveryBatch counted, decoded and checked;
 *   apply    one write transaction (a nested one for the batch, as the
 *            server's group does) with cpm_delivery_apply: the batch's new
 *            records in one more nested transaction (run again without a
 *            record apply() refuses), each Complaint decoded and checked, and
 *            routing's own entry (routing_take_complaint: the rules, the
 *            case, deadline, copy, code, dupes, clusters, the Assignment to
 *            the agency's inspection, events);
 *   commit   durable (fdatasync);
 *   ack      the Ack sealed by routing and verified by the pump; the pump
 *            records it (cpm_outbox_ack, durable commit);
 *   onward   routing's own pump: its Assignments read and sealed per agency
 *            stream, and when the agency acknowledges them the acked hook
 *            (the Assignment decoded, routing_assignment_delivered) and
 *            cpm_outbox_ack in one durable commit.
 * The baseline runs the same loop with apply replaced by writing each record
 * under its seq in one database (no routing logic): what LMDB, the batch
 * framing and the signatures cost alone.
 *
 *   build/bench_deliver [SOURCE_DIR] [N] [--baseline-only|--routing-only]
 *
 * Environment, to look further: CPM_BENCH_KEEP=1 keeps the stores (their
 * folders printed; look at them with mdb_stat -a, remove them yourself);
 * CPM_BENCH_FLAT=1 applies each batch straight in the batch's transaction,
 * without cpm_delivery_apply (what its bookkeeping and its nested
 * transaction cost: not the service's path).
 *
 * Prints records/s and a table of microseconds per record by stage. */
#include "cpm_delivery.h"
#include "cpm_vpool.h"
#include "cpm_envelope.h"
#include "cpm_eventlog.h"
#include "cpm_inbox.h"
#include "cpm_keys.h"
#include "cpm_outbox.h"
#include "cpm_pbcheck.h"
#include "cpm_registry.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "cpm_stream.h"
#include "cpm_text.h"
#include "cpm_util.h"
#include "cpm_verifier.h"
#include "routing_deliver.h"

#include <ftw.h>
#include <limits.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Records per batch: the senders' batch_max (CPM_DELIVERY_BATCH_DEFAULT);
 * CPM_BENCH_BATCH=N (1..4096) sets another, to compare. */
static size_t batch_records(void)
{
    static size_t n;
    if (!n) {
        const char *e = getenv("CPM_BENCH_BATCH");
        long v = e ? strtol(e, NULL, 10) : 0;
        n = v >= 1 && v <= CPM_DELIVERY_RECORDS_MAX ? (size_t)v : CPM_DELIVERY_BATCH_DEFAULT;
    }
    return n;
}
#define BATCH batch_records()
#define INTAKE "hn.d.hoan-kiem"
#define ROUTING "hn.doit"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_deliver: %s\n", what);
    exit(1);
}

/* ---- the registry and keys ---------------------------------------------- */

static void identity(const char *id, cpm_identity_t *key)
{
    uint8_t seed[32];
    crypto_hash_sha256(seed, (const uint8_t *)id, strlen(id));
    if (cpm_identity_from_seed(key, id, seed) != 0)
        die("identity");
}

static Cpm__Member *member(const char *id, const char *role, const char *area, const char *svc1,
                           const char *svc2)
{
    cpm_identity_t key;
    identity(id, &key);
    Cpm__Member *m = calloc(1, sizeof *m);
    cpm__member__init(m);
    m->id = strdup(id);
    m->role = strdup(role);
    m->agency = strdup(id);
    m->name = strdup(id);
    m->area = strdup(area ? area : "");
    m->sign_pk.len = m->curve_pk.len = 32;
    m->sign_pk.data = malloc(32);
    m->curve_pk.data = malloc(32);
    memcpy(m->sign_pk.data, key.sign_pk, 32);
    memcpy(m->curve_pk.data, key.curve_pk, 32);
    const char *svcs[2] = {svc1, svc2};
    m->services = calloc(2, sizeof *m->services);
    for (int i = 0; i < 2 && svcs[i]; i++) {
        Cpm__ServiceEndpoint *s = calloc(1, sizeof *s);
        cpm__service_endpoint__init(s);
        s->name = strdup(svcs[i]);
        s->endpoint = strdup("tcp://127.0.0.1:7001");
        s->pub_endpoint = strdup("tcp://127.0.0.1:7002");
        m->services[m->n_services++] = s;
    }
    return m;
}

static cpm_registry_t *registry(void)
{
    Cpm__Member *ms[] = {
        member(ROUTING, "city", NULL, "routing", "inspection"),
        member("hn.attp", "department", NULL, "inspection", NULL),
        member("hn.qltt", "department", NULL, "inspection", NULL),
        member(INTAKE, "area", "hoan-kiem", "intake", "inspection"),
        member("hn.d.ba-dinh", "area", "ba-dinh", "inspection", NULL),
    };
    size_t n = sizeof ms / sizeof *ms;
    ms[3]->ticket_prefix = strdup("HK");
    cpm_identity_t root;
    if (cpm_identity_generate(&root, "root") != 0)
        die("root key");
    Cpm__Registry doc;
    cpm__registry__init(&doc);
    doc.version = 1;
    doc.mesh = "bench";
    doc.members = ms;
    doc.n_members = n;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    if (cpm_registry_sign(&doc, root.sign_sk, &buf, &len) != 0)
        die("registry sign");
    cpm_registry_t *reg = cpm_registry_from_signed(buf, len, root.sign_pk, err, sizeof err);
    free(buf);
    for (size_t i = 0; i < n; i++)
        cpm__member__free_unpacked(ms[i], NULL);
    if (!reg)
        die(err);
    return reg;
}

/* ---- stores ------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static cpm_store_t *store(const char *tag, const char *const *dbs, char dir[64])
{
    snprintf(dir, 64, "/tmp/cpm-bench-deliver-%s-XXXXXX", tag);
    if (!mkdtemp(dir))
        die("mkdtemp");
    char err[256] = "";
    cpm_store_t *st = cpm_store_open(dir, (size_t)4 << 30, dbs, err, sizeof err);
    if (!st)
        die(err);
    return st;
}

static void store_drop(cpm_store_t **st, const char *dir)
{
    cpm_store_destroy(st);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the complaints ----------------------------------------------------- */

static const char *const AREAS[] = {"hoan-kiem", "ba-dinh", "cau-giay", "tay-ho", "dong-da"};
static const char *const CATS[] = {"food_safety", "pricing", "counterfeit_goods", "ecommerce"};

/* Complaint i as intake queues it: sealed contact, consumer key, placement,
 * a description of a few hundred bytes (the 512-byte class of issue 13). */
static size_t complaint_bytes(uint64_t i, int64_t received, uint8_t *out, size_t cap)
{
    char ticket[40], biz[64], addr[64], ref[40], code[16], desc[400];
    uint8_t sealed[120], ckey[32];
    snprintf(ticket, sizeof ticket, "HK-%08llu", (unsigned long long)i + 1);
    snprintf(biz, sizeof biz, "Cua hang so %llu", (unsigned long long)(i % 997));
    snprintf(addr, sizeof addr, "%llu Hang Bac", (unsigned long long)(i % 997));
    snprintf(ref, sizeof ref, "ref-%llu", (unsigned long long)i);
    static const char CODE[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; /* lookup codes' alphabet */
    uint64_t x = i * 7919 + 17;
    size_t cl = 0;
    for (; cl < CPM_TEXT_CODE_LEN; cl++, x /= 32)
        code[cl] = CODE[x % 32];
    code[cl] = 0;
    snprintf(desc, sizeof desc,
             "Complaint %llu: bought a product that was past its date and the shop refused to "
             "take it back; the price shown on the shelf was lower than the price charged at "
             "the counter and no receipt was given. Several neighbours say the same happened "
             "to them this week.",
             (unsigned long long)i);
    memset(sealed, (int)(i & 0xff), sizeof sealed);
    uint64_t who = i % 5003; /* some consumers complain more than once: dupes link */
    memset(ckey, 0, sizeof ckey);
    memcpy(ckey, &who, sizeof who);
    Cpm__Placement pl = CPM__PLACEMENT__INIT;
    const char *area = AREAS[i % (sizeof AREAS / sizeof *AREAS)];
    pl.written = (char *)area;
    pl.generation = "2025";
    pl.unit_code = "00070";
    pl.unit_slug = (char *)area;
    pl.unit_name = (char *)area;
    pl.method = "name";
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = ticket;
    c.channel = "web";
    c.business_name = biz;
    c.business_address = addr;
    c.area = (char *)area;
    c.category = (char *)CATS[i % (sizeof CATS / sizeof *CATS)];
    c.description = desc;
    c.client_ref = ref;
    c.received_ms = received;
    c.intake_node = INTAKE;
    c.lookup_code = code;
    c.sealed_contact.data = sealed;
    c.sealed_contact.len = sizeof sealed;
    c.contact_for = INTAKE;
    c.placement = &pl;
    c.consumer_key.data = ckey;
    c.consumer_key.len = sizeof ckey;
    size_t len = cpm__complaint__get_packed_size(&c);
    if (len > cap)
        die("complaint too large");
    return cpm__complaint__pack(&c, out);
}

/* ---- the effects of routing, bound to its store --------------------------- */

typedef struct {
    cpm_store_t *st;
    int64_t now_ms;
} fx_ctx_t;

static int fx_send(void *ctx, MDB_txn *txn, const char *member_id, const char *service,
                   const ProtobufCMessage *rec)
{
    fx_ctx_t *f = ctx;
    char stream[CPM_STREAM_MAX];
    if (cpm_stream_build(stream, sizeof stream, ROUTING, "routing", member_id, service) != 0)
        return CPM_E_INVALID;
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

static int fx_event(void *ctx, MDB_txn *txn, const cpm_event_t *ev)
{
    fx_ctx_t *f = ctx;
    return cpm_eventlog_append(f->st, txn, f->now_ms, ev, NULL);
}

/* ---- one run ------------------------------------------------------------ */

enum { S_PUMP, S_RECV, S_APPLY, S_COMMIT, S_ACK, S_ONWARD, S_N };
static const char *const STAGE[S_N] = {"pump: read, build, seal",   "receive: verify, decode",
                                       "apply (records, inbox)",    "commit (durable)",
                                       "ack: seal, verify, record", "onward: assignments acked"};

typedef struct {
    const cpm_rules_t *rules;
    const cpm_registry_t *reg;
    cpm_store_t *rst;
    cpm_effects_t fx;
    bool baseline;
    uint64_t put_seq; /* baseline: the key of the next record */
    uint64_t failed;
    /* CPM_BENCH_PREPARE=1: while a batch is applied, a second thread
     * decodes its records and makes their routing_dupes_pre_t in order, as
     * routing's service does on its pool (cpm_server_prepare_batch); a record
     * applied before its turn came is applied without; a decoded record is
     * used once, as cpm_service does. */
    const uint8_t *const *recs;
    const size_t *lens_of;
    ProtobufCMessage **msgs;
    routing_dupes_pre_t **pres;
    atomic_bool *ready;
    atomic_bool cancel;
    size_t n, next;
    uint64_t hits, lookups;
} run_ctx_t;

static void prepare_one(void *ctx, size_t i)
{
    run_ctx_t *r = ctx;
    if (atomic_load_explicit(&r->cancel, memory_order_relaxed))
        return;
    ProtobufCMessage *m = protobuf_c_message_unpack(
        &cpm__complaint__descriptor, cpm_pb_budget(r->lens_of[i]), r->lens_of[i], r->recs[i]);
    cpm_error_t err;
    if (m && cpm_pbcheck_or_free(m, &err) == 0) {
        r->msgs[i] = m;
        r->pres[i] = routing_dupes_pre_new((const Cpm__Complaint *)m);
    }
    atomic_store_explicit(&r->ready[i], true, memory_order_release);
}

/* The index of rec in the batch when it is prepared, or SIZE_MAX. Records
 * come in order: the one after the last is looked at first, as the server
 * does (a search from 0 would cost the loop thread O(n) per record). */
static size_t prepared_index(run_ctx_t *r, const uint8_t *rec)
{
    if (r->ready && r->next < r->n && r->recs[r->next] != rec)
        r->next = 0;
    for (size_t i = r->next; r->ready && i < r->n; i++)
        if (r->recs[i] == rec) {
            r->next = i + 1;
            bool ok = atomic_load_explicit(&r->ready[i], memory_order_acquire);
            r->lookups++;
            r->hits += ok;
            return ok ? i : SIZE_MAX;
        }
    return SIZE_MAX;
}

/* The record entry of routing as cpm_service gives it (decode under the
 * budget, check, the service's function), or the baseline's plain put. */
static int apply_record(void *ctx, MDB_txn *txn, const uint8_t *rec, size_t len, cpm_error_t *err)
{
    run_ctx_t *r = ctx;
    if (r->baseline) {
        uint8_t key[8];
        cpm_put_be64(key, ++r->put_seq);
        return cpm_store_put(r->rst, txn, ROUTING_COPIES_DB, key, sizeof key, rec, len);
    }
    size_t k = prepared_index(r, rec);
    ProtobufCMessage *m = k != SIZE_MAX ? r->msgs[k] : NULL;
    if (m)
        r->msgs[k] = NULL; /* once */
    else if (!(m = protobuf_c_message_unpack(&cpm__complaint__descriptor, cpm_pb_budget(len), len,
                                             rec)))
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "record", "record is not a Complaint");
    else if (cpm_pbcheck_or_free(m, err) != 0)
        return err->code;
    routing_took_t took;
    int rc =
        routing_take_complaint(r->rules, r->reg, r->rst, txn, &r->fx, INTAKE, (Cpm__Complaint *)m,
                               cpm_now_ms(), &took, k != SIZE_MAX ? r->pres[k] : NULL, err);
    if (rc != 0 && !cpm_delivery_is_store_error(rc))
        r->failed++;
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* Routing's own pump to each agency: read and seal a batch, then, as if the
 * agency acknowledged all of it, the acked hook and the ack in one durable
 * commit. */
static int onward(run_ctx_t *r, cpm_sender_t *rsnd)
{
    MDB_txn *txn = NULL, *wtxn = NULL;
    char **names = NULL;
    size_t n = 0;
    if (cpm_store_begin(r->rst, false, &txn) != 0 ||
        cpm_outbox_streams(r->rst, txn, &names, &n) != 0)
        die("onward streams");
    cpm_store_abort(&txn);
    for (size_t i = 0; i < n; i++) {
        cpm_stream_parts_t parts;
        if (cpm_stream_parse(names[i], &parts) != 0)
            die("stream name");
        for (;;) {
            uint64_t acked = 0;
            cpm_outbox_batch_t b = {0};
            if ((!wtxn && cpm_store_begin(r->rst, true, &wtxn) != 0) ||
                cpm_outbox_acked(r->rst, wtxn, names[i], &acked) != 0 ||
                cpm_outbox_read(r->rst, wtxn, names[i], acked + 1, BATCH, 1u << 20, &b) != 0)
                die("onward read");
            if (b.n == 0)
                break;
            Cpm__DeliveryBatch db = CPM__DELIVERY_BATCH__INIT;
            ProtobufCBinaryData *recs = calloc(b.n, sizeof *recs);
            for (size_t k = 0; k < b.n; k++)
                recs[k] = (ProtobufCBinaryData){b.lens[k], b.recs[k]};
            db.stream = names[i];
            db.first_seq = b.first_seq;
            db.n_records = b.n;
            db.records = recs;
            uint8_t *frame = NULL;
            size_t flen = 0;
            char recipient[200];
            snprintf(recipient, sizeof recipient, "%s/inspection", parts.to.member);
            if (cpm_sender_seal(rsnd, CPM__MSG_TYPE__MSG_ASSIGN_BATCH, recipient, NULL, &db.base,
                                NULL, &frame, &flen) != 0)
                die("onward seal");
            free(frame);
            free(recs);
            /* the agency acknowledged: the hook over each record, then the ack,
             * all streams' in one durable commit (cpm_pump's record_acks) */
            uint64_t upto = b.first_seq + b.n - 1;
            txn = wtxn;
            for (size_t k = 0; k < b.n; k++) {
                ProtobufCMessage *a = protobuf_c_message_unpack(
                    &cpm__assignment__descriptor, cpm_pb_budget(b.lens[k]), b.lens[k], b.recs[k]);
                cpm_error_t err = {0};
                if (!a || cpm_pbcheck_or_free(a, &err) != 0)
                    die("assignment does not decode");
                if (routing_assignment_delivered(r->rst, txn, &r->fx, parts.to.member,
                                                 (const Cpm__Assignment *)a, cpm_now_ms()) != 0)
                    die("assignment delivered");
                protobuf_c_message_free_unpacked(a, NULL);
            }
            if (cpm_outbox_ack(r->rst, txn, names[i], upto) != 0)
                die("onward ack");
            cpm_outbox_batch_clear(&b);
            break; /* one batch per stream per turn, as the pump sends */
        }
    }
    if (wtxn && cpm_store_commit(wtxn) != 0)
        die("onward commit");
    cpm_outbox_streams_free(&names, n);
    return 0;
}

typedef struct {
    double rate;
    double stage_ns[S_N], cpu_ns[S_N];
    uint64_t n;
} result_t;

static void run(const cpm_rules_t *rules, const cpm_registry_t *reg, uint64_t n, bool baseline,
                result_t *res)
{
    static const char *const rdbs[] = ROUTING_DBS;
    char idir[64], rdir[64], stream[CPM_STREAM_MAX], mark[CPM_STREAM_MARK_MAX];
    cpm_store_t *ist = store("intake", NULL, idir), *rst = store("routing", rdbs, rdir);
    cpm_identity_t iid, rid;
    identity(INTAKE, &iid);
    identity(ROUTING, &rid);
    cpm_sender_t isnd, rsnd;
    cpm_sender_init(&isnd, &iid, "intake");
    cpm_sender_init(&rsnd, &rid, "routing");
    if (cpm_stream_build(stream, sizeof stream, INTAKE, "intake", ROUTING, "routing") != 0)
        die("stream");
    /* the outbox, before the clock */
    int64_t received = cpm_now_ms() - 60000;
    uint8_t rec[2048];
    for (uint64_t i = 0; i < n;) {
        MDB_txn *txn = NULL;
        if (cpm_store_begin(ist, true, &txn) != 0)
            die("fill begin");
        for (size_t k = 0; k < 4096 && i < n; k++, i++) {
            size_t len = complaint_bytes(i, received, rec, sizeof rec);
            if (cpm_outbox_put(ist, txn, stream, rec, len, NULL) != 0)
                die("fill put");
        }
        if (cpm_store_commit(txn) != 0)
            die("fill commit");
    }
    fx_ctx_t fc = {rst, cpm_now_ms()};
    run_ctx_t rc = {.rules = rules,
                    .reg = reg,
                    .rst = rst,
                    .fx = {fx_send, fx_event, &fc},
                    .baseline = baseline};
    const char *pe = getenv("CPM_BENCH_PREPARE");
    cpm_vpool_t *pool = !baseline && pe && *pe == '1' ? cpm_vpool_new(2) : NULL;
    memset(res, 0, sizeof *res);
    int64_t t0 = mono_ns(), t, tc;
#define STAGE_END(s)                                                                               \
    (res->stage_ns[s] += (double)(mono_ns() - t), res->cpu_ns[s] += (double)(cpu_ns() - tc))
    uint64_t acked = 0, batches = 0;
    while (acked < n) {
        batches++;
        /* pump */
        t = mono_ns(), tc = cpu_ns();
        MDB_txn *txn = NULL;
        cpm_outbox_batch_t b = {0};
        uint64_t epoch = 0;
        if (cpm_store_begin(ist, false, &txn) != 0 ||
            cpm_outbox_read(ist, txn, stream, acked + 1, BATCH, 1u << 20, &b) != 0 ||
            cpm_outbox_epoch(ist, txn, stream, &epoch) != 0 || b.n == 0)
            die("pump read");
        cpm_store_abort(&txn);
        Cpm__DeliveryBatch db = CPM__DELIVERY_BATCH__INIT;
        ProtobufCBinaryData *recs = calloc(b.n, sizeof *recs);
        for (size_t k = 0; k < b.n; k++)
            recs[k] = (ProtobufCBinaryData){b.lens[k], b.recs[k]};
        db.stream = stream;
        db.first_seq = b.first_seq;
        db.epoch = epoch;
        db.n_records = b.n;
        db.records = recs;
        uint8_t *frame = NULL;
        size_t flen = 0;
        if (cpm_sender_seal(&isnd, CPM__MSG_TYPE__MSG_CASE_BATCH, ROUTING "/routing", NULL,
                            &db.base, NULL, &frame, &flen) != 0)
            die("seal");
        free(recs);
        cpm_outbox_batch_clear(&b);
        STAGE_END(S_PUMP);
        /* receive */
        t = mono_ns(), tc = cpu_ns();
        cpm_slice_t envb;
        const Cpm__Member *who = NULL;
        cpm_envelope_view_t v;
        size_t nfields;
        if (cpm_verify_signed(reg, frame, flen, &envb, &who) != CPM_V_OK ||
            cpm_envelope_parse_view(envb.data, envb.len, &v) != 0 ||
            cpm_pb_count_fields(v.payload.data, v.payload.len, CPM_DELIVERY_RECORDS_MAX + 3,
                                &nfields) != 0)
            die("verify");
        Cpm__DeliveryBatch *in = cpm__delivery_batch__unpack(cpm_pb_budget(v.payload.len),
                                                             v.payload.len, v.payload.data);
        cpm_error_t err = {0};
        if (!in || cpm_pbcheck(&in->base, NULL, &err) != 0 ||
            cpm_stream_mark(in->stream, in->epoch, mark, sizeof mark) != 0)
            die("batch decode");
        const uint8_t **rp = calloc(in->n_records, sizeof *rp);
        size_t *lens = calloc(in->n_records, sizeof *lens);
        for (size_t k = 0; k < in->n_records; k++) {
            rp[k] = in->records[k].data;
            lens[k] = in->records[k].len;
        }
        if (cpm_delivery_check_batch(lens, in->n_records, &err) != 0)
            die("batch bounds");
        STAGE_END(S_RECV);
        /* apply (CPM_BENCH_PREPARE=1: the records prepared beside it) */
        t = mono_ns(), tc = cpu_ns();
        if (pool) {
            rc.recs = rp;
            rc.lens_of = lens;
            rc.n = in->n_records;
            rc.next = 0;
            rc.msgs = calloc(rc.n, sizeof *rc.msgs);
            rc.pres = calloc(rc.n, sizeof *rc.pres);
            rc.ready = calloc(rc.n, sizeof *rc.ready);
            if (!rc.msgs || !rc.pres || !rc.ready)
                die("prepare");
            atomic_store(&rc.cancel, false);
            cpm_vpool_start(pool, rc.n, prepare_one, &rc);
        }
        fc.now_ms = cpm_now_ms();
        MDB_txn *child = NULL;
        cpm_delivery_result_t dr;
        if (getenv("CPM_BENCH_FLAT")) { /* experiment: without cpm_delivery_apply */
            if (cpm_store_begin(rst, true, &txn) != 0 ||
                cpm_store_begin_child(rst, txn, &child) != 0)
                die("apply");
            for (size_t k = 0; k < in->n_records; k++)
                if (apply_record(&rc, child, rp[k], lens[k], &err) != 0)
                    die("flat apply");
            dr.hwm = in->first_seq + in->n_records - 1;
            if (cpm_inbox_set(rst, child, mark, dr.hwm) != 0 || cpm_store_commit(child) != 0)
                die("apply");
        } else if (cpm_store_begin(rst, true, &txn) != 0 ||
                   cpm_store_begin_child(rst, txn, &child) != 0 ||
                   cpm_delivery_apply(rst, child, mark, in->first_seq, rp, lens, in->n_records,
                                      apply_record, &rc, &dr) != 0 ||
                   cpm_store_commit(child) != 0)
            die("apply");
        if (pool) {
            atomic_store(&rc.cancel, true);
            cpm_vpool_finish(pool, rc.n, prepare_one, &rc);
        }
        STAGE_END(S_APPLY);
        if (pool) { /* released after the batch, as the server does */
            for (size_t k = 0; k < rc.n; k++) {
                if (rc.msgs[k])
                    protobuf_c_message_free_unpacked(rc.msgs[k], NULL);
                routing_dupes_pre_destroy(&rc.pres[k]);
            }
            free(rc.msgs);
            free(rc.pres);
            free(rc.ready);
            rc.msgs = NULL;
            rc.pres = NULL;
            rc.ready = NULL;
            rc.n = 0;
        }
        t = mono_ns(), tc = cpu_ns();
        if (cpm_store_commit(txn) != 0)
            die("commit");
        STAGE_END(S_COMMIT);
        free(rp);
        free(lens);
        cpm__delivery_batch__free_unpacked(in, NULL);
        free(frame);
        /* ack */
        t = mono_ns(), tc = cpu_ns();
        Cpm__Ack ack = CPM__ACK__INIT;
        ack.stream = stream;
        ack.acked_seq = dr.hwm;
        if (cpm_sender_seal(&rsnd, CPM__MSG_TYPE__MSG_ACK, INTAKE "/intake", NULL, &ack.base, NULL,
                            &frame, &flen) != 0 ||
            cpm_verify_signed(reg, frame, flen, &envb, &who) != CPM_V_OK)
            die("ack seal/verify");
        free(frame);
        if (cpm_store_begin(ist, true, &txn) != 0 ||
            cpm_outbox_ack(ist, txn, stream, dr.hwm) != 0 || cpm_store_commit(txn) != 0)
            die("ack record");
        acked = dr.hwm;
        STAGE_END(S_ACK);
        /* onward */
        t = mono_ns(), tc = cpu_ns();
        if (!baseline)
            onward(&rc, &rsnd);
        STAGE_END(S_ONWARD);
    }
    double secs = (double)(mono_ns() - t0) / 1e9;
    res->rate = (double)n / secs;
    res->n = n;
    printf("%llu batches from intake, %.0f records each (at most %zu and 1 MiB: "
           "CPM_BENCH_BATCH)\n",
           (unsigned long long)batches, batches ? (double)n / (double)batches : 0.0, BATCH);
    if (rc.failed)
        fprintf(stderr, "bench_deliver: %llu records not routed\n", (unsigned long long)rc.failed);
    cpm_identity_wipe(&iid);
    cpm_identity_wipe(&rid);
    if (pool)
        printf("prepared beside the apply (CPM_BENCH_PREPARE=1): %llu of %llu records found "
               "ready\n",
               (unsigned long long)rc.hits, (unsigned long long)rc.lookups);
    cpm_vpool_destroy(&pool);
    if (getenv("CPM_BENCH_KEEP")) { /* to look at with mdb_stat -a */
        fprintf(stderr, "bench_deliver: kept %s and %s\n", rdir, idir);
        cpm_store_destroy(&rst);
        cpm_store_destroy(&ist);
        return;
    }
    store_drop(&rst, rdir);
    store_drop(&ist, idir);
}

static void print(const char *name, const result_t *r)
{
    double total = 0;
    for (int s = 0; s < S_N; s++)
        total += r->stage_ns[s];
    printf("%s: %llu records, %.0f records/s (%.2f us/record)\n", name, (unsigned long long)r->n,
           r->rate, 1e6 / r->rate);
    double cpu = 0;
    for (int s = 0; s < S_N; s++)
        cpu += r->cpu_ns[s];
    printf("  %-28s %10s %6s %10s %6s\n", "stage", "wall us", "%", "CPU us", "%");
    for (int s = 0; s < S_N; s++)
        printf("  %-28s %10.2f %5.1f%% %10.2f %5.1f%%\n", STAGE[s],
               r->stage_ns[s] / 1e3 / (double)r->n, 100.0 * r->stage_ns[s] / total,
               r->cpu_ns[s] / 1e3 / (double)r->n, 100.0 * r->cpu_ns[s] / cpu);
    printf("  %-28s %10.2f %6s %10.2f   (CPU-bound rate %.0f records/s)\n", "all",
           total / 1e3 / (double)r->n, "", cpu / 1e3 / (double)r->n, (double)r->n * 1e9 / cpu);
}

int main(int argc, char **argv)
{
    char srcbuf[PATH_MAX];
    const char *src = realpath(argc > 1 ? argv[1] : ".", srcbuf);
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 50000;
    const char *mode = argc > 3 ? argv[3] : "";
    if (!src || n == 0 || sodium_init() < 0)
        die("usage: bench_deliver [SOURCE_DIR] [N] [--baseline-only|--routing-only]");
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/deploy/hanoi/routing.yaml", src);
    cpm_rules_t *rules = NULL;
    cpm_error_t err = {0};
    if (cpm_rules_load(path, &rules, &err) != 0)
        die(err.message);
    cpm_rules_set_service(rules, "inspection");
    cpm_registry_t *reg = registry();
    result_t base = {0}, full = {0};
    if (strcmp(mode, "--routing-only") != 0) {
        run(rules, reg, n, true, &base);
        print("baseline (records put, no routing)", &base);
    }
    if (strcmp(mode, "--baseline-only") != 0) {
        run(rules, reg, n, false, &full);
        print("routing (routing_take_complaint, onward)", &full);
    }
    if (base.rate > 0 && full.rate > 0)
        printf("ratio routing/baseline: %.2f\n", full.rate / base.rate);
    cpm_registry_destroy(&reg);
    cpm_rules_destroy(&rules);
    return 0;
}
