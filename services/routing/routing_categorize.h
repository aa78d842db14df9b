/* routing_categorize: a coordinator's choice of a case's category
 * (CaseAssign.category, issue 12), kept beside the model's suggestion so
 * that the model's accuracy in production can be measured (the monitor
 * counts the case.categorized events, monitor_triage).
 *
 * One write transaction: the register's record gets the category, who chose
 * it (category_by "person", category_chosen_by) and the suggestion it
 * replaces (category_suggested, suggestion_pm, from the kept complaint), a
 * history entry "category other -> food_safety (model suggested
 * food_safety, 62%)"; the kept complaint copy gets the category (so that a
 * later move or return routes by it); event "case.categorized". Then the
 * case goes where the choice says: with CaseAssign.agency set, to that
 * agency as routing_case_assign does; with it empty, routed again by the
 * rules for the new category (a fresh decision, no agency skipped) and
 * moved by routing_transfer when that names another agency. The register
 * keeps no index by category (lists filter the records), so the record and
 * the copy are all there is to keep consistent. No sockets. */
#ifndef ROUTING_CATEGORIZE_H
#define ROUTING_CATEGORIZE_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_registry.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    Cpm__CaseState state; /* the case's state after */
    bool duplicate;       /* a person had already chosen this category (and agency): nothing
                             changed, no event (a request delivered twice) */
    char agency[128];     /* the agency holding the case after */
} routing_categorized_t;

/* A coordinator (asker's role coordinator or city, CPM_E_FORBIDDEN naming
 * "sender" otherwise) sets q->category (non-empty; a category of the rules,
 * CPM_E_INVALID naming "category" otherwise) on case q->ticket, as described
 * above. Choosing the category the case has already (a model's suggestion
 * confirmed) is a choice too: recorded and published. A closed case is
 * categorized but not moved; with q->agency set it is CPM_E_CONFLICT
 * ("state") as in routing_case_assign. Errors of the move (agency unknown,
 * no kept copy) come back as they are; the caller's transaction is then
 * aborted, so nothing of the choice stays either. */
int routing_categorize(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                       MDB_txn *txn, const cpm_effects_t *fx, const Cpm__Member *asker,
                       const Cpm__CaseAssign *q, int64_t now_ms, routing_categorized_t *out,
                       cpm_error_t *err);

/* Fill r's suggestion fields (category_suggested, suggestion_pm,
 * category_by) from the kept complaint when no person chose the category
 * yet (the record keeps them itself from the first choice on). For the full
 * and agency views; a case routed before copies were kept stays as it is.
 * 0 or a store error. */
int routing_categorize_fill(cpm_store_t *st, MDB_txn *txn, Cpm__StatusReply *r);

#endif
