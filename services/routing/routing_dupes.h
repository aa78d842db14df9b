/* routing_dupes: one consumer's repeated complaints, and many consumers'
 * complaints about one business.
 *
 * A complaint carries Complaint.consumer_key (intake: a keyed hash of the
 * consumer's phone or email, never the contact). Its business is the
 * normalised business name (lower case, diacritics and punctuation dropped,
 * spaces collapsed) within its area, or the business last seen at its exact
 * address (cpm_bizkey.h, routing_bizlink.h). A complaint of the same consumer about
 * the same business received within the window after the first one is
 * linked to that first case (StatusReply.linked_to, event "case.linked" with
 * the agency and area holding the first case); it is routed like any other,
 * never dropped. Stored in "clusters", next to the business's aggregate and
 * its consumer entry (routing_clusters.h; a store from before has them in
 * "dupes" under the key without "/d" until they are next written):
 *   hex(b) hex(consumer_key) "/d" -> first received_ms (8 bytes BE) + ticket
 * where b is a 16-byte BLAKE2b of "<area>\x1f<normalised name>". Every
 * complaint is also counted in its business's cluster (routing_clusters.h).
 * Retention (routing_dupes_sweep): an entry that can no longer link anything
 * (older than the window plus ROUTING_DUPES_GRACE_MS for complaints delivered
 * late, which are compared by their received time) is deleted. No sockets. */
#ifndef ROUTING_DUPES_H
#define ROUTING_DUPES_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_store.h"
#include "cpm_sweep.h"
#include "cpm_bizkey.h"
#include "cpmesh.pb-c.h"
#include "routing_clusters.h"
#include "routing_themes.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTING_DUPES_DB "dupes" /* the layout before: read, moved and swept until empty */
#define ROUTING_TICKET_MAX 64
/* How long after the window a link entry is kept: a complaint received by an
 * intake while routing was out of reach still links by its received time. */
#define ROUTING_DUPES_GRACE_MS (7LL * 86400 * 1000)

/* The link window (routing config link_window_s; default 30 days). One
 * routing per process, so it is set once at start. */
void routing_dupes_set_window(int64_t window_ms);

/* The business name in normal form into out ("pho 24" for "PHỞ  24!");
 * false when nothing is left. */
bool routing_business_norm(const char *name, char *out, size_t n);

/* Count complaint c (being routed now, once per ticket) in its business's
 * cluster and link it to the first case of the same consumer and business
 * within the window: linked_to gets that ticket, or "". Logs "case.linked".
 * 0 or a store error. */
int routing_dupes_link(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                       const Cpm__Complaint *c, int64_t now_ms, char linked_to[ROUTING_TICKET_MAX]);

/* What routing_dupes_link takes from the complaint alone (its business's key,
 * its description's themes text), made ahead on any thread: routing makes it
 * for the records of a batch at once on the verification pool. NULL when out
 * of memory (then routing_dupes_link makes it itself). */
typedef struct {
    cpm_bizkey_t bk;
    int bk_rc;                   /* cpm_bizkey_make's */
    routing_themes_text_t *text; /* NULL: made by routing_themes_add_text */
} routing_dupes_pre_t;

routing_dupes_pre_t *routing_dupes_pre_new(const Cpm__Complaint *c);
void routing_dupes_pre_destroy(routing_dupes_pre_t **p);
/* routing_dupes_link with pre made ahead from c (NULL: made here). */
int routing_dupes_link_pre(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                           const Cpm__Complaint *c, int64_t now_ms,
                           char linked_to[ROUTING_TICKET_MAX], const routing_dupes_pre_t *pre);

/* One bounded retention step: at most max entries of "dupes" (while a store
 * from before has any) or else of "clusters" looked at,
 * those first seen before now_ms - window - ROUTING_DUPES_GRACE_MS deleted
 * (*deleted counts them). 0 or a store error. */
int routing_dupes_sweep(cpm_store_t *st, MDB_txn *txn, int64_t now_ms, size_t max,
                        cpm_sweep_cursor_t *cur, size_t *deleted);

#endif
