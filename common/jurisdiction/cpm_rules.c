/* cpm_rules: the routing decision and the lookups intake validates with. It
 * runs once per complaint, so it is a few binary searches over the sorted
 * slugs and integer compares against the indexes cpm_rules_load.c built (the
 * layout is in cpm_rules_int.h). */
#include "cpm_rules_int.h"
#include "cpm_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cpm_rules_cmp_slug(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cpm_rules_find_slug(char **list, size_t n, const char *slug)
{
    if (!slug || !*slug || !n)
        return -1;
    char **hit = bsearch(&slug, list, n, sizeof *list, cpm_rules_cmp_slug);
    return hit ? (int)(hit - list) : -1;
}

uint32_t cpm_rules_version(const cpm_rules_t *r)
{
    return r->version;
}

bool cpm_rules_has_area(const cpm_rules_t *r, const char *slug)
{
    return cpm_rules_find_slug(r->areas, r->nareas, slug) >= 0;
}

bool cpm_rules_has_category(const cpm_rules_t *r, const char *slug)
{
    return cpm_rules_find_slug(r->categories, r->ncategories, slug) >= 0;
}

const char *cpm_rules_triage(const cpm_rules_t *r)
{
    return r->triage;
}

__attribute__((format(printf, 3, 4))) static void to_triage(const cpm_rules_t *r, cpm_route_t *out,
                                                            const char *fmt, ...)
{
    cpm_str_copy(out->agency, sizeof out->agency, r->triage);
    snprintf(out->rule_id, sizeof out->rule_id, "triage");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
}

static int32_t vn_day(int64_t ms)
{
    int64_t t = ms + 7 * 3600 * 1000LL; /* Vietnam time, UTC+7 */
    return (int32_t)(t >= 0 ? t / 86400000LL : -((-t + 86399999LL) / 86400000LL));
}

const char *cpm_rules_generation_at(const cpm_rules_t *r, int64_t ms)
{
    const gen_t *g = cpm_rules_gen_on(r, vn_day(ms));
    return g ? g->id : NULL;
}

const char *cpm_rules_unit_agency(const cpm_rules_t *r, const char *gen, const char *slug,
                                  char *buf, size_t n)
{
    const gen_t *g =
        gen && *gen ? cpm_rules_gen_find(r, gen) : cpm_rules_gen_on(r, vn_day(cpm_now_ms()));
    const gen_unit_t *u = cpm_rules_gen_unit(g, slug);
    if (!u)
        return NULL;
    if (*u->agency)
        cpm_str_copy(buf, n, u->agency);
    else
        snprintf(buf, n, "%s%s", g->prefix, u->slug);
    return buf;
}

/* "@area" in generation g: the unit's override, else the registry's area
 * office for the slug (a mesh that names its offices its own way), else
 * prefix + slug. false (triage) when the unit is not g's or has no node. */
static bool unit_agency(const cpm_rules_t *r, const cpm_registry_t *reg, const rule_t *ru,
                        const gen_t *g, const char *area, cpm_route_t *out)
{
    const gen_unit_t *u = cpm_rules_gen_unit(g, area);
    if (!u && !*area) {
        to_triage(r, out, "rule %s: no unit given", ru->id);
        return false;
    }
    if (!u) {
        to_triage(r, out, "rule %s: \"%.40s\" is not a unit of generation %s", ru->id, area, g->id);
        return false;
    }
    char id[128];
    snprintf(id, sizeof id, "%s%s", g->prefix, u->slug);
    if (*u->agency)
        cpm_str_copy(id, sizeof id, u->agency);
    const Cpm__Member *m = NULL;
    if (reg && !(m = cpm_registry_member(reg, id)) && !*u->agency)
        m = cpm_registry_area_office(reg, area);
    if (reg && !m) {
        to_triage(r, out, "rule %s: no node for unit %s:%s (%.60s)", ru->id, g->id, area, id);
        return false;
    }
    if (m && r->service[0] && !cpm_member_service(m, r->service)) {
        to_triage(r, out, "rule %s: member %.60s has no %s service", ru->id, m->id, r->service);
        return false;
    }
    cpm_str_copy(out->agency, sizeof out->agency, m ? m->id : id);
    return true;
}

