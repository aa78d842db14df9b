/* fuzz: many frames from a reproducible seed, sent without waiting, then
 * the replies counted by kind and error code. */
#include "attacks.h"

#include "frames.h"
#include "link.h"

#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: reproducible choices from --seed (not for secrets). */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t rnd_below(uint64_t *s, size_t n)
{
    return n ? (size_t)(rnd_next(s) % n) : 0;
}

static void rnd_fill(uint64_t *s, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd_next(s);
}

/* One fuzz frame into buf (capacity cap), derived from base or not. */
static size_t fuzz_frame(uint64_t *s, const uint8_t *base, size_t blen, uint8_t *buf, size_t cap)
{
    size_t n = blen, k = rnd_below(s, 8);
    if (k == 0) { /* random bytes, random length */
        n = rnd_below(s, 10) == 0 ? rnd_below(s, 65536) : rnd_below(s, 512);
        rnd_fill(s, buf, n);
        return n;
    }
    memcpy(buf, base, blen);
    switch (k) {
    case 1: /* flip a few bits */
        for (size_t i = 0, m = 1 + rnd_below(s, 8); i < m; i++)
            buf[rnd_below(s, n)] ^= (uint8_t)(1u << rnd_below(s, 8));
        break;
    case 2: /* overwrite a run */
    {
        size_t at = rnd_below(s, n), run = 1 + rnd_below(s, 32);
        rnd_fill(s, buf + at, at + run > n ? n - at : run);
        break;
    }
    case 3: /* truncate */
        n = rnd_below(s, n);
        break;
    case 4: /* append */
    {
        size_t extra = 1 + rnd_below(s, 64);
        rnd_fill(s, buf + n, extra);
        n += extra;
        break;
    }
    case 5: /* insert */
    {
        size_t at = rnd_below(s, n), extra = 1 + rnd_below(s, 16);
        memmove(buf + at + extra, buf + at, n - at);
        rnd_fill(s, buf + at, extra);
        n += extra;
        break;
    }
    case 6: /* set a byte to an interesting value (lengths, tags) */
    {
        static const uint8_t vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x08};
        buf[rnd_below(s, n)] = vals[rnd_below(s, sizeof vals)];
        break;
    }
    default: /* delete a run */
    {
        size_t at = rnd_below(s, n), run = 1 + rnd_below(s, 16);
        if (at + run > n)
            run = n - at;
        memmove(buf + at, buf + at + run, n - at - run);
        n -= run;
        break;
    }
    }
    (void)cap;
    return n;
}

/* Replies counted so far; a sender keeps at most FUZZ_WINDOW requests
 * unanswered, as a well-behaved client does (a service drops replies to a
 * peer that does not read, and refuses a principal's excess as busy). */
#define FUZZ_WINDOW 32

typedef struct {
    int replies, verified, accepted, recorded;
    json_t *codes;
} tally_t;

/* Wait up to timeout_ms for one reply and count it. 1 when one came. */
static int tally_one(attack_t *a, tally_t *t, int timeout_ms)
{
    result_t r;
    if (!link_receive(a, timeout_ms, &r))
        return 0;
    t->replies++;
    if (!r.verified)
        return 1;
    t->verified++;
    if (r.type != CPM__MSG_TYPE__MSG_ERROR)
        t->accepted++;
    if (r.type == CPM__MSG_TYPE__MSG_SUBMIT_REPLY && !r.duplicate)
        t->recorded++;
    char key[16];
    snprintf(key, sizeof key, "%d", r.error_code);
    json_t *c = json_object_get(t->codes, key);
    json_object_set_new(t->codes, key, json_integer(c ? json_integer_value(c) + 1 : 1));
    return 1;
}

/* Collect replies until count came or the timeout passed, into out. */
static void collect(attack_t *a, tally_t *t, int count, json_t *out)
{
    int64_t deadline = cpm_mono_ms() + a->o->timeout_ms;
    while (t->replies < count && cpm_mono_ms() < deadline)
        tally_one(a, t, (int)(deadline - cpm_mono_ms()));
    json_object_set_new(out, "sent", json_integer(count));
    json_object_set_new(out, "replies", json_integer(t->replies));
    json_object_set_new(out, "verified", json_integer(t->verified));
    json_object_set_new(out, "accepted", json_integer(t->accepted));
    json_object_set_new(out, "recorded", json_integer(t->recorded));
    json_object_set_new(out, "codes", t->codes);
}

/* The valid frame fuzz starts from: a complaint for intake, else a health
 * query. Sent first; its reply is reported as "first". */
static int fuzz_base(attack_t *a, uint8_t **base, size_t *blen, json_t *out)
{
    int rc;
    if (!strcmp(a->service, "intake")) {
        rc = frame_valid_complaint(a, base, blen);
    } else {
        Cpm__HealthQuery q = CPM__HEALTH_QUERY__INIT;
        size_t plen;
        uint8_t *p = frame_pack(&q.base, &plen);
        rc = p ? frame_valid(a, CPM__MSG_TYPE__MSG_HEALTH_QUERY, p, plen, base, blen) : 1;
        free(p);
    }
    result_t first;
    if (rc != 0 || link_exchange(a, *base, *blen, &first) != 0)
        return 1;
    json_object_set_new(out, "first", result_json(&first));
    return 0;
}

/* fuzz: random frames and mutations of the base frame, whose sequence number
 * is spent by then, so any mutation that still verifies is a replay.
 * fuzz_payload: validly signed complaints (fresh sequence numbers) whose
 * payload is random or a mutation of a good complaint: they reach intake's
 * decoder and validation. */
int fuzz_run(attack_t *a, bool payload_only, json_t *out)
{
    uint8_t *base = NULL, *buf = NULL;
    size_t blen = 0;
    if (fuzz_base(a, &base, &blen, out) != 0) {
        free(base);
        return 1;
    }
    if (payload_only) {
        free(base);
        base = frame_complaint("Fuzz Shop", &blen);
    }
    size_t cap = blen + 65536 + 128;
    if (!base || !(buf = malloc(cap))) {
        free(base);
        return 1;
    }
    uint64_t s = a->o->seed;
    int rc = 0;
    tally_t t = {.codes = json_object()};
    for (int i = 0; rc == 0 && i < a->o->count; i++) {
        /* stay within the window: a reply lost to a full queue is a failure */
        while (i - t.replies >= FUZZ_WINDOW && tally_one(a, &t, a->o->timeout_ms))
            ;
        size_t n = fuzz_frame(&s, base, blen, buf, cap);
        if (!payload_only) {
            rc = link_send(a, buf, n, 0);
            continue;
        }
        uint8_t *frame = NULL;
        size_t flen = 0;
        rc = frame_valid(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, buf, n, &frame, &flen);
        if (rc == 0)
            rc = link_send(a, frame, flen, 0);
        free(frame);
    }
    free(buf);
    free(base);
    if (rc == 0)
        collect(a, &t, a->o->count, out);
    else
        json_decref(t.codes);
    return rc;
}
