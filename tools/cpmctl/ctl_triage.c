/* cpmctl triage: the category model offline (train, eval, suggest) and, from
 * the monitor, its accuracy in production (stats: ctl_triage_stats.c). */
#include "ctl_args.h"

#include "cpm_triage.h"
#include "cpm_triage_corpus.h"
#include "cpm_triage_eval.h"
#include "cpm_triage_train.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ctl_cmd_triage_stats(const ctl_opts_t *o, int argc, char **argv); /* ctl_triage_stats.c */

static const char triage_usage[] =
    "usage: cpmctl triage train --corpus DIR --out FILE\n"
    "       cpmctl triage eval --model FILE --corpus DIR [--set test|train] [--min-pm N] [--json]\n"
    "       cpmctl triage suggest --model FILE (--text T [--business B] [--product P] | --stdin)\n"
    "                             [--json]\n"
    "       cpmctl triage stats [--from DATE] [--to DATE]   (the monitor: accuracy in production)\n"
    "\n"
    "train: a model file from the corpus's training rows (DIR/<category>.tsv); the same\n"
    "corpus always gives the same bytes. eval: accuracy, macro-F1, precision, recall and\n"
    "F1 per category and the confusion matrix on the held-out rows (--set test, default)\n"
    "or the training rows; --min-pm (default 700) is intake's threshold for routing.\n"
    "suggest: the category suggested for a complaint, its confidence (per mille; \"\" is\n"
    "unknown) and the features that weighed most; --stdin reads one description per\n"
    "line. Only the first 8192 bytes of each text are used.\n";

static int fail(bool json, const cpm_error_t *e)
{
    return ctl_fail(NULL, json, e);
}

