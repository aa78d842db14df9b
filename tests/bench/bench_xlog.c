/* bench_xlog: the proof log's append and verify rates (entries/s), with a
 * baseline in the same process: raw SHA-256 of the same bodies (what the
 * chain costs at least).
 *
 *   bench_xlog [N=100000] [BODY_BYTES=600] */
#include "cpm_store.h"
#include "cpm_util.h"
#include "cpm_xlog.h"
#include "exchange_domain.h"
#include "exchange_log.h"

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int rm_entry(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s, (void)f, (void)w;
    return remove(p);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    size_t body = argc > 2 ? strtoul(argv[2], NULL, 10) : 600;
    if (sodium_init() < 0 || n == 0)
        return 1;
    char dir[] = "/tmp/cpm-bench-xlog-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    static const char *const dbs[] = {EXCHANGE_DATABASES, NULL};
    char err[256] = "";
    cpm_store_t *st = cpm_store_open(dir, (size_t)4 << 30, dbs, err, sizeof err);
    if (!st)
        return fprintf(stderr, "%s\n", err), 1;
    uint8_t *req = malloc(body);
    randombytes_buf(req, body);
    /* append: 1000 entries per transaction (a busy exchange's group commit) */
    double t0 = now_s();
    for (size_t i = 0; i < n; i += 1000) {
        MDB_txn *txn;
        if (cpm_store_begin(st, true, &txn) != 0)
            return 1;
        for (size_t j = i; j < n && j < i + 1000; j++) {
            exchange_log_entry_t e = {"query",  "hn.qltt",      "violations",   req,
                                      body / 2, req + body / 2, body - body / 2};
            if (exchange_log_append(st, txn, 1700000000000LL + (int64_t)j, &e, NULL) != 0)
                return 1;
        }
        if (cpm_store_commit(txn) != 0)
            return 1;
    }
    double t_append = now_s() - t0;
    /* verify: read every record and check the chain, in pages of 256 */
    MDB_txn *txn;
    if (cpm_store_begin(st, false, &txn) != 0)
        return 1;
    Cpm__LogRecord *page[256];
    cpm_xlog_head_t head = {0, {0}, false};
    cpm_xlog_problem_t p;
    double base = 0;
    t0 = now_s();
    for (uint64_t s = 1; s <= n;) {
        size_t k = 0;
        for (; k < 256 && s <= n; k++, s++)
            if (exchange_log_get(st, txn, s, &page[k]) != 0)
                return 1;
        if (cpm_xlog_verify_run(page, k, &head, &p) != 0)
            return fprintf(stderr, "verify: %s\n", p.what), 1;
        double b0 = now_s();
        for (size_t i = 0; i < k; i++) { /* the baseline, timed apart */
            uint8_t h[32];
            crypto_hash_sha256(h, page[i]->body.data, page[i]->body.len);
        }
        base += now_s() - b0;
        for (size_t i = 0; i < k; i++)
            cpm__log_record__free_unpacked(page[i], NULL);
    }
    double t_verify = now_s() - t0 - base;
    cpm_store_abort(&txn);
    printf("bench_xlog: %zu entries of %zu-byte requests+responses\n", n, body);
    printf("  append (1000 per txn, durable commit): %10.0f entries/s\n", (double)n / t_append);
    printf("  verify (read + decode + chain):        %10.0f entries/s\n", (double)n / t_verify);
    printf("  baseline raw SHA-256 of the bodies:    %10.0f entries/s\n", (double)n / base);
    cpm_store_destroy(&st);
    free(req);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
