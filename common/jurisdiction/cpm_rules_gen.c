/* cpm_rules_gen: jurisdiction generations in the rules file.
 *
 *   places_dir: reform-2025        # the reform data, relative to the rules file
 *   agencies: [hn.attp, hn.qltt]   # optional: members an override may name
 *   generations:
 *     - id: "2024"
 *       valid_from: "2008-08-01"
 *       valid_to: "2025-06-30"     # optional on the last one
 *       units: districts           # the 30 districts of 2024 | communes (the
 *                                  # 126 units of 2025) | areas (the areas: list)
 *       agency_prefix: "hn.d."     # unit -> agency: prefix + slug, unless
 *       agencies: {soc-son: hn.d.dong-anh}   # overridden (several units, one node)
 *
 * A code is always kept with its generation: a unit is (generation id,
 * slug), and the code beside it comes from the same generation's data.
 * Checked: ids unique, dates real, valid_to not before valid_from, no two
 * generations overlapping (both lines named), overrides naming a unit of the
 * generation and a known agency (the prefix + slug of one of its units, the
 * triage agency, or one listed under agencies:). */
#include "cpm_place_int.h"
#include "cpm_rules_int.h"

#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_unit(const void *a, const void *b)
{
    return strcmp(((const gen_unit_t *)a)->slug, ((const gen_unit_t *)b)->slug);
}

static int cmp_gen(const void *a, const void *b)
{
    const gen_t *x = a, *y = b;
    return x->from_day < y->from_day ? -1 : x->from_day > y->from_day;
}

const gen_unit_t *cpm_rules_gen_unit(const gen_t *g, const char *slug)
{
    gen_unit_t key;
    if (!g || !slug || strlen(slug) > SLUG_MAX)
        return NULL;
    snprintf(key.slug, sizeof key.slug, "%s", slug);
    return bsearch(&key, g->units, g->nunits, sizeof *g->units, cmp_unit);
}

const gen_t *cpm_rules_gen_find(const cpm_rules_t *r, const char *id)
{
    for (size_t i = 0; id && i < r->ngens; i++)
        if (!strcmp(r->gens[i].id, id))
            return &r->gens[i];
    return NULL;
}

const gen_t *cpm_rules_gen_on(const cpm_rules_t *r, int32_t day)
{
    for (size_t i = 0; i < r->ngens; i++)
        if (r->gens[i].from_day <= day && day <= r->gens[i].to_day)
            return &r->gens[i];
    return NULL;
}

/* The 2025 units that took a district of 2024 (the reorganization moves its
 * open cases there, or to triage with them). -1 when out of memory. */
static int add_successors(const cpm_places_t *pl, gen_unit_t *u)
{
    const cpm_place_unit_t *out[CPM_PLACE_MAX_SUCCESSORS];
    bool whole = false;
    size_t n = cpm_place_successors(pl, u->code, out, CPM_PLACE_MAX_SUCCESSORS, &whole);
    if (n > CPM_PLACE_MAX_SUCCESSORS)
        n = CPM_PLACE_MAX_SUCCESSORS;
    if (!n)
        return 0;
    if (!(u->succ = calloc(n, sizeof *u->succ)))
        return -1;
    for (size_t i = 0; i < n; i++)
        snprintf(u->succ[i], sizeof u->succ[i], "%s", out[i]->slug);
    u->nsucc = n;
    u->whole = whole && n == 1;
    return 0;
}

size_t cpm_rules_successors(const cpm_rules_t *r, const char *gen, const char *slug,
                            const char **out, size_t max, bool *whole)
{
    const gen_t *g = cpm_rules_gen_find(r, gen);
    const gen_unit_t *u = cpm_rules_gen_unit(g, slug);
    *whole = false;
    if (!u)
        return 0;
    if (!u->succ) { /* a unit of the same slug in a later generation is its own successor */
        for (size_t i = 0; i < r->ngens; i++)
            if (r->gens[i].from_day > g->from_day && cpm_rules_gen_unit(&r->gens[i], slug)) {
                if (max)
                    out[0] = cpm_rules_gen_unit(&r->gens[i], slug)->slug;
                *whole = true;
                return 1;
            }
        return 0;
    }
    for (size_t i = 0; i < u->nsucc && i < max; i++)
        out[i] = u->succ[i];
    *whole = u->whole;
    return u->nsucc;
}

