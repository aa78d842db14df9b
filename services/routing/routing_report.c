/* routing_report: cases by area in one generation (see routing_report.h). */
#include "routing_report.h"
#include "cpm_case.h"
#include "cpm_text.h"
#include "routing_domain.h"
#include "routing_list.h"
#include "routing_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A shared row's name: every unit slug, "+" between them. */
#define KEY_MAX (CPM_RULES_LINEAGE_MAX * 65 + 16)

/* The rows of one reply, sorted by area for bsearch. */
typedef struct {
    Cpm__ReportRow **rows;
    size_t n;
} rows_t;

static void row_free(Cpm__ReportRow *w)
{
    if (!w)
        return;
    free(w->area);
    free(w);
}

void routing_report_free(Cpm__ReportReply **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->n_rows; i++)
        row_free((*p)->rows[i]);
    free((*p)->rows);
    free((*p)->generation);
    free((*p)->next_cursor);
    free(*p);
    *p = NULL;
}

/* Index of area in rows, or -(insertion point) - 1. */
static long row_find(const rows_t *t, const char *area)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->rows[mid]->area, area);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

/* The row for area, added when new; NULL when the rows are full (*full set)
 * or out of memory. */
static Cpm__ReportRow *row_get(rows_t *t, const char *area, bool shared, bool unmapped, bool *full)
{
    long i = row_find(t, area);
    if (i >= 0)
        return t->rows[i];
    if (t->n == ROUTING_REPORT_ROWS) {
        *full = true;
        return NULL;
    }
    Cpm__ReportRow *w = malloc(sizeof *w);
    if (!w)
        return NULL;
    cpm__report_row__init(w);
    if (!(w->area = strdup(area))) {
        free(w);
        return NULL;
    }
    w->shared = shared;
    w->unmapped = unmapped;
    size_t at = (size_t)(-i - 1);
    memmove(t->rows + at + 1, t->rows + at, (t->n - at) * sizeof *t->rows);
    t->rows[at] = w;
    t->n++;
    return w;
}

/* Where case r is counted in generation gen: its row's name and kind. */
static void case_area(const cpm_rules_t *rules, const Cpm__StatusReply *r, const char *gen,
                      char key[KEY_MAX], bool *shared, bool *unmapped, bool *mapped)
{
    *shared = *unmapped = *mapped = false;
    if (!*r->area) {
        snprintf(key, KEY_MAX, "%s", ROUTING_REPORT_TRIAGE);
        return;
    }
    if (!strcmp(r->generation, gen)) {
        snprintf(key, KEY_MAX, "%s", r->area);
        return;
    }
    const char *units[CPM_RULES_LINEAGE_MAX];
    size_t n = *r->generation ? cpm_rules_map_unit(rules, r->generation, r->area, gen, units,
                                                   CPM_RULES_LINEAGE_MAX)
                              : 0;
    if (n > CPM_RULES_LINEAGE_MAX)
        n = CPM_RULES_LINEAGE_MAX;
    if (n == 0) { /* a unit the lineage does not know, or a case from before generations */
        snprintf(key, KEY_MAX, "%s%s%s", r->generation, *r->generation ? ":" : "", r->area);
        *unmapped = true;
        return;
    }
    *mapped = true;
    *shared = n > 1;
    size_t len = 0;
    key[0] = 0;
    for (size_t i = 0; i < n && len < KEY_MAX; i++)
        len += (size_t)snprintf(key + len, KEY_MAX - len, "%s%s", i ? "+" : "", units[i]);
}

static bool selected(const Cpm__StatusReply *r, const Cpm__ReportQuery *q)
{
    if (*q->agency && strcmp(r->agency, q->agency) != 0)
        return false;
    if (q->from_ms > 0 && r->received_ms < q->from_ms)
        return false;
    if (q->to_ms > 0 && r->received_ms >= q->to_ms)
        return false;
    return true;
}

static int check_query(const cpm_rules_t *rules, const Cpm__ReportQuery *q, cpm_error_t *err)
{
    if (!*q->generation)
        return cpm_error_set(err, CPM_E_INVALID, "generation",
                             "generation is required: the generation whose areas are the rows");
    if (!cpm_rules_has_generation(rules, q->generation))
        return cpm_error_set(err, CPM_E_INVALID, "generation",
                             "generation is not one of the routing rules' generations");
    if (*q->agency && !cpm_text_member_valid(q->agency))
        return cpm_error_set(err, CPM_E_INVALID, "agency", "agency is not a member id");
    if (q->from_ms < 0)
        return cpm_error_set(err, CPM_E_INVALID, "from_ms", "from_ms is negative");
    if (q->to_ms < 0)
        return cpm_error_set(err, CPM_E_INVALID, "to_ms", "to_ms is negative");
    if (q->to_ms > 0 && q->from_ms >= q->to_ms)
        return cpm_error_set(err, CPM_E_INVALID, "to_ms", "to_ms is not after from_ms");
    if (*q->cursor && !cpm_text_ticket_valid(q->cursor, NULL))
        return cpm_error_set(err, CPM_E_INVALID, "cursor",
                             "cursor is not a ticket (<PREFIX>-<digits>) from next_cursor");
    return 0;
}

