/* bench_evreplay: verified replay of an event log against an unverified
 * baseline in the same process (docs/protocol.md section 20).
 *
 * Writes N events (default 1,000,000) to a fresh LMDB store the way a
 * service does, with a signed checkpoint every 1,000 events; then reads the
 * whole log back twice, in fetch-sized steps of 1,000:
 *   unverified: read and decode every event (what a reader that trusts the
 *               store does);
 *   verified:   the same, plus each event's hash recomputed and linked to the
 *               one before, and each checkpoint's Ed25519 signature and head
 *               hash checked: one signature per 1,000 events.
 * Prints events per second of each and the ratio. No mesh.
 *
 * Usage: bench_evreplay [N] [dir]   (a dir that holds the N events of an
 * earlier run is read again, not written) */
#include "cpm_evcheck.h"
#include "cpm_eventlog.h"
#include "cpm_keys.h"
#include "cpm_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEP 1000
#define EVERY 1000

/* CPU seconds of this process: on a shared, loaded machine the wall time
 * says more about the neighbours than about the replay. */
static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int fill(cpm_store_t *s, const cpm_identity_t *id, uint64_t n)
{
    static const char *kinds[] = {"complaint.received", "case.routed", "case.assigned",
                                  "case.resolved"};
    static const char *areas[] = {"hoan-kiem", "ba-dinh", "cau-giay", "dong-da"};
    char ticket[32];
    for (uint64_t done = 0; done < n;) {
        MDB_txn *txn;
        if (cpm_store_begin(s, true, &txn) != 0)
            return -1;
        for (int k = 0; k < 10 * EVERY && done < n; k++, done++) {
            snprintf(ticket, sizeof ticket, "HN-2026-%08llu", (unsigned long long)done / 4);
            cpm_event_t e = {.kind = kinds[done % 4],
                             .ticket = ticket,
                             .agency = "hn.d.hoan-kiem",
                             .area = areas[done % 4],
                             .category = "food_safety",
                             .state = (Cpm__CaseState)(1 + done % 4),
                             .actor = "hn.doit",
                             .note = "a note of ordinary length for an event"};
            bool made;
            if (cpm_eventlog_append(s, txn, 1790000000000LL + (int64_t)done, &e, NULL) != 0 ||
                ((done + 1) % EVERY == 0 &&
                 cpm_evcheck_make(s, txn, id, "intake", 1790000000000LL, &made, NULL, NULL) != 0)) {
                cpm_store_abort(&txn);
                return -1;
            }
        }
        if (cpm_store_commit(txn) != 0)
            return -1;
    }
    return 0;
}

