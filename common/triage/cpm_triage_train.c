/* cpm_triage_train: training with cross-validated choices. See
 * cpm_triage_train.h. */
#include "cpm_triage_train.h"

#include "cpm_triage_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FOLDS 5
#define MIN_KNOWN 3

static const unsigned ALPHAS[] = {50, 100, 200, 350, 500, 1000};
static const unsigned SCALES[] = {1000,  2000,  3000,  4000,  5000,  6000,  8000,  10000,
                                  12000, 15000, 20000, 25000, 30000, 40000, 60000, 80000};
#define NSCALE (sizeof SCALES / sizeof SCALES[0])
static const unsigned SHRINKS[] = {0, 10, 20, 40, 80, 160};
#define NSHRINK (sizeof SHRINKS / sizeof SHRINKS[0])

/* A training row as vocabulary indices (sorted, repeats kept). */
typedef struct {
    long *idx;
    size_t n;
    size_t cat;
    int fold;
} trow_t;

typedef struct {
    const cpm_triage_corpus_t *c;
    size_t ncat;
    tvocab_t *v;
    trow_t *rows;
    size_t nrows;
    uint32_t *df;     /* per feature: rows containing it */
    uint32_t *dffold; /* per fold and feature */
} tset_t;

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static void tset_free(tset_t *s)
{
    for (size_t i = 0; i < s->nrows; i++)
        free(s->rows[i].idx);
    free(s->rows);
    free(s->df);
    free(s->dffold);
    tvocab_destroy(&s->v);
}

static int tset_build(tset_t *s, const cpm_triage_corpus_t *c, cpm_error_t *err)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->ncat = cpm_triage_corpus_ncategories(c);
    s->v = tvocab_new();
    s->rows = calloc(cpm_triage_corpus_nrows(c) + 1, sizeof *s->rows);
    cpm_ttext_t *t = cpm_ttext_new();
    if (!s->v || !s->rows || !t) {
        cpm_ttext_destroy(&t);
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < cpm_triage_corpus_nrows(c) && rc == 0; i++) {
        const cpm_triage_row_t *r = cpm_triage_corpus_row(c, i);
        if (r->test)
            continue;
        cpm_ttext_clear(t);
        if ((rc = cpm_ttext_add(t, "business", r->business, err)) ||
            (rc = cpm_ttext_add(t, "product", r->product, err)) ||
            (rc = cpm_ttext_add(t, "description", r->text, err)))
            break;
        trow_t *tr = &s->rows[s->nrows];
        tr->cat = r->cat;
        tr->fold = (int)(s->nrows % FOLDS);
        tr->idx = malloc((cpm_ttext_count(t) + 1) * sizeof *tr->idx);
        if (!tr->idx) {
            rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
            break;
        }
        s->nrows++;
        for (size_t k = 0; k < cpm_ttext_count(t); k++) {
            long id = tvocab_add(s->v, cpm_ttext_feature(t, k));
            if (id < 0) {
                rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
                break;
            }
            tr->idx[tr->n++] = id;
        }
        qsort(tr->idx, tr->n, sizeof *tr->idx, cmp_long);
    }
    cpm_ttext_destroy(&t);
    if (rc != 0)
        return rc;
    if (s->nrows < s->ncat)
        return cpm_error_set(err, CPM_E_INVALID, "corpus", "too few training rows (%zu).",
                             s->nrows);
    size_t nf = tvocab_size(s->v);
    s->df = calloc(nf + 1, sizeof *s->df);
    s->dffold = calloc((nf + 1) * FOLDS, sizeof *s->dffold);
    if (!s->df || !s->dffold)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    for (size_t i = 0; i < s->nrows; i++)
        for (size_t k = 0; k < s->rows[i].n; k++)
            if (k == 0 || s->rows[i].idx[k] != s->rows[i].idx[k - 1]) {
                s->df[s->rows[i].idx[k]]++;
                s->dffold[(size_t)s->rows[i].fold * nf + (size_t)s->rows[i].idx[k]]++;
            }
    return 0;
}

/* A model's tables over the features kept (map: feature -> kept index or
 * -1) from the rows not in fold (-1: all rows). */
typedef struct {
    long *map;
    size_t nkept;
    uint32_t *counts, docs[CPM_TRIAGE_CATS_MAX];
    float *logp;
    double logprior[CPM_TRIAGE_CATS_MAX];
} tfit_t;

static void tfit_free(tfit_t *f)
{
    free(f->map);
    free(f->counts);
    free(f->logp);
    memset(f, 0, sizeof *f);
}

