/* cpm_place_name: the keys that make "Hoà", "Hòa", "HOÀ", an NFD "hòa" and
 * "hoa" find the same place.
 *
 * Text is lower-cased into NFD (libunistring), so every diacritic is a
 * combining mark after its base letter. Vietnamese puts one tone mark per
 * syllable (grave, acute, hook, tilde, dot below); where it sits ("hoà" or
 * "hòa", "thuỵ" or "thụy") is a spelling habit, not a different name. The
 * match key therefore moves a word's tone marks to the end of the word and
 * keeps every other mark (circumflex, breve, horn) in place: "Hồ" and "Hổ"
 * stay apart, "Hoà" and "Hòa" meet. The loose key drops all marks and writes
 * đ as d, for text typed without diacritics. */
#include "cpm_place_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

static bool is_tone(ucs4_t c)
{
    return c == 0x0300 || c == 0x0301 || c == 0x0303 || c == 0x0309 || c == 0x0323;
}

static bool is_mark(ucs4_t c)
{
    return uc_is_general_category(c, UC_CATEGORY_M);
}

static int put(char *buf, size_t cap, size_t *len, const void *s, size_t n)
{
    if (*len + n >= cap)
        return -1;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
    return 0;
}

static int put_uc(char *buf, size_t cap, size_t *len, ucs4_t c)
{
    uint8_t tmp[6];
    int k = u8_uctomb(tmp, c, sizeof tmp);
    return k > 0 ? put(buf, cap, len, tmp, (size_t)k) : -1;
}

/* Split lower-case NFD text into words and write the three forms. */
static int split_words(const uint8_t *s, size_t n, place_words_t *out)
{
    size_t ml = 0, ll = 0, dl = 0, i = 0;
    ucs4_t tones[8];
    out->n = 0;
    out->m[0] = out->l[0] = out->d[0] = '\0';
    while (i < n) {
        ucs4_t c;
        int k = u8_mbtouc(&c, s + i, n - i);
        bool word = c < 0x80 ? ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                             : (uc_is_alnum(c) || is_mark(c));
        if (!word) {
            i += (size_t)k;
            continue;
        }
        if (out->n == PLACE_MAX_WORDS)
            return -1;
        size_t idx = out->n++, nt = 0;
        out->w[idx].m_off = (uint16_t)ml;
        out->w[idx].l_off = (uint16_t)ll;
        out->w[idx].d_off = (uint16_t)dl;
        out->w[idx].ascii = true;
        while (i < n) {
            k = u8_mbtouc(&c, s + i, n - i);
            if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
                break;
            if (c >= 0x80 && !uc_is_alnum(c) && !is_mark(c))
                break;
            if (put(out->d, sizeof out->d, &dl, s + i, (size_t)k) != 0)
                return -1;
            if (c >= 0x80)
                out->w[idx].ascii = false;
            if (is_tone(c)) {
                if (nt < sizeof tones / sizeof *tones)
                    tones[nt++] = c;
            } else if (put(out->m, sizeof out->m, &ml, s + i, (size_t)k) != 0) {
                return -1;
            }
            if (c == 0x0111) { /* đ */
                if (put(out->l, sizeof out->l, &ll, "d", 1) != 0)
                    return -1;
            } else if (!is_mark(c) && put(out->l, sizeof out->l, &ll, s + i, (size_t)k) != 0) {
                return -1;
            }
            i += (size_t)k;
        }
        for (size_t t = 0; t < nt; t++)
            if (put_uc(out->m, sizeof out->m, &ml, tones[t]) != 0)
                return -1;
        out->w[idx].m_len = (uint16_t)(ml - out->w[idx].m_off);
        out->w[idx].l_len = (uint16_t)(ll - out->w[idx].l_off);
        out->w[idx].d_len = (uint16_t)(dl - out->w[idx].d_off);
    }
    return 0;
}

int place_words(const char *s, size_t n, place_words_t *out)
{
    out->n = 0;
    if (n > CPM_PLACE_TEXT_MAX || u8_check((const uint8_t *)s, n) != NULL)
        return -1;
    uint8_t buf[CPM_PLACE_TEXT_MAX * 4];
    size_t len = sizeof buf;
    uint8_t *low = u8_tolower((const uint8_t *)s, n, NULL, UNINORM_NFD, buf, &len);
    if (!low)
        return -1;
    int rc = split_words(low, len, out);
    if (low != buf)
        free(low);
    return rc;
}

static int join(const place_words_t *w, size_t a, size_t b, int form, char *out, size_t cap)
{
    size_t len = 0;
    if (cap == 0)
        return -1;
    out[0] = '\0';
    for (size_t i = a; i < b && i < w->n; i++) {
        const char *src = form == 0   ? w->m + w->w[i].m_off
                          : form == 1 ? w->l + w->w[i].l_off
                                      : w->d + w->w[i].d_off;
        size_t n = form == 0 ? w->w[i].m_len : form == 1 ? w->w[i].l_len : w->w[i].d_len;
        if ((i > a && put(out, cap, &len, " ", 1) != 0) || put(out, cap, &len, src, n) != 0)
            return -1;
    }
    return 0;
}

int place_key_match(const place_words_t *w, size_t a, size_t b, char *out, size_t cap)
{
    return join(w, a, b, 0, out, cap);
}

