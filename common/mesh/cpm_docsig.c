/* cpm_docsig: signed documents. See cpm_docsig.h. */
#include "cpm_docsig.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* "<domain>\0" || doc, malloc'd. */
static uint8_t *input(const char *domain, const uint8_t *doc, size_t len, size_t *out_len)
{
    size_t dlen = strlen(domain) + 1; /* with its zero byte */
    uint8_t *m = malloc(dlen + len + 1);
    if (!m)
        return NULL;
    memcpy(m, domain, dlen);
    if (len)
        memcpy(m + dlen, doc, len);
    *out_len = dlen + len;
    return m;
}

int cpm_docsig_sign(const char *domain, const uint8_t *doc, size_t len, const uint8_t sk[64],
                    uint8_t sig[64])
{
    size_t mlen = 0;
    uint8_t *m = sodium_init() < 0 ? NULL : input(domain, doc, len, &mlen);
    int rc = m && crypto_sign_detached(sig, NULL, m, mlen, sk) == 0 ? 0 : -1;
    free(m);
    return rc;
}

int cpm_docsig_verify(const char *domain, const uint8_t *doc, size_t len, const uint8_t *sig,
                      size_t sig_len, const uint8_t pk[32])
{
    if (sig_len != crypto_sign_BYTES)
        return -1;
    size_t mlen = 0;
    uint8_t *m = input(domain, doc, len, &mlen);
    int rc = m && crypto_sign_verify_detached(sig, m, mlen, pk) == 0 ? 0 : -1;
    free(m);
    return rc;
}
