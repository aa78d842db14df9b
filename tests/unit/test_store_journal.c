/* Tests for cpm_store's redo journal (cpm_store_journal.c, cpm_journal.c):
 * a journaled store killed at an arbitrary point reopens with exactly what
 * its commits had written; so does one whose pages written after its last
 * checkpoint are garbage and whose meta pages are garbage (a power cut at
 * the worst moment); a store reopened without the journal applies it first
 * and removes it; a journal with a record missing in the middle refuses to
 * open. The work is random puts, deletes, reserved values, cursor deletes,
 * nested transactions undone and emptied databases, in a child process that
 * SIGKILLs itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_err.h"
#include "cpm_store.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <ftw.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

static const char *const DBS[] = {"alpha", "beta", "gamma", NULL};
#define NKEYS 300

typedef struct {
    char dir[64];
    char data[96];
} fx_t;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cpm-journal-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->data, sizeof f->data, "%s/store", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static cpm_store_t *open_store(const char *dir, bool journal, size_t seg, unsigned ckpt_ms)
{
    char err[512] = "";
    cpm_store_opts_t o = {.map_size = 64u << 20,
                          .journal = journal,
                          .journal_seg_bytes = seg,
                          .checkpoint_ms = ckpt_ms};
    cpm_store_t *s = cpm_store_open_with(dir, &o, DBS, err, sizeof err);
    if (s == NULL)
        fail_msg("open %s: %s", dir, err);
    return s;
}

/* Every record of the service's databases and the outbox, as text lines,
 * into a malloc'd string (meta left out: it holds the journal's mark). */
static char *dump(cpm_store_t *s)
{
    static const char *const all[] = {"alpha", "beta", "gamma", CPM_DB_OUTBOX, CPM_DB_EVENTS};
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    for (size_t d = 0; d < sizeof all / sizeof all[0]; d++) {
        MDB_cursor *c;
        MDB_val k, v;
        assert_int_equal(mdb_cursor_open(txn, cpm_store_dbi(s, all[d]), &c), 0);
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            while (len + k.mv_size + 2 * v.mv_size + 64 > cap)
                out = realloc(out, cap *= 2);
            len += (size_t)sprintf(out + len, "%s %.*s ", all[d], (int)k.mv_size,
                                   (const char *)k.mv_data);
            for (size_t i = 0; i < v.mv_size; i++)
                len += (size_t)sprintf(out + len, "%02x", ((const uint8_t *)v.mv_data)[i]);
            out[len++] = '\n';
        }
        mdb_cursor_close(c);
    }
    cpm_store_abort(&txn);
    out[len] = 0;
    return out;
}

