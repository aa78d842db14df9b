/* hotspot_detect: the streaming detector (see hotspot_detect.h). */
#include "hotspot_detect.h"

#include "cpm_bizkey.h"

#include "cpm_bizname.h"
#include "cpm_text.h"
#include "cpm_util.h"
#include "hotspot_alerts.h"
#include "hotspot_keys.h"
#include "hotspot_stats.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define VN_OFFSET_MS (7 * HOUR_MS) /* Asia/Ho_Chi_Minh: UTC+7 all year */
#define CURSOR_LEN 40              /* seq (u64 BE) || hash (32) */
#define NODE_MAX 128

struct hotspot {
    cpm_store_t *st;
    hotspot_cfg_t cfg;
    double alpha;
    hotspot_state_t s; /* one key's state at a time (large: kept off the stack) */
};

int hotspot_new(hotspot_t **out, cpm_store_t *st, const hotspot_cfg_t *cfg, cpm_error_t *err)
{
    *out = NULL;
    if (cfg->window_h == 0 || cfg->window_h > HOTSPOT_WINDOW_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "hotspot_window_h",
                             "hotspot_window_h must be 1 to %d hours", HOTSPOT_WINDOW_MAX);
    if (cfg->history_days == 0 || cfg->min_count == 0 || cfg->keys_max == 0 || cfg->p_max_e6 == 0 ||
        cfg->p_max_e6 >= 1000000)
        return cpm_error_set(err, CPM_E_INVALID,
                             cfg->history_days == 0 ? "hotspot_history_days"
                             : cfg->min_count == 0  ? "hotspot_min_count"
                             : cfg->keys_max == 0   ? "hotspot_keys_max"
                                                    : "hotspot_p_max_e6",
                             "hotspot settings must be greater than 0 (p_max_e6 below 1000000)");
    hotspot_t *h = calloc(1, sizeof *h);
    if (!h)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    h->st = st;
    h->cfg = *cfg;
    h->alpha = hotspot_alpha(cfg->history_days);
    if (h->cfg.max_skew_s == 0)
        h->cfg.max_skew_s = 300;
    *out = h;
    return 0;
}

void hotspot_destroy(hotspot_t **p)
{
    if (!p || !*p)
        return;
    free(*p);
    *p = NULL;
}

bool hotspot_business_key(const char *area, const char *business, const char *address, char out[33])
{
    cpm_bizkey_t bk;
    out[0] = 0;
    if (cpm_bizkey_make(business, address, area, &bk) != 0)
        return false;
    memcpy(out, bk.key, CPM_BIZKEY_HEX);
    return true;
}

/* ---- cursors ----------------------------------------------------------------- */

