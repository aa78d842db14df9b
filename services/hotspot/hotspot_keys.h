/* hotspot_keys: the detector's state per key in its own LMDB databases, and
 * the bound on how many keys it keeps.
 *
 *   "hs_keys"  key -> hotspot_state_t (fixed part) || u32 count per hour of
 *              the window (window_h of them, a ring indexed by hour % window_h)
 *   "hs_lru"   last_seen_ms (u64 big-endian) || key -> "" : the keys by the
 *              time of their newest complaint, oldest first, so that the least
 *              recently seen key is the first entry
 *
 * A key is a kind letter, ':' and the kind's text: "b:" 32 hex (business),
 * "c:" area "|" category, "p:" folded product; at most HOTSPOT_KEY_MAX bytes.
 * Every function runs inside the caller's write transaction (with the
 * cursors and the alerts), so that a crash keeps all or none. */
#ifndef HOTSPOT_KEYS_H
#define HOTSPOT_KEYS_H

#include "cpm_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOTSPOT_KEYS_DB "hs_keys"
#define HOTSPOT_LRU_DB "hs_lru"
#define HOTSPOT_KEY_MAX 300
#define HOTSPOT_WINDOW_MAX 720 /* hours: the ring is stored with every key */
#define HOTSPOT_RECENT 8       /* tickets remembered per key: an alert's first evidence */
#define HOTSPOT_TICKET_MAX 48  /* bytes of a ticket id, with its NUL */

typedef struct {
    int64_t at_ms;
    char ticket[HOTSPOT_TICKET_MAX];
} hotspot_recent_t;

typedef struct {
    uint32_t version;  /* HOTSPOT_STATE_VERSION */
    uint32_t window_h; /* the ring's size when written (another: the ring starts empty) */
    int64_t last_seen_ms;
    int64_t ring_hour; /* the newest hour of the ring (at_ms / 1 h) */
    int64_t cur_day;   /* the Vietnam day being counted (days since 1970-01-01, UTC+7) */
    uint32_t day_count;
    uint32_t days; /* completed days folded into ewma (idle ones too) */
    double ewma;
    uint64_t alert_no; /* the key's latest alert (0: none) */
    uint32_t n_recent, recent_head;
    hotspot_recent_t recent[HOTSPOT_RECENT]; /* a ring, newest at recent_head - 1 */
    uint32_t ring[HOTSPOT_WINDOW_MAX];       /* only window_h are stored */
} hotspot_state_t;

#define HOTSPOT_STATE_VERSION 1

/* The state of key into *s; *found false (and *s zeroed, ring of window_h)
 * when absent. A value of another version or size reads as absent (its LRU
 * entry is then replaced at save). 0 or a store code. */
int hotspot_keys_load(cpm_store_t *st, MDB_txn *txn, const char *key, uint32_t window_h,
                      hotspot_state_t *s, bool *found);

/* Write s under key and move its LRU entry from old_seen_ms (found: the key
 * was there) to s->last_seen_ms. 0 or a store code. */
int hotspot_keys_save(cpm_store_t *st, MDB_txn *txn, const char *key, bool found,
                      int64_t old_seen_ms, const hotspot_state_t *s);

/* While more than keys_max - 1 keys are kept, drop the least recently seen
 * (called before a new key is added, so that at most keys_max remain).
 * *evicted += the keys dropped. 0 or a store code. */
int hotspot_keys_evict(cpm_store_t *st, MDB_txn *txn, uint64_t keys_max, uint64_t *evicted);

/* Keys kept now (entries of "hs_keys"). 0 or a store code. */
int hotspot_keys_count(cpm_store_t *st, MDB_txn *txn, uint64_t *n);

#endif
