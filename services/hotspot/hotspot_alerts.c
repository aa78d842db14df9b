/* hotspot_alerts: alerts and decisions (see hotspot_alerts.h). */
#include "hotspot_alerts.h"

#include "cpm_text.h"
#include "hotspot_keys.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void db_key(char out[17], uint64_t n)
{
    snprintf(out, 17, "%016" PRIx64, n);
}

/* n of a 16-hex-digit database key. */
static uint64_t db_no(const void *k)
{
    char hex[17];
    memcpy(hex, k, 16);
    hex[16] = 0;
    return strtoull(hex, NULL, 16);
}

uint64_t hotspot_alert_no(const char *id)
{
    if (!id || id[0] != 'H' || id[1] < '1' || id[1] > '9' || strlen(id) > 20)
        return 0;
    uint64_t n = 0;
    for (const char *p = id + 1; *p; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
            return 0;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    return n;
}

int hotspot_alert_get(cpm_store_t *st, MDB_txn *txn, uint64_t n, Cpm__HotspotAlert **out)
{
    char k[17];
    db_key(k, n);
    *out = NULL;
    return cpm_store_get_msg(st, txn, HOTSPOT_ALERTS_DB, k, &cpm__hotspot_alert__descriptor,
                             (ProtobufCMessage **)out);
}

int hotspot_alert_put(cpm_store_t *st, MDB_txn *txn, const Cpm__HotspotAlert *a)
{
    uint64_t n = hotspot_alert_no(a->id);
    if (n == 0)
        return CPM_E_INVALID;
    char k[17];
    db_key(k, n);
    return cpm_store_put_msg(st, txn, HOTSPOT_ALERTS_DB, k, &a->base);
}

int hotspot_alert_next(cpm_store_t *st, MDB_txn *txn, uint64_t *n)
{
    uint64_t last = 0;
    int rc = cpm_store_get_u64(st, txn, HOTSPOT_NEXT_ALERT, &last);
    if (rc == 0)
        rc = cpm_store_put_u64(st, txn, HOTSPOT_NEXT_ALERT, last + 1);
    *n = last + 1;
    return rc;
}

void hotspot_alert_evidence(const Cpm__HotspotAlert *a, char *buf, size_t cap)
{
    int w = snprintf(buf, cap, "%u complaints in %u h, expected %.2f (%.2f/day), p=%.2g%s%.80s%s",
                     a->count, a->window_h, a->expected, a->baseline_per_day, a->p,
                     *a->product ? "; product " : "", a->product, "; tickets");
    for (size_t i = 0; i < a->n_tickets && i < 5 && w > 0 && (size_t)w < cap; i++)
        w += snprintf(buf + w, cap - (size_t)w, "%s %s", i ? "," : "", a->tickets[i]);
    if (a->n_tickets > 5 && w > 0 && (size_t)w < cap)
        snprintf(buf + w, cap - (size_t)w, " and %zu more", a->n_tickets - 5);
}

int hotspot_alert_event(const cpm_effects_t *fx, MDB_txn *txn, const char *kind,
                        const Cpm__HotspotAlert *a, const char *actor, const char *note)
{
    if (!fx || !fx->event)
        return 0;
    cpm_event_t ev = {.kind = kind,
                      .ticket = a->id,
                      .area = a->area,
                      .category = a->category,
                      .rule = a->kind,
                      .actor = actor,
                      .note = note,
                      .business = *a->business ? a->business : NULL,
                      .address = *a->address ? a->address : NULL};
    return fx->event(fx->ctx, txn, &ev);
}

static bool state_ok(const char *s)
{
    return !*s || !strcmp(s, "open") || !strcmp(s, "confirmed") || !strcmp(s, "dismissed") ||
           !strcmp(s, "all");
}

void hotspot_alert_list_free(Cpm__HotspotListReply **p)
{
    if (!p || !*p)
        return;
    Cpm__HotspotListReply *r = *p;
    for (size_t i = 0; i < r->n_alerts; i++)
        cpm__hotspot_alert__free_unpacked(r->alerts[i], NULL);
    free(r->alerts);
    free(r->next_after);
    free(r);
    *p = NULL;
}

int hotspot_alert_list(cpm_store_t *st, MDB_txn *txn, const Cpm__HotspotListQuery *q,
                       Cpm__HotspotListReply **out, cpm_error_t *err)
{
    *out = NULL;
    const char *want = *q->state ? q->state : "open";
    if (!state_ok(q->state))
        return cpm_error_set(err, CPM_E_INVALID, "state",
                             "state is open, confirmed, dismissed or all");
    if (q->max > HOTSPOT_LIST_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "max", "max is at most %d", HOTSPOT_LIST_MAX);
    uint64_t after = 0;
    if (*q->after && !(after = hotspot_alert_no(q->after)))
        return cpm_error_set(err, CPM_E_INVALID, "after", "after is an alert id such as H12");
    size_t max = q->max ? q->max : HOTSPOT_LIST_DEFAULT;
    Cpm__HotspotListReply *r = malloc(sizeof *r);
    Cpm__HotspotAlert **slots = calloc(max, sizeof *slots);
    MDB_cursor *cur;
    int rc = r && slots ? mdb_cursor_open(txn, cpm_store_dbi(st, HOTSPOT_ALERTS_DB), &cur) : ENOMEM;
    if (rc != 0) {
        free(r);
        free(slots);
        return rc == ENOMEM ? CPM_E_INTERNAL : cpm_store_err(rc);
    }
    cpm__hotspot_list_reply__init(r);
    r->alerts = slots;
    r->next_after = NULL; /* not the library's static "": strdup'd below, freed by list_free */
    char k[17];
    db_key(k, after + 1);
    MDB_val key = {16, k}, v;
    size_t scanned = 0;
    uint64_t last = after;
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
        if (scanned++ == HOTSPOT_LIST_SCAN_MAX) {
            /* Bounded work per request: the client asks again after the last
             * alert looked at (a filter may match few of many). */
            char id[24];
            snprintf(id, sizeof id, "H%" PRIu64, last);
            r->truncated = true;
            r->next_after = strdup(id);
            break;
        }
        last = key.mv_size == 16 ? db_no(key.mv_data) : last;
        Cpm__HotspotAlert *a = cpm__hotspot_alert__unpack(NULL, v.mv_size, v.mv_data);
        if (!a)
            continue; /* never written by this service: skipped */
        if (strcmp(want, "all") && strcmp(want, a->state)) {
            cpm__hotspot_alert__free_unpacked(a, NULL);
            continue;
        }
        if (r->n_alerts == max) {
            r->truncated = true;
            r->next_after = strdup(slots[max - 1]->id);
            cpm__hotspot_alert__free_unpacked(a, NULL);
            break;
        }
        slots[r->n_alerts++] = a;
    }
    mdb_cursor_close(cur);
    if (!r->next_after)
        r->next_after = strdup("");
    if (!r->next_after || (rc != 0 && rc != MDB_NOTFOUND)) {
        hotspot_alert_list_free(&r);
        return rc != 0 && rc != MDB_NOTFOUND ? cpm_store_err(rc) : CPM_E_INTERNAL;
    }
    *out = r;
    return 0;
}

