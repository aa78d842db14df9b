/* intake_place_gen: see intake_place_gen.h. */
#include "intake_place_gen.h"
#include "cpm_util.h"

#include <stdio.h>
#include <string.h>

cpm_place_method_t intake_place_generation(const cpm_places_t *places, const char *generation,
                                           const Cpm__Complaint *c, cpm_placement_t *p)
{
    if (!generation || strcmp(generation, CPM_PLACE_GEN_2024) != 0 ||
        p->method == CPM_PLACE_UNKNOWN)
        return p->method;
    /* A legacy client's area slug is an identifier of the deployment's
     * areas, which on this generation are the districts. */
    const cpm_place_unit_t *d = !(c->location && *c->location) && !c->has_point && c->area
                                    ? cpm_place_unit_by_slug(places, CPM_PLACE_GEN_2024, c->area)
                                    : NULL;
    if (!d)
        return cpm_place_in_generation(places, generation, p);
    p->method = CPM_PLACE_NAME;
    p->n_candidates = p->n_candidates_total = 0;
    cpm_str_copy(p->generation, sizeof p->generation, d->generation);
    cpm_str_copy(p->code, sizeof p->code, d->code);
    cpm_str_copy(p->slug, sizeof p->slug, d->slug);
    cpm_str_copy(p->name, sizeof p->name, d->name);
    snprintf(p->note, sizeof p->note,
             "the area slug %s of a client before version 3: %s, a unit of generation %s", d->slug,
             d->full_name, d->generation);
    return p->method;
}
