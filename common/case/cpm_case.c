/* cpm_case: see cpm_case.h. */
#include "cpm_case.h"

#include <stddef.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define S(x) CPM__CASE_STATE__CASE_STATE_##x
#define A(x) CPM__CASE_ACTION_KIND__CASE_ACTION_##x
#define O(x) CPM__OUTCOME__OUTCOME_##x

enum { OFF = CPM_CASE_BY_OFFICER, CO = CPM_CASE_BY_COORDINATOR, CON = CPM_CASE_BY_CONSUMER };

/* A fine above this is a typing error, not a fine (the largest administrative
 * fines are in the billions of VND). */
#define FINE_MAX_VND 1000000000000LL

static const struct {
    Cpm__CaseState state;
    const char *name;
    bool open; /* Open311 status */
} states[] = {
    {S(RECEIVED), "received", true},       {S(ROUTED), "routed", true},
    {S(ASSIGNED), "assigned", true},       {S(ACCEPTED), "accepted", true},
    {S(REFUSED), "refused", false},        {S(RESOLVED), "resolved", false},
    {S(TRANSFERRED), "transferred", true}, /* still the city's case, on its way */
    {S(IN_PROGRESS), "in_progress", true}, {S(WAITING_CONSUMER), "waiting_consumer", true},
    {S(CLOSED), "closed", false},          {S(REOPENED), "reopened", true},
    {S(UNASSIGNED), "unassigned", true},
};

static const struct {
    Cpm__CaseActionKind action;
    const char *name;
} actions[] = {
    {A(ACCEPT), "accept"}, {A(REFUSE), "refuse"}, {A(RESOLVE), "resolve"},   {A(SHOW), "show"},
    {A(START), "start"},   {A(WAIT), "wait"},     {A(RESUME), "resume"},     {A(CLOSE), "close"},
    {A(REOPEN), "reopen"}, {A(ASSIGN), "assign"}, {A(TRANSFER), "transfer"},
};

static const struct {
    Cpm__Outcome outcome;
    const char *name;
} outcomes[] = {
    {O(MEDIATED), "mediated"},
    {O(REFUNDED), "refunded"},
    {O(REPLACED_OR_REPAIRED), "replaced_or_repaired"},
    {O(FINED), "fined"},
    {O(NO_VIOLATION), "no_violation"},
    {O(WITHDRAWN), "withdrawn"},
    {O(REFERRED), "referred"},
};

/* The transition table: the only place that says which move is allowed and
 * who may make it. Reopen is the consumer's or a coordinator's, never the
 * agency's own (it would reset its deadlines at will); assign and transfer
 * are the city's, applied at routing. */
static const struct {
    Cpm__CaseState from;
    Cpm__CaseActionKind action;
    Cpm__CaseState to;
    unsigned who;
} moves[] = {
    {S(ASSIGNED), A(ACCEPT), S(ACCEPTED), OFF},
    {S(ASSIGNED), A(REFUSE), S(REFUSED), OFF},
    {S(ACCEPTED), A(START), S(IN_PROGRESS), OFF},
    {S(ACCEPTED), A(RESOLVE), S(RESOLVED), OFF},
    {S(IN_PROGRESS), A(WAIT), S(WAITING_CONSUMER), OFF},
    {S(IN_PROGRESS), A(RESOLVE), S(RESOLVED), OFF},
    {S(WAITING_CONSUMER), A(RESUME), S(IN_PROGRESS), OFF},
    {S(WAITING_CONSUMER), A(RESOLVE), S(RESOLVED), OFF}, /* e.g. withdrawn */
    {S(RESOLVED), A(CLOSE), S(CLOSED), OFF | CO},
    {S(RESOLVED), A(REOPEN), S(REOPENED), CO | CON},
    {S(CLOSED), A(REOPEN), S(REOPENED), CO | CON},
    {S(REOPENED), A(START), S(IN_PROGRESS), OFF},
    {S(REOPENED), A(RESOLVE), S(RESOLVED), OFF},
    {S(UNASSIGNED), A(ASSIGN), S(ASSIGNED), CO},
    {S(REFUSED), A(ASSIGN), S(ASSIGNED), CO},
    {S(ROUTED), A(TRANSFER), S(TRANSFERRED), CO},
    {S(ASSIGNED), A(TRANSFER), S(TRANSFERRED), CO},
    {S(ACCEPTED), A(TRANSFER), S(TRANSFERRED), CO},
    {S(IN_PROGRESS), A(TRANSFER), S(TRANSFERRED), CO},
    {S(WAITING_CONSUMER), A(TRANSFER), S(TRANSFERRED), CO},
    {S(REOPENED), A(TRANSFER), S(TRANSFERRED), CO},
    {S(UNASSIGNED), A(TRANSFER), S(TRANSFERRED), CO},
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
    return S(UNSPECIFIED);
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
    return A(UNSPECIFIED);
}

