/* routing_themes: see routing_themes.h. */
#include "routing_themes.h"
#include "cpm_bizname.h"
#include "cpm_err.h"
#include "routing_clusters.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORD_MAX 32
#define TICKET_MAX 64

static int64_t window_ms = 365LL * 86400 * 1000;

void routing_themes_set_window(int64_t ms)
{
    if (ms > 0)
        window_ms = ms;
}

/* Function words of complaints, folded: they are in every description and
 * would make any two alike. */
static const char *const STOP[] = {
    "toi",   "em",   "anh",  "chi",   "minh",  "ban",  "la",    "va",   "cua",  "co",  "khong",
    "ko",    "k",    "duoc", "dc",    "da",    "dang", "se",    "cho",  "nay",  "do",  "thi",
    "ma",    "o",    "voi",  "vs",    "nhung", "cac",  "mot",   "nhu",  "khi",  "de",  "den",
    "tu",    "ra",   "vao",  "trong", "len",   "lai",  "con",   "cung", "rat",  "qua", "nua",
    "roi",   "bi",   "nen",  "vi",    "tai",   "ve",   "hay",   "hoac", "nao",  "gi",  "ai",
    "day",   "ay",   "nhe",  "a",     "oi",    "ho",   "chung", "ta",   "ngay", "luc", "sau",
    "truoc", "them", "moi",  "lam",   "nhieu", "it",   "hon",   "van",  "ca",   "neu", "thay",
    "biet",  "muon", "can",  "xin",   "vui",   "long", "giup",  "the",  "and",  "of",  "to",
    "in",    "is",   "it",   "i",     "was",   "my",   "a",     "an",   "for",  "on",  "at",
    "with",  "this", "that", "but",   "not",   "have", "had",   "be",   "are",  NULL};

/* The stop words by their first byte, with their lengths: every word of
 * every complaint is looked up (a few compares of lengths, not a strncmp
 * per entry of the row). */
#define STOP_ROW 32
typedef struct {
    uint8_t n;
    uint8_t len[STOP_ROW];
    const char *w[STOP_ROW];
} stop_row_t;

static stop_row_t stop_rows_[256];
static size_t stop_longest;
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;

static void stop_rows_build(void)
{
    for (size_t i = 0; STOP[i]; i++) {
        stop_row_t *r = &stop_rows_[(uint8_t)STOP[i][0]];
        size_t l = strlen(STOP[i]);
        if (r->n == STOP_ROW) /* the longest row ('t') holds 13: a list that */
            abort();          /* outgrows a row is a programming error */
        r->len[r->n] = (uint8_t)l;
        r->w[r->n++] = STOP[i];
        stop_longest = l > stop_longest ? l : stop_longest;
    }
}

static const stop_row_t *stop_rows(size_t *longest)
{
    pthread_once(&stop_once, stop_rows_build);
    *longest = stop_longest;
    return stop_rows_;
}

static bool stopword(const char *w, size_t len)
{
    if (len < 2 && !(w[0] >= '0' && w[0] <= '9'))
        return true;
    bool digits = true;
    for (size_t i = 0; i < len && digits; i++)
        digits = w[i] >= '0' && w[i] <= '9';
    if (digits) /* amounts, dates, house numbers: differ between alike complaints */
        return true;
    size_t longest;
    const stop_row_t *r = &stop_rows(&longest)[(uint8_t)w[0]];
    if (len > longest)
        return false;
    for (size_t i = 0; i < r->n; i++)
        if (r->len[i] == len && memcmp(r->w[i], w, len) == 0)
            return true;
    return false;
}

/* The description folded (cut at a character boundary) into out. */
static size_t fold_text(const char *text, char *out, size_t cap)
{
    size_t len = strnlen(text ? text : "", ROUTING_THEMES_TEXT_MAX);
    if (len == ROUTING_THEMES_TEXT_MAX)
        while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
            len--;
    return cpm_bizname_fold_n(text ? text : "", len, out, cap);
}

typedef struct {
    const char *w;
    size_t len;
    uint64_t h;   /* its feature hash (words_hash) */
    uint64_t key; /* its first 8 bytes (word_key) */
    bool again;   /* the same word came earlier in the text */
} word_t;

/* At most len bytes of src (cut at cap - 1) into dst, terminated: what
 * snprintf("%.*s") gave, without printf: a business's stored themes (up to
 * 16 x 20 tickets and 12 words) are copied in and out for every complaint. */
