/* ctl_submit_batch: `cpmctl submit --file` in batches (SubmitBatch), each
 * answered by a group receipt (docs/protocol.md "Group receipts"). */
#ifndef CTL_SUBMIT_BATCH_H
#define CTL_SUBMIT_BATCH_H

#include "ctl.h"

#include <stdbool.h>
#include <stddef.h>

/* Print one recorded complaint (ctl_submit.c): line > 0 names the file's line. */
void ctl_print_ticket(bool json, long line, const Cpm__SubmitReply *r);

/* Submit cs[0..n) (lines[i] names each in messages) to node's intake, batch
 * complaints per request, inflight requests at once; a retryable refusal of
 * an item or a batch is sent again (client references keep it idempotent),
 * up to 4 tries. With receipts_dir, each recorded item's stand-alone proof
 * is saved as <dir>/<ticket>.receipt (mode 0600). Prints a line per
 * complaint; *ok and *failed count them. 0, or -1 when sending failed. */
int ctl_submit_batches(ctl_t *c, const char *node, Cpm__Complaint *const *cs, const long *lines,
                       size_t n, int batch, int inflight, const char *receipts_dir, size_t *ok,
                       size_t *failed);

#endif
