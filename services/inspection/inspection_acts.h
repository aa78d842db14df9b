/* inspection_acts: the memory of offline acts, so that each is applied once.
 *
 * An officer's tool may record an act while its node cannot be reached and
 * send it later, perhaps more than once (CaseAction.client_id, acted_ms).
 * "acts" maps "<actor>\n<client_id>" -> the CaseActionReply of the first
 * application (with the act's time in acted_ms); a replay gets that answer
 * back, marked duplicate.
 *
 * Bounded: an entry is forgotten once its act is older than the acts window
 * (config acts_window_days, default 90), in bounded steps on the tick. So
 * that a replay of a forgotten act is never applied again, an act with a
 * client_id must carry acted_ms, and an act older than the window is refused
 * (inspection_domain): every act the memory has forgotten is such an act. */
#ifndef INSPECTION_ACTS_H
#define INSPECTION_ACTS_H

#include "cpm_err.h"
#include "cpm_server.h"
#include "cpm_store.h"
#include "cpm_sweep.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>

#define INSPECTION_ACTS_DB "acts"
#define INSPECTION_CLIENT_ID_MAX 64
#define INSPECTION_ACTS_WINDOW_DAYS 90 /* the default */
#define INSPECTION_ACTS_STEP 500       /* entries looked at per tick */

/* The acts window in force: window_ms, or the default when it is <= 0. */
int64_t inspection_acts_window(int64_t window_ms);

/* true when an act that happened at acted_ms is too old to be applied at
 * now_ms under window_ms (<= 0: the default): its id may be forgotten. */
bool inspection_acts_too_old(int64_t window_ms, int64_t acted_ms, int64_t now_ms);

/* true when id is a well-formed client id: 1-64 of [A-Za-z0-9._-]. */
bool inspection_client_id_valid(const char *id);

/* The first answer to (actor, client_id), or NULL with *rc CPM_E_NOT_FOUND
 * (never seen) or a store error. Free with cpm__case_action_reply__free_unpacked. */
Cpm__CaseActionReply *inspection_acts_get(cpm_store_t *st, MDB_txn *txn, const char *actor,
                                          const char *client_id, int *rc);

/* Remember r as the answer to (actor, client_id); r->acted_ms is the act's
 * time, by which it is forgotten. 0 or a store error. */
int inspection_acts_put(cpm_store_t *st, MDB_txn *txn, const char *actor, const char *client_id,
                        const Cpm__CaseActionReply *r);

/* One bounded retention step: at most max entries looked at from cur, those
 * whose act is older than the window deleted (*deleted counts them); an
 * entry without a time (stored before times were kept) is given now_ms. 0 or
 * a store error. */
int inspection_acts_sweep(cpm_store_t *st, MDB_txn *txn, int64_t window_ms, int64_t now_ms,
                          size_t max, cpm_sweep_cursor_t *cur, size_t *deleted);

/* From the service's tick: one step in its own write from cur (kept by the
 * service between ticks), counted as retention.acts_deleted. */
void inspection_acts_tick(cpm_server_t *srv, int64_t window_ms, cpm_sweep_cursor_t *cur);

#endif
