/* routing_transfer: cases that move between agencies.
 *
 * Routing keeps a copy of every complaint it routed ("complaints": ticket ->
 * Complaint without the sealed contact, which was sealed to the first
 * agency's key and is not routing's to pass on), so that it can assign the
 * case again. A move is one write transaction: the register's record
 * (agency, state routed, history entry "transferred" with actor and reason,
 * new accept deadline), a new Assignment (previous_agency, reason, returns)
 * queued for the new agency's inspection service, a withdrawal notice (an
 * Assignment with withdrawn set) queued for the old agency's, and the event
 * "case.transferred". Everything goes through the outbox, so a node that is
 * down gets its record when it is back, exactly once.
 *
 * Returns ("not ours", the REFUSE action): the case is routed again by the
 * next matching rule, skipping every agency that returned it, or to triage;
 * at the second return it goes to the city's coordinators (unassigned,
 * "case.unassigned"), who give it to an agency by hand (routing_case_assign).
 * No sockets. */
#ifndef ROUTING_TRANSFER_H
#define ROUTING_TRANSFER_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_registry.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

/* After this many returns a case goes to the coordinators. */
#define ROUTING_RETURNS_MAX 2

/* Keep c (a complaint being routed) without its contact. 0 or a store error. */
int routing_copy_put(cpm_store_t *st, MDB_txn *txn, const Cpm__Complaint *c);

/* The kept copy of ticket (free with cpm__complaint__free_unpacked), or NULL
 * with *rc (CPM_E_NOT_FOUND: routed before copies were kept). */
Cpm__Complaint *routing_copy_get(cpm_store_t *st, MDB_txn *txn, const char *ticket, int *rc);

/* One move. */
typedef struct {
    const char *to;         /* member id of the new agency */
    const char *rule_id;    /* what decided: a rule id, "triage", "coordinator", "reorg" */
    const char *actor;      /* who moved it (member id, or a rule) */
    const char *reason;     /* why, in the history, the Assignment and the notice */
    bool notify_old;        /* informational: the old copy is still open (else its agency
                               refused it); the old agency is told either way, so that the
                               consumer's contact follows the case */
    const char *area;       /* NULL, or the case's new unit (a reorganization; "" = none) */
    const char *generation; /* NULL, or the generation of area */
} routing_move_t;

/* Move case ticket to mv->to as described above. CPM_E_NOT_FOUND (no such
 * case), CPM_E_CONFLICT with err (no kept copy), or a store error. */
int routing_transfer(const cpm_rules_t *rules, cpm_store_t *st, MDB_txn *txn,
                     const cpm_effects_t *fx, const char *ticket, const routing_move_t *mv,
                     int64_t now_ms, cpm_error_t *err);

/* The register just recorded agency's refusal of ticket (state refused,
 * still held by agency): route it again or hand it to the coordinators. A
 * case in any other state, or held by another agency, is left alone, so a
 * second delivery of the same refusal changes nothing. *unassigned tells
 * that the case went to the coordinators rather than on to an agency. */
int routing_return(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                   MDB_txn *txn, const cpm_effects_t *fx, const char *ticket, const char *agency,
                   int64_t now_ms, bool *unassigned, cpm_error_t *err);

/* A coordinator (asker's role coordinator or city, CPM_E_FORBIDDEN
 * otherwise) gives ticket to q->agency, which must be a member running an
 * inspection service (CPM_E_CONFLICT naming "agency" otherwise). A closed
 * case is CPM_E_CONFLICT ("state"); a case already with that agency changes
 * nothing (*duplicate). *state gets the case's state after. */
int routing_case_assign(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                        MDB_txn *txn, const cpm_effects_t *fx, const Cpm__Member *asker,
                        const Cpm__CaseAssign *q, int64_t now_ms, Cpm__CaseState *state,
                        bool *duplicate, cpm_error_t *err);

/* Replace an unpacked string field of a stored record with a copy of v (NULL
 * is ""): 0 or CPM_E_INTERNAL. Used by the transfers and the categorisation. */
int routing_set_str(char **field, const char *v);

#endif
