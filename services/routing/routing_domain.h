/* routing_domain: the city-wide register of where every case is and when it
 * is due.
 *
 * Each complaint from an intake node is routed by the rule table (cpm_rules)
 * to the responsible agency, recorded in "cases" (ticket -> StatusReply, with
 * the rule that decided and the deadlines; no personal data of the consumer is
 * kept here) and queued as an Assignment for that agency's inspection
 * service. The consumer's contact travels sealed to an agency's transport key
 * (cpm_seal): routing passes it on and cannot read it. Case updates from the responsible agency
 * move the state on. No sockets. */
#ifndef ROUTING_DOMAIN_H
#define ROUTING_DOMAIN_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_registry.h"
#include "cpm_retention.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "routing_deadlines.h"
#include "routing_dupes.h"
#include "routing_bizlink.h"
#include "routing_themes.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

#define ROUTING_CASES_DB "cases"
#define ROUTING_CODES_DB "codes"
/* routing_transfer.h: each complaint without its contact; routing_reorg.h: its cursor */
#define ROUTING_COPIES_DB "complaints"
#define ROUTING_REORG_DB "reorg"
#define ROUTING_DBS                                                                                \
    {                                                                                              \
        ROUTING_CASES_DB, ROUTING_DUE_DB, ROUTING_CODES_DB, ROUTING_COPIES_DB, ROUTING_REORG_DB,   \
            ROUTING_DUPES_DB, ROUTING_CLUSTERS_DB, ROUTING_CLUSTER_RANK_DB,                        \
            ROUTING_CLUSTER_RANK_OLD_DB, ROUTING_CLUSTER_MEMBERS_DB, ROUTING_THEMES_DB,            \
            ROUTING_BIZLINK_DB, CPM_RETENTION_DB, NULL                                             \
    } /* clang-format off */

/* Route and record one complaint delivered by intake member sender. A
 * ticket already routed is left alone (0). With a registry, the ticket must
 * carry the sender's ticket_prefix (CPM_E_FORBIDDEN otherwise). 0,
 * CPM_E_INVALID/CPM_E_FORBIDDEN with err (kept as a dead letter by the
 * caller), or a store error. reg may be NULL (no ownership check). */
int routing_apply_complaint(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                            MDB_txn *txn, const cpm_effects_t *fx, const char *sender,
                            const Cpm__Complaint *c, int64_t now_ms, cpm_error_t *err);

/* The same, and *routed_unreadable true when c was routed now (not a second
 * copy) to an agency that cannot open its sealed contact (see below): what
 * the service counts, without looking the case up again. */
int routing_route_complaint(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                            MDB_txn *txn, const cpm_effects_t *fx, const char *sender,
                            const Cpm__Complaint *c, int64_t now_ms, bool *routed_unreadable,
                            const routing_dupes_pre_t *pre, cpm_error_t *err);

/* true when c's sealed contact is sealed for another member than agency, so
 * that agency cannot open it (the rules changed since intake sealed it, or
 * the agency has no node and the case went to triage). Routing records
 * contact_for in the case, logs a "contact.unreadable" event and counts it. */
/* When intake could not tell the unit (placement method "triage") and the
 * rules sent the case to triage for it, route->reason lists the candidate
 * units as "<generation>:<code>" (what fits in it, then "+N more"). */
void routing_triage_reason(const Cpm__Placement *pl, const cpm_rules_t *rules, cpm_route_t *route);

bool routing_contact_unreadable(const Cpm__Complaint *c, const char *agency);

/* Empty the clear contact fields of c, which an intake must never send (it
 * seals them). true when there was something to empty: the caller counts
 * and logs it; the contact is lost rather than kept in clear. */
bool routing_contact_drop_clear(Cpm__Complaint *c);

/* The agency's node acknowledged the delivery of assignment a (routing's
 * acked hook, in the transaction that records the ack): a case still routed
 * to agency becomes assigned (history, event "case.assigned"); anything else
 * is left alone, so a second ack changes nothing. 0 or a store error. */
int routing_assignment_delivered(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                                 const char *agency, const Cpm__Assignment *a, int64_t now_ms);
/* The same for the assignment of ticket ("": nothing to do). */
int routing_assignment_delivered_ticket(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                                        const char *agency, const char *ticket, int64_t now_ms);
/* The ticket of an Assignment's complaint read from its bytes (rec, len)
 * without decoding the rest (the acked hook's only need of a record of
 * about 1 KB: decoding and checking it all was 2-3% of routing's CPU). As a
 * decoder would: the last value wins, an empty or absent one is "". 0, or
 * -1 when rec is not well-formed or the ticket does not fit
 * ROUTING_TICKET_MAX (or holds a zero byte). */
int routing_assignment_ticket(const uint8_t *rec, size_t len, char ticket[ROUTING_TICKET_MAX]);

/* Apply a state change reported by an agency. Only the agency the case is
 * assigned to may report on it (CPM_E_FORBIDDEN otherwise); unknown tickets
 * give CPM_E_NOT_FOUND. The officer's signed act it carries is verified
 * against reg (field "signed_action": CPM_E_FORBIDDEN for a signature, key or
 * signer that does not verify, CPM_E_INVALID for another form, ticket or
 * state). */
int routing_apply_update(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                         MDB_txn *txn, const cpm_effects_t *fx, const char *sender,
                         const Cpm__CaseUpdate *u, cpm_error_t *err);

/* The record of a ticket (free with cpm__status_reply__free_unpacked), or
 * NULL with CPM_E_NOT_FOUND / a store error in *rc. The whole record: for
 * routing's own use; answer queries with routing_status_for. */
Cpm__StatusReply *routing_status(cpm_store_t *st, MDB_txn *txn, const char *ticket, int *rc);

/* The answer to query q from asker (the verified sender's registry entry;
 * NULL is treated as the public), with view set:
 *   "full"    roles coordinator and city: every case, notes included;
 *   "agency"  roles department, area, inspector, officer: the cases
 *             assigned to the asker's agency, notes included;
 *   "public"  q->lookup_code given and equal to the code intake issued with
 *             the ticket: state, agency, area, category and dates, the
 *             history without actors or notes (contact is never here).
 * Anything else is CPM_E_NOT_FOUND with field "ticket", the same answer as
 * for an unknown ticket, so tickets (sequential) cannot be enumerated; a
 * ticket or code of the wrong form is CPM_E_INVALID. NULL with *rc and err
 * on refusal; *hidden tells a case that exists but was not shown. */
Cpm__StatusReply *routing_status_for(cpm_store_t *st, MDB_txn *txn, const Cpm__Member *asker,
                                     const Cpm__StatusQuery *q, int *rc, bool *hidden,
                                     cpm_error_t *err);

#endif
