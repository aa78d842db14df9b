/* field_device: the inspector's own store on their device (cpmctl
 * inspector). Everything here works with no connection.
 *
 * Folder <cpmctl home>/field/<inspector id>/ (or --device DIR): an LMDB
 * environment (data.mdb) with DBs "inspections" (id -> packed Inspection as
 * checked out), "cases" (ticket -> packed FieldCase), "records"
 * ("<inspection>\x1f<record id>" -> the signed MSG_FIELD_RECORD frame, kept
 * and re-sent byte for byte), "sync" (same key -> the node's last verdict,
 * one byte) and "evidence" (hex hash -> "<size>\x1f<name>"), plus the
 * content-addressed evidence/ folder (cpm_evidence). */
#ifndef FIELD_DEVICE_H
#define FIELD_DEVICE_H

#include "cpm_err.h"
#include "cpm_evidence.h"
#include "cpm_store.h"
#include "field.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIELD_DEV_INSPECTIONS "inspections"
#define FIELD_DEV_CASES "cases"
#define FIELD_DEV_RECORDS "records"
#define FIELD_DEV_SYNC "sync"
#define FIELD_DEV_EVIDENCE "evidence"

typedef struct {
    char dir[1200];
    cpm_store_t *st;
    cpm_evidence_t *ev;
} field_device_t;

/* Open (creating) the device of member under home, or dir when not NULL.
 * 0 or an error code with err. */
CPM_MUST_CHECK int field_device_open(field_device_t *d, const char *home, const char *member,
                                     const char *dir, cpm_error_t *err);
void field_device_close(field_device_t *d);

/* Keep a new record frame under "<inspection>\x1f<id>". CPM_E_CONFLICT when
 * the id is taken on this device (a record is never replaced). */
CPM_MUST_CHECK int field_device_add_record(field_device_t *d, const char *inspection,
                                           const char *id, const uint8_t *frame, size_t len,
                                           cpm_error_t *err);

/* The inspection as checked out, or NULL. Free with cpm__inspection__free_unpacked. */
Cpm__Inspection *field_device_inspection(field_device_t *d, const char *id);

/* Each record frame (key, frame, last verdict or 0), in key order; stops
 * at fn's first non-zero result and returns it. */
typedef int (*field_device_record_fn)(void *ctx, const char *key, const uint8_t *frame, size_t len,
                                      int verdict);
CPM_MUST_CHECK int field_device_each_record(field_device_t *d, field_device_record_fn fn,
                                            void *ctx);

#endif
