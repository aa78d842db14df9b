/* intake_domain: records complaints and hotline consultations, assigns
 * tickets unique across the mesh, and hands complaints to routing.
 *
 * Databases: "complaints" (ticket -> Complaint), "consultations" (id ->
 * Consultation), "refs" ("c\x1f<sender>\x1f<client_ref>" -> ticket, and
 * "k\x1f..." -> consultation id: two key spaces, so a reference reused across
 * kinds never returns the other kind's id). A client reference makes a
 * submission idempotent per sender: sending it again returns the first ticket
 * and records nothing. Tickets are "<prefix>-<8 digits>",
 * consultations "<prefix>-C<8 digits>", where prefix is the node's
 * ticket_prefix in the registry (unique by registry validation). No sockets. */
#ifndef INTAKE_DOMAIN_H
#define INTAKE_DOMAIN_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

#define INTAKE_DBS                                                                                 \
    {                                                                                              \
        "complaints", "consultations", "refs", NULL                                                \
    }
#define INTAKE_TICKET_MAX 48

typedef struct intake intake_t;

/* node: this member's id; routing_member: who runs routing. Borrowed. */
intake_t *intake_new(const cpm_rules_t *rules, const char *node, const char *ticket_prefix,
                     const char *routing_member);
void intake_destroy(intake_t **p);
void intake_set_routing(intake_t *in, const char *routing_member);

/* Validate c, then record it (c is completed with ticket, received_ms and
 * intake_node) and queue it for routing. ticket gets the ticket; *duplicate
 * tells a resubmission. 0, CPM_E_INVALID/CPM_E_TOO_LARGE with err, or a store
 * error. */
int intake_submit(intake_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                  const char *sender, Cpm__Complaint *c, int64_t now_ms,
                  char ticket[INTAKE_TICKET_MAX], bool *duplicate, cpm_error_t *err);

/* The same for a consultation (kept at intake; nothing is forwarded). */
int intake_consult(intake_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                   const char *sender, Cpm__Consultation *c, int64_t now_ms,
                   char id[INTAKE_TICKET_MAX], bool *duplicate, cpm_error_t *err);

/* A stored complaint by ticket (free with cpm__complaint__free_unpacked), or
 * NULL. */
Cpm__Complaint *intake_complaint(cpm_store_t *st, MDB_txn *txn, const char *ticket);

#endif
