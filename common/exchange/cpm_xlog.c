/* cpm_xlog: hashing of the exchange's proof log. See cpm_xlog.h. */
#include "cpm_xlog.h"

#include <sodium.h>

void cpm_xlog_content(const uint8_t *body, size_t len, uint8_t content[32])
{
    crypto_hash_sha256(content, body, len);
}

void cpm_xlog_link(const uint8_t prev[32], const uint8_t content[32], uint8_t out[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)CPM_XLOG_DOMAIN, sizeof CPM_XLOG_DOMAIN);
    crypto_hash_sha256_update(&st, prev, 32);
    crypto_hash_sha256_update(&st, content, 32);
    crypto_hash_sha256_final(&st, out);
}
