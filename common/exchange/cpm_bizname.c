/* cpm_bizname: business names in normal form. See cpm_bizname.h. */
#include "cpm_bizname.h"

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

size_t cpm_bizname_fold(const char *name, char *out, size_t cap)
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
    snprintf(kept, sizeof kept, "%s", buf);
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
        snprintf(out, cap, "%s", kept);
        if (forms && forms_cap)
            forms[0] = 0;
        return true;
    }
    snprintf(out, cap, "%s", buf);
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