/* One random transaction of the kinds services write. */
static void random_txn(cpm_store_t *s, unsigned *seed)
{
    MDB_txn *txn, *child;
    char key[32];
    uint8_t val[700];
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    int ops = 1 + rand_r(seed) % 12;
    for (int i = 0; i < ops; i++) {
        const char *db = DBS[rand_r(seed) % 3];
        snprintf(key, sizeof key, "k%05d", rand_r(seed) % NKEYS);
        size_t vlen = (size_t)(rand_r(seed) % (int)sizeof val);
        memset(val, rand_r(seed) & 0xff, vlen);
        int what = rand_r(seed) % 10;
        if (what < 5) {
            assert_int_equal(cpm_store_put(s, txn, db, key, strlen(key), val, vlen), 0);
        } else if (what == 5) {
            int rc = cpm_store_del(s, txn, db, key, strlen(key));
            assert_true(rc == 0 || rc == CPM_E_NOT_FOUND);
        } else if (what == 6) { /* a value filled after the put */
            MDB_val k = {strlen(key), key}, v = {vlen + 1, NULL};
            assert_int_equal(cpm_store_mdb_put(s, txn, cpm_store_dbi(s, db), &k, &v, MDB_RESERVE),
                             0);
            memset(v.mv_data, 'R', v.mv_size);
        } else if (what == 7) { /* a nested transaction undone */
            assert_int_equal(cpm_store_begin_child(s, txn, &child), 0);
            assert_int_equal(cpm_store_put(s, child, db, key, strlen(key), "undone", 6), 0);
            int drc = cpm_store_del(s, child, DBS[(rand_r(seed) % 3)], key, strlen(key));
            assert_true(drc == 0 || drc == CPM_E_NOT_FOUND);
            cpm_store_abort(&child);
        } else if (what == 8) { /* a nested transaction kept, one in it undone */
            MDB_txn *grand;
            assert_int_equal(cpm_store_begin_child(s, txn, &child), 0);
            assert_int_equal(cpm_store_put(s, child, db, key, strlen(key), "kept", 4), 0);
            assert_int_equal(cpm_store_begin_child(s, child, &grand), 0);
            assert_int_equal(cpm_store_put(s, grand, db, key, strlen(key), "gone", 4), 0);
            assert_int_equal(cpm_store_put(s, grand, "gamma", "g-undone", 8, "x", 1), 0);
            if (rand_r(seed) % 2)
                cpm_store_abort(&grand);
            else
                assert_int_equal(cpm_store_commit(grand), 0);
            if (rand_r(seed) % 2) /* relaxed or not, a nested one is kept the same way */
                assert_int_equal(cpm_store_commit_relaxed(child), 0);
            else
                assert_int_equal(cpm_store_commit(child), 0);
        } else if (what == 9 && rand_r(seed) % 40 == 0) { /* emptied, written after */
            assert_int_equal(cpm_store_mdb_drop(s, txn, cpm_store_dbi(s, "gamma")), 0);
            assert_int_equal(cpm_store_put(s, txn, "gamma", key, strlen(key), "after", 5), 0);
        } else { /* the first few records of a database, by cursor */
            MDB_cursor *c;
            MDB_val k, v;
            assert_int_equal(mdb_cursor_open(txn, cpm_store_dbi(s, db), &c), 0);
            for (int n = 0; n < 3 && mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0; n++)
                assert_int_equal(cpm_store_cursor_del(s, c), 0);
            mdb_cursor_close(c);
        }
    }
    if (rand_r(seed) % 97 == 0) /* now and then a database emptied */
        assert_int_equal(cpm_store_mdb_drop(s, txn, cpm_store_dbi(s, "gamma")), 0);
    if (rand_r(seed) % 50 == 0) { /* and a large transaction (by a checkpoint) */
        static uint8_t big[40000];
        memset(big, 'B', sizeof big);
        for (int i = 0; i < 4; i++) {
            snprintf(key, sizeof key, "big%d", i);
            assert_int_equal(cpm_store_put(s, txn, "beta", key, strlen(key), big, sizeof big), 0);
        }
    }
    int kind = rand_r(seed) % 5;
    if (kind == 1) { /* flushed beside what follows (the server's busy groups) */
        uint64_t ticket = 1;
        assert_int_equal(cpm_store_commit_early(txn, &ticket), 0);
        if (rand_r(seed) % 2 == 0)
            while (!cpm_store_flushed(s, ticket)) {
            }
        return;
    }
    assert_int_equal(kind == 0 ? cpm_store_commit_relaxed(txn) : cpm_store_commit(txn), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

/* In a child: what s holds written to expect, then SIGKILL. */
static void expect_and_die(const fx_t *f, cpm_store_t *s)
{
    char *d = dump(s), path[256];
    snprintf(path, sizeof path, "%s/expect", f->dir);
    write_text(path, d);
    raise(SIGKILL);
    _exit(6);
}

/* In a child: `before` transactions, a checkpoint (its data file copied to
 * copy when given), `after` more, the expected dump written to expect
 * (with the relaxed commits' last record made durable by a normal commit
 * at the end: a relaxed one may be lost, by design), then SIGKILL. */
static void child_work(const fx_t *f, size_t seg, unsigned ckpt_ms, int before, int after,
                       unsigned seed, const char *copy)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cpm_store_t *s = open_store(f->data, true, seg, ckpt_ms);
        for (int i = 0; i < before; i++)
            random_txn(s, &seed);
        if (copy) {
            char cmd[512];
            if (cpm_store_checkpoint(s) != 0)
                _exit(3);
            snprintf(cmd, sizeof cmd, "cp '%s/data.mdb' '%s'", f->data, copy);
            if (system(cmd) != 0)
                _exit(4);
        }
        for (int i = 0; i < after; i++)
            random_txn(s, &seed);
        MDB_txn *txn;
        if (cpm_store_begin(s, true, &txn) != 0 ||
            cpm_store_put(s, txn, "alpha", "last", 4, "durable", 7) != 0 ||
            cpm_store_commit(txn) != 0)
            _exit(5);
        expect_and_die(f, s);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
        fail_msg("the child did not end by SIGKILL (status %d)", st);
}

static void assert_same_as_expected(const fx_t *f, cpm_store_t *s)
{
    char path[256];
    snprintf(path, sizeof path, "%s/expect", f->dir);
    char *want = read_text(path), *got = dump(s);
    if (strcmp(want, got) != 0)
        fail_msg("the reopened store differs from what was committed (%zu vs %zu bytes)",
                 strlen(got), strlen(want));
    free(want);
    free(got);
}

/* Killed with checkpoints, segment switches and large records along the
 * way (small segments, a checkpoint every 5 ms): reopened, exactly what was
 * committed. Three seeds. */
static void test_killed_reopens_with_every_commit(void **state)
{
    fx_t *f = *state;
    for (unsigned seed = 1; seed <= 3; seed++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->data);
        assert_int_equal(system(cmd), 0);
        child_work(f, 128u << 10, 5, 0, 400, seed, NULL);
        struct stat st;
        char img[160];
        snprintf(img, sizeof img, "%s/journal.meta", f->data);
        assert_int_equal(stat(img, &st), 0); /* not closed cleanly: the image is there */
        cpm_store_t *s = open_store(f->data, true, 128u << 10, 5);
        assert_same_as_expected(f, s);
        assert_true(cpm_store_journaled(s));
        cpm_store_destroy(&s);
        assert_int_equal(stat(img, &st), -1); /* closed cleanly: gone */
        s = open_store(f->data, true, 128u << 10, 5);
        assert_same_as_expected(f, s);
        cpm_store_destroy(&s);
    }
}

