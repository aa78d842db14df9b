/* bench_store: durable commit throughput of the outbox, one record per
 * transaction against 1,000 records per transaction (group commit).
 *
 * Usage: bench_store [dir]   (default: a fresh folder under $TMPDIR or /tmp)
 * Run it on the disk the services use: the figures are the disk's fsync rate. */
#include "cpm_err.h"
#include "cpm_outbox.h"
#include "cpm_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REC_LEN 600
#define PHASE_MS 1500
#define GROUP 1000
#define STREAM "bench.node/intake>bench.peer/routing"

typedef struct {
    uint64_t txns;
    uint64_t records;
    int64_t elapsed_ms;
} phase_t;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Commit transactions of per_txn records until PHASE_MS has passed. */
static int run_phase(cpm_store_t *s, size_t per_txn, phase_t *p)
{
    uint8_t rec[REC_LEN];
    memset(rec, 0x5a, sizeof rec);
    memset(p, 0, sizeof *p);
    int64_t start = cpm_mono_ms();
    do {
        MDB_txn *txn;
        int rc = cpm_store_begin(s, true, &txn);
        for (size_t i = 0; rc == 0 && i < per_txn; i++)
            rc = cpm_outbox_put(s, txn, STREAM, rec, sizeof rec, NULL);
        if (rc != 0) {
            cpm_store_abort(&txn);
            fprintf(stderr, "bench_store: put failed: %s\n", cpm_err_name(rc));
            return -1;
        }
        if ((rc = cpm_store_commit(txn)) != 0) {
            fprintf(stderr, "bench_store: commit failed: %s\n", cpm_err_name(rc));
            return -1;
        }
        p->txns++;
        p->records += per_txn;
        p->elapsed_ms = cpm_mono_ms() - start;
    } while (p->elapsed_ms < PHASE_MS || p->txns < 3);
    return 0;
}

static void report(const char *name, const phase_t *p, double *rec_per_s)
{
    double secs = (double)(p->elapsed_ms ? p->elapsed_ms : 1) / 1000.0;
    *rec_per_s = (double)p->records / secs;
    printf("%-22s %8llu txns %9llu records in %5.2f s: %9.1f commits/s %11.0f records/s\n", name,
           (unsigned long long)p->txns, (unsigned long long)p->records, secs,
           (double)p->txns / secs, *rec_per_s);
}

int main(int argc, char **argv)
{
    char dir[4096];
    int made = 0;
    if (argc > 1) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/bench-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(dir) == NULL) {
            perror("bench_store: mkdtemp");
            return 1;
        }
        made = 1;
    }
    char err[256];
    cpm_store_t *s = cpm_store_open(dir, (size_t)4 << 30, NULL, err, sizeof err);
    if (s == NULL) {
        fprintf(stderr, "bench_store: %s\n", err);
        return 1;
    }
    printf("bench_store: %d-byte outbox records, durable commits, in %s\n", REC_LEN, dir);
    phase_t one, group;
    double r1 = 0, rg = 0;
    int rc = run_phase(s, 1, &one);
    if (rc == 0)
        rc = run_phase(s, GROUP, &group);
    if (rc == 0) {
        report("1 record per txn", &one, &r1);
        report("1000 records per txn", &group, &rg);
        printf("group commit gives %.0fx the records/s\n", r1 > 0 ? rg / r1 : 0.0);
    }
    cpm_store_destroy(&s);
    if (made)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc == 0 ? 0 : 1;
}
