/* cpm_merkle: roots against trees computed by hand and against the RFC 6962
 * reference vectors (the same tree hash as RFC 9162 2.1), every path of
 * every leaf for n = 1..70 by both path builders, and refusals of tampered
 * paths, indexes and sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_merkle.h"
#include "cpm_util.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define H CPM_MERKLE_HASH
#define NMAX 70

static uint8_t leaves[NMAX][H];

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    for (int i = 0; i < NMAX; i++) {
        char s[16];
        int n = snprintf(s, sizeof s, "leaf-%d", i);
        cpm_merkle_leaf_hash((const uint8_t *)s, (size_t)n, leaves[i]);
    }
    return 0;
}

static void node(const uint8_t *l, const uint8_t *r, uint8_t out[H])
{
    uint8_t in[65] = {1};
    memcpy(in + 1, l, H);
    memcpy(in + 33, r, H);
    crypto_hash_sha256(out, in, sizeof in);
}

static void test_leaf_hash(void **state)
{
    (void)state;
    uint8_t want[H], got[H], in[7] = {0, 'l', 'e', 'a', 'f', '-', '0'};
    crypto_hash_sha256(want, in, sizeof in);
    assert_memory_equal(leaves[0], want, H);
    /* The empty leaf: SHA-256 of the single byte 0x00. */
    cpm_merkle_leaf_hash(NULL, 0, got);
    crypto_hash_sha256(want, in, 1);
    assert_memory_equal(got, want, H);
}

/* Trees of 1, 2, 3, 5 and 7 leaves written out by hand. */
static void test_small_roots(void **state)
{
    (void)state;
    uint8_t root[H], a[H], b[H], c[H], d[H], want[H];
    assert_int_equal(cpm_merkle_root(leaves, 1, root), 0);
    assert_memory_equal(root, leaves[0], H);
    assert_int_equal(cpm_merkle_root(leaves, 2, root), 0);
    node(leaves[0], leaves[1], want);
    assert_memory_equal(root, want, H);
    assert_int_equal(cpm_merkle_root(leaves, 3, root), 0);
    node(leaves[0], leaves[1], a);
    node(a, leaves[2], want);
    assert_memory_equal(root, want, H);
    assert_int_equal(cpm_merkle_root(leaves, 5, root), 0);
    node(leaves[2], leaves[3], b);
    node(a, b, c);
    node(c, leaves[4], want);
    assert_memory_equal(root, want, H);
    /* 7 = 4 + (2 + 1) */
    assert_int_equal(cpm_merkle_root(leaves, 7, root), 0);
    node(leaves[4], leaves[5], b);
    node(b, leaves[6], d);
    node(c, d, want);
    assert_memory_equal(root, want, H);
    assert_int_equal(cpm_merkle_root(leaves, 0, root), -1);
}

/* The reference inputs and roots of RFC 6962's test data (certificate
 * transparency's merkle_tree_test), whose tree hash RFC 9162 keeps. */
