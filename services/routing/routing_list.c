/* routing_list: pages of the register, filtered (see routing_list.h). */
#include "routing_list.h"
#include "cpm_text.h"
#include "routing_domain.h"
#include "routing_watch.h"

#include <stdlib.h>
#include <string.h>

static char *dup(const char *s)
{
    return strdup(s ? s : "");
}

static void item_free(Cpm__CaseListItem *it)
{
    if (!it)
        return;
    free(it->ticket);
    free(it->agency);
    free(it->area);
    free(it->category);
    free(it->due);
    free(it->overdue_deadline);
    free(it);
}

void routing_list_free(Cpm__CaseListReply **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->n_cases; i++)
        item_free((*p)->cases[i]);
    free((*p)->cases);
    free((*p)->next_cursor);
    free(*p);
    *p = NULL;
}

/* An item holds only what the public status view shows (state, agency,
 * area, category, deadlines, overdue): no contact, no actors, no notes, no
 * rule. A field added to CaseListItem that the public may not see must be
 * left empty here when public is set (the web gateway's lists). */
static Cpm__CaseListItem *item_of(const Cpm__StatusReply *r, bool public)
{
    (void)public;
    Cpm__CaseListItem *it = malloc(sizeof *it);
    if (!it)
        return NULL;
    cpm__case_list_item__init(it);
    int64_t due_ms;
    const char *due = routing_watch_open_deadline(r, &due_ms);
    bool overdue = routing_watch_is_overdue(r);
    it->ticket = dup(r->ticket);
    it->agency = dup(r->agency);
    it->area = dup(r->area);
    it->category = dup(r->category);
    it->due = dup(due);
    it->overdue_deadline = dup(overdue ? r->overdue_deadline : "");
    if (!it->ticket || !it->agency || !it->area || !it->category || !it->due ||
        !it->overdue_deadline) {
        item_free(it);
        return NULL;
    }
    it->state = r->state;
    it->received_ms = r->received_ms;
    it->accept_due_ms = r->accept_due_ms;
    it->resolve_due_ms = r->resolve_due_ms;
    it->due_ms = due_ms;
    it->overdue = overdue;
    return it;
}

static bool matches(const Cpm__StatusReply *r, const Cpm__CaseListQuery *q, const char *agency,
                    int64_t now_ms)
{
    if (*agency && strcmp(r->agency, agency) != 0)
        return false;
    if (*q->area && strcmp(r->area, q->area) != 0)
        return false;
    if (q->state && r->state != q->state)
        return false;
    if (q->overdue && !routing_watch_is_overdue(r))
        return false;
    if (q->received_from_ms > 0 && r->received_ms < q->received_from_ms)
        return false;
    if (q->received_to_ms > 0 && r->received_ms > q->received_to_ms)
        return false;
    if (*q->category && strcmp(r->category, q->category) != 0)
        return false;
    if (q->due_within_ms > 0) {
        int64_t due;
        if (!*routing_watch_open_deadline(r, &due) || due < now_ms ||
            due - now_ms > q->due_within_ms)
            return false;
    }
    return true;
}

static int check_query(const Cpm__CaseListQuery *q, cpm_error_t *err)
{
    if (q->limit > ROUTING_LIST_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "limit", "limit is at most %d cases a page",
                             ROUTING_LIST_MAX);
    if (*q->cursor && !cpm_text_ticket_valid(q->cursor, NULL))
        return cpm_error_set(err, CPM_E_INVALID, "cursor",
                             "cursor is not a ticket (<PREFIX>-<digits>) from next_cursor");
    if (*q->agency && !cpm_text_member_valid(q->agency))
        return cpm_error_set(err, CPM_E_INVALID, "agency", "agency is not a member id");
    if (*q->area && !cpm_text_slug_valid(q->area))
        return cpm_error_set(err, CPM_E_INVALID, "area", "area is not an area slug");
    if (q->due_within_ms < 0)
        return cpm_error_set(err, CPM_E_INVALID, "due_within_ms", "due_within_ms is negative");
    if (*q->category && !cpm_text_slug_valid(q->category))
        return cpm_error_set(err, CPM_E_INVALID, "category", "category is not a category slug");
    if (q->received_from_ms < 0 || q->received_to_ms < 0)
        return cpm_error_set(err, CPM_E_INVALID, "received_from_ms",
                             "received_from_ms and received_to_ms are not negative");
    if (q->received_to_ms > 0 && q->received_from_ms > q->received_to_ms)
        return cpm_error_set(err, CPM_E_INVALID, "received_to_ms",
                             "received_to_ms is before received_from_ms");
    if (!protobuf_c_enum_descriptor_get_value(&cpm__case_state__descriptor, q->state))
        return cpm_error_set(err, CPM_E_INVALID, "state", "state is not a case state");
    return 0;
}