/* A commit whose flush ran beside the caller, killed once the store says
 * it is flushed and before anything else is committed: reopened, it is
 * there (and so is every commit before it). Its ticket wakes a poll(2) on
 * cpm_store_flush_fd. A store without a journal commits durably at once
 * (ticket 0). */
static void test_early_commit_durable_once_flushed(void **state)
{
    fx_t *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned seed = 11;
        cpm_store_t *s = open_store(f->data, true, 256u << 10, 5);
        for (int i = 0; i < 200; i++)
            random_txn(s, &seed);
        MDB_txn *txn;
        uint64_t ticket = 0;
        if (cpm_store_begin(s, true, &txn) != 0 ||
            cpm_store_put(s, txn, "alpha", "early", 5, "flushed", 7) != 0 ||
            cpm_store_commit_early(txn, &ticket) != 0 || ticket == 0)
            _exit(3);
        struct pollfd p = {.fd = cpm_store_flush_fd(s), .events = POLLIN};
        while (!cpm_store_flushed(s, ticket))
            if (poll(&p, 1, 10000) != 1)
                _exit(4); /* the eventfd never woke the poll */
        expect_and_die(f, s);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
        fail_msg("the child did not end by SIGKILL (status %d)", st);
    cpm_store_t *s = open_store(f->data, true, 256u << 10, 5);
    assert_same_as_expected(f, s);
    const void *v;
    size_t vlen;
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_store_get(s, txn, "alpha", "early", 5, &v, &vlen), 0);
    assert_memory_equal(v, "flushed", 7);
    cpm_store_abort(&txn);
    cpm_store_journal_stats_t js;
    cpm_store_journal_stats(s, &js);
    assert_int_equal(js.early, 0); /* counted per open */
    cpm_store_destroy(&s);

    /* Without a journal: ticket 0, flushed at once. */
    s = open_store(f->data, false, 0, 0);
    uint64_t ticket = 9;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_store_put(s, txn, "alpha", "plain", 5, "x", 1), 0);
    assert_int_equal(cpm_store_commit_early(txn, &ticket), 0);
    assert_int_equal(ticket, 0);
    assert_true(cpm_store_flushed(s, ticket));
    assert_int_equal(cpm_store_flush_fd(s), -1);
    cpm_store_destroy(&s);
}

/* The worst power cut: every page written after the checkpoint is garbage
 * (lost or torn), both meta pages too. The checkpoint's own pages were
 * never written over (a read transaction held them), so the store comes
 * back to the checkpoint, then the journal brings it to the last commit. */
