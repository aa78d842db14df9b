/* bench_growth: does intake (and routing's register) slow down as its store
 * fills? At the domain level on real LMDB stores, no mesh: the same phase is
 * measured on an EMPTY store (the baseline, same process) and on a store
 * already holding N complaints (routing's: N cases), alternating, in rounds.
 *
 * A phase: groups of 32 complaints, each group one durable transaction (the
 * group commit the service reaches under load), each complaint in its own
 * nested transaction through intake_submit with effects that really write the
 * outbox and the event log (as tests/bench/bench_intake/baseline.c builds
 * them; copied, not shared). Then the records that phase queued for routing
 * are read from intake's outbox and applied by routing_apply_complaint in
 * groups of 32 per durable transaction (the routing figure), and both outboxes
 * are acknowledged (untimed), as routing's and inspection's acks drain them in
 * production.
 *
 * The prefill runs the same pipeline, fast: 2,000 complaints per transaction,
 * MDB_NOSYNC (synced at each checkpoint), simulated time spread over the 300 days
 * before now, intake's outbox acked and routing's too after each chunk, and
 * intake's contact sweep run as the service runs it (30-day retention after
 * routing's ack: older complaints lose their sealed contact). Unique tickets,
 * client refs (64 desks), consumers (N/2 people), 200,000 businesses, each at
 * one address in one unit (20% of complaints about 1,000 popular ones), 126
 * units, 15 categories.
 *
 * Measured at checkpoints on the way to N (100k, 250k, 500k, 1M, 2M, 5M, 10M,
 * N), each against a fresh empty store: a curve, and figures even when a
 * long run is cut short. Per phase also: thread CPU per complaint, time in
 * the durable commit, and pages written per group (wchar of /proc/self/io).
 *
 *   build/bench_growth [SOURCE_DIR] [N] [DIR] [SECONDS] [ROUNDS]
 *     N complaints prefilled (default 1,000,000); DIR the parent folder of
 *     the stores (default /tmp; removed at the end); SECONDS per phase (5);
 *     ROUNDS of empty/full pairs (3). Prints figures; asserts no timing.
 *   CPM_GROWTH_STORE=DIR keeps the full stores in DIR (not removed) and goes
 *     on from what an earlier run left there (its count in DIR/next);
 *   CPM_GROWTH_RANDOM_REFS=1 draws client references at random instead of
 *     in time order (as cpmctl and the gateway make them);
 *   CPM_GROWTH_INTAKE_ONLY=1 measures intake's phases only;
 *   CPM_GROWTH_FINAL=1 measures at N only. Together: prefill 10M while the
 *     machine is busy (interrupt it after the prefill), measure on a quiet
 *     machine later with the same DIR and N.
 *   CPM_GROWTH_ONLY=full (or empty) runs the measured phases of that side
 *     only, for a profiler (perf record -p) attached while they run.
 *   CPM_GROWTH_PAGES=1 also prints routing's pages written per group by
 *     database (its trees walked after each of the first 8 groups of every
 *     phase; the walks' time left out of the figures).
 *   CPM_GROWTH_JOURNAL=1 opens both stores with the redo journal the
 *     services keep by default (segments of 64 MiB): a commit is then the
 *     journal's one flush; the data file's flushes happen on the checkpoint
 *     thread, whose time is not in the commit time but shares the disk. */
#include "bench_time.h"
#include "cpm_eventlog.h"
#include "cpm_inbox.h"
#include "cpm_keys.h"
#include "cpm_outbox.h"
#include "cpm_place.h"
#include "cpm_registry.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "cpm_util.h"
#include "intake_domain.h"
#include "routing_clusters.h"
#include "routing_domain.h"
#include "routing_dupes.h"
#include "routing_themes.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NODE "hn.d.hoan-kiem" /* the intake node (ticket prefix HK) */
#define ROUTER "hn.doit"      /* runs routing */
#define GROUP 32
#define PREFILL_TXN 2000
#define DAY (86400LL * 1000)
#define RETENTION (30 * DAY)
#define MAX_UNITS 200
#define BUSINESSES 200000

static const char *const CATEGORIES[] = {"food_safety",
                                         "counterfeit_goods",
                                         "pricing",
                                         "ecommerce",
                                         "telecom",
                                         "advertising",
                                         "utilities",
                                         "real_estate",
                                         "health_pharma",
                                         "transport",
                                         "finance_insurance",
                                         "education_training",
                                         "tourism_services",
                                         "contracts_warranty",
                                         "other"};
#define NCAT (sizeof CATEGORIES / sizeof *CATEGORIES)
static const char *const CITY[] = {"hn.doit", "hn.qltt", "hn.attp", "hn.doh",
                                   "hn.doic", "hn.doc",  "hn.dot"};

static char units[MAX_UNITS][64];
static size_t nunits;
/* the world both sides share: rules, places, registry (loaded once) */
static cpm_rules_t *w_rules;
static cpm_places_t *w_places;
static cpm_registry_t *w_reg;

static int64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_growth: %s: %s\n", what, why ? why : "failed");
    exit(1);
}

/* ---- effects as the service binds them (outbox record, event log) ---- */

typedef struct {
    cpm_store_t *st;
    char self[160]; /* "<member>/<service>" whose outbox this is */
    int64_t now;    /* the time events get */
} fx_ctx_t;

