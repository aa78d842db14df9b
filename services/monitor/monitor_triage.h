/* monitor_triage: the category model's accuracy in production (issue 12),
 * counted per Vietnam month from the event streams.
 *
 * From intake's complaint.received (suggested, suggestion_pm, category_by):
 * suggestions, routed by the model (category_by "model"), sent to triage
 * (a suggestion that did not route), unknown (category "" or "other" with no
 * suggestion and not routed by the model: the model could not tell, or no
 * model ran). From routing's case.categorized (a person's choice, with the
 * suggestion it answers): choices equal to the suggestion, different ones
 * (a confusion matrix suggested x chosen), choices without a suggestion, and
 * model-routed cases a person re-categorized otherwise.
 *
 * A case counts once among the choices: its latest choice, in the month of
 * that choice (a second choice replaces the first's contribution). For that
 * the module keeps per ticket what it needs ("mon_tri_cases": whether the
 * model routed it, the choice counted), bounded by the caller's cases_max.
 *
 * monitor_triage_apply runs in the transaction of monitor_apply, after it
 * said the event is new (not MON_ALREADY), so each event counts exactly once
 * across a crash, like the monitor's other aggregates. No sockets. */
#ifndef MONITOR_TRIAGE_H
#define MONITOR_TRIAGE_H

#include "cpm_store.h"
#include "cpmesh.pb-c.h"
#include "monitor.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

#define MONITOR_TRIAGE_DB "mon_triage" /* "YYYYMM|n|name" / "YYYYMM|p|sugg|chosen" -> i64 */
#define MONITOR_TRIAGE_CASES_DB "mon_tri_cases" /* ticket -> per-case memory */
#define MONITOR_TRIAGE_DBS MONITOR_TRIAGE_DB, MONITOR_TRIAGE_CASES_DB

/* Count ev (of service) if it is one of the kinds above. *full (may be NULL)
 * tells that the ticket's memory was not kept (cases_max reached; the event
 * still counted). 0 or a store code. */
int monitor_triage_apply(cpm_store_t *st, MDB_txn *txn, uint64_t cases_max, const char *service,
                         const Cpm__Event *ev, bool *full);

/* The figures of the months that overlap [from_ms, to_ms) (from 0: the
 * first month counted; to 0: now_ms). *out is freed with
 * monitor_triage_free. 0, CPM_E_INVALID (to before from), -1 on memory, or a
 * store code. */
int monitor_triage_stats(cpm_store_t *st, MDB_txn *txn, int64_t from_ms, int64_t to_ms,
                         int64_t now_ms, Cpm__TriageStatsReply **out);
void monitor_triage_free(Cpm__TriageStatsReply **r);

#endif