static int tfit_build(tfit_t *f, const tset_t *s, int fold, bool binary, unsigned min_df,
                      unsigned alpha_milli)
{
    size_t nf = tvocab_size(s->v), nc = s->ncat;
    memset(f, 0, sizeof *f);
    f->map = malloc((nf + 1) * sizeof *f->map);
    if (!f->map)
        return -1;
    for (size_t k = 0; k < nf; k++) {
        uint32_t df = s->df[k] - (fold >= 0 ? s->dffold[(size_t)fold * nf + k] : 0);
        f->map[k] = df >= min_df && df > 0 ? (long)f->nkept++ : -1;
    }
    f->counts = calloc(f->nkept * nc + 1, sizeof *f->counts);
    f->logp = malloc((f->nkept * nc + 1) * sizeof *f->logp);
    if (!f->counts || !f->logp)
        return -1;
    for (size_t i = 0; i < s->nrows; i++) {
        const trow_t *r = &s->rows[i];
        if (r->fold == fold)
            continue;
        f->docs[r->cat]++;
        for (size_t k = 0; k < r->n; k++) {
            if (binary && k > 0 && r->idx[k] == r->idx[k - 1])
                continue;
            long m = f->map[r->idx[k]];
            if (m >= 0)
                f->counts[(size_t)m * nc + r->cat]++;
        }
    }
    tnb_fit(f->counts, f->nkept, nc, f->docs, alpha_milli / 1000.0, f->logp, f->logprior);
    return 0;
}

typedef struct {
    size_t right, total;
    double loss[NSHRINK][NSCALE];
} tscore_t;

/* Score the rows of fold against f, for every scale. */
static int score_fold(const tset_t *s, const tfit_t *f, int fold, bool binary, tscore_t *sc)
{
    size_t nc = s->ncat;
    long *idx = NULL;
    size_t cap = 0;
    double p[CPM_TRIAGE_CATS_MAX];
    for (size_t i = 0; i < s->nrows; i++) {
        const trow_t *r = &s->rows[i];
        if (r->fold != fold)
            continue;
        if (r->n > cap) {
            long *ni = realloc(idx, r->n * sizeof *ni);
            if (!ni) {
                free(idx);
                return -1;
            }
            idx = ni;
            cap = r->n;
        }
        size_t n = 0;
        for (size_t k = 0; k < r->n; k++) {
            if (binary && k > 0 && r->idx[k] == r->idx[k - 1])
                continue;
            if (f->map[r->idx[k]] >= 0)
                idx[n++] = f->map[r->idx[k]];
        }
        for (size_t j = 0; j < NSCALE * NSHRINK; j++) {
            size_t js = j % NSCALE, jk = j / NSCALE;
            tnb_posterior(f->logp, f->logprior, nc, SCALES[js] / 1000.0, SHRINKS[jk], idx, n, p);
            sc->loss[jk][js] -= log(p[r->cat] > 1e-12 ? p[r->cat] : 1e-12);
            if (j == 0) {
                size_t top = 0;
                for (size_t c = 1; c < nc; c++)
                    if (p[c] > p[top])
                        top = c;
                sc->right += top == r->cat;
                sc->total++;
            }
        }
    }
    free(idx);
    return 0;
}

typedef struct {
    bool binary;
    unsigned min_df, alpha, scale, shrink;
    double acc, loss;
} tchoice_t;

static int cross_validate(const tset_t *s, bool binary, unsigned min_df, unsigned alpha,
                          tchoice_t *out)
{
    tscore_t sc = {0};
    for (int fold = 0; fold < FOLDS; fold++) {
        tfit_t f;
        int rc = tfit_build(&f, s, fold, binary, min_df, alpha);
        if (rc == 0)
            rc = score_fold(s, &f, fold, binary, &sc);
        tfit_free(&f);
        if (rc != 0)
            return -1;
    }
    size_t bs = 0, bk = 0;
    for (size_t k = 0; k < NSHRINK; k++)
        for (size_t j = 0; j < NSCALE; j++)
            if (sc.loss[k][j] < sc.loss[bk][bs]) {
                bs = j;
                bk = k;
            }
    *out = (tchoice_t){.binary = binary,
                       .min_df = min_df,
                       .alpha = alpha,
                       .scale = SCALES[bs],
                       .shrink = SHRINKS[bk],
                       .acc = (double)sc.right / (double)sc.total,
                       .loss = sc.loss[bk][bs] / (double)sc.total};
    return 0;
}

static const tvocab_t *sort_vocab;
static int cmp_feat(const void *a, const void *b)
{
    return strcmp(tvocab_str(sort_vocab, *(const size_t *)a),
                  tvocab_str(sort_vocab, *(const size_t *)b));
}