/* The units of a generation from the places data or the areas: list. */
static int fill_units(ctx_t *c, cpm_rules_t *r, gen_t *g, const yaml_node_t *un,
                      const cpm_places_t *pl)
{
    const char *what = cpm_rules_yscalar(un);
    if (!what)
        return cpm_rules_yfail(
            c, un, "generation %s: units is required: communes, districts or areas", g->id);
    size_t n = 0;
    const cpm_place_unit_t *src = NULL;
    if (!strcmp(what, "communes") || !strcmp(what, "districts")) {
        if (!pl)
            return cpm_rules_yfail(c, un, "generation %s: units %s needs places_dir", g->id, what);
        bool com = !strcmp(what, "communes");
        src = com ? pl->units : pl->districts;
        n = com ? pl->nunits : pl->ndistricts;
    } else if (!strcmp(what, "areas")) {
        n = r->nareas;
        if (!n)
            return cpm_rules_yfail(c, un, "generation %s: units areas needs an areas: list", g->id);
    } else {
        return cpm_rules_yfail(
            c, un, "generation %s: units \"%s\" is not communes, districts or areas", g->id, what);
    }
    if (!(g->units = calloc(n ? n : 1, sizeof *g->units)))
        return cpm_rules_yfail(c, un, "out of memory");
    for (size_t i = 0; i < n; i++) {
        snprintf(g->units[i].slug, sizeof g->units[i].slug, "%s", src ? src[i].slug : r->areas[i]);
        snprintf(g->units[i].code, sizeof g->units[i].code, "%s", src ? src[i].code : "");
        if (src && src[i].kind == CPM_PLACE_KIND_OLD_DISTRICT && add_successors(pl, &g->units[i]))
            return cpm_rules_yfail(c, un, "out of memory");
    }
    g->nunits = n;
    qsort(g->units, n, sizeof *g->units, cmp_unit);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(g->units[i - 1].slug, g->units[i].slug))
            return cpm_rules_yfail(c, un, "generation %s: unit slug %s appears twice", g->id,
                                   g->units[i].slug);
    return 0;
}

/* Is agency one an override may name in g? */
static bool known_agency(ctx_t *c, const cpm_rules_t *r, const gen_t *g, const yaml_node_t *list,
                         const char *agency)
{
    if (!strcmp(agency, r->triage))
        return true;
    size_t pl = strlen(g->prefix);
    if (pl && !strncmp(agency, g->prefix, pl) && cpm_rules_gen_unit(g, agency + pl))
        return true;
    if (list && list->type == YAML_SEQUENCE_NODE)
        for (yaml_node_item_t *it = list->data.sequence.items.start;
             it < list->data.sequence.items.top; it++) {
            const char *s = cpm_rules_yscalar(cpm_rules_ynode(c, *it));
            if (s && !strcmp(s, agency))
                return true;
        }
    return false;
}

static int load_overrides(ctx_t *c, const cpm_rules_t *r, gen_t *g, const yaml_node_t *map,
                          const yaml_node_t *agencies)
{
    if (!map)
        return 0;
    if (map->type != YAML_MAPPING_NODE)
        return cpm_rules_yfail(c, map, "generation %s: agencies must map unit slugs to member ids",
                               g->id);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *kn = cpm_rules_ynode(c, p->key), *vn = cpm_rules_ynode(c, p->value);
        const char *unit = cpm_rules_yscalar(kn), *ag = cpm_rules_yscalar(vn);
        gen_unit_t *u = (gen_unit_t *)cpm_rules_gen_unit(g, unit);
        if (!u)
            return cpm_rules_yfail(c, kn,
                                   "generation %s: agencies: \"%s\" is not a unit of generation %s",
                                   g->id, unit ? unit : "?", g->id);
        if (!ag || !*ag || strlen(ag) >= sizeof u->agency)
            return cpm_rules_yfail(c, vn, "generation %s: agencies.%s must be a member id", g->id,
                                   unit);
        if (!known_agency(c, r, g, agencies, ag))
            return cpm_rules_yfail(
                c, vn,
                "generation %s: agencies.%s: agency \"%s\" is unknown (neither "
                "%s<unit> of this generation, the triage agency, nor listed under "
                "agencies:)",
                g->id, unit, ag, g->prefix);
        snprintf(u->agency, sizeof u->agency, "%s", ag);
    }
    return 0;
}

