/* cpm_fieldrec: an inspector's signed field record (a finding, a submit, a
 * proposed outcome).
 *
 * A record is a Cpm__FieldRecord sealed with cpm_sender_seal as an Envelope
 * of type MSG_FIELD_RECORD (sender = the inspector, recipient
 * "<agency>/inspection"). The device keeps that frame and re-sends the same
 * bytes on every sync; the agency's node checks it with cpm_verify_signed
 * (no clock or replay check: a record is old by design) and keeps it as it
 * came. A record's content identity is the BLAKE2b-256 of its payload bytes
 * (same id + same hash = the same record; same id + another hash = a
 * conflict, both kept). Functions return 0 or a cpm_err_t code with err (may
 * be NULL) naming the field in one sentence. */
#ifndef CPM_FIELDREC_H
#define CPM_FIELDREC_H

#include "cpm_envelope.h"
#include "cpm_err.h"
#include "cpm_registry.h"
#include "field.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_FIELDREC_ID_MAX 64
#define CPM_FIELDREC_TEXT_MAX 4096
#define CPM_FIELDREC_EVIDENCE_MAX 32
#define CPM_FIELDREC_HASH_LEN 32

/* 1..64 of [A-Za-z0-9._-]: record ids and checklist/violation codes. */
bool cpm_fieldrec_id_valid(const char *s);

/* The limits of docs/protocol.md 16.2: id, inspection, inspector, kind,
 * item/violation codes, text <= 4 KiB, severity 0..3, fine >= 0, position,
 * <= 32 evidence refs each with a 32-byte hash and size 1..64 MiB, outcome
 * for kind OUTCOME. CPM_E_INVALID / CPM_E_TOO_LARGE naming the field. */
CPM_MUST_CHECK int cpm_fieldrec_check(const Cpm__FieldRecord *r, cpm_error_t *err);

/* BLAKE2b-256 of payload bytes: a record's content identity. */
void cpm_fieldrec_hash(const uint8_t *payload, size_t len, uint8_t hash[CPM_FIELDREC_HASH_LEN]);

/* Check r, then seal it as a MSG_FIELD_RECORD frame from s's identity to
 * recipient. *frame is malloc'd (the caller frees it). */
CPM_MUST_CHECK int cpm_fieldrec_seal(cpm_sender_t *s, const char *recipient,
                                     const Cpm__FieldRecord *r, uint8_t **frame, size_t *len,
                                     cpm_error_t *err);

/* A record frame read back. rec is owned (free with
 * cpm__field_record__free_unpacked(rec, NULL)); signer is borrowed from the
 * registry given to cpm_fieldrec_verify (NULL after cpm_fieldrec_parse). */
typedef struct {
    Cpm__FieldRecord *rec;
    const Cpm__Member *signer;
    char sender[128];
    char key_id[128];
    uint8_t hash[CPM_FIELDREC_HASH_LEN]; /* content hash of the payload */
} cpm_fieldrec_t;
void cpm_fieldrec_clear(cpm_fieldrec_t *f);

/* Read a frame without checking its signature (the device's own store):
 * type MSG_FIELD_RECORD, payload decoded and checked, rec->inspector equal
 * to the envelope's sender. CPM_E_BAD_MESSAGE / CPM_E_INVALID. */
CPM_MUST_CHECK int cpm_fieldrec_parse(const uint8_t *frame, size_t len, cpm_fieldrec_t *out,
                                      cpm_error_t *err);

/* cpm_fieldrec_parse after cpm_verify_signed against reg: a signer in the
 * registry, its current key not revoked, the signature good.
 * CPM_E_FORBIDDEN (field "signature") for a frame that does not verify. */
CPM_MUST_CHECK int cpm_fieldrec_verify(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                                       cpm_fieldrec_t *out, cpm_error_t *err);

#endif