static void test_power_cut_after_a_checkpoint(void **state)
{
    fx_t *f = *state;
    char copy[160], path[160];
    snprintf(copy, sizeof copy, "%s/data.at-checkpoint", f->dir);
    child_work(f, 4u << 20, 3600000, 300, 300, 7, copy);
    snprintf(path, sizeof path, "%s/data.mdb", f->data);
    int fd = open(path, O_RDWR), cfd = open(copy, O_RDONLY);
    assert_true(fd >= 0 && cfd >= 0);
    uint8_t page[4096], old[4096], junk[4096];
    memset(junk, 0xEE, sizeof junk);
    size_t changed = 0, kept = 0;
    for (off_t off = 0;; off += 4096) {
        ssize_t n = pread(fd, page, sizeof page, off);
        if (n <= 0)
            break;
        ssize_t m = pread(cfd, old, sizeof old, off);
        if (off < 8192 || m != n || memcmp(page, old, (size_t)n) != 0) {
            assert_int_equal(pwrite(fd, junk, (size_t)n, off), n);
            changed++;
        } else {
            kept++;
        }
    }
    close(cfd);
    close(fd);
    assert_true(changed > 10 && kept > 10); /* the test did what it says */
    cpm_store_t *s = open_store(f->data, true, 4u << 20, 3600000);
    assert_same_as_expected(f, s);
    cpm_store_destroy(&s);
}

/* Reopened without a journal: applied, then removed; commits are LMDB's
 * own (durable) from then on. */
static void test_reopened_without_journal(void **state)
{
    fx_t *f = *state;
    child_work(f, 128u << 10, 20, 0, 200, 11, NULL);
    cpm_store_t *s = open_store(f->data, false, 0, 0);
    assert_false(cpm_store_journaled(s));
    assert_same_as_expected(f, s);
    cpm_store_destroy(&s);
    char p[160];
    struct stat st;
    snprintf(p, sizeof p, "%s/journal.0", f->data);
    assert_int_equal(stat(p, &st), -1);
    snprintf(p, sizeof p, "%s/journal.meta", f->data);
    assert_int_equal(stat(p, &st), -1);
}

/* A record rotted in the middle of the journal: the records after it cannot
 * be applied without it, and the store says so instead of opening short. */
static void rot_record_2(void **state, off_t where)
{
    fx_t *f = *state;
    /* one checkpoint (at the start: record 0), everything after in one segment */
    child_work(f, 4u << 20, 3600000, 0, 60, 5, NULL);
    char seg[160];
    int fd = -1;
    for (int i = 0; i < 2 && fd < 0; i++) { /* the segment the records went to */
        uint8_t magic[4];
        snprintf(seg, sizeof seg, "%s/journal.%d", f->data, i);
        fd = open(seg, O_RDWR);
        assert_true(fd >= 0);
        if (pread(fd, magic, 4, 0) != 4 || memcmp(magic, "CPJ2", 4) != 0) {
            close(fd);
            fd = -1;
        }
    }
    assert_true(fd >= 0);
    off_t off = 0;
    int flipped = 0;
    for (int i = 0; i < 10 && !flipped; i++) {
        uint8_t hdr[32];
        assert_int_equal(pread(fd, hdr, sizeof hdr, off), (ssize_t)sizeof hdr);
        assert_memory_equal(hdr, "CPJ2", 4);
        uint32_t len =
            (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
        if (hdr[15] == 2) { /* record 2: one byte changed */
            uint8_t b;
            assert_int_equal(pread(fd, &b, 1, off + where), 1);
            b ^= 0x40;
            assert_int_equal(pwrite(fd, &b, 1, off + where), 1);
            flipped = 1;
        }
        off += 48 + (off_t)len;
    }
    close(fd);
    assert_true(flipped);
    char err[512] = "";
    cpm_store_opts_t o = {.journal = true, .journal_seg_bytes = 4u << 20};
    cpm_store_t *s = cpm_store_open_with(f->data, &o, DBS, err, sizeof err);
    assert_null(s);
    assert_non_null(strstr(err, "after a missing one"));
}

/* One byte of record 2's payload rotted: refused. */
static void test_missing_records_refuse_to_open(void **state)
{
    rot_record_2(state, 32);
}

/* Record 2's magic rotted (its header no longer reads as one): the records
 * after it are still found, and the store refuses to open too. */
static void test_rotted_header_refuses_too(void **state)
{
    rot_record_2(state, 0);
}

/* The segment of f's journal whose first record is there, opened. */
static int open_written_segment(const fx_t *f)
{
    for (int i = 0; i < 2; i++) {
        char seg[160];
        uint8_t magic[4];
        snprintf(seg, sizeof seg, "%s/journal.%d", f->data, i);
        int fd = open(seg, O_RDWR);
        assert_true(fd >= 0);
        if (pread(fd, magic, 4, 0) == 4 && memcmp(magic, "CPJ", 3) == 0)
            return fd;
        close(fd);
    }
    fail_msg("no journal segment holds records");
    return -1;
}

/* A record ends in the XXH3-128 of all before it (canonical, big-endian);
 * the records a build of before wrote ("CPJ1", BLAKE2b-128: a store killed
 * under it, opened after the upgrade) are applied as well, exactly once. */
static void test_records_of_before_are_replayed(void **state)
{
    fx_t *f = *state;
    child_work(f, 4u << 20, 3600000, 0, 60, 9, NULL); /* one segment, no checkpoint after */
    int fd = open_written_segment(f);
    off_t off = 0;
    int n = 0;
    for (;;) {
        uint8_t hdr[32];
        if (pread(fd, hdr, sizeof hdr, off) != (ssize_t)sizeof hdr || memcmp(hdr, "CPJ", 3) != 0)
            break;
        assert_int_equal(hdr[3], '2');
        size_t len = (size_t)hdr[4] << 24 | (size_t)hdr[5] << 16 | (size_t)hdr[6] << 8 | hdr[7];
        uint8_t *r = malloc(32 + len + 16);
        assert_non_null(r);
        assert_int_equal(pread(fd, r, 32 + len + 16, off), (ssize_t)(32 + len + 16));
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits(r, 32 + len));
        assert_memory_equal(c.digest, r + 32 + len, 16);
        r[3] = '1'; /* as the build of before wrote it */
        crypto_generichash(r + 32 + len, 16, r, 32 + len, NULL, 0);
        assert_int_equal(pwrite(fd, r, 32 + len + 16, off), (ssize_t)(32 + len + 16));
        free(r);
        off += 48 + (off_t)len;
        n++;
    }
    close(fd);
    /* 61 commits; one that changed nothing (deletes of absent keys, a
     * nested transaction undone) makes no record */
    assert_true(n >= 50);
    cpm_store_t *s = open_store(f->data, true, 4u << 20, 3600000);
    assert_same_as_expected(f, s);
    cpm_store_destroy(&s);
}

