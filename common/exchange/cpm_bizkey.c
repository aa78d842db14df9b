/* cpm_bizkey: business identity. See cpm_bizkey.h. */
#include "cpm_bizkey.h"
#include "cpm_util.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void cpm_bizkey_hash(const char *area, const char *text, char out[CPM_BIZKEY_HEX])
{
    uint8_t h[16];
    crypto_generichash_state s;
    crypto_generichash_init(&s, NULL, 0, sizeof h);
    crypto_generichash_update(&s, (const uint8_t *)(area ? area : ""), area ? strlen(area) : 0);
    crypto_generichash_update(&s, (const uint8_t *)"\x1f", 1);
    crypto_generichash_update(&s, (const uint8_t *)text, strlen(text));
    crypto_generichash_final(&s, h, sizeof h);
    cpm_hex_encode(h, sizeof h, out);
}

int cpm_bizkey_make(const char *name, const char *address, const char *area, cpm_bizkey_t *out)
{
    memset(out, 0, sizeof *out);
    cpm_bizaddr_t a;
    cpm_bizaddr_normal(address, &a);
    snprintf(out->address, sizeof out->address, "%s", a.normal);
    bool exact = cpm_bizaddr_exact(&a);
    if (exact)
        cpm_bizkey_hash(area, a.normal, out->addr_key);
    cpm_bizname_fold(name, out->name, sizeof out->name);
    const char *at = exact ? " @ " : "";
    if (out->name[0]) {
        cpm_bizkey_hash(area, out->name, out->key);
        out->by_name = true;
        snprintf(out->label, sizeof out->label, "%.120s%s%.40s%s%.60s", out->name, at,
                 exact ? a.house : "", exact ? " " : "", exact ? a.street : "");
        return 0;
    }
    if (!exact) {
        snprintf(out->label, sizeof out->label, "%.120s", a.street);
        return -1;
    }
    memcpy(out->key, out->addr_key, sizeof out->key);
    snprintf(out->label, sizeof out->label, "@ %.40s %.100s", a.house, a.street);
    return 0;
}
