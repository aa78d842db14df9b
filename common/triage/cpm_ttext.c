/* cpm_ttext: text features for the category model. See cpm_ttext.h. */
#include "cpm_ttext.h"

#include "cpm_bizname.h"
#include "cpm_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

typedef struct {
    size_t off; /* into arena */
    long token; /* syllable index or -1 for a bigram */
} feat_t;

struct cpm_ttext {
    char *arena;
    size_t used, cap;
    feat_t *f;
    size_t n, fcap;
    size_t tokens;
};

cpm_ttext_t *cpm_ttext_new(void)
{
    return calloc(1, sizeof(cpm_ttext_t));
}

void cpm_ttext_destroy(cpm_ttext_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->arena);
    free((*p)->f);
    free(*p);
    *p = NULL;
}

void cpm_ttext_clear(cpm_ttext_t *t)
{
    t->used = 0;
    t->n = 0;
    t->tokens = 0;
}

size_t cpm_ttext_count(const cpm_ttext_t *t)
{
    return t->n;
}

const char *cpm_ttext_feature(const cpm_ttext_t *t, size_t i)
{
    return i < t->n ? t->arena + t->f[i].off : "";
}

long cpm_ttext_token(const cpm_ttext_t *t, size_t i)
{
    return i < t->n ? t->f[i].token : -1;
}

size_t cpm_ttext_tokens(const cpm_ttext_t *t)
{
    return t->tokens;
}

static int push(cpm_ttext_t *t, const char *a, size_t alen, const char *b, size_t blen, long token)
{
    size_t need = alen + (b ? 1 + blen : 0) + 1;
    if (t->used + need > t->cap) {
        size_t nc = t->cap ? t->cap : 4096;
        while (nc < t->used + need)
            nc *= 2;
        char *na = realloc(t->arena, nc);
        if (!na)
            return -1;
        t->arena = na;
        t->cap = nc;
    }
    if (t->n == t->fcap) {
        size_t nc = t->fcap ? t->fcap * 2 : 256;
        feat_t *nf = realloc(t->f, nc * sizeof *nf);
        if (!nf)
            return -1;
        t->f = nf;
        t->fcap = nc;
    }
    char *p = t->arena + t->used;
    memcpy(p, a, alen);
    if (b) {
        p[alen] = ' ';
        memcpy(p + alen + 1, b, blen);
    }
    p[need - 1] = 0;
    t->f[t->n++] = (feat_t){.off = t->used, .token = token};
    t->used += need;
    return 0;
}

/* One syllable: its spelling (NFC, lower case) and its folded form. */
typedef struct {
    char w[CPM_TTEXT_TOKEN_MAX + 1];
    char f[CPM_TTEXT_TOKEN_MAX + 1];
} syl_t;

static bool token_char(ucs4_t ch)
{
    return uc_is_alpha(ch) || uc_is_digit(ch) || uc_is_general_category(ch, UC_CATEGORY_M);
}

static bool digits_only(const char *s)
{
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The syllables of lowered text d[0..len) into *out (grown); their count or
 * -1 when out of memory. */
static long syllables(const uint8_t *d, size_t len, syl_t **out)
{
    size_t n = 0, cap = 0;
    syl_t *v = NULL;
    for (size_t i = 0; i < len;) {
        ucs4_t ch;
        int l = u8_mbtouc(&ch, d + i, len - i);
        if (l <= 0)
            l = 1;
        if (!token_char(ch)) {
            i += (size_t)l;
            continue;
        }
        size_t start = i;
        while (i < len) {
            l = u8_mbtouc(&ch, d + i, len - i);
            if (l <= 0)
                l = 1;
            if (!token_char(ch))
                break;
            i += (size_t)l;
        }
        size_t tl = i - start;
        if (tl > CPM_TTEXT_TOKEN_MAX)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            syl_t *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
        }
        memcpy(v[n].w, d + start, tl);
        v[n].w[tl] = 0;
        if (digits_only(v[n].w))
            continue;
        cpm_bizname_fold(v[n].w, v[n].f, sizeof v[n].f);
        if (strchr(v[n].f, ' ')) /* a mark or letter folded to a separator */
            v[n].f[0] = 0;
        n++;
    }
    *out = v;
    return (long)n;
}

/* How many bytes of s[0..len) to use: at most CPM_TTEXT_USE_MAX, never
 * cutting a UTF-8 sequence. */
static size_t use_len(const char *s, size_t len)
{
    if (len <= CPM_TTEXT_USE_MAX)
        return len;
    size_t k = CPM_TTEXT_USE_MAX;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

int cpm_ttext_add(cpm_ttext_t *t, const char *field, const char *s, cpm_error_t *err)
{
    if (!s)
        s = "";
    size_t len = strlen(s);
    if (!cpm_text_utf8_valid(s, len))
        return cpm_error_set(err, CPM_E_INVALID, field, "%s is not valid UTF-8.", field);
    len = use_len(s, len);
    if (len == 0)
        return 0;
    size_t dlen = 0;
    uint8_t *d = u8_tolower((const uint8_t *)s, len, NULL, UNINORM_NFC, NULL, &dlen);
    if (!d)
        return cpm_error_set(err, CPM_E_INTERNAL, field, "out of memory reading %s.", field);
    syl_t *v = NULL;
    long n = syllables(d, dlen, &v);
    free(d);
    if (n < 0)
        return cpm_error_set(err, CPM_E_INTERNAL, field, "out of memory reading %s.", field);
    size_t used = t->used, nf = t->n, tokens = t->tokens;
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        long tok = (long)t->tokens++;
        const syl_t *a = &v[i];
        if (a->f[0])
            rc = push(t, a->f, strlen(a->f), NULL, 0, tok);
        if (rc == 0 && strcmp(a->w, a->f) != 0)
            rc = push(t, a->w, strlen(a->w), NULL, 0, tok);
        if (rc || i + 1 >= n)
            continue;
        const syl_t *b = &v[i + 1];
        if (a->f[0] && b->f[0])
            rc = push(t, a->f, strlen(a->f), b->f, strlen(b->f), -1);
        if (rc == 0 && (strcmp(a->w, a->f) != 0 || strcmp(b->w, b->f) != 0))
            rc = push(t, a->w, strlen(a->w), b->w, strlen(b->w), -1);
    }
    free(v);
    if (rc != 0) {
        t->used = used;
        t->n = nf;
        t->tokens = tokens;
        return cpm_error_set(err, CPM_E_INTERNAL, field, "out of memory reading %s.", field);
    }
    return 0;
}
