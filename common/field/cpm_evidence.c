/* cpm_evidence: see cpm_evidence.h. */
#include "cpm_evidence.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct cpm_evidence {
    char dir[1024];
    uint64_t max_bytes;
    uint64_t used;
};

void cpm_evidence_hex(const uint8_t hash[CPM_EVIDENCE_HASH_LEN], char hex[65])
{
    sodium_bin2hex(hex, 65, hash, CPM_EVIDENCE_HASH_LEN);
}

static void path_of(const cpm_evidence_t *ev, const uint8_t *hash, const char *suffix, char *out,
                    size_t n)
{
    char hex[65];
    cpm_evidence_hex(hash, hex);
    snprintf(out, n, "%s/%s%s", ev->dir, hex, suffix);
}

void cpm_evidence_path(const cpm_evidence_t *ev, const uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                       char *out, size_t n)
{
    path_of(ev, hash, "", out, n);
}

/* The part of hash that owner is sending: "<hex>.<tag>.part", tag the hex
 * of an 8-byte BLAKE2b of owner, so no uploader can append to, cut or spoil
 * another's part of the same hash; NULL or "" owner: "<hex>.part". */
static void part_of(const cpm_evidence_t *ev, const uint8_t *hash, const char *owner, char *out,
                    size_t n)
{
    if (!owner || !*owner) {
        path_of(ev, hash, ".part", out, n);
        return;
    }
    uint8_t t[8];
    char tag[2 + 2 * sizeof t + 6];
    crypto_generichash(t, sizeof t, (const uint8_t *)owner, strlen(owner), NULL, 0);
    tag[0] = '.';
    sodium_bin2hex(tag + 1, sizeof tag - 1, t, sizeof t);
    strcat(tag, ".part");
    path_of(ev, hash, tag, out, n);
}

/* Only our own names count: 64 hex digits, optionally ".part", ".tmp" or
 * ".<16 hex>.part". */
static bool own_name(const char *name)
{
    size_t n = strspn(name, "0123456789abcdef");
    if (n != 64)
        return false;
    const char *t = name + 64;
    return !*t || !strcmp(t, ".part") || !strcmp(t, ".tmp") ||
           (t[0] == '.' && strspn(t + 1, "0123456789abcdef") == 16 && !strcmp(t + 17, ".part"));
}

static bool is_part(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && !strcmp(name + n - 5, ".part");
}

cpm_evidence_t *cpm_evidence_open(const char *dir, uint64_t max_bytes, cpm_error_t *err)
{
    if (sodium_init() < 0) {
        cpm_error_set(err, CPM_E_INTERNAL, "sodium", "libsodium did not initialise");
        return NULL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        cpm_error_set(err, CPM_E_STORE_IO, "evidence_dir", "cannot create %s: %s", dir,
                      strerror(errno));
        return NULL;
    }
    DIR *d = opendir(dir);
    if (!d) {
        cpm_error_set(err, CPM_E_STORE_IO, "evidence_dir", "cannot open %s: %s", dir,
                      strerror(errno));
        return NULL;
    }
    cpm_evidence_t *ev = calloc(1, sizeof *ev);
    if (!ev) {
        closedir(d);
        cpm_error_set(err, CPM_E_INTERNAL, "memory", "out of memory");
        return NULL;
    }
    snprintf(ev->dir, sizeof ev->dir, "%s", dir);
    ev->max_bytes = max_bytes ? max_bytes : CPM_EVIDENCE_MAX_BYTES_DEFAULT;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat sb;
        if (!own_name(e->d_name) || fstatat(dirfd(d), e->d_name, &sb, 0) != 0)
            continue;
        if (strstr(e->d_name, ".tmp")) { /* an import cut short: never complete */
            unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        /* an upload nobody resumed for CPM_EVIDENCE_PART_TTL_S: abandoned */
        if (is_part(e->d_name) && sb.st_mtime + CPM_EVIDENCE_PART_TTL_S < time(NULL)) {
            unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        ev->used += (uint64_t)sb.st_size;
    }
    closedir(d);
    return ev;
}

void cpm_evidence_destroy(cpm_evidence_t **p)
{
    if (!p || !*p)
        return;
    free(*p);
    *p = NULL;
}

uint64_t cpm_evidence_used(const cpm_evidence_t *ev)
{
    return ev->used;
}

/* Hash an open descriptor from its start; *size its length. */
static int hash_fd(int fd, uint8_t hash[CPM_EVIDENCE_HASH_LEN], uint64_t *size, cpm_error_t *err)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, CPM_EVIDENCE_HASH_LEN);
    static uint8_t buf[1 << 16];
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cpm_error_set(err, CPM_E_STORE_IO, "file", "read: %s", strerror(errno));
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (total > CPM_EVIDENCE_MAX_FILE)
            return cpm_error_set(err, CPM_E_TOO_LARGE, "size", "evidence is larger than %llu bytes",
                                 (unsigned long long)CPM_EVIDENCE_MAX_FILE);
        crypto_generichash_update(&st, buf, (size_t)n);
    }
    crypto_generichash_final(&st, hash, CPM_EVIDENCE_HASH_LEN);
    *size = total;
    return 0;
}

