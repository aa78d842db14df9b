/* routing_dupes: see routing_dupes.h. */
#include "routing_dupes.h"
#include "cpm_bizkey.h"
#include "cpm_bizname.h"
#include "routing_bizlink.h"
#include "routing_domain.h"
#include "cpm_pbcheck.h"
#include "cpm_util.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t window_ms = 30LL * 86400 * 1000;

void routing_dupes_set_window(int64_t ms)
{
    if (ms > 0)
        window_ms = ms;
}

bool routing_business_norm(const char *name, char *out, size_t n)
{
    /* Decomposed, so that the marks fall away: "Phở" and "Pho" are one name.
     * The forms (Công ty TNHH, Shop) stay: cluster keys made before the
     * exchange's normal form existed keep their value. */
    if (n < 2) {
        if (n)
            out[0] = 0;
        return false;
    }
    return cpm_bizname_fold(name, out, n) > 0;
}

/* StatusReply's agency and area field numbers, from the generated
 * descriptor (found once; 0 when a field is gone, which makes every read
 * decode the whole record). */
static uint32_t f_agency, f_area;
static pthread_once_t fields_once = PTHREAD_ONCE_INIT;

static void fields_init(void)
{
    const ProtobufCFieldDescriptor *a =
        protobuf_c_message_descriptor_get_field_by_name(&cpm__status_reply__descriptor, "agency");
    const ProtobufCFieldDescriptor *r =
        protobuf_c_message_descriptor_get_field_by_name(&cpm__status_reply__descriptor, "area");
    f_agency = a ? a->id : 0;
    f_area = r ? r->id : 0;
}

/* The agency and area of case ticket, read from its stored StatusReply
 * without decoding the rest (its history grows with the case), with the
 * decoder's limits: 0 with both set ("" when absent), CPM_E_NOT_FOUND,
 * CPM_E_TOO_LARGE when the whole record must decide (a field longer than
 * its buffer, or the field numbers unknown), or CPM_E_INTERNAL for a record
 * that is not well-formed wire format (as a failed decode). */
static int case_agency_area(cpm_store_t *st, MDB_txn *txn, const char *ticket, char *agency,
                            size_t na, char *area, size_t nr)
{
    pthread_once(&fields_once, fields_init);
    if (!f_agency || !f_area)
        return CPM_E_TOO_LARGE;
    const void *v;
    size_t vlen;
    int rc = cpm_store_get(st, txn, ROUTING_CASES_DB, ticket, strlen(ticket), &v, &vlen);
    if (rc != 0)
        return rc;
    agency[0] = area[0] = 0;
    const uint8_t *p = v, *end = p + vlen;
    cpm_pb_field_t f;
    int r;
    while ((r = cpm_pb_next_as_decoder(&p, end, &f)) == 1) {
        bool is_agency = f.number == f_agency, is_area = f.number == f_area;
        if (!is_agency && !is_area)
            continue;
        char *out = is_agency ? agency : area;
        size_t cap = is_agency ? na : nr;
        if (f.wire_type != 2)
            return CPM_E_INTERNAL; /* a decode would refuse it too */
        if (f.len >= cap)
            return CPM_E_TOO_LARGE; /* not a member id or a slug */
        memcpy(out, f.data, f.len); /* the last one stands, as in a decode */
        out[f.len] = 0;
    }
    return r == 0 ? 0 : CPM_E_INTERNAL;
}

/* "case.linked" with the agency and area that hold the first case, so that
 * a watcher filtering by agency sees the link to its own case. */
static int announce(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx, const Cpm__Complaint *c,
                    const char *linked_to)
{
    char agency_buf[256], area_buf[256];
    const char *agency = agency_buf, *area = area_buf;
    Cpm__StatusReply *whole = NULL; /* when the two fields could not tell */
    int rc = case_agency_area(st, txn, linked_to, agency_buf, sizeof agency_buf, area_buf,
                              sizeof area_buf);
    if (rc == CPM_E_TOO_LARGE && (whole = routing_status(st, txn, linked_to, &rc)) != NULL) {
        agency = whole->agency;
        area = whole->area;
    }
    if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return rc;
    bool first = rc == 0;
    char note[ROUTING_TICKET_MAX + 16];
    snprintf(note, sizeof note, "linked_to=%s", linked_to);
    cpm_event_t ev = {.kind = "case.linked",
                      .ticket = c->ticket,
                      .agency = first && *agency ? agency : NULL,
                      .area = first && *area ? area : c->area,
                      .category = c->category,
                      .note = note};
    rc = fx->event(fx->ctx, txn, &ev);
    if (whole)
        cpm__status_reply__free_unpacked(whole, NULL);
    return rc;
}

routing_dupes_pre_t *routing_dupes_pre_new(const Cpm__Complaint *c)
{
    routing_dupes_pre_t *p = malloc(sizeof *p);
    if (!p)
        return NULL;
    p->bk_rc = cpm_bizkey_make(c->business_name, c->business_address, c->area, &p->bk);
    /* no business: nothing is themed (routing_dupes_link stops before) */
    p->text = p->bk_rc == 0 ? routing_themes_text_new(c->description) : NULL;
    return p;
}

