/* bench_intake_cpu: intake's own CPU per complaint without the envelope
 * crypto (issue 13): N realistic complaints, already packed as a client sends
 * them, through decode (unpack) and intake_submit, each in a nested
 * transaction, with real effects (outbox record, event log), committed
 * durably in groups of 32, as the service loop does. The Hanoi rules, places
 * and triage model of deploy/hanoi, a registry whose agencies have transport
 * keys (contacts are sealed), a consumer secret and a client_ref on every
 * complaint: what a deployed intake does per complaint, minus sockets,
 * signature and verification.
 *
 * It prints the thread CPU per complaint of the whole loop, in rounds that
 * alternate the outbox as the service keeps it (a reference to the stored
 * complaint, cpm_outbox_put_ref) with a copy of its bytes (the baseline,
 * before round 20), with the bytes written and the store's file per
 * complaint and the CPU of reading the outbox back as sending does; then the unit
 * costs of its parts measured alone in the same process (the machine load
 * shifts both alike), as a reference for a perf profile:
 *
 *   bench_intake_cpu [-n N] [-g GROUP] [-r ROUNDS] [-d DIR] [-q] [-b]
 *   perf record -g build/bench_intake_cpu -n 20000 -q
 *
 * CPM_SOURCE_DIR (default ".") finds deploy/hanoi. -q: the loop only. -b:
 * then the same complaints again with each step of intake_submit timed. */
#include "bench_time.h"
#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_eventlog.h"
#include "cpm_keys.h"
#include "cpm_outbox.h"
#include "cpm_place.h"
#include "cpm_registry.h"
#include "cpm_rules.h"
#include "cpm_seal.h"
#include "cpm_store.h"
#include "cpm_util.h"
#include "intake_consumer.h"
#include "intake_contact.h"
#include "intake_domain.h"
#include "intake_lookup.h"
#include "intake_place.h"
#include "intake_place_gen.h"
#include "intake_triage.h"
#include "intake_validate.h"

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NODE "hn.d.hoan-kiem"
#define ROUTING "hn.doit"

static int64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- effects as cpm_server binds them: outbox record, event log ---------- */

/* As the server's: the record's bytes into the outbox (intake hands over
 * the complaint it packed for its own store). */
static int fx_send_packed(void *ctx, MDB_txn *txn, const char *member, const char *service,
                          const ProtobufCMessage *rec, const uint8_t *packed, size_t len)
{
    (void)rec;
    char stream[512];
    snprintf(stream, sizeof stream, "%s/intake>%s/%s", NODE, member, service);
    uint64_t seq;
    return cpm_outbox_put(ctx, txn, stream, packed, len, &seq);
}

/* As the server's: a reference to the complaint intake has just stored. */
static int fx_send_stored(void *ctx, MDB_txn *txn, const char *member, const char *service,
                          const char *db, const void *key, size_t klen, size_t len)
{
    char stream[512];
    snprintf(stream, sizeof stream, "%s/intake>%s/%s", NODE, member, service);
    uint64_t seq;
    return cpm_outbox_put_ref(ctx, txn, stream, db, key, klen, &seq);
}

