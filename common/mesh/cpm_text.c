/* cpm_text: UTF-8, identifier forms and escaping. See cpm_text.h. */
#include "cpm_text.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The length of the well-formed UTF-8 sequence at p (1 to 4) with its code
 * point in *cp, or 0 when the bytes at p are not one. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
    unsigned c = *p;
    size_t n;                      /* continuation bytes that follow */
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the first one */
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        n = 1, *cp = c & 0x1F;
    else if (c == 0xE0)
        n = 2, lo = 0xA0, *cp = c & 0x0F; /* no overlong 3-byte forms */
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        n = 2, *cp = c & 0x0F;
    else if (c == 0xED)
        n = 2, hi = 0x9F, *cp = c & 0x0F; /* no UTF-16 surrogates */
    else if (c == 0xF0)
        n = 3, lo = 0x90, *cp = c & 0x07; /* no overlong 4-byte forms */
    else if (c >= 0xF1 && c <= 0xF3)
        n = 3, *cp = c & 0x07;
    else if (c == 0xF4)
        n = 3, hi = 0x8F, *cp = c & 0x07; /* nothing above U+10FFFF */
    else
        return 0; /* continuation byte, C0, C1 or F5..FF as a lead */
    if ((size_t)(end - p) < n + 1 || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (p[i] & 0x3F);
    }
    return n + 1;
}

/* The length of the well-formed multi-byte sequence at p (p[0] >= 0x80),
 * or 0: utf8_seq's rules, without the code point. */