/* The first record of f's journal given magic kind and, over the bytes as
 * they then are, the check of kind other (XXH3-128 for '2', BLAKE2b-128 for
 * '1'): a record whose check is right for its bytes but of the other kind
 * than its magic says. */
static void recheck_first_record(const fx_t *f, char kind, char other)
{
    int fd = open_written_segment(f);
    uint8_t hdr[32];
    assert_int_equal(pread(fd, hdr, sizeof hdr, 0), (ssize_t)sizeof hdr);
    size_t len = (size_t)hdr[4] << 24 | (size_t)hdr[5] << 16 | (size_t)hdr[6] << 8 | hdr[7];
    uint8_t *r = malloc(32 + len + 16);
    assert_non_null(r);
    assert_int_equal(pread(fd, r, 32 + len + 16, 0), (ssize_t)(32 + len + 16));
    r[3] = (uint8_t)kind;
    if (other == '2') {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits(r, 32 + len));
        memcpy(r + 32 + len, c.digest, 16);
    } else {
        crypto_generichash(r + 32 + len, 16, r, 32 + len, NULL, 0);
    }
    assert_int_equal(pwrite(fd, r, 32 + len + 16, 0), (ssize_t)(32 + len + 16));
    free(r);
    close(fd);
}

/* Which check a record carries is part of what is checked: a "CPJ1" record
 * ending in a right XXH3, or a "CPJ2" one ending in a right BLAKE2b, is not
 * whole (the records after it then show a gap: the store refuses to open). */
static void test_a_check_of_the_other_kind_fails(void **state)
{
    fx_t *f = *state;
    for (int round = 0; round < 2; round++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->data);
        assert_int_equal(system(cmd), 0);
        child_work(f, 4u << 20, 3600000, 0, 60, 11, NULL);
        if (round == 0)
            recheck_first_record(f, '1', '2');
        else
            recheck_first_record(f, '2', '1');
        char err[512] = "";
        cpm_store_opts_t o = {.journal = true, .journal_seg_bytes = 4u << 20};
        cpm_store_t *s = cpm_store_open_with(f->data, &o, DBS, err, sizeof err);
        assert_null(s);
        assert_non_null(strstr(err, "after a missing one"));
    }
}

/* A database emptied in a nested transaction that was undone stays as it
 * was after a kill (the record holds all it has at the commit). */
