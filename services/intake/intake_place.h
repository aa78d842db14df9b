/* intake_place: where a submitted complaint belongs, from what the consumer
 * gave: Complaint.location (a name or address line in any spelling), else
 * the legacy Complaint.area text, and an optional point (has_point, lat,
 * lon). cpm_place decides (docs/protocol.md "Placement"); this module turns
 * its answer into the complaint's fields and into a refusal a client can act
 * on.
 *
 * The legacy area field: clients before version 3 sent the slug of one of
 * the deployment's areas ("hoan-kiem"), an identifier, not a name typed by a
 * person. A slug that names a unit of the generation in force is taken as
 * that unit ("2025:hoan-kiem"), so those clients keep being routed as they
 * were; any other area text (an old district's slug, a name) is placed like
 * a location, so "nam-tu-liem" goes to triage with its candidates. Text in
 * location is never taken as a slug: the bare name "Hoàn Kiếm" is both a
 * ward and a former district, and goes to triage.
 *
 * No store, no sockets, no clock. */
#ifndef INTAKE_PLACE_H
#define INTAKE_PLACE_H

#include "cpm_err.h"
#include "cpm_place.h"
#include "cpmesh.pb-c.h"

/* Resolve c's location (c unchanged) into *out. 0 for a placed complaint
 * (point, name, lineage or triage); CPM_E_INVALID for an unknown place, with
 * err naming the field the text came from ("location", or "area" for a
 * legacy client) and the nearest known names, never the client's text. out
 * is filled in every case (out->method UNKNOWN on refusal). */
int intake_place_resolve(const cpm_places_t *places, const Cpm__Complaint *c, cpm_placement_t *out,
                         cpm_error_t *err);

/* Write p into c: c->placement (a new Placement; written = the text as the
 * consumer wrote it) and c->area (the unit's slug; "" for triage). Strings
 * are heap copies the unpacker's free releases. 0 or CPM_E_INTERNAL. */
int intake_place_apply(const cpm_placement_t *p, Cpm__Complaint *c);

#endif