static size_t copy_str(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = strnlen(src ? src : "", len < cap - 1 ? len : cap - 1);
    memcpy(dst, src ? src : "", n);
    dst[n] = 0;
    return n;
}

/* The content words of a folded text, at most max (their hashes not yet:
 * words_hash). */
static size_t content_words(const char *folded, word_t *out, size_t max)
{
    size_t n = 0;
    for (const char *p = folded; *p && n < max;) {
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        size_t l = (size_t)(e - p);
        if (l && !stopword(p, l))
            out[n++] = (word_t){.w = p, .len = l < WORD_MAX - 1 ? l : WORD_MAX - 1};
        p = *e ? e + 1 : e;
    }
    return n;
}

static uint64_t feature_hash(const word_t *a, const word_t *b)
{
    static const uint8_t key[crypto_shorthash_KEYBYTES] = {0}; /* not a secret: a spread */
    char f[2 * WORD_MAX + 2];
    /* The bytes "a" or "a b" (words hold no zero byte and are shorter than
     * WORD_MAX), built without printf: this runs for every word. */
    size_t l = a->len;
    memcpy(f, a->w, a->len);
    if (b) {
        f[l++] = ' ';
        memcpy(f + l, b->w, b->len);
        l += b->len;
    }
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const uint8_t *)f, (unsigned long long)l, key);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return v;
}

/* K cheap permutations of a 64-bit hash: odd multipliers and offsets drawn
 * from a fixed splitmix64 sequence (deterministic across runs and nodes). */
static void perm_constants(uint64_t a[ROUTING_THEMES_K], uint64_t b[ROUTING_THEMES_K])
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < ROUTING_THEMES_K; i++) {
        for (int j = 0; j < 2; j++) {
            x += 0x9e3779b97f4a7c15ULL;
            uint64_t z = x;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            z ^= z >> 31;
            if (j == 0)
                a[i] = z | 1;
            else
                b[i] = z;
        }
    }
}

/* The first 8 bytes of a word of len bytes, zero after its end: two words
 * of one length with different keys differ. */
static uint64_t word_key(const char *w, size_t len)
{
    uint64_t k = 0;
    memcpy(&k, w, len < 8 ? len : 8);
    return k;
}

/* Each word's feature hash, and whether the same word came before it: a
 * repeated word changes neither the signature (a minimum over the set) nor
 * the counts (once per complaint). Equal words have equal hashes, so only
 * equal hashes are compared as bytes. */
static void words_hash(word_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        w[i].h = feature_hash(&w[i], NULL);
        w[i].key = word_key(w[i].w, w[i].len);
        w[i].again = false;
        for (size_t j = 0; j < i && !w[i].again; j++)
            w[i].again =
                w[j].h == w[i].h && w[j].len == w[i].len && !memcmp(w[j].w, w[i].w, w[i].len);
    }
}

/* The permutations' constants, made once. */
static _Alignas(32) uint64_t perm_a[ROUTING_THEMES_K], perm_b[ROUTING_THEMES_K];
static pthread_once_t perms_once = PTHREAD_ONCE_INIT;

static void perms_build(void)
{
    perm_constants(perm_a, perm_b);
}

static const uint64_t *perms(const uint64_t **b_out)
{
    pthread_once(&perms_once, perms_build);
    *b_out = perm_b;
    return perm_a;
}

/* For each permutation i, the least (a[i] * h + b[i]) mod 2^64 >> 32 over
 * the hashes hs[0..m). */