static int load_one(ctx_t *c, cpm_rules_t *r, gen_t *g, const yaml_node_t *e,
                    const cpm_places_t *pl, const yaml_node_t *agencies)
{
    static const char *const keys[] = {"id",        "valid_from",    "valid_to",
                                       "units",     "agency_prefix", "agencies",
                                       "deadlines", "categories"};
    if (!e || e->type != YAML_MAPPING_NODE)
        return cpm_rules_yfail(c, e, "generations: each entry must be a mapping");
    g->line = (unsigned)e->start_mark.line + 1;
    for (yaml_node_pair_t *p = e->data.mapping.pairs.start; p < e->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = cpm_rules_ynode(c, p->key);
        const char *k = cpm_rules_yscalar(kn);
        size_t i = 0;
        while (k && i < sizeof keys / sizeof *keys && strcmp(keys[i], k))
            i++;
        if (!k || i == sizeof keys / sizeof *keys)
            return cpm_rules_yfail(c, kn, "generations: unknown key \"%s\"", k ? k : "?");
    }
    const yaml_node_t *idn = cpm_rules_yget(c, e, "id");
    const char *id = cpm_rules_yscalar(idn);
    if (!id || !*id || strlen(id) >= sizeof g->id)
        return cpm_rules_yfail(c, idn ? idn : e, "generations: id is required: 1 to %zu bytes",
                               sizeof g->id - 1);
    snprintf(g->id, sizeof g->id, "%s", id);
    const yaml_node_t *fn = cpm_rules_yget(c, e, "valid_from"),
                      *tn = cpm_rules_yget(c, e, "valid_to");
    if (cpm_rules_parse_date(cpm_rules_yscalar(fn), &g->from_day) < 0)
        return cpm_rules_yfail(c, fn ? fn : e,
                               "generation %s: valid_from must be a date as YYYY-MM-DD", id);
    g->to_day = INT32_MAX;
    if (tn && cpm_rules_parse_date(cpm_rules_yscalar(tn), &g->to_day) < 0)
        return cpm_rules_yfail(c, tn, "generation %s: valid_to must be a date as YYYY-MM-DD", id);
    if (g->to_day < g->from_day)
        return cpm_rules_yfail(c, tn, "generation %s: valid_to is before valid_from", id);
    const yaml_node_t *pn = cpm_rules_yget(c, e, "agency_prefix");
    if (pn && (!cpm_rules_yscalar(pn) || strlen(cpm_rules_yscalar(pn)) > PREFIX_MAX))
        return cpm_rules_yfail(c, pn, "generation %s: agency_prefix must be at most %d bytes", id,
                               PREFIX_MAX);
    snprintf(g->prefix, sizeof g->prefix, "%s", pn ? cpm_rules_yscalar(pn) : r->prefix);
    if (fill_units(c, r, g, cpm_rules_yget(c, e, "units"), pl) < 0)
        return -1;
    return load_overrides(c, r, g, cpm_rules_yget(c, e, "agencies"), agencies);
}

/* r->areas becomes the union of itself and every generation's unit slugs,
 * so that rules' areas: lists and intake's check know every unit. */
