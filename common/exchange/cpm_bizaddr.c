/* cpm_bizaddr: addresses in normal form. See cpm_bizaddr.h. */
#include "cpm_bizaddr.h"
#include "cpm_bizname.h"

#include <string.h>

/* No snprintf here: it was 38 calls per address, 28k of its 39k
 * instructions at routing. cat() writes what snprintf(buf + *len, cap - *len,
 * "%s", ...) wrote, byte for byte (tests/unit/test_bizaddr_same.c compares
 * with the code as it was). */

#define TOK_MAX 160 /* tokens looked at: 1 KiB of text holds no more words that matter */
#define WORD_MAX 40

typedef struct {
    char kind; /* 'w' word, ',' part separator, '/' number joiner, '-' range */
    char w[WORD_MAX];
} tok_t;

typedef struct {
    tok_t t[TOK_MAX];
    size_t n;
} toks_t;

/* Append the slen bytes of str to buf (cap bytes, *len used so far, which
 * may pass cap as snprintf's results do): what fits, always terminated, and
 * *len grows by slen. */
static void cat(char *buf, size_t cap, size_t *len, const char *str, size_t slen)
{
    if (*len < cap) {
        size_t room = cap - *len - 1, k = slen < room ? slen : room;
        memcpy(buf + *len, str, k);
        buf[*len + k] = 0;
    }
    *len += slen;
}

static void push(toks_t *s, char kind, const char *w, size_t len)
{
    if (s->n == TOK_MAX)
        return;
    tok_t *t = &s->t[s->n++];
    t->kind = kind;
    size_t k = len < WORD_MAX - 1 ? len : WORD_MAX - 1;
    memcpy(t->w, w, k);
    t->w[k] = 0;
}

/* One run of letters as written: folded, then one token per word. */
static void push_word(toks_t *s, const char *raw, size_t len)
{
    char out[CPM_BIZNAME_MAX];
    cpm_bizname_fold_n(raw, len, out, sizeof out);
    for (char *p = out; *p;) {
        size_t l = strcspn(p, " ");
        if (l)
            push(s, 'w', p, l);
        p += l;
        p += *p == ' ';
    }
}

static bool is_num(const tok_t *t)
{
    return t->kind == 'w' && t->w[0] >= '0' && t->w[0] <= '9';
}

static void tokenize(const char *addr, toks_t *s)
{
    size_t len = strnlen(addr, CPM_BIZADDR_IN_MAX);
    while (len > 0 && len < strlen(addr) && ((unsigned char)addr[len] & 0xc0) == 0x80)
        len--; /* cut on a character boundary */
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char ch = i < len ? (unsigned char)addr[i] : 0;
        bool letter = ch >= 0x80 || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9');
        if (letter && i < len)
            continue;
        if (i > start)
            push_word(s, addr + start, i - start);
        start = i + 1;
        if (ch == ',' || ch == ';' || ch == '\n' || ch == '\r' || ch == '(' || ch == ')')
            push(s, ',', "", 0);
        else if (ch == '/' || ch == '\\')
            push(s, '/', "", 0);
        else if (ch == '-') /* "12-14" a range; "12 Hàng Bạc - Hoàn Kiếm" a separator */
            push(s,
                 (s->n && is_num(&s->t[s->n - 1]) && i + 1 < len && addr[i + 1] >= '0' &&
                  addr[i + 1] <= '9')
                     ? '-'
                     : ',',
                 "", 0);
    }
}

/* Do the words of seq ("ha noi") start at token k (before end)? Their count. */
static size_t words_at(const toks_t *s, size_t k, size_t end, const char *seq)
{
    /* Most lists' words differ from the token in their first byte: asked
     * of every token against every list, for every address. */
    if (k >= end || s->t[k].kind != 'w' || s->t[k].w[0] != seq[0])
        return 0;
    size_t n = 0;
    for (const char *p = seq; *p; n++) {
        size_t l = strcspn(p, " ");
        if (k + n >= end || s->t[k + n].kind != 'w' || strlen(s->t[k + n].w) != l ||
            memcmp(s->t[k + n].w, p, l) != 0)
            return 0;
        p += l;
        p += *p == ' ';
    }
    return n;
}

static size_t any_at(const toks_t *s, size_t k, size_t end, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        size_t n = words_at(s, k, end, list[i]);
        if (n)
            return n;
    }
    return 0;
}

