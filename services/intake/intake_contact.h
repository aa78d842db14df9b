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

/* Replace c's clear contact by sealed_contact/contact_for, sealed to the
 * curve_pk of the agency rules route c to (c->ticket must be set). The clear
 * strings are wiped. A complaint without contact gets neither. 0,
 * CPM_E_INVALID with err when the client set sealed_contact or contact_for, or
 * CPM_E_UNAVAILABLE with err when that agency has no key in reg (or reg is
 * NULL), or the error of cpm_seal_contact. */
int intake_contact_seal(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_sealer_t *sealer,
                        Cpm__Complaint *c, cpm_error_t *err);

/* Remember that the complaint ticket, queued as record seq of stream, holds
 * a sealed contact. */
int intake_contact_track(cpm_store_t *st, MDB_txn *txn, const char *stream, uint64_t seq,
                         const char *ticket);

#endif
