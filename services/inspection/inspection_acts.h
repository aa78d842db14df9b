/* inspection_acts: the memory of offline acts, so that each is applied once.
 *
 * An officer's tool may record an act while its node cannot be reached and
 * send it later, perhaps more than once (CaseAction.client_id, acted_ms).
 * "acts" maps "<actor>\n<client_id>" -> the CaseActionReply of the first
 * application; a replay gets that answer back, marked duplicate. Entries live
 * as long as the case store (they are a few dozen bytes). No sockets. */
#ifndef INSPECTION_ACTS_H
#define INSPECTION_ACTS_H

#include "cpm_err.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>

#define INSPECTION_ACTS_DB "acts"
#define INSPECTION_CLIENT_ID_MAX 64

/* true when id is a well-formed client id: 1-64 of [A-Za-z0-9._-]. */
bool inspection_client_id_valid(const char *id);

/* The first answer to (actor, client_id), or NULL with *rc CPM_E_NOT_FOUND
 * (never seen) or a store error. Free with cpm__case_action_reply__free_unpacked. */
Cpm__CaseActionReply *inspection_acts_get(cpm_store_t *st, MDB_txn *txn, const char *actor,
                                          const char *client_id, int *rc);

/* Remember r as the answer to (actor, client_id). 0 or a store error. */
int inspection_acts_put(cpm_store_t *st, MDB_txn *txn, const char *actor, const char *client_id,
                        const Cpm__CaseActionReply *r);

#endif
