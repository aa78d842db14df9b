/* cpm_replay: per-principal sliding window of sequence numbers, as in IPsec
 * (RFC 4303 section 3.4.3): the highest number seen and a bitmap of the
 * CPM_REPLAY_WINDOW numbers at and below it. See cpm_replay.h. */
#include "cpm_replay.h"

#include <stdlib.h>
#include <string.h>

#define WORDS (CPM_REPLAY_WINDOW / 64)
#define MIN_BUCKETS 64

typedef struct entry {
    struct entry *next;
    uint64_t top;         /* highest seq seen */
    uint64_t seen[WORDS]; /* bit d: seq top - d was seen */
    int64_t last_ms;      /* when this principal last sent a fresh message */
    char principal[];     /* NUL-terminated */
} entry_t;

struct cpm_replay {
    entry_t **buckets;
    size_t nbuckets; /* a power of two */
    unsigned size;
    int64_t horizon_ms;
    int64_t last_sweep_ms;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

cpm_replay_t *cpm_replay_new(int64_t horizon_ms)
{
    if (horizon_ms <= 0)
        return NULL;
    cpm_replay_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->buckets = calloc(MIN_BUCKETS, sizeof *r->buckets);
    if (!r->buckets) {
        free(r);
        return NULL;
    }
    r->nbuckets = MIN_BUCKETS;
    r->horizon_ms = horizon_ms;
    return r;
}

void cpm_replay_destroy(cpm_replay_t **p)
{
    if (!p || !*p)
        return;
    cpm_replay_t *r = *p;
    for (size_t i = 0; i < r->nbuckets; i++) {
        entry_t *e = r->buckets[i];
        while (e) {
            entry_t *next = e->next;
            free(e);
            e = next;
        }
    }
    free(r->buckets);
    free(r);
    *p = NULL;
}

unsigned cpm_replay_size(const cpm_replay_t *r)
{
    return r ? r->size : 0;
}

static int idle(const cpm_replay_t *r, const entry_t *e, int64_t now_ms)
{
    return now_ms - e->last_ms > r->horizon_ms;
}

/* Forget idle principals, at most once per horizon, so the table stays as
 * small as the set of recently active senders. */
static void sweep(cpm_replay_t *r, int64_t now_ms)
{
    if (now_ms - r->last_sweep_ms < r->horizon_ms)
        return;
    r->last_sweep_ms = now_ms;
    for (size_t i = 0; i < r->nbuckets; i++) {
        entry_t **pp = &r->buckets[i];
        while (*pp) {
            entry_t *e = *pp;
            if (idle(r, e, now_ms)) {
                *pp = e->next;
                free(e);
                r->size--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static void grow(cpm_replay_t *r)
{
    size_t n = r->nbuckets * 2;
    entry_t **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < r->nbuckets; i++) {
        entry_t *e = r->buckets[i];
        while (e) {
            entry_t *next = e->next;
            size_t j = hash_str(e->principal) & (n - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = n;
}

/* Move every bit n places towards older numbers. */
static void shift_window(uint64_t w[WORDS], uint64_t n)
{
    if (n >= CPM_REPLAY_WINDOW) {
        memset(w, 0, WORDS * sizeof *w);
        return;
    }
    size_t ws = (size_t)(n / 64);
    unsigned bs = (unsigned)(n % 64);
    for (size_t i = WORDS; i-- > 0;) {
        uint64_t v = 0;
        if (i >= ws) {
            v = w[i - ws] << bs;
            if (bs && i >= ws + 1)
                v |= w[i - ws - 1] >> (64 - bs);
        }
        w[i] = v;
    }
}

int cpm_replay_check(cpm_replay_t *r, const char *principal, uint64_t seq, int64_t now_ms)
{
    if (!r || !principal)
        return -1;
    sweep(r, now_ms);
    size_t slot = hash_str(principal) & (r->nbuckets - 1);
    entry_t *e = r->buckets[slot];
    while (e && strcmp(e->principal, principal) != 0)
        e = e->next;

    if (e && idle(r, e, now_ms)) {
        /* Forgotten, as if swept: the clock-skew check covers what it saw. */
        memset(e->seen, 0, sizeof e->seen);
        e->top = seq;
        e->seen[0] = 1;
        e->last_ms = now_ms;
        return 0;
    }
    if (!e && r->size >= CPM_REPLAY_MAX) {
        /* Full: forget the idle now rather than once per horizon; if that
         * frees nothing, refuse newcomers instead of growing without end (a
         * registered member inventing instances is found by its id). */
        r->last_sweep_ms = now_ms - r->horizon_ms;
        sweep(r, now_ms);
        if (r->size >= CPM_REPLAY_MAX)
            return -1;
    }
    if (!e) {
        size_t len = strlen(principal) + 1;
        e = calloc(1, sizeof *e + len);
        if (!e)
            return -1; /* refusing is the safe answer */
        memcpy(e->principal, principal, len);
        e->top = seq;
        e->seen[0] = 1;
        e->last_ms = now_ms;
        e->next = r->buckets[slot];
        r->buckets[slot] = e;
        r->size++;
        if (r->size > 2 * r->nbuckets)
            grow(r);
        return 0;
    }
    if (seq > e->top) {
        shift_window(e->seen, seq - e->top);
        e->top = seq;
        e->seen[0] |= 1;
    } else {
        uint64_t d = e->top - seq;
        if (d >= CPM_REPLAY_WINDOW)
            return -1;
        uint64_t bit = 1ull << (d % 64);
        if (e->seen[d / 64] & bit)
            return -1;
        e->seen[d / 64] |= bit;
    }
    e->last_ms = now_ms;
    return 0;
}
