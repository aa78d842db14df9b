/* intake_contact: the consumer's contact at intake: sealed to the agency the
 * rules choose before anything is stored, and stripped from the complaint
 * once routing has acknowledged it plus a retention period. Internal to
 * intake (intake_domain.h documents the databases). No sockets. */
#ifndef INTAKE_CONTACT_H
#define INTAKE_CONTACT_H

#include "cpm_err.h"
#include "cpm_registry.h"
#include "cpm_rules.h"
#include "cpm_seal.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

/* The agency contacts are sealed to, by (category, area, urgent):
 * cpm_rules_route's decision, remembered while the rules' version, the
 * registry's version and the generation in force stay the same (a city has
 * a few dozen such combinations; a direct-mapped table of them, an entry
 * replaced on a collision). Not thread-safe: one per intake. */
typedef struct intake_route_memo intake_route_memo_t;
intake_route_memo_t *intake_route_memo_new(void);
void intake_route_memo_destroy(intake_route_memo_t **p);

/* Replace c's clear contact by sealed_contact/contact_for, sealed to the
 * curve_pk of the agency rules route c to (c->ticket must be set). The clear
 * strings are wiped. A complaint without contact gets neither. 0,
 * CPM_E_INVALID with err when the client set sealed_contact or contact_for, or
 * CPM_E_UNAVAILABLE with err when that agency has no key in reg (or reg is
 * NULL), or the error of cpm_seal_contact. */
/* memo: NULL, or where the agency is looked up first. The rules decide at
 * c->received_ms (now when 0), as routing's decision does. */
int intake_contact_seal(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_sealer_t *sealer,
                        intake_route_memo_t *memo, Cpm__Complaint *c, cpm_error_t *err);

/* Remember that the complaint ticket, queued as record seq of stream, holds
 * a sealed contact. */
int intake_contact_track(cpm_store_t *st, MDB_txn *txn, const char *stream, uint64_t seq,
                         const char *ticket);

#endif
