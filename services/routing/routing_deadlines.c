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
    return cpm_store_put(st, txn, ROUTING_DUE_DB, key, klen, what, strlen(what));
}

int routing_deadline_clear(cpm_store_t *st, MDB_txn *txn, int64_t due_ms, const char *ticket)
{
    uint8_t key[KEY_MAX];
    size_t klen = due_key(key, due_ms, ticket);
    int rc = cpm_store_del(st, txn, ROUTING_DUE_DB, key, klen);
    return rc == CPM_E_NOT_FOUND ? 0 : rc;
}