static void test_drop_undone_in_a_nested_transaction(void **state)
{
    fx_t *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cpm_store_t *s = open_store(f->data, true, 1u << 20, 3600000);
        MDB_txn *txn, *child;
        if (cpm_store_begin(s, true, &txn) != 0)
            _exit(2);
        for (int i = 0; i < 50; i++) {
            char k[16];
            snprintf(k, sizeof k, "g%03d", i);
            if (cpm_store_put(s, txn, "gamma", k, strlen(k), "v", 1) != 0)
                _exit(3);
        }
        if (cpm_store_commit(txn) != 0 || cpm_store_begin(s, true, &txn) != 0 ||
            cpm_store_begin_child(s, txn, &child) != 0 ||
            cpm_store_mdb_drop(s, child, cpm_store_dbi(s, "gamma")) != 0)
            _exit(4);
        cpm_store_abort(&child);
        if (cpm_store_put(s, txn, "alpha", "a", 1, "b", 1) != 0 || cpm_store_commit(txn) != 0)
            _exit(5);
        expect_and_die(f, s);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    cpm_store_t *s = open_store(f->data, true, 1u << 20, 3600000);
    assert_same_as_expected(f, s);
    MDB_txn *txn;
    const void *v;
    size_t vlen;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_store_get(s, txn, "gamma", "g049", 4, &v, &vlen), 0);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
}

/* Replay starts from the checkpoint's state and map; reopened with a smaller
 * map_size than the records need (the map had grown since, or the
 * configuration changed), it grows the map, up to map_max, to apply them. */
static void test_replay_grows_the_map(void **state)
{
    fx_t *f = *state;
    char err[512] = "";
    cpm_store_opts_t o = {.map_size = 8u << 20,
                          .journal = true,
                          .journal_seg_bytes = 8u << 20,
                          .checkpoint_ms = 3600000};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cpm_store_t *s = cpm_store_open_with(f->data, &o, DBS, err, sizeof err);
        if (!s)
            _exit(2);
        static uint8_t val[3000];
        for (int i = 0; i < 200; i++) {
            MDB_txn *txn;
            char k[16];
            snprintf(k, sizeof k, "big%05d", i);
            memset(val, i & 0xff, sizeof val);
            if (cpm_store_begin(s, true, &txn) != 0 ||
                cpm_store_put(s, txn, "beta", k, strlen(k), val, sizeof val) != 0 ||
                cpm_store_commit(txn) != 0)
                _exit(3);
        }
        expect_and_die(f, s);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
        fail_msg("the child did not end by SIGKILL (status %d)", st);
    o.map_size = 256u << 10; /* far less than 200 records of 3 KB and their history */
    o.map_max = 64u << 20;
    cpm_store_t *s = cpm_store_open_with(f->data, &o, DBS, err, sizeof err);
    if (!s)
        fail_msg("reopen: %s", err);
    assert_same_as_expected(f, s);
    cpm_store_destroy(&s);
}

/* A journaled store in a 1 MiB map that may not grow, checkpoints 1 h
 * apart (only those the store makes itself). */
static cpm_store_t *open_small(const char *dir)
{
    char err[512] = "";
    cpm_store_opts_t o = {.map_size = 1u << 20,
                          .journal = true,
                          .journal_seg_bytes = 8u << 20,
                          .checkpoint_ms = 3600000};
    cpm_store_t *s = cpm_store_open_with(dir, &o, DBS, err, sizeof err);
    if (!s)
        fail_msg("open: %s", err);
    return s;
}

/* The pages a checkpoint's state holds are not reused until the next one:
 * with checkpoints far apart (1 h here) a small map fills with them while
 * the live data is small. A write that finds the map full is refused
 * (retryable) and the next transaction begins with a checkpoint, which
 * lets them go: the retry succeeds. */
static void test_full_map_makes_a_checkpoint(void **state)
{
    fx_t *f = *state;
    cpm_store_t *s = open_small(f->data);
    static uint8_t val[3000];
    int full = 0;
    for (int i = 0; i < 400; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%03d", i % 40); /* live data stays at 40 values */
        memset(val, i & 0xff, sizeof val);
        for (int attempt = 0;; attempt++) {
            MDB_txn *txn;
            assert_int_equal(cpm_store_begin(s, true, &txn), 0);
            int rc = cpm_store_put(s, txn, "beta", k, strlen(k), val, sizeof val);
            if (rc == 0)
                rc = cpm_store_commit(txn);
            else
                cpm_store_abort(&txn);
            if (rc == 0)
                break;
            assert_int_equal(rc, CPM_E_STORE_FULL);
            assert_true(attempt == 0); /* the retry, after the checkpoint, succeeds */
            full++;
        }
    }
    assert_true(full > 0); /* the map did fill: the test did what it says */
    cpm_store_destroy(&s);
}

