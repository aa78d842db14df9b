/* routing_watch: reminders and escalation over the "due" index (see
 * routing_watch.h). */
#include "routing_watch.h"
#include "cpm_err.h"
#include "cpm_util.h"
#include "routing_deadlines.h"
#include "routing_domain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 200

const char *routing_watch_open_deadline(const Cpm__StatusReply *r, int64_t *due_ms)
{
    *due_ms = 0;
    switch (r->state) {
    case CPM__CASE_STATE__CASE_STATE_ROUTED:
    case CPM__CASE_STATE__CASE_STATE_ASSIGNED:
    case CPM__CASE_STATE__CASE_STATE_TRANSFERRED:
    case CPM__CASE_STATE__CASE_STATE_UNASSIGNED:
    case CPM__CASE_STATE__CASE_STATE_REOPENED: /* to be taken up again */
        *due_ms = r->accept_due_ms;
        return r->accept_due_ms ? "accept" : "";
    case CPM__CASE_STATE__CASE_STATE_ACCEPTED:
    case CPM__CASE_STATE__CASE_STATE_IN_PROGRESS:
    case CPM__CASE_STATE__CASE_STATE_WAITING_CONSUMER:
        *due_ms = r->resolve_due_ms;
        return r->resolve_due_ms ? "resolve" : "";
    default:
        return "";
    }
}

bool routing_watch_is_overdue(const Cpm__StatusReply *r)
{
    int64_t due;
    const char *open = routing_watch_open_deadline(r, &due);
    return r->overdue && *open && r->overdue_deadline && !strcmp(open, r->overdue_deadline) &&
           due == r->overdue_since_ms;
}

/* One index entry, decoded. */
typedef struct {
    int64_t due_ms;
    char ticket[KEY_MAX];
    char what[16];
    bool reminded; /* the value carries ROUTING_DUE_REMINDED */
} entry_t;

static void decode(const MDB_val *k, const MDB_val *v, entry_t *e)
{
    e->due_ms = (int64_t)cpm_get_be64(k->mv_data);
    snprintf(e->ticket, sizeof e->ticket, "%.*s", (int)(k->mv_size - 8), (char *)k->mv_data + 8);
    snprintf(e->what, sizeof e->what, "%.*s", (int)v->mv_size, (char *)v->mv_data);
    char *mark = strstr(e->what, ROUTING_DUE_REMINDED);
    e->reminded = mark != NULL;
    if (mark)
        *mark = 0;
}

/* The case of e when it still holds e's deadline open, else NULL (stale). */
static Cpm__StatusReply *holder(cpm_store_t *st, MDB_txn *txn, const entry_t *e, int *rc)
{
    Cpm__StatusReply *r = routing_status(st, txn, e->ticket, rc);
    if (!r) {
        if (*rc == CPM_E_NOT_FOUND)
            *rc = 0;
        return NULL;
    }
    int64_t due;
    const char *open = routing_watch_open_deadline(r, &due);
    if (strcmp(open, e->what) != 0 || due != e->due_ms) {
        cpm__status_reply__free_unpacked(r, NULL);
        return NULL;
    }
    return r;
}

static int emit(const cpm_effects_t *fx, MDB_txn *txn, const char *kind, const entry_t *e,
                const Cpm__StatusReply *r, const char *tail)
{
    char at[40], note[200];
    cpm_format_time(e->due_ms, at, sizeof at);
    snprintf(note, sizeof note, "deadline=%s due=%s %s", e->what, at, tail);
    cpm_event_t ev = {.kind = kind,
                      .ticket = e->ticket,
                      .agency = r->agency,
                      .area = r->area,
                      .category = r->category,
                      .state = r->state,
                      .rule = r->rule_id,
                      .note = note};
    return fx->event(fx->ctx, txn, &ev);
}