/* The decided alert n is no longer its key's open one ("hs_open"). */
static int open_drop(cpm_store_t *st, MDB_txn *txn, const Cpm__HotspotAlert *a, uint64_t n)
{
    char key[HOTSPOT_KEY_MAX + 1];
    char kind = !strcmp(a->kind, "business")        ? 'b'
                : !strcmp(a->kind, "area_category") ? 'c'
                : !strcmp(a->kind, "product")       ? 'p'
                                                    : 0;
    int len = snprintf(key, sizeof key, "%c:%s", kind, a->key);
    if (!kind || len < 0 || (size_t)len >= sizeof key)
        return 0;
    uint64_t cur = 0;
    int rc = hotspot_keys_open_get(st, txn, key, &cur);
    if (rc == 0 && cur == n)
        rc = hotspot_keys_open_set(st, txn, key, 0);
    return rc;
}

/* Retention step: decided alerts with decided_ms before now_ms - max_age_ms
 * are deleted (open ones never). */
static int purge_decide(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *del)
{
    (void)txn, (void)k;
    const int64_t *before = ctx;
    Cpm__HotspotAlert *a = cpm__hotspot_alert__unpack(NULL, v->mv_size, v->mv_data);
    *del = a && strcmp(a->state, "open") && a->decided_ms > 0 && a->decided_ms < *before;
    cpm__hotspot_alert__free_unpacked(a, NULL);
    return 0;
}

