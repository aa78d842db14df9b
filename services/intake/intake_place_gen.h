/* intake_place_gen: a complaint placed in the units of the jurisdiction
 * generation in force when intake receives it. cpm_place resolves in the
 * units of 2025; on a mesh whose rules are still on generation 2024 (the 30
 * districts), the placement is turned into one in those districts
 * (cpm_place_in_generation), so that Placement.generation and
 * Complaint.area name a unit that is in force and routing decides by it. The
 * legacy area slug of a client before version 3 names a district there. No
 * store, no sockets, no clock. */
#ifndef INTAKE_PLACE_GEN_H
#define INTAKE_PLACE_GEN_H

#include "cpm_place.h"
#include "cpmesh.pb-c.h"

/* p: c's placement by intake_place_resolve; generation: the rules'
 * generation in force (NULL or "2025": p unchanged). Returns p's method. */
cpm_place_method_t intake_place_generation(const cpm_places_t *places, const char *generation,
                                           const Cpm__Complaint *c, cpm_placement_t *p);

#endif