static json_t *model_json(const tset_t *s, const tfit_t *f, const tchoice_t *ch)
{
    size_t nf = tvocab_size(s->v), nc = s->ncat;
    json_t *root = json_object();
    char id[CPM_TRIAGE_ID_MAX + 1];
    snprintf(id, sizeof id, CPM_TRIAGE_PREFIX "%d/%.8s", CPM_TRIAGE_VERSION,
             cpm_triage_corpus_sha256(s->c));
    json_object_set_new(root, "format", json_string(CPM_TRIAGE_FORMAT));
    json_object_set_new(root, "version", json_integer(CPM_TRIAGE_VERSION));
    json_object_set_new(root, "model_id", json_string(id));
    json_object_set_new(root, "kind", json_string("multinomial_nb"));
    json_object_set_new(root, "alpha_milli", json_integer(ch->alpha));
    json_object_set_new(root, "scale_milli", json_integer(ch->scale));
    json_object_set_new(root, "shrink", json_integer(ch->shrink));
    json_object_set_new(root, "min_known", json_integer(MIN_KNOWN));
    json_object_set_new(root, "binary", json_boolean(ch->binary));
    json_t *cats = json_array();
    for (size_t c = 0; c < nc; c++)
        json_array_append_new(cats,
                              json_pack("{s:s, s:I}", "slug", cpm_triage_corpus_category(s->c, c),
                                        "docs", (json_int_t)f->docs[c]));
    json_object_set_new(root, "categories", cats);
    size_t *order = malloc((nf + 1) * sizeof *order), n = 0;
    if (!order) {
        json_decref(root);
        return NULL;
    }
    for (size_t k = 0; k < nf; k++)
        if (f->map[k] >= 0)
            order[n++] = k;
    sort_vocab = s->v;
    qsort(order, n, sizeof *order, cmp_feat);
    json_t *feats = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array();
        json_array_append_new(e, json_string(tvocab_str(s->v, order[i])));
        const uint32_t *row = f->counts + (size_t)f->map[order[i]] * nc;
        for (size_t c = 0; c < nc; c++)
            if (row[c]) {
                json_array_append_new(e, json_integer((json_int_t)c));
                json_array_append_new(e, json_integer(row[c]));
            }
        json_array_append_new(feats, e);
    }
    free(order);
    json_object_set_new(root, "features", feats);
    return root;
}

int cpm_triage_train(const cpm_triage_corpus_t *c, char **json, cpm_triage_train_info_t *info,
                     cpm_error_t *err)
{
    *json = NULL;
    if (cpm_triage_corpus_ncategories(c) > CPM_TRIAGE_CATS_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "corpus", "more than %d categories.",
                             CPM_TRIAGE_CATS_MAX);
    tset_t s;
    int rc = tset_build(&s, c, err);
    tchoice_t best = {0};
    bool have = false;
    for (int b = 1; rc == 0 && b >= 0; b--)
        for (unsigned min_df = 1; rc == 0 && min_df <= 2; min_df++)
            for (size_t a = 0; rc == 0 && a < sizeof ALPHAS / sizeof ALPHAS[0]; a++) {
                tchoice_t ch;
                if (cross_validate(&s, b, min_df, ALPHAS[a], &ch) != 0) {
                    rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
                    break;
                }
                /* Better accuracy by more than one row, else lower log-loss. */
                double one = 1.0 / (double)s.nrows;
                if (!have || ch.acc > best.acc + one ||
                    (ch.acc > best.acc - one && ch.loss < best.loss)) {
                    best = ch;
                    have = true;
                }
            }
    tfit_t f = {0};
    json_t *root = NULL;
    if (rc == 0 && tfit_build(&f, &s, -1, best.binary, best.min_df, best.alpha) != 0)
        rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    /* Never write a model the loader would refuse. */
    if (rc == 0 && (f.nkept > CPM_TRIAGE_FEATS_MAX || f.nkept > CPM_TRIAGE_CELLS_MAX / s.ncat))
        rc = cpm_error_set(err, CPM_E_TOO_LARGE, "corpus",
                           "more than %d features, or features x categories over %d.",
                           CPM_TRIAGE_FEATS_MAX, CPM_TRIAGE_CELLS_MAX);
    if (rc == 0 && !(root = model_json(&s, &f, &best)))
        rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    if (rc == 0) {
        char *text = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
        size_t l = text ? strlen(text) : 0;
        char *out = text && l + 1 <= CPM_TRIAGE_FILE_MAX ? malloc(l + 2) : NULL;
        if (text && l + 1 > CPM_TRIAGE_FILE_MAX)
            rc = cpm_error_set(err, CPM_E_TOO_LARGE, "corpus", "model file over %u bytes.",
                               CPM_TRIAGE_FILE_MAX);
        else if (!out)
            rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
        else {
            memcpy(out, text, l);
            out[l] = '\n';
            out[l + 1] = 0;
            *json = out;
        }
        free(text);
    }
    if (rc == 0 && info)
        *info = (cpm_triage_train_info_t){.rows = s.nrows,
                                          .features = f.nkept,
                                          .alpha_milli = best.alpha,
                                          .scale_milli = best.scale,
                                          .min_df = best.min_df,
                                          .binary = best.binary,
                                          .cv_accuracy = best.acc,
                                          .cv_logloss = best.loss};
    json_decref(root);
    tfit_free(&f);
    tset_free(&s);
    return rc;
}
