/* monitor_triage: see monitor_triage.h. */
#include "monitor_triage.h"

#include "cpm_err.h"
#include "cpm_text.h"
#include "monitor_eff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLUG 64        /* category slugs, bytes incl. NUL */
#define PAIRS_MAX 4096 /* 64 categories x 64: the rules allow no more */

/* What a ticket's later choice needs to know. */
typedef struct {
    uint32_t version;
    uint8_t model;   /* intake routed it by the model's suggestion */
    uint8_t counted; /* the choice counted: 0 none, 1 equal, 2 different, 3 without suggestion */
    uint8_t changed; /* counted in model_routed_changed */
    uint8_t pad;
    int32_t month; /* of the choice counted */
    char suggested[SLUG], chosen[SLUG];
} tri_case_t;
#define TRI_CASE_VERSION 1

enum { C_EQUAL = 1, C_DIFFERENT, C_WITHOUT };

/* A category slug as the counters may hold it: anything else reads "?". */
static const char *slug(const char *s)
{
    if (!s || !*s)
        return "";
    return strlen(s) < SLUG && cpm_text_slug_valid(s) ? s : "?";
}

static int bump_key(cpm_store_t *st, MDB_txn *txn, const char *key, int64_t d)
{
    const void *v;
    size_t n;
    int64_t cur = 0;
    int rc = cpm_store_get(st, txn, MONITOR_TRIAGE_DB, key, strlen(key), &v, &n);
    if (rc == 0 && n == sizeof cur)
        memcpy(&cur, v, sizeof cur);
    else if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return rc;
    cur += d;
    if (cur <= 0) /* a count back at 0 leaves no key behind */
        return rc == CPM_E_NOT_FOUND ? 0
                                     : cpm_store_del(st, txn, MONITOR_TRIAGE_DB, key, strlen(key));
    return cpm_store_put(st, txn, MONITOR_TRIAGE_DB, key, strlen(key), &cur, sizeof cur);
}

static int bump(cpm_store_t *st, MDB_txn *txn, int32_t ym, const char *name, int64_t d)
{
    char key[64];
    snprintf(key, sizeof key, "%06d|n|%s", (int)ym, name);
    return bump_key(st, txn, key, d);
}

static int bump_pair(cpm_store_t *st, MDB_txn *txn, int32_t ym, const char *sugg,
                     const char *chosen, int64_t d)
{
    char key[2 * SLUG + 16];
    snprintf(key, sizeof key, "%06d|p|%s|%s", (int)ym, sugg, chosen);
    return bump_key(st, txn, key, d);
}

