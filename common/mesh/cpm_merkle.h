/* cpm_merkle: the Merkle tree hash of RFC 9162 section 2.1 over SHA-256
 * (nettle, which uses the CPU's SHA instructions; libsodium's portable
 * SHA-256 was most of the cost of opening a receipt), and its inclusion proofs.
 *
 *   leaf hash  = SHA-256(0x00 || leaf bytes)
 *   node hash  = SHA-256(0x01 || left || right)
 *   MTH of n leaves: the leaf hash for n = 1; for n > 1 split at k, the
 *   largest power of two < n: SHA-256(0x01 || MTH(first k) || MTH(rest)).
 *
 * A group receipt (cpm_receipt) signs one root for every reply of a group
 * commit; each reply carries its audit path. Pure functions: no allocation
 * but where said, no global state, thread-safe. */
#ifndef CPM_MERKLE_H
#define CPM_MERKLE_H

#include "cpm_err.h"

#include <stddef.h>
#include <stdint.h>

#define CPM_MERKLE_HASH 32
/* Deepest path accepted: trees of up to 2^32 leaves. */
#define CPM_MERKLE_PATH_MAX 32

void cpm_merkle_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[CPM_MERKLE_HASH]);
/* Plain SHA-256 of len bytes (a request's hash, as receipts name it): the
 * same digest as crypto_hash_sha256, with the CPU's SHA instructions. */
void cpm_merkle_sha256(const uint8_t *data, size_t len, uint8_t out[CPM_MERKLE_HASH]);

/* Root of n >= 1 leaf hashes (leaves[i] is 32 bytes). 0, or -1 when n is 0
 * or out of memory. O(n) time, O(log n) stack. */
CPM_MUST_CHECK int cpm_merkle_root(const uint8_t (*leaves)[CPM_MERKLE_HASH], size_t n,
                                   uint8_t root[CPM_MERKLE_HASH]);

/* Audit path of leaf index in a tree of n leaves: *npath hashes (at most
 * CPM_MERKLE_PATH_MAX) written to path, leaf to root. 0, or -1 when
 * index >= n. */
CPM_MUST_CHECK int cpm_merkle_path(const uint8_t (*leaves)[CPM_MERKLE_HASH], size_t n, size_t index,
                                   uint8_t path[CPM_MERKLE_PATH_MAX][CPM_MERKLE_HASH],
                                   size_t *npath);

/* 0 when leaf_hash at index of a tree of size n, with path (npath hashes),
 * gives root (RFC 9162 2.1.3.2); -1 otherwise, also for index >= n or a
 * path of the wrong length for (index, n). */
CPM_MUST_CHECK int cpm_merkle_verify(const uint8_t leaf_hash[CPM_MERKLE_HASH], uint64_t index,
                                     uint64_t n, const uint8_t (*path)[CPM_MERKLE_HASH],
                                     size_t npath, const uint8_t root[CPM_MERKLE_HASH]);

/* Every level of the tree at once, for a server that needs the path of
 * every leaf of a large group: O(n) hashes and memory once, then O(log n)
 * per path, where cpm_merkle_path costs O(n) per call. Same tree, same
 * paths (test_merkle compares them). */
typedef struct cpm_merkle_tree cpm_merkle_tree_t;

/* The tree of n >= 1 leaf hashes (copied). NULL when n is 0, n is above
 * 2^32 or out of memory. */
CPM_MUST_CHECK cpm_merkle_tree_t *cpm_merkle_tree_new(const uint8_t (*leaves)[CPM_MERKLE_HASH],
                                                      size_t n);
void cpm_merkle_tree_destroy(cpm_merkle_tree_t **p);
size_t cpm_merkle_tree_size(const cpm_merkle_tree_t *t);
void cpm_merkle_tree_root(const cpm_merkle_tree_t *t, uint8_t root[CPM_MERKLE_HASH]);
/* As cpm_merkle_path. 0, or -1 when index >= size. */
CPM_MUST_CHECK int cpm_merkle_tree_path(const cpm_merkle_tree_t *t, size_t index,
                                        uint8_t path[CPM_MERKLE_PATH_MAX][CPM_MERKLE_HASH],
                                        size_t *npath);

#endif
