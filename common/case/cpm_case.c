/* cpm_case: see cpm_case.h. */
#include "cpm_case.h"

#include <stddef.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    Cpm__CaseState state;
    const char *name;
    bool open; /* Open311 status */
} states[] = {
    {CPM__CASE_STATE__CASE_STATE_RECEIVED, "received", true},
    {CPM__CASE_STATE__CASE_STATE_ROUTED, "routed", true},
    {CPM__CASE_STATE__CASE_STATE_ASSIGNED, "assigned", true},
    {CPM__CASE_STATE__CASE_STATE_ACCEPTED, "accepted", true},
    {CPM__CASE_STATE__CASE_STATE_REFUSED, "refused", false},
    {CPM__CASE_STATE__CASE_STATE_RESOLVED, "resolved", false},
    /* gen (transfers): the old agency's copy of a moved case; a case with the coordinators */
    {CPM__CASE_STATE__CASE_STATE_TRANSFERRED, "transferred", false},
    {CPM__CASE_STATE__CASE_STATE_UNASSIGNED, "unassigned", true},
};

static const struct {
    Cpm__CaseActionKind action;
    const char *name;
} actions[] = {
    {CPM__CASE_ACTION_KIND__CASE_ACTION_ACCEPT, "accept"},
    {CPM__CASE_ACTION_KIND__CASE_ACTION_REFUSE, "refuse"},
    {CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE, "resolve"},
    {CPM__CASE_ACTION_KIND__CASE_ACTION_SHOW, "show"},
};

/* The transition table: the only place that says which move is allowed. */
static const struct {
    Cpm__CaseState from;
    Cpm__CaseActionKind action;
    Cpm__CaseState to;
} moves[] = {
    {CPM__CASE_STATE__CASE_STATE_ASSIGNED, CPM__CASE_ACTION_KIND__CASE_ACTION_ACCEPT,
     CPM__CASE_STATE__CASE_STATE_ACCEPTED},
    {CPM__CASE_STATE__CASE_STATE_ASSIGNED, CPM__CASE_ACTION_KIND__CASE_ACTION_REFUSE,
     CPM__CASE_STATE__CASE_STATE_REFUSED},
    {CPM__CASE_STATE__CASE_STATE_ACCEPTED, CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE,
     CPM__CASE_STATE__CASE_STATE_RESOLVED},
};

const char *cpm_case_state_name(Cpm__CaseState s)
{
    for (size_t i = 0; i < N(states); i++)
        if (states[i].state == s)
            return states[i].name;
    return NULL;
}

Cpm__CaseState cpm_case_state_parse(const char *name)
{
    for (size_t i = 0; name && i < N(states); i++)
        if (!strcmp(states[i].name, name))
            return states[i].state;
    return CPM__CASE_STATE__CASE_STATE_UNSPECIFIED;
}

const char *cpm_case_action_name(Cpm__CaseActionKind a)
{
    for (size_t i = 0; i < N(actions); i++)
        if (actions[i].action == a)
            return actions[i].name;
    return NULL;
}

Cpm__CaseActionKind cpm_case_action_parse(const char *name)
{
    for (size_t i = 0; name && i < N(actions); i++)
        if (!strcmp(actions[i].name, name))
            return actions[i].action;
    return CPM__CASE_ACTION_KIND__CASE_ACTION_UNSPECIFIED;
}

Cpm__CaseState cpm_case_next(Cpm__CaseState from, Cpm__CaseActionKind a)
{
    for (size_t i = 0; i < N(moves); i++)
        if (moves[i].from == from && moves[i].action == a)
            return moves[i].to;
    return CPM__CASE_STATE__CASE_STATE_UNSPECIFIED;
}

Cpm__CaseState cpm_case_target(Cpm__CaseActionKind a)
{
    for (size_t i = 0; i < N(moves); i++)
        if (moves[i].action == a)
            return moves[i].to;
    return CPM__CASE_STATE__CASE_STATE_UNSPECIFIED;
}

bool cpm_case_follows(Cpm__CaseState from, Cpm__CaseState to)
{
    /* Routing hears of the assignment only through the agency's reports: an
     * answer may come while routing still says routed. */
    if (from == CPM__CASE_STATE__CASE_STATE_ROUTED)
        from = CPM__CASE_STATE__CASE_STATE_ASSIGNED;
    if (to == CPM__CASE_STATE__CASE_STATE_ASSIGNED)
        return false; /* confirms delivery only; see routing_apply_update */
    for (size_t i = 0; i < N(moves); i++)
        if (moves[i].from == from && moves[i].to == to)
            return true;
    return false;
}

bool cpm_case_is_open(Cpm__CaseState s)
{
    for (size_t i = 0; i < N(states); i++)
        if (states[i].state == s)
            return states[i].open;
    return false;
}
