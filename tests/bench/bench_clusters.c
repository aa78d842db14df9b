/* bench_clusters: the coordinators' clusters query over 100,000 recorded
 * complaints, at the domain level on a real LMDB store: the aggregate rank
 * index (routing_clusters_page: reads only the entries it returns) against a
 * full scan of every business's aggregate, filtered, sorted and cut to max
 * (what the query did before the rank index; implemented here as the
 * baseline), in the same process on the same store, and whether the index's
 * pages, followed by their cursors, list the scan's clusters in its order
 * (exit 1 when not). Also: the cost of
 * recording a complaint (link + cluster, 1,000 per transaction) and of one
 * retention pass in tick-sized steps.
 *
 * The register: complaints about 20,000 businesses (a few popular ones, a
 * long tail) by 50,000 consumers, over one year.
 *
 *   build/bench_clusters [SOURCE_DIR] [COMPLAINTS] [QUERIES]   (no mesh; prints
 *   figures; SOURCE_DIR, given by tests/bench/run to every bench, is unused) */
#include "cpm_eventlog.h"
#include "routing_bounds.h"
#include "routing_clusters.h"
#include "routing_domain.h"
#include "routing_dupes.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY (86400LL * 1000)
#define T0 1772000000000LL

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fx_send(void *ctx, MDB_txn *txn, const char *member, const char *service,
                   const ProtobufCMessage *rec)
{
    return 0;
}

static int fx_event(void *ctx, MDB_txn *txn, const cpm_event_t *ev)
{
    uint64_t seq;
    return cpm_eventlog_append(ctx, txn, T0, ev, &seq);
}

typedef struct {
    Cpm__Cluster *cl;
    char bid[ROUTING_CLUSTER_KEY_LEN + 1];
} ranked_t;

/* The reply's order: most consumers, then most complaints, then the
 * business's key. */
static int by_rank(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->cl->consumers != y->cl->consumers)
        return x->cl->consumers > y->cl->consumers ? -1 : 1;
    if (x->cl->cases != y->cl->cases)
        return x->cl->cases > y->cl->cases ? -1 : 1;
    return strcmp(x->bid, y->bid);
}

/* The baseline: every aggregate read and unpacked, those with enough
 * consumers kept, sorted, cut to max. Returns how many were returned; with
 * tickets, the first ticket of each (malloc'd, in order). */
static size_t full_scan(cpm_store_t *st, MDB_txn *txn, uint32_t min, size_t max, size_t *looked,
                        char ***tickets)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, cpm_store_dbi(st, ROUTING_CLUSTERS_DB), &cur) != 0)
        return 0;
    ranked_t *all = NULL;
    size_t n = 0, cap = 0;
    *looked = 0;
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        /* "clusters" also holds each business's themes, consumers and
         * links (routing_clusters.h): the aggregates are its 32-byte keys */
        if (k.mv_size != ROUTING_CLUSTER_KEY_LEN)
            continue;
        (*looked)++;
        Cpm__Cluster *cl = cpm__cluster__unpack(NULL, v.mv_size, v.mv_data);
        if (!cl || cl->consumers < min) {
            cpm__cluster__free_unpacked(cl, NULL);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            all = realloc(all, cap * sizeof *all);
        }
        all[n].cl = cl;
        memcpy(all[n].bid, k.mv_data, ROUTING_CLUSTER_KEY_LEN);
        all[n++].bid[ROUTING_CLUSTER_KEY_LEN] = 0;
    }
    mdb_cursor_close(cur);
    qsort(all, n, sizeof *all, by_rank);
    size_t out = n < max ? n : max;
    if (tickets && (*tickets = calloc(out + 1, sizeof **tickets)))
        for (size_t i = 0; i < out; i++)
            (*tickets)[i] = strdup(all[i].cl->first_ticket);
    for (size_t i = 0; i < n; i++)
        cpm__cluster__free_unpacked(all[i].cl, NULL);
    free(all);
    return out;
}

