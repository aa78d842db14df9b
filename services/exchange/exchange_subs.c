/* exchange_subs: subscriptions at the publisher. See exchange_subs.h. */
#include "exchange_subs.h"

#include "cpm_bizname.h"
#include "cpm_log.h"
#include "cpm_ratelimit.h"
#include "cpm_util.h"
#include "cpm_xpolicy.h"
#include "exchange_log.h"
#include "exchange_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILTER_MAX 256 /* bytes of a filter value */

static int sub_key(char *out, size_t cap, const char *dataset, const char *subscriber)
{
    int n = snprintf(out, cap, "%s\x1f%s", dataset, subscriber);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static const char *str(const char *s)
{
    return s ? s : "";
}

/* Count the subscriptions of dataset. */
static int count_one(void *ctx, const char *rest, size_t rlen, const ProtobufCMessage *m)
{
    (void)rest, (void)rlen, (void)m;
    (*(size_t *)ctx)++;
    return 0;
}

static int dataset_subs(cpm_store_t *st, MDB_txn *txn, const char *dataset, size_t *n)
{
    char prefix[CPM_XSCHEMA_NAME_MAX + 2];
    int plen = snprintf(prefix, sizeof prefix, "%s\x1f", dataset);
    *n = 0;
    return cpm_store_each_msg(st, txn, EXCHANGE_SUBS_DB, prefix, (size_t)plen,
                              &cpm__subscription__descriptor, count_one, n);
}

/* The filters must name fields the dataset has, and be of a sane size. */
static int check_filters(const cpm_xdataset_t *d, const Cpm__ExchangeSubscribe *s, cpm_error_t *err)
{
    const struct {
        const char *value, *name, *field;
    } f[] = {{s->area, "area", d->area_field},
             {s->business, "business", d->business_field},
             {s->tax_code, "tax_code", d->tax_field},
             {s->purpose, "purpose", "purpose"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!f[i].value || !f[i].value[0])
            continue;
        if (strlen(f[i].value) > FILTER_MAX)
            return cpm_error_set(err, CPM_E_INVALID, f[i].name, "%s is at most %d bytes", f[i].name,
                                 FILTER_MAX);
        if (!f[i].field)
            return cpm_error_set(err, CPM_E_INVALID, f[i].name, "dataset %s has no %s to filter on",
                                 d->name, f[i].name);
    }
    return 0;
}

static void refuse_log(const exchange_t *x, const char *who, const char *dataset, const char *why)
{
    static cpm_ratelimit_t rl = CPM_RATELIMIT_INIT(10, 60000);
    uint64_t dropped = 0;
    exchange_count(x, "exchange.subscribe_refused");
    if (cpm_ratelimit_allow(&rl, cpm_mono_ms(), &dropped))
        cpm_info("subscription of %s to %.40s refused: %s%s", who, dataset, why,
                 cpm_ratelimit_note(dropped));
}

static void fill_withheld(exchange_sub_reply_t *out, const cpm_xgrant_t *g, const cpm_xdataset_t *d)
{
    cpm_xpolicy_withheld(g, d, out->withheld, sizeof out->withheld);
    out->r.withheld_fields = out->withheld_v;
    out->r.n_withheld_fields = 0;
    for (char *p = out->withheld, *save = NULL, *t; (t = strtok_r(p, ",", &save)); p = NULL)
        if (out->r.n_withheld_fields < 64)
            out->withheld_v[out->r.n_withheld_fields++] = t;
}

/* The proof-log entry (request = the signed frame, response = the reply)
 * and the event of an accepted subscribe request. */
static int record_request(const exchange_t *x, cpm_store_t *st, MDB_txn *txn,
                          const cpm_effects_t *fx, const exchange_sender_t *who,
                          const char *dataset, const char *subscriber, int64_t now_ms,
                          const exchange_sub_reply_t *out)
{
    size_t rlen = cpm__exchange_subscribe_reply__get_packed_size(&out->r);
    uint8_t *reply = malloc(rlen ? rlen : 1);
    if (!reply)
        return CPM_E_INTERNAL;
    cpm__exchange_subscribe_reply__pack(&out->r, reply);
    exchange_log_entry_t le = {"subscribe",    subscriber, dataset, who->frame,
                               who->frame_len, reply,      rlen};
    int rc = exchange_log_append(st, txn, now_ms, &le, NULL);
    free(reply);
    if (rc != 0)
        return rc;
    char note[200];
    snprintf(note, sizeof note, "%s subscribed to %s%s", subscriber, dataset,
             out->r.cancelled   ? " (cancelled)"
             : out->r.duplicate ? " (changed)"
                                : "");
    cpm_event_t ev = {
        .kind = "exchange.subscribed", .agency = x->node, .actor = who->id, .note = note};
    return fx && fx->event ? fx->event(fx->ctx, txn, &ev) : 0;
}

/* What a subscription may carry, beyond what the policy decides: no
 * personal field ever (the records land in the subscriber agency's store,
 * readable by all its people; personal data is asked by query, with the
 * purpose), and filters only on fields the policy gives (a filter on a
 * withheld field would reveal it). */
static void narrow(const Cpm__ExchangePolicy *policy, const char *self, const cpm_xdataset_t *d,
                   const char *agency, const char *role, const char *purpose, const char *area,
                   const char *business, const char *tax_code, cpm_xgrant_t *g)
{
    if (!g->allowed)
        return;
    for (size_t i = 0; i < d->n_fields && i < 64; i++)
        if (d->fields[i].personal && (g->shared & (1ULL << i))) {
            g->shared &= ~(1ULL << i);
            g->withheld |= 1ULL << i;
        }
    const char *filtered[] = {area && area[0] ? d->area_field : NULL,
                              business && business[0] ? d->business_field : NULL,
                              tax_code && tax_code[0] ? d->tax_field : NULL};
    for (size_t i = 0; g->allowed && i < sizeof filtered / sizeof filtered[0]; i++)
        (void)cpm_xpolicy_may_filter(policy, self, d, agency, role, purpose, filtered[i], g);
}

int exchange_subscribe(const exchange_t *x, const Cpm__ExchangePolicy *policy, cpm_store_t *st,
                       MDB_txn *txn, const cpm_effects_t *fx, const exchange_sender_t *who,
                       const Cpm__ExchangeSubscribe *s, int64_t now_ms, exchange_sub_reply_t *out,
                       cpm_error_t *err)
{
    memset(out, 0, sizeof *out);
    cpm__exchange_subscribe_reply__init(&out->r);
    out->r.id = out->id;
    const char *agency = who->agency;
    const Cpm__Member *am = agency && agency[0] ? cpm_registry_member(x->reg, agency) : NULL;
    if (!am || !cpm_member_service(am, "exchange")) {
        refuse_log(x, who->id, str(s->dataset), "its agency runs no exchange");
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "%s's agency %.60s is not a member running an exchange: "
                             "records are delivered to an agency's exchange",
                             who->id, str(agency));
    }
    if (strcmp(agency, x->node) == 0)
        return cpm_error_set(err, CPM_E_INVALID, "sender",
                             "%s belongs to %s itself: an agency does not subscribe to its own "
                             "datasets",
                             who->id, x->node);
    const cpm_xdataset_t *d = cpm_xschema_find(s->dataset);
    if (!d)
        return cpm_error_set(err, CPM_E_INVALID, "dataset", "no dataset \"%.40s\"",
                             str(s->dataset));
    int rc = check_filters(d, s, err);
    if (rc != 0)
        return rc;
    char key[CPM_XSCHEMA_NAME_MAX + 160];
    if (sub_key(key, sizeof key, d->name, agency) < 0)
        return cpm_error_set(err, CPM_E_INVALID, "sender", "agency id too long");
    snprintf(out->id, sizeof out->id, "%s/%s", agency, d->name);
    Cpm__Subscription *old = NULL;
    rc = cpm_store_get_msg(st, txn, EXCHANGE_SUBS_DB, key, &cpm__subscription__descriptor,
                           (ProtobufCMessage **)&old);
    if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return rc;
    if (s->cancel) {
        if (!old)
            return cpm_error_set(err, CPM_E_NOT_FOUND, "dataset",
                                 "%s has no subscription to %s here", agency, d->name);
        out->r.start_seq = old->cursor;
        out->r.cancelled = true;
        cpm__subscription__free_unpacked(old, NULL);
        if ((rc = cpm_store_del(st, txn, EXCHANGE_SUBS_DB, key, strlen(key))) != 0)
            return rc;
        return record_request(x, st, txn, fx, who, d->name, agency, now_ms, out);
    }
    cpm_xgrant_t g;
    cpm_xpolicy_decide(policy, x->node, d, agency, who->role, s->purpose, NULL, 0, &g);
    narrow(policy, x->node, d, agency, who->role, s->purpose, s->area, s->business, s->tax_code,
           &g);
    if (g.allowed && !g.subscribe) {
        g.code = CPM_E_FORBIDDEN;
        snprintf(g.field, sizeof g.field, "%s", d->name);
        snprintf(g.reason, sizeof g.reason,
                 "the policy of %s does not let %s subscribe to dataset %s", x->node, agency,
                 d->name);
    }
    if (!g.allowed || !g.subscribe) {
        if (old)
            cpm__subscription__free_unpacked(old, NULL);
        refuse_log(x, who->id, d->name, g.reason);
        return cpm_error_set(err, CPM_E_FORBIDDEN, g.field[0] ? g.field : d->name, "%s",
                             g.reason[0] ? g.reason : "not allowed by the policy");
    }
    Cpm__Subscription sub = CPM__SUBSCRIPTION__INIT;
    if (old) {
        sub.cursor = old->cursor;
        sub.created_ms = old->created_ms;
        sub.delivered = old->delivered;
        out->r.duplicate = true;
    } else {
        size_t n = 0;
        if ((rc = dataset_subs(st, txn, d->name, &n)) != 0)
            return rc;
        if (n >= EXCHANGE_SUBS_MAX) {
            refuse_log(x, who->id, d->name, "too many subscriptions");
            return cpm_error_set(err, CPM_E_CONFLICT, "dataset",
                                 "dataset %s has %d subscriptions already, the most it takes",
                                 d->name, EXCHANGE_SUBS_MAX);
        }
        uint64_t head = 0;
        if (!s->from_start && (rc = exchange_records_head(st, txn, d->name, &head)) != 0)
            return rc;
        sub.cursor = head;
        sub.created_ms = now_ms;
    }
    sub.dataset = (char *)d->name;
    sub.subscriber = (char *)agency;
    sub.requester = (char *)who->id;
    sub.role = (char *)str(who->role);
    sub.area = (char *)str(s->area);
    sub.business = (char *)str(s->business);
    sub.tax_code = (char *)str(s->tax_code);
    sub.purpose = (char *)str(s->purpose);
    rc = cpm_store_put_msg(st, txn, EXCHANGE_SUBS_DB, key, &sub.base);
    if (old)
        cpm__subscription__free_unpacked(old, NULL);
    if (rc != 0)
        return rc;
    out->r.start_seq = sub.cursor;
    fill_withheld(out, &g, d);
    return record_request(x, st, txn, fx, who, d->name, agency, now_ms, out);
}

