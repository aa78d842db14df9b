/* cpm_receipt_int: what the two halves of cpm_receipt share (the server's
 * cpm_receipt.c and the readers' cpm_receipt_open.c). */
#ifndef CPM_RECEIPT_INT_H
#define CPM_RECEIPT_INT_H

#include <stddef.h>
#include <stdint.h>

/* A frame of prefix (a SignedEnvelope: fields 1 and 2) followed by field 3
 * of proofs_len bytes, left for the caller to write at *proofs_at. *out is
 * malloc'd. 0 or -1. */
int cpm_receipt_frame_alloc(const uint8_t *prefix, size_t prefix_len, size_t proofs_len,
                            uint8_t **out, size_t *out_len, uint8_t **proofs_at);

#endif
