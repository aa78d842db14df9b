/* intake_triage: the category model at intake. See intake_triage.h. */
#include "intake_triage.h"

#include "cpm_log.h"
#include "cpm_triage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct intake_triage {
    cpm_triage_t *model; /* NULL: no suggestions */
    uint32_t min_pm;
    cpm_metrics_t *metrics;
};

intake_triage_t *intake_triage_new(const char *path, uint32_t min_pm, cpm_metrics_t *metrics)
{
    intake_triage_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->min_pm = min_pm;
    t->metrics = metrics;
    if (!path || !*path) {
        cpm_info("triage: no triage_model configured: complaints get no category suggestion");
        return t;
    }
    cpm_error_t err = {0};
    t->model = cpm_triage_load(path, &err);
    if (!t->model) {
        cpm_error("triage: model %s not loaded (%s%s%s): running WITHOUT category suggestions",
                  path, err.field, *err.field ? ": " : "", err.message);
        if (metrics)
            cpm_metrics_add(metrics, "intake.triage_model_bad", 1);
        return t;
    }
    cpm_info("triage: model %s from %s, %zu categories, %zu features, routing at %u per mille",
             cpm_triage_id(t->model), path, cpm_triage_ncategories(t->model),
             cpm_triage_nfeatures(t->model), min_pm);
    return t;
}

void intake_triage_destroy(intake_triage_t **p)
{
    if (!p || !*p)
        return;
    cpm_triage_destroy(&(*p)->model);
    free(*p);
    *p = NULL;
}

bool intake_triage_ready(const intake_triage_t *t)
{
    return t && t->model;
}

static void count(intake_triage_t *t, const char *name)
{
    if (t->metrics)
        cpm_metrics_add(t->metrics, name, 1);
}

/* Replace a string field of c by a heap copy of s. */
static int set_str(char **field, const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        return CPM_E_INTERNAL;
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = copy;
    return 0;
}

int intake_triage_apply(intake_triage_t *t, const cpm_rules_t *rules, Cpm__Complaint *c,
                        cpm_error_t *err)
{
    if (!intake_triage_ready(t))
        return 0;
    const char *cat = c->category ? c->category : "";
    if (*cat && strcmp(cat, "other") != 0)
        return 0;
    cpm_triage_suggestion_t s;
    int rc = cpm_triage_suggest(t->model, c->business_name, c->product, c->description, &s, err);
    if (rc != 0)
        return rc;
    if ((rc = set_str(&c->category_suggested, s.category)) != 0 ||
        (rc = set_str(&c->model_version, cpm_triage_id(t->model))) != 0)
        return rc;
    c->suggestion_pm = s.pm;
    if (!s.category[0]) {
        count(t, "intake.triage_unknown");
        return 0;
    }
    count(t, "intake.triage_suggested");
    if (strcmp(s.category, "other") != 0 && s.pm >= t->min_pm &&
        (!rules || cpm_rules_has_category(rules, s.category))) {
        if ((rc = set_str(&c->category, s.category)) != 0 ||
            (rc = set_str(&c->category_by, "model")) != 0)
            return rc;
        count(t, "intake.triage_routed");
    } else {
        count(t, "intake.triage_low");
    }
    return 0;
}