/* The pages the last checkpoint's state holds count toward the mark: with
 * checkpoints an hour apart, rewriting the same 40 values fills a 1 MiB map
 * with pages LMDB may not reuse yet. A writer that asks as the services do
 * (cpm_store_make_room between transactions, cpm_store_admit in them) never
 * finds the map full: the held pages show in the usage, and make_room turns
 * them free with a checkpoint before the next transaction, with no map
 * growth. Without the count, the same loop hits MDB_MAP_FULL
 * (test_full_map_makes_a_checkpoint). */
static void held_pages_loop(fx_t *f, size_t map_max)
{
    cpm_store_t *s = open_small(f->data);
    cpm_store_set_limits(s, map_max, 0);
    static uint8_t val[3000];
    size_t used_max = 0, used_min = SIZE_MAX, map = 0;
    for (int i = 0; i < 400; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%03d", i % 40);
        memset(val, i & 0xff, sizeof val);
        assert_int_equal(cpm_store_make_room(s), 0);
        MDB_txn *txn;
        assert_int_equal(cpm_store_begin(s, true, &txn), 0);
        assert_int_equal(cpm_store_admit(s, txn), 0); /* live data is far below the mark */
        assert_int_equal(cpm_store_put(s, txn, "beta", k, strlen(k), val, sizeof val), 0);
        assert_int_equal(cpm_store_commit(txn), 0);
        size_t used;
        assert_int_equal(cpm_store_begin(s, false, &txn), 0);
        assert_int_equal(cpm_store_usage(s, txn, &used, &map), 0);
        cpm_store_abort(&txn);
        if (i >= 40) { /* every value written once: live data stays the same from here */
            used_max = used > used_max ? used : used_max;
            used_min = used < used_min ? used : used_min;
        }
    }
    assert_int_equal(map, 1u << 20); /* made room by checkpoints, not by growing */
    cpm_store_journal_stats_t js;
    cpm_store_journal_stats(s, &js);
    assert_true(js.for_room > 0);
    assert_int_equal(js.for_room + 1, js.checkpoints); /* + the one at open */
    /* the held pages showed: usage rose well above the live data and fell back */
    assert_true(used_max > used_min + (100u << 12));
    assert_true(used_max * 100 <= (size_t)map * CPM_STORE_HIGH_WATER_MAX);
    cpm_store_destroy(&s);
}

static void test_held_pages_count_toward_the_mark(void **state)
{
    held_pages_loop(*state, 0);
}

/* The same with a map that may grow to 4 MiB: the held pages bring the store
 * near its mark again and again, its live data stays far below it, and the
 * map does not grow (a checkpoint lets them go; a larger map would stay). */
static void test_held_pages_do_not_grow_the_map(void **state)
{
    held_pages_loop(*state, 4u << 20);
}

/* LMDB reuses a free-list entry only when it is older than every reader, and
 * a checkpoint reads the state of the last commit: the pages that commit
 * freed stay held after it. A store filled above its mark and then emptied
 * by one large deletion (intake's outbox when a stopped receiver comes back
 * and acknowledges everything at once) must take new work at once, as a
 * sender would try it: make_room steps the state on by one journaled
 * transaction and checkpoints again (fails with 507 without that step). */
