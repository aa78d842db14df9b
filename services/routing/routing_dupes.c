/* routing_dupes: see routing_dupes.h. */
#include "routing_dupes.h"
#include "cpm_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>
#include <unistr.h>

#define BIZ_MAX 256 /* bytes of a normalised business name kept */

static int64_t window_ms = 30LL * 86400 * 1000;

void routing_dupes_set_window(int64_t ms)
{
    if (ms > 0)
        window_ms = ms;
}

bool routing_business_norm(const char *name, char *out, size_t n)
{
    size_t len = 0, k = 0;
    out[0] = 0;
    if (!name || !*name || n < 2)
        return false;
    /* Decomposed, so that the marks fall away: "Phở" and "Pho" are one name. */
    uint8_t *d = u8_normalize(UNINORM_NFD, (const uint8_t *)name, strlen(name), NULL, &len);
    if (!d)
        return false;
    bool space = false;
    for (size_t i = 0; i < len && k + 2 < n;) {
        ucs4_t ch;
        int l = u8_mbtouc(&ch, d + i, len - i);
        i += l > 0 ? (size_t)l : 1;
        if (ch == 0x0111 || ch == 0x0110) /* đ, Đ: a letter of its own, not d + mark */
            ch = 'd';
        if (ch >= 'A' && ch <= 'Z')
            ch = ch - 'A' + 'a';
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
            if (space && k > 0)
                out[k++] = ' ';
            out[k++] = (char)ch;
            space = false;
        } else if (ch < 0x0300 || ch > 0x036f) { /* anything but a combining mark separates */
            space = true;
        }
    }
    out[k] = 0;
    free(d);
    return k > 0;
}

/* hex of the 16-byte hash of "<area>\x1f<name>" into out[33]. */
static void business_id(const char *area, const char *norm, char out[33])
{
    uint8_t h[16];
    crypto_generichash_state s;
    crypto_generichash_init(&s, NULL, 0, sizeof h);
    crypto_generichash_update(&s, (const uint8_t *)area, strlen(area));
    crypto_generichash_update(&s, (const uint8_t *)"\x1f", 1);
    crypto_generichash_update(&s, (const uint8_t *)norm, strlen(norm));
    crypto_generichash_final(&s, h, sizeof h);
    cpm_hex_encode(h, sizeof h, out);
}

