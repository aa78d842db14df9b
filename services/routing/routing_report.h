/* routing_report: the city's reports of cases by area, in either
 * jurisdiction generation (ReportQuery -> ReportReply; `cpmctl report`).
 *
 * A case keeps the area and the generation it was placed or handled under
 * (closed cases are never relabelled by a reorganization). A report for
 * generation G counts a case under its area when the case's generation is G;
 * otherwise it reads the area through the lineage (cpm_rules_map_unit): one
 * unit of G, counted there; several, counted once in a shared row naming them
 * all ("ba-dinh+tay-ho"), never split or guessed. Cases without an area
 * (triage) are in "(triage)"; an area the lineage does not know (or a case
 * routed before generations) keeps its own name, marked unmapped. So every
 * case is in exactly one row and the totals add up to the cases counted.
 *
 * Coordinators and the city only. One request walks "cases" in ticket order
 * from the cursor and stops at ROUTING_REPORT_SCAN records or before a case
 * that would need row ROUTING_REPORT_ROWS + 1: then truncated is set and
 * next_cursor says where the next page starts (the rows of the pages add up).
 * No sockets. */
#ifndef ROUTING_REPORT_H
#define ROUTING_REPORT_H

#include "cpm_err.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdint.h>

#define ROUTING_REPORT_SCAN 20000 /* case records looked at per request */
#define ROUTING_REPORT_ROWS 512   /* rows per reply: 126 units + shared sets + triage fit */
#define ROUTING_REPORT_TRIAGE "(triage)"

/* Answer q from asker at now_ms: 0 and *out (free with routing_report_free);
 * CPM_E_FORBIDDEN (field "role") for anyone but a coordinator or the city;
 * CPM_E_INVALID naming the field (generation, agency, from_ms, to_ms,
 * cursor); or a store error. */
int routing_report(const cpm_rules_t *rules, cpm_store_t *st, MDB_txn *txn,
                   const Cpm__Member *asker, const Cpm__ReportQuery *q, int64_t now_ms,
                   Cpm__ReportReply **out, cpm_error_t *err);
void routing_report_free(Cpm__ReportReply **p);

#endif