static int fx_send(void *ctx, MDB_txn *txn, const char *member, const char *service,
                   const ProtobufCMessage *rec)
{
    fx_ctx_t *f = ctx;
    char stream[400];
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

/* As the server's: intake's complaint goes by reference to its stored bytes. */
static int fx_send_stored(void *ctx, MDB_txn *txn, const char *member, const char *service,
                          const char *db, const void *key, size_t klen, size_t len)
{
    fx_ctx_t *f = ctx;
    char stream[400];
    snprintf(stream, sizeof stream, "%s>%s/%s", f->self, member, service);
    return cpm_outbox_put_ref(f->st, txn, stream, db, key, klen, NULL);
}

static int fx_event(void *ctx, MDB_txn *txn, const cpm_event_t *ev)
{
    fx_ctx_t *f = ctx;
    return cpm_eventlog_append(f->st, txn, f->now, ev, NULL);
}

/* ---- the world: rules, places, a registry with every agency ---------- */

static Cpm__Member *member(const char *id, const char *role, const char *area, bool intake)
{
    cpm_identity_t key;
    uint8_t seed[32];
    crypto_hash_sha256(seed, (const uint8_t *)id, strlen(id));
    if (cpm_identity_from_seed(&key, id, seed) != 0)
        die("identity", id);
    Cpm__Member *m = calloc(1, sizeof *m);
    cpm__member__init(m);
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
    m->n_services = intake ? 2 : 1;
    m->services = calloc(m->n_services, sizeof *m->services);
    for (size_t i = 0; i < m->n_services; i++) {
        Cpm__ServiceEndpoint *s = calloc(1, sizeof *s);
        cpm__service_endpoint__init(s);
        s->name = strdup(i ? "intake" : "inspection");
        s->endpoint = strdup("tcp://127.0.0.1:7001");
        s->pub_endpoint = strdup("tcp://127.0.0.1:7002");
        m->services[i] = s;
    }
    return m;
}

/* The city agencies and an area office (inspection) for each 2025 unit;
 * hn.d.hoan-kiem also runs intake with ticket prefix HK. */
static cpm_registry_t *registry(void)
{
    size_t n = 0, ncity = sizeof CITY / sizeof *CITY;
    Cpm__Member **ms = calloc(ncity + nunits, sizeof *ms);
    for (size_t i = 0; i < ncity; i++)
        ms[n++] = member(CITY[i], i ? "department" : "city", "", false);
    for (size_t i = 0; i < nunits; i++) {
        char id[96];
        snprintf(id, sizeof id, "hn.d.%s", units[i]);
        ms[n] = member(id, "area", units[i], !strcmp(id, NODE));
        if (!strcmp(id, NODE))
            ms[n]->ticket_prefix = strdup("HK");
        n++;
    }
    cpm_identity_t root;
    if (cpm_identity_generate(&root, "root") != 0)
        die("root key", NULL);
    Cpm__Registry doc;
    cpm__registry__init(&doc);
    doc.version = 1;
    doc.mesh = "growth";
    doc.members = ms;
    doc.n_members = n;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    if (cpm_registry_sign(&doc, root.sign_sk, &buf, &len) != 0)
        die("registry", "cannot sign");
    cpm_registry_t *reg = cpm_registry_from_signed(buf, len, root.sign_pk, err, sizeof err);
    if (!reg)
        die("registry", err);
    cpm_identity_wipe(&root);
    free(buf);
    for (size_t i = 0; i < n; i++)
        cpm__member__free_unpacked(ms[i], NULL);
    free(ms);
    return reg;
}

/* The slugs of the 2025 units (communes.csv, column 6). */
static void load_units(const char *src)
{
    char path[PATH_MAX + 64], line[1024];
    snprintf(path, sizeof path, "%s/deploy/hanoi/reform-2025/communes.csv", src);
    FILE *f = fopen(path, "r");
    if (!f)
        die(path, "cannot open");
    for (int ln = 0; fgets(line, sizeof line, f) && nunits < MAX_UNITS; ln++) {
        char *p = line;
        for (int col = 0; col < 5 && p; col++)
            p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        if (ln == 0 || !p)
            continue;
        size_t l = strcspn(p, ",\n");
        snprintf(units[nunits++], sizeof units[0], "%.*s", (int)l, p);
    }
    fclose(f);
    if (!nunits)
        die(path, "no units");
}

/* ---- one side of the bench: an intake store and a routing store ------ */

typedef struct {
    char dir[PATH_MAX], idir[PATH_MAX + 16], rdir[PATH_MAX + 16];
    cpm_store_t *ist, *rst;
    intake_t *in;
    fx_ctx_t ifc, rfc;
    cpm_effects_t ifx, rfx;
    char stream[400]; /* intake -> routing */
    uint64_t next;    /* the next complaint number */
    bool kept;        /* CPM_GROWTH_STORE: in a folder kept for the next run */
} side_t;

static void side_open(side_t *s, const char *parent, const char *what, size_t map)
{
    static const char *const idbs[] = INTAKE_DBS, *const rdbs[] = ROUTING_DBS;
    char err[256] = "";
    memset(s, 0, sizeof *s);
    const char *keep = strcmp(what, "full") == 0 ? getenv("CPM_GROWTH_STORE") : NULL;
    if (keep && *keep) {
        snprintf(s->dir, sizeof s->dir, "%s", keep);
        if (mkdir(s->dir, 0700) != 0 && errno != EEXIST)
            die(s->dir, strerror(errno));
        s->kept = true;
    } else {
        snprintf(s->dir, sizeof s->dir, "%s/cpm-growth-%s-XXXXXX", parent, what);
        if (!mkdtemp(s->dir))
            die(s->dir, "mkdtemp");
    }
    snprintf(s->idir, sizeof s->idir, "%s/intake", s->dir);
    snprintf(s->rdir, sizeof s->rdir, "%s/routing", s->dir);
    /* CPM_GROWTH_JOURNAL=1: the stores keep a redo journal, as the services'
     * do by default (segments of 64 MiB: a group's record fits) */
    const char *jv = getenv("CPM_GROWTH_JOURNAL");
    /* CPM_GROWTH_CKPT_MS: the checkpoint interval (default the services');
     * CPM_GROWTH_SEG_MB: the segments' size (a checkpoint also comes when
     * one is half full: at 17,000 complaints/s about every 0.6 s with 64) */
    const char *cv = getenv("CPM_GROWTH_CKPT_MS"), *sv = getenv("CPM_GROWTH_SEG_MB");
    cpm_store_opts_t o = {.map_size = map,
                          .journal = jv && strcmp(jv, "1") == 0,
                          .journal_seg_bytes = (size_t)(sv ? strtoul(sv, NULL, 10) : 64) << 20,
                          .checkpoint_ms = cv ? (unsigned)strtoul(cv, NULL, 10) : 0};
    if (!(s->ist = cpm_store_open_with(s->idir, &o, idbs, err, sizeof err)) ||
        !(s->rst = cpm_store_open_with(s->rdir, &o, rdbs, err, sizeof err)))
        die("store", err);
    /* as the service does at start: a kept store written before
     * "clusters.order" has its rank index moved */
    size_t moved = 0, txns = 0;
    int64_t m0 = mono_us();
    if (routing_clusters_rank_upgrade(s->rst, 5000, &moved, &txns) != 0)
        die("store", "moving the rank index");
    if (moved)
        printf("bench_growth: %s: %zu rank entries moved to %s in %zu transactions, %.1f s\n", what,
               moved, ROUTING_CLUSTER_RANK_DB, txns, (double)(mono_us() - m0) / 1e6);
    s->in = intake_new(w_rules, NODE, "HK", ROUTER);
    intake_set_registry(s->in, w_reg);
    intake_set_places(s->in, w_places, NULL);
    uint8_t key[32];
    crypto_hash_sha256(key, (const uint8_t *)"growth ref key", 14);
    intake_set_ref_key(s->in, key);
    crypto_hash_sha256(key, (const uint8_t *)"growth consumer secret", 22);
    intake_set_consumer_secret(s->in, key);
    s->ifc = (fx_ctx_t){s->ist, NODE "/intake", 0};
    s->rfc = (fx_ctx_t){s->rst, ROUTER "/routing", 0};
    s->ifx = (cpm_effects_t){fx_send, fx_event, &s->ifc, NULL, fx_send_stored};
    s->rfx = (cpm_effects_t){fx_send, fx_event, &s->rfc, NULL, NULL};
    snprintf(s->stream, sizeof s->stream, NODE "/intake>" ROUTER "/routing");
    if (s->kept) { /* how many complaints an earlier run left in it */
        char np[PATH_MAX + 16];
        snprintf(np, sizeof np, "%s/next", s->dir);
        FILE *f = fopen(np, "r");
        unsigned long long v = 0;
        if (f && fscanf(f, "%llu", &v) == 1)
            s->next = v;
        if (f)
            fclose(f);
        /* A run stopped between a commit and the count's save left more:
         * go on after the complaints intake holds (their numbers make the
         * client refs, which must not repeat). */
        MDB_txn *txn = NULL;
        MDB_stat ms;
        if (cpm_store_begin(s->ist, false, &txn) == 0 &&
            mdb_stat(txn, cpm_store_dbi(s->ist, INTAKE_COMPLAINTS_DB), &ms) == 0 &&
            ms.ms_entries > s->next)
            s->next = ms.ms_entries;
        /* as the service at start: a store kept from before 2026-12-01 holds
         * its references sender first, looked up too */
        if (intake_refs_scan(s->in, s->ist, txn)) /* txn NULL: both forms */
            printf("bench_growth: %s holds client references of the sender-first form\n", s->dir);
        cpm_store_abort(&txn);
    }
}

/* A kept store's count, written after every change so that a later run
 * (CPM_GROWTH_STORE) goes on from it. */
static void side_save(const side_t *s)
{
    if (!s->kept)
        return;
    char np[PATH_MAX + 16];
    snprintf(np, sizeof np, "%s/next", s->dir);
    FILE *f = fopen(np, "w");
    if (!f || fprintf(f, "%llu\n", (unsigned long long)s->next) < 0 || fclose(f) != 0)
        die(np, "cannot record the count");
}

static int rm_entry(const char *p, const struct stat *sb, int f, struct FTW *w)
{
    (void)sb, (void)f, (void)w;
    return remove(p);
}

static void side_close(side_t *s)
{
    intake_destroy(&s->in);
    cpm_store_destroy(&s->ist);
    cpm_store_destroy(&s->rst);
    if (!s->kept)
        nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* CPM_GROWTH_RANDOM_REFS=1: client references drawn at random, not in time
 * order (intake's refs index then takes each insert anywhere in its tree).
 * CPM_GROWTH_INTAKE_ONLY=1: phases measure intake only (its records are
 * acknowledged as if routing had taken them, so routing's store then lacks
 * them: do not measure routing on a store kept from such a run): for runs
 * whose memory is limited below the stores, where routing's phase would
 * take hours. */
static bool random_refs, intake_only;

/* Complaint i as a client sends it, at time t, unpacked (intake replaces
 * its strings); sender gets the desk that sent it. */
static Cpm__Complaint *complaint(uint64_t i, uint64_t npeople, int64_t t, char sender[64])
{
    static const char *const CHANNELS[] = {"hotline", "web", "email", "walk_in"};
    static const char *const FAMILY[] = {"Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu", "Dang"};
    static const char *const GIVEN[] = {"Van An",   "Thi Lan",  "Minh Duc", "Thu Ha",
                                        "Quoc Bao", "Ngoc Anh", "Duc Huy",  "Thanh Tam"};
    uint64_t h = mix(i + 1), person = mix(i * 7 + 3) % npeople;
    uint64_t biz = h % 5 == 0 ? h % 1000 : (h >> 8) % BUSINESSES;
    char name[64], phone[32], business[64], address[64], ref[48], desc[400];
    snprintf(name, sizeof name, "%s %s %llu", FAMILY[person % 7], GIVEN[(person / 7) % 8],
             (unsigned long long)person % 1000);
    snprintf(phone, sizeof phone, "09%08llu", (unsigned long long)(person % 100000000));
    snprintf(business, sizeof business, "Cua hang %llu", (unsigned long long)biz);
    snprintf(address, sizeof address, "%llu pho Hang %llu", (unsigned long long)(biz % 300),
             (unsigned long long)(biz % 97));
    if (random_refs) /* as a client drawing random references would */
        snprintf(ref, sizeof ref, "g-%016llx-%llu", (unsigned long long)h, (unsigned long long)i);
    else /* as cpmctl and the gateway do: in time order (cpm_time_ordered_id) */
        snprintf(ref, sizeof ref, "g-%012llx-%010llu", (unsigned long long)t,
                 (unsigned long long)i);
    snprintf(desc, sizeof desc,
             "Complaint %llu: bought goods on %s; the receipt shows a price higher than the "
             "label and the staff refused to correct it or take the goods back. Two of us "
             "felt unwell afterwards. We kept the receipt and photos of the shelf label.",
             (unsigned long long)i, business);
    snprintf(sender, 64, NODE "/desk.%02llu", (unsigned long long)(h >> 40) % 64);
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.channel = (char *)CHANNELS[h % 4];
    c.consumer_name = name;
    c.consumer_phone = phone;
    c.business_name = business;
    c.business_address = address;
    c.area = units[biz % nunits]; /* a business is in one unit: it is one business */
    c.category = (char *)CATEGORIES[(h >> 24) % NCAT];
    c.description = desc;
    c.client_ref = ref;
    c.event_time_ms = t - DAY;
    c.urgent = h % 10 == 0;
    uint8_t buf[4096];
    size_t len = cpm__complaint__pack(&c, buf);
    return cpm__complaint__unpack(NULL, len, buf);
}

/* One complaint into intake in a nested transaction of txn. */
static int submit(side_t *s, MDB_txn *txn, uint64_t npeople, int64_t t)
{
    char sender[64], ticket[INTAKE_TICKET_MAX];
    Cpm__Complaint *c = complaint(s->next++, npeople, t, sender);
    bool dup = false;
    cpm_error_t err = {0};
    MDB_txn *child = NULL;
    s->ifc.now = t;
    int rc = c ? cpm_store_begin_child(s->ist, txn, &child) : CPM_E_INTERNAL;
    if (rc == 0)
        rc = intake_submit(s->in, s->ist, child, &s->ifx, sender, c, t, ticket, &dup, &err);
    if (rc == 0)
        rc = cpm_store_commit(child);
    else if (child)
        cpm_store_abort(&child);
    if (rc != 0 || dup)
        fprintf(stderr, "bench_growth: intake_submit: %s %s %s\n", cpm_err_name(rc), err.field,
                err.message);
    cpm__complaint__free_unpacked(c, NULL);
    return rc;
}

/* Routing takes up to max records queued by intake, in one transaction of
 * the routing store; *n gets how many (0: none left). Records of txn lives. */
static int route(side_t *s, MDB_txn *rtxn, size_t max, int64_t t, size_t *n)
{
    uint64_t acked = 0;
    MDB_txn *itxn = NULL;
    cpm_outbox_batch_t ob = {0};
    int rc = cpm_store_begin(s->ist, false, &itxn);
    if (rc == 0)
        rc = cpm_inbox_hwm(s->rst, rtxn, s->stream, &acked);
    if (rc == 0)
        rc = cpm_outbox_read(s->ist, itxn, s->stream, acked + 1, max, 64u << 20, &ob);
    cpm_store_abort(&itxn);
    s->rfc.now = t;
    for (size_t k = 0; rc == 0 && k < ob.n; k++) {
        Cpm__Complaint *c = cpm__complaint__unpack(NULL, ob.lens[k], ob.recs[k]);
        cpm_error_t err = {0};
        MDB_txn *child = NULL; /* one nested transaction per record, as routing does */
        rc = c ? cpm_store_begin_child(s->rst, rtxn, &child) : CPM_E_BAD_MESSAGE;
        if (rc == 0)
            rc = routing_apply_complaint(w_rules, w_reg, s->rst, child, &s->rfx, NODE, c, t, &err);
        if (rc == 0)
            rc = cpm_store_commit(child);
        else if (child)
            cpm_store_abort(&child);
        if (rc != 0)
            fprintf(stderr, "bench_growth: routing: %s %s\n", cpm_err_name(rc), err.message);
        cpm__complaint__free_unpacked(c, NULL);
    }
    if (rc == 0 && ob.n)
        rc = cpm_inbox_set(s->rst, rtxn, s->stream, ob.first_seq + ob.n - 1);
    *n = ob.n;
    cpm_outbox_batch_clear(&ob);
    return rc;
}

/* What the acks do in production, in two transactions: routing's inbox mark
 * acknowledges intake's outbox (and starts the retention of the sealed
 * contacts, intake's sweep), inspection acknowledges all of routing's. */
static int ack_all(side_t *s, int64_t t, size_t sweep_max)
{
    MDB_txn *txn = NULL;
    uint64_t hwm = 0;
    size_t stripped = 0;
    int rc = cpm_store_begin(s->rst, false, &txn);
    if (rc == 0)
        rc = cpm_inbox_hwm(s->rst, txn, s->stream, &hwm);
    cpm_store_abort(&txn);
    if (rc == 0)
        rc = cpm_store_begin(s->ist, true, &txn);
    if (rc == 0 && intake_only) { /* as if routing had taken them all */
        uint64_t acked = 0, depth = 0;
        rc = cpm_outbox_acked(s->ist, txn, s->stream, &acked);
        if (rc == 0)
            rc = cpm_outbox_depth(s->ist, txn, s->stream, &depth);
        hwm = acked + depth;
    }
    if (rc == 0) {
        rc = cpm_outbox_ack(s->ist, txn, s->stream, hwm);
        if (rc == 0)
            rc = intake_contact_sweep(s->in, s->ist, txn, t, RETENTION, sweep_max, &stripped);
        rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), rc);
    }
    char **streams = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = cpm_store_begin(s->rst, true, &txn);
    if (rc == 0) {
        rc = cpm_outbox_streams(s->rst, txn, &streams, &n);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            uint64_t acked = 0, depth = 0;
            rc = cpm_outbox_acked(s->rst, txn, streams[i], &acked);
            if (rc == 0)
                rc = cpm_outbox_depth(s->rst, txn, streams[i], &depth);
            if (rc == 0 && depth)
                rc = cpm_outbox_ack(s->rst, txn, streams[i], acked + depth);
        }
        cpm_outbox_streams_free(&streams, n);
        rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), rc);
    }
    return rc;
}

