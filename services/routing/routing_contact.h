/* routing_contact: the consumer's contact following a moved case
 * (docs/protocol.md 14, "The contact follows").
 *
 * Routing cannot open a sealed contact. After a move, the old agency's node
 * re-seals the contact to the new agency and reports it in a CaseUpdate with
 * sealed_contact and contact_for; routing passes it to the new agency's
 * inspection service as an Assignment with contact_only, through the outbox
 * (the sealed bytes rest nowhere else in routing's store). Accepted only from
 * the case's previous_agency, sealed for the agency that holds the case now.
 * No sockets. */
#ifndef ROUTING_CONTACT_H
#define ROUTING_CONTACT_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>

/* true when u carries a contact that follows a case (not a state report). */
bool routing_contact_is_follow(const Cpm__CaseUpdate *u);

/* Pass the contact in u, from sender, on to the case's agency. Refused:
 * unknown ticket (CPM_E_NOT_FOUND), a sender that is not the case's
 * previous_agency (CPM_E_FORBIDDEN "agency"), contact_for not the agency that
 * holds the case, or a case with no agency or closed (CPM_E_CONFLICT
 * "contact_for"), bytes over CPM_SEAL_MAX (CPM_E_TOO_LARGE
 * "sealed_contact"). */
int routing_contact_follow(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                           const char *sender, const Cpm__CaseUpdate *u, cpm_error_t *err);

#endif
