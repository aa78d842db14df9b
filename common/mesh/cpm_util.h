/* cpm_util: clocks, identifiers and hex, used everywhere. */
#ifndef CPM_UTIL_H
#define CPM_UTIL_H

#include "cpm_err.h"

#include <stddef.h>
#include <stdint.h>

/* The only "now" of services and tools: the wall clock plus the test offset
 * of cpm_clock (0 unless CPM_CLOCK_OFFSET_FILE is set). */
int64_t cpm_now_ms(void);  /* wall clock, Unix milliseconds */
int64_t cpm_now_us(void);  /* wall clock, Unix microseconds */
int64_t cpm_mono_ms(void); /* monotonic clock, for timeouts */
int64_t cpm_mono_us(void); /* the same in microseconds */

/* 32 lowercase hex chars of randomness, NUL-terminated (out has 33 bytes). */
void cpm_random_id(char out[33]);
/* 32 hex digits that sort by time: now_ms as 12 (big-endian), then 80
 * random bits. For client references: intake keeps them in key order per
 * sender, so time-ordered ones are appended where the last ones were, and a
 * large store's index stays where the page cache has it (random ones
 * scatter each insert over the whole tree). */
void cpm_time_ordered_id(char out[33], int64_t now_ms);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void cpm_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decode exactly outlen bytes from a hex string; 0 or -1. */
CPM_MUST_CHECK int cpm_hex_decode(const char *hex, uint8_t *out, size_t outlen);

/* src copied into dst (cap bytes), cut short to fit and always ended by a
 * zero byte when cap > 0, as snprintf(dst, cap, "%s", src) does, without
 * the format's parsing (on hot paths). Returns strlen(src): cut when >= cap. */
size_t cpm_str_copy(char *dst, size_t cap, const char *src);
/* "prefix" then v in decimal, zero-padded to at least width digits, into
 * dst (cap bytes), as snprintf(dst, cap, "%s%0*llu", ...); returns the
 * length it would have (cut when >= cap). */
size_t cpm_str_num(char *dst, size_t cap, const char *prefix, uint64_t v, int width);

/* Big-endian u64 for LMDB keys that sort by number. */
void cpm_put_be64(uint8_t out[8], uint64_t v);
uint64_t cpm_get_be64(const uint8_t in[8]);

/* Read a whole file (max bytes); caller frees *buf. 0 or -1 (errno set). */
CPM_MUST_CHECK int cpm_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);
/* Write a file atomically and durably with the given mode: a new temporary
 * file with an unpredictable name in the same folder (O_EXCL, O_NOFOLLOW: a
 * planted symlink is never followed), fsync, rename over path (a symlink at
 * path is replaced, not followed), fsync of the folder. The one way the
 * project writes a file. 0 or -1 (errno set). */
CPM_MUST_CHECK int cpm_write_file(const char *path, const void *buf, size_t len, int mode);
/* fsync a folder: a file made, renamed or removed in it stays so after a
 * power cut. 0 or -1 (errno set). */
CPM_MUST_CHECK int cpm_sync_dir(const char *dir);
/* mkdir -p with mode; 0 or -1. */
CPM_MUST_CHECK int cpm_mkdirs(const char *path, int mode);

/* printf into err (when err is not NULL and errlen > 0): the one-sentence
 * error buffers of the loaders. */
void cpm_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ISO 8601 UTC time of ms into out (at least 25 bytes). */
void cpm_format_time(int64_t ms, char *out, size_t n);
/* The same as people in Vietnam read it: "2026-03-15 16:00:00 +07"
 * (Asia/Ho_Chi_Minh, UTC+7 all year). */
void cpm_format_time_vn(int64_t ms, char *out, size_t n);

#endif