static int merge_areas(ctx_t *c, cpm_rules_t *r)
{
    size_t n = r->nareas;
    for (size_t i = 0; i < r->ngens; i++)
        n += r->gens[i].nunits;
    char **all = realloc(r->areas, (n ? n : 1) * sizeof *all);
    if (!all)
        return cpm_rules_yfail(c, NULL, "out of memory");
    r->areas = all;
    for (size_t i = 0; i < r->ngens; i++)
        for (size_t k = 0; k < r->gens[i].nunits; k++) {
            if (!(all[r->nareas] = strdup(r->gens[i].units[k].slug)))
                return cpm_rules_yfail(c, NULL, "out of memory");
            r->nareas++;
        }
    qsort(all, r->nareas, sizeof *all, cpm_rules_cmp_slug);
    size_t w = 0;
    for (size_t i = 0; i < r->nareas; i++) {
        if (w && !strcmp(all[w - 1], all[i])) {
            free(all[i]);
            continue;
        }
        all[w++] = all[i];
    }
    r->nareas = w;
    return 0;
}

int cpm_rules_gens_load(ctx_t *c, cpm_rules_t *r, const yaml_node_t *root)
{
    const yaml_node_t *seq = cpm_rules_yget(c, root, "generations");
    const yaml_node_t *agencies = cpm_rules_yget(c, root, "agencies");
    if (agencies && agencies->type != YAML_SEQUENCE_NODE)
        return cpm_rules_yfail(c, agencies, "agencies must be a list of member ids");
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return cpm_rules_yfail(c, seq, "generations must be a list");
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n == 0)
        return cpm_rules_yfail(c, seq, "generations must not be empty");
    cpm_places_t *pl = NULL;
    const yaml_node_t *dn = cpm_rules_yget(c, root, "places_dir");
    if (dn) {
        const char *d = cpm_rules_yscalar(dn);
        char *copy = strdup(c->path);
        char dir[PATH_MAX];
        if (!d || !*d || !copy) {
            free(copy);
            return cpm_rules_yfail(c, dn, "places_dir must be a folder name");
        }
        if (d[0] == '/')
            snprintf(dir, sizeof dir, "%s", d);
        else
            snprintf(dir, sizeof dir, "%s/%s", dirname(copy), d);
        free(copy);
        cpm_error_t e = {0};
        if (cpm_places_load(dir, &pl, &e) != 0)
            return cpm_rules_yfail(c, dn, "places_dir %s: %s%s%s", dir, e.field,
                                   *e.field ? ": " : "", e.message);
    }
    int rc = 0;
    if (!(r->gens = calloc(n, sizeof *r->gens)))
        rc = cpm_rules_yfail(c, seq, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        r->ngens = i + 1;
        rc = load_one(c, r, &r->gens[i], cpm_rules_ynode(c, seq->data.sequence.items.start[i]), pl,
                      agencies);
        for (size_t k = 0; rc == 0 && k < i; k++)
            if (!strcmp(r->gens[k].id, r->gens[i].id))
                rc = cpm_rules_yfail(c, seq,
                                     "generations: id %s is declared twice (lines %u and %u)",
                                     r->gens[i].id, r->gens[k].line, r->gens[i].line);
    }
    cpm_places_destroy(&pl);
    if (rc != 0)
        return rc;
    qsort(r->gens, r->ngens, sizeof *r->gens, cmp_gen);
    for (size_t i = 1; i < r->ngens; i++)
        if (r->gens[i - 1].to_day >= r->gens[i].from_day)
            return cpm_rules_yfail(
                c, NULL,
                "line %u: generation %s overlaps generation %s of line %u (it is valid "
                "until after %s begins)",
                r->gens[i].line, r->gens[i].id, r->gens[i - 1].id, r->gens[i - 1].line,
                r->gens[i].id);
    return merge_areas(c, r);
}

void cpm_rules_gens_free(cpm_rules_t *r)
{
    for (size_t i = 0; i < r->ngens; i++) {
        for (size_t k = 0; k < r->gens[i].nunits; k++)
            free(r->gens[i].units[k].succ);
        free(r->gens[i].units);
        free(r->gens[i].cat_accept);
        free(r->gens[i].cat_resolve);
    }
    free(r->gens);
    r->gens = NULL;
    r->ngens = 0;
}
