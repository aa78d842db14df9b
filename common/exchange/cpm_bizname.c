/* cpm_bizname: business names in normal form. See cpm_bizname.h. */
#include "cpm_bizname.h"
#include "cpm_bizname_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>
#include <uninorm.h>

/* Folded spellings of the forms, longest first so that "cong ty tnhh" wins
 * over "cong ty". Each is removed as a run of whole words, anywhere. */
static const char *const FORMS[] = {
    "cong ty trach nhiem huu han",
    "cong ty co phan",
    "cong ty tnhh",
    "cong ty cp",
    "doanh nghiep tu nhan",
    "ho kinh doanh",
    "mot thanh vien",
    "cua hang",
    "cong ty",
    "tap hoa",
    "sieu thi",
    "ctcp",
    "cty",
    "tnhh",
    "mtv",
    "dntn",
    "hkd",
    "shop",
    "store",
    "ch",
    "cp",
};

/* The fold, a character at a time. It keeps only the starters of the
 * canonical decomposition that are ASCII letters or digits (and đ, Đ) and
 * drops the marks U+0300-U+036F; canonical reordering only moves marks among
 * marks, none of which is kept, so folding each character's own full
 * decomposition in turn gives the bytes of normalising the whole text (NFD)
 * first, which cost a tenth of routing's instructions per complaint
 * (tests/unit/test_bizname_fold.c compares the two over every code point). */
typedef struct {
    char *out;
    size_t k, cap;
    bool space, full;
} fold_t;

/* One character of the decomposed text. */
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

/* The fold as it was first written: normalise the whole text (NFD), then
 * fold. Kept for what is not UTF-8, and as the tests' reference. */
size_t cpm_bizname_fold_reference(const char *name, char *out, size_t cap)
{
    size_t len = 0, k = 0;
    out[0] = 0;
    if (!name || !*name || cap < 2)
        return 0;
    uint8_t *d = u8_normalize(UNINORM_NFD, (const uint8_t *)name, strlen(name), NULL, &len);
    if (!d)
        return 0;
    bool space = false;
    for (size_t i = 0; i < len && k + 2 < cap;) {
        ucs4_t ch;
        int l = u8_mbtouc(&ch, d + i, len - i);
        i += l > 0 ? (size_t)l : 1;
        if (ch == 0x0111 || ch == 0x0110) /* đ, Đ: a letter of its own, not d + mark */
            ch = 'd';
        if (ch >= 'A' && ch <= 'Z')
            ch = ch - 'A' + 'a';
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
            if (space && k > 0)
                out[k++] = ' ';
            out[k++] = (char)ch;
            space = false;
        } else if (ch < 0x0300 || ch > 0x036f) { /* anything but a combining mark separates */
            space = true;
        }
    }
    out[k] = 0;
    free(d);
    return k;
}

/* What taking one character (its full decomposition, part by part) does, as
 * at most FOLD_TOKENS tokens: a kept letter or digit, or ' ' for a
 * separator (runs of them made one: the second changes nothing); marks do
 * nothing. Taking the tokens gives the bytes taking the parts gives: a part
 * that finds the output full writes nothing, nor can any part after it. Kept
 * for U+0080-U+1FFF (Latin with its Vietnamese letters, the marks): most of
 * what is folded, every description of every complaint. */
#define FOLD_TOKENS 4
#define FOLD_TABLE_END 0x2000
typedef struct {
    char tok[FOLD_TOKENS];
    uint8_t n;
    bool slow; /* more tokens than that: taken the long way */
} fold_effect_t;

static fold_effect_t fold_table[FOLD_TABLE_END];
static pthread_once_t fold_table_once = PTHREAD_ONCE_INIT;

/* The tokens of uc's decomposition, as take and take_decomposed see it. */
static void effect_of(ucs4_t uc, int depth, fold_effect_t *e)
{
    ucs4_t d[UC_DECOMPOSITION_MAX_LENGTH];
    int n = depth < 8 ? uc_canonical_decomposition(uc, d) : -1;
    if (n > 0) {
        for (int i = 0; i < n; i++)
            effect_of(d[i], depth + 1, e);
        return;
    }
    char t;
    if (uc == 0x0111 || uc == 0x0110)
        t = 'd';
    else if (uc >= 'A' && uc <= 'Z')
        t = (char)(uc - 'A' + 'a');
    else if ((uc >= 'a' && uc <= 'z') || (uc >= '0' && uc <= '9'))
        t = (char)uc;
    else if (uc < 0x0300 || uc > 0x036f)
        t = ' ';
    else
        return; /* a combining mark */
    if (t == ' ' && e->n > 0 && e->tok[e->n - 1] == ' ')
        return;
    if (e->n == FOLD_TOKENS)
        e->slow = true;
    else
        e->tok[e->n++] = t;
}

static void fold_table_build(void)
{
    for (ucs4_t uc = 0x80; uc < FOLD_TABLE_END; uc++)
        if (uc < 0xd800) /* all of them: the table ends below the surrogates */
            effect_of(uc, 0, &fold_table[uc]);
}

/* take for a token of fold_table (or an ASCII byte): a letter or digit, or
 * ' ' for any separator. The state in locals, not in a fold_t whose address
 * take_decomposed has: every byte of every description comes here. */
#define TAKE_TOKEN(t)                                                                              \
    do {                                                                                           \
        char t_ = (t);                                                                             \
        if (k + 2 >= cap)                                                                          \
            full = true;                                                                           \
        else if (t_ == ' ')                                                                        \
            space = true;                                                                          \
        else {                                                                                     \
            if (space && k > 0)                                                                    \
                out[k++] = ' ';                                                                    \
            out[k++] = t_;                                                                         \
            space = false;                                                                         \
        }                                                                                          \
    } while (0)