int hotspot_alert_purge(cpm_store_t *st, MDB_txn *txn, cpm_sweep_cursor_t *cur, size_t max,
                        int64_t now_ms, int64_t max_age_ms, cpm_sweep_stats_t *stats)
{
    int64_t before = now_ms - max_age_ms;
    return cpm_sweep_step(st, txn, HOTSPOT_ALERTS_DB, cur, max, purge_decide, &before, stats);
}

int hotspot_alert_decide(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx, const char *actor,
                         int64_t now_ms, const Cpm__HotspotDecision *d, Cpm__HotspotAlert **out,
                         cpm_error_t *err)
{
    *out = NULL;
    uint64_t n = hotspot_alert_no(d->id);
    if (!n)
        return cpm_error_set(err, CPM_E_INVALID, "id", "id is an alert id such as H12");
    size_t rl = strlen(d->reason);
    if (rl == 0)
        return cpm_error_set(err, CPM_E_INVALID, "reason", "a reason is required");
    if (rl > HOTSPOT_REASON_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "reason", "reason is at most %d bytes",
                             HOTSPOT_REASON_MAX);
    if (!cpm_text_utf8_valid(d->reason, rl))
        return cpm_error_set(err, CPM_E_INVALID, "reason", "reason is not UTF-8");
    Cpm__HotspotAlert *a = NULL;
    int rc = hotspot_alert_get(st, txn, n, &a);
    if (rc == CPM_E_NOT_FOUND)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "id", "no alert %s", d->id);
    if (rc != 0)
        return cpm_error_set(err, rc, "", "alert %s cannot be read", d->id);
    if (strcmp(a->state, "open")) {
        rc = cpm_error_set(err, CPM_E_CONFLICT, "id", "alert %s is %s already", a->id, a->state);
        cpm__hotspot_alert__free_unpacked(a, NULL);
        return rc;
    }
    /* The strings now point at the request's and constants: a packed copy
     * is stored, and the reply gets a fresh unpacked one. */
    char *ostate = a->state, *oby = a->decided_by, *oreason = a->reason;
    a->state = d->confirm ? "confirmed" : "dismissed";
    a->decided_by = (char *)actor;
    a->decided_ms = now_ms;
    a->reason = d->reason;
    rc = hotspot_alert_put(st, txn, a);
    if (rc == 0)
        rc = open_drop(st, txn, a, n);
    if (rc == 0)
        rc = hotspot_alert_event(fx, txn, d->confirm ? "hotspot.confirmed" : "hotspot.dismissed", a,
                                 actor, d->reason);
    a->state = ostate, a->decided_by = oby, a->reason = oreason;
    cpm__hotspot_alert__free_unpacked(a, NULL);
    if (rc != 0)
        return cpm_error_set(err, rc, "", "alert %s cannot be written", d->id);
    if ((rc = hotspot_alert_get(st, txn, n, out)) != 0)
        return cpm_error_set(err, rc, "", "alert %s cannot be read", d->id);
    return 0;
}