static void test_pages_the_last_commit_freed_are_let_go(void **state)
{
    fx_t *f = *state;
    cpm_store_t *s = open_small(f->data);
    static uint8_t val[3000];
    memset(val, 7, sizeof val);
    int n = 0, rc = 0;
    MDB_txn *txn;
    for (; n < 1000 && rc == 0; n++) { /* fill until new work is refused */
        char k[16];
        snprintf(k, sizeof k, "k%04d", n);
        assert_int_equal(cpm_store_make_room(s), 0);
        assert_int_equal(cpm_store_begin(s, true, &txn), 0);
        rc = cpm_store_admit(s, txn);
        if (rc == 0)
            assert_int_equal(cpm_store_put(s, txn, "beta", k, strlen(k), val, sizeof val), 0);
        assert_int_equal(rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), 0), 0);
    }
    assert_int_equal(rc, CPM_E_STORE_FULL);
    n--; /* the refused one was not written */
    assert_true(n > 100);
    assert_int_equal(cpm_store_begin(s, true, &txn), 0); /* deletions use the headroom */
    for (int i = 0; i < n - 10; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%04d", i);
        assert_int_equal(cpm_store_del(s, txn, "beta", k, strlen(k)), 0);
    }
    assert_int_equal(cpm_store_commit(txn), 0);
    cpm_store_journal_stats_t before, after;
    cpm_store_journal_stats(s, &before);
    assert_int_equal(cpm_store_make_room(s), 0);
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_store_admit(s, txn), 0); /* new work again, at once */
    assert_int_equal(cpm_store_put(s, txn, "beta", "after", 5, val, sizeof val), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
    cpm_store_journal_stats(s, &after);
    assert_true(after.for_room > before.for_room);
    size_t used, map;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_store_usage(s, txn, &used, &map), 0);
    cpm_store_abort(&txn);
    assert_int_equal(map, 1u << 20);
    assert_true(used * 100 < (size_t)map * 50); /* 11 values and little held */
    cpm_store_destroy(&s);
    /* and the store reopens with every value the commits kept */
    s = open_small(f->data);
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    const void *v;
    size_t vlen;
    assert_int_equal(cpm_store_get(s, txn, "beta", "after", 5, &v, &vlen), 0);
    assert_int_equal(cpm_store_get(s, txn, "beta", "k0000", 5, &v, &vlen), CPM_E_NOT_FOUND);
    char last[16];
    snprintf(last, sizeof last, "k%04d", n - 1);
    assert_int_equal(cpm_store_get(s, txn, "beta", last, 5, &v, &vlen), 0);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
}

/* A store above its mark with live data makes no checkpoint for room: the
 * pages a checkpoint would let go cannot bring it below, and a full store
 * would otherwise flush its data file before every transaction. */
static void test_live_data_above_the_mark_makes_no_checkpoint(void **state)
{
    fx_t *f = *state;
    cpm_store_t *s = open_small(f->data);
    static uint8_t val[3000];
    memset(val, 9, sizeof val);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    for (int i = 0; i < 212; i++) { /* a 4 KiB page each: 83% of the map, live */
        char k[16];
        snprintf(k, sizeof k, "k%04d", i);
        assert_int_equal(cpm_store_put(s, txn, "beta", k, strlen(k), val, sizeof val), 0);
    }
    assert_int_equal(cpm_store_commit(txn), 0);
    for (int i = 0; i < 3; i++) { /* a few small commits: some pages held */
        assert_int_equal(cpm_store_begin(s, true, &txn), 0);
        assert_int_equal(cpm_store_put(s, txn, "beta", "k0000", 5, val, 100 + i), 0);
        assert_int_equal(cpm_store_commit(txn), 0);
    }
    cpm_store_journal_stats_t before, after;
    cpm_store_journal_stats(s, &before);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(cpm_store_make_room(s), 0); /* the map may not grow: 0, as it stays */
        assert_int_equal(cpm_store_begin(s, true, &txn), 0);
        assert_int_equal(cpm_store_admit(s, txn), CPM_E_STORE_FULL);
        cpm_store_abort(&txn);
    }
    cpm_store_journal_stats(s, &after);
    assert_int_equal(after.for_room, before.for_room);
    assert_int_equal(after.checkpoints, before.checkpoints);
    cpm_store_destroy(&s);
}

/* One process at a time: a second opening of a journaled store is refused
 * (it would put a checkpoint's meta pages back under the first). */
static void test_second_opener_refused(void **state)
{
    fx_t *f = *state;
    cpm_store_t *s = open_store(f->data, true, 1u << 20, 200);
    char err[512] = "";
    cpm_store_opts_t o = {.journal = true, .journal_seg_bytes = 1u << 20};
    cpm_store_t *t = cpm_store_open_with(f->data, &o, DBS, err, sizeof err);
    assert_null(t);
    assert_non_null(strstr(err, "open in another process"));
    cpm_store_destroy(&s);
    t = open_store(f->data, true, 1u << 20, 200); /* free again */
    cpm_store_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_killed_reopens_with_every_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_after_a_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_commit_durable_once_flushed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopened_without_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_records_refuse_to_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotted_header_refuses_too, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_of_before_are_replayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_check_of_the_other_kind_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_undone_in_a_nested_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_opener_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_grows_the_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_map_makes_a_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_pages_count_toward_the_mark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_pages_do_not_grow_the_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages_the_last_commit_freed_are_let_go, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_live_data_above_the_mark_makes_no_checkpoint, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
