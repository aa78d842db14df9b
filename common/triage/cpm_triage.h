/* cpm_triage: the category model: suggest a complaint's category from its
 * business name, product and description.
 *
 * A multinomial naive Bayes model over the features of cpm_ttext (syllables
 * and syllable bigrams, with diacritics and folded), trained by
 * cpm_triage_train from the deployment's corpus and shipped as a versioned
 * JSON file (format in docs/protocol.md, section 24). The file is checked
 * and bounded before use: at most CPM_TRIAGE_FILE_MAX bytes, at most
 * CPM_TRIAGE_CATS_MAX categories and CPM_TRIAGE_FEATS_MAX features, and
 * features x categories at most CPM_TRIAGE_CELLS_MAX (the loader holds a
 * dense table of that many counts and as many probabilities: at most
 * 32 MB; checked before anything of that size is allocated), every
 * number an integer in its range; anything else is refused with an error
 * naming the offending field. The vocabulary's hash table is keyed
 * (SipHash, a random key per loaded model): feature names cannot be
 * chosen to collide.
 *
 * Confidence (per mille) is the model's posterior for its best category,
 * computed from the mean log-likelihood per known feature with a scale
 * fitted at training (cross-validated log-loss), times the share of the
 * text's syllables the model knows. A text with fewer than min_known known
 * syllables, or of which less than half the syllables are known (empty,
 * digits only, another language), is "unknown": category "" and confidence
 * 0. The best category is still given in top.
 *
 * A model is read-only after loading: one may be shared by callers that
 * do not modify it (suggest allocates its own scratch). */
#ifndef CPM_TRIAGE_H
#define CPM_TRIAGE_H

#include "cpm_err.h"
#include "cpm_ttext.h"

#include <stddef.h>
#include <stdint.h>

#define CPM_TRIAGE_FORMAT "cpmesh-triage-model"
#define CPM_TRIAGE_VERSION 1
/* The shipped model: 309 KB, 11,069 features x 15 categories (166k cells). */
#define CPM_TRIAGE_FILE_MAX (8u << 20) /* bytes of a model file */
#define CPM_TRIAGE_CATS_MAX 64
#define CPM_TRIAGE_FEATS_MAX 1000000
#define CPM_TRIAGE_CELLS_MAX 4000000    /* features x categories */
#define CPM_TRIAGE_COUNT_MAX 100000000u /* any one count in the file */
#define CPM_TRIAGE_ID_MAX 64
#define CPM_TRIAGE_SLUG_MAX 64
#define CPM_TRIAGE_WHY_MAX 5
#define CPM_TRIAGE_WHY_LEN (2 * CPM_TTEXT_TOKEN_MAX + 2)

typedef struct cpm_triage cpm_triage_t;

typedef struct {
    char category[CPM_TRIAGE_SLUG_MAX + 1]; /* the suggestion; "" = unknown */
    char top[CPM_TRIAGE_SLUG_MAX + 1];      /* the most likely category, even when unknown */
    uint32_t pm;                            /* confidence in category, per mille (0 if unknown) */
    uint32_t top_pm;                        /* the posterior of top, per mille */
    size_t nwhy;                            /* features that weighed most for top */
    char why[CPM_TRIAGE_WHY_MAX][CPM_TRIAGE_WHY_LEN];
    size_t tokens, known; /* syllables in the text, and those the model knows */
} cpm_triage_suggestion_t;

/* Read and check a model file. NULL with err: CPM_E_NOT_FOUND (no file),
 * CPM_E_TOO_LARGE (over CPM_TRIAGE_FILE_MAX; or "features" when features x
 * categories is over CPM_TRIAGE_CELLS_MAX), CPM_E_INVALID (err->field
 * names what is wrong: "format", "version", "categories", "features", ...). */
CPM_MUST_CHECK cpm_triage_t *cpm_triage_load(const char *path, cpm_error_t *err);
/* The same from a buffer of len bytes. */
CPM_MUST_CHECK cpm_triage_t *cpm_triage_parse(const char *buf, size_t len, cpm_error_t *err);
/* Safe on NULL and twice; sets *p to NULL. */
void cpm_triage_destroy(cpm_triage_t **p);

/* "hanoi-triage-1/<8 hex>": the version and the corpus it was trained on. */
const char *cpm_triage_id(const cpm_triage_t *m);
size_t cpm_triage_ncategories(const cpm_triage_t *m);
const char *cpm_triage_category(const cpm_triage_t *m, size_t i);
size_t cpm_triage_nfeatures(const cpm_triage_t *m);

/* Suggest a category for a complaint (each text may be NULL or ""). 0 and
 * *out filled; CPM_E_INVALID naming "business", "product" or "description"
 * when one is not UTF-8; CPM_E_INTERNAL when out of memory. Only the first
 * CPM_TTEXT_USE_MAX bytes of each text are used. */
CPM_MUST_CHECK int cpm_triage_suggest(const cpm_triage_t *m, const char *business,
                                      const char *product, const char *description,
                                      cpm_triage_suggestion_t *out, cpm_error_t *err);

#endif
