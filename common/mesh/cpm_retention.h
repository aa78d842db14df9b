/* cpm_retention: dead letters are kept for a retention period, then deleted.
 *
 * A dead letter (see cpm_inbox) is a record a service could not apply; it may
 * hold personal data (sealed contacts, business names, descriptions), so it
 * must not stay for ever. The "dead" format carries no time, so the sweep
 * notes when it first saw each dead letter in CPM_RETENTION_DB (same key ->
 * first-seen ms, big-endian u64) and deletes the letter and its note once
 * retention has passed since then. A service lists CPM_RETENTION_DB among
 * its databases and calls cpm_retention_tick from its tick. */
#ifndef CPM_RETENTION_H
#define CPM_RETENTION_H

#include "cpm_err.h"

#include "cpm_server.h"
#include "cpm_store.h"

#include <stddef.h>
#include <stdint.h>

#define CPM_RETENTION_DB "dead.seen"
/* How often cpm_retention_tick sweeps: the error on a dead letter's age. */
#define CPM_RETENTION_EVERY_MS 60000

/* One pass over "dead" in txn: note new letters as seen at now_ms, delete
 * letters first seen at least retention_ms before now_ms, and drop notes
 * whose letter is gone; at most max changes. *deleted gets the letters
 * deleted. 0 or a store error. */
CPM_MUST_CHECK int cpm_retention_sweep_dead(cpm_store_t *st, MDB_txn *txn, int64_t now_ms,
                                            int64_t retention_ms, size_t max, size_t *deleted);

/* From a service's tick: sweep (in its own durable write) when the last
 * sweep is CPM_RETENTION_EVERY_MS old (or the retention, if shorter), with the config's
 * dead_retention_s; counts "retention.dead_deleted" and logs what it deleted. */
void cpm_retention_tick(cpm_server_t *srv);

#endif