/* ---- delivery ------------------------------------------------------------ */

/* Do the subscription's filters match r? The same matching as queries:
 * area and tax code exactly, the business by its normal form. */
static bool matches(const cpm_xdataset_t *d, const Cpm__Subscription *s, const Cpm__DataRecord *r)
{
    if (s->area[0] && (!d->area_field || strcmp(exchange_record_value(r, d->area_field), s->area)))
        return false;
    if (s->tax_code[0] &&
        (!d->tax_field || strcmp(exchange_record_value(r, d->tax_field), s->tax_code)))
        return false;
    if (s->business[0] &&
        (!d->business_field ||
         !cpm_bizname_match(s->business, exchange_record_value(r, d->business_field), NULL, 0)))
        return false;
    return true;
}

typedef struct {
    const exchange_t *x;
    cpm_store_t *st;
    MDB_txn *txn;
    const cpm_effects_t *fx;
    const cpm_xdataset_t *d;
    const cpm_xgrant_t *g;
    Cpm__Subscription *sub;
    const char *id;
    int64_t now_ms;
    exchange_subs_stats_t *stats;
} deliver_t;

static int deliver_one(void *arg, const Cpm__DataRecord *r)
{
    deliver_t *c = arg;
    if (!matches(c->d, c->sub, r)) {
        c->stats->passed++;
        return 0;
    }
    Cpm__DataRecord red;
    if (cpm_xpolicy_redact(c->g, c->d, r, &red) != 0)
        return CPM_E_INTERNAL;
    red.match = (char *)"";
    Cpm__ExchangeDelivery dl = CPM__EXCHANGE_DELIVERY__INIT;
    dl.subscription = (char *)c->id;
    dl.record = &red;
    int rc = c->fx && c->fx->send
                 ? c->fx->send(c->fx->ctx, c->txn, c->sub->subscriber, "exchange", &dl.base)
                 : CPM_E_INTERNAL;
    size_t len = cpm__exchange_delivery__get_packed_size(&dl);
    uint8_t *buf = rc == 0 ? malloc(len ? len : 1) : NULL;
    if (rc == 0 && !buf)
        rc = CPM_E_INTERNAL;
    if (rc == 0) {
        cpm__exchange_delivery__pack(&dl, buf);
        exchange_log_entry_t le = {"delivery", c->sub->subscriber, c->d->name, NULL, 0, buf, len};
        rc = exchange_log_append(c->st, c->txn, c->now_ms, &le, NULL);
    }
    free(buf);
    free(red.fields);
    if (rc == 0) {
        c->sub->delivered++;
        c->stats->delivered++;
    }
    return rc;
}