static void test_reference_roots(void **state)
{
    (void)state;
    static const char *const in_hex[8] = {"",
                                          "00",
                                          "10",
                                          "2021",
                                          "3031",
                                          "40414243",
                                          "5051525354555657",
                                          "606162636465666768696a6b6c6d6e6f"};
    static const char *const roots[8] = {
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
    uint8_t lh[8][H], root[H], want[H];
    for (int i = 0; i < 8; i++) {
        uint8_t b[16];
        size_t n = strlen(in_hex[i]) / 2;
        assert_int_equal(cpm_hex_decode(in_hex[i], b, n), 0);
        cpm_merkle_leaf_hash(b, n, lh[i]);
    }
    for (int n = 1; n <= 8; n++) {
        assert_int_equal(cpm_hex_decode(roots[n - 1], want, H), 0);
        assert_int_equal(cpm_merkle_root(lh, (size_t)n, root), 0);
        assert_memory_equal(root, want, H);
        cpm_merkle_tree_t *t = cpm_merkle_tree_new(lh, (size_t)n);
        assert_non_null(t);
        cpm_merkle_tree_root(t, root);
        assert_memory_equal(root, want, H);
        cpm_merkle_tree_destroy(&t);
    }
}

/* Path length RFC 9162 implies for (index, n), by its recursion. */
static size_t path_len(size_t i, size_t n)
{
    if (n <= 1)
        return 0;
    size_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return 1 + (i < k ? path_len(i, k) : path_len(i - k, n - k));
}

static void test_every_path(void **state)
{
    (void)state;
    uint8_t path[CPM_MERKLE_PATH_MAX][H], tpath[CPM_MERKLE_PATH_MAX][H], root[H], troot[H];
    for (size_t n = 1; n <= NMAX; n++) {
        assert_int_equal(cpm_merkle_root(leaves, n, root), 0);
        cpm_merkle_tree_t *t = cpm_merkle_tree_new(leaves, n);
        assert_non_null(t);
        assert_int_equal(cpm_merkle_tree_size(t), n);
        cpm_merkle_tree_root(t, troot);
        assert_memory_equal(root, troot, H);
        for (size_t i = 0; i < n; i++) {
            size_t np = 99, tnp = 99;
            assert_int_equal(cpm_merkle_path(leaves, n, i, path, &np), 0);
            assert_int_equal(cpm_merkle_tree_path(t, i, tpath, &tnp), 0);
            assert_int_equal(np, path_len(i, n));
            assert_int_equal(tnp, np);
            assert_memory_equal(path, tpath, np * H);
            if (cpm_merkle_verify(leaves[i], i, n, path, np, root) != 0)
                fail_msg("n %zu index %zu: its own path does not verify", n, i);
            /* Every hash of the path flipped, one at a time. */
            for (size_t k = 0; k < np; k++) {
                path[k][k % H] ^= 0x80;
                assert_int_equal(cpm_merkle_verify(leaves[i], i, n, path, np, root), -1);
                path[k][k % H] ^= 0x80;
            }
            /* One hash short, one too many, the wrong leaf. */
            if (np)
                assert_int_equal(cpm_merkle_verify(leaves[i], i, n, path, np - 1, root), -1);
            memcpy(path[np], root, H);
            assert_int_equal(cpm_merkle_verify(leaves[i], i, n, path, np + 1, root), -1);
            assert_int_equal(cpm_merkle_verify(leaves[(i + 1) % NMAX], i, n, path, np, root), -1);
            /* The neighbour's index with this leaf's path. */
            if ((i ^ 1) < n)
                assert_int_equal(cpm_merkle_verify(leaves[i], i ^ 1, n, path, np, root), -1);
            /* Sizes: index past the end, 0, and one whose paths are longer. */
            assert_int_equal(cpm_merkle_verify(leaves[i], n, n, path, np, root), -1);
            assert_int_equal(cpm_merkle_verify(leaves[i], i, i, path, np, root), -1);
            assert_int_equal(cpm_merkle_verify(leaves[i], i, 0, path, np, root), -1);
            assert_int_equal(cpm_merkle_verify(leaves[i], i, 2 * n + 1, path, np, root), -1);
            /* Another root. */
            root[0] ^= 1;
            assert_int_equal(cpm_merkle_verify(leaves[i], i, n, path, np, root), -1);
            root[0] ^= 1;
        }
        assert_int_equal(cpm_merkle_path(leaves, n, n, path, &(size_t){0}), -1);
        assert_int_equal(cpm_merkle_tree_path(t, n, path, &(size_t){0}), -1);
        cpm_merkle_tree_destroy(&t);
        cpm_merkle_tree_destroy(&t); /* safe twice */
    }
    assert_null(cpm_merkle_tree_new(leaves, 0));
}

/* A path longer than CPM_MERKLE_PATH_MAX is refused before any hashing,
 * whatever the size claims. */
static void test_path_max(void **state)
{
    (void)state;
    uint8_t path[CPM_MERKLE_PATH_MAX + 1][H] = {{0}}, root[H] = {0};
    assert_int_equal(
        cpm_merkle_verify(leaves[0], 0, UINT64_MAX, path, CPM_MERKLE_PATH_MAX + 1, root), -1);
}

/* cpm_merkle_sha256 is plain SHA-256: libsodium's digest at every length
 * around the block size, and the FIPS 180-2 vector of "abc". */
static void test_sha256_plain(void **state)
{
    (void)state;
    uint8_t buf[300], a[32], b[32];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof buf; len++) {
        cpm_merkle_sha256(buf, len, a);
        crypto_hash_sha256(b, buf, len);
        assert_memory_equal(a, b, 32);
    }
    static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                    0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                    0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    cpm_merkle_sha256((const uint8_t *)"abc", 3, a);
    assert_memory_equal(a, abc, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf_hash),       cmocka_unit_test(test_small_roots),
        cmocka_unit_test(test_reference_roots), cmocka_unit_test(test_every_path),
        cmocka_unit_test(test_path_max),        cmocka_unit_test(test_sha256_plain),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
