/* cpm_xevidence: one exchange with everything that proves it, checked
 * offline with only the mesh's root public key (docs/protocol.md 19.6).
 *
 * An ExchangeEvidence holds the signed registry, the entry's LogRecord, the
 * content hashes of the entries after it up to the first checkpoint at or
 * after it, and that SignedCheckpoint. Verification: the registry's root
 * signature; the entry's hash from its body; the chain from the entry's hash
 * through the content hashes to the checkpoint's head; the checkpoint's
 * signature by its agency (a key valid at the checkpoint's time) and every
 * cosignature; the signed frames inside the entry (the request by its
 * sender, a query's response = the agency's signed answer bound to the
 * request's hash, a cosign entry's cosignature). */
#ifndef CPM_XEVIDENCE_H
#define CPM_XEVIDENCE_H

#include "cpm_xlog.h"

#include <stddef.h>
#include <stdint.h>

#define CPM_XEVIDENCE_VERSION 1
#define CPM_XEVIDENCE_MAX (16u << 20)

/* 0 with *summary (malloc'd lines for humans: who asked what when, who
 * answered, who co-signed), or -1 with *p saying what is wrong. */
int cpm_xevidence_verify(const uint8_t *buf, size_t len, const uint8_t root_pk[32], char **summary,
                         cpm_xlog_problem_t *p);

#endif
