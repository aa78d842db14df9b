/* cpm_evidence: a content-addressed store of evidence files (photos,
 * documents) in one folder, used by the inspector's device and by the
 * agency's inspection service.
 *
 * A file is named by the lowercase hex of its BLAKE2b-256 hash (libsodium
 * crypto_generichash, 32-byte output, no key), computed streaming. The same
 * bytes are stored once. A file that is still arriving is "<hex>.part": bytes
 * are appended only at offset == what the .part holds, so after a crash on
 * either side the upload resumes from the
 * .part's size. Parts are fsync'ed every CPM_EVIDENCE_SYNC_EVERY bytes and
 * on the last byte (a tail lost in a power cut is simply sent again: senders
 * always ask for received first). When the last byte arrives the whole .part is hashed; a
 * mismatch deletes it, a match renames it to its final name (then fsyncs the
 * folder). The folder's total (complete files and parts) is bounded by
 * max_bytes; a part untouched for CPM_EVIDENCE_PART_TTL_S is dropped when the
 * store is opened. Bytes never go into LMDB.
 *
 * Every function returns 0 or a cpm_err_t code with err (may be NULL) naming
 * the field and saying what is wrong in one sentence. */
#ifndef CPM_EVIDENCE_H
#define CPM_EVIDENCE_H

#include "cpm_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_EVIDENCE_HASH_LEN 32
#define CPM_EVIDENCE_MAX_FILE (64ull << 20) /* largest evidence file: 64 MiB */
#define CPM_EVIDENCE_CHUNK (1u << 20)       /* largest chunk on the wire: 1 MiB */
#define CPM_EVIDENCE_MAX_BYTES_DEFAULT (4ull << 30)
#define CPM_EVIDENCE_SYNC_EVERY (8ull << 20) /* a part is fsync'ed at least this often */
#define CPM_EVIDENCE_PARTS_PER_OWNER 8 /* unfinished uploads kept per uploader (oldest dropped) */
#define CPM_EVIDENCE_PART_TTL_S (30 * 86400) /* a part untouched this long is dropped at open */

typedef struct cpm_evidence cpm_evidence_t;

/* Open (creating dir 0700) the store in dir; max_bytes bounds the folder's
 * total (0: CPM_EVIDENCE_MAX_BYTES_DEFAULT). The current total is counted
 * once here. NULL with err. */
CPM_MUST_CHECK cpm_evidence_t *cpm_evidence_open(const char *dir, uint64_t max_bytes,
                                                 cpm_error_t *err);
void cpm_evidence_destroy(cpm_evidence_t **p);

/* Bytes the folder holds now (complete files and parts). */
uint64_t cpm_evidence_used(const cpm_evidence_t *ev);

/* Lowercase hex of a hash into hex (65 bytes with the NUL). */
void cpm_evidence_hex(const uint8_t hash[CPM_EVIDENCE_HASH_LEN], char hex[65]);

/* Hash the file at path streaming; *size gets its length. CPM_E_NOT_FOUND,
 * CPM_E_TOO_LARGE over CPM_EVIDENCE_MAX_FILE, CPM_E_INVALID when empty. */
CPM_MUST_CHECK int cpm_evidence_hash_file(const char *path, uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                                          uint64_t *size, cpm_error_t *err);

/* Copy the file at path into the store under its hash (the device's
 * "evidence add"). *existed is true when the same bytes were already there
 * (nothing copied). */
CPM_MUST_CHECK int cpm_evidence_import(cpm_evidence_t *ev, const char *path,
                                       uint8_t hash[CPM_EVIDENCE_HASH_LEN], uint64_t *size,
                                       bool *existed, cpm_error_t *err);

/* What the store holds of hash: *complete when the whole file is there
 * (*received = its size), else *received = the .part's size (0 if none). */
CPM_MUST_CHECK int cpm_evidence_status(cpm_evidence_t *ev,
                                       const uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                                       uint64_t *received, bool *complete, cpm_error_t *err);

/* Append len bytes at offset to the file hash of size bytes (1 ..
 * CPM_EVIDENCE_MAX_FILE, len <= CPM_EVIDENCE_CHUNK). When offset is not what
 * the store holds, nothing is written and 0 is returned with the status (the
 * sender resumes from *received). The last byte triggers the hash check:
 * CPM_E_INVALID with field "blake2b" on a mismatch (the part is deleted, the
 * next upload starts at 0). CPM_E_TOO_LARGE when offset + len passes size;
 * CPM_E_STORE_FULL when the folder would pass max_bytes; CPM_E_STORE_IO on
 * a disk error. */
CPM_MUST_CHECK int cpm_evidence_append(cpm_evidence_t *ev,
                                       const uint8_t hash[CPM_EVIDENCE_HASH_LEN], uint64_t size,
                                       uint64_t offset, const uint8_t *data, size_t len,
                                       uint64_t *received, bool *complete, cpm_error_t *err);

/* The same for the part that owner (an uploader's member id) sends: each
 * uploader has its own part of a hash ("<hex>.<tag>.part"), so a second
 * uploader naming the same hash, with the same or another size, can neither
 * append to, cut nor spoil it; the first to finish makes the file, the
 * other's part is then dropped. Starting a part drops owner's oldest when it
 * has CPM_EVIDENCE_PARTS_PER_OWNER already. The agency's service uses these;
 * the functions above are these with owner NULL ("<hex>.part"). */
CPM_MUST_CHECK int cpm_evidence_status_as(cpm_evidence_t *ev,
                                          const uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                                          const char *owner, uint64_t *received, bool *complete,
                                          cpm_error_t *err);
CPM_MUST_CHECK int cpm_evidence_append_as(cpm_evidence_t *ev,
                                          const uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                                          const char *owner, uint64_t size, uint64_t offset,
                                          const uint8_t *data, size_t len, uint64_t *received,
                                          bool *complete, cpm_error_t *err);

/* Read up to cap bytes of the complete file hash from offset into buf; *got
 * the number read (0 at the end). */
CPM_MUST_CHECK int cpm_evidence_read(cpm_evidence_t *ev, const uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                                     uint64_t offset, uint8_t *buf, size_t cap, size_t *got,
                                     cpm_error_t *err);

/* The path of hash's complete file into out. */
void cpm_evidence_path(const cpm_evidence_t *ev, const uint8_t hash[CPM_EVIDENCE_HASH_LEN],
                       char *out, size_t n);

#endif
