/* bench_reorg: time to apply a reorganization to 100,000 open cases, at the
 * domain level on a real LMDB store (routing_reorg_step in steps of 200
 * cases, one transaction each, as routing's tick runs it), against the time
 * the same process took to route those 100,000 complaints in the first place
 * (routing_apply_complaint, 1,000 per transaction): the baseline.
 *
 * The register: food-safety complaints spread over the 30 districts of the
 * 2024 generation; then the 2025 generation takes effect: each case goes to
 * triage with candidates (a split district) or to its successor's agency
 * (a new Assignment and a withdrawal notice, both in the outbox).
 *
 *   build/bench_reorg [SOURCE_DIR] [CASES]     (no mesh; prints figures) */
#include "cpm_eventlog.h"
#include "cpm_outbox.h"
#include "cpm_rules.h"
#include "routing_domain.h"
#include "routing_reorg.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    cpm_store_t *st;
} fx_ctx_t;

static int fx_send(void *ctx, MDB_txn *txn, const char *member, const char *service,
                   const ProtobufCMessage *rec)
{
    fx_ctx_t *c = ctx;
    char stream[320];
    snprintf(stream, sizeof stream, "hn.doit/routing>%s/%s", member, service);
    size_t len = protobuf_c_message_get_packed_size(rec);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return CPM_E_INTERNAL;
    protobuf_c_message_pack(rec, buf);
    uint64_t seq;
    int rc = cpm_outbox_put(c->st, txn, stream, buf, len, &seq);
    free(buf);
    return rc;
}

static int fx_event(void *ctx, MDB_txn *txn, const cpm_event_t *ev)
{
    fx_ctx_t *c = ctx;
    uint64_t seq;
    return cpm_eventlog_append(c->st, txn, 1754006400000LL, ev, &seq);
}

static cpm_rules_t *rules(const char *src, int version, bool reform)
{
    char path[] = "/tmp/cpm-bench-reorg-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        exit(1);
    fprintf(f,
            "version: %d\neffective_from: \"2024-01-01\"\ntriage: hn.doit\n"
            "deadlines: {accept_working_days: 10, resolve_working_days: 30}\n"
            "categories: [{slug: food_safety}]\n"
            "rules: [{id: R01, category: food_safety, agency: \"@area\"}]\n"
            "places_dir: %s/deploy/hanoi/reform-2025\n"
            "generations:\n"
            "  - {id: \"2024\", valid_from: \"2008-08-01\", %s units: districts, "
            "agency_prefix: hn.d.}\n",
            version, src, reform ? "valid_to: \"2025-06-30\"," : "");
    if (reform)
        fprintf(f, "  - {id: \"2025\", valid_from: \"2025-07-01\", units: communes, "
                   "agency_prefix: hn.w.}\n");
    fclose(f);
    cpm_rules_t *r = NULL;
    cpm_error_t err = {0};
    if (cpm_rules_load(path, &r, &err) != 0) {
        fprintf(stderr, "bench_reorg: %s\n", err.message);
        exit(1);
    }
    unlink(path);
    return r;
}

static int rm_entry(const char *p, const struct stat *s, int fl, struct FTW *w)
{
    (void)s, (void)fl, (void)w;
    return remove(p);
}

static const char *const DISTRICTS[] = {
    "ba-dinh",      "hoan-kiem", "tay-ho",      "long-bien", "cau-giay", "dong-da",
    "hai-ba-trung", "hoang-mai", "thanh-xuan",  "soc-son",   "dong-anh", "gia-lam",
    "nam-tu-liem",  "thanh-tri", "bac-tu-liem", "me-linh",   "ha-dong",  "son-tay",
    "ba-vi",        "phuc-tho",  "dan-phuong",  "hoai-duc",  "quoc-oai", "thach-that",
    "chuong-my",    "thanh-oai", "thuong-tin",  "phu-xuyen", "ung-hoa",  "my-duc"};

int main(int argc, char **argv)
{
    /* absolute: the rules written to /tmp name the places data by this path */
    char srcbuf[PATH_MAX];
    const char *src = realpath(argc > 1 ? argv[1] : ".", srcbuf);
    if (!src) {
        perror("source dir");
        return 1;
    }
    size_t ncases = argc > 2 ? (size_t)atol(argv[2]) : 100000;
    char dir[] = "/tmp/cpm-bench-reorg-store-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    static const char *const dbs[] = ROUTING_DBS;
    char err[256] = "";
    cpm_store_t *st = cpm_store_open(dir, (size_t)4 << 30, dbs, err, sizeof err);
    if (!st) {
        fprintf(stderr, "bench_reorg: store: %s\n", err);
        return 1;
    }
    fx_ctx_t ctx = {st};
    cpm_effects_t fx = {fx_send, fx_event, &ctx, NULL, NULL};
    cpm_rules_t *r24 = rules(src, 1, false);
    double t0 = mono();
    MDB_txn *txn = NULL;
    for (size_t i = 0; i < ncases; i++) {
        if (!txn && cpm_store_begin(st, true, &txn) != 0)
            return 1;
        char ticket[32];
        snprintf(ticket, sizeof ticket, "HK-%08zu", i + 1);
        Cpm__Complaint c = CPM__COMPLAINT__INIT;
        c.ticket = ticket;
        c.channel = "web";
        c.business_name = "Shop";
        c.area = (char *)DISTRICTS[i % 30];
        c.category = "food_safety";
        c.description = "a complaint about food sold in the market";
        c.intake_node = "hn.d.hoan-kiem";
        c.received_ms = 1740902400000LL;
        cpm_error_t e = {0};
        if (routing_apply_complaint(r24, NULL, st, txn, &fx, "hn.d.hoan-kiem", &c, c.received_ms,
                                    &e) != 0) {
            fprintf(stderr, "bench_reorg: route: %s\n", e.message);
            return 1;
        }
        if ((i + 1) % 1000 == 0 || i + 1 == ncases) {
            if (cpm_store_commit(txn) != 0)
                return 1;
            txn = NULL;
        }
    }
    double routed = mono() - t0;
    cpm_rules_t *r25 = rules(src, 2, true);
    routing_reorg_stats_t s;
    size_t moved = 0, triaged = 0, relabelled = 0, steps = 0;
    t0 = mono();
    do {
        if (cpm_store_begin(st, true, &txn) != 0)
            return 1;
        if (routing_reorg_step(r25, NULL, st, txn, &fx, 1754006400000LL, 200, &s) != 0 ||
            cpm_store_commit(txn) != 0) {
            fprintf(stderr, "bench_reorg: step failed\n");
            return 1;
        }
        moved += s.moved, triaged += s.triaged, relabelled += s.relabelled, steps++;
    } while (!s.finished);
    double reorg = mono() - t0;
    printf("routing %zu complaints (baseline): %.2f s (%.0f/s)\n", ncases, routed,
           (double)ncases / routed);
    printf("reorganization of %zu open cases: %.2f s in %zu steps of 200 (%.0f cases/s; "
           "%.2fx the baseline): %zu to a successor's agency, %zu to triage, %zu relabelled\n",
           ncases, reorg, steps, (double)ncases / reorg, reorg / routed, moved, triaged,
           relabelled);
    cpm_rules_destroy(&r24);
    cpm_rules_destroy(&r25);
    cpm_store_destroy(&st);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
