/* The shipped category model (deploy/hanoi/triage): retrained from the
 * corpus in the repository it must be byte-identical to model.json, and its
 * held-out accuracy must not fall below the figure eval.json recorded at
 * training, minus 0.02. Skips (with a message) only when the corpus folder
 * is absent. */
#include "cpm_triage.h"
#include "cpm_triage_corpus.h"
#include "cpm_triage_eval.h"
#include "cpm_triage_train.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#define MARGIN 0.02

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        b[n] = 0;
    return b;
}

static void test_shipped_model(void **state)
{
    (void)state;
    const char *src = getenv("CPM_SOURCE_DIR");
    char dir[1024], model[1100], eval[1100];
    snprintf(dir, sizeof dir, "%s/deploy/hanoi/triage", src ? src : ".");
    char corpus[1100];
    snprintf(corpus, sizeof corpus, "%s/corpus", dir);
    struct stat st;
    if (stat(corpus, &st) != 0) {
        print_message("SKIP: no corpus folder %s: cannot check the shipped model\n", corpus);
        skip();
    }
    snprintf(model, sizeof model, "%s/model.json", dir);
    snprintf(eval, sizeof eval, "%s/eval.json", dir);
    cpm_error_t err = {0};
    cpm_triage_corpus_t *c = cpm_triage_corpus_load(corpus, &err);
    if (!c)
        fail_msg("corpus %s: %s", corpus, err.message);
    char *json = NULL;
    assert_int_equal(cpm_triage_train(c, &json, NULL, &err), 0);
    char *shipped = slurp(model);
    assert_non_null(shipped);
    if (strcmp(json, shipped) != 0)
        fail_msg("%s is not what the corpus trains to: retrain it (deploy/hanoi/triage/README.md)",
                 model);
    json_error_t je;
    json_t *rec = json_load_file(eval, 0, &je);
    assert_non_null(rec);
    double recorded = json_number_value(json_object_get(rec, "accuracy"));
    cpm_triage_t *m = cpm_triage_parse(json, strlen(json), &err);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(rec, "model_id")), cpm_triage_id(m));
    cpm_triage_eval_t *e = cpm_triage_eval_run(m, c, true, 700, &err);
    assert_non_null(e);
    double acc = cpm_triage_eval_accuracy(e);
    print_message("held-out accuracy %.4f (recorded %.4f, floor %.4f), macro-F1 %.4f\n", acc,
                  recorded, recorded - MARGIN, cpm_triage_eval_macro_f1(e));
    assert_true(acc >= recorded - MARGIN);
    cpm_triage_eval_destroy(&e);
    cpm_triage_destroy(&m);
    json_decref(rec);
    free(shipped);
    free(json);
    cpm_triage_corpus_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
