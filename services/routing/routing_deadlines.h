/* routing_deadlines: the deadlines the city register watches.
 *
 * "due" maps due_ms (u64 big-endian) || ticket to the deadline's name
 * ("accept" or "resolve"), so the deadlines that have passed are the first
 * keys. A case holds its accept deadline until it is accepted, refused or
 * resolved, and its resolve deadline from acceptance until resolution. A
 * passed deadline becomes one "case.overdue" event (what coordinators
 * subscribe to) and leaves the index. No sockets. */
#ifndef ROUTING_DEADLINES_H
#define ROUTING_DEADLINES_H

#include "cpm_effects.h"
#include "cpm_store.h"

#include <stddef.h>
#include <stdint.h>

#define ROUTING_DUE_DB "due"

int routing_deadline_set(cpm_store_t *st, MDB_txn *txn, int64_t due_ms, const char *ticket,
                         const char *what);
/* Absent deadlines are fine (0). */
int routing_deadline_clear(cpm_store_t *st, MDB_txn *txn, int64_t due_ms, const char *ticket);

/* Report every deadline before now_ms, at most max of them: one
 * "case.overdue" event each (agency = the case's agency, detail names the
 * deadline), then drop it from the index. *n gets how many. 0 or a store
 * error. */
int routing_deadlines_check(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx, int64_t now_ms,
                            size_t max, size_t *n);

#endif