static int fx_send(void *ctx, MDB_txn *txn, const char *member, const char *service,
                   const ProtobufCMessage *rec)
{
    size_t len = protobuf_c_message_get_packed_size(rec);
    uint8_t stackbuf[4096], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return CPM_E_INTERNAL;
    protobuf_c_message_pack(rec, buf);
    int rc = fx_send_packed(ctx, txn, member, service, rec, buf, len);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

static int fx_event(void *ctx, MDB_txn *txn, const cpm_event_t *ev)
{
    return cpm_eventlog_append(ctx, txn, cpm_now_ms(), ev, NULL);
}

/* ---- the environment --------------------------------------------------- */

/* A member with fresh keys, one service; its curve_pk is what contacts are
 * sealed to. */
static Cpm__Member *member(const char *id, const char *role, const char *area, const char *svc)
{
    cpm_identity_t key;
    if (cpm_identity_generate(&key, id) != 0)
        return NULL;
    Cpm__Member *m = calloc(1, sizeof *m);
    Cpm__ServiceEndpoint *s = calloc(1, sizeof *s);
    Cpm__ServiceEndpoint **ss = calloc(1, sizeof *ss);
    if (!m || !s || !ss)
        abort();
    cpm__member__init(m);
    cpm__service_endpoint__init(s);
    m->id = strdup(id);
    m->role = strdup(role);
    m->agency = strdup(id);
    m->name = strdup(id);
    m->area = strdup(area);
    m->sign_pk.len = m->curve_pk.len = 32;
    m->sign_pk.data = malloc(32);
    m->curve_pk.data = malloc(32);
    memcpy(m->sign_pk.data, key.sign_pk, 32);
    memcpy(m->curve_pk.data, key.curve_pk, 32);
    cpm_identity_wipe(&key);
    s->name = strdup(svc);
    s->endpoint = strdup("tcp://127.0.0.1:7001");
    s->pub_endpoint = strdup("tcp://127.0.0.1:7002");
    ss[0] = s;
    m->services = ss;
    m->n_services = 1;
    return m;
}

/* The agencies of deploy/hanoi/agencies.csv and an office for each area the
 * complaints name, all running inspection; the intake node itself. */
static cpm_registry_t *registry(void)
{
    static const char *const city[] = {"hn.doit", "hn.qltt", "hn.attp", "hn.doh",
                                       "hn.doic", "hn.doc",  "hn.dot",  "hn.cpa"};
    static const char *const areas[] = {"hoan-kiem", "ba-dinh", "cau-giay", "tay-ho"};
    Cpm__Member *ms[16];
    size_t n = 0;
    for (size_t i = 0; i < sizeof city / sizeof *city; i++)
        ms[n++] = member(city[i], "city", "", "inspection");
    for (size_t i = 0; i < sizeof areas / sizeof *areas; i++) {
        char id[64];
        snprintf(id, sizeof id, "hn.d.%s", areas[i]);
        ms[n] = member(id, "area", areas[i], "inspection");
        if (!strcmp(id, NODE))
            ms[n]->ticket_prefix = strdup("HK");
        n++;
    }
    cpm_identity_t root;
    if (cpm_identity_generate(&root, "root") != 0)
        return NULL;
    Cpm__Registry doc = CPM__REGISTRY__INIT;
    doc.version = 1;
    doc.mesh = "bench";
    doc.members = ms;
    doc.n_members = n;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    cpm_registry_t *reg = NULL;
    if (cpm_registry_sign(&doc, root.sign_sk, &buf, &len) == 0)
        reg = cpm_registry_from_signed(buf, len, root.sign_pk, err, sizeof err);
    if (!reg)
        fprintf(stderr, "bench_intake_cpu: registry: %s\n", err);
    cpm_identity_wipe(&root);
    free(buf);
    for (size_t i = 0; i < n; i++)
        cpm__member__free_unpacked(ms[i], NULL);
    return reg;
}

typedef struct {
    cpm_rules_t *rules;
    cpm_places_t *places;
    cpm_registry_t *reg;
    intake_triage_t *triage;
} env_t;

static int env_open(env_t *e)
{
    const char *src = getenv("CPM_SOURCE_DIR");
    char path[1024];
    cpm_error_t err = {0};
    memset(e, 0, sizeof *e);
    snprintf(path, sizeof path, "%s/deploy/hanoi/routing.yaml", src ? src : ".");
    if (cpm_rules_load(path, &e->rules, &err) != 0) {
        fprintf(stderr, "bench_intake_cpu: %s: %s (set CPM_SOURCE_DIR)\n", path, err.message);
        return -1;
    }
    cpm_rules_set_service(e->rules, "inspection");
    snprintf(path, sizeof path, "%s/deploy/hanoi/reform-2025", src ? src : ".");
    if (cpm_places_load(path, &e->places, &err) != 0) {
        fprintf(stderr, "bench_intake_cpu: %s: %s\n", path, err.message);
        return -1;
    }
    snprintf(path, sizeof path, "%s/deploy/hanoi/triage/model.json", src ? src : ".");
    if (!(e->triage = intake_triage_new(path, 600, NULL)) || !(e->reg = registry()))
        return -1;
    return 0;
}

static void env_close(env_t *e)
{
    intake_triage_destroy(&e->triage);
    cpm_registry_destroy(&e->reg);
    cpm_places_destroy(&e->places);
    cpm_rules_destroy(&e->rules);
}

static intake_t *intake_for(const env_t *e)
{
    intake_t *in = intake_new(e->rules, NODE, "HK", ROUTING);
    if (!in)
        return NULL;
    uint8_t key[32];
    intake_set_registry(in, e->reg);
    intake_set_places(in, e->places, NULL);
    intake_set_triage(in, e->triage);
    randombytes_buf(key, sizeof key);
    intake_set_ref_key(in, key);
    randombytes_buf(key, sizeof key);
    intake_set_consumer_secret(in, key);
    sodium_memzero(key, sizeof key);
    return in;
}

/* ---- the complaints ------------------------------------------------------ */

/* Complaint i as a client packs it (about 500 bytes): contact, business,
 * area and category spread as bench_intake's, a client_ref unique per run,
 * one in eight without a category (the model suggests one). */
static size_t pack_complaint(uint64_t run, uint64_t i, uint8_t *out, size_t cap)
{
    static const char *const areas[] = {"hoan-kiem", "ba-dinh", "cau-giay", "tay-ho"};
    static const char *const cats[] = {"food_safety", "pricing", "counterfeit_goods", "ecommerce"};
    char business[64], ref[64], desc[400], phone[32];
    snprintf(business, sizeof business, "Quan Pho %llu", (unsigned long long)(i % 97));
    snprintf(ref, sizeof ref, "b%016llx-%llu", (unsigned long long)run, (unsigned long long)i);
    snprintf(phone, sizeof phone, "0912 %03llu %03llu", (unsigned long long)(i / 1000 % 1000),
             (unsigned long long)(i % 1000));
    snprintf(desc, sizeof desc,
             "Complaint %llu: bought a bowl of pho and a drink; the receipt shows a price "
             "higher than the menu on the wall and the staff refused to correct it. Two of us "
             "felt sick in the evening. We kept the receipt and photos of the menu.",
             (unsigned long long)i);
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.channel = "hotline";
    c.consumer_name = "Nguyen Van A";
    c.consumer_phone = phone;
    c.consumer_email = "nguyen.van.a@example.vn";
    c.business_name = business;
    c.business_address = "12 Hang Bac";
    c.area = (char *)areas[i % 4];
    c.category = (char *)(i % 8 == 7 ? "" : cats[(i / 4) % 4]);
    c.description = desc;
    c.client_ref = ref;
    c.urgent = i % 10 == 0;
    c.event_time_ms = cpm_now_ms() - 86400000;
    size_t len = cpm__complaint__get_packed_size(&c);
    if (len > cap)
        return 0;
    return cpm__complaint__pack(&c, out);
}

/* ---- the loop ------------------------------------------------------------ */

typedef struct {
    uint8_t (*buf)[1024];
    size_t *len;
    size_t n;
} packed_t;

/* decode + intake_submit of every packed complaint, group per durable
 * transaction; *cpu and *wall get the totals in us. 0 or -1. */
static int run_loop(intake_t *in, cpm_store_t *st, const packed_t *p, size_t group, bool by_ref,
                    int64_t *cpu, int64_t *wall)
{
    /* by_ref: the outbox refers to the stored complaint, as the service does;
     * else it keeps a copy of its bytes (the service before round 20) */
    cpm_effects_t fx = {fx_send, fx_event, st, fx_send_packed, by_ref ? fx_send_stored : NULL};
    int64_t c0 = cpu_us(), w0 = wall_us();
    for (size_t i = 0; i < p->n;) {
        MDB_txn *txn = NULL;
        if (cpm_store_begin(st, true, &txn) != 0)
            return -1;
        for (size_t k = 0; k < group && i < p->n; k++, i++) {
            Cpm__Complaint *c = cpm__complaint__unpack(NULL, p->len[i], p->buf[i]);
            MDB_txn *child = NULL;
            char ticket[INTAKE_TICKET_MAX];
            bool dup = false;
            cpm_error_t err = {0};
            int rc = c ? cpm_store_begin_child(st, txn, &child) : CPM_E_BAD_MESSAGE;
            if (rc == 0)
                rc = intake_submit(in, st, child, &fx, NODE "/cli", c, cpm_now_ms(), ticket, &dup,
                                   &err);
            if (rc == 0)
                rc = cpm_store_commit(child);
            else if (child)
                cpm_store_abort(&child);
            cpm__complaint__free_unpacked(c, NULL);
            if (rc != 0) {
                fprintf(stderr, "bench_intake_cpu: complaint %zu: %s %s %s\n", i, cpm_err_name(rc),
                        err.field, err.message);
                cpm_store_abort(&txn);
                return -1;
            }
        }
        if (cpm_store_commit(txn) != 0)
            return -1;
    }
    *cpu = cpu_us() - c0;
    *wall = wall_us() - w0;
    return 0;
}

/* ---- where the time goes: intake_submit's steps, each timed -------------- */

/* The steps of intake_submit in its order, done with the same public calls
 * (its static helpers copied in miniature), each on the thread CPU clock: a
 * breakdown that perf cannot give through libsodium's frames. */
enum {
    S_DECODE,
    S_VALIDATE,
    S_PLACE,
    S_DIGEST,
    S_REF,
    S_TRIAGE,
    S_TICKET,
    S_LOOKUP,
    S_CONSUMER,
    S_SEAL,
    S_PUTMSG,
    S_EVENT,
    S_OUTBOX,
    S_TRACK,
    S_CHILD,
    S_GROUP,
    S_FREE,
    S_N
};
static const char *const STEP[S_N] = {
    "decode (unpack)", "validate",      "placement + generation",  "client_ref digest",
    "refs get + put",  "triage",        "ticket counter",          "lookup code (HMAC)",
    "consumer key",    "contact seal",  "complaint pack + put",    "event append",
    "outbox put",      "track contact", "nested txn begin+commit", "group begin+commit",
    "free_unpacked"};

static int breakdown(const env_t *e, cpm_store_t *st, const packed_t *p, size_t group)
{
    int64_t t[S_N] = {0}, total0 = cpu_us();
    uint8_t ref_key[32], secret[32];
    randombytes_buf(ref_key, 32);
    randombytes_buf(secret, 32);
    cpm_effects_t fx = {fx_send, fx_event, st, fx_send_packed, fx_send_stored};
    int rc = 0;
#define STEP_END(s)                                                                                \
    do {                                                                                           \
        int64_t now_ = cpu_us();                                                                   \
        t[s] += now_ - t0;                                                                         \
        t0 = now_;                                                                                 \
    } while (0)
    for (size_t i = 0; i < p->n && rc == 0;) {
        MDB_txn *txn = NULL;
        int64_t t0 = cpu_us();
        if (cpm_store_begin(st, true, &txn) != 0)
            return -1;
        STEP_END(S_GROUP);
        for (size_t k = 0; k < group && i < p->n && rc == 0; k++, i++) {
            cpm_error_t err = {0};
            t0 = cpu_us();
            Cpm__Complaint *c = cpm__complaint__unpack(NULL, p->len[i], p->buf[i]);
            STEP_END(S_DECODE);
            MDB_txn *child = NULL;
            if (!c || cpm_store_begin_child(st, txn, &child) != 0)
                return -1;
            STEP_END(S_CHILD);
            int64_t now = cpm_now_ms();
            rc = intake_validate_complaint(c, e->rules, now, &err);
            STEP_END(S_VALIDATE);
            cpm_placement_t place;
            if (rc == 0 && (rc = intake_place_resolve(e->places, c, &place, &err)) == 0)
                intake_place_generation(e->places, cpm_rules_generation_at(e->rules, now), c,
                                        &place);
            STEP_END(S_PLACE);
            { /* digest_fields over the 11 fields */
                crypto_generichash_state hs;
                uint8_t d[32], len8[8];
                const char *f[] = {c->channel,        c->consumer_name, c->consumer_phone,
                                   c->consumer_email, c->business_name, c->business_address,
                                   c->area,           c->category,      c->description};
                crypto_generichash_init(&hs, ref_key, 32, 32);
                for (size_t j = 0; j < sizeof f / sizeof *f; j++) {
                    cpm_put_be64(len8, strlen(f[j]));
                    crypto_generichash_update(&hs, len8, 8);
                    crypto_generichash_update(&hs, (const uint8_t *)f[j], strlen(f[j]));
                }
                crypto_generichash_final(&hs, d, 32);
                STEP_END(S_DIGEST);
                char refkey[256];
                const void *v;
                size_t vlen;
                if (!intake_ref_key(refkey, sizeof refkey, 'C', NODE "/cli", c->client_ref))
                    rc = CPM_E_INVALID;
                if (cpm_store_get(st, child, INTAKE_REFS_DB, refkey, strlen(refkey), &v, &vlen) ==
                    0)
                    rc = CPM_E_CONFLICT; /* every reference is new */
                uint8_t val[80] = "HK-00000000";
                memcpy(val + 12, d, 32);
                if (rc == 0)
                    rc = cpm_store_put(st, child, INTAKE_REFS_DB, refkey, strlen(refkey), val, 44);
                STEP_END(S_REF);
            }
            if (rc == 0)
                rc = intake_triage_apply(e->triage, e->rules, c, &err);
            STEP_END(S_TRIAGE);
            uint64_t n = 0;
            char ticket[INTAKE_TICKET_MAX];
            if (rc == 0 && (rc = cpm_store_get_u64(st, child, "intake.ticket", &n)) == 0)
                rc = cpm_store_put_u64(st, child, "intake.ticket", n + 1);
            snprintf(ticket, sizeof ticket, "HK-%08llu", (unsigned long long)(n + 1));
            free(c->ticket != protobuf_c_empty_string ? c->ticket : NULL);
            free(c->intake_node != protobuf_c_empty_string ? c->intake_node : NULL);
            c->ticket = strdup(ticket);
            c->intake_node = strdup(NODE);
            c->received_ms = now;
            if (rc == 0)
                rc = intake_place_apply(&place, c);
            STEP_END(S_TICKET);
            char code[CPM_TEXT_CODE_LEN + 1];
            free(c->lookup_code != protobuf_c_empty_string ? c->lookup_code : NULL);
            c->lookup_code = NULL;
            if (rc == 0)
                rc = intake_lookup_code(st, child, ticket, code);
            c->lookup_code = strdup(code);
            STEP_END(S_LOOKUP);
            uint8_t ck[INTAKE_CONSUMER_KEY_LEN];
            if (intake_consumer_key(secret, c->consumer_phone, c->consumer_email, ck)) {
                free(c->consumer_key.data);
                c->consumer_key.data = malloc(sizeof ck);
                memcpy(c->consumer_key.data, ck, sizeof ck);
                c->consumer_key.len = sizeof ck;
            }
            STEP_END(S_CONSUMER);
            if (rc == 0)
                rc = intake_contact_seal(e->rules, e->reg, NULL, NULL, c, &err);
            STEP_END(S_SEAL);
            /* packed once, for the store and for routing (intake_domain) */
            size_t clen = cpm__complaint__get_packed_size(c);
            uint8_t *cbuf = malloc(clen ? clen : 1);
            if (!cbuf)
                rc = CPM_E_INTERNAL;
            if (rc == 0) {
                cpm__complaint__pack(c, cbuf);
                rc = cpm_store_put(st, child, INTAKE_COMPLAINTS_DB, ticket, strlen(ticket), cbuf,
                                   clen);
            }
            STEP_END(S_PUTMSG);
            char note[INTAKE_NOTE_MAX];
            cpm_event_t ev;
            intake_received_event(c, place.method, note, &ev);
            if (rc == 0)
                rc = fx.event(fx.ctx, child, &ev);
            STEP_END(S_EVENT);
            if (rc == 0)
                rc = fx.send_packed(fx.ctx, child, ROUTING, "routing", &c->base, cbuf, clen);
            free(cbuf);
            STEP_END(S_OUTBOX);
            /* as intake_domain's track_contact: the stream name built once (here:
             * a constant), the newest number in one lookup */
            static const char stream[] = NODE "/intake>" ROUTING "/routing";
            uint64_t last = 0;
            if (rc == 0 && (rc = cpm_outbox_last(st, child, stream, &last)) == 0)
                rc = intake_contact_track(st, child, stream, last, ticket);
            STEP_END(S_TRACK);
            if (rc == 0)
                rc = cpm_store_commit(child);
            else
                cpm_store_abort(&child);
            STEP_END(S_CHILD);
            cpm__complaint__free_unpacked(c, NULL);
            STEP_END(S_FREE);
            if (rc != 0)
                fprintf(stderr, "bench_intake_cpu: breakdown %zu: %s %s\n", i, cpm_err_name(rc),
                        err.message);
        }
        t0 = cpu_us();
        if (rc != 0 || cpm_store_commit(txn) != 0)
            return -1;
        STEP_END(S_GROUP);
    }
#undef STEP_END
    double total = (double)(cpu_us() - total0) / (double)p->n, sum = 0;
    /* What one reading of the clock costs (a system call): taken off each
     * step, which pays one. */
    int64_t c0 = cpu_us();
    for (int k = 0; k < 20000; k++)
        (void)cpu_us();
    double clock = (double)(cpu_us() - c0) / 20000.0;
    printf("\nwhere the time goes (the same steps, each timed, less %.2f us per clock reading; "
           "us per complaint):\n",
           clock);
    for (int s = 0; s < S_N; s++) {
        double calls = s == S_CHILD ? 2.0 : s == S_GROUP ? 2.0 / (double)group : 1.0;
        double us = (double)t[s] / (double)p->n - clock * calls;
        sum += us;
        printf("  %-24s %7.2f us %5.1f%%\n", STEP[s], us, 100.0 * us / total);
    }
    total -= clock * (18.0 + 2.0 / (double)group);
    printf("  %-24s %7.2f us (glue: %.2f)\n", "total", total, total - sum);
    sodium_memzero(ref_key, 32);
    sodium_memzero(secret, 32);
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* ---- unit costs of the parts, alone ------------------------------------- */

static void unit_costs(const env_t *e)
{
    enum { N = 2000 };
    cpm_identity_t id;
    if (cpm_identity_generate(&id, "x") != 0)
        return;
    uint8_t msg[600], sig[64], sealed[200], clear[120], h[32];
    randombytes_buf(msg, sizeof msg);
    randombytes_buf(clear, sizeof clear);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, id.sign_sk);
    int64_t t0 = cpu_us();
    for (int i = 0; i < N; i++)
        crypto_sign_detached(sig, NULL, msg, sizeof msg, id.sign_sk);
    int64_t t1 = cpu_us();
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad |= crypto_sign_verify_detached(sig, msg, sizeof msg, id.sign_pk);
    int64_t t2 = cpu_us();
    for (int i = 0; i < N; i++)
        (void)crypto_box_seal(sealed, clear, 60, id.curve_pk);
    int64_t t3 = cpu_us();
    for (int i = 0; i < N; i++)
        crypto_generichash(h, 32, msg, 500, h, 32);
    int64_t t4 = cpu_us();
    uint8_t epk[32], esk[32], shared[32];
    for (int i = 0; i < N; i++)
        crypto_box_keypair(epk, esk);
    int64_t t5 = cpu_us();
    for (int i = 0; i < N; i++)
        if (crypto_scalarmult(shared, esk, id.curve_pk) != 0)
            bad = 1;
    int64_t t6 = cpu_us();
    sodium_memzero(esk, sizeof esk);
    sodium_memzero(shared, sizeof shared);
    (void)e;
    printf("unit costs, alone (us): ed25519 sign %.1f, verify %.1f%s, crypto_box_seal (60 B) %.1f, "
           "blake2b 500 B %.2f; of the seal: X25519 keypair %.1f, X25519 %.1f\n",
           (double)(t1 - t0) / N, (double)(t2 - t1) / N, bad ? " (FAILED)" : "",
           (double)(t3 - t2) / N, (double)(t4 - t3) / N, (double)(t5 - t4) / N,
           (double)(t6 - t5) / N);
    cpm_identity_wipe(&id);
}

typedef struct {
    double cpu;  /* us of thread CPU per complaint, the loop */
    double rate; /* complaints per second of wall time */
    double wkb;  /* KB written per complaint (wchar) */
    double fkb;  /* KB of data.mdb per complaint */
    double read; /* us of thread CPU per record, reading the outbox as sending does */
} round_t;

/* Read every record of intake's stream to routing in batches, as the pump
 * does before it signs them; CPU per record into *us. */
static int read_outbox(cpm_store_t *st, size_t n, double *us)
{
    MDB_txn *txn = NULL;
    if (cpm_store_begin(st, false, &txn) != 0)
        return -1;
    int64_t c0 = cpu_us();
    size_t got = 0;
    int rc = 0;
    while (rc == 0 && got < n) {
        cpm_outbox_batch_t b = {0};
        rc = cpm_outbox_read(st, txn, NODE "/intake>" ROUTING "/routing", got + 1, 256,
                             (size_t)1 << 20, &b);
        if (rc == 0 && b.n == 0)
            rc = -1;
        got += b.n;
        cpm_outbox_batch_clear(&b);
    }
    *us = (double)(cpu_us() - c0) / (double)(got ? got : 1);
    cpm_store_abort(&txn);
    return rc == 0 ? 0 : -1;
}

/* One round on a fresh store: the loop, then the outbox read back. */
static int one_round(const env_t *e, const packed_t *p, size_t group, const char *parent,
                     bool by_ref, round_t *m)
{
    static const char *const dbs[] = INTAKE_DBS;
    char dir[1200], err[256] = "", file[1300];
    snprintf(dir, sizeof dir, "%s/bench-intake-cpu-XXXXXX", parent);
    if (!mkdtemp(dir)) {
        perror("bench_intake_cpu: mkdtemp");
        return -1;
    }
    cpm_store_t *st = cpm_store_open(dir, (size_t)2 << 30, dbs, err, sizeof err);
    intake_t *in = intake_for(e);
    int64_t cpu = 0, wall = 0, w0 = bench_wchar();
    int rc = !st || !in || run_loop(in, st, p, group, by_ref, &cpu, &wall) != 0 ? -1 : 0;
    struct stat sb;
    snprintf(file, sizeof file, "%s/data.mdb", dir);
    if (rc == 0) {
        m->cpu = (double)cpu / (double)p->n;
        m->rate = (double)p->n * 1e6 / (double)wall;
        m->wkb = (double)(bench_wchar() - w0) / 1024.0 / (double)p->n;
        m->fkb = stat(file, &sb) == 0 ? (double)sb.st_size / 1024.0 / (double)p->n : 0;
        rc = read_outbox(st, p->n, &m->read);
    }
    if (rc != 0 && err[0])
        fprintf(stderr, "bench_intake_cpu: %s\n", err);
    intake_destroy(&in);
    cpm_store_destroy(&st);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

int main(int argc, char **argv)
{
    size_t n = 8192, group = 32;
    int rounds = 3, quiet = 0, brk = 0, opt;
    const char *parent = ".";
    while ((opt = getopt(argc, argv, "n:g:r:d:qb")) != -1) {
        if (opt == 'n')
            n = strtoul(optarg, NULL, 10);
        else if (opt == 'g')
            group = strtoul(optarg, NULL, 10);
        else if (opt == 'r')
            rounds = atoi(optarg);
        else if (opt == 'd')
            parent = optarg;
        else if (opt == 'q')
            quiet = 1;
        else if (opt == 'b')
            brk = 1;
        else {
            fprintf(stderr,
                    "usage: bench_intake_cpu [-n N] [-g GROUP] [-r ROUNDS] [-d DIR] [-q] [-b]\n");
            return 2;
        }
    }
    if (sodium_init() < 0 || n == 0 || group == 0 || rounds < 1)
        return 2;
    env_t e;
    if (env_open(&e) != 0) {
        env_close(&e);
        return 1;
    }
    packed_t p = {malloc(n * sizeof *p.buf), malloc(n * sizeof *p.len), n};
    if (!p.buf || !p.len)
        return 1;
    uint64_t run;
    randombytes_buf(&run, sizeof run);
    for (size_t i = 0; i < n; i++)
        if (!(p.len[i] = pack_complaint(run, i, p.buf[i], sizeof p.buf[i])))
            return 1;
    if (!quiet)
        unit_costs(&e);
    int status = 0;
    round_t best[2] = {{0}};
    for (int r = 0; r < rounds && status == 0; r++) {
        /* alternated, so that the machine's drift touches both alike */
        for (int k = 0; k < 2 && status == 0; k++) {
            bool by_ref = (k + r) % 2 == 0;
            round_t m;
            if (one_round(&e, &p, group, parent, by_ref, &m) != 0) {
                fprintf(stderr, "bench_intake_cpu: round %d failed\n", r + 1);
                status = 1;
                break;
            }
            printf("round %d, %s: %zu complaints in groups of %zu: %.1f us CPU per complaint "
                   "(decode + intake_submit + commits), %.0f/s wall, %.2f KB written and %.2f KB "
                   "of store file per complaint; reading the outbox: %.2f us per record\n",
                   r + 1, by_ref ? "outbox by reference" : "outbox by copy", n, group, m.cpu,
                   m.rate, m.wkb, m.fkb, m.read);
            round_t *b = &best[by_ref];
            if (r == 0 || m.cpu < b->cpu)
                b->cpu = m.cpu;
            if (r == 0 || m.read < b->read)
                b->read = m.read;
            b->wkb = m.wkb;
            b->fkb = m.fkb;
        }
    }
    if (status == 0)
        printf("best: %.1f us CPU per complaint (outbox by reference, as the service), %.1f us by "
               "copy: ratio %.2f; written %.2f against %.2f KB per complaint; reading the outbox "
               "%.2f against %.2f us per record\n",
               best[1].cpu, best[0].cpu, best[1].cpu / best[0].cpu, best[1].wkb, best[0].wkb,
               best[1].read, best[0].read);
    if (status == 0 && brk) { /* a fresh store, as a round's */
        static const char *const dbs[] = INTAKE_DBS;
        char dir[1200], err[256] = "";
        snprintf(dir, sizeof dir, "%s/bench-intake-cpu-XXXXXX", parent);
        cpm_store_t *st =
            mkdtemp(dir) ? cpm_store_open(dir, (size_t)2 << 30, dbs, err, sizeof err) : NULL;
        if (!st || breakdown(&e, st, &p, group) != 0)
            status = 1;
        cpm_store_destroy(&st);
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    free(p.buf);
    free(p.len);
    env_close(&e);
    return status;
}
