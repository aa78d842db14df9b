/* cpm_evidence: content addressing, dedup, resume at the received offset,
 * the hash check on the last byte, limits. */
#include "cpm_evidence.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

static char dir[256];

static void write_file(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static uint8_t *pattern(size_t n, uint8_t seed)
{
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 31 + seed);
    return b;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cpm-ev-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_import_dedup_and_known_hash(void **state)
{
    (void)state;
    char src[300], evd[300];
    snprintf(src, sizeof src, "%s/photo.jpg", dir);
    snprintf(evd, sizeof evd, "%s/ev", dir);
    write_file(src, (const uint8_t *)"abc", 3);
    cpm_error_t e;
    cpm_evidence_t *ev = cpm_evidence_open(evd, 0, &e);
    assert_non_null(ev);
    uint8_t h[32], want[32];
    uint64_t size = 0;
    bool existed = true;
    assert_int_equal(cpm_evidence_import(ev, src, h, &size, &existed, &e), 0);
    assert_false(existed);
    assert_int_equal(size, 3);
    crypto_generichash(want, 32, (const uint8_t *)"abc", 3, NULL, 0);
    assert_memory_equal(h, want, 32);
    char hex[65];
    cpm_evidence_hex(h, hex);
    /* BLAKE2b-256("abc"), RFC 7693's algorithm with a 32-byte output */
    assert_string_equal(hex, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
    assert_int_equal(cpm_evidence_import(ev, src, h, &size, &existed, &e), 0);
    assert_true(existed);
    assert_int_equal(cpm_evidence_used(ev), 3);
    uint64_t rcv;
    bool complete;
    assert_int_equal(cpm_evidence_status(ev, h, &rcv, &complete, &e), 0);
    assert_true(complete);
    assert_int_equal(rcv, 3);
    uint8_t buf[8];
    size_t got;
    assert_int_equal(cpm_evidence_read(ev, h, 1, buf, sizeof buf, &got, &e), 0);
    assert_int_equal(got, 2);
    assert_memory_equal(buf, "bc", 2);
    char empty[300];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    write_file(empty, (const uint8_t *)"", 0);
    assert_int_equal(cpm_evidence_import(ev, empty, h, &size, &existed, &e), CPM_E_INVALID);
    cpm_evidence_destroy(&ev);
    cpm_evidence_destroy(&ev); /* twice is safe */
}

/* Chunks arrive; the process "dies" (the store is closed and reopened); the
 * sender learns received and resumes from there; a chunk at the wrong offset
 * writes nothing. */
static void test_resume_after_partial_write(void **state)
{
    (void)state;
    char evd[300];
    snprintf(evd, sizeof evd, "%s/resume", dir);
    const size_t n = 3 * 100000 + 17;
    uint8_t *b = pattern(n, 7), h[32];
    crypto_generichash(h, 32, b, n, NULL, 0);
    cpm_error_t e;
    cpm_evidence_t *ev = cpm_evidence_open(evd, 0, &e);
    uint64_t rcv = 0;
    bool complete = false;
    assert_int_equal(cpm_evidence_append(ev, h, n, 0, b, 100000, &rcv, &complete, &e), 0);
    assert_int_equal(rcv, 100000);
    assert_false(complete);
    cpm_evidence_destroy(&ev);

    ev = cpm_evidence_open(evd, 0, &e);
    assert_int_equal(cpm_evidence_used(ev), 100000);
    assert_int_equal(cpm_evidence_status(ev, h, &rcv, &complete, &e), 0);
    assert_int_equal(rcv, 100000);
    /* a repeat of the first chunk (offset 0) writes nothing */
    assert_int_equal(cpm_evidence_append(ev, h, n, 0, b, 100000, &rcv, &complete, &e), 0);
    assert_int_equal(rcv, 100000);
    /* a chunk ahead of what arrived writes nothing either */
    assert_int_equal(cpm_evidence_append(ev, h, n, 200000, b + 200000, 100000, &rcv, &complete, &e),
                     0);
    assert_int_equal(rcv, 100000);
    for (uint64_t off = rcv; off < n;) {
        size_t len = n - off < 100000 ? n - off : 100000;
        assert_int_equal(cpm_evidence_append(ev, h, n, off, b + off, len, &rcv, &complete, &e), 0);
        off = rcv;
    }
    assert_true(complete);
    assert_int_equal(rcv, n);
    char p[1200];
    cpm_evidence_path(ev, h, p, sizeof p);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, n);
    assert_int_equal(cpm_evidence_used(ev), n);
    /* complete: further chunks are answered with the status only */
    assert_int_equal(cpm_evidence_append(ev, h, n, 0, b, 10, &rcv, &complete, &e), 0);
    assert_true(complete);
    cpm_evidence_destroy(&ev);
    free(b);
}

/* The process stopped after the last byte was written but before the check:
 * the next question (an empty chunk) checks and completes it. */
static void test_whole_part_never_checked(void **state)
{
    (void)state;
    char evd[300], part[400], hex[65];
    snprintf(evd, sizeof evd, "%s/unchecked", dir);
    const size_t n = 4000;
    uint8_t *b = pattern(n, 9), h[32];
    crypto_generichash(h, 32, b, n, NULL, 0);
    cpm_error_t e = {0};
    cpm_evidence_t *ev = cpm_evidence_open(evd, 0, &e);
    cpm_evidence_hex(h, hex);
    snprintf(part, sizeof part, "%s/%s.part", evd, hex);
    write_file(part, b, n);
    uint64_t rcv;
    bool complete;
    assert_int_equal(cpm_evidence_status(ev, h, &rcv, &complete, &e), 0);
    assert_int_equal(rcv, n);
    assert_false(complete);
    assert_int_equal(cpm_evidence_append(ev, h, n, 0, NULL, 0, &rcv, &complete, &e), 0);
    assert_true(complete);
    assert_int_equal(rcv, n);
    /* a part longer than its declared size is dropped: start again */
    uint8_t h2[32];
    crypto_generichash(h2, 32, b, 100, NULL, 0);
    cpm_evidence_hex(h2, hex);
    snprintf(part, sizeof part, "%s/%s.part", evd, hex);
    write_file(part, b, 200);
    assert_int_equal(cpm_evidence_append(ev, h2, 100, 0, NULL, 0, &rcv, &complete, &e), 0);
    assert_int_equal(rcv, 0);
    assert_false(complete);
    assert_int_equal(cpm_evidence_append(ev, h2, 100, 0, b, 100, &rcv, &complete, &e), 0);
    assert_true(complete);
    cpm_evidence_destroy(&ev);
    free(b);
}

static void test_bytes_not_matching_hash(void **state)
{
    (void)state;
    char evd[300];
    snprintf(evd, sizeof evd, "%s/bad", dir);
    const size_t n = 5000;
    uint8_t *b = pattern(n, 1), h[32];
    crypto_generichash(h, 32, b, n, NULL, 0);
    b[4000] ^= 1; /* one bit differs from what the hash names */
    cpm_error_t e = {0};
    cpm_evidence_t *ev = cpm_evidence_open(evd, 0, &e);
    uint64_t rcv;
    bool complete;
    assert_int_equal(cpm_evidence_append(ev, h, n, 0, b, 3000, &rcv, &complete, &e), 0);
    assert_int_equal(cpm_evidence_append(ev, h, n, 3000, b + 3000, 2000, &rcv, &complete, &e),
                     CPM_E_INVALID);
    assert_string_equal(e.field, "blake2b");
    assert_false(complete);
    assert_int_equal(cpm_evidence_status(ev, h, &rcv, &complete, &e), 0);
    assert_int_equal(rcv, 0); /* discarded: the next upload starts again */
    assert_false(complete);
    assert_int_equal(cpm_evidence_used(ev), 0);
    cpm_evidence_destroy(&ev);
    free(b);
}

static void test_limits(void **state)
{
    (void)state;
    char evd[300];
    snprintf(evd, sizeof evd, "%s/small", dir);
    uint8_t *b = pattern(4096, 2), h[32];
    crypto_generichash(h, 32, b, 4096, NULL, 0);
    cpm_error_t e = {0};
    cpm_evidence_t *ev = cpm_evidence_open(evd, 1000, &e);
    uint64_t rcv;
    bool complete;
    assert_int_equal(cpm_evidence_append(ev, h, 4096, 0, b, 512, &rcv, &complete, &e),
                     CPM_E_STORE_FULL);
    assert_int_equal(cpm_evidence_append(ev, h, 0, 0, b, 1, &rcv, &complete, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "size");
    assert_int_equal(cpm_evidence_append(ev, h, (64ull << 20) + 1, 0, b, 1, &rcv, &complete, &e),
                     CPM_E_INVALID);
    cpm_evidence_destroy(&ev);
    ev = cpm_evidence_open(evd, 0, &e);
    /* more than the declared size */
    assert_int_equal(cpm_evidence_append(ev, h, 100, 0, b, 101, &rcv, &complete, &e),
                     CPM_E_TOO_LARGE);
    assert_string_equal(e.field, "data");
    cpm_evidence_destroy(&ev);
    free(b);
}

/* Abandoned uploads do not pile up: one uploader keeps at most
 * CPM_EVIDENCE_PARTS_PER_OWNER parts (its oldest is dropped and its bytes
 * freed), and a part untouched for CPM_EVIDENCE_PART_TTL_S is dropped at
 * open. */
static void test_abandoned_parts_bounded(void **state)
{
    (void)state;
    char evd[300];
    snprintf(evd, sizeof evd, "%s/parts", dir);
    cpm_error_t e = {0};
    cpm_evidence_t *ev = cpm_evidence_open(evd, 0, &e);
    assert_non_null(ev);
    enum { K = CPM_EVIDENCE_PARTS_PER_OWNER + 3 };
    uint8_t *b = pattern(100, 9), h[32];
    uint64_t rcv;
    bool complete;
    for (int i = 0; i < K; i++) {
        memset(h, 0, sizeof h);
        h[0] = (uint8_t)(i + 1); /* hashes nobody will ever complete */
        assert_int_equal(
            cpm_evidence_append_as(ev, h, "hostile", 1000, 0, b, 100, &rcv, &complete, &e), 0);
    }
    /* another uploader is unaffected by the hostile one's bound */
    assert_int_equal(cpm_evidence_append_as(ev, h, "honest", 1000, 0, b, 100, &rcv, &complete, &e),
                     0);
    assert_int_equal(cpm_evidence_used(ev), (CPM_EVIDENCE_PARTS_PER_OWNER + 1) * 100);
    cpm_evidence_destroy(&ev);
    ev = cpm_evidence_open(evd, 0, &e);
    assert_int_equal(cpm_evidence_used(ev), (CPM_EVIDENCE_PARTS_PER_OWNER + 1) * 100);
    cpm_evidence_destroy(&ev);
    /* all parts a month old: gone at the next open */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "touch -d '40 days ago' %s/*.part", evd);
    assert_int_equal(system(cmd), 0);
    ev = cpm_evidence_open(evd, 0, &e);
    assert_int_equal(cpm_evidence_used(ev), 0);
    cpm_evidence_destroy(&ev);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_dedup_and_known_hash),
        cmocka_unit_test(test_resume_after_partial_write),
        cmocka_unit_test(test_whole_part_never_checked),
        cmocka_unit_test(test_bytes_not_matching_hash),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_abandoned_parts_bounded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