/* Whether every page of the rank index's answer (min consumers, 500 a
 * page, each from the last one's cursor) lists the clusters the full scan
 * does, in its order; *n: how many. */
static bool same_answers(cpm_store_t *st, MDB_txn *txn, uint32_t min, size_t *n)
{
    char **want = NULL, after[ROUTING_CLUSTER_CURSOR_LEN + 1] = "";
    size_t looked = 0, got = 0;
    *n = full_scan(st, txn, min, SIZE_MAX, &looked, &want);
    bool same = want != NULL;
    for (bool more = true; same && more;) {
        Cpm__ClustersQuery q = CPM__CLUSTERS_QUERY__INIT;
        q.min_consumers = min;
        q.max = ROUTING_CLUSTERS_MAX;
        q.after = after;
        Cpm__ClustersReply *r = NULL;
        cpm_error_t err = {0};
        if (routing_clusters_page(st, txn, &q, &r, &err) != 0)
            return false;
        for (size_t i = 0; same && i < r->n_clusters; i++, got++)
            same = got < *n && !strcmp(r->clusters[i]->first_ticket, want[got]);
        more = r->truncated;
        snprintf(after, sizeof after, "%s", r->next_after);
        routing_clusters_free(&r);
    }
    same = same && got == *n;
    for (size_t i = 0; want && i < *n; i++)
        free(want[i]);
    free(want);
    return same;
}

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s, (void)f, (void)w;
    return remove(p);
}

