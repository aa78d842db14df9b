/* hotspot_detect: the streaming detector (docs/protocol.md 25.2). No
 * sockets: it takes complaint.received events with their source and seq and
 * a write transaction, so that the unit tests replay scenarios directly.
 *
 * For each complaint three keys are counted: its business (the business key
 * of hotspot_business_key, skipped when neither name nor address gives one), its
 * "area|category" (skipped when either is empty) and its product folded
 * (skipped when empty). Per key: counts per hour over the window
 * (hotspot_window_h), an EWMA of daily counts (hotspot_stats.h) and the last
 * tickets. Time is the event's at_ms, never the clock, so a replay gives the
 * same alerts; the clock (now_ms, passed in) only refuses complaints dated
 * more than max_skew_s ahead of it (counted "future"): one wrong intake clock
 * would otherwise move the keys' days and the learning period away. A late
 * complaint (a day before its key's current one: a node's backlog, one
 * node's stream replayed after another's) counts in its own hour if that
 * hour is still in the key's window, and in its own day: the EWMA gets the
 * day's exact weight alpha (1 - alpha)^(k-1) for k days before the current
 * one, or nothing when k > 4 history_days (weight below e^-8); never in the
 * current day's count. A key alerts when its count in the window is at least
 * min_count and P(X >= count | expected) < p_max_e6 / 1e6, X Poisson with
 * expected = baseline per day * window_h / 24, the baseline from the days
 * before the complaint's day. While the detector has seen less than one
 * window of time (from the first event it applied), it learns and never
 * alerts: every key would look new. One open alert per key: later
 * complaints add to its evidence; once decided, complaints within a window
 * of its last one belong to it and open nothing new.
 *
 * Exactly once: each source's cursor (node/service -> seq, hash in
 * "hs_cursors") is moved in the transaction that applies its event; an
 * event at or below the cursor is not applied again. At most keys_max keys
 * are kept (hotspot_keys: the least recently seen are dropped). */
#ifndef HOTSPOT_DETECT_H
#define HOTSPOT_DETECT_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdint.h>

#define HOTSPOT_CURSORS_DB "hs_cursors"
/* i64 (as u64) in "meta": the detector alerts for complaints from this at_ms on. */
#define HOTSPOT_LEARN_UNTIL "hotspot.learn_until"
/* u64 in "meta": complaints applied so far, the keys' LRU stamps. */
#define HOTSPOT_APPLIED_SEQ "hotspot.applied_seq"

/* Field limits of an event the detector uses (longer: the event is bad). */
#define HOTSPOT_AREA_MAX 64
#define HOTSPOT_CATEGORY_MAX 64
#define HOTSPOT_TEXT_MAX 512 /* business, address, product */
/* at_ms outside 2000-01-01 .. 2100-01-01 is bad: one complaint dated far
 * ahead would otherwise move the keys' days and the learning period away. */
#define HOTSPOT_AT_MIN 946684800000LL
#define HOTSPOT_AT_MAX 4102444800000LL

typedef struct hotspot hotspot_t;

typedef struct {
    uint32_t window_h, history_days, min_count, p_max_e6, keys_max; /* cpm_config's hotspot_* */
    uint32_t max_skew_s; /* cpm_config's max_skew_s (0: 300) */
} hotspot_cfg_t;

/* Added to by hotspot_apply; the service turns them into health counters. */
typedef struct {
    uint64_t applied; /* complaint.received counted */
    uint64_t ignored; /* another kind of event (cursor moved) */
    uint64_t already; /* at or below its source's cursor: applied before */
    uint64_t bad;     /* a complaint.received the detector cannot use (cursor moved) */
    uint64_t future;  /* a complaint.received dated more than max_skew ahead (cursor moved) */
    uint64_t evicted; /* keys dropped for the bound */
    uint64_t opened;  /* alerts opened */
    uint64_t updated; /* complaints added to an open alert */
} hotspot_counts_t;

/* cfg is checked: window_h 1..HOTSPOT_WINDOW_MAX, the others > 0 (err names
 * the config field). st is borrowed. */
int hotspot_new(hotspot_t **out, cpm_store_t *st, const hotspot_cfg_t *cfg, cpm_error_t *err);
void hotspot_destroy(hotspot_t **p);

/* The business key (cpm_bizkey_make: the same business id as routing's
 * clusters, from the name with its legal and shop forms dropped, else the
 * exact address) into out (33 bytes). false when neither gives a key. */
bool hotspot_business_key(const char *area, const char *business, const char *address,
                          char out[33]);

/* Apply ev of node/service at the clock's now_ms (fx: where alert events
 * go; may be NULL in tests). 0 (counted in *c) or a negative store code
 * (nothing applied: the caller aborts the transaction). */
int hotspot_apply(hotspot_t *h, MDB_txn *txn, const cpm_effects_t *fx, const char *node,
                  const char *service, const Cpm__Event *ev, int64_t now_ms, hotspot_counts_t *c);

typedef void (*hotspot_cursor_fn)(void *ctx, const char *node, const char *service, uint64_t seq,
                                  const uint8_t hash[32]);
/* Each stored cursor. 0 or a store code. */
int hotspot_cursors(hotspot_t *h, MDB_txn *txn, hotspot_cursor_fn fn, void *ctx);

#endif
