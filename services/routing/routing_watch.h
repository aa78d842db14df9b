/* routing_watch: what the register does as deadlines come near and pass.
 *
 * Every deadline the register holds is in the "due" index of
 * routing_deadlines (due_ms || ticket -> "accept" | "resolve"). Each tick:
 *   - reminders: walking the index in time order from a cursor kept in
 *     "meta" (ROUTING_DUE_CURSOR), every deadline whose reminder moment
 *     (cpm_rules_remind_days working days before it) has come gives one
 *     "case.reminder" event to the responsible agency; in the same
 *     transaction its entry is marked reminded and the cursor moves past it,
 *     so a reminder is sent once, SIGKILL or not. The reminder moment only
 *     grows with the deadline, so the cursor goes back only for a deadline
 *     set behind it (routing_deadline_set), and the marks skip what was sent;
 *   - escalation: every deadline that has passed gives one "case.escalated"
 *     event for the city's coordinators (after its reminder, sent then if it
 *     was not yet), flags the case overdue (StatusReply.overdue,
 *     overdue_deadline, overdue_since_ms, escalated_ms) and leaves the index,
 *     all in one transaction.
 * An index entry that no longer matches its case (the case moved on, its
 * deadline changed) is dropped without an event. Work per tick is bounded by
 * max. No sockets. */
#ifndef ROUTING_WATCH_H
#define ROUTING_WATCH_H

#include "cpm_effects.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t reminders; /* case.reminder events */
    size_t escalated; /* case.escalated events (cases flagged overdue) */
    size_t stale;     /* index entries dropped: the case no longer holds that deadline */
    bool more;        /* max was reached: call again */
} routing_watch_stats_t;

/* One round at now_ms, at most max reminders and max escalations. 0 or a
 * store/event error (the caller's transaction is then to be aborted). */
int routing_watch_tick(const cpm_rules_t *rules, cpm_store_t *st, MDB_txn *txn,
                       const cpm_effects_t *fx, int64_t now_ms, size_t max,
                       routing_watch_stats_t *stats);

/* The deadline that is still open for r by its state: "accept" (routed,
 * assigned, transferred, unassigned, reopened: to be taken up again),
 * "resolve" (accepted, in progress, waiting for the consumer; with a resolve
 * deadline set) or ""
 * (none: refused, resolved, closed). *due_ms gets its time (0 for ""). */
const char *routing_watch_open_deadline(const Cpm__StatusReply *r, int64_t *due_ms);

/* true when r is overdue now: flagged, and the deadline that passed is
 * still the open one (an agency that answers late ends it). */
bool routing_watch_is_overdue(const Cpm__StatusReply *r);

#endif
