/* bench_hotspot: the hotspot detector (services/hotspot) at the domain level
 * on a real LMDB store in a temporary folder: EVENTS complaint.received
 * (default 1,000,000) over BUSINESSES businesses (default 100,000) in 126
 * areas and 15 categories, 20% with one of 500 products, spread over 30 days
 * in time order, applied in transactions of 1,000 events (as the service's
 * tick does: one durable commit each). Prints events/s, peak RSS and the
 * store's size, against a baseline in the same process: the same events
 * counted per key (business, area|category, product) in a plain in-memory
 * hash table (no windows, no history, no store, no alerts).
 *
 *   build/bench_hotspot [EVENTS] [BUSINESSES]     (no mesh; figures only) */
#include "cpm_store.h"
#include "cpm_util.h"
#include "hotspot_alerts.h"
#include "hotspot_detect.h"
#include "hotspot_keys.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AREAS 126
#define BATCH 1000
#define T0 1790787600000LL /* 2026-10-01 00:00 +07 */
#define SPAN_MS (30 * 86400000LL)

static const char *const CATS[15] = {"food_safety",
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

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

typedef struct {
    char ticket[24], business[40], area[16], product[24];
    Cpm__Event ev;
} evbuf_t;

static void make(evbuf_t *b, uint64_t i, uint64_t n, uint64_t businesses)
{
    uint64_t biz = rnd() % businesses, r = rnd();
    snprintf(b->ticket, sizeof b->ticket, "T-%08llu", (unsigned long long)i);
    snprintf(b->business, sizeof b->business, "Cửa hàng số %llu", (unsigned long long)biz);
    snprintf(b->area, sizeof b->area, "area-%03llu", (unsigned long long)(biz % AREAS));
    if (r % 5 == 0)
        snprintf(b->product, sizeof b->product, "Sản phẩm %llu", (unsigned long long)(r % 500));
    else
        b->product[0] = 0;
    Cpm__Event ev = CPM__EVENT__INIT;
    ev.seq = i + 1;
    ev.at_ms = T0 + (int64_t)(i * (uint64_t)SPAN_MS / n);
    ev.kind = "complaint.received";
    ev.ticket = b->ticket;
    ev.area = b->area;
    ev.category = (char *)CATS[(r >> 8) % 15];
    ev.business = b->business;
    ev.address = "12 Hàng Bạc";
    ev.product = b->product;
    b->ev = ev;
}

/* ---- the baseline: counts per key in an open-addressing hash table ---------- */

typedef struct {
    uint64_t h;
    uint64_t count;
} slot_t;

static uint64_t fnv(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = a; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h = (h ^ 0x1f) * 1099511628211ULL;
    for (const char *p = b; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    return h ? h : 1;
}

static void bump(slot_t *t, size_t cap, uint64_t h)
{
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (t[i].h == h || t[i].h == 0) {
            t[i].h = h;
            t[i].count++;
            return;
        }
    }
}

static double secs(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    uint64_t businesses = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
    if (n == 0 || businesses == 0) {
        fprintf(stderr, "usage: bench_hotspot [EVENTS] [BUSINESSES]\n");
        return 2;
    }
    evbuf_t b;
    struct timespec t0, t1;

    /* baseline */
    size_t cap = 1;
    while (cap < 4 * (businesses + AREAS * 15 + 500))
        cap <<= 1;
    slot_t *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return 1;
    long rss_before = rss_kb();
    double cpu0 = cpu_s();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < n; i++) {
        make(&b, i, n, businesses);
        bump(tab, cap, fnv(b.ev.area, b.ev.business));
        bump(tab, cap, fnv(b.ev.area, b.ev.category));
        if (*b.product)
            bump(tab, cap, fnv("", b.product));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double base_s = secs(t0, t1), base_cpu = cpu_s() - cpu0;
    size_t used = 0;
    for (size_t i = 0; i < cap; i++)
        used += tab[i].h != 0;
    free(tab);
    long rss_base = rss_kb();

    /* the detector on LMDB */
    char dir[] = "/tmp/bench_hotspot.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    const char *dbs[] = {HOTSPOT_KEYS_DB,   HOTSPOT_LRU_DB,     HOTSPOT_OPEN_DB,
                         HOTSPOT_ALERTS_DB, HOTSPOT_CURSORS_DB, NULL};
    char err[256];
    cpm_store_t *st = cpm_store_open(dir, (size_t)4 << 30, dbs, err, sizeof err);
    if (!st) {
        fprintf(stderr, "store: %s\n", err);
        return 1;
    }
    hotspot_cfg_t cfg = {48, 28, 5, 1000, 200000, 300};
    hotspot_t *h = NULL;
    cpm_error_t e = {0};
    if (hotspot_new(&h, st, &cfg, &e) != 0)
        return 1;
    hotspot_counts_t c = {0};
    rng = 88172645463325252ULL; /* the same events */
    cpu0 = cpu_s();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < n;) {
        MDB_txn *txn;
        if (cpm_store_begin(st, true, &txn) != 0)
            return 1;
        for (int j = 0; j < BATCH && i < n; j++, i++) {
            make(&b, i, n, businesses);
            if (hotspot_apply(h, txn, NULL, "hn.doit", "intake", &b.ev, INT64_MAX / 2, &c) != 0) {
                fprintf(stderr, "apply failed at %llu\n", (unsigned long long)i);
                return 1;
            }
        }
        if (cpm_store_commit(txn) != 0)
            return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double det_s = secs(t0, t1), det_cpu = cpu_s() - cpu0;
    MDB_txn *txn;
    uint64_t keys = 0;
    size_t st_used = 0, map = 0;
    if (cpm_store_begin(st, false, &txn) == 0) {
        if (hotspot_keys_count(st, txn, &keys) != 0 || cpm_store_usage(st, txn, &st_used, &map))
            keys = 0;
        cpm_store_abort(&txn);
    }
    long rss_det = rss_kb();
    hotspot_destroy(&h);
    cpm_store_destroy(&st);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);

    printf("bench_hotspot: %llu events over %llu businesses, %d areas x 15 categories, "
           "20%% with one of 500 products, 30 days, %d per transaction\n",
           (unsigned long long)n, (unsigned long long)businesses, AREAS, BATCH);
    printf("  baseline (in-memory counts per key): %.2f s (CPU %.2f s), %.0f events/s, %zu keys, "
           "peak RSS %ld -> %ld KiB\n",
           base_s, base_cpu, (double)n / base_s, used, rss_before, rss_base);
    printf("  detector (LMDB, windows, EWMA, LRU): %.2f s (CPU %.2f s: %.0f events per CPU "
           "second), %.0f events/s, %llu keys, store %.1f MiB live, peak RSS %ld KiB (includes "
           "the map's pages read)\n",
           det_s, det_cpu, (double)n / det_cpu, (double)n / det_s, (unsigned long long)keys,
           (double)st_used / 1048576.0, rss_det);
    printf(
        "  ratio detector/baseline (wall): %.1fx; alerts opened %llu, updated %llu, evicted %llu\n",
        det_s / base_s, (unsigned long long)c.opened, (unsigned long long)c.updated,
        (unsigned long long)c.evicted);
    return 0;
}
