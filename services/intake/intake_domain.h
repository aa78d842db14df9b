/* intake_domain: records complaints and hotline consultations, assigns
 * tickets unique across the mesh, and hands complaints to routing.
 *
 * Databases: "complaints" (ticket -> Complaint), "consultations" (id ->
 * Consultation), "refs" ("C\x1f<client_ref>\x1f<sender>" -> ticket, and
 * "K\x1f..." -> consultation id: two key spaces, so a reference reused across
 * kinds never returns the other kind's id; a store from before 2026-12-01
 * also holds keys "c\x1f<sender>\x1f<client_ref>" and "k\x1f...", which stay
 * and are still found: intake_refs_scan). A client reference makes a
 * submission idempotent per sender: sending it again returns the first ticket
 * and records nothing. Tickets are "<prefix>-<8 digits>",
 * consultations "<prefix>-C<8 digits>", where prefix is the node's
 * ticket_prefix in the registry (unique by registry validation).
 *
 * Personal data: the consumer's name, phone and email are sealed (cpm_seal)
 * to the transport key of the agency the rules route the complaint to,
 * before anything is stored; "complaints" and the outbox hold only the
 * sealed form, and the clear fields are emptied. "contacts" tracks each
 * sealed contact until routing acknowledged its record plus the retention
 * period, when intake_contact_sweep strips it: "p\x1f<stream>\0<seq BE>" ->
 * ticket while routing has not acknowledged it, "d<due ms BE>\x1f<ticket>" ->
 * "" once it has. The client_ref digest over the contact is keyed with a
 * secret of the node (intake_set_ref_key), so a copy of the store does not
 * let anyone confirm a guessed phone number. No sockets. */
#ifndef INTAKE_DOMAIN_H
#define INTAKE_DOMAIN_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_metrics.h"
#include "cpm_place.h"
#include "cpm_registry.h"
#include "cpm_retention.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

#define INTAKE_COMPLAINTS_DB "complaints"
#define INTAKE_CONSULTATIONS_DB "consultations"
#define INTAKE_REFS_DB "refs"
#define INTAKE_CONTACTS_DB "contacts"
#define INTAKE_DBS                                                                                 \
    {                                                                                              \
        INTAKE_COMPLAINTS_DB, INTAKE_CONSULTATIONS_DB, INTAKE_REFS_DB, INTAKE_CONTACTS_DB,         \
            CPM_RETENTION_DB, NULL                                                                 \
    }
#define INTAKE_TICKET_MAX 48

typedef struct intake intake_t;

/* node: this member's id; routing_member: who runs routing. Borrowed. */
intake_t *intake_new(const cpm_rules_t *rules, const char *node, const char *ticket_prefix,
                     const char *routing_member);
void intake_destroy(intake_t **p);
/* Wipe the contact sealer's keys past their window (cpm_sealer_sweep): from
 * the service's tick, so that no key outlives it while intake is idle. */
void intake_sweep_keys(intake_t *in, int64_t now_ms);
/* A client reference's key in "refs" into out (cap bytes): kind 'C'
 * (complaints) or 'K' (consultations) makes the reference-first form
 * "C\x1f<client_ref>\x1f<sender>"; 'c' or 'k' the sender-first form of
 * stores from before 2026-12-01. false when it does not fit (never cut). */
bool intake_ref_key(char *out, size_t cap, char kind, const char *sender, const char *client_ref);
/* Whether "refs" holds references of the sender-first form (a store from
 * before 2026-12-01); true: a new reference is then looked up in both forms
 * (one more lookup), as when the index cannot be read (txn NULL, or the
 * cursor cannot be opened). Called once when the
 * store opens; written in the new form only, so the answer never turns from
 * false to true. */
bool intake_refs_scan(intake_t *in, cpm_store_t *st, MDB_txn *txn);
void intake_set_routing(intake_t *in, const char *routing_member);
/* The registry whose members' curve_pk contacts are sealed to (borrowed; set
 * again after every reload). Without one, a complaint with a contact is
 * refused (CPM_E_UNAVAILABLE): intake never stores a contact in clear. */
void intake_set_registry(intake_t *in, const cpm_registry_t *reg);
/* The places complaints are placed in (intake_place; borrowed, loaded once
 * at start) and the counters of how ("place.point", "place.name",
 * "place.lineage", "place.triage", "place.unknown"; may be NULL). Without
 * places, every complaint is refused (CPM_E_INTERNAL). */
void intake_set_places(intake_t *in, const cpm_places_t *places, cpm_metrics_t *metrics);
/* The secret keying client_ref digests (derive it from the node's secret
 * key). Until set, an all-zero key. */
void intake_set_ref_key(intake_t *in, const uint8_t key[32]);
/* The deployment's secret keying Complaint.consumer_key (intake_consumer).
 * Until set, complaints carry no consumer_key (nothing is linked). */
void intake_set_consumer_secret(intake_t *in, const uint8_t secret[32]);
/* The category model (intake_triage; borrowed): a complaint without a
 * category or with "other" gets its suggestion. NULL: none. */
struct intake_triage;
void intake_set_triage(intake_t *in, struct intake_triage *triage);

/* Validate and place c, then record it (c is completed with ticket,
 * received_ms, intake_node, placement and area = the unit's slug, "" for
 * triage) and queue it for routing. An unknown place is CPM_E_INVALID naming
 * location (or area, when the text came from there). ticket gets the ticket; *duplicate
 * tells a resubmission. 0, CPM_E_INVALID/CPM_E_TOO_LARGE with err, or a store
 * error. */
int intake_submit(intake_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                  const char *sender, Cpm__Complaint *c, int64_t now_ms,
                  char ticket[INTAKE_TICKET_MAX], bool *duplicate, cpm_error_t *err);

/* The "complaint.received" event of c (ticket set, placed by method) into
 * *ev, its note written into note: how it was placed, never what the
 * consumer wrote. ev borrows c's strings and note. */
#define INTAKE_NOTE_MAX 96
void intake_received_event(const Cpm__Complaint *c, cpm_place_method_t method,
                           char note[INTAKE_NOTE_MAX], cpm_event_t *ev);

/* The same for a consultation (kept at intake; nothing is forwarded). */
int intake_consult(intake_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                   const char *sender, Cpm__Consultation *c, int64_t now_ms,
                   char id[INTAKE_TICKET_MAX], bool *duplicate, cpm_error_t *err);

/* Strip the sealed contact from complaints whose record routing acknowledged
 * at least retention_ms before now_ms, at most max changes per call.
 * *stripped gets how many were stripped. 0 or a store error. */
int intake_contact_sweep(intake_t *in, cpm_store_t *st, MDB_txn *txn, int64_t now_ms,
                         int64_t retention_ms, size_t max, size_t *stripped);

/* A stored complaint by ticket (free with cpm__complaint__free_unpacked), or
 * NULL. */
Cpm__Complaint *intake_complaint(cpm_store_t *st, MDB_txn *txn, const char *ticket);

#endif