static void set_nosync(side_t *s, bool on)
{
    if (cpm_store_journaled(s->ist)) /* its commits are journaled: no toggling */
        return;
    mdb_env_set_flags(cpm_store_env(s->ist), MDB_NOSYNC, on);
    mdb_env_set_flags(cpm_store_env(s->rst), MDB_NOSYNC, on);
    if (!on) {
        mdb_env_sync(cpm_store_env(s->ist), 1);
        mdb_env_sync(cpm_store_env(s->rst), 1);
    }
}

/* n complaints through intake, routing and the acks, PREFILL_TXN per
 * transaction, not synced, at simulated times from t0 to t1. */
static void prefill(side_t *s, uint64_t upto, uint64_t n, uint64_t npeople, int64_t t0, int64_t t1)
{
    set_nosync(s, true);
    int64_t start = mono_us(), last = start;
    uint64_t step = 100000, from = s->next;
    while (s->next < upto) {
        int64_t t = t0 + (int64_t)((double)(t1 - t0) * (double)s->next / (double)n);
        MDB_txn *txn = NULL;
        int rc = cpm_store_begin(s->ist, true, &txn);
        for (size_t k = 0; rc == 0 && k < PREFILL_TXN && s->next < upto; k++)
            rc = submit(s, txn, npeople, t);
        rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), rc);
        size_t routed = 0; /* intake only: routing's store stays empty */
        if (rc == 0 && !intake_only && (rc = cpm_store_begin(s->rst, true, &txn)) == 0) {
            rc = route(s, txn, PREFILL_TXN, t, &routed);
            rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), rc);
        }
        if (rc == 0)
            rc = ack_all(s, t, 2 * PREFILL_TXN);
        if (rc != 0)
            die("prefill", cpm_err_name(rc));
        side_save(s);
        if (s->next % step < PREFILL_TXN || s->next == upto) {
            int64_t now = mono_us();
            uint64_t done = s->next - from;
            fprintf(stderr, "  prefill %llu/%llu, %.0f s, last part %.0f complaints/s\n",
                    (unsigned long long)s->next, (unsigned long long)n, (now - start) / 1e6,
                    (double)(done < step ? done : step) * 1e6 / (double)(now - last));
            last = now;
        }
    }
    set_nosync(s, false);
    side_save(s);
}

