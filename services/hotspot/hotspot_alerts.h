/* hotspot_alerts: the alerts the detector opened, and the coordinators'
 * decisions on them.
 *
 *   "hs_alerts"  16 hex digits of n -> HotspotAlert (proto/hotspot.proto) of
 *                id "H<n>", n = 1, 2, ... from "meta" HOTSPOT_NEXT_ALERT
 *
 * Events appended to the service's own log (cpm_effects_t, same transaction):
 *   hotspot.alert      at opening: ticket = id, area, category, business,
 *                      address, rule = kind, note = one line of evidence
 *   hotspot.confirmed  / hotspot.dismissed: ticket = id, area, category,
 *                      business, address, rule = kind, actor, note = reason */
#ifndef HOTSPOT_ALERTS_H
#define HOTSPOT_ALERTS_H

#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_store.h"
#include "cpm_sweep.h"
#include "hotspot.pb-c.h"

#include <stdint.h>

#define HOTSPOT_ALERTS_DB "hs_alerts"
#define HOTSPOT_NEXT_ALERT "hotspot.next_alert"
#define HOTSPOT_TICKETS_MAX 50
#define HOTSPOT_LIST_MAX 200
#define HOTSPOT_LIST_DEFAULT 50
#define HOTSPOT_REASON_MAX 1000
/* Alerts a list request looks at, at most: beyond, the reply is truncated
 * with next_after = the last looked at (a state filter may match few). */
#define HOTSPOT_LIST_SCAN_MAX 2000
/* Decided alerts are deleted this long after their decision. */
#define HOTSPOT_RETENTION_MS (365LL * 86400000LL)

/* n of "H<n>" (0: not an alert id). */
uint64_t hotspot_alert_no(const char *id);

/* The alert n into *out (free with cpm__hotspot_alert__free_unpacked).
 * CPM_E_NOT_FOUND or a store code. */
int hotspot_alert_get(cpm_store_t *st, MDB_txn *txn, uint64_t n, Cpm__HotspotAlert **out);
/* Store a (its id names n). 0 or a store code. */
int hotspot_alert_put(cpm_store_t *st, MDB_txn *txn, const Cpm__HotspotAlert *a);
/* A new alert number (moves HOTSPOT_NEXT_ALERT). 0 or a store code. */
int hotspot_alert_next(cpm_store_t *st, MDB_txn *txn, uint64_t *n);

/* The one-line evidence of a: "15 complaints in 48 h, expected 0.40 (0.20/day), p=1.2e-09;
 * tickets A, B, C, D, E ..." into buf. */
void hotspot_alert_evidence(const Cpm__HotspotAlert *a, char *buf, size_t cap);

/* Append a's event kind (hotspot.alert, .confirmed, .dismissed) with note
 * and actor (NULL: none). 0 or a store code. */
int hotspot_alert_event(const cpm_effects_t *fx, MDB_txn *txn, const char *kind,
                        const Cpm__HotspotAlert *a, const char *actor, const char *note);

/* The page q asks for (state "" = open, "all" = any; oldest first, after
 * the id q->after). *out is malloc'd: free with hotspot_alert_list_free.
 * CPM_E_INVALID naming the field (state, max, after), or a store code. */
int hotspot_alert_list(cpm_store_t *st, MDB_txn *txn, const Cpm__HotspotListQuery *q,
                       Cpm__HotspotListReply **out, cpm_error_t *err);
void hotspot_alert_list_free(Cpm__HotspotListReply **p);

/* One bounded retention step (cpm_sweep over "hs_alerts", cur kept by the
 * caller): decided alerts whose decision is older than max_age_ms before
 * now_ms are deleted. 0 or a store code. */
int hotspot_alert_purge(cpm_store_t *st, MDB_txn *txn, cpm_sweep_cursor_t *cur, size_t max,
                        int64_t now_ms, int64_t max_age_ms, cpm_sweep_stats_t *stats);

/* A coordinator's decision on an open alert, at now_ms by actor: state,
 * decided_by, decided_ms and reason set, its event appended. *out gets the
 * alert as decided (free with cpm__hotspot_alert__free_unpacked).
 * CPM_E_INVALID (reason, id), CPM_E_NOT_FOUND (id), CPM_E_CONFLICT (decided
 * already), or a store code. */
int hotspot_alert_decide(cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx, const char *actor,
                         int64_t now_ms, const Cpm__HotspotDecision *d, Cpm__HotspotAlert **out,
                         cpm_error_t *err);

#endif
