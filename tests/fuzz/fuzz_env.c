/* fuzz_env: the shared setup of the harnesses (see fuzz_env.h). */
#include "fuzz_env.h"

#include "cpm_eventlog.h"
#include "cpm_outbox.h"
#include "cpm_util.h"
#include "inspection_domain.h"
#include "routing_domain.h"

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_IDS 16

static struct {
    int ready;
    char dir[512];
    cpm_registry_t *reg;
    cpm_identity_t ids[MAX_IDS];
    size_t nids;
    int64_t now_ms;
    cpm_rules_t *rules;
    cpm_store_t *stores[16];
    size_t nstores;
    cpm_store_t *routing, *inspection;
} fz;

void fz_die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz setup: %s: %s\n", what, why ? why : "");
    abort();
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    for (size_t i = 0; i < fz.nstores; i++)
        cpm_store_destroy(&fz.stores[i]);
    if (fz.dir[0])
        nftw(fz.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static json_t *load_json(const char *name)
{
    char path[1024];
    json_error_t je;
    snprintf(path, sizeof path, "%s/tests/vectors/%s", CPM_FUZZ_SOURCE_DIR, name);
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fz_die(path, je.text);
    return j;
}

static void load_identities(void)
{
    json_t *keys = load_json("keys.json");
    json_t *arr = json_object_get(keys, "identities");
    for (size_t i = 0; i < json_array_size(arr) && fz.nids < MAX_IDS; i++) {
        json_t *k = json_array_get(arr, i);
        uint8_t seed[32];
        const char *id = json_string_value(json_object_get(k, "id"));
        const char *hex = json_string_value(json_object_get(k, "seed"));
        if (!id || !hex || cpm_hex_decode(hex, seed, 32) != 0 ||
            cpm_identity_from_seed(&fz.ids[fz.nids], id, seed) != 0)
            fz_die("keys.json", "bad identity");
        fz.nids++;
    }
    json_decref(keys);
}

static void load_registry(void)
{
    json_t *r = load_json("registry.json");
    const char *hex = json_string_value(json_object_get(r, "signed_registry_hex"));
    size_t len = hex ? strlen(hex) / 2 : 0;
    uint8_t *buf = malloc(len + 1);
    char err[256] = "";
    if (!buf || !hex || cpm_hex_decode(hex, buf, len) != 0)
        fz_die("registry.json", "bad signed_registry_hex");
    fz.reg = cpm_registry_from_signed(buf, len, fz_root()->sign_pk, err, sizeof err);
    if (!fz.reg)
        fz_die("registry.json", err);
    free(buf);
    json_decref(r);
    json_t *e = load_json("envelopes.json");
    fz.now_ms = json_integer_value(json_object_get(e, "now_ms"));
    json_decref(e);
}

static void init(void)
{
    if (fz.ready)
        return;
    fz.ready = 1;
    if (sodium_init() < 0)
        fz_die("libsodium", "sodium_init failed");
    setenv("CPM_LOG_LEVEL", "error", 0); /* refusals are expected by the thousand */
    const char *tmp = getenv("TMPDIR");
    snprintf(fz.dir, sizeof fz.dir, "%s/cpm-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(fz.dir))
        fz_die("mkdtemp", fz.dir);
    atexit(cleanup);
    load_identities();
    load_registry();
    char path[1024];
    snprintf(path, sizeof path, "%s/deploy/hanoi/routing.yaml", CPM_FUZZ_SOURCE_DIR);
    cpm_error_t e;
    if (cpm_rules_load(path, &fz.rules, &e) != 0)
        fz_die(path, e.message);
    cpm_rules_set_service(fz.rules, "inspection"); /* as routing and intake do */
}

const cpm_registry_t *fz_registry(void)
{
    init();
    return fz.reg;
}

const cpm_identity_t *fz_identity(const char *member)
{
    init();
    for (size_t i = 0; i < fz.nids; i++)
        if (strcmp(fz.ids[i].id, member) == 0)
            return &fz.ids[i];
    return NULL;
}

const cpm_identity_t *fz_root(void)
{
    const cpm_identity_t *r = fz_identity("root");
    if (!r)
        fz_die("keys.json", "no root identity");
    return r;
}

int64_t fz_now_ms(void)
{
    init();
    return fz.now_ms;
}

const char *fz_source_dir(void)
{
    return CPM_FUZZ_SOURCE_DIR;
}

const cpm_rules_t *fz_rules(void)
{
    init();
    return fz.rules;
}

const char *fz_dir(void)
{
    init();
    return fz.dir;
}

int fz_write_file(const char *name, const uint8_t *data, size_t len, char out[1024])
{
    snprintf(out, 1024, "%s/%s", fz_dir(), name);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    return close(fd);
}

cpm_store_t *fz_store(const char *tag, const char *const *dbs)
{
    char path[1024], err[256] = "";
    snprintf(path, sizeof path, "%s/store-%s", fz_dir(), tag);
    if (fz.nstores == sizeof fz.stores / sizeof fz.stores[0])
        fz_die("fz_store", "too many stores");
    /* 256 MiB of address space: inputs never commit, so it never fills. */
    cpm_store_t *st = cpm_store_open(path, 256u << 20, dbs, err, sizeof err);
    if (!st)
        fz_die(path, err);
    fz.stores[fz.nstores++] = st;
    return st;
}

typedef struct {
    cpm_store_t *st;
    char self[160];
} fx_ctx_t;

static int fx_send(void *ctx, MDB_txn *txn, const char *member, const char *service,
                   const ProtobufCMessage *rec)
{
    fx_ctx_t *f = ctx;
    char stream[400];
    snprintf(stream, sizeof stream, "%s>%s/%s", f->self, member, service);
    size_t len = protobuf_c_message_get_packed_size(rec);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return CPM_E_INTERNAL;
    protobuf_c_message_pack(rec, buf);
    uint64_t seq = 0;
    int rc = cpm_outbox_put(f->st, txn, stream, buf, len, &seq);
    free(buf);
    return rc;
}

static int fx_event(void *ctx, MDB_txn *txn, const cpm_event_t *ev)
{
    fx_ctx_t *f = ctx;
    return cpm_eventlog_append(f->st, txn, fz.now_ms, ev, NULL);
}

cpm_effects_t fz_effects(cpm_store_t *st, const char *self)
{
    /* One context per store, kept for the process's life. */
    static fx_ctx_t ctxs[16];
    static size_t n;
    for (size_t i = 0; i < n; i++)
        if (ctxs[i].st == st && strcmp(ctxs[i].self, self) == 0)
            return (cpm_effects_t){fx_send, fx_event, &ctxs[i], NULL, NULL};
    if (n == sizeof ctxs / sizeof ctxs[0])
        fz_die("fz_effects", "too many");
    ctxs[n].st = st;
    snprintf(ctxs[n].self, sizeof ctxs[n].self, "%s", self);
    return (cpm_effects_t){fx_send, fx_event, &ctxs[n++], NULL, NULL};
}

/* The complaint behind FZ_TICKET, as intake forwards it. */
static void known_complaint(Cpm__Complaint *c)
{
    cpm__complaint__init(c);
    c->ticket = FZ_TICKET;
    c->channel = "hotline";
    c->consumer_name = "Nguyen Van A";
    c->consumer_phone = "0900000000";
    c->business_name = "Cua hang X";
    c->area = "hoan-kiem";
    c->category = "food_safety";
    c->description = "Expired milk";
    c->event_time_ms = fz.now_ms - 86400000;
    c->client_ref = "fuzz-0001";
    c->received_ms = fz.now_ms - 1000;
    c->intake_node = FZ_AREA;
}

cpm_store_t *fz_routing_store(void)
{
    if (fz.routing)
        return fz.routing;
    static const char *const dbs[] = ROUTING_DBS;
    cpm_store_t *st = fz_store("routing", dbs);
    cpm_effects_t fx = fz_effects(st, FZ_CITY "/routing");
    Cpm__Complaint c;
    known_complaint(&c);
    MDB_txn *txn = NULL;
    cpm_error_t err = {0};
    if (cpm_store_begin(st, true, &txn) != 0 ||
        routing_apply_complaint(fz.rules, fz.reg, st, txn, &fx, FZ_AREA, &c, fz.now_ms, &err) !=
            0 ||
        cpm_store_commit(txn) != 0)
        fz_die("routing store", err.message);
    return fz.routing = st;
}

cpm_store_t *fz_inspection_store(void)
{
    if (fz.inspection)
        return fz.inspection;
    static const char *const dbs[] = INSPECTION_DBS;
    cpm_store_t *st = fz_store("inspection", dbs);
    cpm_effects_t fx = fz_effects(st, FZ_AREA "/inspection");
    Cpm__Complaint c;
    known_complaint(&c);
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = &c;
    a.agency = FZ_AREA;
    a.rule_id = "area-default";
    a.routed_ms = fz.now_ms;
    a.accept_due_ms = fz.now_ms + 10 * 86400000LL;
    inspection_t in = {.node = FZ_AREA, .routing = FZ_CITY};
    MDB_txn *txn = NULL;
    cpm_error_t err = {0};
    if (cpm_store_begin(st, true, &txn) != 0 ||
        inspection_apply_assignment(&in, st, txn, &fx, &a, fz.now_ms, &err) != 0 ||
        cpm_store_commit(txn) != 0)
        fz_die("inspection store", err.message);
    return fz.inspection = st;
}