static int cursor_key(char *k, size_t cap, const char *node, const char *service)
{
    int n = snprintf(k, cap, "%s/%s", node, service);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static int cursor_seq(hotspot_t *h, MDB_txn *txn, const char *node, const char *service,
                      uint64_t *seq)
{
    char k[2 * NODE_MAX + 2];
    int n = cursor_key(k, sizeof k, node, service);
    const void *v;
    size_t len;
    *seq = 0;
    if (n < 0)
        return CPM_E_INVALID;
    int rc = cpm_store_get(h->st, txn, HOTSPOT_CURSORS_DB, k, (size_t)n, &v, &len);
    if (rc == CPM_E_NOT_FOUND)
        return 0;
    if (rc == 0 && len == CURSOR_LEN)
        *seq = cpm_get_be64(v);
    return rc;
}

static int cursor_put(hotspot_t *h, MDB_txn *txn, const char *node, const char *service,
                      const Cpm__Event *ev)
{
    char k[2 * NODE_MAX + 2];
    int n = cursor_key(k, sizeof k, node, service);
    uint8_t v[CURSOR_LEN] = {0};
    if (n < 0)
        return CPM_E_INVALID;
    cpm_put_be64(v, ev->seq);
    if (ev->hash.len == 32)
        memcpy(v + 8, ev->hash.data, 32);
    return cpm_store_put(h->st, txn, HOTSPOT_CURSORS_DB, k, (size_t)n, v, sizeof v);
}

int hotspot_cursors(hotspot_t *h, MDB_txn *txn, hotspot_cursor_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(h->st, HOTSPOT_CURSORS_DB), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char key[2 * NODE_MAX + 2];
        if (k.mv_size >= sizeof key || v.mv_size != CURSOR_LEN)
            continue;
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = 0;
        char *slash = strchr(key, '/');
        if (!slash)
            continue;
        *slash = 0;
        fn(ctx, key, slash + 1, cpm_get_be64(v.mv_data), (const uint8_t *)v.mv_data + 8);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : cpm_store_err(rc);
}

/* ---- one key ----------------------------------------------------------------- */

typedef struct {
    const char *kind; /* business | area_category | product */
    char key[HOTSPOT_KEY_MAX + 1];
    char label[HOTSPOT_TEXT_MAX + HOTSPOT_AREA_MAX + 8];
} keyref_t;

static int64_t vn_day(int64_t at_ms)
{
    return (at_ms + VN_OFFSET_MS) / DAY_MS;
}

/* Count the complaint into s; the baseline is that of the days before the
 * key's current day. A late complaint (an earlier day) goes into its own
 * day's weight in the EWMA, and into the ring only if its hour is still in
 * it. false when it is not in the window (it cannot change an alert). */
static bool count_in(hotspot_t *h, hotspot_state_t *s, bool found, const Cpm__Event *ev,
                     double *baseline, uint32_t *count)
{
    uint32_t w = h->cfg.window_h;
    int64_t day = vn_day(ev->at_ms), hour = ev->at_ms / HOUR_MS;
    if (!found || s->cur_day == 0)
        s->cur_day = day;
    else if (day > s->cur_day) {
        hotspot_ewma_roll(&s->ewma, &s->days, h->alpha, s->day_count, day - s->cur_day - 1);
        s->cur_day = day;
        s->day_count = 0;
    }
    if (day < s->cur_day) {
        /* Day cur_day - k was folded k - 1 days ago (the newest completed day
         * has weight alpha): as if it had come in time. Beyond 4 histories
         * its weight is below e^-8 and it would age the key: dropped. */
        int64_t k = s->cur_day - day;
        if (k <= 4 * (int64_t)h->cfg.history_days) {
            s->ewma += h->alpha * pow(1.0 - h->alpha, (double)(k - 1));
            if ((int64_t)s->days < k)
                s->days = (uint32_t)k;
        }
    } else if (s->day_count < UINT32_MAX)
        s->day_count++;
    *baseline = hotspot_baseline(s->ewma, s->days, h->alpha);
    if (s->ring_hour == 0 || hour - s->ring_hour >= (int64_t)w) {
        memset(s->ring, 0, sizeof s->ring[0] * w);
        s->ring_hour = hour;
    } else
        for (; s->ring_hour < hour; s->ring_hour++)
            s->ring[(s->ring_hour + 1) % w] = 0;
    bool in = hour > s->ring_hour - (int64_t)w;
    if (in && s->ring[hour % w] < UINT32_MAX)
        s->ring[hour % w]++;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < w; i++)
        sum += s->ring[i];
    *count = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
    hotspot_recent_t *r = &s->recent[s->recent_head];
    r->at_ms = ev->at_ms;
    snprintf(r->ticket, sizeof r->ticket, "%s", ev->ticket);
    s->recent_head = (s->recent_head + 1) % HOTSPOT_RECENT;
    if (s->n_recent < HOTSPOT_RECENT)
        s->n_recent++;
    if (ev->at_ms > s->last_seen_ms)
        s->last_seen_ms = ev->at_ms;
    return in;
}

static void fill_common(Cpm__HotspotAlert *a, const keyref_t *k, const Cpm__Event *ev,
                        uint32_t window_h, double baseline, uint32_t count)
{
    a->kind = (char *)k->kind;
    a->key = (char *)k->key + 2;
    a->label = (char *)k->label;
    a->area = ev->area;
    a->category = ev->category;
    a->business = ev->business;
    a->address = ev->address;
    a->product = ev->product;
    a->count = count;
    a->window_h = window_h;
    a->baseline_per_day = baseline;
    a->expected = baseline * window_h / 24.0;
    a->p = hotspot_poisson_tail(count, a->expected);
    a->p_e6 = hotspot_p_e6(a->p);
    a->last_ms = ev->at_ms;
}

/* Add ev to the open alert a (a shallow copy is stored). The expectation
 * stays the one of its opening (the history before the rise: the rise's own
 * days enter the key's average later); count keeps its peak, p follows it.
 * The texts (business, address, area, category, product, label) stay those
 * of the opening: a later complaint's free text (a person's name and home,
 * written into the business field) never replaces what was reviewed. */