void routing_dupes_pre_destroy(routing_dupes_pre_t **p)
{
    if (!p || !*p)
        return;
    routing_themes_text_destroy(&(*p)->text);
    free(*p);
    *p = NULL;
}

int routing_dupes_link(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                       const Cpm__Complaint *c, int64_t now_ms, char linked_to[ROUTING_TICKET_MAX])
{
    return routing_dupes_link_pre(st, txn, fx, c, now_ms, linked_to, NULL);
}

int routing_dupes_link_pre(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                           const Cpm__Complaint *c, int64_t now_ms,
                           char linked_to[ROUTING_TICKET_MAX], const routing_dupes_pre_t *pre)
{
    linked_to[0] = 0;
    /* The business: by its folded name (the id routing always stored), or
     * the one last seen at its exact address (routing_bizlink.h). */
    static _Thread_local cpm_bizkey_t bk_here;
    const cpm_bizkey_t *bkp = &bk_here;
    if (pre)
        bkp = &pre->bk;
    if (pre ? pre->bk_rc != 0
            : cpm_bizkey_make(c->business_name, c->business_address, c->area, &bk_here) != 0)
        return 0; /* neither a name nor an exact address: nothing to link or count */
    const routing_themes_text_t *text = pre ? pre->text : NULL;
    char bid[CPM_BIZKEY_HEX];
    int64_t at = c->received_ms ? c->received_ms : now_ms;
    int rc = routing_bizlink_resolve(st, txn, bkp, at, bid);
    if (rc != 0)
        return rc;
    const char *norm = bkp->name;
    bool keyed = c->consumer_key.len == 32;
    if (!keyed)
        return routing_clusters_count(st, txn, bid, norm, bkp->address, c, at, text);
    /* Next to the business's aggregate and its consumer (routing_clusters.h);
     * a store from before has it in "dupes" under the key without "/d". */
    char key[ROUTING_CLUSTER_DUPE_KEY_LEN + 1];
    memcpy(key, bid, 32);
    cpm_hex_encode(c->consumer_key.data, 32, key + 32);
    memcpy(key + ROUTING_CLUSTER_MEMBER_KEY_LEN, "/d", 3);
    const void *v;
    size_t vlen;
    bool in_old;
    rc = routing_clusters_get_moved(st, txn, key, ROUTING_CLUSTER_DUPE_KEY_LEN, ROUTING_DUPES_DB,
                                    ROUTING_CLUSTER_MEMBER_KEY_LEN, &v, &vlen, &in_old);
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
        if ((rc = routing_clusters_put_moved(st, txn, key, ROUTING_CLUSTER_DUPE_KEY_LEN, val,
                                             8 + tl, ROUTING_DUPES_DB,
                                             ROUTING_CLUSTER_MEMBER_KEY_LEN, in_old)) != 0)
            return rc;
    }
    if ((rc = routing_clusters_count(st, txn, bid, norm, bkp->address, c, at, text)) != 0 ||
        !*linked_to)
        return rc;
    return announce(st, txn, fx, c, linked_to);
}

typedef struct {
    int64_t cutoff;
    int64_t future; /* draining the old "dupes": links dated past this go too */
} dupes_sweep_t;

static int old_link(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *del)
{
    (void)txn;
    (void)k;
    const dupes_sweep_t *s = ctx;
    *del = v->mv_size < 8 || (int64_t)cpm_get_be64(v->mv_data) < s->cutoff;
    return 0;
}

/* The old "dupes" of a store from before, drained: its entries also go when
 * dated more than a window ahead (a skewed clock wrote them). Otherwise one
 * such link would keep the sweep here, and the links in "clusters" unswept,
 * until its date. */
static int old_link_draining(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *del)
{
    const dupes_sweep_t *s = ctx;
    int rc = old_link(ctx, txn, k, v, del);
    if (rc == 0 && !*del)
        *del = (int64_t)cpm_get_be64(v->mv_data) > s->future;
    return rc;
}

/* The same among the entries of "clusters": its links only. */
static int old_link_moved(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *del)
{
    if (k->mv_size != ROUTING_CLUSTER_DUPE_KEY_LEN ||
        memcmp((const char *)k->mv_data + ROUTING_CLUSTER_MEMBER_KEY_LEN, "/d", 2) != 0)
        return 0;
    return old_link(ctx, txn, k, v, del);
}

int routing_dupes_sweep(cpm_store_t *st, MDB_txn *txn, int64_t now_ms, size_t max,
                        cpm_sweep_cursor_t *cur, size_t *deleted)
{
    dupes_sweep_t s = {now_ms - window_ms - ROUTING_DUPES_GRACE_MS,
                       now_ms + window_ms + ROUTING_DUPES_GRACE_MS};
    cpm_sweep_stats_t stats;
    /* A store from before: its "dupes" first, until it is empty (nothing is
     * added there any more, and every entry in it is old after one window
     * and its grace); links past it link nothing meanwhile (the window is
     * checked when one is read). */
    bool old = routing_clusters_old_used(st, txn, ROUTING_DUPES_DB);
    int rc = cpm_sweep_step(st, txn, old ? ROUTING_DUPES_DB : ROUTING_CLUSTERS_DB, cur, max,
                            old ? old_link_draining : old_link_moved, &s, &stats);
    *deleted = rc == 0 ? stats.deleted : 0;
    return rc;
}
