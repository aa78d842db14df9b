/* monitor_agg: per-month aggregates (see monitor_agg.h). */
#include "monitor_agg.h"

#include "cpm_err.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 200 /* group NUL YYYYMM dim value */
#define DELTAS_MAX 160

typedef struct {
    char key[KEY_MAX];
    size_t len;
    int64_t d;
} delta_t;

typedef struct {
    delta_t v[DELTAS_MAX];
    size_t n;
    const char *groups[3];
    size_t n_groups;
    char gbuf[2][MON_KEY + MON_GEN + 4];
    char pfx[3][MON_KEY + MON_GEN + 12]; /* group NUL YYYYMM, per group (set_month) */
    size_t pfx_len[3];
    uint16_t order[DELTAS_MAX];
} deltas_t;

static void groups_of(deltas_t *ds, const char *agency, const char *gen, const char *area)
{
    ds->groups[0] = "c";
    ds->n_groups = 1;
    if (*agency) { /* an agency query compares with strcmp: "" never matches one */
        snprintf(ds->gbuf[0], sizeof ds->gbuf[0], "g:%s", agency);
        ds->groups[ds->n_groups++] = ds->gbuf[0];
    }
    if (*area) {
        snprintf(ds->gbuf[1], sizeof ds->gbuf[1], "a:%s:%s", gen, area);
        ds->groups[ds->n_groups++] = ds->gbuf[1];
    }
}

/* v as exactly digits decimal digits (v >= 0 and small enough). */
static void digits_of(char *out, int64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + (v < 0 ? 0 : v % 10));
}

static size_t prefix(char *k, const char *group, int32_t ym)
{
    size_t g = strlen(group);
    memcpy(k, group, g + 1); /* with its NUL */
    digits_of(k + g + 1, ym, 6);
    return g + 7;
}

/* The prefixes of the groups for month ym (set once per fact: emit copies them). */
static void set_month(deltas_t *ds, int32_t ym)
{
    for (size_t i = 0; i < ds->n_groups; i++)
        ds->pfx_len[i] = prefix(ds->pfx[i], ds->groups[i], ym);
}

/* d added under (every group, the month, dim, value). */
static void emit(deltas_t *ds, char dim, const char *value, int64_t d)
{
    if (d == 0)
        return;
    size_t vl = strlen(value);
    for (size_t i = 0; i < ds->n_groups && ds->n < DELTAS_MAX; i++) {
        delta_t *x = &ds->v[ds->n];
        size_t p = ds->pfx_len[i];
        size_t w = vl < KEY_MAX - p - 2 ? vl : KEY_MAX - p - 2;
        memcpy(x->key, ds->pfx[i], p);
        x->key[p] = dim;
        memcpy(x->key + p + 1, value, w);
        x->len = p + 1 + w;
        x->d = d;
        ds->n++;
    }
}

static void emit_n(deltas_t *ds, char dim, int64_t v, int digits, int64_t d)
{
    char b[24];
    digits_of(b, v, digits);
    b[digits] = 0;
    emit(ds, dim, b, d);
}

