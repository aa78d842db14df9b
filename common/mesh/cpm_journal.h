/* cpm_journal: the redo journal of a store (cpm_store, "journal" in
 * docs/operations.md "A store's redo journal"): two segment files,
 * journal.0 and journal.1 in the store's folder, each written through with
 * zeros when made (so that a flush writes data, never the file's size or
 * its blocks), in which each committed transaction's writes are appended as
 * one record and flushed once.
 *
 * A record, all integers big-endian:
 *   magic "CPJ2" (4) | payload length (4) | seq (8) | journal id (16)
 *   | payload | XXH3-128 of everything before it (16, canonical: big-endian)
 * (Records with magic "CPJ1", written by builds of before, end in a
 * BLAKE2b-128 instead and are read as well.)
 * seq goes up by one from record to record across both segments; a segment
 * is read from its start while headers hold; records whose hash fails are
 * left out (a torn last write; a rotted one shows as a gap).
 *
 * Records go to the active segment. Switching makes the other one active
 * (written from its start) and seals this one: its records stay needed until
 * the caller has made the store durable past them and releases it. Not
 * thread-safe: the caller serializes (cpm_store: the writer thread appends
 * and switches; the checkpoint thread releases, under the store's lock). */
#ifndef CPM_JOURNAL_H
#define CPM_JOURNAL_H

#include "cpm_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_JOURNAL_ID_LEN 16
#define CPM_JOURNAL_OVERHEAD 48 /* header 32 + hash 16 */
#define CPM_JOURNAL_SEG_MIN ((size_t)64 << 10)
#define CPM_JOURNAL_SEG_MAX ((size_t)1 << 30)

typedef struct cpm_journal cpm_journal_t;

/* Open dir's two segments of seg_bytes each (CPM_JOURNAL_SEG_MIN..MAX),
 * making (and writing through) those missing or of another size. Appends
 * start at the start of journal.0: callers open a journal only after
 * replaying and resetting it. NULL with a sentence in err. */
CPM_MUST_CHECK cpm_journal_t *cpm_journal_open(const char *dir, size_t seg_bytes,
                                               const uint8_t id[CPM_JOURNAL_ID_LEN], char *err,
                                               size_t errlen);
void cpm_journal_destroy(cpm_journal_t **p);

/* Bytes a record of payload_len takes. */
size_t cpm_journal_record_size(size_t payload_len);
/* The largest payload a segment holds. */
size_t cpm_journal_payload_max(const cpm_journal_t *j);
/* Bytes left in the active segment, and how much of it is written (0..1). */
size_t cpm_journal_room(const cpm_journal_t *j);
double cpm_journal_fill(const cpm_journal_t *j);

/* Append a record (the caller checked room); sync: flush it (fdatasync)
 * before returning, else the next flush or checkpoint does. 0,
 * CPM_E_STORE_FULL (no room: switch first), CPM_E_STORE_IO. */
CPM_MUST_CHECK int cpm_journal_append(cpm_journal_t *j, uint64_t seq, const void *payload,
                                      size_t len, bool sync);
/* The active segment's descriptor (to flush on another thread what was
 * appended without sync; it stays open while the journal is). */
int cpm_journal_active_fd(const cpm_journal_t *j);
/* Flush what was appended without sync. 0 or CPM_E_STORE_IO. */
CPM_MUST_CHECK int cpm_journal_flush(cpm_journal_t *j);
/* Whether the other segment is free (released since it was last sealed). */
bool cpm_journal_can_switch(const cpm_journal_t *j);
/* Seal the active segment (flushing what was appended to it without a flush)
 * and make the other (free) one active. -1 when the other is still sealed or
 * the flush failed. */
CPM_MUST_CHECK int cpm_journal_switch(cpm_journal_t *j);
/* The sealed segment is no longer needed: it may be written again. */
void cpm_journal_release(cpm_journal_t *j);

/* Every whole record of dir's segments with this id and a seq above after,
 * in seq order from after + 1 until one is missing: fn(ctx, seq, payload,
 * len), stopping at fn's first non-zero return (returned). *last: the last
 * seq given to fn (after when none). Records past a missing one (a gap) are
 * counted in *beyond (the caller decides; a gap means a lost write).
 * Segments that do not exist give nothing. 0, fn's code, or CPM_E_STORE_IO
 * (a segment unreadable) with err set. */
typedef int (*cpm_journal_fn)(void *ctx, uint64_t seq, const uint8_t *payload, size_t len);
CPM_MUST_CHECK int cpm_journal_replay(const char *dir, const uint8_t id[CPM_JOURNAL_ID_LEN],
                                      uint64_t after, cpm_journal_fn fn, void *ctx, uint64_t *last,
                                      size_t *beyond, char *err, size_t errlen);
/* Make every record of dir's segments unreadable (the first header of each
 * zeroed and flushed): after the store is durable past them. Segments that
 * do not exist are left so. 0 or CPM_E_STORE_IO. */
CPM_MUST_CHECK int cpm_journal_reset_files(const char *dir);
/* Remove dir's segment files (a store that no longer keeps a journal, once
 * reset). 0 or CPM_E_STORE_IO. */
CPM_MUST_CHECK int cpm_journal_remove_files(const char *dir);

#endif
