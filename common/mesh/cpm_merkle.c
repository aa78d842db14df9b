/* cpm_merkle: RFC 9162 section 2.1 Merkle tree hash and inclusion proofs. */
#include "cpm_merkle.h"

#include <nettle/sha2.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define H CPM_MERKLE_HASH

void cpm_merkle_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[H])
{
    static const uint8_t prefix = 0x00;
    struct sha256_ctx st;
    sha256_init(&st);
    sha256_update(&st, 1, &prefix);
    if (len)
        sha256_update(&st, len, leaf);
    sha256_digest(&st, H, out);
}

void cpm_merkle_sha256(const uint8_t *data, size_t len, uint8_t out[H])
{
    struct sha256_ctx st;
    sha256_init(&st);
    if (len)
        sha256_update(&st, len, data);
    sha256_digest(&st, H, out);
}

/* SHA-256(0x01 || left || right); out may alias either input. */
static void node_hash(const uint8_t left[H], const uint8_t right[H], uint8_t out[H])
{
    uint8_t in[1 + 2 * H];
    in[0] = 0x01;
    memcpy(in + 1, left, H);
    memcpy(in + 1 + H, right, H);
    struct sha256_ctx st;
    sha256_init(&st);
    sha256_update(&st, sizeof in, in);
    sha256_digest(&st, H, out);
}

/* The largest power of two below n (n >= 2): where RFC 9162 splits. */
static size_t split_of(size_t n)
{
    size_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

/* MTH(D[0:n]), n >= 1: the recursion of RFC 9162 2.1.1, log n deep. */
static void mth(const uint8_t (*leaves)[H], size_t n, uint8_t out[H])
{
    if (n == 1) {
        memcpy(out, leaves[0], H);
        return;
    }
    size_t k = split_of(n);
    uint8_t left[H], right[H];
    mth(leaves, k, left);
    mth(leaves + k, n - k, right);
    node_hash(left, right, out);
}

int cpm_merkle_root(const uint8_t (*leaves)[H], size_t n, uint8_t root[H])
{
    if (!leaves || n == 0 || !root)
        return -1;
    mth(leaves, n, root);
    return 0;
}

/* PATH(m, D[0:n]) of RFC 9162 2.1.3.1, appended leaf to root: the deeper
 * siblings first, so the recursion writes before appending its own. */
static void path_of(const uint8_t (*leaves)[H], size_t n, size_t m, uint8_t (*path)[H], size_t *np)
{
    if (n == 1)
        return;
    size_t k = split_of(n);
    if (m < k) {
        path_of(leaves, k, m, path, np);
        mth(leaves + k, n - k, path[(*np)++]);
    } else {
        path_of(leaves + k, n - k, m - k, path, np);
        mth(leaves, k, path[(*np)++]);
    }
}

int cpm_merkle_path(const uint8_t (*leaves)[H], size_t n, size_t index,
                    uint8_t path[CPM_MERKLE_PATH_MAX][H], size_t *npath)
{
    if (!leaves || !path || !npath || index >= n || (uint64_t)n > (1ull << CPM_MERKLE_PATH_MAX))
        return -1;
    *npath = 0;
    path_of(leaves, n, index, path, npath);
    return 0;
}

/* RFC 9162 2.1.3.2, step by step; the loop also rejects a path that is too
 * long (sn reaches 0 early) or too short (sn is not 0 at the end). */
int cpm_merkle_verify(const uint8_t leaf_hash[H], uint64_t index, uint64_t n,
                      const uint8_t (*path)[H], size_t npath, const uint8_t root[H])
{
    if (!leaf_hash || !root || (npath && !path) || index >= n || npath > CPM_MERKLE_PATH_MAX)
        return -1;
    uint64_t fn = index, sn = n - 1;
    uint8_t r[H];
    memcpy(r, leaf_hash, H);
    for (size_t i = 0; i < npath; i++) {
        if (sn == 0)
            return -1;
        if ((fn & 1) || fn == sn) {
            node_hash(path[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            node_hash(r, path[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return -1;
    return sodium_memcmp(r, root, H) == 0 ? 0 : -1;
}

/* ---- the whole tree, level by level ---- */

/* Level 0 holds the leaves; level j+1 pairs level j's nodes, a last node
 * without a partner moving up unchanged. That is RFC 9162's tree: its
 * split at the largest power of two puts every full pair on the left. */
struct cpm_merkle_tree {
    size_t n;
    unsigned nlevels;
    size_t off[CPM_MERKLE_PATH_MAX + 1]; /* first node of each level */
    size_t cnt[CPM_MERKLE_PATH_MAX + 1]; /* nodes of each level */
    uint8_t (*nodes)[H];
};

cpm_merkle_tree_t *cpm_merkle_tree_new(const uint8_t (*leaves)[H], size_t n)
{
    if (!leaves || n == 0 || (uint64_t)n > (1ull << CPM_MERKLE_PATH_MAX))
        return NULL;
    cpm_merkle_tree_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    size_t total = 0, c = n;
    unsigned l = 0;
    for (;;) {
        t->off[l] = total;
        t->cnt[l] = c;
        total += c;
        if (c == 1)
            break;
        c = (c + 1) / 2;
        l++;
    }
    t->nlevels = l + 1;
    t->n = n;
    t->nodes = malloc(total * sizeof *t->nodes);
    if (!t->nodes) {
        free(t);
        return NULL;
    }
    memcpy(t->nodes, leaves, n * sizeof *t->nodes);
    for (unsigned j = 0; j + 1 < t->nlevels; j++) {
        const uint8_t(*src)[H] = t->nodes + t->off[j];
        uint8_t(*dst)[H] = t->nodes + t->off[j + 1];
        size_t i = 0;
        for (; i + 1 < t->cnt[j]; i += 2)
            node_hash(src[i], src[i + 1], dst[i / 2]);
        if (i < t->cnt[j])
            memcpy(dst[i / 2], src[i], H);
    }
    return t;
}

void cpm_merkle_tree_destroy(cpm_merkle_tree_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->nodes);
    free(*p);
    *p = NULL;
}

size_t cpm_merkle_tree_size(const cpm_merkle_tree_t *t)
{
    return t ? t->n : 0;
}

void cpm_merkle_tree_root(const cpm_merkle_tree_t *t, uint8_t root[H])
{
    memcpy(root, t->nodes[t->off[t->nlevels - 1]], H);
}

int cpm_merkle_tree_path(const cpm_merkle_tree_t *t, size_t index,
                         uint8_t path[CPM_MERKLE_PATH_MAX][H], size_t *npath)
{
    if (!t || !path || !npath || index >= t->n)
        return -1;
    size_t np = 0, i = index;
    for (unsigned j = 0; j + 1 < t->nlevels; j++, i >>= 1) {
        size_t sib = i ^ 1;
        if (sib < t->cnt[j]) /* a lone last node has no sibling here */
            memcpy(path[np++], t->nodes[t->off[j] + sib], H);
    }
    *npath = np;
    return 0;
}
