#include "routing_deadlines.h"
#include "cpm_err.h"
#include "cpm_util.h"
#include "cpmesh.pb-c.h"
#include "routing_domain.h"

#include <stdio.h>
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
    return cpm_store_put(st, txn, ROUTING_DUE_DB, key, klen, what, strlen(what));
}

int routing_deadline_clear(cpm_store_t *st, MDB_txn *txn, int64_t due_ms, const char *ticket)
{
    uint8_t key[KEY_MAX];
    size_t klen = due_key(key, due_ms, ticket);
    int rc = cpm_store_del(st, txn, ROUTING_DUE_DB, key, klen);
    return rc == CPM_E_NOT_FOUND ? 0 : rc;
}

/* The agency of a case, for the event ("" when the case is unknown). */
static void case_agency(cpm_store_t *st, MDB_txn *txn, const char *ticket, char *out, size_t n)
{
    ProtobufCMessage *m;
    out[0] = 0;
    if (cpm_store_get_msg(st, txn, ROUTING_CASES_DB, ticket, &cpm__status_reply__descriptor, &m) !=
        0)
        return;
    snprintf(out, n, "%s", ((Cpm__StatusReply *)m)->agency);
    protobuf_c_message_free_unpacked(m, NULL);
}

int routing_deadlines_check(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx, int64_t now_ms,
                            size_t max, size_t *n)
{
    *n = 0;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, cpm_store_dbi(st, ROUTING_DUE_DB), &cur);
    if (mrc != 0)
        return cpm_store_err(mrc);
    int rc = 0;
    MDB_val k, v;
    /* The index is ordered by time: the first key is always the next due. */
    while (*n < max && (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 && k.mv_size > 8 &&
           (int64_t)cpm_get_be64(k.mv_data) < now_ms) {
        char ticket[KEY_MAX], what[16], agency[128], note[160], at[40];
        snprintf(ticket, sizeof ticket, "%.*s", (int)(k.mv_size - 8), (char *)k.mv_data + 8);
        snprintf(what, sizeof what, "%.*s", (int)v.mv_size, (char *)v.mv_data);
        cpm_format_time((int64_t)cpm_get_be64(k.mv_data), at, sizeof at);
        case_agency(st, txn, ticket, agency, sizeof agency);
        snprintf(note, sizeof note, "deadline=%s due=%s", what, at);
        cpm_event_t ev = {.kind = "case.overdue", .ticket = ticket, .agency = agency, .note = note};
        if ((rc = fx->event(fx->ctx, txn, &ev)) != 0)
            break;
        if ((mrc = mdb_cursor_del(cur, 0)) != 0)
            break;
        (*n)++;
    }
    mdb_cursor_close(cur);
    if (rc != 0)
        return rc;
    return (mrc == 0 || mrc == MDB_NOTFOUND) ? 0 : cpm_store_err(mrc);
}