static int get_case(cpm_store_t *st, MDB_txn *txn, const char *ticket, tri_case_t *c, bool *found)
{
    const void *v;
    size_t n;
    memset(c, 0, sizeof *c);
    c->version = TRI_CASE_VERSION;
    *found = false;
    int rc = cpm_store_get(st, txn, MONITOR_TRIAGE_CASES_DB, ticket, strlen(ticket), &v, &n);
    if (rc == CPM_E_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (n == sizeof *c)
        memcpy(c, v, sizeof *c), *found = true;
    return 0;
}

/* Is the per-ticket memory at cases_max? It only grows (nothing is swept
 * or evicted), so a ticket not remembered once it is full never was. */
static bool cases_full(cpm_store_t *st, MDB_txn *txn, uint64_t cases_max)
{
    MDB_stat ms;
    return mdb_stat(txn, cpm_store_dbi(st, MONITOR_TRIAGE_CASES_DB), &ms) == 0 &&
           ms.ms_entries >= cases_max;
}

/* Keep c for ticket unless that would pass cases_max. */
static int put_case(cpm_store_t *st, MDB_txn *txn, uint64_t cases_max, const char *ticket,
                    const tri_case_t *c, bool found, bool *full)
{
    if (!found && cases_full(st, txn, cases_max)) {
        if (full)
            *full = true;
        return 0;
    }
    return cpm_store_put(st, txn, MONITOR_TRIAGE_CASES_DB, ticket, strlen(ticket), c, sizeof *c);
}

static int on_received(cpm_store_t *st, MDB_txn *txn, uint64_t cases_max, const Cpm__Event *ev,
                       bool *full)
{
    int32_t ym = mon_month_of(ev->at_ms);
    const char *sugg = slug(ev->suggested);
    bool model = ev->category_by && !strcmp(ev->category_by, "model");
    bool open = !ev->category || !*ev->category || !strcmp(ev->category, "other");
    int rc;
    if (*sugg) {
        rc = bump(st, txn, ym, "suggestions", 1);
        if (rc == 0)
            rc = bump(st, txn, ym, model ? "routed_by_model" : "to_triage", 1);
    } else if (model) /* routed by a suggestion the event does not name: still the model's */
        rc = bump(st, txn, ym, "routed_by_model", 1);
    else
        rc = open ? bump(st, txn, ym, "unknown", 1) : 0;
    if (rc != 0 || !model)
        return rc; /* only a model-routed case needs remembering until its choice */
    tri_case_t c;
    bool found;
    if ((rc = get_case(st, txn, ev->ticket, &c, &found)) != 0)
        return rc;
    c.model = 1;
    snprintf(c.suggested, sizeof c.suggested, "%s", sugg);
    return put_case(st, txn, cases_max, ev->ticket, &c, found, full);
}

/* Add (d 1) or take back (d -1) a choice's contribution. */
static int choice(cpm_store_t *st, MDB_txn *txn, const tri_case_t *c, int64_t d)
{
    int rc = 0;
    if (c->counted == C_EQUAL)
        rc = bump(st, txn, c->month, "chosen_equal", d);
    else if (c->counted == C_WITHOUT)
        rc = bump(st, txn, c->month, "chosen_without_suggestion", d);
    else if (c->counted == C_DIFFERENT &&
             (rc = bump(st, txn, c->month, "chosen_different", d)) == 0)
        rc = bump_pair(st, txn, c->month, c->suggested, c->chosen, d);
    if (rc == 0 && c->changed)
        rc = bump(st, txn, c->month, "model_routed_changed", d);
    return rc;
}

static int on_categorized(cpm_store_t *st, MDB_txn *txn, uint64_t cases_max, const Cpm__Event *ev,
                          bool *full)
{
    tri_case_t c;
    bool found;
    int rc = get_case(st, txn, ev->ticket, &c, &found);
    if (rc == 0 && !found && cases_full(st, txn, cases_max)) {
        /* Counted among the choices it could not be taken back by a later
         * choice of the same ticket (counted twice): such choices count
         * apart, once per event, and the choices stay one per case. */
        if (full)
            *full = true;
        return bump(st, txn, mon_month_of(ev->at_ms), "chosen_unremembered", 1);
    }
    if (rc == 0 && c.counted) /* the latest choice replaces the one counted */
        rc = choice(st, txn, &c, -1);
    if (rc != 0)
        return rc;
    const char *sugg = slug(ev->suggested), *chosen = slug(ev->category);
    c.month = mon_month_of(ev->at_ms);
    snprintf(c.suggested, sizeof c.suggested, "%s", sugg);
    snprintf(c.chosen, sizeof c.chosen, "%s", chosen);
    c.counted = !*sugg ? C_WITHOUT : !strcmp(sugg, chosen) ? C_EQUAL : C_DIFFERENT;
    c.changed = c.model && c.counted == C_DIFFERENT;
    if ((rc = choice(st, txn, &c, 1)) != 0)
        return rc;
    return put_case(st, txn, cases_max, ev->ticket, &c, found, full);
}

int monitor_triage_apply(cpm_store_t *st, MDB_txn *txn, uint64_t cases_max, const char *service,
                         const Cpm__Event *ev, bool *full)
{
    if (full)
        *full = false;
    if (!ev->kind || !ev->ticket || !*ev->ticket || strlen(ev->ticket) >= 128)
        return 0;
    if (!strcmp(ev->kind, "complaint.received") && !strcmp(service, "intake"))
        return on_received(st, txn, cases_max, ev, full);
    if (!strcmp(ev->kind, "case.categorized") && !strcmp(service, "routing"))
        return on_categorized(st, txn, cases_max, ev, full);
    return 0;
}

/* ---- the query -------------------------------------------------------------- */

static int32_t next_month(int32_t ym)
{
    return ym % 100 == 12 ? (ym / 100 + 1) * 100 + 1 : ym + 1;
}

static Cpm__TriageCounts *counts_new(int32_t ym)
{
    Cpm__TriageCounts *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    cpm__triage_counts__init(t);
    char m[16] = "";
    if (ym)
        snprintf(m, sizeof m, "%04d-%02d", (int)(ym / 100), (int)(ym % 100));
    if (!(t->month = strdup(m))) {
        free(t);
        return NULL;
    }
    return t;
}

static void counts_add(Cpm__TriageCounts *t, const char *name, uint64_t n)
{
    struct {
        const char *name;
        uint64_t *v;
    } f[] = {{"suggestions", &t->suggestions},
             {"routed_by_model", &t->routed_by_model},
             {"to_triage", &t->to_triage},
             {"unknown", &t->unknown},
             {"chosen_equal", &t->chosen_equal},
             {"chosen_different", &t->chosen_different},
             {"chosen_without_suggestion", &t->chosen_without_suggestion},
             {"model_routed_changed", &t->model_routed_changed},
             {"chosen_unremembered", &t->chosen_unremembered}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (!strcmp(name, f[i].name))
            *f[i].v += n;
}

static int pair_add(Cpm__TriageStatsReply *r, const char *sugg, const char *chosen, uint64_t n)
{
    for (size_t i = 0; i < r->n_pairs; i++)
        if (!strcmp(r->pairs[i]->suggested, sugg) && !strcmp(r->pairs[i]->chosen, chosen)) {
            r->pairs[i]->count += n;
            return 0;
        }
    if (r->n_pairs >= PAIRS_MAX)
        return 0; /* cannot happen with the rules' categories; never unbounded */
    Cpm__TriagePair **g = realloc(r->pairs, (r->n_pairs + 1) * sizeof *g);
    if (!g)
        return -1;
    r->pairs = g;
    Cpm__TriagePair *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    cpm__triage_pair__init(p);
    p->suggested = strdup(sugg);
    p->chosen = strdup(chosen);
    p->count = n;
    r->pairs[r->n_pairs++] = p;
    return p->suggested && p->chosen ? 0 : -1;
}

static int by_count(const void *a, const void *b)
{
    const Cpm__TriagePair *x = *(Cpm__TriagePair *const *)a, *y = *(Cpm__TriagePair *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    int c = strcmp(x->suggested, y->suggested);
    return c ? c : strcmp(x->chosen, y->chosen);
}

/* One stored key of a month in range: into its month's row, the total and
 * the pairs. */
static int take(Cpm__TriageStatsReply *r, int32_t ym, const char *rest, uint64_t n)
{
    const char *lm = r->n_months ? r->months[r->n_months - 1]->month : NULL;
    if (!lm || atoi(lm) * 100 + atoi(lm + 5) != ym) {
        Cpm__TriageCounts **g = realloc(r->months, (r->n_months + 1) * sizeof *g);
        if (!g)
            return -1;
        r->months = g;
        if (!(r->months[r->n_months] = counts_new(ym)))
            return -1;
        r->n_months++;
    }
    if (!strncmp(rest, "n|", 2)) {
        counts_add(r->months[r->n_months - 1], rest + 2, n);
        counts_add(r->total, rest + 2, n);
        return 0;
    }
    if (strncmp(rest, "p|", 2) != 0)
        return 0;
    char sugg[SLUG] = "";
    const char *bar = strchr(rest + 2, '|');
    if (!bar || (size_t)(bar - rest - 2) >= sizeof sugg)
        return 0;
    memcpy(sugg, rest + 2, (size_t)(bar - rest - 2));
    return pair_add(r, sugg, bar + 1, n);
}

int monitor_triage_stats(cpm_store_t *st, MDB_txn *txn, int64_t from_ms, int64_t to_ms,
                         int64_t now_ms, Cpm__TriageStatsReply **out)
{
    *out = NULL;
    if (to_ms <= 0)
        to_ms = now_ms;
    if (from_ms < 0 || to_ms <= from_ms)
        return CPM_E_INVALID;
    int32_t first = from_ms > 0 ? mon_month_of(from_ms) : 0, last = mon_month_of(to_ms - 1);
    Cpm__TriageStatsReply *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    cpm__triage_stats_reply__init(r);
    *out = r;
    if (!(r->total = counts_new(0)))
        return -1;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, MONITOR_TRIAGE_DB), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    char start[16];
    snprintf(start, sizeof start, "%06d|", (int)first);
    MDB_val k = {strlen(start), start}, v;
    int mrc;
    rc = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && rc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char key[2 * SLUG + 16];
        if (k.mv_size < 8 || k.mv_size >= sizeof key || v.mv_size != sizeof(int64_t))
            continue;
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = 0;
        int32_t ym = (int32_t)atoi(key);
        if (ym > last)
            break;
        int64_t n;
        memcpy(&n, v.mv_data, sizeof n);
        if (n > 0)
            rc = take(r, ym, key + 7, (uint64_t)n);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = cpm_store_err(mrc);
    if (rc != 0)
        return rc;
    if (r->n_pairs > 1)
        qsort(r->pairs, r->n_pairs, sizeof *r->pairs, by_count);
    if (!first && r->n_months) /* from the first month counted */
        first = (int32_t)(atoi(r->months[0]->month) * 100 + atoi(r->months[0]->month + 5));
    r->from_ms = first ? mon_month_start(first) : 0;
    r->to_ms = mon_month_start(next_month(last));
    uint64_t judged = r->total->chosen_equal + r->total->chosen_different;
    r->accuracy_known = judged > 0;
    r->accuracy_pm = judged ? (uint32_t)((r->total->chosen_equal * 1000 + judged / 2) / judged) : 0;
    return 0;
}

void monitor_triage_free(Cpm__TriageStatsReply **r)
{
    if (*r)
        cpm__triage_stats_reply__free_unpacked(*r, NULL);
    *r = NULL;
}