/* The contribution of c times sign: what mon_acc_case counts, per group. */
static void case_deltas(deltas_t *ds, const mon_cal_t *cal, const mon_case_t *c, int64_t sign)
{
    if (!c || c->received_ms == 0)
        return;
    groups_of(ds, c->agency, c->gen, c->area);
    set_month(ds, mon_month_of(c->received_ms));
    emit(ds, 'n', "received", sign);
    emit(ds, 'c', *c->channel ? c->channel : "(none)", sign);
    emit(ds, 'k', *c->category ? c->category : "(none)", sign);
    char ak[MON_KEY + MON_GEN + 1];
    snprintf(ak, sizeof ak, "%s%s%s", c->gen, *c->gen ? ":" : "", c->area);
    emit(ds, 'w', *ak ? ak : "(none)", sign);
    emit(ds, 'n', "refused", c->refused ? sign : 0);
    emit(ds, 'n', "returned", c->returned ? sign : 0);
    emit(ds, 'n', "transferred", c->transferred ? sign : 0);
    if (c->outcome < MON_OUTCOMES && c->resolved_ms)
        emit_n(ds, 'x', c->outcome, 1, sign);
    if (c->accepted_ms) {
        int32_t d = mon_cal_between(cal, c->received_ms, c->accepted_ms);
        emit(ds, 'n', "accepted", sign);
        emit_n(ds, 'a', d, 4, sign);
        if (c->accept_days > 0) {
            emit(ds, 'n', "accept_timed", sign);
            emit(ds, 'n', "accept_on_time", d <= c->accept_days ? sign : 0);
        }
    } else if (!c->closed && c->accept_days > 0) {
        int32_t od = mon_cal_overdue_day(cal, c->received_ms, c->accept_days);
        if (od >= 0)
            emit_n(ds, 'd', od, 6, sign);
    }
    if (c->resolved_ms) {
        int32_t d = mon_cal_between(cal, c->received_ms, c->resolved_ms);
        emit(ds, 'n', "resolved", sign);
        emit_n(ds, 'r', d, 4, sign);
        int64_t start = c->accepted_ms ? c->accepted_ms : c->received_ms;
        if (c->resolve_days > 0) {
            emit(ds, 'n', "resolve_timed", sign);
            emit(ds, 'n', "resolve_on_time",
                 mon_cal_between(cal, start, c->resolved_ms) <= c->resolve_days ? sign : 0);
        }
        emit(ds, 'n', "case_fines_vnd", sign * c->fine_vnd);
    } else if (c->accepted_ms && !c->closed && c->resolve_days > 0) {
        int32_t od = mon_cal_overdue_day(cal, c->accepted_ms, c->resolve_days);
        if (od >= 0)
            emit_n(ds, 'd', od, 6, sign);
    }
    emit(ds, 'n', "open", c->closed ? 0 : sign);
}

