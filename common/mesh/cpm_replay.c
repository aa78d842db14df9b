/* cpm_replay: per-principal sliding window of sequence numbers, as in IPsec
 * (RFC 4303 section 3.4.3): the highest number seen and a bitmap of the
 * CPM_REPLAY_WINDOW numbers at and below it; principals grouped by member with
 * a bound and a floor per member. See cpm_replay.h. */
#include "cpm_replay.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define WORDS (CPM_REPLAY_WINDOW / 64)
#define MIN_BUCKETS 64
#define MEMBER_BUCKETS 256 /* members are the registry's: a few hundred */

typedef struct member member_t;

typedef struct entry {
    struct entry *next;          /* hash chain */
    struct entry *newer, *older; /* the member's principals, most recent first */
    member_t *member;
    uint64_t top;         /* highest seq seen */
    uint64_t seen[WORDS]; /* bit d: seq top - d was seen */
    int64_t last_ms;      /* when this principal last sent a fresh message */
    char principal[];     /* NUL-terminated */
} entry_t;

struct member {
    member_t *next; /* hash chain */
    entry_t *newest, *oldest;
    unsigned count;
    uint64_t floor;   /* a principal not in the table must send above this */
    int64_t floor_ms; /* when floor was last raised */
    size_t idlen;
    char id[];
};

struct cpm_replay {
    entry_t **buckets;
    size_t nbuckets; /* a power of two */
    unsigned size;
    member_t *members[MEMBER_BUCKETS];
    unsigned char key[crypto_shorthash_KEYBYTES];
    int64_t horizon_ms;
    int64_t last_sweep_ms;
    uint64_t evicted;
};

static uint64_t hash(const cpm_replay_t *r, const char *s, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)s, len, r->key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

cpm_replay_t *cpm_replay_new(int64_t horizon_ms)
{
    if (horizon_ms <= 0 || sodium_init() < 0)
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
    crypto_shorthash_keygen(r->key);
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
    for (size_t i = 0; i < MEMBER_BUCKETS; i++) {
        member_t *m = r->members[i];
        while (m) {
            member_t *next = m->next;
            free(m);
            m = next;
        }
    }
    sodium_memzero(r->key, sizeof r->key);
    free(r->buckets);
    free(r);
    *p = NULL;
}

unsigned cpm_replay_size(const cpm_replay_t *r)
{
    return r ? r->size : 0;
}

uint64_t cpm_replay_evicted(const cpm_replay_t *r)
{
    return r ? r->evicted : 0;
}

static int idle(const cpm_replay_t *r, int64_t last_ms, int64_t now_ms)
{
    return now_ms - last_ms > r->horizon_ms;
}

static member_t *find_member(cpm_replay_t *r, const char *id, size_t idlen, int create)
{
    size_t slot = hash(r, id, idlen) % MEMBER_BUCKETS;
    for (member_t *m = r->members[slot]; m; m = m->next)
        if (m->idlen == idlen && memcmp(m->id, id, idlen) == 0)
            return m;
    if (!create)
        return NULL;
    member_t *m = calloc(1, sizeof *m + idlen + 1);
    if (!m)
        return NULL;
    memcpy(m->id, id, idlen);
    m->idlen = idlen;
    m->next = r->members[slot];
    r->members[slot] = m;
    return m;
}