/* The policy's verdict on s now: allowed to subscribe, with g filled. */
static bool still_allowed(const exchange_t *x, const Cpm__ExchangePolicy *policy,
                          const cpm_xdataset_t *d, const Cpm__Subscription *s, cpm_xgrant_t *g)
{
    cpm_xpolicy_decide(policy, x->node, d, s->subscriber, s->role, s->purpose, NULL, 0, g);
    narrow(policy, x->node, d, s->subscriber, s->role, s->purpose, s->area, s->business,
           s->tax_code, g);
    /* a subscriber that left the registry (or stopped running an exchange)
     * has no stream to deliver on: held like a refused one */
    const Cpm__Member *m = x->reg ? cpm_registry_member(x->reg, s->subscriber) : NULL;
    if (x->reg && (!m || !cpm_member_service(m, "exchange"))) {
        snprintf(g->reason, sizeof g->reason, "%s is not a member running an exchange",
                 s->subscriber);
        return false;
    }
    return g->allowed && g->subscribe;
}

/* One subscription's step. *changed: the stored subscription must be
 * written back. */
static int step(const exchange_t *x, const Cpm__ExchangePolicy *policy, cpm_store_t *st,
                MDB_txn *txn, const cpm_effects_t *fx, int64_t now_ms, Cpm__Subscription *s,
                exchange_subs_stats_t *stats, bool *changed)
{
    *changed = false;
    const cpm_xdataset_t *d = cpm_xschema_find(s->dataset);
    if (!d)
        return 0;
    cpm_xgrant_t g;
    if (!still_allowed(x, policy, d, s, &g)) {
        if (!s->suspended) {
            s->suspended = true;
            *changed = true;
            stats->suspended++;
            exchange_count(x, "exchange.subscription_suspended");
            cpm_warn("subscription of %s to %s suspended at seq %llu: %s", s->subscriber,
                     s->dataset, (unsigned long long)s->cursor,
                     g.reason[0] ? g.reason : "the policy in force no longer allows it");
        }
        return 0;
    }
    if (s->suspended) {
        s->suspended = false;
        *changed = true;
        stats->resumed++;
        cpm_info("subscription of %s to %s resumed after seq %llu", s->subscriber, s->dataset,
                 (unsigned long long)s->cursor);
    }
    char id[200];
    snprintf(id, sizeof id, "%s/%s", s->subscriber, s->dataset);
    deliver_t c = {x, st, txn, fx, d, &g, s, id, now_ms, stats};
    uint64_t last = s->cursor;
    int rc = exchange_records_since(st, txn, d->name, s->cursor, EXCHANGE_SUBS_STEP, deliver_one,
                                    &c, &last);
    if (rc != 0)
        return rc;
    if (last != s->cursor) {
        s->cursor = last;
        *changed = true;
    }
    return 0;
}