static int cmp_delta(const delta_t *a, const delta_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->key, b->key, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int cmp_order(const void *x, const void *y, void *arg)
{
    const delta_t *v = arg;
    return cmp_delta(&v[*(const uint16_t *)x], &v[*(const uint16_t *)y]);
}

/* Add the deltas (equal keys merged first, so an event that changes little
 * writes little). */
static int store_deltas(cpm_store_t *st, MDB_txn *txn, deltas_t *ds)
{
    for (size_t i = 0; i < ds->n; i++)
        ds->order[i] = (uint16_t)i;
    qsort_r(ds->order, ds->n, sizeof *ds->order, cmp_order, ds->v);
    MDB_dbi dbi = cpm_store_dbi(st, MONITOR_AGG_DB);
    for (size_t i = 0; i < ds->n;) {
        int64_t d = 0;
        size_t j = i;
        const delta_t *first = &ds->v[ds->order[i]];
        for (; j < ds->n && cmp_delta(first, &ds->v[ds->order[j]]) == 0; j++)
            d += ds->v[ds->order[j]].d;
        if (d != 0) {
            MDB_val k = {first->len, (void *)first->key}, v;
            int64_t cur = 0;
            int rc = mdb_get(txn, dbi, &k, &v);
            if (rc == 0 && v.mv_size == sizeof cur)
                memcpy(&cur, v.mv_data, sizeof cur);
            else if (rc != 0 && rc != MDB_NOTFOUND)
                return cpm_store_err(rc);
            cur += d;
            if (cur == 0)
                rc = cpm_store_mdb_del(st, txn, dbi, &k);
            else {
                v.mv_size = sizeof cur, v.mv_data = &cur;
                rc = cpm_store_mdb_put(st, txn, dbi, &k, &v, 0);
            }
            if (rc != 0)
                return cpm_store_err(rc);
        }
        i = j;
    }
    return 0;
}

/* "mon_bytime": 'c' or 'r', the time (8 bytes big-endian), the fact's key. */
static size_t time_key(uint8_t *k, char tag, int64_t at, const void *key, size_t klen)
{
    uint64_t t = (uint64_t)(at < 0 ? 0 : at);
    k[0] = (uint8_t)tag;
    for (int i = 0; i < 8; i++)
        k[1 + i] = (uint8_t)(t >> (56 - 8 * i));
    memcpy(k + 9, key, klen);
    return 9 + klen;
}

static int index_put(cpm_store_t *st, MDB_txn *txn, char tag, int64_t at, const void *key,
                     size_t klen, bool del)
{
    uint8_t k[9 + KEY_MAX];
    if (klen > KEY_MAX)
        return 0; /* never: tickets and record keys are shorter */
    MDB_val kv = {time_key(k, tag, at, key, klen), k}, v = {0, ""};
    int rc = del ? cpm_store_mdb_del(st, txn, cpm_store_dbi(st, MONITOR_TIME_DB), &kv)
                 : cpm_store_mdb_put(st, txn, cpm_store_dbi(st, MONITOR_TIME_DB), &kv, &v, 0);
    return rc == 0 || (del && rc == MDB_NOTFOUND) ? 0 : cpm_store_err(rc);
}

int monitor_agg_case(cpm_store_t *st, MDB_txn *txn, const mon_cal_t *cal, const mon_case_t *old,
                     const mon_case_t *neu)
{
    /* The index by time received follows the fact. */
    int64_t was = old ? old->received_ms : 0;
    if (was && was != neu->received_ms) {
        int rc = index_put(st, txn, 'c', was, old->ticket, strlen(old->ticket), true);
        if (rc != 0)
            return rc;
    }
    if (neu->received_ms && was != neu->received_ms) {
        int rc = index_put(st, txn, 'c', neu->received_ms, neu->ticket, strlen(neu->ticket), false);
        if (rc != 0)
            return rc;
    }
    deltas_t *ds = malloc(sizeof *ds); /* not zeroed: 35 KiB per event */
    if (!ds)
        return CPM_E_INTERNAL;
    ds->n = 0;
    case_deltas(ds, cal, old, -1);
    case_deltas(ds, cal, neu, 1);
    int rc = store_deltas(st, txn, ds);
    free(ds);
    return rc;
}

int monitor_agg_rec(cpm_store_t *st, MDB_txn *txn, const void *key, size_t klen, const mon_rec_t *r)
{
    int irc = index_put(st, txn, 'r', r->at_ms, key, klen, false);
    if (irc != 0)
        return irc;
    deltas_t *ds = malloc(sizeof *ds); /* not zeroed: 35 KiB per event */
    if (!ds)
        return CPM_E_INTERNAL;
    ds->n = 0;
    groups_of(ds, r->agency, r->gen, r->area);
    set_month(ds, mon_month_of(r->at_ms));
    switch (r->kind) {
    case MON_REC_CONSULTATION:
        emit(ds, 'n', "consultations", 1);
        break;
    case MON_REC_INSPECTION:
        emit(ds, 'n', "inspections", 1);
        break;
    case MON_REC_VIOLATION:
        emit(ds, 'n', "violations", 1);
        emit(ds, 'n', "fines_vnd", r->fine_vnd);
        break;
    }
    int rc = store_deltas(st, txn, ds);
    free(ds);
    return rc;
}

bool monitor_agg_ready(cpm_store_t *st, MDB_txn *txn)
{
    uint64_t v = 0;
    return cpm_store_get_u64(st, txn, MONITOR_AGG_KEY, &v) == 0 && v == MONITOR_AGG_VERSION;
}

int monitor_agg_rebuild(cpm_store_t *st, MDB_txn *txn, const mon_cal_t *cal, monitor_agg_pos_t *pos,
                        long budget)
{
    int rc;
    if (pos->stage == 0) { /* whatever an older build left is not trusted */
        if ((rc = cpm_store_mdb_drop(st, txn, cpm_store_dbi(st, MONITOR_AGG_DB))) != 0 ||
            (rc = cpm_store_mdb_drop(st, txn, cpm_store_dbi(st, MONITOR_TIME_DB))) != 0)
            return cpm_store_err(rc);
        pos->stage = 1, pos->klen = 0;
    }
    while (pos->stage < 3 && budget > 0) {
        const char *db = pos->stage == 1 ? "mon_cases" : "mon_recs";
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, cpm_store_dbi(st, db), &cur)) != 0)
            return cpm_store_err(rc);
        MDB_val k = {pos->klen, pos->key}, v;
        int mrc = pos->klen ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                            : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (mrc == 0 && pos->klen && k.mv_size == pos->klen &&
            !memcmp(k.mv_data, pos->key, pos->klen)) /* done in the last step */
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        rc = 0;
        for (; mrc == 0 && budget > 0 && rc == 0; budget--) {
            if (pos->stage == 1 && v.mv_size == sizeof(mon_case_t)) {
                mon_case_t c;
                memcpy(&c, v.mv_data, sizeof c);
                rc = monitor_agg_case(st, txn, cal, NULL, &c);
            } else if (pos->stage == 2 && v.mv_size == sizeof(mon_rec_t)) {
                mon_rec_t x;
                memcpy(&x, v.mv_data, sizeof x);
                rc = monitor_agg_rec(st, txn, k.mv_data, k.mv_size, &x);
            }
            if (k.mv_size <= sizeof pos->key) {
                memcpy(pos->key, k.mv_data, k.mv_size);
                pos->klen = k.mv_size;
            }
            if (budget > 1) /* else the next step goes on from pos */
                mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (rc != 0)
            return rc;
        if (mrc != 0 && mrc != MDB_NOTFOUND)
            return cpm_store_err(mrc);
        if (mrc == MDB_NOTFOUND)
            pos->stage++, pos->klen = 0;
    }
    if (pos->stage < 3)
        return 0;
    rc = cpm_store_put_u64(st, txn, MONITOR_AGG_KEY, MONITOR_AGG_VERSION);
    return rc ? rc : 1;
}

