/* cpm_triage_train: a model file from the corpus's training rows.
 *
 * The features of each training row (business, product, text) are counted
 * per category. The smoothing (alpha), whether a feature counts once per
 * text (binary), and the least number of texts a feature must appear in
 * (min_df) are chosen by 5-fold cross-validation over the training rows
 * (folds by row index; best accuracy, then lower log-loss); the posterior's
 * scale is the one of least cross-validated log-loss. The held-out (test)
 * rows are never looked at. Deterministic: the same corpus gives the same
 * bytes (integers only, keys sorted, features in byte order). */
#ifndef CPM_TRIAGE_TRAIN_H
#define CPM_TRIAGE_TRAIN_H

#include "cpm_err.h"
#include "cpm_triage_corpus.h"

#include <stdio.h>

/* What training chose and measured, for the operator. */
typedef struct {
    size_t rows, features;
    unsigned alpha_milli, scale_milli, min_df, shrink;
    int binary;
    double cv_accuracy, cv_logloss;
} cpm_triage_train_info_t;

/* The model file's text (NUL-terminated, ends with a newline) into *json
 * (free() it). 0 or an error code with err. info may be NULL. */
CPM_MUST_CHECK int cpm_triage_train(const cpm_triage_corpus_t *c, char **json,
                                    cpm_triage_train_info_t *info, cpm_error_t *err);

#endif
