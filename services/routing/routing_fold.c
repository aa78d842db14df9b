/* routing_fold: see routing_fold.h. */
#include "routing_fold.h"
#include "cpm_bizname.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>
#include <uninorm.h>

typedef struct {
    char *out;
    size_t k, cap;
    bool space, full;
} fold_t;

/* One character of the normalised text, as cpm_bizname_fold's loop takes it. */
static void take(fold_t *f, ucs4_t ch)
{
    if (f->k + 2 >= f->cap) {
        f->full = true;
        return;
    }
    if (ch == 0x0111 || ch == 0x0110) /* đ, Đ: a letter of its own, not d + mark */
        ch = 'd';
    if (ch >= 'A' && ch <= 'Z')
        ch = ch - 'A' + 'a';
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
        if (f->space && f->k > 0)
            f->out[f->k++] = ' ';
        f->out[f->k++] = (char)ch;
        f->space = false;
    } else if (ch < 0x0300 || ch > 0x036f) { /* anything but a combining mark separates */
        f->space = true;
    }
}

/* uc fully decomposed (canonical), each part taken in order. */
static void take_decomposed(fold_t *f, ucs4_t uc, int depth)
{
    ucs4_t d[UC_DECOMPOSITION_MAX_LENGTH];
    int n = depth < 8 ? uc_canonical_decomposition(uc, d) : -1;
    if (n <= 0) {
        take(f, uc);
        return;
    }
    for (int i = 0; i < n && !f->full; i++)
        take_decomposed(f, d[i], depth + 1);
}

size_t routing_fold(const char *text, size_t len, char *out, size_t cap)
{
    out[0] = 0;
    if (!text || !len || cap < 2)
        return 0;
    if (u8_check((const uint8_t *)text, len) != NULL || memchr(text, 0, len)) {
        /* not what this fold is for: the library's own answer */
        char *z = malloc(len + 1);
        if (!z)
            return 0;
        memcpy(z, text, len);
        z[len] = 0;
        size_t k = cpm_bizname_fold(z, out, cap);
        free(z);
        return k;
    }
    fold_t f = {out, 0, cap, false, false};
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; i < len && !f.full;) {
        if (s[i] < 0x80) {
            take(&f, s[i++]);
            continue;
        }
        ucs4_t uc;
        int l = u8_mbtouc(&uc, s + i, len - i);
        i += l > 0 ? (size_t)l : 1;
        take_decomposed(&f, uc, 0);
    }
    out[f.k] = 0;
    return f.k;
}