bool monitor_agg_covers(const mon_query_t *q)
{
    bool agency = q->agency && *q->agency;
    if (agency && q->areas)
        return false;
    int32_t a = mon_month_of(q->from_ms), b = mon_month_of(q->to_ms);
    return mon_month_start(a) == q->from_ms && mon_month_start(b) == q->to_ms && a < b;
}

static int32_t next_month(int32_t ym)
{
    return ym % 100 == 12 ? (ym / 100 + 1) * 100 + 1 : ym + 1;
}

#define F(name)                                                                                    \
    {                                                                                              \
#name, offsetof(mon_eff_t, name)                                                           \
    }
static const struct {
    const char *name;
    size_t off;
} FIELDS[] = {
    F(received),        F(accepted),      F(refused),      F(returned),       F(transferred),
    F(resolved),        F(open),          F(accept_timed), F(accept_on_time), F(resolve_timed),
    F(resolve_on_time), F(consultations), F(inspections),  F(violations),     F(fines_vnd),
    F(case_fines_vnd)};
#undef F

static void add_key(mon_acc_t *a, int32_t today, char dim, const char *val, int64_t n)
{
    mon_eff_t *e = mon_acc_eff(a);
    if (dim == 'n') {
        for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
            if (!strcmp(FIELDS[i].name, val)) {
                /* every field named is 64 bits; fines are signed, counts never negative */
                int64_t cur;
                memcpy(&cur, (char *)e + FIELDS[i].off, sizeof cur);
                cur += n;
                memcpy((char *)e + FIELDS[i].off, &cur, sizeof cur);
            }
    } else if (dim == 'x') {
        unsigned o = (unsigned)atoi(val);
        if (o < MON_OUTCOMES)
            e->outcomes[o] += (uint64_t)n;
    } else if (dim == 'a' || dim == 'r') {
        mon_acc_hist(a, dim == 'r', atoi(val), (uint64_t)n);
    } else if (dim == 'd') {
        if (atoi(val) <= today)
            e->overdue_now += (uint64_t)n;
    } else {
        mon_acc_key(a, dim, val, (uint64_t)n);
    }
}

/* Every key of group in month ym. */
static int add_month(MDB_cursor *cur, mon_acc_t *a, int32_t today, const char *group, int32_t ym)
{
    char p[KEY_MAX];
    size_t plen = prefix(p, group, ym);
    MDB_val k = {plen, p}, v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= plen || memcmp(k.mv_data, p, plen) || v.mv_size != sizeof(int64_t))
            break;
        char val[KEY_MAX];
        size_t vl = k.mv_size - plen - 1;
        if (vl >= sizeof val)
            continue;
        memcpy(val, (const char *)k.mv_data + plen + 1, vl);
        val[vl] = 0;
        int64_t n;
        memcpy(&n, v.mv_data, sizeof n);
        add_key(a, today, ((const char *)k.mv_data)[plen], val, n);
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : cpm_store_err(rc);
}

