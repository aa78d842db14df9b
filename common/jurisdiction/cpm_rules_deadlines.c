/* cpm_rules_deadlines: deadlines per category and per generation.
 *
 * A generation entry may carry its own deadlines, for when a reform changes
 * the time an agency has (a new law, units merged into larger ones):
 *
 *   generations:
 *     - id: "2025"
 *       ...
 *       deadlines: {accept_working_days: 10, resolve_working_days: 30}
 *       categories:
 *         real_estate: {accept_days: 10, resolve_days: 60}
 *
 * Both are optional, and so is each field. A case's deadline is the first
 * that is set of: its generation's entry for its category, its generation's
 * deadlines:, its category's accept_days / resolve_days, the top-level
 * deadlines: block. Reminder days stay global (remind_days_before). Errors
 * name the line, the generation and the field. */
#include "cpm_rules_int.h"
#include "cpm_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEADLINE_MAX 365

/* Only the keys in allowed: a typo is an error, not a silently longer
 * deadline. The error names the generation. */
static int check_keys(ctx_t *c, const yaml_node_t *map, const char *gen, const char *where,
                      const char *const *allowed)
{
    char at[160];
    snprintf(at, sizeof at, "generation %s: %s", gen, where);
    return cpm_rules_ycheck_keys(c, map, at, allowed);
}

/* A whole number of working days (1..DEADLINE_MAX) at key of map into *out,
 * left as it is when the key is absent. */
static int get_days(ctx_t *c, const yaml_node_t *map, const char *key, const char *gen,
                    const char *where, int *out)
{
    const yaml_node_t *n = cpm_rules_yget(c, map, key);
    if (!n)
        return 0;
    const char *s = cpm_rules_yscalar(n);
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < 1 || v > DEADLINE_MAX)
        return cpm_rules_yfail(c, n, "generation %s: %s.%s must be a whole number from 1 to %d",
                               gen, where, key, DEADLINE_MAX);
    *out = (int)v;
    return 0;
}

static int load_gen(ctx_t *c, cpm_rules_t *r, gen_t *g, const yaml_node_t *e)
{
    static const char *const dkeys[] = {"accept_working_days", "resolve_working_days", NULL};
    static const char *const ckeys[] = {"accept_days", "resolve_days", NULL};
    const yaml_node_t *dn = cpm_rules_yget(c, e, "deadlines"),
                      *cn = cpm_rules_yget(c, e, "categories");
    if (dn && (check_keys(c, dn, g->id, "deadlines", dkeys) < 0 ||
               get_days(c, dn, "accept_working_days", g->id, "deadlines", &g->accept_days) < 0 ||
               get_days(c, dn, "resolve_working_days", g->id, "deadlines", &g->resolve_days) < 0))
        return -1;
    if (!cn)
        return 0;
    if (cn->type != YAML_MAPPING_NODE)
        return cpm_rules_yfail(c, cn,
                               "generation %s: categories must map category slugs to "
                               "{accept_days, resolve_days}",
                               g->id);
    size_t n = r->ncategories;
    if (!(g->cat_accept = calloc(n ? n : 1, sizeof *g->cat_accept)) ||
        !(g->cat_resolve = calloc(n ? n : 1, sizeof *g->cat_resolve)))
        return cpm_rules_yfail(c, cn, "out of memory");
    for (yaml_node_pair_t *p = cn->data.mapping.pairs.start; p < cn->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = cpm_rules_ynode(c, p->key), *vn = cpm_rules_ynode(c, p->value);
        const char *slug = cpm_rules_yscalar(kn);
        int k = cpm_rules_find_slug(r->categories, n, slug);
        if (k < 0)
            return cpm_rules_yfail(c, kn,
                                   "generation %s: categories: \"%.64s\" is not a declared "
                                   "category",
                                   g->id, slug ? slug : "?");
        if (g->cat_accept[k] || g->cat_resolve[k])
            return cpm_rules_yfail(c, kn, "generation %s: categories: %s is listed twice", g->id,
                                   slug);
        char where[96];
        snprintf(where, sizeof where, "categories.%s", slug);
        if (check_keys(c, vn, g->id, where, ckeys) < 0 ||
            get_days(c, vn, "accept_days", g->id, where, &g->cat_accept[k]) < 0 ||
            get_days(c, vn, "resolve_days", g->id, where, &g->cat_resolve[k]) < 0)
            return -1;
        if (!g->cat_accept[k] && !g->cat_resolve[k])
            return cpm_rules_yfail(c, vn, "generation %s: %s needs accept_days or resolve_days",
                                   g->id, where);
    }
    return 0;
}

int cpm_rules_gens_deadlines(ctx_t *c, cpm_rules_t *r, const yaml_node_t *root)
{
    /* r->gens is sorted by date now; the entries are found again by id. */
    const yaml_node_t *seq = cpm_rules_yget(c, root, "generations");
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        const yaml_node_t *e = cpm_rules_ynode(c, *it);
        gen_t *g = (gen_t *)cpm_rules_gen_find(r, cpm_rules_yscalar(cpm_rules_yget(c, e, "id")));
        if (g && load_gen(c, r, g, e) < 0)
            return -1;
    }
    return 0;
}

/* The precedence of the header, for one of accept or resolve. */
static int days_for(const cpm_rules_t *r, const char *category, const char *generation, bool accept)
{
    int k = cpm_rules_find_slug(r->categories, r->ncategories, category);
    const gen_t *g = NULL;
    if (r->ngens)
        g = cpm_rules_gen_find(
            r, generation && *generation ? generation : cpm_rules_generation_at(r, cpm_now_ms()));
    if (g) {
        const int *per = accept ? g->cat_accept : g->cat_resolve;
        if (k >= 0 && per && per[k] > 0)
            return per[k];
        int d = accept ? g->accept_days : g->resolve_days;
        if (d > 0)
            return d;
    }
    const int *per = accept ? r->cat_accept : r->cat_resolve;
    if (k >= 0 && per && per[k] > 0)
        return per[k];
    return accept ? r->accept_days : r->resolve_days;
}

int cpm_rules_accept_days_for(const cpm_rules_t *r, const char *category, const char *generation)
{
    return days_for(r, category, generation, true);
}

int cpm_rules_resolve_days_for(const cpm_rules_t *r, const char *category, const char *generation)
{
    return days_for(r, category, generation, false);
}
