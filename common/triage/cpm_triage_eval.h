/* cpm_triage_eval: how well a model does on one set of the corpus (the
 * held-out "test" rows, or "train"): accuracy of its best category,
 * macro-F1, precision / recall / F1 per category, the confusion matrix
 * (true x predicted), and what intake would do at a confidence threshold:
 * how many it would route, how many of those right, how many unknown. */
#ifndef CPM_TRIAGE_EVAL_H
#define CPM_TRIAGE_EVAL_H

#include "cpm_err.h"
#include "cpm_triage.h"
#include "cpm_triage_corpus.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct cpm_triage_eval cpm_triage_eval_t;

/* Evaluate m on c's test rows (test) or training rows. NULL with err when a
 * corpus category is not one of the model's (field "category"). */
CPM_MUST_CHECK cpm_triage_eval_t *cpm_triage_eval_run(const cpm_triage_t *m,
                                                      const cpm_triage_corpus_t *c, bool test,
                                                      uint32_t min_pm, cpm_error_t *err);
void cpm_triage_eval_destroy(cpm_triage_eval_t **p);

double cpm_triage_eval_accuracy(const cpm_triage_eval_t *e);
double cpm_triage_eval_macro_f1(const cpm_triage_eval_t *e);
size_t cpm_triage_eval_rows(const cpm_triage_eval_t *e);

/* A JSON object (new reference): model_id, set, rows, accuracy, macro_f1,
 * min_pm, routed, routed_accuracy, unknown, categories [{slug, support,
 * precision, recall, f1}], confusion {labels, rows (true x predicted)}. */
json_t *cpm_triage_eval_json(const cpm_triage_eval_t *e);
/* The same for humans: a table and the matrix (columns = predicted, by
 * the row's number). */
void cpm_triage_eval_print(const cpm_triage_eval_t *e, FILE *out);

#endif