/* ---- pages written per database (CPM_GROWTH_PAGES=1) ------------------ */

/* LMDB copies every page it changes to a new page number (copy on write),
 * and never reuses a page freed by the transaction that freed it: the pages
 * of a database's tree after a commit that its tree before did not hold are
 * the pages that commit wrote for it. The trees are read from the data file
 * (LMDB 0.9's page and node layout, 64-bit), between routing's groups of
 * the measured phases, for the first PW_GROUPS groups of each phase; the
 * walk's time is left out of the phase's figures. */
#define PW_GROUPS 8
#define PW_DBS 48
#define PW_HDR 16 /* page header: pgno, pad, flags, lower, upper */

typedef struct {
    uint64_t *pg;
    size_t n, cap;
} pw_set_t;

typedef struct {
    pw_set_t db[PW_DBS]; /* by pw_names */
} pw_snap_t;

static char pw_names[PW_DBS][48]; /* "(main)", "(free)", then named databases */
static size_t pw_n;
static bool pw_on;

static size_t pw_index(const char *name, size_t len)
{
    for (size_t i = 0; i < pw_n; i++)
        if (strlen(pw_names[i]) == len && !memcmp(pw_names[i], name, len))
            return i;
    if (pw_n == PW_DBS || len >= sizeof pw_names[0])
        die("pages", "too many databases");
    memcpy(pw_names[pw_n], name, len);
    pw_names[pw_n][len] = 0;
    return pw_n++;
}

