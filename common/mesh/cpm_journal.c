/* cpm_journal: a store's redo journal segments. See cpm_journal.h. */
#include "cpm_journal.h"

#include "cpm_log.h"
#include "cpm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* A record's magic: "CPJ" and its check. "CPJ2": XXH3-128; "CPJ1", written
 * before: BLAKE2b-128 (still read, so that a store killed under the build of
 * before opens under this one). */
#define MAGIC "CPJ2"
#define MAGIC_PREFIX "CPJ"
#define HDR 32
#define HASH 16
#define NSEG 2

typedef struct {
    int fd;
    size_t off; /* where the next record goes (the active one) */
    int sealed; /* written and not yet released */
    int dirty;  /* appended to without a flush since */
} seg_t;

struct cpm_journal {
    seg_t seg[NSEG];
    int active;
    size_t seg_bytes;
    uint8_t id[CPM_JOURNAL_ID_LEN];
    uint8_t *rec; /* the record being written */
    size_t reccap;
};

static void seg_path(const char *dir, int i, char *out, size_t n)
{
    snprintf(out, n, "%s/journal.%d", dir, i);
}

static int write_all_at(int fd, const void *buf, size_t len, off_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
        off += w;
    }
    return 0;
}

/* Open (making and writing through when missing or of another size). */
static int seg_open(const char *dir, int i, size_t bytes, char *err, size_t errlen)
{
    char path[4200];
    seg_path(dir, i, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        cpm_errf(err, errlen, "cannot open the journal segment %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if ((size_t)st.st_size == bytes)
        return fd;
    static const uint8_t zero[1 << 16];
    int rc = ftruncate(fd, 0);
    for (size_t off = 0; rc == 0 && off < bytes; off += sizeof zero) {
        size_t n = bytes - off < sizeof zero ? bytes - off : sizeof zero;
        rc = write_all_at(fd, zero, n, (off_t)off);
    }
    if (rc != 0 || fsync(fd) != 0) {
        cpm_errf(err, errlen, "cannot write the journal segment %s (%zu bytes): %s", path, bytes,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

cpm_journal_t *cpm_journal_open(const char *dir, size_t seg_bytes,
                                const uint8_t id[CPM_JOURNAL_ID_LEN], char *err, size_t errlen)
{
    if (seg_bytes < CPM_JOURNAL_SEG_MIN || seg_bytes > CPM_JOURNAL_SEG_MAX) {
        cpm_errf(err, errlen, "journal segment size %zu is outside %zu..%zu bytes", seg_bytes,
                 CPM_JOURNAL_SEG_MIN, CPM_JOURNAL_SEG_MAX);
        return NULL;
    }
    cpm_journal_t *j = calloc(1, sizeof *j);
    if (j == NULL) {
        cpm_errf(err, errlen, "out of memory opening the journal in %s", dir);
        return NULL;
    }
    j->seg_bytes = seg_bytes;
    memcpy(j->id, id, CPM_JOURNAL_ID_LEN);
    for (int i = 0; i < NSEG; i++)
        j->seg[i].fd = -1;
    for (int i = 0; i < NSEG; i++) {
        if ((j->seg[i].fd = seg_open(dir, i, seg_bytes, err, errlen)) < 0) {
            cpm_journal_destroy(&j);
            return NULL;
        }
    }
    if (cpm_sync_dir(dir) != 0) { /* the new files stay */
        cpm_errf(err, errlen, "cannot sync the folder %s: %s", dir, strerror(errno));
        cpm_journal_destroy(&j);
        return NULL;
    }
    return j;
}

void cpm_journal_destroy(cpm_journal_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    for (int i = 0; i < NSEG; i++)
        if ((*p)->seg[i].fd >= 0)
            close((*p)->seg[i].fd);
    free((*p)->rec);
    free(*p);
    *p = NULL;
}

size_t cpm_journal_record_size(size_t payload_len)
{
    return CPM_JOURNAL_OVERHEAD + payload_len;
}

size_t cpm_journal_payload_max(const cpm_journal_t *j)
{
    return j->seg_bytes - CPM_JOURNAL_OVERHEAD;
}

size_t cpm_journal_room(const cpm_journal_t *j)
{
    return j->seg_bytes - j->seg[j->active].off;
}

double cpm_journal_fill(const cpm_journal_t *j)
{
    return (double)j->seg[j->active].off / (double)j->seg_bytes;
}

/* The check of a record's first n bytes, of the kind its magic's last byte
 * names: XXH3-128 (canonical, big-endian) for '2', BLAKE2b-128 for '1'. Not a
 * signature: it finds a torn or rotted record (whoever can write the journal
 * can write the store itself); XXH3 takes about 27 us for 512 KiB here
 * against 467 for BLAKE2b, which was a tenth of the writer thread's time
 * with large groups. */
static void record_check(const uint8_t *r, size_t n, char kind, uint8_t out[HASH])
{
    if (kind == '1') {
        crypto_generichash(out, HASH, r, n, NULL, 0);
        return;
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(r, n));
    memcpy(out, c.digest, HASH);
}

int cpm_journal_append(cpm_journal_t *j, uint64_t seq, const void *payload, size_t len, bool sync)
{
    size_t n = cpm_journal_record_size(len);
    seg_t *s = &j->seg[j->active];
    if (len > UINT32_MAX || n > j->seg_bytes - s->off)
        return CPM_E_STORE_FULL;
    if (n > j->reccap) {
        uint8_t *r = realloc(j->rec, n);
        if (r == NULL)
            return CPM_E_STORE_IO;
        j->rec = r;
        j->reccap = n;
    }
    uint8_t *r = j->rec;
    memcpy(r, MAGIC, 4);
    r[4] = (uint8_t)(len >> 24);
    r[5] = (uint8_t)(len >> 16);
    r[6] = (uint8_t)(len >> 8);
    r[7] = (uint8_t)len;
    cpm_put_be64(r + 8, seq);
    memcpy(r + 16, j->id, CPM_JOURNAL_ID_LEN);
    if (len)
        memcpy(r + HDR, payload, len);
    record_check(r, HDR + len, MAGIC[3], r + HDR + len);
    if (write_all_at(s->fd, r, n, (off_t)s->off) != 0 || (sync && fdatasync(s->fd) != 0)) {
        cpm_error("journal: cannot write record %llu: %s", (unsigned long long)seq,
                  strerror(errno));
        return CPM_E_STORE_IO;
    }
    s->off += n;
    s->dirty = !sync;
    return 0;
}

int cpm_journal_active_fd(const cpm_journal_t *j)
{
    return j->seg[j->active].fd;
}

int cpm_journal_flush(cpm_journal_t *j)
{
    if (fdatasync(j->seg[j->active].fd) != 0) {
        cpm_error("journal: cannot flush: %s", strerror(errno));
        return CPM_E_STORE_IO;
    }
    j->seg[j->active].dirty = 0;
    return 0;
}

bool cpm_journal_can_switch(const cpm_journal_t *j)
{
    return !j->seg[1 - j->active].sealed;
}

int cpm_journal_switch(cpm_journal_t *j)
{
    if (!cpm_journal_can_switch(j))
        return -1;
    /* What this segment holds unflushed reaches the disk before anything
     * in the other: a later record durable past a lost one would be a gap. */
    if (j->seg[j->active].dirty && cpm_journal_flush(j) != 0)
        return -1;
    j->seg[j->active].sealed = 1;
    j->active = 1 - j->active;
    j->seg[j->active].off = 0;
    return 0;
}

void cpm_journal_release(cpm_journal_t *j)
{
    j->seg[1 - j->active].sealed = 0;
}

/* ---- reading back -------------------------------------------------------- */

typedef struct {
    uint64_t seq;
    const uint8_t *payload;
    size_t len;
} found_t;

/* Every whole record of buf with this id. Records are read from the start,
 * each stepped over by its length; where a header does not hold (zeros past
 * the last record, a torn or rotted one), the search goes on at the next
 * occurrence of the magic. What it finds past the last record are older
 * records (a segment is written again only once a checkpoint covers all it
 * held, so their seq is at most the store's, and replay skips them); what it
 * finds past a rotted record are the ones after it, which show the gap, and
 * the store refuses to open rather than lose them. -1 when out of memory
 * (the caller fails: a record left out would be a write lost). */
static long scan(const uint8_t *buf, size_t size, const uint8_t *id, uint64_t after, found_t **out,
                 size_t *cap, size_t n)
{
    size_t off = 0;
    while (off < size && size - off >= CPM_JOURNAL_OVERHEAD) {
        const uint8_t *r = buf + off;
        size_t len = ((size_t)r[4] << 24) | ((size_t)r[5] << 16) | ((size_t)r[6] << 8) | r[7];
        if (memcmp(r, MAGIC_PREFIX, 3) != 0 || (r[3] != '1' && r[3] != '2') ||
            len > size - off - CPM_JOURNAL_OVERHEAD) {
            const uint8_t *next = memmem(buf + off + 1, size - off - 1, MAGIC_PREFIX, 3);
            if (next == NULL)
                break;
            off = (size_t)(next - buf);
            continue;
        }
        /* Cheap checks before the hash: bytes that merely look like a header
         * (in a stale tail or a torn record's payload, which hold stored
         * values verbatim) are rarely of this journal, whose id is random
         * and kept in the store only, and older records are not wanted. */
        uint64_t seq = cpm_get_be64(r + 8);
        if (memcmp(r + 16, id, CPM_JOURNAL_ID_LEN) != 0 || seq <= after) {
            off++;
            continue;
        }
        uint8_t h[HASH];
        record_check(r, HDR + len, (char)r[3], h);
        if (memcmp(h, r + HDR + len, HASH) != 0) {
            off++; /* not a whole record: its length cannot be trusted either */
            continue;
        }
        off += CPM_JOURNAL_OVERHEAD + len;
        if (n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            found_t *f = realloc(*out, nc * sizeof *f);
            if (f == NULL)
                return -1;
            *out = f;
            *cap = nc;
        }
        (*out)[n++] = (found_t){seq, r + HDR, len};
    }
    return (long)n;
}

static int by_seq(const void *a, const void *b)
{
    uint64_t x = ((const found_t *)a)->seq, y = ((const found_t *)b)->seq;
    return x < y ? -1 : x > y;
}

int cpm_journal_replay(const char *dir, const uint8_t id[CPM_JOURNAL_ID_LEN], uint64_t after,
                       cpm_journal_fn fn, void *ctx, uint64_t *last, size_t *beyond, char *err,
                       size_t errlen)
{
    uint8_t *buf[NSEG] = {NULL, NULL};
    size_t size[NSEG] = {0, 0}, n = 0, cap = 0;
    found_t *f = NULL;
    int rc = 0;
    *last = after;
    *beyond = 0;
    for (int i = 0; i < NSEG && rc == 0; i++) {
        char path[4200];
        seg_path(dir, i, path, sizeof path);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        /* read with the file's own size as the bound (not the largest a
         * segment may be: that would be a buffer of 1 GiB for each) */
        size_t want =
            (size_t)st.st_size < CPM_JOURNAL_SEG_MAX ? (size_t)st.st_size : CPM_JOURNAL_SEG_MAX;
        if (cpm_read_file(path, want, &buf[i], &size[i]) != 0) {
            cpm_errf(err, errlen, "cannot read the journal segment %s: %s", path, strerror(errno));
            rc = CPM_E_STORE_IO;
            break;
        }
        long got = scan(buf[i], size[i], id, after, &f, &cap, n);
        if (got < 0) {
            cpm_errf(err, errlen, "out of memory reading the journal segment %s", path);
            rc = CPM_E_STORE_IO;
            break;
        }
        n = (size_t)got;
    }
    if (rc == 0 && n > 0)
        qsort(f, n, sizeof *f, by_seq);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (f[i].seq <= *last)
            continue;
        if (f[i].seq != *last + 1) {
            *beyond = n - i;
            break;
        }
        if ((rc = fn(ctx, f[i].seq, f[i].payload, f[i].len)) == 0)
            *last = f[i].seq;
    }
    free(f);
    for (int i = 0; i < NSEG; i++)
        free(buf[i]);
    return rc;
}

int cpm_journal_reset_files(const char *dir)
{
    static const uint8_t zero[HDR];
    for (int i = 0; i < NSEG; i++) {
        char path[4200];
        seg_path(dir, i, path, sizeof path);
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT)
            continue;
        if (fd < 0 || write_all_at(fd, zero, sizeof zero, 0) != 0 || fdatasync(fd) != 0) {
            cpm_error("journal: cannot reset %s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return CPM_E_STORE_IO;
        }
        close(fd);
    }
    return 0;
}

int cpm_journal_remove_files(const char *dir)
{
    for (int i = 0; i < NSEG; i++) {
        char path[4200];
        seg_path(dir, i, path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT) {
            cpm_error("journal: cannot remove %s: %s", path, strerror(errno));
            return CPM_E_STORE_IO;
        }
    }
    return 0;
}
