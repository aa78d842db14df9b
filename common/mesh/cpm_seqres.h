/* cpm_seqres: a sender's sequence numbers keep increasing across restarts,
 * even when the clock stepped back meanwhile.
 *
 * A sender's sequence starts at the clock in microseconds (cpm_envelope.h);
 * receivers remember the highest number of each sender instance for ten
 * minutes, so a process restarted after the clock stepped back would be
 * refused as a replay until then. The store therefore holds a reservation
 * per sender instance ("seq.<instance>" in meta): a number above every
 * sequence the sender has used. At start the sender continues from
 * max(reservation, clock); while it runs, cpm_seqres_keep moves the
 * reservation CPM_SEQRES_AHEAD_US ahead whenever the next sequence comes
 * within half of that of it, so there is one small durable write per half
 * minute of activity, not one per message. */
#ifndef CPM_SEQRES_H
#define CPM_SEQRES_H

#include "cpm_err.h"

#include "cpm_envelope.h"
#include "cpm_store.h"

#include <stdint.h>

#define CPM_SEQRES_AHEAD_US (60ll * 1000 * 1000)

typedef struct {
    cpm_sender_t *sender; /* borrowed */
    uint64_t reserved;    /* persisted: no sequence at or above it was used */
    char key[96];
} cpm_seqres_t;

/* Bind r to sender, continue the sender's sequence above its persisted
 * reservation and persist a new one. 0 or a store error (the sender then
 * starts from the clock alone). */
CPM_MUST_CHECK int cpm_seqres_start(cpm_seqres_t *r, cpm_store_t *store, cpm_sender_t *sender,
                                    int64_t now_us);
/* Move the reservation ahead when the next sequence nears it. Call at least
 * every few seconds and before a burst of sends. 0, or a store error. */
CPM_MUST_CHECK int cpm_seqres_keep(cpm_seqres_t *r, cpm_store_t *store, int64_t now_us);

#endif