static void pw_add(pw_set_t *s, uint64_t p)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        if (!(s->pg = realloc(s->pg, s->cap * sizeof *s->pg)))
            die("memory", NULL);
    }
    s->pg[s->n++] = p;
}

static uint16_t pw_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint64_t pw_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The tree under root into s->db[d]; main: its sub-databases are named
 * databases, each walked into its own set. */
static void pw_tree(const uint8_t *map, size_t npages, size_t psz, uint64_t root, pw_snap_t *s,
                    size_t d, bool main)
{
    if (root >= npages)
        return; /* P_INVALID: an empty database */
    const uint8_t *pg = map + root * psz;
    uint16_t flags = pw_u16(pg + 10), lower = pw_u16(pg + 12);
    size_t nkeys = lower > PW_HDR ? (size_t)(lower - PW_HDR) / 2 : 0;
    pw_add(&s->db[d], root);
    if (flags & 0x20) /* LEAF2: keys only */
        return;
    for (size_t i = 0; i < nkeys; i++) {
        const uint8_t *node = pg + pw_u16(pg + PW_HDR + 2 * i);
        if (flags & 0x01) { /* branch: the child's page number in lo, hi, flags */
            uint64_t child =
                pw_u16(node) | (uint64_t)pw_u16(node + 2) << 16 | (uint64_t)pw_u16(node + 4) << 32;
            pw_tree(map, npages, psz, child, s, d, main);
            continue;
        }
        uint16_t nflags = pw_u16(node + 4), ksize = pw_u16(node + 6);
        const uint8_t *data = node + 8 + ksize;
        if (nflags & 0x01) { /* F_BIGDATA: overflow pages */
            uint64_t ov = pw_u64(data);
            uint32_t count = 0;
            if (ov < npages)
                memcpy(&count, map + ov * psz + 12, 4);
            char name[48]; /* counted apart: a value rewritten is copied whole */
            int nl = snprintf(name, sizeof name, "%s (overflow)", pw_names[d]);
            size_t o = pw_index(name, nl > 0 && (size_t)nl < sizeof name ? (size_t)nl : 0);
            for (uint32_t k = 0; k < count; k++)
                pw_add(&s->db[o], ov + k);
        } else if (nflags & 0x02) { /* F_SUBDATA: an MDB_db, its root at 40 */
            size_t sub = main ? pw_index((const char *)node + 8, ksize) : d;
            pw_tree(map, npages, psz, pw_u64(data + 40), s, sub, false);
        }
    }
}

