/* cpm_docsig: the signature of a signed document (the registry, an agency's
 * access policy, ...): Ed25519 over "<domain>\0" || document bytes, so that
 * a signature made for one kind of document never verifies as another. */
#ifndef CPM_DOCSIG_H
#define CPM_DOCSIG_H

#include "cpm_err.h"

#include <stddef.h>
#include <stdint.h>

/* Sign doc under domain with sk (64-byte libsodium secret key). 0 or -1. */
CPM_MUST_CHECK int cpm_docsig_sign(const char *domain, const uint8_t *doc, size_t len,
                                   const uint8_t sk[64], uint8_t sig[64]);
/* 0 when sig (sig_len bytes) is pk's signature of doc under domain; -1
 * otherwise (a signature that is not 64 bytes included). */
CPM_MUST_CHECK int cpm_docsig_verify(const char *domain, const uint8_t *doc, size_t len,
                                     const uint8_t *sig, size_t sig_len, const uint8_t pk[32]);

#endif
