/* bench_triage: category suggestions per second over the held-out texts of
 * the corpus, repeated, against a baseline in the same process: the feature
 * extraction alone (cpm_ttext over business, product and description: NFC,
 * lower case, syllables, folding), which every suggestion does first. Also
 * the model file's load time.
 *
 *   build/bench_triage [MODEL] [CORPUS_DIR] [SECONDS]
 *     (default deploy/hanoi/triage/model.json, deploy/hanoi/triage/corpus, 2 s)
 *
 * Figures only; nothing is asserted on time. */
#include "cpm_triage.h"
#include "cpm_triage_corpus.h"
#include "cpm_ttext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *model = argc > 1 ? argv[1] : "deploy/hanoi/triage/model.json";
    const char *corpus = argc > 2 ? argv[2] : "deploy/hanoi/triage/corpus";
    double secs = argc > 3 ? atof(argv[3]) : 2.0;
    cpm_error_t err = {0};
    double t0 = now_s();
    cpm_triage_t *m = cpm_triage_load(model, &err);
    double load_ms = (now_s() - t0) * 1000;
    if (!m) {
        fprintf(stderr, "bench_triage: %s: %s\n", model, err.message);
        return 1;
    }
    cpm_triage_corpus_t *c = cpm_triage_corpus_load(corpus, &err);
    if (!c) {
        fprintf(stderr, "bench_triage: %s: %s\n", corpus, err.message);
        return 1;
    }
    size_t n = 0, bytes = 0;
    const cpm_triage_row_t **rows = malloc(cpm_triage_corpus_nrows(c) * sizeof *rows);
    for (size_t i = 0; i < cpm_triage_corpus_nrows(c); i++) {
        const cpm_triage_row_t *r = cpm_triage_corpus_row(c, i);
        if (r->test) {
            rows[n++] = r;
            bytes += strlen(r->business) + strlen(r->product) + strlen(r->text);
        }
    }
    if (!n) {
        fprintf(stderr, "bench_triage: no held-out rows in %s\n", corpus);
        return 1;
    }
    /* Baseline: features only. */
    cpm_ttext_t *t = cpm_ttext_new();
    size_t ops = 0;
    t0 = now_s();
    double el;
    do {
        for (size_t i = 0; i < n; i++, ops++) {
            cpm_ttext_clear(t);
            if (cpm_ttext_add(t, "business", rows[i]->business, &err) ||
                cpm_ttext_add(t, "product", rows[i]->product, &err) ||
                cpm_ttext_add(t, "description", rows[i]->text, &err))
                return 1;
        }
    } while ((el = now_s() - t0) < secs);
    double base = (double)ops / el;
    cpm_ttext_destroy(&t);
    /* Suggestions. */
    size_t right = 0;
    ops = 0;
    t0 = now_s();
    do {
        for (size_t i = 0; i < n; i++, ops++) {
            cpm_triage_suggestion_t s;
            if (cpm_triage_suggest(m, rows[i]->business, rows[i]->product, rows[i]->text, &s,
                                   &err) != 0)
                return 1;
            right += !strcmp(s.top, cpm_triage_corpus_category(c, rows[i]->cat));
        }
    } while ((el = now_s() - t0) < secs);
    double rate = (double)ops / el;
    printf("model %s: %zu categories, %zu features, loaded in %.1f ms\n", cpm_triage_id(m),
           cpm_triage_ncategories(m), cpm_triage_nfeatures(m), load_ms);
    printf("held-out texts: %zu (%.0f bytes on average)\n", n, (double)bytes / (double)n);
    printf("suggestions/s        %10.0f  (%.1f us each)\n", rate, 1e6 / rate);
    printf("baseline features/s  %10.0f  (%.1f us each)\n", base, 1e6 / base);
    printf("ratio baseline/suggest %.2f  (the model's share of a suggestion: %.0f%%)\n",
           base / rate, 100.0 * (1 - rate / base));
    printf("(top category right on %.3f of the suggestions)\n", (double)right / (double)ops);
    free(rows);
    cpm_triage_corpus_destroy(&c);
    cpm_triage_destroy(&m);
    return 0;
}