/* Add the aggregates of q's groups for months [ym, end) to a. */
static int add_months(cpm_store_t *st, MDB_txn *txn, const mon_query_t *q, mon_acc_t *a,
                      int32_t ym0, int32_t end)
{
    /* The groups: one, or an area's (gen, slug) pairs plus, once per slug,
     * the facts that have no generation (area_match lets them match any). */
    size_t ng = q->areas ? 2 * q->n_areas : 1;
    char(*groups)[MON_KEY + MON_GEN + 4] = calloc(ng ? ng : 1, sizeof *groups);
    if (!groups)
        return -1;
    size_t n = 0;
    if (q->agency && *q->agency)
        snprintf(groups[n++], sizeof groups[0], "g:%s", q->agency);
    else if (!q->areas)
        snprintf(groups[n++], sizeof groups[0], "c");
    for (size_t i = 0; q->areas && i < q->n_areas; i++) {
        snprintf(groups[n++], sizeof groups[0], "a:%s:%s", q->areas[i].gen, q->areas[i].slug);
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen = seen || !strcmp(q->areas[j].slug, q->areas[i].slug);
        if (!seen)
            snprintf(groups[n++], sizeof groups[0], "a::%s", q->areas[i].slug);
    }
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, MONITOR_AGG_DB), &cur);
    if (rc != 0) {
        free(groups);
        return cpm_store_err(rc);
    }
    int32_t today = mon_day_of(q->now_ms);
    for (size_t g = 0; g < n && rc == 0; g++)
        for (int32_t ym = ym0; ym < end && rc == 0; ym = next_month(ym))
            rc = add_month(cur, a, today, groups[g], ym);
    mdb_cursor_close(cur);
    free(groups);
    return rc;
}

int monitor_agg_compute(cpm_store_t *st, MDB_txn *txn, const mon_cal_t *cal, const mon_query_t *q,
                        mon_eff_t *out)
{
    mon_acc_t *a = mon_acc_new(cal, q);
    if (!a)
        return -1;
    int rc = add_months(st, txn, q, a, mon_month_of(q->from_ms), mon_month_of(q->to_ms));
    mon_acc_finish(&a, out);
    return rc;
}

/* Each fact of one tag in [from, to) of the time index, looked up in db. */
static int walk(cpm_store_t *st, MDB_txn *txn, char tag, const char *db, int64_t from, int64_t to,
                mon_acc_t *a)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, MONITOR_TIME_DB), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    uint8_t start[9];
    time_key(start, tag, from, "", 0);
    MDB_val k = {sizeof start, start}, v;
    MDB_dbi facts = cpm_store_dbi(st, db);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *b = k.mv_data;
        if (k.mv_size < 9 || b[0] != (uint8_t)tag)
            break;
        uint64_t t = 0;
        for (int i = 0; i < 8; i++)
            t = t << 8 | b[1 + i];
        if ((int64_t)t >= to)
            break;
        MDB_val fk = {k.mv_size - 9, (void *)(b + 9)}, fv;
        int g = mdb_get(txn, facts, &fk, &fv);
        if (g == MDB_NOTFOUND)
            continue;
        if (g != 0) {
            rc = g;
            break;
        }
        if (tag == 'c' && fv.mv_size == sizeof(mon_case_t)) {
            mon_case_t c;
            memcpy(&c, fv.mv_data, sizeof c);
            mon_acc_case(a, &c);
        } else if (tag == 'r' && fv.mv_size == sizeof(mon_rec_t)) {
            mon_rec_t x;
            memcpy(&x, fv.mv_data, sizeof x);
            mon_acc_rec(a, &x);
        }
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : cpm_store_err(rc);
}

int monitor_agg_scan(cpm_store_t *st, MDB_txn *txn, const mon_cal_t *cal, const mon_query_t *q,
                     mon_eff_t *out)
{
    mon_acc_t *a = mon_acc_new(cal, q);
    if (!a)
        return -1;
    /* The whole months inside the period from the aggregates (when q has
     * groups for them), the days before and after by walking. */
    int64_t m1 = q->from_ms, m2 = q->from_ms;
    if (!(q->agency && *q->agency && q->areas)) {
        int32_t first = mon_month_of(q->from_ms), last = mon_month_of(q->to_ms);
        if (mon_month_start(first) < q->from_ms)
            first = next_month(first);
        if (first < last) {
            m1 = mon_month_start(first), m2 = mon_month_start(last);
        }
    }
    int rc = 0;
    int64_t from[2] = {q->from_ms, m2}, to[2] = {m1, q->to_ms};
    for (int i = 0; i < 2 && rc == 0; i++)
        if (from[i] < to[i] && (rc = walk(st, txn, 'c', "mon_cases", from[i], to[i], a)) == 0)
            rc = walk(st, txn, 'r', "mon_recs", from[i], to[i], a);
    if (rc == 0 && m1 < m2)
        rc = add_months(st, txn, q, a, mon_month_of(m1), mon_month_of(m2));
    mon_acc_finish(&a, out);
    return rc;
}