const char *cpm_case_outcome_name(Cpm__Outcome o)
{
    for (size_t i = 0; i < N(outcomes); i++)
        if (outcomes[i].outcome == o)
            return outcomes[i].name;
    return NULL;
}

Cpm__Outcome cpm_case_outcome_parse(const char *name)
{
    for (size_t i = 0; name && i < N(outcomes); i++)
        if (!strcmp(outcomes[i].name, name))
            return outcomes[i].outcome;
    return O(UNSPECIFIED);
}

Cpm__CaseState cpm_case_next(Cpm__CaseState from, Cpm__CaseActionKind a)
{
    for (size_t i = 0; i < N(moves); i++)
        if (moves[i].from == from && moves[i].action == a)
            return moves[i].to;
    return S(UNSPECIFIED);
}

Cpm__CaseState cpm_case_target(Cpm__CaseActionKind a)
{
    for (size_t i = 0; i < N(moves); i++)
        if (moves[i].action == a)
            return moves[i].to;
    return S(UNSPECIFIED);
}

unsigned cpm_case_who(Cpm__CaseState from, Cpm__CaseActionKind a)
{
    for (size_t i = 0; i < N(moves); i++)
        if (moves[i].from == from && moves[i].action == a)
            return moves[i].who;
    return 0;
}

bool cpm_case_may(Cpm__CaseState from, Cpm__CaseActionKind a, cpm_case_actor_t actor)
{
    return (cpm_case_who(from, a) & (unsigned)actor) != 0;
}

cpm_case_actor_t cpm_case_actor_of(const char *role, bool same_agency)
{
    if (same_agency)
        return CPM_CASE_BY_OFFICER;
    if (role && (!strcmp(role, "coordinator") || !strcmp(role, "city")))
        return CPM_CASE_BY_COORDINATOR;
    if (role && !strcmp(role, "operator"))
        return CPM_CASE_BY_CONSUMER;
    return (cpm_case_actor_t)0;
}

bool cpm_case_at_routing(Cpm__CaseActionKind a)
{
    return a == A(ASSIGN) || a == A(TRANSFER);
}

bool cpm_case_needs_note(Cpm__CaseActionKind a)
{
    return a == A(REFUSE) || a == A(WAIT) || a == A(REOPEN) || a == A(TRANSFER);
}

const char *cpm_case_check_outcome(Cpm__CaseActionKind a, Cpm__Outcome o, int64_t fine_vnd)
{
    if (a != A(RESOLVE))
        return o != O(UNSPECIFIED) ? "outcome" : fine_vnd != 0 ? "fine_vnd" : NULL;
    if (!cpm_case_outcome_name(o))
        return "outcome";
    if (o == O(FINED))
        return fine_vnd > 0 && fine_vnd <= FINE_MAX_VND ? NULL : "fine_vnd";
    return fine_vnd != 0 ? "fine_vnd" : NULL;
}

bool cpm_case_follows(Cpm__CaseState from, Cpm__CaseState to)
{
    /* Routing hears of the assignment only through the agency's reports: an
     * answer may come while routing still says routed. */
    if (from == S(ROUTED))
        from = S(ASSIGNED);
    if (to == S(ASSIGNED))
        return false; /* confirms delivery only; see routing_apply_update */
    for (size_t i = 0; i < N(moves); i++)
        if (moves[i].from == from && moves[i].to == to && !cpm_case_at_routing(moves[i].action))
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
