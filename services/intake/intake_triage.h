/* intake_triage: the category model at intake (docs/protocol.md 24.2).
 *
 * When a complaint comes without a category or with "other", the model
 * (cpm_triage, the file of config triage_model) suggests one: the
 * complaint gets category_suggested ("" = unknown), suggestion_pm and
 * model_version; when the suggestion is a real category (not "" nor
 * "other") at or above triage_min_pm, category becomes it and
 * category_by = "model", else the category stays as it was and the rules
 * send the case to triage with the suggestion shown. Counters:
 * intake.triage_suggested (a suggestion was made), .triage_routed (it set
 * the category), .triage_low (a real category below the threshold, or
 * "other"), .triage_unknown (the model could not tell).
 *
 * A missing or bad model file never stops intake: it logs why, counts
 * intake.triage_model_bad (a health line), and runs without suggestions. */
#ifndef INTAKE_TRIAGE_H
#define INTAKE_TRIAGE_H

#include "cpm_err.h"
#include "cpm_metrics.h"
#include "cpm_rules.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct intake_triage intake_triage_t;

/* path (NULL or "": no model, no suggestions), min_pm the routing
 * threshold, metrics the counters (borrowed, may be NULL). NULL only when
 * out of memory; a model that cannot be loaded is logged and left out. */
intake_triage_t *intake_triage_new(const char *path, uint32_t min_pm, cpm_metrics_t *metrics);
void intake_triage_destroy(intake_triage_t **p);
/* true when a model is loaded. */
bool intake_triage_ready(const intake_triage_t *t);

/* Suggest for c (already validated) when its category is empty or
 * "other", setting the fields above; a suggestion routes only when it is
 * one of rules' categories (rules may be NULL: not checked) (heap copies: c is freed by its
 * unpacker). 0 (also when there is nothing to do), CPM_E_INTERNAL when out
 * of memory, CPM_E_INVALID from the model (a text not UTF-8: err names it). */
int intake_triage_apply(intake_triage_t *t, const cpm_rules_t *rules, Cpm__Complaint *c,
                        cpm_error_t *err);

#endif