static int pw_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every database's pages in the last committed trees of the store in dir. */
static void pw_walk(const char *dir, pw_snap_t *s)
{
    for (size_t i = 0; i < PW_DBS; i++)
        s->db[i].n = 0;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0)
        die(path, strerror(errno));
    uint8_t *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        die(path, "mmap");
    uint32_t psz;
    memcpy(&psz, map + PW_HDR + 24, 4); /* the meta's free database's md_pad: the page size */
    if (psz < 512 || psz > 65536)
        psz = 4096;
    /* the meta page with the newer transaction id */
    const uint8_t *m0 = map + PW_HDR, *m1 = map + psz + PW_HDR;
    const uint8_t *m = pw_u64(m1 + 128) > pw_u64(m0 + 128) ? m1 : m0;
    size_t npages = (size_t)sb.st_size / psz;
    pw_tree(map, npages, psz, pw_u64(m + 24 + 40), s, pw_index("(free)", 6), false);
    pw_tree(map, npages, psz, pw_u64(m + 24 + 48 + 40), s, pw_index("(main)", 6), true);
    munmap(map, (size_t)sb.st_size);
    for (size_t i = 0; i < pw_n; i++)
        qsort(s->db[i].pg, s->db[i].n, sizeof *s->db[i].pg, pw_cmp);
}

/* Pages of b not in a, per database, added to out. */
static void pw_diff(const pw_snap_t *a, const pw_snap_t *b, int64_t out[PW_DBS])
{
    for (size_t d = 0; d < pw_n; d++)
        for (size_t i = 0; i < b->db[d].n; i++)
            out[d] +=
                !bsearch(&b->db[d].pg[i], a->db[d].pg, a->db[d].n, sizeof *a->db[d].pg, pw_cmp);
}

/* ---- the measured phase ----------------------------------------------- */

typedef struct {
    int64_t *us; /* one per group */
    size_t n, cap;
    uint64_t items;
    int64_t wall_us, cpu_us, commit_us; /* thread CPU; time in the durable commits */
    int64_t commit_cpu_us; /* thread CPU in the durable commits (writing and syncing pages) */
    int64_t written;       /* bytes this process handed to write(2): LMDB's dirty pages */
    int64_t pages[PW_DBS]; /* CPM_GROWTH_PAGES: pages written per database (by pw_names) */
    size_t walked;         /* in that many groups */
} lat_t;

static void lat_add(lat_t *l, int64_t us)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->us = realloc(l->us, l->cap * sizeof *l->us);
        if (!l->us)
            die("memory", NULL);
    }
    l->us[l->n++] = us;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* p-th quantile of the group times, in ms (sorts l). */
static double pct(lat_t *l, double p)
{
    if (!l->n)
        return 0;
    qsort(l->us, l->n, sizeof *l->us, cmp_i64);
    size_t i = (size_t)(p * (double)(l->n - 1) + 0.5);
    return (double)l->us[i] / 1000.0;
}

static double rate(const lat_t *l)
{
    return l->wall_us ? (double)l->items * 1e6 / (double)l->wall_us : 0;
}

/* Intake for secs in durable groups of GROUP (into li), then routing takes
 * what it queued in durable groups of GROUP (into lr), then the acks. */
static void phase(side_t *s, double secs, uint64_t npeople, lat_t *li, lat_t *lr)
{
    int64_t t0 = mono_us(), c0 = cpu_us(), w0 = bench_wchar();
    while (mono_us() - t0 < (int64_t)(secs * 1e6)) {
        int64_t g0 = mono_us(), now = cpm_now_ms();
        MDB_txn *txn = NULL;
        int rc = cpm_store_begin(s->ist, true, &txn);
        for (size_t k = 0; rc == 0 && k < GROUP; k++)
            rc = submit(s, txn, npeople, now);
        int64_t k0 = mono_us(), kc0 = cpu_us();
        rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), rc);
        li->commit_us += mono_us() - k0;
        li->commit_cpu_us += cpu_us() - kc0;
        if (rc != 0)
            die("intake group", cpm_err_name(rc));
        lat_add(li, mono_us() - g0);
        li->items += GROUP;
    }
    li->wall_us += mono_us() - t0;
    li->cpu_us += cpu_us() - c0;
    li->written += bench_wchar() - w0;
    t0 = mono_us(), c0 = cpu_us(), w0 = bench_wchar();
    static pw_snap_t before, after;
    int64_t skip_us = 0, skip_cpu = 0; /* the walks' time: left out */
    if (pw_on && !intake_only) {
        pw_walk(s->rdir, &before);
        skip_us = mono_us() - t0, skip_cpu = cpu_us() - c0;
    }
    for (size_t routed = intake_only ? 0 : GROUP, g = 0; routed > 0; g++) {
        int64_t g0 = mono_us();
        MDB_txn *txn = NULL;
        int rc = cpm_store_begin(s->rst, true, &txn);
        if (rc == 0)
            rc = route(s, txn, GROUP, cpm_now_ms(), &routed);
        int64_t k0 = mono_us(), kc0 = cpu_us();
        rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), rc);
        lr->commit_us += mono_us() - k0;
        lr->commit_cpu_us += cpu_us() - kc0;
        if (rc != 0)
            die("routing group", cpm_err_name(rc));
        if (routed) {
            lat_add(lr, mono_us() - g0);
            lr->items += routed;
        }
        if (pw_on && routed && g < PW_GROUPS) {
            int64_t p0 = mono_us(), pc0 = cpu_us();
            pw_walk(s->rdir, &after);
            pw_diff(&before, &after, lr->pages);
            lr->walked++;
            pw_snap_t t = before;
            before = after, after = t;
            skip_us += mono_us() - p0, skip_cpu += cpu_us() - pc0;
        }
    }
    lr->wall_us += mono_us() - t0 - skip_us;
    lr->cpu_us += cpu_us() - c0 - skip_cpu;
    lr->written += bench_wchar() - w0;
    if (ack_all(s, cpm_now_ms(), 4096) != 0)
        die("acks", NULL);
    side_save(s);
}

/* ---- sizes ------------------------------------------------------------- */

