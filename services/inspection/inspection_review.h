/* inspection_review: the lead or a supervisor reviews an inspection's
 * findings and closes it.
 *
 * Review (assigned, in_field or findings_submitted -> reviewed) decides the
 * outcome (it settles an outcome conflict between inspectors) and the fine:
 * for "fined", the fine given, else the sum of the fines the findings
 * propose. It writes one violation record (DB "violations", ViolationRecord)
 * per finding that names a violation code, or one summary record for a fined
 * outcome without such findings, and resolves each linked case this node
 * still holds through the case lifecycle (inspection_act: accept first when
 * it is only assigned), in the reviewer's name, with the outcome and fine:
 * routing's register and the event stream see it as an officer's resolve. A
 * case already resolved, closed, refused or gone is left as it is. Close
 * (reviewed -> closed) ends the inspection. Events inspection.reviewed and
 * inspection.closed. The findings are read straight from the field sync's
 * DBs (FieldStored values). No sockets. */
#ifndef INSPECTION_REVIEW_H
#define INSPECTION_REVIEW_H

#include "inspection_domain.h"
#include "inspection_plan.h"

/* who reviews (rv->close false) or closes (true) inspection rv->id. cases is
 * the node's case side (to resolve linked cases). r gets the stored
 * inspection. 0; CPM_E_INVALID/CPM_E_TOO_LARGE naming the field;
 * CPM_E_NOT_FOUND (id); CPM_E_FORBIDDEN (sender: neither the lead nor a
 * supervisor); CPM_E_CONFLICT (state: the move is not allowed from the
 * inspection's state); or a store error. Nothing is written unless 0. */
int inspection_review(const inspection_plans_t *p, const inspection_t *cases, cpm_store_t *st,
                      MDB_txn *txn, const cpm_effects_t *fx, const inspection_who_t *who,
                      const Cpm__InspectionReview *rv, int64_t now_ms, Cpm__InspectionReply *r,
                      cpm_error_t *err);

/* Add to r->records the field records of inspection id and their conflicting
 * versions (conflict true), key_revoked from p->reg, and to r->violations its
 * violation records (once reviewed). 0 or an error. */
int inspection_review_records(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn,
                              const char *id, Cpm__InspectionReply *r);
/* Free r->records and r->violations (called by inspection_reply_clear). */
void inspection_review_records_free(Cpm__InspectionReply *r);

#endif
