#include "cpm_util.h"
#include "cpm_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t cpm_now_ms(void)
{
    return cpm_now_us() / 1000;
}

int64_t cpm_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* The one wall clock: a test mesh moves it with an offset file. */
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + cpm_clock_offset_ms() * 1000;
}

int64_t cpm_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cpm_mono_ms(void)
{
    return cpm_mono_us() / 1000;
}

/* Ids come from the system's generator 64 at a time: each draw is a
 * getrandom(2), and a service makes two or three ids per request. Per thread;
 * a forked child forgets what its parent drew, so never repeats its ids. */
static _Thread_local uint8_t id_pool[64 * 16];
static _Thread_local size_t id_pool_left;
static pthread_once_t id_pool_once = PTHREAD_ONCE_INIT;

static void id_pool_forget(void)
{
    id_pool_left = 0;
}

static void id_pool_init(void)
{
    pthread_atfork(NULL, NULL, id_pool_forget);
}

void cpm_random_id(char out[33])
{
    pthread_once(&id_pool_once, id_pool_init);
    if (id_pool_left < 16) {
        randombytes_buf(id_pool, sizeof id_pool);
        id_pool_left = sizeof id_pool;
    }
    uint8_t *b = id_pool + sizeof id_pool - id_pool_left;
    cpm_hex_encode(b, 16, out);
    sodium_memzero(b, 16); /* used: not left in memory */
    id_pool_left -= 16;
}

void cpm_time_ordered_id(char out[33], int64_t now_ms)
{
    uint8_t b[16];
    uint64_t t = now_ms > 0 ? (uint64_t)now_ms : 0;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(t >> (8 * (5 - i)));
    randombytes_buf(b + 6, 10);
    cpm_hex_encode(b, 16, out);
    sodium_memzero(b, sizeof b);
}

void cpm_hex_encode(const uint8_t *in, size_t len, char *out)
{
    sodium_bin2hex(out, 2 * len + 1, in, len);
}

int cpm_hex_decode(const char *hex, uint8_t *out, size_t outlen)
{
    size_t got = 0;
    if (!hex || strlen(hex) != 2 * outlen)
        return -1;
    if (sodium_hex2bin(out, outlen, hex, strlen(hex), NULL, &got, NULL) != 0 || got != outlen)
        return -1;
    return 0;
}

void cpm_put_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

uint64_t cpm_get_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

int cpm_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *b = malloc(max + 1);
    if (!b) {
        fclose(f);
        errno = ENOMEM;
        return -1;
    }
    size_t n = fread(b, 1, max + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err || n > max) {
        free(b);
        errno = err ? EIO : EFBIG;
        return -1;
    }
    b[n] = 0; /* convenient for text files */
    *buf = b;
    *len = n;
    return 0;
}

/* Create a new temporary file next to path, under a name nobody can guess:
 * O_EXCL refuses anything already there, a planted symlink included, and
 * O_NOFOLLOW says so twice. The name goes into tmp. */
static int open_temp(const char *path, int mode, char *tmp, size_t n)
{
    for (int tries = 0; tries < 4; tries++) {
        char rnd[33];
        cpm_random_id(rnd);
        if (snprintf(tmp, n, "%s.%s.tmp", path, rnd) >= (int)n) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd =
            open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)(mode & 0777));
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Make a rename in path's folder durable: the folder's entry is data too. */
int cpm_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int sync_parent(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    return cpm_sync_dir(dir);
}

int cpm_write_file(const char *path, const void *buf, size_t len, int mode)
{
    char tmp[4096];
    int fd = open_temp(path, mode, tmp, sizeof tmp);
    if (fd < 0)
        return -1;
    if (write_all(fd, buf, len) != 0 || fchmod(fd, (mode_t)(mode & 0777)) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return sync_parent(path);
}

int cpm_mkdirs(const char *path, int mode)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

void cpm_format_time(int64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", base, (int)(ms % 1000 + 1000) % 1000);
}

void cpm_format_time_vn(int64_t ms, char *out, size_t n)
{
    /* Vietnam keeps UTC+7 all year (no daylight saving time). */
    time_t s = (time_t)(ms / 1000 + 7 * 3600 - (ms < 0 && ms % 1000 ? 1 : 0));
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S +07", &tm);
}

void cpm_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

size_t cpm_str_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (cap > 0) {
        size_t k = n < cap ? n : cap - 1;
        memcpy(dst, src, k);
        dst[k] = 0;
    }
    return n;
}

size_t cpm_str_num(char *dst, size_t cap, const char *prefix, uint64_t v, int width)
{
    char digits[24];
    int nd = 0;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    char num[48];
    size_t k = 0;
    for (int pad = width > 40 ? 40 : width; pad > nd; pad--)
        num[k++] = '0';
    while (nd > 0)
        num[k++] = digits[--nd];
    num[k] = 0;
    size_t pl = cpm_str_copy(dst, cap, prefix);
    if (pl < cap)
        cpm_str_copy(dst + pl, cap - pl, num);
    return pl + k;
}