static const char *const HOUSE_MARK[] = {"so nha", "nha so", "so", "sn", "nha", NULL};
static const char *const LANE[] = {"ngo", "hem", "kiet", NULL};
static const char *const LANE_SHORT[] = {"ng", "h", "k", NULL}; /* only before a number */
static const char *const SUBLANE[] = {"ngach", "ngh", NULL};
/* A floor, a stall or a room before the house: not part of the address. */
static const char *const FLOOR[] = {"tang", "lau", "kiot", "ki ot", "quay", "phong", NULL};
static const char *const STREET_MARK[] = {"dai lo", "pho", "ph", "p", "duong", "dg", "d", NULL};
/* What ends a street: a ward, a district, the city or the country. */
static const char *const STOP[] = {"phuong", "p",        "quan",    "q",         "huyen",  "xa",
                                   "thi xa", "tx",       "tp",      "thanh pho", "ha noi", "hn",
                                   "hanoi",  "viet nam", "vietnam", "vn",        NULL};
/* What a part that is only a ward, a district or the city starts with. */
static const char *const TAIL_PART[] = {"phuong", "quan",      "q",      "huyen", "thi xa", "tx",
                                        "tp",     "thanh pho", "ha noi", "hn",    "hanoi",  NULL};
static const char *const DISTRICT[] = {
    "ba dinh",     "hoan kiem",    "tay ho",    "long bien",  "cau giay",
    "dong da",     "hai ba trung", "hoang mai", "thanh xuan", "nam tu liem",
    "bac tu liem", "ha dong",      "son tay",   "ba vi",      "chuong my",
    "dan phuong",  "dong anh",     "gia lam",   "hoai duc",   "me linh",
    "my duc",      "phu xuyen",    "phuc tho",  "quoc oai",   "soc son",
    "thach that",  "thanh oai",    "thanh tri", "thuong tin", "ung hoa",
    NULL};

/* A number group at k: numbers joined by '/' or '-' ("12/3", "12-14"), into
 * out; returns the tokens used. */
static size_t number_group(const toks_t *s, size_t k, size_t end, char *out, size_t cap)
{
    size_t i = k, len = 0;
    out[0] = 0;
    while (i < end && is_num(&s->t[i])) {
        cat(out, cap, &len, s->t[i].w, strlen(s->t[i].w));
        i++;
        if (i + 1 < end && (s->t[i].kind == '/' || s->t[i].kind == '-') && is_num(&s->t[i + 1])) {
            cat(out, cap, &len, &s->t[i].kind, 1);
            i++;
        } else {
            break;
        }
    }
    if (len >= cap)
        out[cap - 1] = 0;
    return i - k;
}

typedef struct {
    char lane[CPM_BIZADDR_HOUSE_MAX], sublane[CPM_BIZADDR_HOUSE_MAX], house[CPM_BIZADDR_HOUSE_MAX];
    char street[CPM_BIZADDR_STREET_MAX];
} parts_t;

static bool is_word(const toks_t *s, size_t k, size_t end)
{
    return k < end && s->t[k].kind == 'w';
}

/* Do words w[from..n) spell seq ("hoan kiem"), one space between? (A word
 * holds no space and is never empty.) */
static bool tail_is(const tok_t *const *w, size_t from, size_t n, const char *seq)
{
    for (size_t i = from; i < n; i++) {
        if (i > from && *seq++ != ' ')
            return false;
        for (const char *c = w[i]->w; *c; c++, seq++)
            if (*seq != *c)
                return false;
    }
    return *seq == 0;
}

/* The street from k to end (one part); a house written after it ("Hàng Bạc
 * số 12") is taken too. */
static void street(const toks_t *s, size_t k, size_t end, parts_t *p)
{
    size_t m = any_at(s, k, end, STREET_MARK);
    if (m && is_word(s, k + m, end))
        k += m;
    const tok_t *w[TOK_MAX];
    size_t n = 0;
    for (; k < end; k++) {
        if (n && any_at(s, k, end, STOP))
            break;
        size_t h = any_at(s, k, end, HOUSE_MARK);
        if (n && h && k + h < end && is_num(&s->t[k + h])) {
            if (!p->house[0])
                number_group(s, k + h, end, p->house, sizeof p->house);
            break;
        }
        if (s->t[k].kind == 'w')
            w[n++] = &s->t[k];
    }
    /* a district at the end, when words remain: "12 Hàng Bạc Hoàn Kiếm" */
    for (size_t from = 1; from < n; from++)
        for (size_t i = 0; DISTRICT[i]; i++)
            if (tail_is(w, from, n, DISTRICT[i])) {
                n = from;
                break;
            }
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof p->street; i++) {
        if (len)
            cat(p->street, sizeof p->street, &len, " ", 1);
        cat(p->street, sizeof p->street, &len, w[i]->w, strlen(w[i]->w));
    }
}

