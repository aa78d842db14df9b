/* cpm_seal: sealed contacts. See cpm_seal.h. */
#include "cpm_seal.h"

#include "cpm_err.h"

#include <sodium.h>

#include <stdlib.h>
#include <string.h>

static bool blank(const char *s)
{
    return !s || !*s;
}

bool cpm_seal_card_empty(const Cpm__ContactCard *card)
{
    return blank(card->name) && blank(card->phone) && blank(card->email);
}

int cpm_seal_contact(const Cpm__ContactCard *card, const uint8_t curve_pk[32], uint8_t **out,
                     size_t *len)
{
    *out = NULL;
    *len = 0;
    if (sodium_init() < 0)
        return CPM_E_INTERNAL;
    size_t plen = protobuf_c_message_get_packed_size(&card->base);
    if (plen + crypto_box_SEALBYTES > CPM_SEAL_MAX)
        return CPM_E_TOO_LARGE;
    uint8_t clear[CPM_SEAL_MAX];
    protobuf_c_message_pack(&card->base, clear);
    uint8_t *sealed = malloc(plen + crypto_box_SEALBYTES);
    int rc = CPM_E_INTERNAL;
    if (sealed && crypto_box_seal(sealed, clear, plen, curve_pk) == 0) {
        *out = sealed;
        *len = plen + crypto_box_SEALBYTES;
        rc = 0;
    } else if (sealed) {
        free(sealed);
        rc = CPM_E_INVALID;
    }
    sodium_memzero(clear, plen);
    return rc;
}

Cpm__ContactCard *cpm_seal_open(const uint8_t *sealed, size_t len, const uint8_t curve_pk[32],
                                const uint8_t curve_sk[32], const char *ticket, int *rc)
{
    if (len > CPM_SEAL_MAX) {
        *rc = CPM_E_TOO_LARGE;
        return NULL;
    }
    *rc = CPM_E_INVALID;
    if (len < crypto_box_SEALBYTES)
        return NULL;
    uint8_t clear[CPM_SEAL_MAX];
    size_t plen = len - crypto_box_SEALBYTES;
    if (crypto_box_seal_open(clear, sealed, len, curve_pk, curve_sk) != 0)
        return NULL;
    Cpm__ContactCard *card = cpm__contact_card__unpack(NULL, plen, clear);
    sodium_memzero(clear, plen);
    if (!card)
        return NULL;
    if (!ticket || strcmp(card->ticket, ticket) != 0) {
        cpm__contact_card__free_unpacked(card, NULL);
        *rc = CPM_E_CONFLICT;
        return NULL;
    }
    *rc = 0;
    return card;
}