/* Count the case r into the rows; 1 when the rows are full (r not counted). */
static int count(const cpm_rules_t *rules, const Cpm__StatusReply *r, const char *gen, rows_t *t,
                 Cpm__ReportReply *rep)
{
    char key[KEY_MAX];
    bool shared, unmapped, mapped, full = false;
    case_area(rules, r, gen, key, &shared, &unmapped, &mapped);
    Cpm__ReportRow *w = row_get(t, key, shared, unmapped, &full);
    if (!w)
        return full ? 1 : CPM_E_INTERNAL;
    bool open = cpm_case_is_open(r->state);
    w->total++;
    w->open += open;
    w->closed += !open;
    w->overdue += routing_watch_is_overdue(r);
    w->mapped += mapped;
    rep->cases++;
    return 0;
}

/* Walk "cases" from the cursor, counting what is selected. */
static int walk(const cpm_rules_t *rules, cpm_store_t *st, MDB_txn *txn, const Cpm__ReportQuery *q,
                rows_t *t, Cpm__ReportReply *rep)
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, cpm_store_dbi(st, ROUTING_CASES_DB), &cur);
    if (mrc != 0)
        return cpm_store_err(mrc);
    MDB_val k = {.mv_size = strlen(q->cursor), .mv_data = q->cursor}, v;
    mrc = mdb_cursor_get(cur, &k, &v, *q->cursor ? MDB_SET_RANGE : MDB_FIRST);
    if (mrc == 0 && *q->cursor && k.mv_size == strlen(q->cursor) &&
        !memcmp(k.mv_data, q->cursor, k.mv_size))
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    int rc = 0;
    char last[CPM_TEXT_TICKET_MAX + 1] = "";
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (rep->scanned == ROUTING_REPORT_SCAN)
            break;
        rep->scanned++;
        Cpm__StatusReply *r = cpm__status_reply__unpack(NULL, v.mv_size, v.mv_data);
        if (r && selected(r, q))
            rc = count(rules, r, q->generation, t, rep);
        cpm__status_reply__free_unpacked(r, NULL);
        if (rc != 0) /* rows full: this case starts the next page */
            break;
        if (k.mv_size < sizeof last) {
            memcpy(last, k.mv_data, k.mv_size);
            last[k.mv_size] = 0;
        }
    }
    mdb_cursor_close(cur);
    if (rc < 0 || rc > 1)
        return rc;
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return cpm_store_err(mrc);
    rep->truncated = mrc == 0; /* stopped before the end */
    if (!(rep->next_cursor = strdup(rep->truncated ? last : "")))
        return CPM_E_INTERNAL;
    return 0;
}

int routing_report(const cpm_rules_t *rules, cpm_store_t *st, MDB_txn *txn,
                   const Cpm__Member *asker, const Cpm__ReportQuery *q, int64_t now_ms,
                   Cpm__ReportReply **out, cpm_error_t *err)
{
    *out = NULL;
    const char *own = NULL;
    if (routing_list_scope(asker, &own) != 1)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "role",
                             "reports are for the city's coordinators; %s is %s",
                             asker ? asker->id : "the public", asker ? asker->role : "no member");
    int rc = check_query(rules, q, err);
    if (rc != 0)
        return rc;
    Cpm__ReportReply *rep = calloc(1, sizeof *rep);
    rows_t t = {calloc(ROUTING_REPORT_ROWS, sizeof(Cpm__ReportRow *)), 0};
    if (!rep || !t.rows) {
        free(rep);
        free(t.rows);
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    }
    cpm__report_reply__init(rep);
    rep->next_cursor = NULL;
    rep->now_ms = now_ms;
    rep->rows = t.rows;
    rc = walk(rules, st, txn, q, &t, rep);
    rep->n_rows = t.n;
    if (rc == 0 && !(rep->generation = strdup(q->generation)))
        rc = CPM_E_INTERNAL;
    if (rc != 0) {
        routing_report_free(&rep);
        return cpm_error_set(err, rc, "", "the register cannot be read");
    }
    /* "(triage)" sorts first in ASCII; readers expect the areas first */
    long i = row_find(&t, ROUTING_REPORT_TRIAGE);
    if (i >= 0) {
        Cpm__ReportRow *w = t.rows[i];
        memmove(t.rows + i, t.rows + i + 1, (t.n - (size_t)i - 1) * sizeof *t.rows);
        t.rows[t.n - 1] = w;
    }
    *out = rep;
    return 0;
}