/* Walk "cases" from the cursor, adding what matches to rep. */
static int walk(cpm_store_t *st, MDB_txn *txn, const Cpm__CaseListQuery *q, const char *agency,
                bool public, int64_t now_ms, Cpm__CaseListReply *rep)
{
    size_t limit = q->limit ? q->limit : ROUTING_LIST_DEFAULT;
    if (!(rep->cases = calloc(limit, sizeof *rep->cases)))
        return CPM_E_INTERNAL;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, cpm_store_dbi(st, ROUTING_CASES_DB), &cur);
    if (mrc != 0)
        return cpm_store_err(mrc);
    MDB_val k = {.mv_size = strlen(q->cursor), .mv_data = q->cursor}, v;
    MDB_cursor_op step = q->newest_first ? MDB_PREV : MDB_NEXT;
    if (!*q->cursor)
        mrc = mdb_cursor_get(cur, &k, &v, q->newest_first ? MDB_LAST : MDB_FIRST);
    else {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        bool at =
            mrc == 0 && k.mv_size == strlen(q->cursor) && !memcmp(k.mv_data, q->cursor, k.mv_size);
        /* Newest first: go on before the cursor (SET_RANGE found the first
         * key at or after it, or none: then start from the last). */
        if (q->newest_first && mrc == MDB_NOTFOUND)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        else if (mrc == 0 && (at || q->newest_first))
            mrc = mdb_cursor_get(cur, &k, &v, step);
    }
    int rc = 0;
    size_t scanned = 0, bytes = 0;
    char last[CPM_TEXT_TICKET_MAX + 1] = "";
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, step)) {
        if (rep->n_cases == limit || scanned == ROUTING_LIST_SCAN || bytes > ROUTING_LIST_BYTES)
            break;
        scanned++;
        if (k.mv_size < sizeof last) {
            memcpy(last, k.mv_data, k.mv_size);
            last[k.mv_size] = 0;
        }
        Cpm__StatusReply *r = cpm__status_reply__unpack(NULL, v.mv_size, v.mv_data);
        if (!r)
            continue; /* not a case record: nothing to list */
        if (matches(r, q, agency, now_ms)) {
            Cpm__CaseListItem *it = item_of(r, public);
            if (!it)
                rc = CPM_E_INTERNAL;
            else {
                rep->cases[rep->n_cases++] = it;
                bytes += cpm__case_list_item__get_packed_size(it) + 8;
            }
        }
        cpm__status_reply__free_unpacked(r, NULL);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != 0)
        return rc;
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return cpm_store_err(mrc);
    /* Stopped before the end: go on after the last record looked at. */
    if (!(rep->next_cursor = strdup(mrc == 0 ? last : "")))
        return CPM_E_INTERNAL;
    return 0;
}

int routing_list(cpm_store_t *st, MDB_txn *txn, const Cpm__Member *asker,
                 const Cpm__CaseListQuery *q, int64_t now_ms, Cpm__CaseListReply **out,
                 cpm_error_t *err)
{
    *out = NULL;
    const char *own = NULL;
    int scope = routing_list_scope(asker, &own);
    if (scope == 0)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "role",
                             "%s may not list cases: coordinators see all, agencies their own, "
                             "the web gateway the public projection",
                             asker ? asker->id : "the public");
    int rc = check_query(q, err);
    if (rc != 0)
        return rc;
    const char *agency = q->agency;
    if (scope == 2) {
        if (*agency && strcmp(agency, own) != 0)
            return cpm_error_set(err, CPM_E_FORBIDDEN, "agency",
                                 "%s may list only the cases of its agency %s", asker->id, own);
        agency = own;
    }
    Cpm__CaseListReply *rep = calloc(1, sizeof *rep);
    if (!rep)
        return CPM_E_INTERNAL;
    cpm__case_list_reply__init(rep);
    rep->next_cursor = NULL;
    rep->now_ms = now_ms;
    if ((rc = walk(st, txn, q, agency, scope == 3, now_ms, rep)) != 0) {
        routing_list_free(&rep);
        return cpm_error_set(err, rc, "", "the register cannot be read");
    }
    *out = rep;
    return 0;
}
