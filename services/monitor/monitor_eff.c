/* monitor_eff: effectiveness figures (see monitor_eff.h). */
#include "monitor_eff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define VN_OFFSET_MS (7 * 3600000LL)
#define DAYS_MAX 4096 /* a longer time is counted in the last bucket */

struct mon_cal {
    int32_t day0;
    size_t n;
    uint32_t *prefix; /* prefix[i]: working days in [day0, day0 + i) */
};

mon_cal_t *mon_cal_new(int32_t day0, size_t n, bool (*is_working)(void *arg, int32_t day),
                       void *arg)
{
    mon_cal_t *c = calloc(1, sizeof *c);
    if (!c || !(c->prefix = calloc(n + 1, sizeof *c->prefix))) {
        free(c);
        return NULL;
    }
    c->day0 = day0, c->n = n;
    for (size_t i = 0; i < n; i++)
        c->prefix[i + 1] = c->prefix[i] + (is_working(arg, day0 + (int32_t)i) ? 1 : 0);
    return c;
}

void mon_cal_destroy(mon_cal_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->prefix);
    free(*p);
    *p = NULL;
}

int32_t mon_day_of(int64_t ms)
{
    int64_t v = ms + VN_OFFSET_MS;
    return (int32_t)(v >= 0 ? v / DAY_MS : -((-v + DAY_MS - 1) / DAY_MS));
}

/* Working days in [day0, day). */
static uint32_t upto(const mon_cal_t *c, int32_t day)
{
    if (day <= c->day0)
        return 0;
    size_t i = (size_t)(day - c->day0);
    return c->prefix[i > c->n ? c->n : i];
}

int32_t mon_cal_between(const mon_cal_t *c, int64_t a_ms, int64_t b_ms)
{
    int32_t a = mon_day_of(a_ms), b = mon_day_of(b_ms);
    if (b <= a)
        return 0;
    /* days a+1 .. b inclusive */
    return (int32_t)(upto(c, b + 1) - upto(c, a + 1));
}

