/* intake_lookup: the lookup code a consumer receives with a ticket, which
 * the public status view at routing asks for. Tickets are sequential and so
 * guessable; the code is not: HMAC-SHA-256 of the ticket under a secret that
 * only this intake holds (32 random bytes created on first use, kept in its
 * store under "meta" "intake.lookup_key"), its first 50 bits written as 10
 * characters of Crockford's base32 (0-9, A-Z without I L O U). The same ticket
 * always gives the same code, so a resubmission returns it again. Intake
 * sends the code to routing inside the Complaint. No sockets. */
#ifndef INTAKE_LOOKUP_H
#define INTAKE_LOOKUP_H

#include "cpm_store.h"
#include "cpm_text.h"

#include <stdbool.h>

/* The code of ticket into out. txn must be a write transaction the first
 * time (the secret is created in it). 0 or a store error. */
int intake_lookup_code(cpm_store_t *st, MDB_txn *txn, const char *ticket,
                       char out[CPM_TEXT_CODE_LEN + 1]);

/* intake_lookup_code keeps, per thread, the HMAC state keyed with the last
 * secret it read and the last ticket's code (the key is still read from the
 * store on every call and the state used only for the same key bytes, so the
 * codes are those of a plain HMAC), in guarded memory (sodium_malloc:
 * locked, not dumped) that the thread's end wipes. This wipes and frees the
 * calling thread's copy now: safe on any thread, any number of times; the
 * next code is made again from the key. */
void intake_lookup_forget(void);
/* true while the calling thread keeps such a copy. */
bool intake_lookup_keeps(void);

#endif