int place_key_loose(const place_words_t *w, size_t a, size_t b, char *out, size_t cap)
{
    return join(w, a, b, 1, out, cap);
}

int place_key_display(const place_words_t *w, size_t a, size_t b, char *out, size_t cap)
{
    char nfd[CPM_PLACE_TEXT_MAX * 2];
    if (join(w, a, b, 2, nfd, sizeof nfd) != 0)
        return -1;
    size_t len = cap - 1;
    uint8_t *r = u8_normalize(UNINORM_NFC, (const uint8_t *)nfd, strlen(nfd), (uint8_t *)out, &len);
    if (!r)
        return -1;
    if (r != (uint8_t *)out) { /* did not fit */
        free(r);
        return -1;
    }
    out[len] = '\0';
    return 0;
}

int place_name_keys(const char *name, char *match, size_t mcap, char *loose, size_t lcap)
{
    place_words_t *wp = malloc(sizeof *wp); /* large for a stack */
    if (!wp)
        return -1;
    int rc = place_words(name, strlen(name), wp);
    if (rc == 0 && wp->n == 0)
        rc = -1;
    if (rc == 0)
        rc = place_key_match(wp, 0, wp->n, match, mcap);
    if (rc == 0)
        rc = place_key_loose(wp, 0, wp->n, loose, lcap);
    free(wp);
    return rc;
}

/* Type words as their match keys (NFD, lower case, tone last): written here
 * in NFC and normalised once. weak: the ASCII spelling of a word that also
 * begins names ("Phương Liệt" is typed "phuong liet"). */
static const struct {
    const char *text;
    place_tw_t tw;
    bool weak;
} TYPE_WORDS[] = {
    {"thị trấn", TW_THITRAN, false},
    {"thị xã", TW_THIXA, false},
    {"thành phố", TW_CITY, false},
    {"hà nội", TW_HANOI, false},
    {"việt nam", TW_COUNTRY, false},
    {"phường", TW_PHUONG, false},
    {"xã", TW_XA, false},
    {"quận", TW_QUAN, false},
    {"huyện", TW_HUYEN, false},
    {"p", TW_PHUONG, false},
    {"x", TW_XA, false},
    {"tt", TW_THITRAN, false},
    {"q", TW_QUAN, false},
    {"h", TW_HUYEN, false},
    {"tx", TW_THIXA, false},
    {"tp", TW_CITY, false},
    {"hn", TW_HANOI, false},
    {"hanoi", TW_HANOI, false},
    {"vn", TW_COUNTRY, false},
    {"vietnam", TW_COUNTRY, false},
    {"thi tran", TW_THITRAN, true},
    {"thi xa", TW_THIXA, true},
    {"thanh pho", TW_CITY, true},
    {"ha noi", TW_HANOI, true},
    {"viet nam", TW_COUNTRY, true},
    {"phuong", TW_PHUONG, true},
    {"xa", TW_XA, true},
    {"quan", TW_QUAN, true},
    {"huyen", TW_HUYEN, true},
};
#define N_TYPE_WORDS (sizeof TYPE_WORDS / sizeof *TYPE_WORDS)

static bool word_is(const place_words_t *w, size_t i, const char *key, size_t klen)
{
    return i < w->n && w->w[i].m_len == klen && memcmp(w->m + w->w[i].m_off, key, klen) == 0;
}

/* The keys, computed once (pthread_once: resolution may run in threads). */
static char keys[N_TYPE_WORDS][2][24];
static size_t klen[N_TYPE_WORDS][2], nw[N_TYPE_WORDS];
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void type_keys_init(void)
{
    for (size_t t = 0; t < N_TYPE_WORDS; t++) {
        place_words_t *tw = malloc(sizeof *tw);
        nw[t] = 0;
        if (tw && place_words(TYPE_WORDS[t].text, strlen(TYPE_WORDS[t].text), tw) == 0) {
            nw[t] = tw->n;
            for (size_t k = 0; k < tw->n && k < 2; k++) {
                klen[t][k] = tw->w[k].m_len;
                memcpy(keys[t][k], tw->m + tw->w[k].m_off, tw->w[k].m_len);
            }
        }
        free(tw);
    }
}

place_tw_t place_type_word(const place_words_t *w, size_t i, size_t *len, bool *weak)
{
    pthread_once(&keys_once, type_keys_init);
    for (size_t t = 0; t < N_TYPE_WORDS; t++) {
        if (nw[t] == 0 || !word_is(w, i, keys[t][0], klen[t][0]))
            continue;
        if (nw[t] == 2 && !word_is(w, i + 1, keys[t][1], klen[t][1]))
            continue;
        *len = nw[t];
        *weak = TYPE_WORDS[t].weak;
        return TYPE_WORDS[t].tw;
    }
    *len = 0;
    *weak = false;
    return TW_NONE;
}

size_t place_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[CPM_PLACE_KEY_MAX + 1];
    if (la > CPM_PLACE_KEY_MAX || lb > CPM_PLACE_KEY_MAX)
        return cap;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0], best = row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t v = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < v)
                v = up + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
            if (v < best)
                best = v;
        }
        if (best >= cap)
            return cap;
    }
    return row[lb] < cap ? row[lb] : cap;
}
