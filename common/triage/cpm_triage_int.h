/* cpm_triage_int: what the model's files share (not for other modules):
 * the feature vocabulary (a string -> index hash table) and naive Bayes
 * scoring, used both at run time and by training's cross-validation. */
#ifndef CPM_TRIAGE_INT_H
#define CPM_TRIAGE_INT_H

#include "cpm_triage.h"
#include "cpm_ttext.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_TRIAGE_PREFIX "hanoi-triage-"

typedef struct tvocab tvocab_t;

tvocab_t *tvocab_new(void);
void tvocab_destroy(tvocab_t **p);
/* The index of s, or -1. */
long tvocab_find(const tvocab_t *v, const char *s);
/* The index of s, added when absent; -1 when out of memory. */
long tvocab_add(tvocab_t *v, const char *s);
size_t tvocab_size(const tvocab_t *v);
const char *tvocab_str(const tvocab_t *v, size_t i);

struct cpm_triage {
    char id[CPM_TRIAGE_ID_MAX + 1];
    size_t ncat;
    char (*cat)[CPM_TRIAGE_SLUG_MAX + 1];
    uint32_t alpha_milli; /* additive smoothing */
    uint32_t scale_milli; /* posterior = softmax(scale * sum / (n + shrink) + log prior) */
    uint32_t shrink;      /* features a text needs before its evidence counts in full */
    uint32_t min_known;   /* fewer known syllables: unknown */
    bool binary;          /* a feature counts once per text */
    double *logprior;     /* ncat */
    float *logp;          /* nfeat * ncat: log P(feature | category) */
    tvocab_t *vocab;
};

/* Features of a text as vocabulary indices: the known features (with
 * repeats unless binary) into idx (n of them), and the syllables known. */
typedef struct {
    long *idx;
    size_t n, cap;
    size_t tokens, known;
} tdoc_t;

int tdoc_from_text(tdoc_t *d, const tvocab_t *v, const cpm_ttext_t *t, bool binary);
void tdoc_free(tdoc_t *d);

/* Posterior per category (p, ncat) of a document: softmax of scale times
 * the sum of its features' log-likelihoods over (n + shrink), plus the log
 * prior: a mean for long texts, less sure for short ones. */
void tnb_posterior(const float *logp, const double *logprior, size_t ncat, double scale,
                   double shrink, const long *idx, size_t n, double *p);

/* Fill logp (nfeat * ncat) and logprior from counts (nfeat * ncat), docs
 * per category and alpha. */
void tnb_fit(const uint32_t *counts, size_t nfeat, size_t ncat, const uint32_t *docs, double alpha,
             float *logp, double *logprior);

#endif
