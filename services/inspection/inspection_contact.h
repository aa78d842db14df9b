/* inspection_contact: the consumer's contact following a case that moves
 * (docs/protocol.md 14, "The contact follows").
 *
 * The old agency's node is the only one that can open the sealed contact it
 * holds. When it applies a withdrawal notice it opens the card (ticket
 * checked), seals the same card to the new agency node's transport key from
 * the registry, wipes its own sealed copy and reports the new sealed bytes to
 * routing in a CaseUpdate, all in the transaction that applies the notice
 * (the outbox sends it once, when routing is reachable). The new agency's
 * node stores a contact follow-up (an Assignment with contact_only) in its
 * copy of the case after opening it with its own key. No sockets. */
#ifndef INSPECTION_CONTACT_H
#define INSPECTION_CONTACT_H

#include "inspection_domain.h"

/* c is this node's copy of a case that just left for to (a withdrawal
 * notice): when it holds a contact sealed to this node, re-seal it to to and
 * queue it for routing (counted contact.forwarded), then wipe c's contact;
 * *changed tells the caller to store c. A new agency whose key is missing
 * from the registry or unusable is out of place: the contact is dropped
 * (counted contact.dropped, logged), the case moves on all the same. No
 * contact, or one this node cannot open, changes nothing. 0, or an error of
 * fx->send. */
int inspection_contact_forward(const inspection_t *in, MDB_txn *txn, const cpm_effects_t *fx,
                               Cpm__InspectionCase *c, const char *to, int64_t now_ms,
                               bool *changed);

/* Store the contact follow-up a (contact_only) in this node's copy of the
 * case. Refused: contact_for not this node, a card that does not open with
 * this node's key or names another ticket (CPM_E_INVALID / CPM_E_CONFLICT
 * naming "sealed_contact"), a case this node does not hold (CPM_E_CONFLICT
 * naming "ticket"). The same follow-up again changes nothing. */
int inspection_contact_receive(const inspection_t *in, cpm_store_t *st, MDB_txn *txn,
                               const Cpm__Assignment *a, cpm_error_t *err);

#endif