int main(int argc, char **argv)
{
    if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9'))
        argc--, argv++; /* the source folder */
    size_t ncomplaints = argc > 1 ? (size_t)atol(argv[1]) : 100000;
    int nqueries = argc > 2 ? atoi(argv[2]) : 50;
    if (!ncomplaints || nqueries <= 0) {
        fprintf(stderr, "usage: bench_clusters [SOURCE_DIR] [COMPLAINTS] [QUERIES]\n");
        return 2;
    }
    char dir[] = "/tmp/cpm-bench-clusters-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    static const char *const dbs[] = ROUTING_DBS;
    char err[256] = "";
    cpm_store_t *st = cpm_store_open(dir, (size_t)2 << 30, dbs, err, sizeof err);
    if (!st) {
        fprintf(stderr, "bench_clusters: store: %s\n", err);
        return 1;
    }
    cpm_effects_t fx = {fx_send, fx_event, st, NULL, NULL};
    routing_dupes_set_window(30 * DAY);
    uint32_t seed = 1;
    double t0 = mono();
    MDB_txn *txn = NULL;
    for (size_t i = 0; i < ncomplaints; i++) {
        if (!txn && cpm_store_begin(st, true, &txn) != 0)
            return 1;
        seed = seed * 1103515245u + 12345u;
        uint32_t r = seed >> 4;
        /* a long tail: half the complaints about the 200 most named */
        uint32_t biz = (r & 1) ? (r >> 1) % 200 : (r >> 1) % 20000;
        seed = seed * 1103515245u + 12345u;
        uint8_t key[32] = {0};
        uint32_t consumer = (seed >> 4) % 50000;
        memcpy(key, &consumer, sizeof consumer);
        char ticket[32], name[32];
        snprintf(ticket, sizeof ticket, "HK-%08zu", i + 1);
        snprintf(name, sizeof name, "Shop %u", biz);
        Cpm__Complaint c = CPM__COMPLAINT__INIT;
        c.ticket = ticket;
        c.business_name = name;
        c.area = "hoan-kiem";
        c.category = "pricing";
        c.received_ms = T0 + (int64_t)(i * (365 * DAY / ncomplaints));
        /* a description from a few problems told in varied words, and an
         * address: themes and the address index are part of the cost */
        static const char *const PROBLEM[] = {
            "thấy con gián trong bát phở, quán mất vệ sinh",
            "tính tiền sai, thu cao hơn bảng giá niêm yết",
            "nhân viên thái độ thô lỗ, quát mắng khách hàng",
            "bán sữa chua hết hạn sử dụng, bao bì phồng",
            "không xuất hóa đơn, từ chối bảo hành sản phẩm",
        };
        char desc[160], addr[64];
        snprintf(desc, sizeof desc, "%s lần %u", PROBLEM[(seed >> 8) % 5], (seed >> 12) % 97);
        snprintf(addr, sizeof addr, "số %u phố Hàng Bạc, Hoàn Kiếm", biz);
        c.description = desc;
        c.business_address = addr;
        c.consumer_key.data = key;
        c.consumer_key.len = 32;
        char linked[ROUTING_TICKET_MAX];
        if (routing_dupes_link(st, txn, &fx, &c, c.received_ms, linked) != 0) {
            fprintf(stderr, "bench_clusters: record failed\n");
            return 1;
        }
        if ((i + 1) % 1000 == 0 || i + 1 == ncomplaints) {
            if (cpm_store_commit(txn) != 0)
                return 1;
            txn = NULL;
        }
    }
    double recorded = mono() - t0;
    printf("recording %zu complaints (link + address index + cluster aggregate + themes): %.2f s "
           "(%.0f/s)\n",
           ncomplaints, recorded, (double)ncomplaints / recorded);

    if (cpm_store_begin(st, false, &txn) != 0)
        return 1;
    size_t looked = 0, n_scan = 0, n_rank = 0;
    double ts = mono();
    for (int q = 0; q < nqueries; q++)
        n_scan = full_scan(st, txn, 2, 100, &looked, NULL);
    double scan = (mono() - ts) / nqueries;
    ts = mono();
    for (int q = 0; q < nqueries; q++) {
        Cpm__ClustersReply *r = NULL;
        if (routing_clusters(st, txn, 2, 100, &r) != 0)
            return 1;
        n_rank = r->n_clusters;
        routing_clusters_free(&r);
    }
    double rank = (mono() - ts) / nqueries;
    size_t n_all1 = 0, n_all2 = 0;
    bool same = same_answers(st, txn, 1, &n_all1) && same_answers(st, txn, 2, &n_all2);
    cpm_store_abort(&txn);
    printf("clusters query (min 2, max 100) over %zu businesses:\n", looked);
    printf("  full scan of every aggregate (baseline): %.3f ms per query (%zu returned)\n",
           scan * 1e3, n_scan);
    printf("  rank index:                              %.3f ms per query (%zu returned)\n",
           rank * 1e3, n_rank);
    printf("  ratio baseline / rank index: %.0fx\n", rank > 0 ? scan / rank : 0.0);
    printf("  every page (500 each, from the cursors) the same clusters in the same order as the "
           "full scan: %s (%zu with min 1, %zu with min 2)\n",
           same ? "yes" : "NO", n_all1, n_all2);
    if (!same)
        return 1;

    /* one retention pass two years on, in the tick's steps */
    cpm_sweep_cursor_t dc = {0};
    routing_clusters_sweep_t cc = {0};
    size_t steps = 0, dupes = 0, members = 0, clusters = 0;
    int64_t now = T0 + 730 * DAY;
    double worst = 0;
    ts = mono();
    for (;;) {
        size_t d = 0, m = 0, c = 0;
        double s0 = mono();
        if (cpm_store_begin(st, true, &txn) != 0 ||
            routing_dupes_sweep(st, txn, now, ROUTING_BOUNDS_STEP, &dc, &d) != 0 ||
            routing_clusters_sweep(st, txn, now, 365 * DAY, ROUTING_BOUNDS_STEP, &cc, &m, &c) !=
                0 ||
            cpm_store_commit(txn) != 0)
            return 1;
        double s = mono() - s0;
        worst = s > worst ? s : worst;
        steps++;
        dupes += d, members += m, clusters += c;
        if (!d && !m && !c)
            break;
    }
    printf("retention two years on: %zu links, %zu consumers, %zu clusters deleted in %zu "
           "steps of %d: %.2f s (longest step %.1f ms)\n",
           dupes, members, clusters, steps, ROUTING_BOUNDS_STEP, mono() - ts, worst * 1e3);
    cpm_store_destroy(&st);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