static int load_cursor(cpm_store_t *st, MDB_txn *txn, uint8_t *key, size_t *klen)
{
    const void *v;
    size_t vlen;
    *klen = 0;
    int rc = cpm_store_get(st, txn, CPM_DB_META, ROUTING_DUE_CURSOR, strlen(ROUTING_DUE_CURSOR), &v,
                           &vlen);
    if (rc == CPM_E_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (vlen > KEY_MAX)
        return CPM_E_INTERNAL;
    memcpy(key, v, vlen);
    *klen = vlen;
    return 0;
}

static int send_reminder(const cpm_effects_t *fx, MDB_txn *txn, const entry_t *e,
                         const Cpm__StatusReply *r, int days)
{
    char tail[64];
    snprintf(tail, sizeof tail, "working_days_left=%d", days);
    return emit(fx, txn, "case.reminder", e, r, tail);
}

/* The reminders whose moment has come, in index order after the cursor. */
static int remind(const cpm_rules_t *rules, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                  int64_t now_ms, size_t max, routing_watch_stats_t *s)
{
    int days = cpm_rules_remind_days(rules);
    uint8_t cur_key[KEY_MAX];
    size_t cur_len;
    int rc = load_cursor(st, txn, cur_key, &cur_len);
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, cpm_store_dbi(st, ROUTING_DUE_DB), &cur);
    if (mrc != 0)
        return cpm_store_err(mrc);
    MDB_val k = {.mv_size = cur_len, .mv_data = cur_key}, v;
    if (cur_len) {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (mrc == 0 && k.mv_size == cur_len && !memcmp(k.mv_data, cur_key, cur_len))
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    } else {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    size_t n = 0;
    uint8_t last[KEY_MAX];
    size_t last_len = 0;
    for (; mrc == 0 && k.mv_size > 8 && k.mv_size <= KEY_MAX;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        entry_t e;
        decode(&k, &v, &e);
        if (cpm_rules_sub_working_days(rules, e.due_ms, days) >= now_ms)
            break;
        if (n == max) {
            s->more = true;
            break;
        }
        memcpy(last, k.mv_data, k.mv_size);
        last_len = k.mv_size;
        n++;
        if (e.reminded)
            continue; /* the cursor went back for an earlier deadline */
        Cpm__StatusReply *r = holder(st, txn, &e, &rc);
        if (rc != 0)
            break;
        if (!r)
            continue; /* met or moved: nothing to remind of */
        rc = send_reminder(fx, txn, &e, r, days);
        cpm__status_reply__free_unpacked(r, NULL);
        if (rc != 0)
            break;
        s->reminders++;
        char marked[sizeof e.what + sizeof ROUTING_DUE_REMINDED];
        snprintf(marked, sizeof marked, "%s%s", e.what, ROUTING_DUE_REMINDED);
        MDB_val mk = {.mv_size = last_len, .mv_data = last};
        MDB_val mv = {.mv_size = strlen(marked), .mv_data = marked};
        if ((mrc = cpm_store_cursor_put(st, cur, &mk, &mv, MDB_CURRENT)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != 0)
        return rc;
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return cpm_store_err(mrc);
    if (!last_len)
        return 0;
    return cpm_store_put(st, txn, CPM_DB_META, ROUTING_DUE_CURSOR, strlen(ROUTING_DUE_CURSOR), last,
                         last_len);
}

static int flag_overdue(cpm_store_t *st, MDB_txn *txn, Cpm__StatusReply *r, const entry_t *e,
                        int64_t now_ms)
{
    char *old = r->overdue_deadline;
    r->overdue = true;
    r->overdue_deadline = (char *)(!strcmp(e->what, "accept") ? "accept" : "resolve");
    r->overdue_since_ms = e->due_ms;
    r->escalated_ms = now_ms;
    int rc = cpm_store_put_msg(st, txn, ROUTING_CASES_DB, r->ticket, &r->base);
    r->overdue_deadline = old; /* the unpacked string is freed with r */
    return rc;
}

/* Deadlines that passed: escalate (after the reminder, sent now if it is
 * not out yet), flag, drop. */
static int escalate(const cpm_rules_t *rules, cpm_store_t *st, MDB_txn *txn,
                    const cpm_effects_t *fx, int64_t now_ms, size_t max, routing_watch_stats_t *s)
{
    int days = cpm_rules_remind_days(rules);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, cpm_store_dbi(st, ROUTING_DUE_DB), &cur);
    if (mrc != 0)
        return cpm_store_err(mrc);
    int rc = 0;
    MDB_val k, v;
    size_t n = 0;
    /* The index is ordered by time: the first key is always the next due. */
    while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 && k.mv_size > 8 &&
           k.mv_size <= KEY_MAX && (int64_t)cpm_get_be64(k.mv_data) < now_ms) {
        if (n == max) {
            s->more = true;
            break;
        }
        n++;
        entry_t e;
        decode(&k, &v, &e);
        Cpm__StatusReply *r = holder(st, txn, &e, &rc);
        if (rc != 0)
            break;
        if (r) {
            if (days > 0 && !e.reminded && (rc = send_reminder(fx, txn, &e, r, days)) == 0)
                s->reminders++;
            if (rc == 0)
                rc = flag_overdue(st, txn, r, &e, now_ms);
            if (rc == 0)
                rc = emit(fx, txn, "case.escalated", &e, r, "to=coordinators");
            cpm__status_reply__free_unpacked(r, NULL);
            if (rc != 0)
                break;
            s->escalated++;
        } else {
            s->stale++;
        }
        if ((mrc = cpm_store_cursor_del(st, cur)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != 0)
        return rc;
    return (mrc == 0 || mrc == MDB_NOTFOUND) ? 0 : cpm_store_err(mrc);
}

int routing_watch_tick(const cpm_rules_t *rules, cpm_store_t *st, MDB_txn *txn,
                       const cpm_effects_t *fx, int64_t now_ms, size_t max,
                       routing_watch_stats_t *stats)
{
    memset(stats, 0, sizeof *stats);
    int rc = 0;
    if (cpm_rules_remind_days(rules) > 0)
        rc = remind(rules, st, txn, fx, now_ms, max, stats);
    if (rc == 0)
        rc = escalate(rules, st, txn, fx, now_ms, max, stats);
    return rc;
}