/* fn for every subscription, dataset by dataset. */
static int each_sub(cpm_store_t *st, MDB_txn *txn, cpm_store_each_fn fn, void *ctx)
{
    size_t n;
    const cpm_xdataset_t *d = cpm_xschema_all(&n);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char prefix[CPM_XSCHEMA_NAME_MAX + 2];
        int plen = snprintf(prefix, sizeof prefix, "%s\x1f", d[i].name);
        rc = cpm_store_each_msg(st, txn, EXCHANGE_SUBS_DB, prefix, (size_t)plen,
                                &cpm__subscription__descriptor, fn, ctx);
    }
    return rc;
}

/* The keys of every subscription (at most EXCHANGE_SUBS_MAX per dataset). */
typedef struct {
    char (*keys)[CPM_XSCHEMA_NAME_MAX + 160];
    size_t n, cap;
} keys_t;

static int collect_key(void *ctx, const char *rest, size_t rlen, const ProtobufCMessage *m)
{
    (void)rest, (void)rlen;
    const Cpm__Subscription *s = (const Cpm__Subscription *)m;
    keys_t *k = ctx;
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        void *grown = realloc(k->keys, cap * sizeof k->keys[0]);
        if (!grown)
            return CPM_E_INTERNAL;
        k->keys = grown;
        k->cap = cap;
    }
    if (sub_key(k->keys[k->n], sizeof k->keys[0], s->dataset, s->subscriber) > 0)
        k->n++;
    return 0;
}