/* Count the complaint in its cluster (a new consumer when fresh). */
static int count(cpm_store_t *st, MDB_txn *txn, const char *bid, const char *norm,
                 const Cpm__Complaint *c, bool fresh)
{
    ProtobufCMessage *m = NULL;
    int rc = cpm_store_get_msg(st, txn, ROUTING_CLUSTERS_DB, bid, &cpm__cluster__descriptor, &m);
    if (rc != 0 && rc != CPM_E_NOT_FOUND && rc != CPM_E_BAD_MESSAGE)
        return rc;
    Cpm__Cluster fresh_cl = CPM__CLUSTER__INIT, *cl = rc == 0 ? (Cpm__Cluster *)m : &fresh_cl;
    if (cl == &fresh_cl) {
        cl->business = (char *)norm;
        cl->area = c->area;
        cl->first_ticket = c->ticket;
    }
    cl->cases++;
    cl->consumers += fresh;
    if (c->received_ms > cl->last_ms)
        cl->last_ms = c->received_ms;
    rc = cpm_store_put_msg(st, txn, ROUTING_CLUSTERS_DB, bid, &cl->base);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int routing_dupes_link(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                       const Cpm__Complaint *c, int64_t now_ms, char linked_to[ROUTING_TICKET_MAX])
{
    linked_to[0] = 0;
    char norm[BIZ_MAX], bid[33];
    if (!routing_business_norm(c->business_name, norm, sizeof norm))
        return 0; /* no business named: nothing to link or count */
    business_id(c->area, norm, bid);
    bool keyed = c->consumer_key.len == 32;
    if (!keyed)
        return count(st, txn, bid, norm, c, false);
    char key[33 + 64];
    memcpy(key, bid, 32);
    cpm_hex_encode(c->consumer_key.data, 32, key + 32);
    int64_t at = c->received_ms ? c->received_ms : now_ms;
    const void *v;
    size_t vlen;
    int rc = cpm_store_get(st, txn, ROUTING_DUPES_DB, key, strlen(key), &v, &vlen);
    if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return rc;
    bool seen = rc == 0 && vlen > 8 && vlen < 8 + ROUTING_TICKET_MAX;
    if (seen) {
        int64_t first = (int64_t)cpm_get_be64(v);
        int64_t gap = at > first ? at - first : first - at;
        if (gap <= window_ms)
            snprintf(linked_to, ROUTING_TICKET_MAX, "%.*s", (int)(vlen - 8), (const char *)v + 8);
    }
    if (!*linked_to) { /* the first of a new window: later ones link to it */
        uint8_t val[8 + ROUTING_TICKET_MAX];
        size_t tl = strnlen(c->ticket, ROUTING_TICKET_MAX - 1);
        cpm_put_be64(val, (uint64_t)at);
        memcpy(val + 8, c->ticket, tl);
        if ((rc = cpm_store_put(st, txn, ROUTING_DUPES_DB, key, strlen(key), val, 8 + tl)) != 0)
            return rc;
    }
    if ((rc = count(st, txn, bid, norm, c, !seen)) != 0 || !*linked_to)
        return rc;
    char note[ROUTING_TICKET_MAX + 16];
    snprintf(note, sizeof note, "linked_to=%s", linked_to);
    cpm_event_t ev = {.kind = "case.linked",
                      .ticket = c->ticket,
                      .area = c->area,
                      .category = c->category,
                      .note = note};
    return fx->event(fx->ctx, txn, &ev);
}

static int by_consumers(const void *a, const void *b)
{
    const Cpm__Cluster *x = *(Cpm__Cluster *const *)a, *y = *(Cpm__Cluster *const *)b;
    if (x->consumers != y->consumers)
        return x->consumers > y->consumers ? -1 : 1;
    return x->cases > y->cases ? -1 : x->cases < y->cases;
}

int routing_clusters(cpm_store_t *st, MDB_txn *txn, uint32_t min_consumers, uint32_t max,
                     Cpm__ClustersReply **out)
{
    *out = NULL;
    min_consumers = min_consumers ? min_consumers : 2;
    max = max ? max : 100;
    if (max > ROUTING_CLUSTERS_MAX)
        max = ROUTING_CLUSTERS_MAX;
    Cpm__ClustersReply *r = calloc(1, sizeof *r);
    if (!r)
        return CPM_E_INTERNAL;
    cpm__clusters_reply__init(r);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, cpm_store_dbi(st, ROUTING_CLUSTERS_DB), &cur);
    if (mrc != 0) {
        free(r);
        return cpm_store_err(mrc);
    }
    int rc = 0;
    size_t cap = 0;
    MDB_val k, v;
    /* Keep the best max (plus one, to tell truncation) while scanning. */
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Cpm__Cluster *cl = cpm__cluster__unpack(NULL, v.mv_size, v.mv_data);
        if (!cl || cl->consumers < min_consumers) {
            cpm__cluster__free_unpacked(cl, NULL);
            continue;
        }
        if (r->n_clusters == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            Cpm__Cluster **g = realloc(r->clusters, ncap * sizeof *g);
            if (!g) {
                cpm__cluster__free_unpacked(cl, NULL);
                rc = CPM_E_INTERNAL;
                break;
            }
            r->clusters = g;
            cap = ncap;
        }
        r->clusters[r->n_clusters++] = cl;
        if (r->n_clusters > (size_t)max * 2) { /* bounded memory: drop the weakest */
            qsort(r->clusters, r->n_clusters, sizeof *r->clusters, by_consumers);
            while (r->n_clusters > (size_t)max + 1)
                cpm__cluster__free_unpacked(r->clusters[--r->n_clusters], NULL);
            r->truncated = true;
        }
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = cpm_store_err(mrc);
    if (r->n_clusters > 1)
        qsort(r->clusters, r->n_clusters, sizeof *r->clusters, by_consumers);
    while (r->n_clusters > max) {
        cpm__cluster__free_unpacked(r->clusters[--r->n_clusters], NULL);
        r->truncated = true;
    }
    if (rc != 0) {
        routing_clusters_free(&r);
        return rc;
    }
    *out = r;
    return 0;
}

void routing_clusters_free(Cpm__ClustersReply **r)
{
    if (!r || !*r)
        return;
    for (size_t i = 0; i < (*r)->n_clusters; i++)
        cpm__cluster__free_unpacked((*r)->clusters[i], NULL);
    free((*r)->clusters);
    free(*r);
    *r = NULL;
}