/* Bytes of path resident in the page cache (mincore), -1 when unknown. */
static long long resident(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size == 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    long page = sysconf(_SC_PAGESIZE);
    size_t len = (size_t)sb.st_size, np = (len + (size_t)page - 1) / (size_t)page;
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    unsigned char *vec = malloc(np);
    long long in = -1;
    if (m != MAP_FAILED && vec && mincore(m, len, vec) == 0) {
        in = 0;
        for (size_t i = 0; i < np; i++)
            in += vec[i] & 1;
        in *= page;
    }
    free(vec);
    if (m != MAP_FAILED)
        munmap(m, len);
    return in;
}

static void sizes(const char *what, cpm_store_t *st, const char *dir, const char *const *dbs,
                  uint64_t n, bool detail)
{
    MDB_env *env = cpm_store_env(st);
    MDB_envinfo info;
    MDB_stat est;
    mdb_env_info(env, &info);
    mdb_env_stat(env, &est);
    MDB_txn *txn = NULL;
    size_t used = 0, map = 0;
    if (cpm_store_begin(st, false, &txn) != 0 || cpm_store_usage(st, txn, &used, &map) != 0)
        die("usage", NULL);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat sb;
    long long file = stat(path, &sb) == 0 ? (long long)sb.st_blocks * 512 : -1;
    long long hw = ((long long)info.me_last_pgno + 1) * est.ms_psize;
    printf("%s store: %llu complaints, live pages %.1f MiB = %.0f bytes/complaint; file high "
           "water %.1f MiB (%.0f bytes/complaint), on disk %.1f MiB\n",
           what, (unsigned long long)n, used / 1048576.0, n ? (double)used / (double)n : 0,
           hw / 1048576.0, n ? (double)hw / (double)n : 0, file / 1048576.0);
    printf("    in the page cache now: %.1f MiB\n", resident(path) / 1048576.0);
    const char *common[] = {CPM_DB_META,   CPM_DB_OUTBOX, CPM_DB_INBOX,
                            CPM_DB_EVENTS, CPM_DB_DEAD,   NULL};
    const char *const *lists[] = {common, dbs};
    for (int l = 0; detail && l < 2; l++)
        for (const char *const *d = lists[l]; *d; d++) {
            MDB_stat ms;
            if (mdb_stat(txn, cpm_store_dbi(st, *d), &ms) != 0 || !ms.ms_entries)
                continue;
            size_t pages = ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages;
            printf("    %-16s %10zu entries, depth %u, %8.1f MiB, %6.0f bytes/complaint\n", *d,
                   ms.ms_entries, ms.ms_depth, pages * (double)ms.ms_psize / 1048576.0,
                   n ? pages * (double)ms.ms_psize / (double)n : 0);
        }
    cpm_store_abort(&txn);
}

static cpm_rules_t *load_rules(const char *src)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/deploy/hanoi/routing.yaml", src);
    cpm_rules_t *r = NULL;
    cpm_error_t e = {0};
    if (cpm_rules_load(path, &r, &e) != 0)
        die(path, e.message);
    cpm_rules_set_service(r, "inspection"); /* as routing and intake do */
    return r;
}

/* CPU us per complaint (and how much of it in the durable commit: LMDB
 * writing its dirty pages and the kernel syncing them), and ms per group in
 * the durable commit. */
static void costs(const char *what, const lat_t *l)
{
    printf("    %-5s CPU %5.0f us/complaint (%3.0f in the commit), commit (fsync) %5.2f ms/group, "
           "%4.0f pages written per group (%zu groups)\n",
           what, l->items ? (double)l->cpu_us / (double)l->items : 0,
           l->items ? (double)l->commit_cpu_us / (double)l->items : 0,
           l->n ? (double)l->commit_us / 1000.0 / (double)l->n : 0,
           l->n ? (double)l->written / 4096.0 / (double)l->n : 0, l->n);
}

/* Pages written per group, database by database (CPM_GROWTH_PAGES). */
static void db_pages(const lat_t *e, const lat_t *f)
{
    if (!e->walked && !f->walked)
        return;
    printf("    pages written per group by database (trees walked after %zu and %zu groups):\n",
           e->walked, f->walked);
    int64_t te = 0, tf = 0;
    for (size_t d = 0; d < pw_n; d++) {
        te += e->pages[d], tf += f->pages[d];
        if (e->pages[d] || f->pages[d])
            printf("      %-18s empty %6.1f full %6.1f\n", pw_names[d],
                   e->walked ? (double)e->pages[d] / (double)e->walked : 0,
                   f->walked ? (double)f->pages[d] / (double)f->walked : 0);
    }
    printf("      %-18s empty %6.1f full %6.1f\n", "all",
           e->walked ? (double)te / (double)e->walked : 0,
           f->walked ? (double)tf / (double)f->walked : 0);
}

static void row(const char *what, lat_t *e, lat_t *f)
{
    double re = rate(e), rf = rate(f), e50 = pct(e, 0.5), e99 = pct(e, 0.99), f50 = pct(f, 0.5),
           f99 = pct(f, 0.99);
    printf("%-8s empty %8.0f/s p50 %6.2f ms p99 %6.2f ms | full %8.0f/s p50 %6.2f ms p99 %6.2f "
           "ms | full/empty rate %.2f p99 %.2f\n",
           what, re, e50, e99, rf, f50, f99, re > 0 ? rf / re : 0, e99 > 0 ? f99 / e99 : 0);
    costs("empty", e);
    costs("full", f);
    db_pages(e, f);
}

