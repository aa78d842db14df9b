/* cpm_place_gen: a placement in the units of the generation in force (see
 * cpm_place_in_generation in cpm_place.h). A mesh still on generation 2024
 * routes by the 30 districts: what the consumer wrote is placed in them, by
 * the old names directly and through the lineage for the names of 2025, so
 * that the Placement record says the generation it was placed in and never
 * names a unit that was not in force. */
#include "cpm_place_int.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const cpm_place_unit_t *d[CPM_PLACE_MAX_CANDIDATES];
    size_t n;
} dset_t;

static void dset_add(dset_t *s, const cpm_place_unit_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (s->d[i] == d)
            return;
    if (s->n < CPM_PLACE_MAX_CANDIDATES)
        s->d[s->n++] = d;
}

/* The districts whose old wards went (whole or part) into the 2025 unit code. */
static void districts_of_unit(const cpm_places_t *p, const char *code, dset_t *s)
{
    const cpm_place_unit_t *u = cpm_place_unit_by_code(p, CPM_PLACE_GEN_2025, code);
    if (!u)
        return;
    uint32_t idx = (uint32_t)(u - p->units);
    for (size_t i = 0; i < p->nward_links; i++)
        if (p->ward_links[i].new_idx == idx)
            dset_add(s, cpm_place_unit_by_code(p, CPM_PLACE_GEN_2024,
                                               p->wards[p->ward_links[i].old_idx].district_code));
}

static void set_district(cpm_placement_t *o, const cpm_place_unit_t *d)
{
    snprintf(o->generation, sizeof o->generation, "%s", d->generation);
    snprintf(o->code, sizeof o->code, "%s", d->code);
    snprintf(o->slug, sizeof o->slug, "%s", d->slug);
    snprintf(o->name, sizeof o->name, "%s", d->name);
}

cpm_place_method_t cpm_place_in_generation(const cpm_places_t *p, const char *generation,
                                           cpm_placement_t *io)
{
    if (!p || !generation || strcmp(generation, CPM_PLACE_GEN_2024) != 0 ||
        io->method == CPM_PLACE_UNKNOWN)
        return io->method;
    dset_t s = {0};
    bool by_name = io->n_named > 0; /* the text named units of 2024 themselves */
    for (size_t i = 0; i < io->n_named; i++) {
        const cpm_place_unit_t *u = cpm_place_unit_by_code(p, CPM_PLACE_GEN_2024, io->named[i]);
        if (u && io->named_kind == CPM_PLACE_KIND_OLD_WARD)
            u = cpm_place_unit_by_code(p, CPM_PLACE_GEN_2024, u->district_code);
        dset_add(&s, u);
    }
    char from[CPM_PLACE_NAME_MAX + 40];
    if (by_name) {
        const cpm_place_unit_t *u = cpm_place_unit_by_code(p, CPM_PLACE_GEN_2024, io->named[0]);
        snprintf(from, sizeof from, "%s", u ? u->full_name : io->named[0]);
    } else if (io->method == CPM_PLACE_TRIAGE) {
        for (size_t i = 0; i < io->n_candidates; i++)
            districts_of_unit(p, io->candidates[i].code, &s);
        snprintf(from, sizeof from, "the %zu units of 2025 it may be", io->n_candidates);
    } else { /* a unit of 2025: by name, point or lineage */
        const cpm_place_unit_t *u = cpm_place_unit_by_code(p, CPM_PLACE_GEN_2025, io->code);
        districts_of_unit(p, io->code, &s);
        snprintf(from, sizeof from, "%s (a unit since 2025-07-01)", u ? u->full_name : io->name);
    }
    io->generation[0] = io->code[0] = io->slug[0] = io->name[0] = 0;
    io->n_candidates = io->n_candidates_total = 0;
    if (s.n == 1) {
        set_district(io, s.d[0]);
        io->method = by_name ? CPM_PLACE_NAME : CPM_PLACE_LINEAGE;
        snprintf(io->note, sizeof io->note, "%s %s %s, a unit of generation %s", from,
                 by_name && io->named_kind == CPM_PLACE_KIND_OLD_DISTRICT ? "is"
                 : by_name                                                ? "lies in"
                                                                          : "took its wards from",
                 s.d[0]->full_name, CPM_PLACE_GEN_2024);
        return io->method;
    }
    io->method = CPM_PLACE_TRIAGE;
    for (size_t i = 0; i < s.n; i++) {
        cpm_place_ref_t *r = &io->candidates[io->n_candidates++];
        snprintf(r->generation, sizeof r->generation, "%s", s.d[i]->generation);
        snprintf(r->code, sizeof r->code, "%s", s.d[i]->code);
        snprintf(r->slug, sizeof r->slug, "%s", s.d[i]->slug);
        snprintf(r->name, sizeof r->name, "%s", s.d[i]->full_name);
    }
    io->n_candidates_total = s.n;
    snprintf(io->note, sizeof io->note, "%s %s %zu districts of generation %s", from,
             by_name ? "lie in" : "took wards from", s.n, CPM_PLACE_GEN_2024);
    return io->method;
}
