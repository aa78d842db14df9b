/* inspection_acts: see inspection_acts.h. */
#include "inspection_acts.h"

#include "cpm_log.h"
#include "cpm_metrics.h"
#include "cpm_util.h"

#include <stdio.h>
#include <string.h>

int64_t inspection_acts_window(int64_t window_ms)
{
    return window_ms > 0 ? window_ms : INSPECTION_ACTS_WINDOW_DAYS * 86400000LL;
}

bool inspection_acts_too_old(int64_t window_ms, int64_t acted_ms, int64_t now_ms)
{
    return acted_ms < now_ms - inspection_acts_window(window_ms);
}

bool inspection_client_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > INSPECTION_CLIENT_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* "<actor>\n<client_id>": a newline is in neither (member ids and client ids
 * are checked forms), so two pairs never share a key. */
static int key_of(const char *actor, const char *client_id, char *key, size_t n)
{
    int len = snprintf(key, n, "%s\n%s", actor, client_id);
    return len > 0 && (size_t)len < n ? 0 : CPM_E_INVALID;
}

Cpm__CaseActionReply *inspection_acts_get(cpm_store_t *st, MDB_txn *txn, const char *actor,
                                          const char *client_id, int *rc)
{
    char key[256];
    if ((*rc = key_of(actor, client_id, key, sizeof key)) != 0)
        return NULL;
    ProtobufCMessage *m = NULL;
    *rc = cpm_store_get_msg(st, txn, INSPECTION_ACTS_DB, key, &cpm__case_action_reply__descriptor,
                            &m);
    if (*rc == CPM_E_BAD_MESSAGE)
        *rc = CPM_E_INTERNAL;
    return *rc == 0 ? (Cpm__CaseActionReply *)m : NULL;
}

int inspection_acts_put(cpm_store_t *st, MDB_txn *txn, const char *actor, const char *client_id,
                        const Cpm__CaseActionReply *r)
{
    char key[256];
    int rc = key_of(actor, client_id, key, sizeof key);
    return rc != 0 ? rc : cpm_store_put_msg(st, txn, INSPECTION_ACTS_DB, key, &r->base);
}

typedef struct {
    cpm_store_t *st;
    int64_t window_ms;
    int64_t now_ms;
} sweep_t;

static int old_act(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *del)
{
    sweep_t *s = ctx;
    Cpm__CaseActionReply *r = cpm__case_action_reply__unpack(NULL, v->mv_size, v->mv_data);
    if (!r) { /* unreadable: it answers nothing */
        *del = true;
        return 0;
    }
    int rc = 0;
    char key[256];
    if (!r->acted_ms && k->mv_size < sizeof key) { /* no time kept: a full window from now */
        memcpy(key, k->mv_data, k->mv_size);
        key[k->mv_size] = 0;
        r->acted_ms = s->now_ms;
        rc = cpm_store_put_msg(s->st, txn, INSPECTION_ACTS_DB, key, &r->base);
    } else {
        *del = !r->acted_ms || inspection_acts_too_old(s->window_ms, r->acted_ms, s->now_ms);
    }
    cpm__case_action_reply__free_unpacked(r, NULL);
    return rc;
}

int inspection_acts_sweep(cpm_store_t *st, MDB_txn *txn, int64_t window_ms, int64_t now_ms,
                          size_t max, cpm_sweep_cursor_t *cur, size_t *deleted)
{
    sweep_t s = {st, window_ms, now_ms};
    cpm_sweep_stats_t stats;
    int rc = cpm_sweep_step(st, txn, INSPECTION_ACTS_DB, cur, max, old_act, &s, &stats);
    *deleted = rc == 0 ? stats.deleted : 0;
    return rc;
}

typedef struct {
    int64_t window_ms, now_ms;
    cpm_sweep_cursor_t *cur;
    size_t deleted;
} tick_t;

static int tick_step(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    tick_t *t = ctx;
    return inspection_acts_sweep(cpm_server_store(srv), txn, t->window_ms, t->now_ms,
                                 INSPECTION_ACTS_STEP, t->cur, &t->deleted);
}

void inspection_acts_tick(cpm_server_t *srv, int64_t window_ms, cpm_sweep_cursor_t *cur)
{
    tick_t t = {window_ms, cpm_now_ms(), cur, 0};
    int rc = cpm_server_write(srv, tick_step, &t);
    if (rc != 0) {
        cpm_warn("retention of offline act ids failed (retried next tick): %s", cpm_err_name(rc));
        return;
    }
    cpm_metrics_add(cpm_server_metrics(srv), "retention.acts_deleted", t.deleted);
    if (t.deleted)
        cpm_info("retention: forgot %zu offline act id%s older than %lld days", t.deleted,
                 t.deleted == 1 ? "" : "s",
                 (long long)(inspection_acts_window(window_ms) / 86400000LL));
}
