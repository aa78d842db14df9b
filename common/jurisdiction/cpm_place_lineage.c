/* cpm_place_lineage: a unit of one generation read in another, through the
 * lineage the generations were loaded with (each 2024 district keeps the
 * 2025 units that took its wards: cpm_rules_gen.c). Reports group cases
 * handled under either generation by the areas of one (routing_report). */
#include "cpm_rules_int.h"

#include <stdlib.h>
#include <string.h>

bool cpm_rules_has_generation(const cpm_rules_t *r, const char *gen)
{
    return r && gen && cpm_rules_gen_find(r, gen) != NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Does unit u (of an older generation) lead to slug in the newer one? */
static bool leads_to(const gen_unit_t *u, const char *slug)
{
    for (size_t i = 0; i < u->nsucc; i++)
        if (!strcmp(u->succ[i], slug))
            return true;
    return false;
}

size_t cpm_rules_map_unit(const cpm_rules_t *r, const char *from, const char *slug, const char *to,
                          const char **out, size_t max)
{
    const gen_t *fg = r ? cpm_rules_gen_find(r, from) : NULL;
    const gen_t *tg = r ? cpm_rules_gen_find(r, to) : NULL;
    const gen_unit_t *u = cpm_rules_gen_unit(fg, slug);
    if (!tg || !u)
        return 0;
    if (fg == tg) {
        if (max)
            out[0] = u->slug;
        return 1;
    }
    size_t n = 0;
    if (fg->from_day < tg->from_day) { /* forward: the successors that exist in to */
        const char *tmp[CPM_RULES_LINEAGE_MAX];
        if (!u->succ) {
            const gen_unit_t *same = cpm_rules_gen_unit(tg, slug);
            if (same && max)
                out[0] = same->slug;
            return same != NULL;
        }
        for (size_t i = 0; i < u->nsucc && n < CPM_RULES_LINEAGE_MAX; i++) {
            const gen_unit_t *t = cpm_rules_gen_unit(tg, u->succ[i]);
            if (t)
                tmp[n++] = t->slug;
        }
        qsort(tmp, n, sizeof *tmp, cmp_str);
        size_t k = 0; /* unique */
        for (size_t i = 0; i < n; i++)
            if (!k || strcmp(tmp[k - 1], tmp[i]) != 0)
                tmp[k++] = tmp[i];
        for (size_t i = 0; i < k && i < max; i++)
            out[i] = tmp[i];
        return k;
    }
    /* backward: the units of to whose wards went (in part) into slug; to's
     * units are sorted by slug, so out is too */
    for (size_t i = 0; i < tg->nunits; i++) {
        const gen_unit_t *t = &tg->units[i];
        if (t->succ ? leads_to(t, slug) : !strcmp(t->slug, slug)) {
            if (n < max)
                out[n] = t->slug;
            n++;
        }
    }
    return n;
}
