#include "intake_lookup.h"
#include "cpm_err.h"

#include <sodium.h>
#include <string.h>

#define KEY_NAME "intake.lookup_key"

static int lookup_key(cpm_store_t *st, MDB_txn *txn, uint8_t key[32])
{
    const void *v;
    size_t vlen;
    int rc = cpm_store_get(st, txn, "meta", KEY_NAME, strlen(KEY_NAME), &v, &vlen);
    if (rc == 0 && vlen == 32) {
        memcpy(key, v, 32);
        return 0;
    }
    if (rc == 0) /* a key of another size is not ours: never make codes with it */
        return CPM_E_INTERNAL;
    if (rc != CPM_E_NOT_FOUND)
        return rc;
    randombytes_buf(key, 32);
    return cpm_store_put(st, txn, "meta", KEY_NAME, strlen(KEY_NAME), key, 32);
}

int intake_lookup_code(cpm_store_t *st, MDB_txn *txn, const char *ticket,
                       char out[CPM_TEXT_CODE_LEN + 1])
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint8_t key[32], mac[crypto_auth_hmacsha256_BYTES];
    int rc = lookup_key(st, txn, key);
    if (rc != 0) {
        sodium_memzero(key, sizeof key);
        return rc;
    }
    crypto_auth_hmacsha256(mac, (const uint8_t *)ticket, strlen(ticket), key);
    sodium_memzero(key, sizeof key);
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | mac[i];
    for (int i = 0; i < CPM_TEXT_CODE_LEN; i++) /* 5 bits each, from the top */
        out[i] = alphabet[(bits >> (59 - 5 * i)) & 31];
    out[CPM_TEXT_CODE_LEN] = 0;
    return 0;
}
