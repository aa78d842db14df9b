#include "routing_deadlines.h"
#include "cpm_err.h"
#include "cpm_util.h"
#include "cpmesh.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 200

static size_t due_key(uint8_t key[KEY_MAX], int64_t due_ms, const char *ticket)
{
    size_t tl = strlen(ticket);
    if (tl > KEY_MAX - 8)
        tl = KEY_MAX - 8;
    cpm_put_be64(key, (uint64_t)(due_ms > 0 ? due_ms : 0));
    memcpy(key + 8, ticket, tl);
    return 8 + tl;
}

int routing_deadline_set(cpm_store_t *st, MDB_txn *txn, int64_t due_ms, const char *ticket,
                         const char *what)
{
    uint8_t key[KEY_MAX];
    size_t klen = due_key(key, due_ms, ticket);
    int rc = cpm_store_put(st, txn, ROUTING_DUE_DB, key, klen, what, strlen(what));
    if (rc != 0)
        return rc;
    /* A deadline set at or behind routing_watch's reminder cursor (less than
     * the reminder days ahead) must still get its reminder: move the cursor
     * back to just before its time. Entries already reminded on the way are
     * marked (ROUTING_DUE_REMINDED) and skipped, so none is sent twice. */
    const void *cur;
    size_t clen;
    rc = cpm_store_get(st, txn, CPM_DB_META, ROUTING_DUE_CURSOR, strlen(ROUTING_DUE_CURSOR), &cur,
                       &clen);
    if (rc == CPM_E_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    size_t n = clen < klen ? clen : klen;
    int cmp = memcmp(key, cur, n);
    if (cmp > 0 || (cmp == 0 && klen > clen))
        return 0;
    return cpm_store_put(st, txn, CPM_DB_META, ROUTING_DUE_CURSOR, strlen(ROUTING_DUE_CURSOR), key,
                         8);
}

int routing_deadline_clear(cpm_store_t *st, MDB_txn *txn, int64_t due_ms, const char *ticket)
{
    uint8_t key[KEY_MAX];
    size_t klen = due_key(key, due_ms, ticket);
    int rc = cpm_store_del(st, txn, ROUTING_DUE_DB, key, klen);
    return rc == CPM_E_NOT_FOUND ? 0 : rc;
}

/* The flags routing_watch set when the last period's deadline passed. */
static void clear_overdue(Cpm__StatusReply *r)
{
    if (r->overdue_deadline && r->overdue_deadline != protobuf_c_empty_string)
        free(r->overdue_deadline);
    r->overdue_deadline = (char *)protobuf_c_empty_string;
    r->overdue = false;
    r->overdue_since_ms = 0;
    r->escalated_ms = 0;
}

int routing_deadlines_reopen(const cpm_rules_t *rules, cpm_store_t *st, MDB_txn *txn,
                             Cpm__StatusReply *r, Cpm__CaseState from, Cpm__CaseState to,
                             int64_t at_ms)
{
    int rc;
    if (to == CPM__CASE_STATE__CASE_STATE_REOPENED) {
        /* Whatever the last period left in the index (nothing, normally:
         * resolution cleared it) is no longer this case's. */
        if ((rc = routing_deadline_clear(st, txn, r->accept_due_ms, r->ticket)) != 0 ||
            (rc = routing_deadline_clear(st, txn, r->resolve_due_ms, r->ticket)) != 0)
            return rc;
        r->accept_due_ms = cpm_rules_add_working_days(
            rules, at_ms, cpm_rules_accept_days_for(rules, r->category, r->generation));
        r->resolve_due_ms = cpm_rules_add_working_days(
            rules, at_ms, cpm_rules_resolve_days_for(rules, r->category, r->generation));
        clear_overdue(r);
        return routing_deadline_set(st, txn, r->accept_due_ms, r->ticket, "accept");
    }
    if (from != CPM__CASE_STATE__CASE_STATE_REOPENED)
        return 0;
    if ((rc = routing_deadline_clear(st, txn, r->accept_due_ms, r->ticket)) != 0)
        return rc;
    if (to == CPM__CASE_STATE__CASE_STATE_IN_PROGRESS && r->resolve_due_ms)
        return routing_deadline_set(st, txn, r->resolve_due_ms, r->ticket, "resolve");
    return 0;
}
