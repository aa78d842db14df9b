/* cpm_receipt: the server's side of group receipts (the leaves of a group,
 * the one seal, each connection's frame) and the frame's fixed layout. The
 * readers (client, third party) are in cpm_receipt_open.c. */
#include "cpm_receipt.h"
#include "cpm_receipt_int.h"

#include "cpm_pbcheck.h"

#include <stdlib.h>
#include <string.h>

#define H CPM_MERKLE_HASH
#define FIELD3_TAG 0x1a /* field 3, length-delimited */

struct cpm_rgroup {
    /* Serialized ReceiptLeaf bytes side by side; leaf i is
     * bytes[off[i] .. off[i + 1]). Kept across groups (reset keeps memory). */
    uint8_t *bytes;
    size_t used, cap;
    size_t *off; /* n + 1 entries */
    size_t ocap;
    uint8_t (*hash)[H];
    size_t n, hcap;
    cpm_merkle_tree_t *tree; /* set by seal */
    uint8_t *sealed;         /* the signed GroupRoot (a SignedEnvelope) */
    size_t sealed_len;
};

int cpm_receipt_frame_alloc(const uint8_t *prefix, size_t prefix_len, size_t proofs_len,
                            uint8_t **out, size_t *out_len, uint8_t **proofs_at)
{
    size_t n = prefix_len + 1 + cpm_pb_varint_len(proofs_len) + proofs_len;
    if (n > CPM_MAX_MSG)
        return -1;
    uint8_t *b = malloc(n);
    if (!b)
        return -1;
    memcpy(b, prefix, prefix_len);
    uint8_t *p = b + prefix_len;
    *p++ = FIELD3_TAG;
    *proofs_at = cpm_pb_put_varint(p, proofs_len);
    *out = b;
    *out_len = n;
    return 0;
}

int cpm_receipt_parse_frame(const uint8_t *buf, size_t len, cpm_slice_t *envelope,
                            cpm_slice_t *signature, cpm_slice_t *proofs, size_t *signed_len)
{
    *envelope = *signature = *proofs = (cpm_slice_t){NULL, 0};
    *signed_len = len;
    if (len == 0)
        return 0;
    if (!buf)
        return -1;
    cpm_slice_t *const slots[4] = {NULL, envelope, signature, proofs};
    const uint8_t *p = buf, *end = buf + len;
    uint32_t last = 0;
    cpm_pb_field_t f;
    int r;
    for (;;) {
        const uint8_t *at = p;
        if ((r = cpm_pb_next(&p, end, &f)) != 1)
            break;
        /* Strictly increasing numbers: 1, 2, 3 in order, each at most once,
         * so everything before field 3 is the signed envelope. */
        if (f.number > 3 || f.number <= last || f.wire_type != 2)
            return -1;
        last = f.number;
        if (f.number == 3)
            *signed_len = (size_t)(at - buf);
        *slots[f.number] = (cpm_slice_t){f.data, f.len};
    }
    return r == 0 ? 0 : -1;
}

/* ---- server ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

cpm_rgroup_t *cpm_rgroup_new(void)
{
    cpm_rgroup_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    if (grow((void **)&g->off, &g->ocap, 1, sizeof *g->off) != 0) {
        free(g);
        return NULL;
    }
    g->off[0] = 0;
    return g;
}

void cpm_rgroup_reset(cpm_rgroup_t *g)
{
    if (!g)
        return;
    g->n = 0;
    g->used = 0;
    g->off[0] = 0;
    cpm_merkle_tree_destroy(&g->tree);
    free(g->sealed);
    g->sealed = NULL;
    g->sealed_len = 0;
}

void cpm_rgroup_destroy(cpm_rgroup_t **p)
{
    if (!p || !*p)
        return;
    cpm_rgroup_reset(*p);
    free((*p)->bytes);
    free((*p)->off);
    free((*p)->hash);
    free(*p);
    *p = NULL;
}

size_t cpm_rgroup_size(const cpm_rgroup_t *g)
{
    return g ? g->n : 0;
}

long cpm_rgroup_add(cpm_rgroup_t *g, const char *recipient, const char *correlation_id,
                    uint32_t item, Cpm__MsgType type, const uint8_t *payload, size_t len,
                    const uint8_t item_hash[H])
{
    /* A sealed group is closed: its root is signed already. */
    if (!g || g->sealed || g->n >= CPM_RECEIPT_LEAVES_MAX || !recipient || !correlation_id ||
        !item_hash || (len && !payload))
        return -1;
    Cpm__ReceiptLeaf l = CPM__RECEIPT_LEAF__INIT;
    l.recipient = (char *)recipient;
    l.correlation_id = (char *)correlation_id;
    l.item = item;
    l.type = type;
    l.payload = (ProtobufCBinaryData){len, (uint8_t *)payload};
    l.item_hash = (ProtobufCBinaryData){H, (uint8_t *)item_hash};
    size_t sz = cpm__receipt_leaf__get_packed_size(&l);
    if (sz > CPM_MAX_MSG || grow((void **)&g->bytes, &g->cap, g->used + sz, 1) != 0 ||
        grow((void **)&g->hash, &g->hcap, g->n + 1, H) != 0 ||
        grow((void **)&g->off, &g->ocap, g->n + 2, sizeof *g->off) != 0)
        return -1;
    uint8_t *at = g->bytes + g->used;
    cpm__receipt_leaf__pack(&l, at);
    cpm_merkle_leaf_hash(at, sz, g->hash[g->n]);
    g->used += sz;
    g->off[++g->n] = g->used;
    return (long)(g->n - 1);
}

