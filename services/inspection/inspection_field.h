/* inspection_field: the agency's side of the inspectors' field sync
 * (docs/protocol.md 16.2): checkout of the inspections assigned to an
 * inspector, upload of their signed field records, and evidence chunks.
 *
 * Storage (contract with inspection_plan, DESIGN8): DB "inspections" holds
 * packed Cpm__Inspection under its id; DB "field_records" the first version
 * of each record (key "<inspection>\x1f<record id>", packed FieldStored);
 * DB "field_conflicts" every later, different version (key
 * "<inspection>\x1f<record id>\x1f<hex content hash>"); DB "evidence" the
 * evidence each inspector's stored records name (key "<hex hash>\x1f<member>",
 * value the declared size as decimal text), whose bytes live in the
 * cpm_evidence folder, never in LMDB. No sockets: main.c adapts. */
#ifndef INSPECTION_FIELD_H
#define INSPECTION_FIELD_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_evidence.h"
#include "cpm_registry.h"
#include "cpm_store.h"
#include "field.pb-c.h"
#include "inspection_domain.h"
#include "inspection_plan.h"

#include <stdbool.h>
#include <stdint.h>

#define INSPECTION_EVIDENCE_DB "evidence"

#define INSPECTION_FIELD_MAX_RECORDS 500
#define INSPECTION_FIELD_MAX_UPLOAD (1u << 20)
/* A hostile inspector of the team must not grow the store without bound:
 * versions of one record id kept beside the first (the first is not
 * counted), and records (first and conflicting versions) per inspection.
 * Past either the record is REFUSED (too_large), counted and logged. */
#define INSPECTION_FIELD_MAX_VERSIONS 8
/* A checkout reply stays well under CPM_MAX_MSG: inspections (with their
 * cases) past INSPECTION_FIELD_CHECKOUT_MAX or this many packed bytes are
 * left out and the reply says truncated. */
#define INSPECTION_FIELD_CHECKOUT_MAX 500
#define INSPECTION_FIELD_CHECKOUT_BYTES (3u << 20)
#define INSPECTION_FIELD_MAX_PER_INSPECTION 20000

typedef struct {
    const char *node;          /* this agency's member id */
    const cpm_registry_t *reg; /* to verify record frames */
    cpm_evidence_t *evidence;  /* the evidence folder */
    bool share_contact;        /* the agency's policy lets inspectors see the consumer's contact */
    const inspection_t *in;    /* to open contacts (only when share_contact); may be NULL */
    void (*count)(void *ctx, const char *counter); /* a health counter, or NULL */
    void *ctx;
} inspection_field_t;

/* The inspections asker (lead or team) holds and that are not closed, with
 * the facts of their cases (contacts only with share_contact). When the lead
 * checks out an ASSIGNED inspection it becomes IN_FIELD. *out is the
 * caller's: free with inspection_field_checkout_free. */
CPM_MUST_CHECK int inspection_field_checkout(const inspection_field_t *f, cpm_store_t *st,
                                             MDB_txn *txn, const char *asker, int64_t now_ms,
                                             Cpm__FieldCheckoutReply *out, cpm_error_t *err);
void inspection_field_checkout_free(Cpm__FieldCheckoutReply *out);

/* asker's batch of record frames: one result per record in request order
 * (STORED, SAME, CONFLICT both kept, or REFUSED with code/field/message),
 * each with the evidence hashes the node still lacks. Only store errors fail
 * the whole batch (then nothing was applied). *out: free with
 * inspection_field_upload_free. */
CPM_MUST_CHECK int inspection_field_upload(const inspection_field_t *f, cpm_store_t *st,
                                           MDB_txn *txn, const cpm_effects_t *fx, const char *asker,
                                           const Cpm__FieldUpload *up, int64_t now_ms,
                                           Cpm__FieldUploadReply *out, cpm_error_t *err);
void inspection_field_upload_free(Cpm__FieldUploadReply *out);

/* A piece of evidence from asker: accepted only for a hash one of asker's
 * stored records names, with that size; appended only at offset ==
 * received. *out (blake2b points into c) says what the node holds. */
CPM_MUST_CHECK int inspection_field_chunk(const inspection_field_t *f, cpm_store_t *st,
                                          MDB_txn *txn, const char *asker,
                                          const Cpm__EvidenceChunk *c, Cpm__EvidenceStatus *out,
                                          cpm_error_t *err);

#endif
