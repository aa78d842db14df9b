/* cpm_case: the one table of case states and what moves them.
 *
 * States, actions and outcomes are the protocol's enums (CaseState,
 * CaseActionKind, Outcome). Inspection applies an action to its case with
 * cpm_case_next after cpm_case_may says the actor may make it; routing
 * applies the state an agency reports with cpm_case_follows, which reads the
 * same table: routing's "routed" is the agency's "assigned" (the assignment
 * is on its way or held), so an answer may follow either. Each state's
 * Open311 status (open/closed) is here too. No store, no sockets.
 * docs/protocol.md section 13 prints the table. */
#ifndef CPM_CASE_H
#define CPM_CASE_H

#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

/* Who acts, as the table knows them (a bit each, so a move lists several). */
typedef enum {
    CPM_CASE_BY_OFFICER = 1,     /* a member of the agency that holds the case */
    CPM_CASE_BY_COORDINATOR = 2, /* the city's coordinators (roles coordinator, city) */
    CPM_CASE_BY_CONSUMER = 4,    /* the consumer, through an operator (role operator) */
} cpm_case_actor_t;

/* The default period after resolution within which a case may be reopened. */
#define CPM_CASE_REOPEN_DAYS_DEFAULT 30

/* "received", "routed", ...; NULL for a value that is not a state. */
const char *cpm_case_state_name(Cpm__CaseState s);
/* The state named name (exact, lower case), or CASE_STATE_UNSPECIFIED. */
Cpm__CaseState cpm_case_state_parse(const char *name);

/* "accept", "refuse", "resolve", "show", "start", ...; NULL for a value that
 * is not one. */
const char *cpm_case_action_name(Cpm__CaseActionKind a);
/* The action named name, or CASE_ACTION_UNSPECIFIED. */
Cpm__CaseActionKind cpm_case_action_parse(const char *name);

/* "mediated", "refunded", "replaced_or_repaired", "fined", "no_violation",
 * "withdrawn", "referred"; NULL for a value that is not one. */
const char *cpm_case_outcome_name(Cpm__Outcome o);
/* The outcome named name, or OUTCOME_UNSPECIFIED. */
Cpm__Outcome cpm_case_outcome_parse(const char *name);

/* The state action a leads to from state from, or CASE_STATE_UNSPECIFIED
 * when the table does not allow it (show never moves a case). */
Cpm__CaseState cpm_case_next(Cpm__CaseState from, Cpm__CaseActionKind a);
/* The state any action leads to (from any state), or UNSPECIFIED. */
Cpm__CaseState cpm_case_target(Cpm__CaseActionKind a);
/* Who may make the move (from, a): a mask of cpm_case_actor_t, 0 when the
 * move is not in the table. */
unsigned cpm_case_who(Cpm__CaseState from, Cpm__CaseActionKind a);
/* true when actor (one cpm_case_actor_t) may move from by a. */
bool cpm_case_may(Cpm__CaseState from, Cpm__CaseActionKind a, cpm_case_actor_t actor);
/* The actor class of a registry member: same_agency (it belongs to the agency
 * holding the case) is an officer; else by role; 0 for anyone else. */
cpm_case_actor_t cpm_case_actor_of(const char *role, bool same_agency);
/* true when the action is applied at routing (assign, transfer), not at the
 * agency's inspection. */
bool cpm_case_at_routing(Cpm__CaseActionKind a);

/* true when the action needs a note (refuse: why it is not ours; wait: what
 * the consumer must give; reopen: why). */
bool cpm_case_needs_note(Cpm__CaseActionKind a);
/* Check the outcome and fine an action carries: resolve needs a known
 * outcome, a fine (> 0, at most 10^12 VND) exactly when it is fined; every
 * other action carries neither. NULL when fine, else the offending field name
 * ("outcome" or "fine_vnd"). */
const char *cpm_case_check_outcome(Cpm__CaseActionKind a, Cpm__Outcome o, int64_t fine_vnd);

/* true when an agency's report of state to may follow routing's state from:
 * some action applied at the agency moves from (routed counting as
 * assigned) to to. */
bool cpm_case_follows(Cpm__CaseState from, Cpm__CaseState to);

/* Open311 status of a state: true open, false closed (refused, resolved,
 * closed). */
bool cpm_case_is_open(Cpm__CaseState s);

#endif
