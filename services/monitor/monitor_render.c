/* monitor_render: text, JSON and CSV forms of a report. */
#include "monitor_render.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const OUTCOME[MON_OUTCOMES] = {
    "unspecified", "mediated",     "refunded",  "replaced_or_repaired",
    "fined",       "no_violation", "withdrawn", "referred"};

static double pct(uint64_t a, uint64_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

/* The scalar figures, in order: name and value. */
typedef struct {
    const char *name;
    long long v;
} fig_t;

static size_t figures(const mon_eff_t *e, fig_t *f)
{
    size_t n = 0;
#define F(nm, val) f[n++] = (fig_t){nm, (long long)(val)}
    F("complaints_received", e->received);
    F("consultations", e->consultations);
    F("accepted", e->accepted);
    F("refused", e->refused);
    F("returned", e->returned);
    F("transferred", e->transferred);
    F("resolved", e->resolved);
    F("open", e->open);
    F("overdue_now", e->overdue_now);
    F("accept_days_median", e->accept_median);
    F("accept_days_p90", e->accept_p90);
    F("resolve_days_median", e->resolve_median);
    F("resolve_days_p90", e->resolve_p90);
    F("accept_on_time", e->accept_on_time);
    F("accept_with_deadline", e->accept_timed);
    F("resolve_on_time", e->resolve_on_time);
    F("resolve_with_deadline", e->resolve_timed);
    F("inspections", e->inspections);
    F("violations", e->violations);
    F("violation_fines_vnd", e->fines_vnd);
    F("case_fines_vnd", e->case_fines_vnd);
#undef F
    return n;
}

static void text(FILE *o, const mon_title_t *t, const mon_eff_t *e)
{
    fprintf(o, "Effectiveness %s  agency=%s  area=%s\n", t->period,
            t->agency && *t->agency ? t->agency : "(all)",
            t->area && *t->area ? t->area : "(city)");
    fprintf(o, "  (from %llu events; %llu cases known)\n", (unsigned long long)t->events_seen,
            (unsigned long long)t->cases_known);
    fig_t f[32];
    size_t n = figures(e, f);
    for (size_t i = 0; i < n; i++)
        if (f[i].v < 0) /* a median or percentile with no case to measure */
            fprintf(o, "  %-24s -  (no case yet)\n", f[i].name);
        else
            fprintf(o, "  %-24s %lld\n", f[i].name, f[i].v);
    fprintf(o, "  %-24s %.1f%%\n", "accept_compliance", pct(e->accept_on_time, e->accept_timed));
    fprintf(o, "  %-24s %.1f%%\n", "resolve_compliance", pct(e->resolve_on_time, e->resolve_timed));
    fprintf(o, "Complaints by channel\n");
    for (size_t i = 0; i < e->n_channels; i++)
        fprintf(o, "  %-24s %llu\n", e->channels[i].key, (unsigned long long)e->channels[i].n);
    fprintf(o, "Complaints by category\n");
    for (size_t i = 0; i < e->n_categories; i++)
        fprintf(o, "  %-24s %llu\n", e->categories[i].key, (unsigned long long)e->categories[i].n);
    fprintf(o, "Outcomes\n");
    for (size_t i = 1; i < MON_OUTCOMES; i++)
        fprintf(o, "  %-24s %llu\n", OUTCOME[i], (unsigned long long)e->outcomes[i]);
    fprintf(o, "Complaints by area (generation:unit)\n");
    for (size_t i = 0; i < e->n_areas; i++)
        fprintf(o, "  %-24s %llu\n", e->areas[i].key, (unsigned long long)e->areas[i].n);
}

static json_t *counts(const mon_count_t *c, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, c[i].key, json_integer((json_int_t)c[i].n));
    return o;
}

static int json_form(FILE *o, const mon_title_t *t, const mon_eff_t *e)
{
    json_t *j = json_object();
    json_object_set_new(j, "ok", json_true());
    json_object_set_new(j, "period", json_string(t->period ? t->period : ""));
    json_object_set_new(j, "agency", json_string(t->agency ? t->agency : ""));
    json_object_set_new(j, "area", json_string(t->area ? t->area : ""));
    json_object_set_new(j, "events_seen", json_integer((json_int_t)t->events_seen));
    json_object_set_new(j, "cases_known", json_integer((json_int_t)t->cases_known));
    fig_t f[32];
    size_t n = figures(e, f);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(j, f[i].name, json_integer(f[i].v));
    json_object_set_new(j, "accept_compliance_pct",
                        json_real(pct(e->accept_on_time, e->accept_timed)));
    json_object_set_new(j, "resolve_compliance_pct",
                        json_real(pct(e->resolve_on_time, e->resolve_timed)));
    json_object_set_new(j, "by_channel", counts(e->channels, e->n_channels));
    json_object_set_new(j, "by_category", counts(e->categories, e->n_categories));
    json_object_set_new(j, "by_area", counts(e->areas, e->n_areas));
    json_t *oc = json_object();
    for (size_t i = 1; i < MON_OUTCOMES; i++)
        json_object_set_new(oc, OUTCOME[i], json_integer((json_int_t)e->outcomes[i]));
    json_object_set_new(j, "outcomes", oc);
    int rc = json_dumpf(j, o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', o);
    json_decref(j);
    return rc;
}

/* CSV: section,key,value; keys are slugs (no commas or quotes). */
static void csv(FILE *o, const mon_title_t *t, const mon_eff_t *e)
{
    fprintf(o, "section,key,value\n");
    fprintf(o, "report,period,%s\nreport,agency,%s\nreport,area,%s\n", t->period ? t->period : "",
            t->agency ? t->agency : "", t->area ? t->area : "");
    fig_t f[32];
    size_t n = figures(e, f);
    for (size_t i = 0; i < n; i++)
        fprintf(o, "figure,%s,%lld\n", f[i].name, f[i].v);
    for (size_t i = 0; i < e->n_channels; i++)
        fprintf(o, "channel,%s,%llu\n", e->channels[i].key, (unsigned long long)e->channels[i].n);
    for (size_t i = 0; i < e->n_categories; i++)
        fprintf(o, "category,%s,%llu\n", e->categories[i].key,
                (unsigned long long)e->categories[i].n);
    for (size_t i = 1; i < MON_OUTCOMES; i++)
        fprintf(o, "outcome,%s,%llu\n", OUTCOME[i], (unsigned long long)e->outcomes[i]);
    for (size_t i = 0; i < e->n_areas; i++)
        fprintf(o, "area,%s,%llu\n", e->areas[i].key, (unsigned long long)e->areas[i].n);
}

int monitor_render(const char *format, const mon_title_t *t, const mon_eff_t *e, char **out,
                   size_t *len)
{
    *out = NULL, *len = 0;
    bool tx = !strcmp(format, "text"), js = !strcmp(format, "json"), cs = !strcmp(format, "csv");
    if (!tx && !js && !cs)
        return -1;
    FILE *o = open_memstream(out, len);
    if (!o)
        return -1;
    int rc = 0;
    if (tx)
        text(o, t, e);
    else if (js)
        rc = json_form(o, t, e);
    else
        csv(o, t, e);
    if (fclose(o) != 0 || rc != 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}
