/* cpm_triage_eval: evaluation on a corpus set. See cpm_triage_eval.h. */
#include "cpm_triage_eval.h"

#include <stdlib.h>
#include <string.h>

struct cpm_triage_eval {
    char id[CPM_TRIAGE_ID_MAX + 1];
    bool test;
    uint32_t min_pm;
    size_t ncat;
    char (*cat)[CPM_TRIAGE_SLUG_MAX + 1];
    uint32_t *conf; /* ncat * ncat: [true][predicted] */
    size_t rows, right, routed, routed_right, unknown;
};

void cpm_triage_eval_destroy(cpm_triage_eval_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->cat);
    free((*p)->conf);
    free(*p);
    *p = NULL;
}

static long model_cat(const cpm_triage_t *m, const char *slug)
{
    for (size_t i = 0; i < cpm_triage_ncategories(m); i++)
        if (!strcmp(cpm_triage_category(m, i), slug))
            return (long)i;
    return -1;
}

cpm_triage_eval_t *cpm_triage_eval_run(const cpm_triage_t *m, const cpm_triage_corpus_t *c,
                                       bool test, uint32_t min_pm, cpm_error_t *err)
{
    size_t nc = cpm_triage_ncategories(m);
    cpm_triage_eval_t *e = calloc(1, sizeof *e);
    if (!e || !(e->cat = calloc(nc, sizeof *e->cat)) ||
        !(e->conf = calloc(nc * nc, sizeof *e->conf))) {
        cpm_triage_eval_destroy(&e);
        cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
        return NULL;
    }
    snprintf(e->id, sizeof e->id, "%s", cpm_triage_id(m));
    e->test = test;
    e->min_pm = min_pm;
    e->ncat = nc;
    for (size_t i = 0; i < nc; i++)
        snprintf(e->cat[i], sizeof e->cat[i], "%s", cpm_triage_category(m, i));
    for (size_t i = 0; i < cpm_triage_corpus_nrows(c); i++) {
        const cpm_triage_row_t *r = cpm_triage_corpus_row(c, i);
        if (r->test != test)
            continue;
        const char *slug = cpm_triage_corpus_category(c, r->cat);
        long truth = model_cat(m, slug);
        if (truth < 0) {
            cpm_error_set(err, CPM_E_INVALID, "category",
                          "the corpus category %s is not one of the model's.", slug);
            cpm_triage_eval_destroy(&e);
            return NULL;
        }
        cpm_triage_suggestion_t s;
        if (cpm_triage_suggest(m, r->business, r->product, r->text, &s, err) != 0) {
            cpm_triage_eval_destroy(&e);
            return NULL;
        }
        long pred = model_cat(m, s.top);
        e->rows++;
        e->conf[(size_t)truth * nc + (size_t)pred]++;
        e->right += pred == truth;
        e->unknown += !s.category[0];
        if (s.category[0] && strcmp(s.category, "other") != 0 && s.pm >= min_pm) {
            e->routed++;
            e->routed_right += pred == truth;
        }
    }
    return e;
}

double cpm_triage_eval_accuracy(const cpm_triage_eval_t *e)
{
    return e->rows ? (double)e->right / (double)e->rows : 0;
}

size_t cpm_triage_eval_rows(const cpm_triage_eval_t *e)
{
    return e->rows;
}

typedef struct {
    size_t support;
    double p, r, f1;
} prf_t;

static prf_t prf(const cpm_triage_eval_t *e, size_t c)
{
    size_t tp = e->conf[c * e->ncat + c], row = 0, col = 0;
    for (size_t k = 0; k < e->ncat; k++) {
        row += e->conf[c * e->ncat + k];
        col += e->conf[k * e->ncat + c];
    }
    prf_t x = {.support = row};
    x.p = col ? (double)tp / (double)col : 0;
    x.r = row ? (double)tp / (double)row : 0;
    x.f1 = x.p + x.r > 0 ? 2 * x.p * x.r / (x.p + x.r) : 0;
    return x;
}

double cpm_triage_eval_macro_f1(const cpm_triage_eval_t *e)
{
    double sum = 0;
    size_t n = 0;
    for (size_t c = 0; c < e->ncat; c++) {
        prf_t x = prf(e, c);
        if (x.support == 0)
            continue; /* a category absent from the set says nothing */
        sum += x.f1;
        n++;
    }
    return n ? sum / (double)n : 0;
}

json_t *cpm_triage_eval_json(const cpm_triage_eval_t *e)
{
    json_t *cats = json_array(), *labels = json_array(), *rows = json_array();
    for (size_t c = 0; c < e->ncat; c++) {
        prf_t x = prf(e, c);
        json_array_append_new(cats, json_pack("{s:s, s:I, s:f, s:f, s:f}", "slug", e->cat[c],
                                              "support", (json_int_t)x.support, "precision", x.p,
                                              "recall", x.r, "f1", x.f1));
        json_array_append_new(labels, json_string(e->cat[c]));
        json_t *row = json_array();
        for (size_t k = 0; k < e->ncat; k++)
            json_array_append_new(row, json_integer(e->conf[c * e->ncat + k]));
        json_array_append_new(rows, row);
    }
    return json_pack(
        "{s:s, s:s, s:I, s:f, s:f, s:I, s:I, s:f, s:I, s:o, s:{s:o, s:o}}", "model_id", e->id,
        "set", e->test ? "test" : "train", "rows", (json_int_t)e->rows, "accuracy",
        cpm_triage_eval_accuracy(e), "macro_f1", cpm_triage_eval_macro_f1(e), "min_pm",
        (json_int_t)e->min_pm, "routed", (json_int_t)e->routed, "routed_accuracy",
        e->routed ? (double)e->routed_right / (double)e->routed : 0.0, "unknown",
        (json_int_t)e->unknown, "categories", cats, "confusion", "labels", labels, "rows", rows);
}

void cpm_triage_eval_print(const cpm_triage_eval_t *e, FILE *out)
{
    fprintf(out, "model %s, %s set: %zu rows\n", e->id, e->test ? "test (held-out)" : "train",
            e->rows);
    fprintf(out, "accuracy %.3f  macro-F1 %.3f\n", cpm_triage_eval_accuracy(e),
            cpm_triage_eval_macro_f1(e));
    fprintf(out, "at min_pm %u: %zu routed by the model (%.3f of them right), %zu unknown\n\n",
            e->min_pm, e->routed, e->routed ? (double)e->routed_right / (double)e->routed : 0.0,
            e->unknown);
    fprintf(out, "%3s %-20s %7s %9s %6s %6s\n", "#", "category", "support", "precision", "recall",
            "F1");
    for (size_t c = 0; c < e->ncat; c++) {
        prf_t x = prf(e, c);
        fprintf(out, "%3zu %-20s %7zu %9.3f %6.3f %6.3f\n", c + 1, e->cat[c], x.support, x.p, x.r,
                x.f1);
    }
    fprintf(out, "\nconfusion (rows: true category #, columns: predicted #)\n%3s", "");
    for (size_t k = 0; k < e->ncat; k++)
        fprintf(out, " %3zu", k + 1);
    fputc('\n', out);
    for (size_t c = 0; c < e->ncat; c++) {
        fprintf(out, "%3zu", c + 1);
        for (size_t k = 0; k < e->ncat; k++)
            fprintf(out, " %3u", e->conf[c * e->ncat + k]);
        fputc('\n', out);
    }
}