int cpm_evidence_hash_file(const char *path, uint8_t hash[CPM_EVIDENCE_HASH_LEN], uint64_t *size,
                           cpm_error_t *err)
{
    if (sodium_init() < 0)
        return cpm_error_set(err, CPM_E_INTERNAL, "sodium", "libsodium did not initialise");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cpm_error_set(err, errno == ENOENT ? CPM_E_NOT_FOUND : CPM_E_STORE_IO, "file",
                             "cannot open %s: %s", path, strerror(errno));
    int rc = hash_fd(fd, hash, size, err);
    close(fd);
    if (rc == 0 && *size == 0)
        return cpm_error_set(err, CPM_E_INVALID, "file", "%s is empty", path);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void sync_dir(const cpm_evidence_t *ev)
{
    int fd = open(ev->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int cpm_evidence_import(cpm_evidence_t *ev, const char *path, uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                        uint64_t *size, bool *existed, cpm_error_t *err)
{
    int rc = cpm_evidence_hash_file(path, hash, size, err);
    if (rc != 0)
        return rc;
    char dst[1200], tmp[1200];
    path_of(ev, hash, "", dst, sizeof dst);
    struct stat sb;
    *existed = stat(dst, &sb) == 0 && (uint64_t)sb.st_size == *size;
    if (*existed)
        return 0;
    if (ev->used + *size > ev->max_bytes)
        return cpm_error_set(err, CPM_E_STORE_FULL, "evidence",
                             "the evidence folder would pass its limit of %llu bytes",
                             (unsigned long long)ev->max_bytes);
    path_of(ev, hash, ".tmp", tmp, sizeof tmp);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    rc = in < 0 || out < 0 ? -1 : 0;
    static uint8_t buf[1 << 16];
    ssize_t n = 0;
    while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
        rc = write_all(out, buf, (size_t)n);
    if (rc == 0 && (n < 0 || fsync(out) != 0))
        rc = -1;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        rc = -1;
    /* Hashed before the copy: a file changed in between is refused here. */
    uint8_t again[CPM_EVIDENCE_HASH_LEN];
    uint64_t again_size = 0;
    if (rc == 0) {
        int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        rc = fd < 0 || hash_fd(fd, again, &again_size, NULL) != 0 ||
                     memcmp(again, hash, sizeof again) || again_size != *size
                 ? -1
                 : 0;
        if (fd >= 0)
            close(fd);
    }
    if (rc != 0 || rename(tmp, dst) != 0) {
        unlink(tmp);
        return cpm_error_set(err, CPM_E_STORE_IO, "file",
                             "cannot copy %s into the evidence folder (changed while copied, or "
                             "disk error)",
                             path);
    }
    sync_dir(ev);
    ev->used += *size;
    return 0;
}

int cpm_evidence_status(cpm_evidence_t *ev, const uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                        uint64_t *received, bool *complete, cpm_error_t *err)
{
    return cpm_evidence_status_as(ev, hash, NULL, received, complete, err);
}

int cpm_evidence_status_as(cpm_evidence_t *ev, const uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                           const char *owner, uint64_t *received, bool *complete, cpm_error_t *err)
{
    char p[1200];
    struct stat sb;
    path_of(ev, hash, "", p, sizeof p);
    if (stat(p, &sb) == 0) {
        *received = (uint64_t)sb.st_size;
        *complete = true;
        return 0;
    }
    *complete = false;
    part_of(ev, hash, owner, p, sizeof p);
    *received = stat(p, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    return 0;
}

/* The last byte arrived: the part becomes the file only if its hash is the
 * name it claims. */
static int finish(cpm_evidence_t *ev, const uint8_t *hash, uint64_t size, int fd, const char *part,
                  cpm_error_t *err)
{
    uint8_t got[CPM_EVIDENCE_HASH_LEN];
    uint64_t got_size = 0;
    int rc = lseek(fd, 0, SEEK_SET) == 0 ? hash_fd(fd, got, &got_size, err) : CPM_E_STORE_IO;
    if (rc != 0)
        return rc;
    if (got_size != size || sodium_memcmp(got, hash, sizeof got) != 0) {
        unlink(part);
        ev->used -= got_size <= ev->used ? got_size : ev->used;
        char hex[65];
        cpm_evidence_hex(hash, hex);
        return cpm_error_set(err, CPM_E_INVALID, "blake2b",
                             "the %llu bytes received do not hash to %s; they were discarded",
                             (unsigned long long)got_size, hex);
    }
    char dst[1200];
    path_of(ev, hash, "", dst, sizeof dst);
    struct stat sb;
    if (stat(dst, &sb) == 0) { /* another uploader finished the same bytes first */
        unlink(part);
        ev->used -= got_size <= ev->used ? got_size : ev->used;
        return 0;
    }
    if (rename(part, dst) != 0)
        return cpm_error_set(err, CPM_E_STORE_IO, "evidence", "rename: %s", strerror(errno));
    sync_dir(ev);
    return 0;
}

/* A part that holds the whole file (or more) but was never checked: the
 * process stopped between the last write and the check. Check it now; one
 * longer than the file cannot be right and is dropped. */
static int recover(cpm_evidence_t *ev, const uint8_t *hash, const char *owner, uint64_t size,
                   uint64_t *received, bool *complete, cpm_error_t *err)
{
    char part[1200];
    part_of(ev, hash, owner, part, sizeof part);
    if (*received > size) {
        unlink(part);
        ev->used -= *received <= ev->used ? *received : ev->used;
        *received = 0;
        return 0;
    }
    int fd = open(part, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cpm_error_set(err, CPM_E_STORE_IO, "evidence", "cannot open %s: %s", part,
                             strerror(errno));
    int rc = fsync(fd) == 0 ? finish(ev, hash, size, fd, part, err) : CPM_E_STORE_IO;
    close(fd);
    if (rc == 0)
        *complete = true;
    else
        *received = 0;
    return rc;
}

/* owner starts a part: if it already has CPM_EVIDENCE_PARTS_PER_OWNER, its
 * oldest is dropped (an upload it gave up on), so one uploader's unfinished
 * bytes stay bounded and a device that abandoned uploads is never stuck. */
static void make_room_for(cpm_evidence_t *ev, const char *owner)
{
    char mine[1200], suffix[40];
    static const uint8_t zero[CPM_EVIDENCE_HASH_LEN];
    part_of(ev, zero, owner, mine, sizeof mine);
    snprintf(suffix, sizeof suffix, "%s", mine + strlen(ev->dir) + 1 + 64);
    DIR *d = opendir(ev->dir);
    if (!d)
        return;
    char oldest[300] = "";
    time_t oldest_t = 0;
    off_t oldest_size = 0;
    int n = 0;
    struct dirent *e;
    struct stat sb;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len != 64 + strlen(suffix) || strcmp(e->d_name + 64, suffix) != 0 ||
            !own_name(e->d_name) || fstatat(dirfd(d), e->d_name, &sb, 0) != 0)
            continue;
        n++;
        if (!*oldest || sb.st_mtime < oldest_t) {
            snprintf(oldest, sizeof oldest, "%s", e->d_name);
            oldest_t = sb.st_mtime;
            oldest_size = sb.st_size;
        }
    }
    if (n >= CPM_EVIDENCE_PARTS_PER_OWNER && unlinkat(dirfd(d), oldest, 0) == 0)
        ev->used -= (uint64_t)oldest_size <= ev->used ? (uint64_t)oldest_size : ev->used;
    closedir(d);
}

int cpm_evidence_append(cpm_evidence_t *ev, const uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                        uint64_t size, uint64_t offset, const uint8_t *data, size_t len,
                        uint64_t *received, bool *complete, cpm_error_t *err)
{
    return cpm_evidence_append_as(ev, hash, NULL, size, offset, data, len, received, complete, err);
}

int cpm_evidence_append_as(cpm_evidence_t *ev, const uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                           const char *owner, uint64_t size, uint64_t offset, const uint8_t *data,
                           size_t len, uint64_t *received, bool *complete, cpm_error_t *err)
{
    if (size == 0 || size > CPM_EVIDENCE_MAX_FILE)
        return cpm_error_set(err, CPM_E_INVALID, "size", "size must be 1..%llu bytes",
                             (unsigned long long)CPM_EVIDENCE_MAX_FILE);
    if (len > CPM_EVIDENCE_CHUNK)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "data", "a chunk holds at most %u bytes",
                             CPM_EVIDENCE_CHUNK);
    int rc = cpm_evidence_status_as(ev, hash, owner, received, complete, err);
    if (rc == 0 && !*complete && *received >= size)
        return recover(ev, hash, owner, size, received, complete, err);
    if (rc != 0 || *complete || offset != *received || len == 0)
        return rc; /* the status tells the sender where to resume */
    if (offset + len > size)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "data",
                             "offset %llu + %zu bytes passes the declared size %llu",
                             (unsigned long long)offset, len, (unsigned long long)size);
    if (offset == 0 && owner && *owner)
        make_room_for(ev, owner);
    if ((offset == 0 && ev->used + size > ev->max_bytes) || ev->used + len > ev->max_bytes)
        return cpm_error_set(err, CPM_E_STORE_FULL, "evidence",
                             "the evidence folder would pass its limit of %llu bytes",
                             (unsigned long long)ev->max_bytes);
    char part[1200];
    part_of(ev, hash, owner, part, sizeof part);
    int fd = open(part, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return cpm_error_set(err, CPM_E_STORE_IO, "evidence", "cannot open %s: %s", part,
                             strerror(errno));
    /* fsync every CPM_EVIDENCE_SYNC_EVERY bytes and at the end, not per
     * chunk: a part that lost its unsynced tail in a power cut only makes
     * the sender resume earlier (it always asks for received first), and
     * the hash check on the last byte catches anything else. */
    uint64_t end = offset + len;
    bool sync_now =
        end == size || offset / CPM_EVIDENCE_SYNC_EVERY != end / CPM_EVIDENCE_SYNC_EVERY;
    if (write_all(fd, data, len) != 0 || (sync_now && fsync(fd) != 0)) {
        /* Cut back to what was there, so offsets stay exact. */
        int trunc_rc = ftruncate(fd, (off_t)offset);
        close(fd);
        return cpm_error_set(err, CPM_E_STORE_IO, "evidence", "write %s: %s%s", part,
                             strerror(errno), trunc_rc ? " (and could not cut it back)" : "");
    }
    if (offset == 0)
        sync_dir(ev);
    ev->used += len;
    *received = offset + len;
    if (*received == size) {
        rc = finish(ev, hash, size, fd, part, err);
        if (rc == 0)
            *complete = true;
        else
            *received = 0;
    }
    close(fd);
    return rc;
}

int cpm_evidence_read(cpm_evidence_t *ev, const uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                      uint64_t offset, uint8_t *buf, size_t cap, size_t *got, cpm_error_t *err)
{
    char p[1200];
    path_of(ev, hash, "", p, sizeof p);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "blake2b", "no evidence file %s", p);
    size_t total = 0;
    while (total < cap) {
        ssize_t n = pread(fd, buf + total, cap - total, (off_t)(offset + total));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return cpm_error_set(err, CPM_E_STORE_IO, "evidence", "read %s: %s", p,
                                 strerror(errno));
        }
        if (n == 0)
            break;
        total += (size_t)n;
    }
    close(fd);
    *got = total;
    return 0;
}