static int alert_add(hotspot_t *h, MDB_txn *txn, Cpm__HotspotAlert *a, const keyref_t *k,
                     const Cpm__Event *ev, uint32_t count)
{
    (void)k;
    Cpm__HotspotAlert b = *a;
    if (count > a->count) {
        b.count = count;
        b.p = hotspot_poisson_tail(count, a->expected);
        b.p_e6 = hotspot_p_e6(b.p);
    }
    if (ev->at_ms > b.last_ms)
        b.last_ms = ev->at_ms;
    if (ev->at_ms < b.first_ms)
        b.first_ms = ev->at_ms;
    char *t[HOTSPOT_TICKETS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < a->n_tickets && n < HOTSPOT_TICKETS_MAX; i++)
        t[n++] = a->tickets[i];
    if (n < HOTSPOT_TICKETS_MAX)
        t[n++] = ev->ticket;
    b.tickets = t;
    b.n_tickets = n;
    return hotspot_alert_put(h->st, txn, &b);
}

static int alert_open(hotspot_t *h, MDB_txn *txn, const cpm_effects_t *fx, hotspot_state_t *s,
                      const keyref_t *k, const Cpm__Event *ev, double baseline, uint32_t count)
{
    uint64_t n;
    int rc = hotspot_alert_next(h->st, txn, &n);
    if (rc != 0)
        return rc;
    char id[24], note[600];
    snprintf(id, sizeof id, "H%llu", (unsigned long long)n);
    Cpm__HotspotAlert a = CPM__HOTSPOT_ALERT__INIT;
    a.id = id;
    fill_common(&a, k, ev, h->cfg.window_h, baseline, count);
    /* The evidence: the key's remembered tickets within the window, oldest first. */
    char *t[HOTSPOT_RECENT];
    size_t nt = 0;
    /* The ring's window (a late complaint may open the alert). */
    int64_t upto = (s->ring_hour + 1) * HOUR_MS;
    int64_t since = upto - (int64_t)h->cfg.window_h * HOUR_MS;
    a.first_ms = ev->at_ms;
    for (uint32_t i = 0; i < s->n_recent; i++) {
        uint32_t j = (s->recent_head + HOTSPOT_RECENT - s->n_recent + i) % HOTSPOT_RECENT;
        if (s->recent[j].at_ms >= since && s->recent[j].at_ms < upto) {
            t[nt++] = s->recent[j].ticket;
            if (s->recent[j].at_ms < a.first_ms)
                a.first_ms = s->recent[j].at_ms;
        }
    }
    a.tickets = t;
    a.n_tickets = nt;
    a.opened_ms = ev->at_ms;
    a.state = "open";
    hotspot_alert_evidence(&a, note, sizeof note);
    a.note = note;
    if ((rc = hotspot_alert_put(h->st, txn, &a)) != 0)
        return rc;
    if ((rc = hotspot_alert_event(fx, txn, "hotspot.alert", &a, NULL, note)) != 0)
        return rc;
    if ((rc = hotspot_keys_open_set(h->st, txn, k->key, n)) != 0)
        return rc;
    s->alert_no = n;
    return 0;
}

/* 1 when the complaint went into an alert opened now, 2 into an open one, 0 none. */
static int key_apply(hotspot_t *h, MDB_txn *txn, const cpm_effects_t *fx, const keyref_t *k,
                     const Cpm__Event *ev, int64_t learn_until, uint64_t stamp, hotspot_counts_t *c)
{
    hotspot_state_t *s = &h->s;
    bool found;
    int rc = hotspot_keys_load(h->st, txn, k->key, h->cfg.window_h, s, &found);
    if (rc != 0)
        return rc;
    uint64_t old_stamp = s->stamp;
    if (!found && (rc = hotspot_keys_evict(h->st, txn, h->cfg.keys_max, &c->evicted)) != 0)
        return rc;
    /* An evicted (or unreadable) key that had an open alert finds it again. */
    if (!s->alert_no && (rc = hotspot_keys_open_get(h->st, txn, k->key, &s->alert_no)) != 0)
        return rc;
    s->stamp = stamp;
    double baseline;
    uint32_t count;
    bool in_window = count_in(h, s, found, ev, &baseline, &count);
    int what = 0;
    if (s->alert_no) {
        Cpm__HotspotAlert *a = NULL;
        rc = hotspot_alert_get(h->st, txn, s->alert_no, &a);
        if (rc != 0 && rc != CPM_E_NOT_FOUND)
            return rc;
        if (a && !strcmp(a->state, "open")) {
            rc = alert_add(h, txn, a, k, ev, count);
            what = 2;
        } else if (!a || ev->at_ms > a->last_ms + (int64_t)h->cfg.window_h * HOUR_MS)
            s->alert_no = 0; /* decided, and this is a new rise: may alert again */
        else
            what = 3; /* decided; the same rise */
        cpm__hotspot_alert__free_unpacked(a, NULL);
        if (rc != 0)
            return rc;
    }
    if (!s->alert_no && in_window && ev->at_ms >= learn_until && count >= h->cfg.min_count) {
        double p = hotspot_poisson_tail(count, baseline * h->cfg.window_h / 24.0);
        if (p < (double)h->cfg.p_max_e6 / 1e6) {
            if ((rc = alert_open(h, txn, fx, s, k, ev, baseline, count)) != 0)
                return rc;
            what = 1;
        }
    }
    if ((rc = hotspot_keys_save(h->st, txn, k->key, old_stamp, s)) != 0)
        return rc;
    c->opened += what == 1;
    c->updated += what == 2;
    return 0;
}