/* The group's root over its tree, signed into a fresh envelope (*sealed,
 * malloc'd): the GroupRoot that seal and reseal both sign. */
static int sign_root(const cpm_rgroup_t *g, cpm_sender_t *sender, int64_t committed_ms,
                     uint8_t **sealed, size_t *sealed_len)
{
    uint8_t root[H];
    cpm_merkle_tree_root(g->tree, root);
    Cpm__GroupRoot gr = CPM__GROUP_ROOT__INIT;
    gr.root = (ProtobufCBinaryData){H, root};
    gr.size = g->n;
    gr.committed_ms = committed_ms;
    uint8_t buf[96]; /* 2 + 32 + 1 + 10 + 1 + 10 bytes at most */
    size_t blen = cpm__group_root__pack(&gr, buf);
    return cpm_sender_seal_raw(sender, CPM__MSG_TYPE__MSG_GROUP_RECEIPT, "*", NULL, buf, blen, NULL,
                               sealed, sealed_len);
}

int cpm_rgroup_seal(cpm_rgroup_t *g, cpm_sender_t *sender, int64_t committed_ms)
{
    if (!g || !sender || g->n == 0 || g->sealed)
        return -1;
    g->tree = cpm_merkle_tree_new((const uint8_t(*)[H])g->hash, g->n);
    if (!g->tree)
        return -1;
    if (sign_root(g, sender, committed_ms, &g->sealed, &g->sealed_len) != 0) {
        g->sealed = NULL;
        cpm_merkle_tree_destroy(&g->tree);
        return -1;
    }
    return 0;
}

int cpm_rgroup_reseal(cpm_rgroup_t *g, cpm_sender_t *sender, int64_t committed_ms)
{
    if (!g || !sender || !g->sealed || !g->tree)
        return -1;
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    if (sign_root(g, sender, committed_ms, &sealed, &sealed_len) != 0)
        return -1;
    free(g->sealed);
    g->sealed = sealed;
    g->sealed_len = sealed_len;
    return 0;
}

/* One ReceiptProof of leaf i packed into out (NULL: only measure). */
static size_t pack_proof(const cpm_rgroup_t *g, size_t i, uint8_t *out)
{
    uint8_t path[CPM_MERKLE_PATH_MAX][H];
    size_t np = 0;
    if (cpm_merkle_tree_path(g->tree, i, path, &np) != 0)
        return 0; /* i < n was checked; never happens */
    ProtobufCBinaryData pd[CPM_MERKLE_PATH_MAX];
    for (size_t k = 0; k < np; k++)
        pd[k] = (ProtobufCBinaryData){H, path[k]};
    Cpm__ReceiptProof p = CPM__RECEIPT_PROOF__INIT;
    p.leaf = (ProtobufCBinaryData){g->off[i + 1] - g->off[i], g->bytes + g->off[i]};
    p.index = i;
    p.path = pd;
    p.n_path = np;
    return out ? cpm__receipt_proof__pack(&p, out) : cpm__receipt_proof__get_packed_size(&p);
}

int cpm_rgroup_frame_size(const cpm_rgroup_t *g, const size_t *idx, size_t n, size_t *proofs_len,
                          size_t *prefix_len)
{
    if (!g || !g->sealed || n == 0 || !idx)
        return -1;
    /* The size of ReceiptProofs (field 1 repeated), checking that the
     * indexes are the group's, in increasing order as the client wants. */
    size_t total = 0;
    for (size_t k = 0; k < n; k++) {
        if (idx[k] >= g->n || (k && idx[k] <= idx[k - 1]))
            return -1;
        size_t sz = pack_proof(g, idx[k], NULL);
        total += 1 + cpm_pb_varint_len(sz) + sz;
        if (total > CPM_MAX_MSG)
            return -1;
    }
    /* the frame's bound too, as cpm_receipt_frame_alloc's */
    if (g->sealed_len + 1 + cpm_pb_varint_len(total) + total > CPM_MAX_MSG)
        return -1;
    *proofs_len = total;
    *prefix_len = g->sealed_len;
    return 0;
}

int cpm_rgroup_frame(const cpm_rgroup_t *g, const size_t *idx, size_t n, uint8_t **out,
                     size_t *out_len)
{
    size_t total = 0, prefix = 0;
    if (!out || !out_len || cpm_rgroup_frame_size(g, idx, n, &total, &prefix) != 0)
        return -1;
    uint8_t *buf = NULL, *p = NULL;
    if (cpm_receipt_frame_alloc(g->sealed, g->sealed_len, total, &buf, out_len, &p) != 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        size_t sz = pack_proof(g, idx[k], NULL);
        *p++ = 0x0a; /* ReceiptProofs.proofs, field 1 */
        p = cpm_pb_put_varint(p, sz);
        p += pack_proof(g, idx[k], p);
    }
    *out = buf;
    return 0;
}
