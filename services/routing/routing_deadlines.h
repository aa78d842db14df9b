/* routing_deadlines: the deadlines the city register watches.
 *
 * "due" maps due_ms (u64 big-endian) || ticket to the deadline's name
 * ("accept" or "resolve"), so the deadlines that have passed are the first
 * keys. A case holds its accept deadline until it is accepted, refused or
 * resolved, and its resolve deadline from acceptance until resolution; a
 * reopened case holds new ones (routing_deadlines_reopen).
 * routing_watch reminds before and escalates after each deadline in it. No
 * sockets. */
#ifndef ROUTING_DEADLINES_H
#define ROUTING_DEADLINES_H

#include "cpm_effects.h"
#include "cpm_rules.h"
#include "cpmesh.pb-c.h"
#include "cpm_store.h"

#include <stddef.h>
#include <stdint.h>

#define ROUTING_DUE_DB "due"
/* routing_watch's place in "due" ("meta" key): reminders are out for the
 * entries up to it (key bytes; 8 bytes = before every entry of that time). */
#define ROUTING_DUE_CURSOR "routing.remind_cursor"
/* Appended to an entry's value once its reminder is out ("accept:r"). */
#define ROUTING_DUE_REMINDED ":r"

/* Watch a deadline (what: "accept" or "resolve"). One set behind the
 * reminder cursor moves the cursor back, so it is still reminded. */
int routing_deadline_set(cpm_store_t *st, MDB_txn *txn, int64_t due_ms, const char *ticket,
                         const char *what);
/* Absent deadlines are fine (0). */
int routing_deadline_clear(cpm_store_t *st, MDB_txn *txn, int64_t due_ms, const char *ticket);

/* The deadlines of a reported move from -> to of case r at at_ms into or out
 * of "reopened" (r's fields are set here, the caller stores r):
 *   - into reopened: a new period, counted from at_ms with the case's
 *     category and generation: the agency must take the case up again (start
 *     or resolve) within the accept days ("accept" is its open deadline) and
 *     resolve it within the resolve days; the overdue flags of the last
 *     period are cleared. The new deadlines are new index entries, so each
 *     gets its reminder and its escalation once (routing_watch);
 *   - out of reopened: the accept deadline is met; started (in progress),
 *     the resolve deadline of the reopening is watched.
 * Other moves: nothing. 0 or a store error. */
int routing_deadlines_reopen(const cpm_rules_t *rules, cpm_store_t *st, MDB_txn *txn,
                             Cpm__StatusReply *r, Cpm__CaseState from, Cpm__CaseState to,
                             int64_t at_ms);

#endif
