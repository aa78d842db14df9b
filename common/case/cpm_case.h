/* cpm_case: the one table of case states and what moves them.
 *
 * States and actions are the protocol's enums (CaseState, CaseActionKind).
 * Inspection applies an officer's action to its case with cpm_case_next;
 * routing applies the state an agency reports with cpm_case_follows, which
 * reads the same table: routing's "routed" is the agency's "assigned" (the
 * assignment is on its way or held), so an answer may follow either. Each
 * state's Open311 status (open/closed) is here too. No store, no sockets. */
#ifndef CPM_CASE_H
#define CPM_CASE_H

#include "cpmesh.pb-c.h"

#include <stdbool.h>

/* "received", "routed", ...; NULL for a value that is not a state. */
const char *cpm_case_state_name(Cpm__CaseState s);
/* The state named name (exact, lower case), or CASE_STATE_UNSPECIFIED. */
Cpm__CaseState cpm_case_state_parse(const char *name);

/* "accept", "refuse", "resolve", "show"; NULL for a value that is not one. */
const char *cpm_case_action_name(Cpm__CaseActionKind a);
/* The action named name, or CASE_ACTION_UNSPECIFIED. */
Cpm__CaseActionKind cpm_case_action_parse(const char *name);

/* The state action a leads to from state from, or CASE_STATE_UNSPECIFIED
 * when the table does not allow it (show never moves a case). */
Cpm__CaseState cpm_case_next(Cpm__CaseState from, Cpm__CaseActionKind a);
/* The state any action leads to (from any state), or UNSPECIFIED. */
Cpm__CaseState cpm_case_target(Cpm__CaseActionKind a);

/* true when an agency's report of state to may follow routing's state from:
 * some action moves from (routed counting as assigned) to to. */
bool cpm_case_follows(Cpm__CaseState from, Cpm__CaseState to);

/* Open311 status of a state: true open, false closed (refused, resolved). */
bool cpm_case_is_open(Cpm__CaseState s);

#endif
