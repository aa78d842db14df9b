/* inspection_acts: see inspection_acts.h. */
#include "inspection_acts.h"

#include <stdio.h>
#include <string.h>

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