/* One pass over the log; verified or not. Returns events read or -1. */
static long long pass(cpm_store_t *s, const uint8_t pk[32], bool verify, uint64_t *proven)
{
    MDB_txn *txn;
    if (cpm_store_begin(s, false, &txn) != 0)
        return -1;
    long long total = 0;
    uint8_t prev[32] = {0};
    *proven = 0;
    for (uint64_t from = 1;; from += STEP) {
        Cpm__Event **evs = NULL;
        size_t n = 0;
        if (cpm_eventlog_read(s, txn, from, STEP, &evs, &n) != 0) {
            total = -1;
            break;
        }
        if (n == 0)
            break;
        if (verify) {
            ProtobufCBinaryData *frames = NULL;
            size_t nf = 0;
            uint64_t last = evs[n - 1]->seq;
            if (cpm_eventlog_verify_chain(evs, n, prev) != 0 ||
                cpm_evcheck_list(s, txn, from, last, 16, &frames, &nf) != 0) {
                fprintf(stderr, "bench_evreplay: chain broken at %llu\n", (unsigned long long)from);
                total = -1;
            }
            for (size_t i = 0; i < nf && total >= 0; i++) {
                cpm_evcheck_t c;
                cpm_error_t err = {0};
                if (cpm_evcheck_open(frames[i].data, frames[i].len, pk, &c, &err) != 0 ||
                    c.seq < from || c.seq > last ||
                    memcmp(evs[c.seq - from]->hash.data, c.head_hash, 32) != 0) {
                    fprintf(stderr, "bench_evreplay: checkpoint refused: %s\n", err.message);
                    total = -1;
                } else {
                    *proven = c.seq;
                }
            }
            cpm_evcheck_frames_free(&frames, nf);
            memcpy(prev, evs[n - 1]->hash.data, 32);
        }
        cpm_eventlog_free(&evs, n);
        if (total < 0)
            break;
        total += (long long)n;
    }
    cpm_store_abort(&txn);
    return total;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    char dir[512];
    if (argc > 2)
        snprintf(dir, sizeof dir, "%s", argv[2]);
    else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/bench-evreplay-XXXXXX", tmp ? tmp : "/tmp");
        if (!mkdtemp(dir))
            return 1;
    }
    cpm_identity_t id;
    char err[256];
    uint8_t seed[32]; /* a fixed key: a log kept in dir is read again without writing it */
    memset(seed, 0x42, sizeof seed);
    if (cpm_identity_from_seed(&id, "hn.doit", seed) != 0)
        return 1;
    static const char *const dbs[] = {NULL};
    cpm_store_t *s = cpm_store_open(dir, (size_t)4 << 30, dbs, err, sizeof err);
    if (!s) {
        fprintf(stderr, "bench_evreplay: %s: %s\n", dir, err);
        return 1;
    }
    int64_t t0 = cpm_mono_ms();
    uint64_t head = 0;
    MDB_txn *rt;
    if (cpm_store_begin(s, false, &rt) == 0) {
        if (cpm_eventlog_head(s, rt, &head, NULL) != 0)
            head = 0;
        cpm_store_abort(&rt);
    }
    if (head != 0 && head != n) {
        fprintf(stderr, "bench_evreplay: %s holds %llu events, not %llu\n", dir,
                (unsigned long long)head, (unsigned long long)n);
        return 1;
    }
    if (head == 0 && fill(s, &id, n) != 0) {
        fprintf(stderr, "bench_evreplay: cannot write the log\n");
        return 1;
    }
    int64_t t1 = cpm_mono_ms();
    uint64_t proven = 0;
    long long plain = pass(s, id.sign_pk, false, &proven); /* also warms the page cache */
    int64_t t2 = cpm_mono_ms();
    double c2 = cpu_s();
    plain = pass(s, id.sign_pk, false, &proven);
    int64_t t3 = cpm_mono_ms();
    double c3 = cpu_s();
    long long verified = pass(s, id.sign_pk, true, &proven);
    int64_t t4 = cpm_mono_ms();
    double c4 = cpu_s();
    (void)t2;
    if (plain != (long long)n || verified != (long long)n || proven != n - n % EVERY) {
        fprintf(stderr, "bench_evreplay: read %lld / verified %lld of %llu (proven %llu)\n", plain,
                verified, (unsigned long long)n, (unsigned long long)proven);
        return 1;
    }
    double up = (double)(t3 - t2) / 1000.0, vp = (double)(t4 - t3) / 1000.0;
    printf("events %s: %llu in %.1f s (checkpoint every %d)\n",
           head ? "kept from a run before" : "written", (unsigned long long)n,
           (double)(t1 - t0) / 1000.0, EVERY);
    printf("unverified replay: %.0f events/s (%.2f s)\n", (double)n / (up > 0 ? up : 1e-3), up);
    printf("verified replay:   %.0f events/s (%.2f s), %llu checkpoints checked, proven to %llu\n",
           (double)n / (vp > 0 ? vp : 1e-3), vp, (unsigned long long)(proven / EVERY),
           (unsigned long long)proven);
    printf("verified / unverified time: %.2f\n", up > 0 ? vp / up : 0);
    printf("per CPU second (robust to a loaded machine): unverified %.0f, verified %.0f "
           "events/s, ratio %.2f\n",
           (double)n / (c3 - c2 > 0 ? c3 - c2 : 1e-3), (double)n / (c4 - c3 > 0 ? c4 - c3 : 1e-3),
           c3 - c2 > 0 ? (c4 - c3) / (c3 - c2) : 0);
    cpm_store_destroy(&s);
    if (argc <= 2)
        nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
