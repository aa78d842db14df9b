/* routing_reorg: a new jurisdiction generation applied to the register.
 *
 * When the generation in force (cpm_rules_generation_at on routing's clock)
 * is not the one last applied, routing walks its cases in ticket order, a
 * bounded number per step, and moves every OPEN case recorded under an older
 * generation: each successor unit of its unit (cpm_rules_successors) is
 * routed again under the new generation (same category, urgency, agencies
 * that returned it skipped); when they all give one agency, the case goes
 * there (a transfer, routing_transfer, or only a new unit when the agency is
 * the same), with the successor as its unit when the old unit went whole;
 * when they disagree, or there is no successor, it goes to triage with the
 * candidates in the history note. Closed cases keep their unit, generation
 * and agency; cases without a generation (the legacy form) are left alone.
 *
 * The walk's cursor ("reorg" database: "cursor:<generation>" -> last ticket,
 * "applied" -> the generation done) is written in the same transaction as
 * the moves of its step, so a SIGKILL resumes after the last committed case
 * and no case moves twice. No sockets. */
#ifndef ROUTING_REORG_H
#define ROUTING_REORG_H

#include "cpm_effects.h"
#include "cpm_registry.h"
#include "cpm_rules.h"
#include "cpm_store.h"
#include "routing_domain.h" /* ROUTING_REORG_DB */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t scanned;    /* cases looked at */
    size_t moved;      /* transferred to a successor's agency */
    size_t triaged;    /* to triage with candidates */
    size_t relabelled; /* same agency, new unit and generation */
    bool finished;     /* this step ended the walk ("applied" written) */
    char generation[16];
} routing_reorg_stats_t;

/* One step: at most max cases. Nothing to do is 0 with stats all zero. 0
 * or a store error (the caller aborts the transaction; the step is redone). */
int routing_reorg_step(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                       MDB_txn *txn, const cpm_effects_t *fx, int64_t now_ms, size_t max,
                       routing_reorg_stats_t *stats);

#endif