static void minhash_scalar(const uint64_t *a, const uint64_t *b, const uint64_t *hs, size_t m,
                           uint32_t sig[ROUTING_THEMES_K])
{
    for (int i = 0; i < ROUTING_THEMES_K; i++) {
        uint64_t ai = a[i], bi = b[i];
        uint32_t least = UINT32_MAX;
        for (size_t j = 0; j < m; j++) {
            uint32_t v = (uint32_t)((ai * hs[j] + bi) >> 32);
            least = v < least ? v : least;
        }
        sig[i] = least;
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ROUTING_THEMES_AVX2 1

/* The same, four permutations at a time: the 64-bit product's low half from
 * three 32 x 32 products (a_lo h_lo + (a_lo h_hi + a_hi h_lo) << 32), as
 * exact as the scalar one; about half its time. */
_Static_assert(ROUTING_THEMES_K % 4 == 0, "minhash_avx2 takes four permutations at a time");

__attribute__((target("avx2"))) static void minhash_avx2(const uint64_t *a, const uint64_t *b,
                                                         const uint64_t *hs, size_t m,
                                                         uint32_t sig[ROUTING_THEMES_K])
{
    for (int i = 0; i < ROUTING_THEMES_K; i += 4) {
        __m256i av = _mm256_load_si256((const __m256i *)(a + i));
        __m256i ahi = _mm256_srli_epi64(av, 32);
        __m256i bv = _mm256_load_si256((const __m256i *)(b + i));
        __m256i least = _mm256_set1_epi64x(0xffffffffLL);
        for (size_t j = 0; j < m; j++) {
            __m256i h = _mm256_set1_epi64x((long long)hs[j]);
            __m256i hhi = _mm256_srli_epi64(h, 32);
            __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(av, hhi), _mm256_mul_epu32(ahi, h));
            __m256i prod = _mm256_add_epi64(_mm256_mul_epu32(av, h), _mm256_slli_epi64(cross, 32));
            __m256i v = _mm256_srli_epi64(_mm256_add_epi64(prod, bv), 32);
            least = _mm256_min_epu32(least, v); /* high halves are 0 in both */
        }
        uint64_t out[4];
        _mm256_storeu_si256((__m256i *)out, least);
        for (int k = 0; k < 4; k++)
            sig[i + k] = (uint32_t)out[k];
    }
}
#endif

static _Atomic int simd = -1; /* -1: not decided yet */

bool routing_themes_simd(bool on)
{
#ifdef ROUTING_THEMES_AVX2
    __builtin_cpu_init();
    simd = on && __builtin_cpu_supports("avx2");
#else
    (void)on;
    simd = 0;
#endif
    return simd == 1;
}

/* The signature of the content words w[0..n) (hashed: words_hash): for
 * each of the K permutations, the least permuted hash of a distinct word. */
static void words_signature(const word_t *w, size_t n, uint32_t sig[ROUTING_THEMES_K])
{
    const uint64_t *b, *a = perms(&b);
    static _Thread_local uint64_t hs[ROUTING_THEMES_TEXT_MAX / 2];
    size_t m = 0;
    for (size_t j = 0; j < n; j++)
        if (!w[j].again)
            hs[m++] = w[j].h;
    /* Syllables only: measured on made-up complaints (tests/unit/
     * test_routing_themes.c), alike pairs have a Jaccard of 0.28-0.86 over
     * syllables against at most 0.13 for unrelated ones; adding syllable
     * 2-shingles lowers alike pairs to 0.15-0.53 (paraphrases share words,
     * not word order) for unrelated ones at 0.07: a worse margin. */
    if (simd < 0)
        routing_themes_simd(true);
#ifdef ROUTING_THEMES_AVX2
    if (simd == 1) {
        minhash_avx2(a, b, hs, m, sig);
        return;
    }
#endif
    minhash_scalar(a, b, hs, m, sig);
}

size_t routing_themes_signature(const char *description, uint32_t sig[ROUTING_THEMES_K])
{
    static _Thread_local char folded[ROUTING_THEMES_TEXT_MAX + 1];
    static _Thread_local word_t w[ROUTING_THEMES_TEXT_MAX / 2];
    fold_text(description, folded, sizeof folded);
    size_t n = content_words(folded, w, sizeof w / sizeof w[0]);
    words_hash(w, n);
    words_signature(w, n, sig);
    return n;
}

unsigned routing_themes_similarity(const uint32_t a[ROUTING_THEMES_K],
                                   const uint32_t b[ROUTING_THEMES_K])
{
    unsigned same = 0;
    for (int i = 0; i < ROUTING_THEMES_K; i++)
        same += a[i] == b[i];
    return same * 1000 / ROUTING_THEMES_K;
}

/* ---- the stored themes of one business, as plain bounded C ---------------- */

typedef struct {
    uint32_t count, consumers;
    int64_t first_ms, last_ms;
    char tickets[ROUTING_THEMES_TICKETS][TICKET_MAX];
    size_t n_tickets;
    uint32_t sigs[ROUTING_THEMES_SIGS][ROUTING_THEMES_K];
    size_t n_sigs;
    uint8_t fps[ROUTING_THEMES_FPS][4];
    size_t n_fps;
    char words[ROUTING_THEMES_WORDS][WORD_MAX];
    uint8_t word_len[ROUTING_THEMES_WORDS];  /* strlen of words[k]: compared for every word */
    uint64_t word_key[ROUTING_THEMES_WORDS]; /* word_key of words[k], likewise */
    uint32_t word_counts[ROUTING_THEMES_WORDS];
    uint8_t word_fp[ROUTING_THEMES_WORDS][4];      /* the first consumer that used it */
    uint32_t word_consumers[ROUTING_THEMES_WORDS]; /* 0 none known, 1, 2 = two or more */
    size_t n_words;
} theme_t;

typedef struct {
    theme_t t[ROUTING_THEMES_MAX];
    size_t n;
    uint32_t dropped;
    bool in_old; /* read from ROUTING_THEMES_DB (a store from before): moved when saved */
} themes_t;

/* Where the themes of bid live: next to its aggregate (routing_clusters.h). */
static void themes_key(const char *bid, char key[ROUTING_CLUSTER_THEMES_KEY_LEN + 1])
{
    memcpy(key, bid, ROUTING_CLUSTER_KEY_LEN);
    memcpy(key + ROUTING_CLUSTER_KEY_LEN, "/t", 3);
}

/* The stored themes of bid, from "clusters" or (a store from before) from
 * ROUTING_THEMES_DB, then *in_old. */
static int themes_get(cpm_store_t *st, MDB_txn *txn, const char *bid, ProtobufCMessage **m,
                      bool *in_old)
{
    char key[ROUTING_CLUSTER_THEMES_KEY_LEN + 1];
    themes_key(bid, key);
    *in_old = false;
    int rc =
        cpm_store_get_msg(st, txn, ROUTING_CLUSTERS_DB, key, &cpm__cluster_themes__descriptor, m);
    if (rc != CPM_E_NOT_FOUND || !routing_clusters_old_used(st, txn, ROUTING_THEMES_DB))
        return rc;
    rc = cpm_store_get_msg(st, txn, ROUTING_THEMES_DB, bid, &cpm__cluster_themes__descriptor, m);
    *in_old = rc != CPM_E_NOT_FOUND;
    return rc;
}

/* A signature is stored as K little-endian uint32: on a little-endian host
 * that is its memory (3 of them per theme, copied in and out for every
 * complaint). */
static void sig_get(const ProtobufCBinaryData *b, uint32_t sig[ROUTING_THEMES_K])
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(sig, b->data, 4 * ROUTING_THEMES_K);
#else
    for (int i = 0; i < ROUTING_THEMES_K; i++) {
        const uint8_t *p = b->data + 4 * i;
        sig[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
#endif
}

static void sig_put(const uint32_t sig[ROUTING_THEMES_K], uint8_t out[4 * ROUTING_THEMES_K])
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(out, sig, 4 * ROUTING_THEMES_K);
#else
    for (int i = 0; i < ROUTING_THEMES_K; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(sig[i] >> (8 * j));
#endif
}

/* The stored themes of bid into *s (empty when none or unreadable: themes
 * are a view, counted afresh rather than refusing the complaint). */
static int load(cpm_store_t *st, MDB_txn *txn, const char *bid, themes_t *s)
{
    s->n = 0;
    s->dropped = 0;
    ProtobufCMessage *m = NULL;
    int rc = themes_get(st, txn, bid, &m, &s->in_old);
    if (rc == CPM_E_NOT_FOUND || rc == CPM_E_BAD_MESSAGE)
        return 0;
    if (rc != 0)
        return rc;
    const Cpm__ClusterThemes *ct = (const Cpm__ClusterThemes *)m;
    s->dropped = ct->dropped;
    for (size_t i = 0; i < ct->n_themes && s->n < ROUTING_THEMES_MAX; i++) {
        const Cpm__ClusterThemeState *x = ct->themes[i];
        if (!x->theme)
            continue;
        theme_t *t = &s->t[s->n++];
        memset(t, 0, sizeof *t);
        t->count = x->theme->count;
        t->consumers = x->theme->consumers;
        t->first_ms = x->theme->first_ms;
        t->last_ms = x->theme->last_ms;
        for (size_t j = 0; j < x->theme->n_tickets && t->n_tickets < ROUTING_THEMES_TICKETS; j++)
            copy_str(t->tickets[t->n_tickets++], TICKET_MAX, x->theme->tickets[j], SIZE_MAX);
        for (size_t j = 0; j < x->n_signatures && t->n_sigs < ROUTING_THEMES_SIGS; j++)
            if (x->signatures[j].len == 4 * ROUTING_THEMES_K)
                sig_get(&x->signatures[j], t->sigs[t->n_sigs++]);
        for (size_t j = 0; j + 4 <= x->consumer_fps.len && t->n_fps < ROUTING_THEMES_FPS; j += 4)
            memcpy(t->fps[t->n_fps++], x->consumer_fps.data + j, 4);
        /* Candidates stored without their consumers (before they were kept)
         * are dropped: whether two people used them is not known. */
        bool attributed = x->n_word_consumers == x->n_words && x->n_word_counts == x->n_words &&
                          x->word_fps.len == 4 * x->n_words;
        for (size_t j = 0; attributed && j < x->n_words && t->n_words < ROUTING_THEMES_WORDS; j++) {
            size_t l = copy_str(t->words[t->n_words], WORD_MAX, x->words[j], SIZE_MAX);
            t->word_len[t->n_words] = (uint8_t)l;
            t->word_key[t->n_words] = word_key(t->words[t->n_words], l);
            memcpy(t->word_fp[t->n_words], x->word_fps.data + 4 * j, 4);
            t->word_consumers[t->n_words] = x->word_consumers[j] > 2 ? 2 : x->word_consumers[j];
            t->word_counts[t->n_words++] = x->word_counts[j];
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

/* Up to ROUTING_THEMES_SHOW_WORDS words of t that came from at least 2
 * different consumers, most counted first, into out: a word only one person
 * wrote (their name, however often they write it) is never shown. */
static size_t top_words(const theme_t *t, const char *out[ROUTING_THEMES_SHOW_WORDS])
{
    bool used[ROUTING_THEMES_WORDS] = {0};
    size_t n = 0;
    while (n < ROUTING_THEMES_SHOW_WORDS) {
        size_t best = ROUTING_THEMES_WORDS;
        for (size_t i = 0; i < t->n_words; i++)
            if (!used[i] && t->word_consumers[i] >= 2 &&
                (best == ROUTING_THEMES_WORDS || t->word_counts[i] > t->word_counts[best]))
                best = i;
        if (best == ROUTING_THEMES_WORDS)
            break;
        used[best] = true;
        out[n++] = t->words[best];
    }
    return n;
}

/* Fill the public part of a theme (pointers into t). */
static void public_theme(const theme_t *t, Cpm__ClusterTheme *pt, char **tickets,
                         const char **words)
{
    cpm__cluster_theme__init(pt);
    pt->count = t->count;
    pt->consumers = t->consumers;
    pt->first_ms = t->first_ms;
    pt->last_ms = t->last_ms;
    for (size_t j = 0; j < t->n_tickets; j++)
        tickets[j] = (char *)t->tickets[j];
    pt->tickets = tickets;
    pt->n_tickets = t->n_tickets;
    pt->n_words = top_words(t, words);
    pt->words = (char **)words;
}

static int save(cpm_store_t *st, MDB_txn *txn, const char *bid, const themes_t *s)
{
    Cpm__ClusterThemeState states[ROUTING_THEMES_MAX], *sp[ROUTING_THEMES_MAX];
    Cpm__ClusterTheme pub[ROUTING_THEMES_MAX];
    char *tickets[ROUTING_THEMES_MAX][ROUTING_THEMES_TICKETS];
    const char *shown[ROUTING_THEMES_MAX][ROUTING_THEMES_SHOW_WORDS];
    static _Thread_local uint8_t sigbuf[ROUTING_THEMES_MAX][ROUTING_THEMES_SIGS]
                                       [4 * ROUTING_THEMES_K];
    ProtobufCBinaryData sigs[ROUTING_THEMES_MAX][ROUTING_THEMES_SIGS];
    char *words[ROUTING_THEMES_MAX][ROUTING_THEMES_WORDS];
    uint32_t counts[ROUTING_THEMES_MAX][ROUTING_THEMES_WORDS];
    uint32_t wcons[ROUTING_THEMES_MAX][ROUTING_THEMES_WORDS];
    uint8_t wfps[ROUTING_THEMES_MAX][ROUTING_THEMES_WORDS][4];
    for (size_t i = 0; i < s->n; i++) {
        const theme_t *t = &s->t[i];
        Cpm__ClusterThemeState *x = &states[i];
        cpm__cluster_theme_state__init(x);
        public_theme(t, &pub[i], tickets[i], shown[i]);
        x->theme = &pub[i];
        for (size_t j = 0; j < t->n_sigs; j++) {
            sig_put(t->sigs[j], sigbuf[i][j]);
            sigs[i][j] = (ProtobufCBinaryData){4 * ROUTING_THEMES_K, sigbuf[i][j]};
        }
        x->signatures = sigs[i];
        x->n_signatures = t->n_sigs;
        x->consumer_fps = (ProtobufCBinaryData){4 * t->n_fps, (uint8_t *)t->fps};
        for (size_t j = 0; j < t->n_words; j++) {
            words[i][j] = (char *)t->words[j];
            counts[i][j] = t->word_counts[j];
            wcons[i][j] = t->word_consumers[j];
            memcpy(wfps[i][j], t->word_fp[j], 4);
        }
        x->words = words[i];
        x->n_words = t->n_words;
        x->word_counts = counts[i];
        x->n_word_counts = t->n_words;
        x->word_consumers = wcons[i];
        x->n_word_consumers = t->n_words;
        x->word_fps = (ProtobufCBinaryData){4 * t->n_words, (uint8_t *)wfps[i]};
        sp[i] = x;
    }
    Cpm__ClusterThemes ct = CPM__CLUSTER_THEMES__INIT;
    ct.themes = sp;
    ct.n_themes = s->n;
    ct.dropped = s->dropped;
    char key[ROUTING_CLUSTER_THEMES_KEY_LEN + 1];
    themes_key(bid, key);
    int rc = cpm_store_put_msg(st, txn, ROUTING_CLUSTERS_DB, key, &ct.base);
    if (rc != 0 || !s->in_old)
        return rc;
    rc = cpm_store_del(st, txn, ROUTING_THEMES_DB, bid, strlen(bid));
    return rc == CPM_E_NOT_FOUND ? 0 : rc;
}

static size_t word_at(const theme_t *t, const word_t *w)
{
    size_t k;
    for (k = 0; k < t->n_words; k++)
        if (t->word_len[k] == w->len && t->word_key[k] == w->key &&
            (w->len <= 8 || !memcmp(t->words[k] + 8, w->w + 8, w->len - 8)))
            break;
    return k;
}

/* One more complaint with word k, from consumer fp (NULL: none known). */
static void word_seen(theme_t *t, size_t k, const uint8_t *fp)
{
    t->word_counts[k]++;
    if (!fp || t->word_consumers[k] >= 2)
        return;
    if (t->word_consumers[k] == 0) {
        memcpy(t->word_fp[k], fp, 4);
        t->word_consumers[k] = 1;
    } else if (memcmp(t->word_fp[k], fp, 4) != 0) {
        t->word_consumers[k] = 2;
    }
}

/* Count each distinct content word of the description once in t's
 * candidates, with the consumer fingerprint fp (NULL: none). Words already
 * there first, so that new ones cannot push out a match. A full table
 * gives the slot of a word that fewer than 2 consumers used (the least
 * counted) to the new word outright: one person's words do not stay; when
 * every candidate came from 2 consumers, the least counted one loses a count
 * instead (Misra-Gries style: words that keep coming back stay). */
static void count_words(theme_t *t, const word_t *w, size_t n, const uint8_t *fp)
{
    /* The slot each word had in the first pass (NOT_THERE: none), so the
     * second looks it up again only if that slot got another word since:
     * a slot the second pass writes holds a word of this complaint, and
     * every word of it differs from every other (repeats are skipped). */
    enum { NOT_THERE = 0xff };
    static _Thread_local uint8_t slot[ROUTING_THEMES_TEXT_MAX / 2];
    bool rewritten[ROUTING_THEMES_WORDS] = {0};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            if (w[i].again)
                continue;
            size_t k;
            if (pass == 0) {
                k = word_at(t, &w[i]);
                slot[i] = k < t->n_words ? (uint8_t)k : NOT_THERE;
                if (k < t->n_words)
                    word_seen(t, k, fp);
                continue;
            }
            if (slot[i] == NOT_THERE)
                k = t->n_words;
            else
                k = rewritten[slot[i]] ? word_at(t, &w[i]) : slot[i];
            if (k < t->n_words)
                continue; /* counted in the first pass */
            if (t->n_words == ROUTING_THEMES_WORDS) {
                k = ROUTING_THEMES_WORDS;
                for (size_t j = 0; j < t->n_words; j++)
                    if (t->word_consumers[j] < 2 &&
                        (k == ROUTING_THEMES_WORDS || t->word_counts[j] < t->word_counts[k]))
                        k = j;
                if (k == ROUTING_THEMES_WORDS) {
                    k = 0;
                    for (size_t j = 1; j < t->n_words; j++)
                        if (t->word_counts[j] < t->word_counts[k])
                            k = j;
                    if (t->word_counts[k] > 1) {
                        t->word_counts[k]--;
                        continue;
                    }
                }
            } else {
                k = t->n_words++;
            }
            rewritten[k] = true;
            t->word_len[k] = (uint8_t)copy_str(t->words[k], WORD_MAX, w[i].w, w[i].len);
            t->word_key[k] = word_key(t->words[k], t->word_len[k]);
            t->word_counts[k] = 0;
            t->word_consumers[k] = 0;
            memset(t->word_fp[k], 0, 4);
            word_seen(t, k, fp);
        }
}

static void add_member(theme_t *t, const Cpm__Complaint *c, const uint32_t *sig, int64_t at_ms,
                       const word_t *w, size_t nw)
{
    if (t->count == 0)
        t->first_ms = t->last_ms = at_ms;
    t->count++;
    if (at_ms < t->first_ms)
        t->first_ms = at_ms;
    if (at_ms > t->last_ms)
        t->last_ms = at_ms;
    if (t->n_tickets < ROUTING_THEMES_TICKETS)
        copy_str(t->tickets[t->n_tickets++], TICKET_MAX, c->ticket, SIZE_MAX);
    /* signatures: the first member stays; the latest ones rotate */
    if (t->n_sigs < ROUTING_THEMES_SIGS)
        memcpy(t->sigs[t->n_sigs++], sig, sizeof t->sigs[0]);
    else {
        memmove(t->sigs[1], t->sigs[2], (ROUTING_THEMES_SIGS - 2) * sizeof t->sigs[0]);
        memcpy(t->sigs[ROUTING_THEMES_SIGS - 1], sig, sizeof t->sigs[0]);
    }
    if (c->consumer_key.len == 32) {
        bool known = false;
        for (size_t i = 0; i < t->n_fps && !known; i++)
            known = !memcmp(t->fps[i], c->consumer_key.data, 4);
        if (!known) { /* past ROUTING_THEMES_FPS every unknown one counts: an upper bound */
            t->consumers++;
            if (t->n_fps < ROUTING_THEMES_FPS)
                memcpy(t->fps[t->n_fps++], c->consumer_key.data, 4);
        }
    }
    count_words(t, w, nw, c->consumer_key.len == 32 ? c->consumer_key.data : NULL);
}

/* The theme to drop for room: fewest complaints, then silent the longest. */
static size_t weakest(const themes_t *s)
{
    size_t k = 0;
    for (size_t i = 1; i < s->n; i++)
        if (s->t[i].count < s->t[k].count ||
            (s->t[i].count == s->t[k].count && s->t[i].last_ms < s->t[k].last_ms))
            k = i;
    return k;
}

static void remove_at(themes_t *s, size_t k)
{
    memmove(&s->t[k], &s->t[k + 1], (s->n - k - 1) * sizeof s->t[0]);
    s->n--;
}

struct routing_themes_text {
    size_t nw;
    uint32_t sig[ROUTING_THEMES_K];
    word_t *w;     /* nw words, pointing into folded */
    char folded[]; /* the description folded */
};

routing_themes_text_t *routing_themes_text_new(const char *description)
{
    static _Thread_local char folded[ROUTING_THEMES_TEXT_MAX + 1];
    static _Thread_local word_t w[ROUTING_THEMES_TEXT_MAX / 2];
    size_t len = fold_text(description, folded, sizeof folded);
    routing_themes_text_t *t = malloc(sizeof *t + len + 1);
    if (!t)
        return NULL;
    memcpy(t->folded, folded, len + 1);
    /* Folded and cut into words once: the signature and the word counts
     * take the same words. */
    t->nw = content_words(t->folded, w, sizeof w / sizeof w[0]);
    t->w = malloc((t->nw ? t->nw : 1) * sizeof *t->w);
    if (!t->w) {
        free(t);
        return NULL;
    }
    memcpy(t->w, w, t->nw * sizeof *t->w);
    if (t->nw) {
        words_hash(t->w, t->nw);
        words_signature(t->w, t->nw, t->sig);
    }
    return t;
}

void routing_themes_text_destroy(routing_themes_text_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->w);
    free(*p);
    *p = NULL;
}

int routing_themes_add_text(cpm_store_t *st, MDB_txn *txn, const char *bid, const Cpm__Complaint *c,
                            int64_t at_ms, const routing_themes_text_t *text)
{
    static _Thread_local char folded[ROUTING_THEMES_TEXT_MAX + 1];
    static _Thread_local word_t wbuf[ROUTING_THEMES_TEXT_MAX / 2];
    uint32_t sigbuf[ROUTING_THEMES_K];
    const word_t *w = wbuf;
    const uint32_t *sig = sigbuf;
    size_t nw;
    if (text) { /* made ahead (routing_themes_text_new) */
        w = text->w;
        nw = text->nw;
        sig = text->sig;
    } else { /* the same steps here */
        fold_text(c->description, folded, sizeof folded);
        nw = content_words(folded, wbuf, sizeof wbuf / sizeof wbuf[0]);
        words_hash(wbuf, nw);
        if (nw)
            words_signature(wbuf, nw, sigbuf);
    }
    if (nw == 0)
        return 0;
    /* ~43 KB: kept, not allocated and cleared for every complaint (load
     * clears what it fills). */
    static _Thread_local themes_t s_buf;
    themes_t *s = &s_buf;
    int rc = load(st, txn, bid, s);
    if (rc != 0)
        return rc;
    for (size_t i = s->n; i-- > 0;) /* silent for the window: gone */
        if (s->t[i].last_ms < at_ms - window_ms)
            remove_at(s, i);
    size_t best = s->n;
    unsigned best_pm = 0;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < s->t[i].n_sigs; j++) {
            unsigned pm = routing_themes_similarity(s->t[i].sigs[j], sig);
            if (pm >= ROUTING_THEMES_MIN_PM && pm > best_pm) {
                best_pm = pm;
                best = i;
            }
        }
    if (best == s->n) { /* a theme of its own */
        if (s->n == ROUTING_THEMES_MAX) {
            remove_at(s, weakest(s));
            s->dropped++;
        }
        best = s->n++;
        memset(&s->t[best], 0, sizeof s->t[best]);
    }
    add_member(&s->t[best], c, sig, at_ms, w, nw);
    return save(st, txn, bid, s);
}

static int by_count(const void *a, const void *b)
{
    const Cpm__ClusterTheme *x = *(Cpm__ClusterTheme *const *)a,
                            *y = *(Cpm__ClusterTheme *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->last_ms > y->last_ms ? -1 : x->last_ms < y->last_ms;
}

int routing_themes_fill(cpm_store_t *st, MDB_txn *txn, const char *bid, Cpm__Cluster *cl,
                        uint32_t max)
{
    ProtobufCMessage *m = NULL;
    bool in_old;
    int rc = themes_get(st, txn, bid, &m, &in_old);
    if (rc == CPM_E_NOT_FOUND || rc == CPM_E_BAD_MESSAGE)
        return 0;
    if (rc != 0)
        return rc;
    Cpm__ClusterThemes *ct = (Cpm__ClusterThemes *)m;
    cl->themes_dropped = ct->dropped;
    size_t n = 0;
    Cpm__ClusterTheme **out = calloc(ct->n_themes ? ct->n_themes : 1, sizeof *out);
    if (!out) {
        protobuf_c_message_free_unpacked(m, NULL);
        return CPM_E_INTERNAL;
    }
    for (size_t i = 0; i < ct->n_themes; i++) /* taken over: detached from ct */
        if (ct->themes[i]->theme && ct->themes[i]->theme->count >= 2) {
            out[n++] = ct->themes[i]->theme;
            ct->themes[i]->theme = NULL;
        }
    protobuf_c_message_free_unpacked(m, NULL);
    qsort(out, n, sizeof *out, by_count);
    for (size_t i = max; i < n; i++)
        cpm__cluster_theme__free_unpacked(out[i], NULL);
    cl->n_themes = n < max ? n : max;
    cl->themes = out;
    return 0;
}

int routing_themes_forget(cpm_store_t *st, MDB_txn *txn, const char *bid)
{
    char key[ROUTING_CLUSTER_THEMES_KEY_LEN + 1];
    themes_key(bid, key);
    int rc = cpm_store_del(st, txn, ROUTING_CLUSTERS_DB, key, ROUTING_CLUSTER_THEMES_KEY_LEN);
    if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return rc;
    rc = cpm_store_del(st, txn, ROUTING_THEMES_DB, bid, strlen(bid)); /* a store from before */
    return rc == CPM_E_NOT_FOUND ? 0 : rc;
}