int main(int argc, char **argv)
{
    char srcbuf[PATH_MAX];
    const char *src = realpath(argc > 1 ? argv[1] : ".", srcbuf);
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
    const char *parent = argc > 3 ? argv[3] : "/tmp";
    double secs = argc > 4 ? atof(argv[4]) : 5;
    int rounds = argc > 5 ? atoi(argv[5]) : 3;
    if (!src || !n || secs <= 0 || rounds <= 0) {
        fprintf(stderr, "usage: bench_growth [SOURCE_DIR] [N] [DIR] [SECONDS] [ROUNDS]\n");
        return 2;
    }
    if (sodium_init() < 0)
        die("libsodium", NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char path[PATH_MAX + 64];
    cpm_error_t e = {0};
    w_rules = load_rules(src);
    snprintf(path, sizeof path, "%s/deploy/hanoi/reform-2025", src);
    if (cpm_places_load(path, &w_places, &e) != 0)
        die(path, e.message);
    load_units(src);
    w_reg = registry();
    routing_dupes_set_window(30 * DAY);   /* link_window_s default */
    routing_themes_set_window(365 * DAY); /* clusters_window_days default */
    uint64_t npeople = n / 2 + 1000;
    size_t big = (size_t)n * 8192 + ((size_t)4 << 30);
    /* CPM_GROWTH_FINAL=1: measure at N only (a long prefill on a busy
     * machine, measured later on a quiet one with CPM_GROWTH_STORE). */
    const char *rr = getenv("CPM_GROWTH_RANDOM_REFS");
    random_refs = rr && *rr && strcmp(rr, "0") != 0;
    const char *io = getenv("CPM_GROWTH_INTAKE_ONLY");
    intake_only = io && *io && strcmp(io, "0") != 0;
    if (intake_only)
        printf("intake only (CPM_GROWTH_INTAKE_ONLY): routing's figures stay empty\n");
    printf("client references: %s\n",
           random_refs ? "random (CPM_GROWTH_RANDOM_REFS)" : "in time order");
    const char *fin = getenv("CPM_GROWTH_FINAL");
    bool final_only = fin && strcmp(fin, "1") == 0;
    /* CPM_GROWTH_ONLY=full or empty: the measured phases of that side only
     * (the other's figures are 0), for a profiler attached to the process. */
    const char *only = getenv("CPM_GROWTH_ONLY");
    /* CPM_GROWTH_PAGES=1: routing's pages written per group, by database
     * (the trees walked between the first PW_GROUPS groups of each phase). */
    const char *pw = getenv("CPM_GROWTH_PAGES");
    pw_on = pw && *pw && strcmp(pw, "0") != 0;
    side_t full;
    side_open(&full, parent, "full", big);
    uint64_t kept = full.next; /* from an earlier run: not this run's prefill */
    if (kept)
        printf("bench_growth: going on from the %llu complaints kept in %s\n",
               (unsigned long long)kept, full.dir);
    printf("bench_growth: up to %llu complaints prefilled, phases of %.1f s, %d rounds, groups "
           "of %d per durable transaction, stores under %s\n",
           (unsigned long long)n, secs, rounds, GROUP, parent);
    /* measured at each checkpoint on the way to n: a curve, and figures
     * even when a long run is cut short */
    static const uint64_t CPS[] = {100000, 250000, 500000, 1000000, 2000000, 5000000, 10000000};
    int64_t now = cpm_now_ms(), pre_us = 0;
    for (size_t ci = 0; ci <= sizeof CPS / sizeof *CPS; ci++) {
        uint64_t cp = ci < sizeof CPS / sizeof *CPS && CPS[ci] < n ? CPS[ci] : n;
        if (final_only && cp < n)
            continue;
        int64_t p0 = mono_us();
        prefill(&full, cp, n, npeople, now - 300 * DAY, now - DAY);
        pre_us += mono_us() - p0;
        double pre_s = (double)pre_us / 1e6;
        printf("\n== %llu complaints in the full store; prefill so far %.1f s (%.0f complaints/s "
               "through intake, routing and the acks, not synced until each checkpoint)\n",
               (unsigned long long)full.next, pre_s,
               pre_s > 0.5 ? (double)(full.next - kept) / pre_s : 0.0);
        bool last = cp == n;
        sizes("intake", full.ist, full.idir, (const char *const[])INTAKE_DBS, full.next, last);
        sizes("routing", full.rst, full.rdir, (const char *const[])ROUTING_DBS, full.next, last);
        side_t empty; /* a fresh empty store at each checkpoint: the baseline */
        side_open(&empty, parent, "empty", (size_t)4 << 30);
        empty.next = 1000000000000ULL; /* its own numbers: the same spread of people and shops */
        lat_t ei = {0}, er = {0}, fi = {0}, fr = {0}, warm = {0}, warm2 = {0};
        phase(&empty, 1, npeople, &warm, &warm2); /* warm-up, not counted */
        phase(&full, 1, npeople, &warm, &warm2);
        free(warm.us), free(warm2.us);
        for (int r = 0; r < rounds; r++) {
            lat_t a = {0}, b = {0}, c = {0}, d = {0};
            if (!only || strcmp(only, "empty") == 0)
                phase(&empty, secs, npeople, &a, &b);
            if (!only || strcmp(only, "full") == 0)
                phase(&full, secs, npeople, &c, &d);
            printf("  round %d: intake empty %.0f/s full %.0f/s; routing empty %.0f/s full "
                   "%.0f/s\n",
                   r + 1, rate(&a), rate(&c), rate(&b), rate(&d));
            lat_t *sum[] = {&ei, &er, &fi, &fr}, *one[] = {&a, &b, &c, &d};
            for (int k = 0; k < 4; k++) {
                for (size_t i = 0; i < one[k]->n; i++)
                    lat_add(sum[k], one[k]->us[i]);
                sum[k]->items += one[k]->items, sum[k]->wall_us += one[k]->wall_us;
                sum[k]->cpu_us += one[k]->cpu_us, sum[k]->commit_us += one[k]->commit_us;
                sum[k]->commit_cpu_us += one[k]->commit_cpu_us;
                sum[k]->written += one[k]->written;
                sum[k]->walked += one[k]->walked;
                for (size_t j = 0; j < PW_DBS; j++)
                    sum[k]->pages[j] += one[k]->pages[j];
                free(one[k]->us);
            }
        }
        printf("  all rounds (complaints/s; p50/p99 of one group of %d, its durable commit "
               "included):\n",
               GROUP);
        row("intake", &ei, &fi);
        row("routing", &er, &fr);
        free(ei.us), free(er.us), free(fi.us), free(fr.us);
        side_close(&empty);
        side_save(&full); /* the measured phases added complaints too */
        if (last)
            break;
    }
    if (full.kept)
        printf("\nbench_growth: the full store is kept in %s (remove it when done)\n", full.dir);
    side_close(&full);
    cpm_registry_destroy(&w_reg);
    cpm_places_destroy(&w_places);
    cpm_rules_destroy(&w_rules);
    return 0;
}