static int write_file(const char *path, const char *text, cpm_error_t *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    size_t n = strlen(text);
    if (!f || fwrite(text, 1, n, f) != n || fclose(f) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cpm_error_set(err, CPM_E_INVALID, "out", "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

static int cmd_train(const ctl_opts_t *o, const char *corpus, const char *out)
{
    cpm_error_t err = {0};
    if (!corpus || !out)
        return ctl_usage(triage_usage, 2);
    cpm_triage_corpus_t *c = cpm_triage_corpus_load(corpus, &err);
    if (!c)
        return fail(o->json, &err);
    char *text = NULL;
    cpm_triage_train_info_t info;
    int rc = cpm_triage_train(c, &text, &info, &err);
    if (rc == 0)
        rc = write_file(out, text, &err);
    if (rc == 0) {
        cpm_error_t lerr = {0};
        cpm_triage_t *m = cpm_triage_parse(text, strlen(text), &lerr);
        if (o->json)
            ctl_print_json(json_pack(
                "{s:b, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:f}", "ok", 1, "out", out,
                "model_id", m ? cpm_triage_id(m) : "", "rows", (json_int_t)info.rows, "features",
                (json_int_t)info.features, "alpha_milli", (json_int_t)info.alpha_milli,
                "scale_milli", (json_int_t)info.scale_milli, "min_df", (json_int_t)info.min_df,
                "binary", info.binary, "cv_accuracy", info.cv_accuracy));
        else
            printf(
                "%s: model %s from %zu training rows, %zu features (alpha %.3f, binary %s, "
                "min_df %u, scale %.1f, shrink %u; cross-validated accuracy %.3f, log-loss %.3f)\n",
                out, m ? cpm_triage_id(m) : "?", info.rows, info.features,
                info.alpha_milli / 1000.0, info.binary ? "yes" : "no", info.min_df,
                info.scale_milli / 1000.0, info.shrink, info.cv_accuracy, info.cv_logloss);
        cpm_triage_destroy(&m);
    }
    free(text);
    cpm_triage_corpus_destroy(&c);
    return rc == 0 ? 0 : fail(o->json, &err);
}

static int cmd_eval(const ctl_opts_t *o, const char *model, const char *corpus, const char *set,
                    uint32_t min_pm)
{
    cpm_error_t err = {0};
    if (!model || !corpus || (strcmp(set, "test") != 0 && strcmp(set, "train") != 0))
        return ctl_usage(triage_usage, 2);
    cpm_triage_t *m = cpm_triage_load(model, &err);
    if (!m)
        return fail(o->json, &err);
    cpm_triage_corpus_t *c = cpm_triage_corpus_load(corpus, &err);
    cpm_triage_eval_t *e = c ? cpm_triage_eval_run(m, c, !strcmp(set, "test"), min_pm, &err) : NULL;
    int rc = e ? 0 : 1;
    if (e && o->json) {
        json_t *j = cpm_triage_eval_json(e);
        char *s = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(1) | JSON_REAL_PRECISION(4));
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(j);
    } else if (e) {
        cpm_triage_eval_print(e, stdout);
    }
    cpm_triage_eval_destroy(&e);
    cpm_triage_corpus_destroy(&c);
    cpm_triage_destroy(&m);
    return rc == 0 ? 0 : fail(o->json, &err);
}

static int suggest_one(const ctl_opts_t *o, const cpm_triage_t *m, const char *business,
                       const char *product, const char *text)
{
    cpm_error_t err = {0};
    cpm_triage_suggestion_t s;
    if (cpm_triage_suggest(m, business, product, text, &s, &err) != 0)
        return fail(o->json, &err);
    if (o->json) {
        json_t *why = json_array();
        for (size_t i = 0; i < s.nwhy; i++)
            json_array_append_new(why, json_string(s.why[i]));
        ctl_print_json(json_pack("{s:s, s:I, s:s, s:I, s:o, s:I, s:I, s:s}", "category", s.category,
                                 "pm", (json_int_t)s.pm, "top", s.top, "top_pm",
                                 (json_int_t)s.top_pm, "why", why, "tokens", (json_int_t)s.tokens,
                                 "known", (json_int_t)s.known, "model_id", cpm_triage_id(m)));
        return 0;
    }
    printf("%s %u", s.category[0] ? s.category : "unknown", s.pm);
    if (!s.category[0])
        printf(" (best %s %u, %zu of %zu syllables known)", s.top, s.top_pm, s.known, s.tokens);
    fputs(" why:", stdout);
    for (size_t i = 0; i < s.nwhy; i++)
        printf("%s%s", i ? ", " : " ", ctl_safe(s.why[i]));
    putchar('\n');
    return 0;
}

static int cmd_suggest(const ctl_opts_t *o, const char *model, const char *text,
                       const char *business, const char *product, bool in)
{
    cpm_error_t err = {0};
    if (!model || (!text && !in) || (text && in))
        return ctl_usage(triage_usage, 2);
    cpm_triage_t *m = cpm_triage_load(model, &err);
    if (!m)
        return fail(o->json, &err);
    int rc = 0;
    if (text) {
        rc = suggest_one(o, m, business, product, text);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            if (n > 0 && line[n - 1] == '\n')
                line[--n] = 0;
            if (suggest_one(o, m, business, product, line) != 0)
                rc = 1; /* say so, and go on with the next line */
        }
        free(line);
    }
    cpm_triage_destroy(&m);
    return rc;
}

int ctl_cmd_triage(const ctl_opts_t *gopts, int argc, char **argv)
{
    if (argc < 2)
        return ctl_usage(triage_usage, 2);
    const char *sub = argv[1];
    if (!strcmp(sub, "stats"))
        return ctl_cmd_triage_stats(gopts, argc - 1, argv + 1);
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h"))
        return ctl_usage(triage_usage, 0);
    static const struct option longopts[] = {{"corpus", required_argument, 0, 'c'},
                                             {"out", required_argument, 0, 'o'},
                                             {"model", required_argument, 0, 'm'},
                                             {"set", required_argument, 0, 's'},
                                             {"min-pm", required_argument, 0, 'p'},
                                             {"text", required_argument, 0, 't'},
                                             {"business", required_argument, 0, 'b'},
                                             {"product", required_argument, 0, 'r'},
                                             {"stdin", no_argument, 0, 'i'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    const char *corpus = NULL, *out = NULL, *model = NULL, *set = "test", *text = NULL,
               *business = NULL, *product = NULL;
    uint32_t min_pm = 700;
    bool in = false;
    int opt;
    argc--;
    argv++;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        char *end;
        switch (opt) {
        case 'c':
            corpus = optarg;
            continue;
        case 'o':
            out = optarg;
            continue;
        case 'm':
            model = optarg;
            continue;
        case 's':
            set = optarg;
            continue;
        case 't':
            text = optarg;
            continue;
        case 'b':
            business = optarg;
            continue;
        case 'r':
            product = optarg;
            continue;
        case 'i':
            in = true;
            continue;
        case 'p':
            errno = 0;
            min_pm = (uint32_t)strtoul(optarg, &end, 10);
            if (!*optarg || *end || errno || min_pm > 1000)
                return ctl_usage(triage_usage, 2);
            continue;
        default:
            return ctl_usage(triage_usage, opt == 'h' ? 0 : 2);
        }
    }
    if (optind != argc)
        return ctl_usage(triage_usage, 2);
    if (!strcmp(sub, "train"))
        return cmd_train(&o, corpus, out);
    if (!strcmp(sub, "eval"))
        return cmd_eval(&o, model, corpus, set, min_pm);
    if (!strcmp(sub, "suggest"))
        return cmd_suggest(&o, model, text, business, product, in);
    return ctl_usage(triage_usage, 2);
}
