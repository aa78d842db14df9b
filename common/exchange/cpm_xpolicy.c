/* cpm_xpolicy: deciding what an agency's policy shares. See cpm_xpolicy.h. */
#include "cpm_xpolicy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool listed(char *const *list, size_t n, const char *want, bool star)
{
    for (size_t i = 0; i < n; i++)
        if ((star && strcmp(list[i], "*") == 0) || strcmp(list[i], want ? want : "") == 0)
            return true;
    return false;
}

static int field_index(const cpm_xdataset_t *d, const char *name)
{
    for (size_t i = 0; i < d->n_fields; i++)
        if (strcmp(d->fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

static uint64_t all_fields(const cpm_xdataset_t *d)
{
    return d->n_fields >= 64 ? ~0ULL : ((1ULL << d->n_fields) - 1);
}

static void refuse(cpm_xgrant_t *g, const char *field, const char *fmt, const char *a,
                   const char *b, const char *c)
{
    g->allowed = false;
    g->subscribe = false;
    g->code = 403;
    g->shared = 0;
    snprintf(g->field, sizeof g->field, "%s", field);
    snprintf(g->reason, sizeof g->reason, fmt, a, b, c);
}

void cpm_xpolicy_decide(const Cpm__ExchangePolicy *p, const char *self_agency,
                        const cpm_xdataset_t *d, const char *agency, const char *role,
                        const char *purpose, const char *const *wanted, size_t n, cpm_xgrant_t *g)
{
    memset(g, 0, sizeof *g);
    uint64_t shared = 0;
    uint64_t purpose_needed = 0; /* personal fields a rule offers for another purpose */
    bool any = false, sub = false;
    if (self_agency && agency && strcmp(self_agency, agency) == 0) {
        shared = all_fields(d);
        any = sub = true;
    }
    for (size_t i = 0; p && !(any && shared == all_fields(d)) && i < p->n_rules; i++) {
        const Cpm__PolicyRule *r = p->rules[i];
        if (!r->dataset || strcmp(r->dataset, d->name) != 0 ||
            !listed(r->agencies, r->n_agencies, agency, true) ||
            (r->n_roles > 0 && !listed(r->roles, r->n_roles, role, false)))
            continue;
        any = true;
        sub = sub || r->subscribe;
        for (size_t k = 0; k < r->n_fields; k++) {
            int fi = field_index(d, r->fields[k]);
            if (fi < 0)
                continue; /* a field the schema no longer has: nothing to give */
            if (d->fields[fi].personal &&
                !(r->purpose && r->purpose[0] && purpose && strcmp(r->purpose, purpose) == 0)) {
                purpose_needed |= 1ULL << fi;
                continue;
            }
            shared |= 1ULL << fi;
        }
    }
    if (!any) {
        refuse(g, d->name,
               p ? "the policy of %s shares dataset %s with no rule for agency %s"
                 : "%s has no signed access policy: dataset %s is not shared with %s",
               self_agency ? self_agency : "?", d->name, agency ? agency : "?");
        return;
    }
    for (size_t k = 0; k < n; k++) {
        int fi = field_index(d, wanted[k]);
        char f[80];
        snprintf(f, sizeof f, "%s.%s", d->name, wanted[k]);
        if (fi < 0) {
            refuse(g, f, "dataset %s has no field %s%s", d->name, wanted[k], "");
            return;
        }
        if (!(shared & (1ULL << fi))) {
            if (purpose_needed & (1ULL << fi))
                refuse(g, f,
                       "%s is personal data: %s shares it only for a purpose its policy "
                       "names%s",
                       f, self_agency ? self_agency : "?", "");
            else
                refuse(g, f, "%s is not shared with agency %s%s", f, agency ? agency : "?", "");
            return;
        }
    }
    if (n > 0) { /* only what was asked for */
        uint64_t want = 0;
        for (size_t k = 0; k < n; k++)
            want |= 1ULL << field_index(d, wanted[k]);
        shared &= want;
    }
    g->allowed = true;
    g->subscribe = sub;
    g->shared = shared;
    g->withheld = all_fields(d) & ~shared;
}

bool cpm_xpolicy_may_filter(const Cpm__ExchangePolicy *p, const char *self_agency,
                            const cpm_xdataset_t *d, const char *agency, const char *role,
                            const char *purpose, const char *field, cpm_xgrant_t *g)
{
    if (!field || !field[0])
        return true;
    cpm_xgrant_t all;
    cpm_xpolicy_decide(p, self_agency, d, agency, role, purpose, NULL, 0, &all);
    int fi = field_index(d, field);
    if (all.allowed && fi >= 0 && (all.shared & (1ULL << fi)))
        return true;
    char f[80];
    snprintf(f, sizeof f, "%s.%s", d->name, field);
    refuse(g, f, "%s is not shared with agency %s, so it cannot be filtered on either%s", f,
           agency ? agency : "?", "");
    return false;
}

int cpm_xpolicy_redact(const cpm_xgrant_t *g, const cpm_xdataset_t *d, const Cpm__DataRecord *r,
                       Cpm__DataRecord *out)
{
    *out = *r;
    out->fields = NULL;
    out->n_fields = 0;
    if (r->n_fields == 0)
        return 0;
    out->fields = malloc(r->n_fields * sizeof *out->fields);
    if (!out->fields)
        return -1;
    for (size_t i = 0; i < r->n_fields; i++) {
        int fi = field_index(d, r->fields[i]->name);
        if (fi >= 0 && (g->shared & (1ULL << fi)))
            out->fields[out->n_fields++] = r->fields[i];
    }
    return 0;
}

const char *cpm_xpolicy_withheld(const cpm_xgrant_t *g, const cpm_xdataset_t *d, char *buf,
                                 size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < d->n_fields && k < cap; i++)
        if (g->withheld & (1ULL << i)) {
            int w = snprintf(buf + k, cap - k, "%s%s", k ? "," : "", d->fields[i].name);
            if (w < 0)
                break;
            k += (size_t)w;
        }
    return buf;
}
