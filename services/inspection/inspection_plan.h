/* inspection_plan: the inspections an agency plans, assigns and lists.
 *
 * DB "inspections" maps an inspection id ("<agency member id>/I<n>", n from
 * the counter key "#next" in the same DB; keys starting with '#' are not
 * inspections) to a packed Inspection (field.proto). An inspection is planned
 * from cases this node holds (one business) or, one per business, from a
 * campaign; it gets the checklist of its category (inspection_checklist). It
 * moves planned -> assigned (lead and team named; again while assigned:
 * reassigned) -> in_field -> findings_submitted (both by the field sync) ->
 * reviewed -> closed (inspection_review). Every change is an event
 * (inspection.planned, inspection.assigned). No sockets: who asks is given
 * by the caller, already authenticated. docs/protocol.md 16.1. */
#ifndef INSPECTION_PLAN_H
#define INSPECTION_PLAN_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_registry.h"
#include "cpm_store.h"
#include "field.pb-c.h"
#include "inspection_checklist.h"

#include <stdbool.h>
#include <stdint.h>

#define INSPECTION_PLANS_DB "inspections"
#define INSPECTION_VIOLATIONS_DB "violations"
/* Written by the field sync (services/inspection/inspection_field*.c); read
 * here at review. Keys "<inspection id>\x1f<record id>[\x1f<hex hash>]". */
#define INSPECTION_FIELD_RECORDS_DB "field_records"
#define INSPECTION_FIELD_CONFLICTS_DB "field_conflicts"

#define INSPECTION_CAMPAIGN_MAX 200 /* businesses in one campaign */
#define INSPECTION_TICKETS_MAX 20   /* cases in one inspection */
#define INSPECTION_TEAM_MAX 10      /* besides the lead */
#define INSPECTION_LIST_MAX 500
#define INSPECTION_LIST_DEFAULT 100
#define INSPECTION_TEXT_MAX 500 /* business, address, campaign: bytes */
#define INSPECTION_NOTE_MAX 2000
#define INSPECTION_ID_MAX 192 /* bytes, with the NUL */

/* The node's side, for the plan and review functions. */
typedef struct {
    const char *node;                     /* this agency's member id */
    const inspection_checklists_t *lists; /* templates; NULL: every checklist empty */
    const cpm_registry_t *reg;            /* to check inspectors; NULL: none known */
} inspection_plans_t;

/* Who asks: the verified sender and its registry entry. */
typedef struct {
    const char *id;
    const char *role;
    const char *agency;
} inspection_who_t;

/* The stored inspection id, or NULL when absent or undecodable. Free with
 * cpm__inspection__free_unpacked(p, NULL). */
Cpm__Inspection *inspection_plan_get(cpm_store_t *st, MDB_txn *txn, const char *id);
/* Store in under in->id. 0, CPM_E_INVALID (no id) or a store error. */
int inspection_plan_put(cpm_store_t *st, MDB_txn *txn, const Cpm__Inspection *in, cpm_error_t *err);
/* true when member is in's lead or one of its team. */
bool inspection_plan_has_inspector(const Cpm__Inspection *in, const char *member);
/* true when id has the form of an inspection id ("<member>/I<n>"). */
bool inspection_id_valid(const char *id);
/* Append the event kind (inspection.planned, ...) about in, by actor. */
int inspection_plan_event(const inspection_plans_t *p, MDB_txn *txn, const cpm_effects_t *fx,
                          const char *kind, const Cpm__Inspection *in, const char *actor);
/* "planned", "assigned", "in_field", "findings_submitted", "reviewed",
 * "closed"; NULL for another value. parse: the state named, or UNSPECIFIED. */
const char *inspection_state_name(Cpm__InspectionState s);
Cpm__InspectionState inspection_state_parse(const char *name);

/* true when who may plan, assign and review here: a member of this agency
 * with role officer, or the city's coordinator (role coordinator). */
bool inspection_plan_is_supervisor(const inspection_plans_t *p, const inspection_who_t *who);

/* who plans p at now_ms: one inspection from p->tickets (cases of this node,
 * business/address/area/category taken from the first case where p leaves
 * them empty), or one per p->businesses of campaign p->campaign. The new
 * inspections are appended to *out (n_out of them; free each with
 * cpm__inspection__free_unpacked and the array with free). CPM_E_INVALID /
 * CPM_E_TOO_LARGE naming the field, CPM_E_NOT_FOUND for a ticket not held
 * here, CPM_E_FORBIDDEN for who, or a store error. Nothing is written
 * unless 0 is returned (the caller aborts txn otherwise). */
int inspection_plan_new(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn,
                        const cpm_effects_t *fx, const inspection_who_t *who,
                        const Cpm__InspectionPlan *plan, int64_t now_ms, Cpm__InspectionReply *r,
                        cpm_error_t *err);

/* who names a->lead (and a->team) for inspection a->id, planned or assigned:
 * each must be a registry member of role inspector of this agency. r gets the
 * stored inspection. Errors as above; CPM_E_CONFLICT (field "state") for
 * an inspection past assigned. */
int inspection_plan_assign(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn,
                           const cpm_effects_t *fx, const inspection_who_t *who,
                           const Cpm__InspectionAssign *a, int64_t now_ms, Cpm__InspectionReply *r,
                           cpm_error_t *err);

/* One inspection (q->id) or a page of them, filtered by state and inspector,
 * in id order after q->cursor. An inspector sees only inspections naming
 * them (a list is filtered to them; show of another is CPM_E_FORBIDDEN).
 * Show adds the field records (inspection_review_records). r starts as
 * CPM__INSPECTION_REPLY__INIT; what is put in it is freed by
 * inspection_reply_clear, also after an error. */
int inspection_plan_query(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn,
                          const inspection_who_t *who, const Cpm__InspectionQuery *q,
                          Cpm__InspectionReply *r, cpm_error_t *err);
/* Append in (owned by r from now on) to r. 0 or CPM_E_INTERNAL. */
int inspection_reply_add(Cpm__InspectionReply *r, Cpm__Inspection *in);
/* Free everything in r (not r itself) and reset it to INIT. */
void inspection_reply_clear(Cpm__InspectionReply *r);

#endif
