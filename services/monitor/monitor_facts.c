/* monitor_facts: facts from the event streams (see monitor_facts.h). */
#include "monitor_facts.h"

#include "cpm_err.h"
#include "monitor_agg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define VN_OFFSET_MS (7 * 3600000LL)

static void cp(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static int put_cursor(cpm_store_t *st, MDB_txn *txn, const char *node, const char *service,
                      const Cpm__Event *ev)
{
    char key[2 * MON_KEY + 2];
    uint8_t val[40] = {0};
    snprintf(key, sizeof key, "%s/%s", node, service);
    for (int i = 0; i < 8; i++)
        val[i] = (uint8_t)(ev->seq >> (56 - 8 * i));
    if (ev->hash.len == 32)
        memcpy(val + 8, ev->hash.data, 32);
    return cpm_store_put(st, txn, "mon_cursors", key, strlen(key), val, sizeof val);
}

/* The seq applied last from node/service (0: none yet). */
static int cursor_seq(cpm_store_t *st, MDB_txn *txn, const char *node, const char *service,
                      uint64_t *seq)
{
    char key[2 * MON_KEY + 2];
    snprintf(key, sizeof key, "%s/%s", node, service);
    const void *v;
    size_t n;
    *seq = 0;
    int rc = cpm_store_get(st, txn, "mon_cursors", key, strlen(key), &v, &n);
    if (rc == CPM_E_NOT_FOUND)
        return 0;
    if (rc == 0 && n == 40)
        for (int i = 0; i < 8; i++)
            *seq = *seq << 8 | ((const uint8_t *)v)[i];
    return rc;
}

static int get_case(cpm_store_t *st, MDB_txn *txn, const char *ticket, mon_case_t *c, bool *found)
{
    const void *v;
    size_t n;
    int rc = cpm_store_get(st, txn, "mon_cases", ticket, strlen(ticket), &v, &n);
    if (rc == CPM_E_NOT_FOUND) {
        memset(c, 0, sizeof *c);
        c->version = MON_CASE_VERSION;
        cp(c->ticket, sizeof c->ticket, ticket);
        *found = false;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (n != sizeof *c)
        return CPM_E_BAD_MESSAGE;
    memcpy(c, v, sizeof *c);
    *found = true;
    return 0;
}

static void deadlines(mon_case_t *c, const cpm_rules_t *r)
{
    if (!r)
        return;
    c->accept_days = cpm_rules_accept_days_for(r, c->category, c->gen);
    c->resolve_days = cpm_rules_resolve_days_for(r, c->category, c->gen);
}

static int apply_case(cpm_store_t *st, MDB_txn *txn, const cpm_rules_t *r, const mon_cal_t *cal,
                      uint64_t cases_max, const char *service, const Cpm__Event *ev)
{
    const char *k = ev->kind;
    bool received = !strcmp(k, "complaint.received");
    if (!received && (strcmp(service, "routing") || strncmp(k, "case.", 5)))
        return MON_IGNORED;
    if (!ev->ticket || !*ev->ticket || strlen(ev->ticket) >= MON_KEY)
        return MON_IGNORED;
    mon_case_t c;
    bool found;
    int rc = get_case(st, txn, ev->ticket, &c, &found);
    if (rc != 0)
        return rc;
    if (!found) {
        MDB_stat ms;
        if (mdb_stat(txn, cpm_store_dbi(st, "mon_cases"), &ms) == 0 && ms.ms_entries >= cases_max)
            return MON_FULL;
    }
    mon_case_t old = c;
    if (ev->area && *ev->area)
        cp(c.area, sizeof c.area, ev->area);
    if (ev->category && *ev->category)
        cp(c.category, sizeof c.category, ev->category);
    if (received) {
        c.received_ms = ev->at_ms;
        cp(c.channel, sizeof c.channel, ev->channel);
        const char *g = r ? cpm_rules_generation_at(r, ev->at_ms) : NULL;
        cp(c.gen, sizeof c.gen, g);
    } else if (ev->agency && *ev->agency && strcmp(k, "case.reminder") &&
               strcmp(k, "case.escalated") && strcmp(k, "case.linked")) {
        cp(c.agency, sizeof c.agency, ev->agency); /* who holds it now */
    }
    if (!strcmp(k, "case.accepted")) {
        if (!c.accepted_ms)
            c.accepted_ms = ev->at_ms;
    } else if (!strcmp(k, "case.refused")) {
        c.refused++;
        c.closed = 1;
    } else if (!strcmp(k, "case.resolved")) {
        c.resolved_ms = ev->at_ms;
        c.outcome = ev->outcome < MON_OUTCOMES ? (uint32_t)ev->outcome : 0;
        c.fine_vnd = ev->fine_vnd;
        c.closed = 1;
    } else if (!strcmp(k, "case.closed")) {
        c.closed = 1;
    } else if (!strcmp(k, "case.reopened")) {
        c.closed = 0;
        c.resolved_ms = 0;
    } else if (!strcmp(k, "case.transferred")) {
        c.transferred++;
    } else if (!strcmp(k, "case.unassigned")) {
        c.returned++; /* returned to the city's coordinators */
    } else if (!strcmp(k, "case.assigned")) {
        c.closed = 0; /* a refused case given to the next agency */
    }
    deadlines(&c, r);
    rc = cpm_store_put(st, txn, "mon_cases", c.ticket, strlen(c.ticket), &c, sizeof c);
    if (rc == 0 && cal) /* the aggregates move with the fact, in its transaction */
        rc = monitor_agg_case(st, txn, cal, found ? &old : NULL, &c);
    return rc ? rc : MON_APPLIED;
}

static int apply_rec(cpm_store_t *st, MDB_txn *txn, const cpm_rules_t *r, bool agg,
                     const char *node, const char *service, const Cpm__Event *ev)
{
    mon_rec_t x = {.version = MON_REC_VERSION, .at_ms = ev->at_ms};
    if (!strcmp(ev->kind, "consultation.recorded"))
        x.kind = MON_REC_CONSULTATION;
    else if (!strcmp(ev->kind, "inspection.closed"))
        x.kind = MON_REC_INSPECTION;
    else if (!strcmp(ev->kind, "violation.recorded"))
        x.kind = MON_REC_VIOLATION, x.fine_vnd = ev->fine_vnd;
    else
        return MON_IGNORED;
    cp(x.agency, sizeof x.agency, ev->agency && *ev->agency ? ev->agency : node);
    cp(x.area, sizeof x.area, ev->area);
    cp(x.category, sizeof x.category, ev->category);
    cp(x.channel, sizeof x.channel, ev->channel);
    cp(x.gen, sizeof x.gen, r ? cpm_rules_generation_at(r, ev->at_ms) : NULL);
    char key[2 * MON_KEY + 24];
    snprintf(key, sizeof key, "%s/%s/%020llu", node, service, (unsigned long long)ev->seq);
    int rc = cpm_store_put(st, txn, "mon_recs", key, strlen(key), &x, sizeof x);
    if (rc == 0 && agg)
        rc = monitor_agg_rec(st, txn, key, strlen(key), &x);
    return rc ? rc : MON_APPLIED;
}

int monitor_apply(cpm_store_t *st, MDB_txn *txn, const cpm_rules_t *rules, const mon_cal_t *cal,
                  uint64_t cases_max, const char *node, const char *service, const Cpm__Event *ev)
{
    /* An event at or below the stored cursor was applied already (a source
     * sought back, a cursor reset): applying it again would count its case
     * change, record and aggregates twice. */
    uint64_t done = 0;
    int grc = cursor_seq(st, txn, node, service, &done);
    if (grc != 0)
        return -grc;
    if (ev->seq <= done)
        return MON_ALREADY;
    int rc = MON_IGNORED;
    if (ev->kind) {
        rc = apply_case(st, txn, rules, cal, cases_max, service, ev);
        if (rc == MON_IGNORED)
            rc = apply_rec(st, txn, rules, cal != NULL, node, service, ev);
    }
    if (rc < 0 || (rc > MON_FULL))
        return rc > 0 ? -rc : rc;
    int crc = put_cursor(st, txn, node, service, ev);
    /* Counted with the cursor: after any crash it equals the events of the
     * streams read so far, each once (the integration test checks this). */
    uint64_t seen = 0;
    if (crc == 0 && (crc = cpm_store_get_u64(st, txn, MONITOR_SEEN_KEY, &seen)) == 0)
        crc = cpm_store_put_u64(st, txn, MONITOR_SEEN_KEY, seen + 1);
    return crc ? -crc : rc;
}

int monitor_cursors(cpm_store_t *st, MDB_txn *txn, monitor_cursor_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, "mon_cursors"), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char key[2 * MON_KEY + 2];
        if (k.mv_size >= sizeof key || v.mv_size != 40)
            continue;
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = 0;
        char *slash = strchr(key, '/');
        if (!slash)
            continue;
        *slash = 0;
        const uint8_t *b = v.mv_data;
        uint64_t seq = 0;
        for (int i = 0; i < 8; i++)
            seq = seq << 8 | b[i];
        fn(ctx, key, slash + 1, seq, b + 8);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : cpm_store_err(rc);
}

static bool rules_working(void *arg, int32_t day)
{
    /* The first working day after the end of the day before is this day
     * exactly when this day is a working day. */
    int64_t start = (int64_t)day * DAY_MS - VN_OFFSET_MS;
    int64_t end = cpm_rules_add_working_days(arg, start - 1, 1);
    return end < start + DAY_MS;
}

mon_cal_t *monitor_cal_from_rules(const cpm_rules_t *r)
{
    int32_t day0 = 10957; /* 2000-01-01 */
    return mon_cal_new(day0, 36525, rules_working, (void *)r);
}

static const char *const GENS[] = {"2024", "2025"};

static int add(mon_area_t **v, size_t *n, size_t *cap, const char *gen, const char *slug)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        mon_area_t *x = realloc(*v, c * sizeof *x);
        if (!x)
            return -1;
        *v = x, *cap = c;
    }
    (*v)[*n].gen = gen, (*v)[(*n)++].slug = slug;
    return 0;
}

