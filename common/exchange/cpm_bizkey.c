/* cpm_bizkey: business identity. See cpm_bizkey.h. */
#include "cpm_bizkey.h"
#include "cpm_util.h"

#include <sodium.h>
#include <stdint.h>
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

/* Names that say the name is not known, or only what kind of place it is:
 * business_name is required at intake, so a hotline note without a name
 * carries one of these. As keys they would lump every unknown shop of an
 * area together; they count as no name. Folded, whole names only. */
static const char *const PLACEHOLDER[] = {"khong ro",
                                          "ko ro",
                                          "k ro",
                                          "kh ro",
                                          "chua ro",
                                          "khong ro ten",
                                          "chua ro ten",
                                          "khong biet",
                                          "ko biet",
                                          "khong biet ten",
                                          "khong ten",
                                          "khong co ten",
                                          "chua biet",
                                          "chua co ten",
                                          "khong co",
                                          "khong nho",
                                          "khong nho ten",
                                          "quen ten",
                                          "an danh",
                                          "unknown",
                                          "n a",
                                          "na",
                                          "none",
                                          "x",
                                          "xx",
                                          "khac",
                                          "quan",
                                          "quan an",
                                          "cua hang",
                                          "shop",
                                          "tiem",
                                          "nha hang",
                                          "cong ty",
                                          "cty",
                                          "sieu thi",
                                          "tap hoa",
                                          NULL};

bool cpm_bizkey_placeholder(const char *folded)
{
    /* twice for every complaint: only the entries with its first byte */
    for (size_t i = 0; PLACEHOLDER[i]; i++)
        if (PLACEHOLDER[i][0] == folded[0] && strcmp(folded, PLACEHOLDER[i]) == 0)
            return true;
    return false;
}

/* At most max bytes of src after dst[*len] (what "%.<max>s" writes), cut
 * at cap - 1 as snprintf cuts, and terminated: the label and the normal
 * forms of every complaint, without printf. */
static void put_str(char *dst, size_t cap, size_t *len, const char *src, size_t max)
{
    size_t n = strnlen(src, max);
    if (*len + n > cap - 1)
        n = *len < cap - 1 ? cap - 1 - *len : 0;
    memcpy(dst + *len, src, n);
    *len += n;
    dst[*len] = 0;
}

int cpm_bizkey_make(const char *name, const char *address, const char *area, cpm_bizkey_t *out)
{
    memset(out, 0, sizeof *out);
    cpm_bizaddr_t a;
    cpm_bizaddr_normal(address, &a);
    size_t len = 0;
    put_str(out->address, sizeof out->address, &len, a.normal, SIZE_MAX);
    bool exact = cpm_bizaddr_exact(&a);
    if (exact)
        cpm_bizkey_hash(area, a.normal, out->addr_key);
    char normal[CPM_BIZNAME_MAX];
    cpm_bizname_fold(name, out->name, sizeof out->name);
    if (cpm_bizkey_placeholder(out->name))
        out->name[0] = 0;
    /* "Shop X": the normal form "x" alone says nothing; the name as folded does */
    if (!cpm_bizname_normal(name, normal, sizeof normal, NULL, 0) || cpm_bizkey_placeholder(normal))
        put_str(normal, sizeof normal, &(size_t){0}, out->name, SIZE_MAX);
    if (out->name[0])
        cpm_bizkey_hash(area, out->name, out->legacy_key);
    const char *at = exact ? " @ " : "";
    if (out->name[0]) {
        cpm_bizkey_hash(area, normal, out->key);
        out->by_name = true;
        len = 0;
        put_str(out->label, sizeof out->label, &len, out->name, 120);
        put_str(out->label, sizeof out->label, &len, at, SIZE_MAX);
        put_str(out->label, sizeof out->label, &len, exact ? a.house : "", 40);
        put_str(out->label, sizeof out->label, &len, exact ? " " : "", SIZE_MAX);
        put_str(out->label, sizeof out->label, &len, exact ? a.street : "", 60);
        return 0;
    }
    if (!exact) {
        len = 0;
        put_str(out->label, sizeof out->label, &len, a.street, 120);
        return -1;
    }
    memcpy(out->key, out->addr_key, sizeof out->key);
    len = 0;
    put_str(out->label, sizeof out->label, &len, "@ ", SIZE_MAX);
    put_str(out->label, sizeof out->label, &len, a.house, 40);
    put_str(out->label, sizeof out->label, &len, " ", SIZE_MAX);
    put_str(out->label, sizeof out->label, &len, a.street, 100);
    return 0;
}
