/* monitor_facts: the monitor's own store of facts derived from the event
 * streams of intake, routing and inspection, and the report over them.
 *
 * monitor_apply runs inside the write transaction that also records the
 * source's cursor (node/service -> seq, hash in "mon_cursors"), so a fact is
 * derived exactly once even across SIGKILL: after a crash the transaction
 * either holds both the facts and the cursor or neither.
 *
 * Facts: "mon_cases" ticket -> mon_case_t (lifecycle from routing's case.*
 * events only, the city's register, so that inspection's copies of the same
 * transitions are not counted twice; complaint.received from intake gives
 * the time received and the channel); "mon_recs" node/service/seq ->
 * mon_rec_t (consultation.recorded, inspection.closed, violation.recorded).
 * Bounded: at most cases_max cases (new ones beyond are refused and counted
 * by the caller). */
#ifndef MONITOR_FACTS_H
#define MONITOR_FACTS_H

#include "cpm_retention.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"
#include "monitor_eff.h"

#include <stdint.h>

/* CPM_RETENTION_DB: every service's tick runs the dead-letter sweep. */
#define MONITOR_DATABASES                                                                          \
    "mon_cases", "mon_recs", "mon_cursors", "mon_acts", "mon_agg", "mon_bytime", CPM_RETENTION_DB

/* u64 in "meta": events read from the streams (applied or not), moved in the
 * same transaction as the cursors. */
#define MONITOR_SEEN_KEY "monitor.events_seen"

typedef enum { MON_APPLIED = 0, MON_IGNORED = 1, MON_FULL = 2, MON_ALREADY = 3 } mon_apply_t;

/* Apply ev of node/service and move that source's cursor to it, and (cal
 * not NULL) the per-month aggregates of monitor_agg with the fact. Returns
 * MON_APPLIED, MON_IGNORED (a kind the monitor does not use), MON_FULL
 * (cases_max reached; cursor still moved), MON_ALREADY (seq at or below the
 * source's cursor: applied before, nothing changed), or a negative store code. */
int monitor_apply(cpm_store_t *st, MDB_txn *txn, const cpm_rules_t *rules, const mon_cal_t *cal,
                  uint64_t cases_max, const char *node, const char *service, const Cpm__Event *ev);

typedef void (*monitor_cursor_fn)(void *ctx, const char *node, const char *service, uint64_t seq,
                                  const uint8_t hash[32]);
/* Each stored cursor. 0 or a store code. */
int monitor_cursors(cpm_store_t *st, MDB_txn *txn, monitor_cursor_fn fn, void *ctx);

/* The working-day calendar of the rules, 2000-01-01 to 2099-12-31. */
mon_cal_t *monitor_cal_from_rules(const cpm_rules_t *r);

/* The (generation, unit) pairs that are area: "GEN:slug" or a bare slug (the
 * generation in force at now_ms if it has the unit, else the first that has
 * it), plus the units of the other generations that map onto it alone
 * through the lineage. *out is malloc'd (slugs valid while rules live).
 * 0, or -1 for an unknown area. */
int monitor_areas(const cpm_rules_t *r, const char *area, int64_t now_ms, mon_area_t **out,
                  size_t *n);

/* Figures of q over every fact (a walk of every fact; monitor_agg_compute
 * answers whole months from the aggregates). 0 or a store code / -1 on memory. */
int monitor_compute(cpm_store_t *st, MDB_txn *txn, const mon_cal_t *cal, const mon_query_t *q,
                    mon_eff_t *out);

#endif