static inline size_t utf8_multi(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c < 0xC2)
        return 0; /* continuation byte, C0 or C1 as a lead */
    if (c <= 0xDF)
        n = 1;
    else if (c <= 0xEF) {
        n = 2;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong 3-byte forms */
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c <= 0xF4) {
        n = 3;
        if (c == 0xF0)
            lo = 0x90; /* no overlong 4-byte forms */
        else if (c == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else
        return 0;
    if ((size_t)(end - p) <= n || p[1] < lo || p[1] > hi)
        return 0;
    if (n >= 2 && (p[2] & 0xC0) != 0x80)
        return 0;
    if (n == 3 && (p[3] & 0xC0) != 0x80)
        return 0;
    return n + 1;
}

/* Every hop checks every string, several times on intake's path: ASCII is
 * passed 8 bytes at a time, and no code point is computed. */
bool cpm_text_utf8_valid(const char *s, size_t len)
{
    if (len == 0)
        return true; /* s may be NULL then: no arithmetic on it */
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        while ((size_t)(end - p) >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            p += 8;
        }
        while (p < end && *p < 0x80)
            p++;
        if (p == end)
            break;
        size_t n = utf8_multi(p, end);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

/* 1 to max bytes, all from set, first not in nofirst. */
static bool made_of(const char *s, const char *set, size_t max, const char *nofirst)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= max && strspn(s, set) == n && !strchr(nofirst, s[0]);
}

#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define DIGITS "0123456789"

bool cpm_text_ticket_valid(const char *s, const char *prefix)
{
    if (!s || strlen(s) > CPM_TEXT_TICKET_MAX)
        return false;
    size_t pl = strspn(s, UPPER DIGITS);
    if (pl < 1 || pl > CPM_TEXT_PREFIX_MAX || s[pl] != '-')
        return false;
    if (prefix && (strlen(prefix) != pl || strncmp(s, prefix, pl) != 0))
        return false;
    const char *num = s + pl + 1;
    size_t nl = strlen(num);
    return nl >= 1 && nl <= 20 && strspn(num, DIGITS) == nl;
}

bool cpm_text_slug_valid(const char *s)
{
    return made_of(s, LOWER DIGITS "_-", CPM_TEXT_SLUG_MAX, "_-");
}

bool cpm_text_member_valid(const char *s)
{
    return made_of(s, UPPER LOWER DIGITS ".-_", CPM_TEXT_MEMBER_MAX, ".");
}

bool cpm_text_label_valid(const char *s)
{
    return made_of(s, UPPER LOWER DIGITS "._:-", CPM_TEXT_LABEL_MAX, "");
}

bool cpm_text_code_valid(const char *s)
{
    return s && strlen(s) == CPM_TEXT_CODE_LEN &&
           made_of(s, DIGITS "ABCDEFGHJKMNPQRSTVWXYZ", CPM_TEXT_CODE_LEN, "");
}

int cpm_text_check(cpm_error_t *err, const char *field, const char *s, size_t max, bool required)
{
    size_t n = s ? strlen(s) : 0;
    if (!cpm_text_utf8_valid(s ? s : "", n))
        return cpm_error_set(err, CPM_E_INVALID, field, "%s is not valid UTF-8.", field);
    if (required && n == 0)
        return cpm_error_set(err, CPM_E_INVALID, field, "%s is required.", field);
    if (n > max)
        return cpm_error_set(err, CPM_E_TOO_LARGE, field,
                             "%s is %zu bytes long; at most %zu bytes are allowed.", field, n, max);
    return 0;
}

/* Code points that change how a line reads without being visible: line and
 * paragraph separators, and bidirectional marks, embeddings and overrides. */
static bool invisible(uint32_t cp)
{
    return cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F || cp == 0x061C;
}

/* What to write for the sequence at p of n bytes (n = 0: one invalid byte):
 * into rep, returns its length, or 0 to copy the bytes as they are. */
static size_t replacement(const unsigned char *p, size_t n, uint32_t cp, char rep[16])
{
    if (n == 1) {
        switch (*p) {
        case '\n':
            return (size_t)snprintf(rep, 16, "\\n");
        case '\r':
            return (size_t)snprintf(rep, 16, "\\r");
        case '\t':
            return (size_t)snprintf(rep, 16, "\\t");
        case '\\':
            return (size_t)snprintf(rep, 16, "\\\\");
        }
        if (*p < 0x20 || *p == 0x7F)
            return (size_t)snprintf(rep, 16, "\\x%02x", *p);
        return 0;
    }
    if (n == 0)
        return (size_t)snprintf(rep, 16, "\\x%02x", *p);
    if (cp >= 0x80 && cp <= 0x9F) /* C1 controls: CSI (U+009B) starts escape codes too */
        return (size_t)snprintf(rep, 16, "\\x%02x\\x%02x", p[0], p[1]);
    if (invisible(cp))
        return (size_t)snprintf(rep, 16, "\\u%04x", (unsigned)cp);
    return 0;
}

size_t cpm_text_escape(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return 0;
    if (len == 0) { /* s may be NULL then: no arithmetic on it */
        out[0] = 0;
        return 0;
    }
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        uint32_t cp = 0;
        size_t n = utf8_seq(p, end, &cp);
        char rep[16];
        size_t rl = replacement(p, n, cp, rep);
        const char *src = rl ? rep : (const char *)p;
        size_t sl = rl ? rl : n;
        if (o + sl + 1 > cap)
            break;
        memcpy(out + o, src, sl);
        o += sl;
        p += n ? n : 1;
    }
    out[o] = 0;
    return o;
}

const char *cpm_text_esc(const char *s, char *buf, size_t cap)
{
    s = s ? s : "";
    cpm_text_escape(s, strlen(s), buf, cap);
    return buf;
}

bool cpm_text_needs_escape(const char *s, size_t len)
{
    if (len == 0)
        return false; /* s may be NULL then */
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        uint32_t cp = 0;
        size_t n = utf8_seq(p, end, &cp);
        char rep[16];
        if (replacement(p, n, cp, rep) != 0)
            return true;
        p += n ? n : 1;
    }
    return false;
}

bool cpm_text_join(char *out, size_t cap, const char *const *parts, size_t n)
{
    if (cap == 0)
        return false;
    size_t o = 0;
    bool fits = true;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        if (o + l >= cap) {
            l = cap - 1 - o;
            fits = false;
        }
        memcpy(out + o, parts[i], l);
        o += l;
    }
    out[o] = 0;
    return fits;
}