int monitor_areas(const cpm_rules_t *r, const char *area, int64_t now_ms, mon_area_t **out,
                  size_t *n)
{
    *out = NULL, *n = 0;
    const char *colon = strchr(area, ':');
    const char *slug = colon ? colon + 1 : area;
    const char *gen = NULL, *one[CPM_RULES_LINEAGE_MAX];
    for (size_t i = 0; i < 2 && !gen; i++) {
        const char *g = GENS[i];
        if (colon && (strlen(g) != (size_t)(colon - area) || strncmp(g, area, strlen(g))))
            continue;
        if (!cpm_rules_has_generation(r, g) || cpm_rules_map_unit(r, g, slug, g, one, 1) == 0)
            continue;
        gen = g;
        const char *now = cpm_rules_generation_at(r, now_ms);
        if (!colon && now && strcmp(now, g) && cpm_rules_map_unit(r, now, slug, now, one, 1) == 1)
            gen = now;
    }
    if (!gen)
        return -1;
    size_t cap = 0;
    const char *self[1];
    cpm_rules_map_unit(r, gen, slug, gen, self, 1);
    if (add(out, n, &cap, gen, self[0]) != 0)
        return -1;
    for (size_t i = 0; i < 2; i++) {
        const char *h = GENS[i], *cand[CPM_RULES_LINEAGE_MAX], *back[2];
        if (!strcmp(h, gen) || !cpm_rules_has_generation(r, h))
            continue;
        size_t k = cpm_rules_map_unit(r, gen, slug, h, cand, CPM_RULES_LINEAGE_MAX);
        for (size_t j = 0; j < k && j < CPM_RULES_LINEAGE_MAX; j++)
            if (cpm_rules_map_unit(r, h, cand[j], gen, back, 2) == 1 && !strcmp(back[0], self[0]) &&
                add(out, n, &cap, h, cand[j]) != 0)
                return -1;
    }
    return 0;
}

int monitor_compute(cpm_store_t *st, MDB_txn *txn, const mon_cal_t *cal, const mon_query_t *q,
                    mon_eff_t *out)
{
    mon_acc_t *a = mon_acc_new(cal, q);
    if (!a)
        return -1;
    const char *dbs[2] = {"mon_cases", "mon_recs"};
    int rc = 0;
    for (int d = 0; d < 2 && rc == 0; d++) {
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, cpm_store_dbi(st, dbs[d]), &cur)) != 0) {
            rc = cpm_store_err(rc);
            break;
        }
        MDB_val k, v;
        int mrc;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (d == 0 && v.mv_size == sizeof(mon_case_t)) {
                mon_case_t c;
                memcpy(&c, v.mv_data, sizeof c);
                mon_acc_case(a, &c);
            } else if (d == 1 && v.mv_size == sizeof(mon_rec_t)) {
                mon_rec_t x;
                memcpy(&x, v.mv_data, sizeof x);
                mon_acc_rec(a, &x);
            }
        }
        mdb_cursor_close(cur);
        if (mrc != MDB_NOTFOUND)
            rc = cpm_store_err(mrc);
    }
    mon_acc_finish(&a, out);
    return rc;
}