static void list_unlink(member_t *m, entry_t *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        m->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        m->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void list_push(member_t *m, entry_t *e)
{
    e->newer = NULL;
    e->older = m->newest;
    if (m->newest)
        m->newest->newer = e;
    m->newest = e;
    if (!m->oldest)
        m->oldest = e;
}

/* Unlink e from its hash chain (at *pp) and its member, and free it. */
static void drop_entry(cpm_replay_t *r, entry_t **pp)
{
    entry_t *e = *pp;
    *pp = e->next;
    list_unlink(e->member, e);
    e->member->count--;
    r->size--;
    free(e);
}

static entry_t **chain_of(cpm_replay_t *r, entry_t *e)
{
    entry_t **pp = &r->buckets[hash(r, e->principal, strlen(e->principal)) & (r->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    return pp;
}

/* Make room in m: forget its least recently active principal, raising the
 * member's floor above every number that principal saw. */
static void evict_oldest(cpm_replay_t *r, member_t *m, int64_t now_ms)
{
    entry_t *e = m->oldest;
    if (!e)
        return;
    if (!idle(r, e->last_ms, now_ms)) {
        if (e->top > m->floor)
            m->floor = e->top;
        m->floor_ms = now_ms;
    }
    drop_entry(r, chain_of(r, e));
    r->evicted++;
}

/* Forget idle principals and expired floors, at most once per horizon, so the
 * table stays as small as the set of recently active senders. */
static void sweep(cpm_replay_t *r, int64_t now_ms)
{
    if (now_ms - r->last_sweep_ms < r->horizon_ms)
        return;
    r->last_sweep_ms = now_ms;
    for (size_t i = 0; i < r->nbuckets; i++) {
        entry_t **pp = &r->buckets[i];
        while (*pp) {
            if (idle(r, (*pp)->last_ms, now_ms))
                drop_entry(r, pp);
            else
                pp = &(*pp)->next;
        }
    }
    for (size_t i = 0; i < MEMBER_BUCKETS; i++) {
        member_t **pp = &r->members[i];
        while (*pp) {
            member_t *m = *pp;
            if (idle(r, m->floor_ms, now_ms))
                m->floor = 0;
            if (m->count == 0 && m->floor == 0) {
                *pp = m->next;
                free(m);
            } else {
                pp = &m->next;
            }
        }
    }
}

static member_t *largest_member(cpm_replay_t *r)
{
    member_t *best = NULL;
    for (size_t i = 0; i < MEMBER_BUCKETS; i++)
        for (member_t *m = r->members[i]; m; m = m->next)
            if (!best || m->count > best->count)
                best = m;
    return best;
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
            size_t j = hash(r, e->principal, strlen(e->principal)) & (n - 1);
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

static void mark_active(entry_t *e, int64_t now_ms)
{
    e->last_ms = now_ms;
    list_unlink(e->member, e);
    list_push(e->member, e);
}

/* A principal the table does not hold: admit it above its member's floor,
 * making room within that member first. */
static int admit_new(cpm_replay_t *r, const char *principal, size_t plen, uint64_t seq,
                     int64_t now_ms)
{
    member_t *m = find_member(r, principal, strcspn(principal, "/"), 1);
    if (!m)
        return -1; /* refusing is the safe answer */
    if (m->floor && idle(r, m->floor_ms, now_ms))
        m->floor = 0;
    if (m->floor && seq <= m->floor)
        return -1;
    if (m->count >= CPM_REPLAY_PER_MEMBER)
        evict_oldest(r, m, now_ms);
    if (r->size >= CPM_REPLAY_MAX) {
        r->last_sweep_ms = now_ms - r->horizon_ms; /* forget the idle now */
        sweep(r, now_ms);
        if (r->size >= CPM_REPLAY_MAX)
            evict_oldest(r, largest_member(r), now_ms);
        m = find_member(r, principal, strcspn(principal, "/"), 1); /* sweep may free it */
        if (!m)
            return -1;
    }
    entry_t *e = calloc(1, sizeof *e + plen + 1);
    if (!e)
        return -1;
    memcpy(e->principal, principal, plen + 1);
    e->member = m;
    e->top = seq;
    e->seen[0] = 1;
    e->last_ms = now_ms;
    size_t slot = hash(r, principal, plen) & (r->nbuckets - 1);
    e->next = r->buckets[slot];
    r->buckets[slot] = e;
    list_push(m, e);
    m->count++;
    r->size++;
    if (r->size > 2 * r->nbuckets)
        grow(r);
    return 0;
}

int cpm_replay_check(cpm_replay_t *r, const char *principal, uint64_t seq, int64_t now_ms)
{
    if (!r || !principal)
        return -1;
    sweep(r, now_ms);
    size_t plen = strlen(principal);
    size_t slot = hash(r, principal, plen) & (r->nbuckets - 1);
    entry_t *e = r->buckets[slot];
    while (e && strcmp(e->principal, principal) != 0)
        e = e->next;
    if (!e)
        return admit_new(r, principal, plen, seq, now_ms);

    if (idle(r, e->last_ms, now_ms)) {
        /* Forgotten, as if swept: the clock-skew check covers what it saw. */
        memset(e->seen, 0, sizeof e->seen);
        e->top = seq;
        e->seen[0] = 1;
        mark_active(e, now_ms);
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
    mark_active(e, now_ms);
    return 0;
}
