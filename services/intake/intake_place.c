/* intake_place: a submitted complaint's location through cpm_place. See
 * intake_place.h. */
#include "intake_place.h"

#include "cpm_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const char *s)
{
    return s ? s : "";
}

/* Which text to place, and the field it came from. */
static const char *text_of(const Cpm__Complaint *c, const char **field)
{
    if (*str(c->location)) {
        *field = "location";
        return c->location;
    }
    *field = *str(c->area) || !c->has_point ? "area" : "location";
    return str(c->area);
}

int intake_place_resolve(const cpm_places_t *places, const Cpm__Complaint *c, cpm_placement_t *out,
                         cpm_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (!places)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "No places data is loaded.");
    const char *field;
    const char *text = text_of(c, &field);
    char ref[CPM_PLACE_SLUG_MAX + 8];
    /* A legacy area slug of a current unit is that unit (see the header). */
    if (!strcmp(field, "area") && cpm_place_unit_by_slug(places, CPM_PLACE_GEN_2025, text) &&
        cpm_text_join(ref, sizeof ref, (const char *[]){CPM_PLACE_GEN_2025, ":", text}, 3))
        text = ref;
    if (cpm_place_resolve(places, text, c->has_point, c->lat, c->lon, out) != CPM_PLACE_UNKNOWN) {
        if (text == ref)
            cpm_text_join(out->note, sizeof out->note,
                          (const char *[]){"the area slug ", out->slug,
                                           " of a client before version 3: the current unit ",
                                           out->name, " (", out->generation, ":", out->code, ")"},
                          9);
        return 0;
    }
    /* The module's note quotes the text; the error goes back on the wire
     * and to the log, so it says only what we know. */
    char near[3 * (CPM_PLACE_NAME_MAX + 34)] = "";
    for (size_t i = 0; i < out->n_suggestions; i++) {
        size_t n = strlen(near);
        snprintf(near + n, sizeof near - n, "%s%s", i ? "; " : "", out->suggestions[i]);
    }
    if (!*text && c->has_point)
        return cpm_error_set(err, CPM_E_INVALID, "location",
                             "The point (lat, lon) is outside every ward and commune of Hanoi, "
                             "and no location text was given.");
    if (!*near)
        return cpm_error_set(err, CPM_E_INVALID, field,
                             "%s is not a place of Hanoi this service can read (it must be "
                             "UTF-8 of at most %d bytes naming a ward, commune or district).",
                             field, CPM_PLACE_TEXT_MAX);
    return cpm_error_set(err, CPM_E_INVALID, field, "%s: no such place in Hanoi%s; nearest: %s.",
                         field, c->has_point ? " (nor the point)" : "", near);
}

static char *dup(const char *s)
{
    return strdup(s ? s : "");
}

/* Free a string the unpacker (or we) allocated; leave the shared "". */
static void drop(char **s)
{
    if (*s && *s != protobuf_c_empty_string)
        free(*s);
    *s = NULL;
}

static Cpm__PlaceCandidate *candidate(const cpm_place_ref_t *r)
{
    Cpm__PlaceCandidate *pc = malloc(sizeof *pc);
    if (!pc)
        return NULL;
    cpm__place_candidate__init(pc);
    pc->generation = dup(r->generation);
    pc->code = dup(r->code);
    pc->slug = dup(r->slug);
    pc->name = dup(r->name);
    if (!pc->generation || !pc->code || !pc->slug || !pc->name) {
        cpm__place_candidate__free_unpacked(pc, NULL);
        return NULL;
    }
    return pc;
}

static Cpm__Placement *placement(const cpm_placement_t *p, const char *written)
{
    Cpm__Placement *m = malloc(sizeof *m);
    if (!m)
        return NULL;
    cpm__placement__init(m);
    bool triage = p->method == CPM_PLACE_TRIAGE;
    m->written = dup(written);
    m->generation = dup(triage ? "" : p->generation);
    m->unit_code = dup(triage ? "" : p->code);
    m->unit_slug = dup(triage ? "" : p->slug);
    m->unit_name = dup(triage ? "" : p->name);
    m->method = dup(cpm_place_method_name(p->method));
    m->note = dup(p->note);
    bool ok = m->written && m->generation && m->unit_code && m->unit_slug && m->unit_name &&
              m->method && m->note;
    if (ok && p->n_candidates) {
        m->candidates = calloc(p->n_candidates, sizeof *m->candidates);
        ok = m->candidates != NULL;
        for (size_t i = 0; ok && i < p->n_candidates; i++) {
            ok = (m->candidates[i] = candidate(&p->candidates[i])) != NULL;
            m->n_candidates += ok;
        }
    }
    if (!ok) {
        cpm__placement__free_unpacked(m, NULL);
        return NULL;
    }
    return m;
}

int intake_place_apply(const cpm_placement_t *p, Cpm__Complaint *c)
{
    const char *written = *str(c->location) ? c->location : str(c->area);
    Cpm__Placement *m = placement(p, written);
    char *area = dup(p->method == CPM_PLACE_TRIAGE ? "" : p->slug);
    if (!m || !area) {
        if (m)
            cpm__placement__free_unpacked(m, NULL);
        free(area);
        return CPM_E_INTERNAL;
    }
    if (c->placement)
        cpm__placement__free_unpacked(c->placement, NULL);
    c->placement = m;
    drop(&c->area);
    c->area = area;
    return 0;
}