/* One part (tokens k..end): house groups, then the street. Returns whether a
 * street was found (then later parts are the ward, district and city). */
static bool part(const toks_t *s, size_t k, size_t end, parts_t *p)
{
    if (any_at(s, k, end, TAIL_PART))
        return false;
    while (k < end) {
        size_t m;
        char *into = NULL;
        if (s->t[k].kind != 'w') {
            k++;
            continue;
        }
        if ((m = any_at(s, k, end, HOUSE_MARK)) && k + m < end && is_num(&s->t[k + m]))
            into = p->house;
        else if (((m = any_at(s, k, end, LANE)) || (m = any_at(s, k, end, LANE_SHORT))) &&
                 k + m < end && is_num(&s->t[k + m]))
            into = p->lane;
        else if ((m = any_at(s, k, end, SUBLANE)) && k + m < end && is_num(&s->t[k + m]))
            into = p->sublane;
        else if ((m = any_at(s, k, end, FLOOR)) && k + m < end && is_num(&s->t[k + m])) {
            char skip[CPM_BIZADDR_HOUSE_MAX];
            k += m + number_group(s, k + m, end, skip, sizeof skip);
            continue;
        } else if (is_num(&s->t[k]) && !p->house[0]) {
            m = 0;
            into = p->house;
        }
        if (!into)
            break;
        char g[CPM_BIZADDR_HOUSE_MAX];
        k += m + number_group(s, k + m, end, g, sizeof g);
        size_t glen = 0;
        if (!into[0])
            cat(into, CPM_BIZADDR_HOUSE_MAX, &glen, g, strlen(g));
    }
    if (k >= end)
        return false;
    street(s, k, end, p);
    return p->street[0] != 0;
}

/* Append a to out ('/' between), cut at cap. */
static void join(char *out, size_t cap, const char *a)
{
    size_t n = strlen(out);
    if (*a && n && n + 1 < cap)
        out[n++] = '/';
    for (; *a && n + 1 < cap; a++)
        out[n++] = *a;
    out[n] = 0;
}

bool cpm_bizaddr_normal(const char *address, cpm_bizaddr_t *out)
{
    memset(out, 0, sizeof *out);
    if (!address)
        return false;
    static _Thread_local toks_t s; /* 6 KiB: off the stack of deep callers */
    s.n = 0;
    tokenize(address, &s);
    parts_t p;
    memset(&p, 0, sizeof p);
    for (size_t k = 0; k < s.n;) {
        size_t end = k;
        while (end < s.n && s.t[end].kind != ',')
            end++;
        if (part(&s, k, end, &p))
            break;
        k = end + 1;
    }
    /* The house: lane, sub-lane, then the house group, outermost first. A
     * lane without a house number is not a house. */
    if (p.house[0]) {
        join(out->house, sizeof out->house, p.lane);
        join(out->house, sizeof out->house, p.sublane);
        join(out->house, sizeof out->house, p.house);
    }
    size_t len = 0;
    cat(out->street, sizeof out->street, &len, p.street, strlen(p.street));
    if (!out->street[0])
        return false;
    len = 0;
    if (out->house[0]) {
        cat(out->normal, sizeof out->normal, &len, "house=", 6);
        cat(out->normal, sizeof out->normal, &len, out->house, strlen(out->house));
        cat(out->normal, sizeof out->normal, &len, " ", 1);
    }
    cat(out->normal, sizeof out->normal, &len, "street=", 7);
    cat(out->normal, sizeof out->normal, &len, out->street, strlen(out->street));
    return true;
}

bool cpm_bizaddr_exact(const cpm_bizaddr_t *a)
{
    return a->house[0] && a->street[0];
}

const char *cpm_bizaddr_house(const cpm_bizaddr_t *a)
{
    return a->house;
}

const char *cpm_bizaddr_street(const cpm_bizaddr_t *a)
{
    return a->street;
}

bool cpm_bizaddr_same(const char *a, const char *b)
{
    cpm_bizaddr_t x, y;
    return cpm_bizaddr_normal(a, &x) && cpm_bizaddr_normal(b, &y) && cpm_bizaddr_exact(&x) &&
           strcmp(x.normal, y.normal) == 0;
}
