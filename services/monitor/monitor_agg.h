/* monitor_agg: per-month aggregates of the monitor's facts, so that a report
 * over whole months costs O(groups x months x keys) instead of a walk over
 * every case fact.
 *
 * Groups: the city ("c"), the agency holding a case or that made a record
 * ("g:" agency), and the case's or record's own area in its own generation
 * ("a:" gen ":" slug; a query for an area sums the groups of every (gen,
 * slug) pair of its lineage, monitor_areas). Month: the Vietnam month a case
 * was received / a record happened (the report counts by those times).
 *
 * "mon_agg" holds one int64 per key: group NUL YYYYMM dim value, where dim
 * is one byte: 'n' a counter (value: the mon_eff_t field name), 'x' an
 * outcome (value: its digit), 'a' / 'r' the histogram of working days to
 * accept / to resolve (value: the days, 4 digits), 'c' / 'k' / 'w' the
 * breakdown by channel / category / gen:area, and 'd' the open cases that
 * become overdue on a day (value: days since 1970-01-01, 6 digits): "overdue
 * now" is then the sum of 'd' keys up to today's date. Working days are small
 * integers, so medians and 90th percentiles over any set of months are exact
 * by adding histograms. Keys whose count returns to 0 are deleted.
 *
 * A case's contribution is a pure function of its fact (the same rules as
 * mon_acc_case): monitor_agg_case subtracts the old fact's contribution and
 * adds the new one's, in the transaction that stores the fact, so the
 * aggregates always equal what a scan of the facts would find. */
#ifndef MONITOR_AGG_H
#define MONITOR_AGG_H

#include "cpm_store.h"
#include "monitor_eff.h"

#include <stdbool.h>

#define MONITOR_AGG_DB "mon_agg"
/* The facts by time: 'c' + received_ms (8 bytes big-endian) + ticket, 'r' +
 * at_ms + record key; kept with the aggregates (same transaction, same
 * rebuild), so that a report over a period that is not whole months walks
 * only the facts of that period. */
#define MONITOR_TIME_DB "mon_bytime"
/* u64 in "meta": MONITOR_AGG_VERSION once the aggregates cover every fact. */
#define MONITOR_AGG_KEY "monitor.agg_version"
#define MONITOR_AGG_VERSION 1

/* Replace old's contribution (NULL: a new case) by neu's, and its entry in
 * the time index. 0 or a store code. */
int monitor_agg_case(cpm_store_t *st, MDB_txn *txn, const mon_cal_t *cal, const mon_case_t *old,
                     const mon_case_t *neu);
/* Add a record's contribution (key: its key in "mon_recs"). 0 or a store
 * code. */
int monitor_agg_rec(cpm_store_t *st, MDB_txn *txn, const void *key, size_t klen,
                    const mon_rec_t *r);

/* Whether the aggregates cover every fact (the version key is set). */
bool monitor_agg_ready(cpm_store_t *st, MDB_txn *txn);

/* Rebuilding after an upgrade, a bounded step at a time: pos is the
 * caller's position (zeroed to start); each step adds at most budget facts
 * and returns 1 when done (then the version key is set), 0 when there is
 * more, or a store code. The caller applies no events until done. */
typedef struct {
    int stage; /* 0: not started, 1: cases, 2: records, 3: done */
    char key[128];
    size_t klen;
} monitor_agg_pos_t;
int monitor_agg_rebuild(cpm_store_t *st, MDB_txn *txn, const mon_cal_t *cal, monitor_agg_pos_t *pos,
                        long budget);

/* Whether q can be answered from the aggregates: whole months, and not both
 * an agency and an area (no group for the pair). */
bool monitor_agg_covers(const mon_query_t *q);
/* The figures of q from the aggregates (monitor_agg_covers(q) must hold).
 * 0, -1 on memory, or a store code. */
int monitor_agg_compute(cpm_store_t *st, MDB_txn *txn, const mon_cal_t *cal, const mon_query_t *q,
                        mon_eff_t *out);

/* The figures of any q (monitor_agg_ready must hold): the whole months
 * inside q's period from the aggregates (unless q names both an agency and
 * an area), the days before the first and after the last of them by
 * walking only those days' facts through the time index. 0, -1 on memory,
 * or a store code. */
int monitor_agg_scan(cpm_store_t *st, MDB_txn *txn, const mon_cal_t *cal, const mon_query_t *q,
                     mon_eff_t *out);

#endif