int exchange_subs_tick(const exchange_t *x, const Cpm__ExchangePolicy *policy, cpm_store_t *st,
                       MDB_txn *txn, const cpm_effects_t *fx, int64_t now_ms,
                       exchange_subs_stats_t *stats)
{
    memset(stats, 0, sizeof *stats);
    keys_t k = {0};
    int rc = each_sub(st, txn, collect_key, &k);
    for (size_t i = 0; rc == 0 && i < k.n; i++) {
        Cpm__Subscription *s = NULL;
        rc = cpm_store_get_msg(st, txn, EXCHANGE_SUBS_DB, k.keys[i], &cpm__subscription__descriptor,
                               (ProtobufCMessage **)&s);
        if (rc != 0)
            break;
        bool changed = false;
        rc = step(x, policy, st, txn, fx, now_ms, s, stats, &changed);
        if (rc == 0 && changed)
            rc = cpm_store_put_msg(st, txn, EXCHANGE_SUBS_DB, k.keys[i], &s->base);
        cpm__subscription__free_unpacked(s, NULL);
    }
    free(k.keys);
    return rc;
}

typedef struct {
    const exchange_t *x;
    const Cpm__ExchangePolicy *policy;
    cpm_store_t *st;
    MDB_txn *txn;
} due_t;

static int due_one(void *ctx, const char *rest, size_t rlen, const ProtobufCMessage *m)
{
    (void)rest, (void)rlen;
    due_t *c = ctx;
    const Cpm__Subscription *s = (const Cpm__Subscription *)m;
    const cpm_xdataset_t *d = cpm_xschema_find(s->dataset);
    if (!d)
        return 0;
    cpm_xgrant_t g;
    bool ok = still_allowed(c->x, c->policy, d, s, &g);
    if (ok == s->suspended)
        return 1; /* the suspension changes */
    uint64_t head = 0;
    if (ok && exchange_records_head(c->st, c->txn, d->name, &head) == 0 && head > s->cursor)
        return 1;
    return 0;
}

bool exchange_subs_due(const exchange_t *x, const Cpm__ExchangePolicy *policy, cpm_store_t *st,
                       MDB_txn *txn)
{
    due_t c = {x, policy, st, txn};
    return each_sub(st, txn, due_one, &c) != 0;
}