/* The member a matched rule names, checked against reg; false sends to triage. */
static bool resolve_agency(const cpm_rules_t *r, const cpm_registry_t *reg, const rule_t *ru,
                           const char *area, int didx, cpm_route_t *out)
{
    const Cpm__Member *m = NULL;
    if (ru->at_area) {
        if (didx < 0) {
            if (*area)
                to_triage(r, out, "rule %s: area \"%.40s\" is not declared", ru->id, area);
            else
                to_triage(r, out, "rule %s: no area given", ru->id);
            return false;
        }
        if (!reg) {
            snprintf(out->agency, sizeof out->agency, "%s%s", r->prefix, r->areas[didx]);
            return true;
        }
        if (!(m = cpm_registry_area_office(reg, area))) {
            to_triage(r, out, "rule %s: no area office for area %s", ru->id, area);
            return false;
        }
    } else if (reg && !(m = cpm_registry_member(reg, ru->agency))) {
        to_triage(r, out, "rule %s: agency %s is not in the registry", ru->id, ru->agency);
        return false;
    }
    if (m && r->service[0] && !cpm_member_service(m, r->service)) {
        to_triage(r, out, "rule %s: member %.60s has no %s service", ru->id, m->id, r->service);
        return false;
    }
    cpm_str_copy(out->agency, sizeof out->agency, m ? m->id : ru->agency);
    return true;
}

void cpm_rules_set_service(cpm_rules_t *r, const char *service)
{
    snprintf(r->service, sizeof r->service, "%s", service ? service : "");
}

static bool skipped(const char *agency, const char *const *skip, size_t nskip)
{
    for (size_t i = 0; i < nskip; i++)
        if (skip[i] && !strcmp(skip[i], agency))
            return true;
    return false;
}

void cpm_rules_route(const cpm_rules_t *r, const cpm_registry_t *reg, const char *category,
                     const char *area, bool urgent, cpm_route_t *out)
{
    cpm_route_query_t q = {NULL, 0, category, area, urgent, NULL, 0};
    cpm_rules_route_q(r, reg, &q, out);
}

void cpm_rules_route_q(const cpm_rules_t *r, const cpm_registry_t *reg, const cpm_route_query_t *q,
                       cpm_route_t *out)
{
    memset(out, 0, sizeof *out);
    const char *category = q->category ? q->category : "";
    const char *area = q->area ? q->area : "";
    bool urgent = q->urgent;
    const char *const *skip = q->skip;
    size_t nskip = q->nskip;
    const gen_t *g = NULL;
    if (r->ngens) {
        g = q->generation && *q->generation
                ? cpm_rules_gen_find(r, q->generation)
                : cpm_rules_gen_on(r, vn_day(q->at_ms ? q->at_ms : cpm_now_ms()));
        if (!g) {
            to_triage(r, out, "generation %.15s is not configured",
                      q->generation && *q->generation ? q->generation : "(none in force)");
            return;
        }
        cpm_str_copy(out->generation, sizeof out->generation, g->id);
    }
    int cidx = cpm_rules_find_slug(r->categories, r->ncategories, category);
    int didx = cpm_rules_find_slug(r->areas, r->nareas, area);
    for (size_t i = 0; i < r->nrules; i++) {
        const rule_t *ru = &r->rules[i];
        if ((ru->category >= 0 && ru->category != cidx) ||
            (ru->urgent >= 0 && ru->urgent != (int)urgent) ||
            (ru->dmap && (didx < 0 || !(ru->dmap[didx / 8] & (1u << (didx % 8))))))
            continue;
        cpm_route_t d;
        memset(&d, 0, sizeof d);
        cpm_str_copy(d.generation, sizeof d.generation, out->generation);
        bool ok = g && ru->at_area ? unit_agency(r, reg, ru, g, area, &d)
                                   : resolve_agency(r, reg, ru, area, didx, &d);
        /* An agency that returned the case ("not ours") is not asked again:
         * the next matching rule decides. */
        if (skipped(d.agency, skip, nskip))
            continue;
        *out = d;
        if (!ok)
            return;
        cpm_str_copy(out->rule_id, sizeof out->rule_id, ru->id);
        snprintf(out->reason, sizeof out->reason, "rule %s matched category %s", ru->id,
                 cidx >= 0 ? r->categories[cidx] : "(any)");
        return;
    }
    if (!*category)
        to_triage(r, out, "no category given and no rule for any category matched");
    else if (cidx < 0)
        to_triage(r, out, "category \"%.40s\" is not declared", category);
    else
        to_triage(r, out, "no rule matches category %s in area \"%.40s\"", category, area);
}
