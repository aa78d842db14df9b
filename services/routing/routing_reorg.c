/* routing_reorg: see routing_reorg.h. */
#include "routing_reorg.h"
#include "cpm_case.h"
#include "routing_domain.h"
#include "routing_transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICKET_MAX 64
#define SUCC_MAX 16

static int get_str(cpm_store_t *st, MDB_txn *txn, const char *key, char *out, size_t n)
{
    const void *v;
    size_t len;
    int rc = cpm_store_get(st, txn, ROUTING_REORG_DB, key, strlen(key), &v, &len);
    out[0] = 0;
    if (rc == 0 && len < n) {
        memcpy(out, v, len);
        out[len] = 0;
    }
    return rc == CPM_E_NOT_FOUND ? 0 : rc;
}

static int put_str(cpm_store_t *st, MDB_txn *txn, const char *key, const char *v)
{
    return cpm_store_put(st, txn, ROUTING_REORG_DB, key, strlen(key), v, strlen(v));
}

/* Up to max tickets after `after` in the cases database, into t. */
static int next_tickets(cpm_store_t *st, MDB_txn *txn, const char *after, char (*t)[TICKET_MAX],
                        size_t max, size_t *n)
{
    MDB_cursor *cur;
    *n = 0;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, ROUTING_CASES_DB), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    MDB_val k = {strlen(after), (void *)after}, v;
    rc = mdb_cursor_get(cur, &k, &v, *after ? MDB_SET_RANGE : MDB_FIRST);
    if (rc == 0 && *after && k.mv_size == strlen(after) && !memcmp(k.mv_data, after, k.mv_size))
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    while (rc == 0 && *n < max) {
        if (k.mv_size < TICKET_MAX) {
            memcpy(t[*n], k.mv_data, k.mv_size);
            t[(*n)++][k.mv_size] = 0;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : cpm_store_err(rc);
}

/* Only the unit and generation change: same agency. */
static int relabel(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx, Cpm__StatusReply *r,
                   const char *gen, const char *area, const char *note, int64_t now_ms)
{
    char *old_area = r->area, *old_gen = r->generation;
    Cpm__StatusEntry e = CPM__STATUS_ENTRY__INIT, **h;
    e.at_ms = now_ms;
    e.state = r->state;
    e.actor = "reorg";
    e.note = (char *)note;
    if (!(h = realloc(r->history, (r->n_history + 1) * sizeof *h)))
        return CPM_E_INTERNAL;
    r->history = h;
    r->history[r->n_history++] = &e;
    r->area = (char *)area;
    r->generation = (char *)gen;
    int rc = cpm_store_put_msg(st, txn, ROUTING_CASES_DB, r->ticket, &r->base);
    r->area = old_area;
    r->generation = old_gen;
    r->n_history--; /* e is on this stack */
    if (rc != 0)
        return rc;
    cpm_event_t ev = {.kind = "case.reorganized",
                      .ticket = r->ticket,
                      .agency = r->agency,
                      .area = area,
                      .category = r->category,
                      .state = r->state,
                      .rule = r->rule_id,
                      .actor = "reorg",
                      .note = note};
    return fx->event(fx->ctx, txn, &ev);
}

/* Move one case to generation gen, if it is open and older. */
static int reorg_case(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                      MDB_txn *txn, const cpm_effects_t *fx, const char *ticket, const char *gen,
                      int64_t now_ms, routing_reorg_stats_t *s)
{
    int rc;
    Cpm__StatusReply *r = routing_status(st, txn, ticket, &rc);
    if (!r)
        return rc == CPM_E_NOT_FOUND ? 0 : rc;
    rc = 0;
    s->scanned++;
    if (!*r->generation || !strcmp(r->generation, gen) || !cpm_case_is_open(r->state))
        goto out; /* legacy, current, or closed: kept as handled */
    const char *succ[SUCC_MAX];
    bool whole = false;
    size_t n = cpm_rules_successors(rules, r->generation, r->area, succ, SUCC_MAX, &whole);
    if (n > SUCC_MAX)
        n = SUCC_MAX;
    Cpm__Complaint *c = routing_copy_get(st, txn, ticket, &rc);
    bool urgent = c && c->urgent;
    cpm__complaint__free_unpacked(c, NULL);
    rc = 0;
    /* One agency for every successor, or triage. */
    char agency[128] = "", rule[128] = "";
    bool one = n > 0;
    for (size_t i = 0; i < n && one; i++) {
        cpm_route_t d;
        cpm_route_query_t q = {gen,
                               now_ms,
                               r->category,
                               succ[i],
                               urgent,
                               (const char *const *)r->refused_by,
                               r->n_refused_by};
        cpm_rules_route_q(rules, reg, &q, &d);
        if (i == 0) {
            snprintf(agency, sizeof agency, "%s", d.agency);
            snprintf(rule, sizeof rule, "%s", d.rule_id);
        }
        one = !strcmp(agency, d.agency);
    }
    char cands[400] = "", note[600];
    for (size_t i = 0; i < n; i++)
        snprintf(cands + strlen(cands), sizeof cands - strlen(cands), "%s%s:%s", i ? ", " : "", gen,
                 succ[i]);
    const char *area = whole ? succ[0] : "";
    if (!one) {
        snprintf(agency, sizeof agency, "%s", cpm_rules_triage(rules));
        snprintf(rule, sizeof rule, "triage");
        area = "";
    }
    snprintf(note, sizeof note, "reorganization %s: unit %s:%s %s%s%s", gen, r->generation, r->area,
             whole ? "went whole into " : (n ? "was split; candidates: " : "has no successor"),
             whole ? gen : "", whole ? "" : cands);
    if (whole)
        snprintf(note + strlen(note), sizeof note - strlen(note), ":%s", succ[0]);
    if (!strcmp(agency, r->agency) || r->state == CPM__CASE_STATE__CASE_STATE_UNASSIGNED) {
        rc = relabel(st, txn, fx, r, gen, area, note, now_ms);
        s->relabelled += rc == 0;
        goto out;
    }
    routing_move_t mv = {agency, one ? "reorg" : "triage", "reorg", note, true, area, gen};
    cpm_error_t err = {0};
    rc = routing_transfer(rules, st, txn, fx, ticket, &mv, now_ms, &err);
    if (rc == CPM_E_CONFLICT) /* no kept copy (routed by an older version): relabel only */
        rc = relabel(st, txn, fx, r, gen, area, note, now_ms);
    else if (rc == 0 && one && strcmp(agency, cpm_rules_triage(rules)) != 0)
        s->moved++;
    else if (rc == 0)
        s->triaged++;
out:
    cpm__status_reply__free_unpacked(r, NULL);
    return rc;
}

int routing_reorg_step(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                       MDB_txn *txn, const cpm_effects_t *fx, int64_t now_ms, size_t max,
                       routing_reorg_stats_t *stats)
{
    memset(stats, 0, sizeof *stats);
    const char *gen = cpm_rules_generation_at(rules, now_ms);
    char applied[32], key[64], after[TICKET_MAX];
    int rc;
    if (!gen || (rc = get_str(st, txn, "applied", applied, sizeof applied)) != 0)
        return gen ? rc : 0;
    if (!strcmp(applied, gen))
        return 0;
    snprintf(stats->generation, sizeof stats->generation, "%s", gen);
    snprintf(key, sizeof key, "cursor:%s", gen);
    if ((rc = get_str(st, txn, key, after, sizeof after)) != 0)
        return rc;
    char(*t)[TICKET_MAX] = calloc(max ? max : 1, sizeof *t);
    size_t n = 0;
    if (!t)
        return CPM_E_INTERNAL;
    rc = next_tickets(st, txn, after, t, max, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = reorg_case(rules, reg, st, txn, fx, t[i], gen, now_ms, stats);
    if (rc == 0 && n == max && n > 0)
        rc = put_str(st, txn, key, t[n - 1]); /* resume after it */
    else if (rc == 0) {
        stats->finished = true;
        rc = put_str(st, txn, "applied", gen);
        if (rc == 0) {
            rc = cpm_store_del(st, txn, ROUTING_REORG_DB, key, strlen(key));
            rc = rc == CPM_E_NOT_FOUND ? 0 : rc;
        }
    }
    free(t);
    return rc;
}
