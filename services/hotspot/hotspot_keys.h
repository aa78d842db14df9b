/* hotspot_keys: the detector's state per key in its own LMDB databases, and
 * the bound on how many keys it keeps.
 *
 *   "hs_keys"  key -> hotspot_state_t (fixed part) || u32 count per hour of
 *              the window (window_h of them, a ring indexed by hour % window_h)
 *   "hs_lru"   stamp (u64 big-endian) || key -> "" : the keys in the order the
 *              detector last touched them (stamp: its applied counter, not the
 *              complaint's time, so that a lagging node's old complaints do
 *              not make their keys the first evicted); an entry whose stamp is
 *              not its key's stored one is stale (deleted when met)
 *   "hs_open"  key -> u64 alert number: the key's open alert, kept when the
 *              key itself is evicted, so that a returning key finds it (one
 *              open alert per key); deleted when the alert is decided
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
#define HOTSPOT_OPEN_DB "hs_open"
/* Eviction passes over at most this many keys with an open alert before it
 * evicts one anyway (its alert stays reachable through "hs_open"). */
#define HOTSPOT_EVICT_SKIP 32
#define HOTSPOT_KEY_MAX 300
#define HOTSPOT_WINDOW_MAX 720 /* hours: the ring is stored with every key */
#define HOTSPOT_RECENT 8       /* tickets remembered per key: an alert's first evidence */
#define HOTSPOT_TICKET_MAX 48  /* bytes of a ticket id, with its NUL */

typedef struct {
    int64_t at_ms;
    char ticket[HOTSPOT_TICKET_MAX];
} hotspot_recent_t;

typedef struct {
    uint32_t version;     /* HOTSPOT_STATE_VERSION */
    uint32_t window_h;    /* the ring's size when written (another: the ring starts empty) */
    int64_t last_seen_ms; /* the newest complaint's at_ms */
    uint64_t stamp;       /* the detector's applied counter when last saved (0: unknown) */
    int64_t ring_hour;    /* the newest hour of the ring (at_ms / 1 h) */
    int64_t cur_day;      /* the Vietnam day being counted (days since 1970-01-01, UTC+7) */
    uint32_t day_count;
    uint32_t days; /* completed days folded into ewma (idle ones too) */
    double ewma;
    uint64_t alert_no; /* the key's latest alert (0: none) */
    uint32_t n_recent, recent_head;
    hotspot_recent_t recent[HOTSPOT_RECENT]; /* a ring, newest at recent_head - 1 */
    uint32_t ring[HOTSPOT_WINDOW_MAX];       /* only window_h are stored */
} hotspot_state_t;

#define HOTSPOT_STATE_VERSION 2

/* The state of key into *s; *found false (and *s zeroed, ring of window_h)
 * when absent. A value of another version or size reads as an empty state
 * with *found true (it is counted) and stamp 0: its LRU entry cannot be
 * named, and is dropped as stale by eviction. 0 or a store code. */
int hotspot_keys_load(cpm_store_t *st, MDB_txn *txn, const char *key, uint32_t window_h,
                      hotspot_state_t *s, bool *found);

/* Write s under key and move its LRU entry from old_stamp (0: none known)
 * to s->stamp. 0 or a store code. */
int hotspot_keys_save(cpm_store_t *st, MDB_txn *txn, const char *key, uint64_t old_stamp,
                      const hotspot_state_t *s);

/* While more than keys_max - 1 keys are kept, drop the least recently
 * touched (called before a new key is added, so that at most keys_max
 * remain). Keys with an open alert ("hs_open") are passed over, up to
 * HOTSPOT_EVICT_SKIP of them; then the next is evicted anyway. Stale LRU
 * entries met are deleted. *evicted += the keys dropped. 0 or a store code. */
int hotspot_keys_evict(cpm_store_t *st, MDB_txn *txn, uint64_t keys_max, uint64_t *evicted);

/* The open alert of key ("hs_open") into *n (0: none); set (n > 0) or
 * delete (n == 0) it. 0 or a store code. */
int hotspot_keys_open_get(cpm_store_t *st, MDB_txn *txn, const char *key, uint64_t *n);
int hotspot_keys_open_set(cpm_store_t *st, MDB_txn *txn, const char *key, uint64_t n);

/* Keys kept now (entries of "hs_keys"). 0 or a store code. */
int hotspot_keys_count(cpm_store_t *st, MDB_txn *txn, uint64_t *n);

#endif