/* An ASCII byte as take sees it: its lower case if a letter or digit, else
 * ' ' (a separator: no ASCII byte is a mark). */
static const char ASCII_FOLD[128] = {
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5', ['6'] = '6',
    ['7'] = '7', ['8'] = '8', ['9'] = '9', ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd',
    ['e'] = 'e', ['f'] = 'f', ['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k',
    ['l'] = 'l', ['m'] = 'm', ['n'] = 'n', ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r',
    ['s'] = 's', ['t'] = 't', ['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y',
    ['z'] = 'z', ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f',
    ['G'] = 'g', ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l', ['M'] = 'm',
    ['N'] = 'n', ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't',
    ['U'] = 'u', ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y', ['Z'] = 'z'};

size_t cpm_bizname_fold_n(const char *text, size_t len, char *out, size_t cap)
{
    if (cap)
        out[0] = 0;
    if (!text || !len || cap < 2)
        return 0;
    if (u8_check((const uint8_t *)text, len) != NULL || memchr(text, 0, len)) {
        /* not UTF-8 (or a NUL inside): what normalising the whole text gives */
        char *z = malloc(len + 1);
        if (!z)
            return 0;
        memcpy(z, text, len);
        z[len] = 0;
        size_t k = cpm_bizname_fold_reference(z, out, cap);
        free(z);
        return k;
    }
    pthread_once(&fold_table_once, fold_table_build);
    size_t k = 0;
    bool space = false, full = false;
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; i < len && !full;) {
        if (s[i] < 0x80) {
            char t = ASCII_FOLD[s[i++]];
            TAKE_TOKEN(t ? t : ' ');
            continue;
        }
        ucs4_t uc;
        int l = u8_mbtouc(&uc, s + i, len - i);
        i += l > 0 ? (size_t)l : 1;
        if (uc < FOLD_TABLE_END && !fold_table[uc].slow) {
            const fold_effect_t *e = &fold_table[uc];
            for (size_t j = 0; j < e->n && !full; j++)
                TAKE_TOKEN(e->tok[j]);
        } else {
            fold_t f = {out, k, cap, space, full};
            take_decomposed(&f, uc, 0);
            k = f.k, space = f.space, full = f.full;
        }
    }
    out[k] = 0;
    return k;
}

size_t cpm_bizname_fold(const char *name, char *out, size_t cap)
{
    return cpm_bizname_fold_n(name ? name : "", name ? strlen(name) : 0, out, cap);
}

/* Where words (whole words) occur in s at or after from, or NULL. */
static char *find_words(char *s, const char *words)
{
    size_t n = strlen(words);
    for (char *p = strstr(s, words); p; p = strstr(p + 1, words))
        if ((p == s || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return p;
    return NULL;
}

static void squeeze(char *s)
{
    size_t k = 0;
    bool space = true;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == ' ') {
            if (!space)
                s[k++] = ' ';
            space = true;
        } else {
            s[k++] = s[i];
            space = false;
        }
    }
    if (k && s[k - 1] == ' ')
        k--;
    s[k] = 0;
}

/* snprintf(out, cap, "%s", s) without printf: twice for every name. */
static void copy_cut(char *out, size_t cap, const char *s)
{
    if (!cap)
        return;
    size_t n = strnlen(s, cap - 1);
    memcpy(out, s, n);
    out[n] = 0;
}

static void add_form(char *forms, size_t cap, const char *f)
{
    size_t n = strlen(forms);
    if (forms && cap > n)
        snprintf(forms + n, cap - n, "%s%s", n ? " " : "", f);
}

bool cpm_bizname_normal(const char *name, char *out, size_t cap, char *forms, size_t forms_cap)
{
    char buf[CPM_BIZNAME_MAX];
    if (forms && forms_cap)
        forms[0] = 0;
    if (cpm_bizname_fold(name, buf, sizeof buf) == 0) {
        if (cap)
            out[0] = 0;
        return false;
    }
    char kept[CPM_BIZNAME_MAX];
    copy_cut(kept, sizeof kept, buf);
    for (size_t i = 0; i < sizeof FORMS / sizeof FORMS[0]; i++) {
        char *p;
        while ((p = find_words(buf, FORMS[i])) != NULL) {
            memset(p, ' ', strlen(FORMS[i]));
            if (forms && forms_cap)
                add_form(forms, forms_cap, FORMS[i]);
        }
    }
    squeeze(buf);
    if (!buf[0]) { /* forms only: keep them, they are the name */
        copy_cut(out, cap, kept);
        if (forms && forms_cap)
            forms[0] = 0;
        return true;
    }
    copy_cut(out, cap, buf);
    return true;
}

bool cpm_bizname_match(const char *query, const char *name, char *why, size_t why_cap)
{
    char q[CPM_BIZNAME_MAX], n[CPM_BIZNAME_MAX], forms[CPM_BIZNAME_MAX];
    if (!cpm_bizname_normal(query, q, sizeof q, NULL, 0) ||
        !cpm_bizname_normal(name, n, sizeof n, forms, sizeof forms))
        return false;
    if (strcmp(q, n) != 0 && !find_words(n, q))
        return false;
    if (why && why_cap)
        snprintf(why, why_cap, "business \"%.120s\" ~ \"%.80s\"%s%.80s%s", name, q,
                 forms[0] ? " (forms left out: " : "", forms, forms[0] ? ")" : "");
    return true;
}
