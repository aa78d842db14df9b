/* inspection_transfer: this agency's side of a case that moves (see
 * docs/protocol.md "Transfers and returns").
 *
 * A withdrawal notice (an Assignment with withdrawn set, on the same
 * ASSIGN_BATCH stream as the assignment it withdraws) marks this node's copy
 * transferred, with a history entry naming the new agency and the reason;
 * officers' actions on it are then refused (409, the transition table has
 * no move from transferred). A case that comes back later (a coordinator
 * gives it to this agency again) replaces a copy this node no longer holds
 * (transferred or refused). No sockets. */
#ifndef INSPECTION_TRANSFER_H
#define INSPECTION_TRANSFER_H

#include "inspection_domain.h"

/* Apply the withdrawal notice a. A ticket this node never held is fine (0:
 * nothing to withdraw); a second notice changes nothing. */
int inspection_withdraw(const inspection_t *in, cpm_store_t *st, MDB_txn *txn,
                        const cpm_effects_t *fx, const Cpm__Assignment *a, int64_t now_ms,
                        cpm_error_t *err);

/* The transfer fields of an ordinary assignment a, from routing (another
 * node): previous_agency empty or a member id, reason UTF-8 of at most 1000
 * bytes. 0 or CPM_E_INVALID naming the field. */
int inspection_transfer_check(const Cpm__Assignment *a, cpm_error_t *err);

/* true when the stored copy of a's ticket is one this node gave up
 * (transferred or refused) and a is a newer assignment: take it again. */
bool inspection_takes_back(cpm_store_t *st, MDB_txn *txn, const Cpm__Assignment *a);

#endif