/* ---- one event --------------------------------------------------------------- */

static bool field_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n <= max && (n == 0 || cpm_text_utf8_valid(s, n));
}

static bool usable(const Cpm__Event *ev)
{
    size_t tl = ev->ticket ? strlen(ev->ticket) : 0;
    return ev->at_ms >= HOTSPOT_AT_MIN && ev->at_ms < HOTSPOT_AT_MAX && tl > 0 &&
           tl < HOTSPOT_TICKET_MAX && field_ok(ev->ticket, tl) &&
           field_ok(ev->area, HOTSPOT_AREA_MAX) && field_ok(ev->category, HOTSPOT_CATEGORY_MAX) &&
           field_ok(ev->business, HOTSPOT_TEXT_MAX) && field_ok(ev->address, HOTSPOT_TEXT_MAX) &&
           field_ok(ev->product, HOTSPOT_TEXT_MAX);
}

/* The keys of ev (0 to 3). */
static size_t keys_of(const Cpm__Event *ev, keyref_t k[3])
{
    size_t n = 0;
    char hex[33];
    if (hotspot_business_key(ev->area, ev->business, ev->address, hex)) {
        k[n].kind = "business";
        snprintf(k[n].key, sizeof k[n].key, "b:%s", hex);
        snprintf(k[n].label, sizeof k[n].label, "%s%s%s%s", ev->business, *ev->area ? " (" : "",
                 ev->area, *ev->area ? ")" : "");
        n++;
    }
    if (*ev->area && *ev->category) {
        k[n].kind = "area_category";
        snprintf(k[n].key, sizeof k[n].key, "c:%s|%s", ev->area, ev->category);
        snprintf(k[n].label, sizeof k[n].label, "%s / %s", ev->area, ev->category);
        n++;
    }
    char folded[HOTSPOT_KEY_MAX - 2];
    if (*ev->product && cpm_bizname_fold(ev->product, folded, sizeof folded) > 0 &&
        strspn(folded, " ") < strlen(folded)) {
        k[n].kind = "product";
        snprintf(k[n].key, sizeof k[n].key, "p:%s", folded);
        snprintf(k[n].label, sizeof k[n].label, "%s", ev->product);
        n++;
    }
    return n;
}

int hotspot_apply(hotspot_t *h, MDB_txn *txn, const cpm_effects_t *fx, const char *node,
                  const char *service, const Cpm__Event *ev, int64_t now_ms, hotspot_counts_t *c)
{
    uint64_t done = 0;
    int rc = cursor_seq(h, txn, node, service, &done);
    if (rc != 0)
        return -rc;
    if (ev->seq <= done) {
        c->already++;
        return 0;
    }
    if (!ev->kind || strcmp(ev->kind, "complaint.received"))
        c->ignored++;
    else if (!usable(ev))
        c->bad++;
    else if (ev->at_ms > now_ms + (int64_t)h->cfg.max_skew_s * 1000)
        c->future++; /* a wrong clock: it would blind the detector and its keys */
    else {
        uint64_t learn = 0;
        if ((rc = cpm_store_get_u64(h->st, txn, HOTSPOT_LEARN_UNTIL, &learn)) != 0)
            return -rc;
        if (learn == 0) {
            learn = (uint64_t)(ev->at_ms + (int64_t)h->cfg.window_h * HOUR_MS);
            if ((rc = cpm_store_put_u64(h->st, txn, HOTSPOT_LEARN_UNTIL, learn)) != 0)
                return -rc;
        }
        uint64_t stamp = 0;
        if ((rc = cpm_store_get_u64(h->st, txn, HOTSPOT_APPLIED_SEQ, &stamp)) != 0 ||
            (rc = cpm_store_put_u64(h->st, txn, HOTSPOT_APPLIED_SEQ, ++stamp)) != 0)
            return -rc;
        keyref_t k[3];
        size_t n = keys_of(ev, k);
        for (size_t i = 0; i < n; i++)
            if ((rc = key_apply(h, txn, fx, &k[i], ev, (int64_t)learn, stamp, c)) != 0)
                return rc < 0 ? rc : -rc;
        c->applied++;
    }
    rc = cursor_put(h, txn, node, service, ev);
    return rc ? -rc : 0;
}
