#include "routing_deadlines.h"
#include "cpm_err.h"
#include "cpm_util.h"
#include "cpmesh.pb-c.h"

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