int32_t mon_cal_overdue_day(const mon_cal_t *c, int64_t start_ms, int32_t days)
{
    int32_t a = mon_day_of(start_ms);
    uint32_t want = upto(c, a + 1) + (uint32_t)(days < 0 ? 0 : days) + 1;
    int32_t lo = a + 1, hi = c->day0 + (int32_t)c->n - 1;
    if (hi < lo || upto(c, hi + 1) < want)
        return -1;
    while (lo < hi) { /* the first d in [lo, hi] with upto(d + 1) >= want */
        int32_t mid = lo + (hi - lo) / 2;
        if (upto(c, mid + 1) >= want)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int64_t civil_days(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t vn_ms(int y, unsigned m, unsigned d)
{
    return civil_days(y, m, d) * DAY_MS - VN_OFFSET_MS;
}

int32_t mon_month_of(int64_t ms)
{
    /* days to civil (the inverse of civil_days) */
    int64_t z = (int64_t)mon_day_of(ms) + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return (int32_t)((y + (m <= 2)) * 100 + m);
}

int64_t mon_month_start(int32_t ym)
{
    return vn_ms(ym / 100, (unsigned)(ym % 100), 1);
}

static int parse_date(const char *s, size_t len, int64_t *ms)
{
    int y;
    unsigned m, d;
    char tail;
    char buf[16];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    if (sscanf(buf, "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3 || y < 1970 || y > 9999 || m < 1 ||
        m > 12 || d < 1 || d > 31)
        return -1;
    *ms = vn_ms(y, m, d);
    return 0;
}

int mon_period_parse(const char *s, int64_t *from_ms, int64_t *to_ms)
{
    if (!s)
        return -1;
    const char *dots = strstr(s, "..");
    if (dots) {
        if (parse_date(s, (size_t)(dots - s), from_ms) != 0 ||
            parse_date(dots + 2, strlen(dots + 2), to_ms) != 0 || *to_ms <= *from_ms)
            return -1;
        return 0;
    }
    int y, n = 0;
    unsigned m, q;
    char tail;
    if (sscanf(s, "%4d%n", &y, &n) == 1 && n == 4 && s[4] == 0 && y >= 1970 && y < 9999) {
        *from_ms = vn_ms(y, 1, 1), *to_ms = vn_ms(y + 1, 1, 1);
        return 0;
    }
    if (sscanf(s, "%4d-Q%1u%c", &y, &q, &tail) == 2 && strlen(s) == 7 && q >= 1 && q <= 4 &&
        y >= 1970 && y < 9999) {
        *from_ms = vn_ms(y, 3 * q - 2, 1);
        *to_ms = q == 4 ? vn_ms(y + 1, 1, 1) : vn_ms(y, 3 * q + 1, 1);
        return 0;
    }
    if (sscanf(s, "%4d-%2u%c", &y, &m, &tail) == 2 && strlen(s) == 7 && m >= 1 && m <= 12 &&
        y >= 1970 && y < 9999) {
        *from_ms = vn_ms(y, m, 1);
        *to_ms = m == 12 ? vn_ms(y + 1, 1, 1) : vn_ms(y, m + 1, 1);
        return 0;
    }
    return -1;
}

struct mon_acc {
    const mon_cal_t *cal;
    mon_query_t q;
    mon_eff_t e;
    uint64_t *accept_hist, *resolve_hist; /* DAYS_MAX buckets each */
};

mon_acc_t *mon_acc_new(const mon_cal_t *cal, const mon_query_t *q)
{
    mon_acc_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->accept_hist = calloc(DAYS_MAX, sizeof *a->accept_hist);
    a->resolve_hist = calloc(DAYS_MAX, sizeof *a->resolve_hist);
    if (!a->accept_hist || !a->resolve_hist) {
        free(a->accept_hist);
        free(a->resolve_hist);
        free(a);
        return NULL;
    }
    a->cal = cal, a->q = *q;
    return a;
}

static void bump_n(mon_count_t *t, size_t *n, size_t cap, const char *key, uint64_t by,
                   uint64_t *other)
{
    const char *k = *key ? key : "(none)";
    for (size_t i = 0; i < *n; i++)
        if (!strncmp(t[i].key, k, sizeof t[i].key - 1)) {
            t[i].n += by;
            return;
        }
    if (*n == cap) {
        *other += by;
        return;
    }
    snprintf(t[*n].key, sizeof t[*n].key, "%s", k);
    t[(*n)++].n = by;
}

static void bump(mon_count_t *t, size_t *n, size_t cap, const char *key, uint64_t *other)
{
    bump_n(t, n, cap, key, 1, other);
}

static bool area_match(const mon_query_t *q, const char *gen, const char *area)
{
    if (!q->areas)
        return true;
    for (size_t i = 0; i < q->n_areas; i++)
        if (!strcmp(q->areas[i].slug, area) && (!*gen || !strcmp(q->areas[i].gen, gen)))
            return true;
    return false;
}

static bool in_query(const mon_query_t *q, int64_t at, const char *agency, const char *gen,
                     const char *area)
{
    return at >= q->from_ms && at < q->to_ms &&
           (!q->agency || !*q->agency || !strcmp(q->agency, agency)) && area_match(q, gen, area);
}

static int32_t clampd(int32_t d)
{
    return d < 0 ? 0 : d >= DAYS_MAX ? DAYS_MAX - 1 : d;
}

void mon_acc_case(mon_acc_t *a, const mon_case_t *c)
{
    if (c->received_ms == 0 || !in_query(&a->q, c->received_ms, c->agency, c->gen, c->area))
        return;
    mon_eff_t *e = &a->e;
    e->received++;
    bump(e->channels, &e->n_channels, MON_TOP, c->channel, &e->other);
    bump(e->categories, &e->n_categories, MON_TOP, c->category, &e->other);
    char ak[MON_KEY + MON_GEN + 1];
    snprintf(ak, sizeof ak, "%s%s%s", c->gen, *c->gen ? ":" : "", c->area);
    bump(e->areas, &e->n_areas, MON_TOP * 4, ak, &e->other);
    e->refused += c->refused ? 1 : 0;
    e->returned += c->returned ? 1 : 0;
    e->transferred += c->transferred ? 1 : 0;
    if (c->outcome < MON_OUTCOMES && c->resolved_ms)
        e->outcomes[c->outcome]++;
    int64_t now = a->q.now_ms;
    if (c->accepted_ms) {
        e->accepted++;
        int32_t d = mon_cal_between(a->cal, c->received_ms, c->accepted_ms);
        a->accept_hist[clampd(d)]++;
        if (c->accept_days > 0) {
            e->accept_timed++;
            e->accept_on_time += d <= c->accept_days;
        }
    } else if (!c->closed && c->accept_days > 0 &&
               mon_cal_between(a->cal, c->received_ms, now) > c->accept_days) {
        e->overdue_now++;
    }
    if (c->resolved_ms) {
        e->resolved++;
        int32_t d = mon_cal_between(a->cal, c->received_ms, c->resolved_ms);
        a->resolve_hist[clampd(d)]++;
        /* The resolve deadline runs from acceptance (the rules' resolve_working_days). */
        int64_t start = c->accepted_ms ? c->accepted_ms : c->received_ms;
        if (c->resolve_days > 0) {
            e->resolve_timed++;
            e->resolve_on_time += mon_cal_between(a->cal, start, c->resolved_ms) <= c->resolve_days;
        }
        e->case_fines_vnd += c->fine_vnd;
    } else if (c->accepted_ms && !c->closed && c->resolve_days > 0 &&
               mon_cal_between(a->cal, c->accepted_ms, now) > c->resolve_days) {
        e->overdue_now++;
    }
    e->open += c->closed ? 0 : 1;
}

void mon_acc_rec(mon_acc_t *a, const mon_rec_t *r)
{
    if (!in_query(&a->q, r->at_ms, r->agency, r->gen, r->area))
        return;
    switch (r->kind) {
    case MON_REC_CONSULTATION:
        a->e.consultations++;
        break;
    case MON_REC_INSPECTION:
        a->e.inspections++;
        break;
    case MON_REC_VIOLATION:
        a->e.violations++;
        a->e.fines_vnd += r->fine_vnd;
        break;
    }
}

mon_eff_t *mon_acc_eff(mon_acc_t *a)
{
    return &a->e;
}

void mon_acc_hist(mon_acc_t *a, bool resolve, int32_t days, uint64_t n)
{
    (resolve ? a->resolve_hist : a->accept_hist)[clampd(days)] += n;
}

void mon_acc_key(mon_acc_t *a, char dim, const char *key, uint64_t n)
{
    mon_eff_t *e = &a->e;
    if (dim == 'c')
        bump_n(e->channels, &e->n_channels, MON_TOP, key, n, &e->other);
    else if (dim == 'k')
        bump_n(e->categories, &e->n_categories, MON_TOP, key, n, &e->other);
    else if (dim == 'w')
        bump_n(e->areas, &e->n_areas, MON_TOP * 4, key, n, &e->other);
}

/* The nearest-rank p-th percentile (p in percent) of a histogram of n values. */
static int32_t rank(const uint64_t *h, uint64_t n, unsigned p)
{
    if (n == 0)
        return -1;
    uint64_t want = (n * p + 99) / 100, seen = 0;
    if (want == 0)
        want = 1;
    for (int32_t d = 0; d < DAYS_MAX; d++)
        if ((seen += h[d]) >= want)
            return d;
    return DAYS_MAX - 1;
}

static int cmp_count(const void *x, const void *y)
{
    const mon_count_t *a = x, *b = y;
    if (a->n != b->n)
        return a->n < b->n ? 1 : -1;
    return strcmp(a->key, b->key);
}

void mon_acc_finish(mon_acc_t **pa, mon_eff_t *out)
{
    mon_acc_t *a = *pa;
    mon_eff_t *e = &a->e;
    e->accept_median = rank(a->accept_hist, e->accepted, 50);
    e->accept_p90 = rank(a->accept_hist, e->accepted, 90);
    e->resolve_median = rank(a->resolve_hist, e->resolved, 50);
    e->resolve_p90 = rank(a->resolve_hist, e->resolved, 90);
    qsort(e->channels, e->n_channels, sizeof *e->channels, cmp_count);
    qsort(e->categories, e->n_categories, sizeof *e->categories, cmp_count);
    qsort(e->areas, e->n_areas, sizeof *e->areas, cmp_count);
    *out = *e;
    free(a->accept_hist);
    free(a->resolve_hist);
    free(a);
    *pa = NULL;
}

int mon_eff_compute(const mon_cal_t *cal, const mon_query_t *q, const mon_case_t *cases,
                    size_t n_cases, const mon_rec_t *recs, size_t n_recs, mon_eff_t *out)
{
    mon_acc_t *a = mon_acc_new(cal, q);
    if (!a)
        return -1;
    for (size_t i = 0; i < n_cases; i++)
        mon_acc_case(a, &cases[i]);
    for (size_t i = 0; i < n_recs; i++)
        mon_acc_rec(a, &recs[i]);
    mon_acc_finish(&a, out);
    return 0;
}
