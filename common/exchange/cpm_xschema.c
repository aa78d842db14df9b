/* cpm_xschema: the compiled-in dataset schemas. See cpm_xschema.h. */
#include "cpm_xschema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const cpm_xfield_t VIOLATIONS[] = {
    {"inspection", CPM_XF_TEXT, false, "the inspection that found it"},
    {"business", CPM_XF_TEXT, false, "business name as written"},
    {"tax_code", CPM_XF_TEXT, false, "the business's tax code, when known"},
    {"address", CPM_XF_TEXT, false, "business address as written"},
    {"area", CPM_XF_AREA, false, "area slug"},
    {"category", CPM_XF_TEXT, false, "complaint category"},
    {"violation", CPM_XF_TEXT, false, "violation code (empty: the inspection's summary)"},
    {"fine_vnd", CPM_XF_VND, false, "fine in VND"},
    {"date", CPM_XF_TIME, false, "when it was found or decided"},
};

static const cpm_xfield_t WATCHLIST[] = {
    {"business", CPM_XF_TEXT, false, "business name as written"},
    {"tax_code", CPM_XF_TEXT, false, "tax code, when known"},
    {"address", CPM_XF_TEXT, false, "address as written"},
    {"area", CPM_XF_AREA, false, "area slug"},
    {"reason", CPM_XF_TEXT, false, "why it is watched"},
    {"from", CPM_XF_TIME, false, "watched from"},
    {"until", CPM_XF_TIME, false, "watched until"},
};

static const cpm_xfield_t PRODUCT_WARNINGS[] = {
    {"product", CPM_XF_TEXT, false, "product name"},
    {"brand", CPM_XF_TEXT, false, "brand"},
    {"batch", CPM_XF_TEXT, false, "batch or lot"},
    {"hazard", CPM_XF_TEXT, false, "what is unsafe"},
    {"action", CPM_XF_TEXT, false, "recall, withdraw, warn, ..."},
    {"area", CPM_XF_AREA, false, "where it was found (empty: city-wide)"},
    {"date", CPM_XF_TIME, false, "when the warning was issued"},
    {"reporter_name", CPM_XF_TEXT, true, "the consumer who reported it"},
    {"reporter_phone", CPM_XF_TEXT, true, "the consumer's phone"},
};

static const cpm_xfield_t COMPLAINT_STATS[] = {
    {"area", CPM_XF_AREA, false, "area slug (empty: not placed)"},
    {"category", CPM_XF_TEXT, false, "complaint category (empty: unknown)"},
    {"month", CPM_XF_MONTH, false, "calendar month in Vietnam's time"},
    {"count", CPM_XF_INT, false, "complaints received at this agency's intake"},
};

static const cpm_xfield_t HOTLINE_STATS[] = {
    {"month", CPM_XF_MONTH, false, "calendar month in Vietnam's time"},
    {"category", CPM_XF_TEXT, false, "consultation category"},
    {"channel", CPM_XF_TEXT, false, "hotline, web, ..."},
    {"count", CPM_XF_INT, false, "consultations recorded"},
};

static const cpm_xdataset_t DATASETS[] = {
    {"violations", 1, VIOLATIONS, N(VIOLATIONS), false, "date", "business", "tax_code", "area",
     "violations found by inspections (one per finding, one summary per inspection)"},
    {"watchlist", 1, WATCHLIST, N(WATCHLIST), true, "from", "business", "tax_code", "area",
     "businesses under watch"},
    {"product_warnings", 1, PRODUCT_WARNINGS, N(PRODUCT_WARNINGS), true, "date", "brand", NULL,
     "area", "unsafe or recalled products"},
    {"complaint_stats", 1, COMPLAINT_STATS, N(COMPLAINT_STATS), false, "month", NULL, NULL, "area",
     "complaints per area, category and month (no personal data)"},
    {"hotline_stats", 1, HOTLINE_STATS, N(HOTLINE_STATS), false, "month", NULL, NULL, NULL,
     "hotline consultations per month, category and channel"},
};

const cpm_xdataset_t *cpm_xschema_all(size_t *n)
{
    *n = N(DATASETS);
    return DATASETS;
}

const cpm_xdataset_t *cpm_xschema_find(const char *name)
{
    for (size_t i = 0; name && i < N(DATASETS); i++)
        if (strcmp(DATASETS[i].name, name) == 0)
            return &DATASETS[i];
    return NULL;
}

const cpm_xfield_t *cpm_xschema_field(const cpm_xdataset_t *d, const char *name)
{
    for (size_t i = 0; name && i < d->n_fields; i++)
        if (strcmp(d->fields[i].name, name) == 0)
            return &d->fields[i];
    return NULL;
}

const char *cpm_xschema_type_name(cpm_xf_type_t t)
{
    switch (t) {
    case CPM_XF_TEXT:
        return "text";
    case CPM_XF_INT:
        return "int";
    case CPM_XF_VND:
        return "vnd";
    case CPM_XF_TIME:
        return "time";
    case CPM_XF_AREA:
        return "area";
    case CPM_XF_MONTH:
        return "month";
    }
    return "?";
}

static bool digits(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool slug(const char *s)
{
    size_t n = strlen(s);
    if (n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static bool month(const char *s)
{
    if (strlen(s) != 7 || s[4] != '-')
        return false;
    char y[5] = {s[0], s[1], s[2], s[3], 0}, m[3] = {s[5], s[6], 0};
    int mm = atoi(m);
    return digits(y, 4) && digits(m, 2) && mm >= 1 && mm <= 12;
}

int cpm_xschema_check(const cpm_xdataset_t *d, const cpm_xfield_t *f, const char *value,
                      cpm_error_t *err)
{
    char field[2 * CPM_XSCHEMA_NAME_MAX + 2];
    snprintf(field, sizeof field, "%s.%s", d->name, f->name);
    if (strlen(value) > CPM_XSCHEMA_VALUE_MAX)
        return cpm_error_set(err, CPM_E_INVALID, field, "%s is longer than %d bytes", field,
                             CPM_XSCHEMA_VALUE_MAX);
    if (value[0] == '\0')
        return 0; /* empty: not given */
    bool ok = true;
    switch (f->type) {
    case CPM_XF_TEXT:
        break;
    case CPM_XF_INT:
    case CPM_XF_VND:
    case CPM_XF_TIME:
        ok = digits(value, 18);
        break;
    case CPM_XF_AREA:
        ok = slug(value);
        break;
    case CPM_XF_MONTH:
        ok = month(value);
        break;
    }
    if (!ok)
        return cpm_error_set(err, CPM_E_INVALID, field, "%s must be a %s value, not \"%.40s\"",
                             field, cpm_xschema_type_name(f->type), value);
    return 0;
}
