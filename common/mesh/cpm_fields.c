/* cpm_fields: checks of delivered records. See cpm_fields.h. */
#include "cpm_fields.h"
#include "cpm_case.h"
#include "cpm_seal.h"
#include "cpm_text.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *str(const char *s)
{
    return s ? s : "";
}

/* field as named in the error: "<where><name>". */
static const char *name(char buf[48], const char *where, const char *field)
{
    size_t a = strnlen(where, 47), b = strnlen(field, 47 - a);
    memcpy(buf, where, a);
    memcpy(buf + a, field, b);
    buf[a + b] = 0;
    return buf;
}

/* An identifier field: ok (has its form), or CPM_E_INVALID naming it. */
static int ident(cpm_error_t *err, const char *where, const char *field, bool ok, const char *form)
{
    char f[48];
    if (ok)
        return 0;
    return cpm_error_set(err, CPM_E_INVALID, name(f, where, field), "%s is not %s", f, form);
}

static int text(cpm_error_t *err, const char *where, const char *field, const char *s, size_t max,
                bool required)
{
    char f[48];
    return cpm_text_check(err, name(f, where, field), s, max, required);
}

/* A time in ms: within years 1970..9999, so that date arithmetic on it
 * (deadlines, the calendar) cannot overflow. */
static bool time_ok(int64_t ms)
{
    return ms >= 0 && ms <= CPM_FIELDS_TIME_MAX;
}

/* A unit code: 1 to 7 digits (the data's codes are 3 or 5). */
static bool digits_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n < 8 && strspn(s, "0123456789") == n;
}

/* A generation id: 1 to 7 of [0-9A-Za-z._-] ("2025"). */
static bool generation_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n < 8 && cpm_text_label_valid(s);
}

static int candidate(const Cpm__PlaceCandidate *pc, const char *w, cpm_error_t *err)
{
    int rc;
    if ((rc = ident(err, w, "generation", generation_ok(str(pc->generation)), "a generation id")) ||
        (rc = ident(err, w, "code", digits_ok(str(pc->code)), "a unit code")) ||
        (rc = ident(err, w, "slug", cpm_text_slug_valid(str(pc->slug)), "a unit slug")) ||
        (rc = text(err, w, "name", str(pc->name), CPM_FIELDS_PLACE_NAME_MAX, true)))
        return rc;
    return 0;
}

/* Placement: the unit (or, for triage, its absence and the candidates) in
 * their forms; method one of the four intake sets. */
static int placement(const Cpm__Placement *p, const char *area, const char *w, cpm_error_t *err)
{
    char pw[48];
    name(pw, w, "placement.");
    const char *m = str(p->method);
    bool triage = !strcmp(m, "triage");
    bool unit = !strcmp(m, "point") || !strcmp(m, "name") || !strcmp(m, "lineage");
    const char *gen = str(p->generation), *code = str(p->unit_code), *slug = str(p->unit_slug);
    int rc;
    if ((rc = ident(err, pw, "method", triage || unit, "one of point, name, lineage, triage")) ||
        (rc = text(err, pw, "written", str(p->written), CPM_FIELDS_LOCATION_MAX, false)) ||
        (rc = text(err, pw, "note", str(p->note), CPM_FIELDS_PLACE_NOTE_MAX, false)) ||
        (rc = text(err, pw, "unit_name", str(p->unit_name), CPM_FIELDS_PLACE_NAME_MAX, unit)) ||
        (rc = ident(err, pw, "generation", triage ? !*gen : generation_ok(gen),
                    triage ? "empty for triage" : "a generation id")) ||
        (rc = ident(err, pw, "unit_code", triage ? !*code : digits_ok(code),
                    triage ? "empty for triage" : "a unit code")) ||
        (rc = ident(err, pw, "unit_slug", triage ? !*slug : !strcmp(slug, area),
                    triage ? "empty for triage" : "the complaint's area")) ||
        (rc = ident(err, pw, "candidates",
                    p->n_candidates <= CPM_FIELDS_PLACE_CANDIDATES_MAX &&
                        (!triage || p->n_candidates),
                    triage ? "1 to 24 units" : "at most 24 units")))
        return rc;
    for (size_t i = 0; i < p->n_candidates; i++) {
        char cw[48], idx[40];
        snprintf(idx, sizeof idx, "candidates[%zu].", i);
        name(cw, pw, idx);
        if (!p->candidates[i])
            return ident(err, pw, "candidates", false, "a list of units");
        if ((rc = candidate(p->candidates[i], cw, err)) != 0)
            return rc;
    }
    return 0;
}

/* Where: the text within its size, a point only with has_point and then
 * finite and on the globe, and the placement intake made of them. area may
 * be empty only when the placement is triage. */
static int location(const Cpm__Complaint *c, const char *w, cpm_error_t *err)
{
    const Cpm__Placement *p = c->placement;
    const char *area = str(c->area);
    bool triage = p && !strcmp(str(p->method), "triage");
    bool point_ok = c->has_point ? isfinite(c->lat) && isfinite(c->lon) && fabs(c->lat) <= 90 &&
                                       fabs(c->lon) <= 180
                                 : c->lat == 0 && c->lon == 0;
    int rc;
    if ((rc = ident(err, w, "area", triage ? !*area : cpm_text_slug_valid(area),
                    triage ? "empty for a triage placement" : "an area slug")) ||
        (rc = text(err, w, "location", str(c->location), CPM_FIELDS_LOCATION_MAX, false)) ||
        (rc = ident(err, w, "lat", point_ok,
                    c->has_point ? "finite, lat in -90..90 and lon in -180..180"
                                 : "0 without has_point")))
        return rc;
    return p ? placement(p, area, w, err) : 0;
}

static int complaint(const Cpm__Complaint *c, const char *w, cpm_error_t *err)
{
    const char *cat = str(c->category), *ref = str(c->client_ref), *code = str(c->lookup_code);
    const char *cf = str(c->contact_for);
    char f[48];
    int rc;
    if ((rc = ident(err, w, "ticket", cpm_text_ticket_valid(str(c->ticket), NULL),
                    "a ticket (<PREFIX>-<digits>)")) ||
        (rc = ident(err, w, "intake_node", cpm_text_member_valid(str(c->intake_node)),
                    "a member id")) ||
        (rc = ident(err, w, "channel", cpm_text_slug_valid(str(c->channel)), "a channel slug")) ||
        (rc = location(c, w, err)) ||
        (rc = ident(err, w, "category", !*cat || cpm_text_slug_valid(cat),
                    "empty or a category slug")) ||
        (rc = ident(err, w, "client_ref", !*ref || cpm_text_label_valid(ref),
                    "empty or a client reference (A-Z a-z 0-9 . _ : -, at most 64)")) ||
        (rc = ident(err, w, "lookup_code", !*code || cpm_text_code_valid(code),
                    "empty or a lookup code")) ||
        (rc = ident(err, w, "contact_for", !*cf || cpm_text_member_valid(cf),
                    "empty or a member id")) ||
        (rc = text(err, w, "business_name", str(c->business_name), CPM_FIELDS_NAME_MAX, true)) ||
        (rc = text(err, w, "business_address", str(c->business_address), CPM_FIELDS_ADDRESS_MAX,
                   false)) ||
        (rc = text(err, w, "description", str(c->description), CPM_FIELDS_TEXT_MAX, true)) ||
        (rc = ident(err, w, "received_ms", time_ok(c->received_ms),
                    "a time in ms from 1970 to 9999")) ||
        (rc = ident(err, w, "event_time_ms", time_ok(c->event_time_ms),
                    "a time in ms from 1970 to 9999")))
        return rc;
    if (c->sealed_contact.len > CPM_SEAL_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, name(f, w, "sealed_contact"),
                             "%s is %zu bytes, more than %d", f, c->sealed_contact.len,
                             CPM_SEAL_MAX);
    return 0;
}

int cpm_fields_complaint(const Cpm__Complaint *c, cpm_error_t *err)
{
    return complaint(c, "", err);
}

int cpm_fields_assignment(const Cpm__Assignment *a, cpm_error_t *err)
{
    int rc;
    if (!a->complaint)
        return cpm_error_set(err, CPM_E_INVALID, "complaint", "the assignment has no complaint");
    if ((rc = complaint(a->complaint, "complaint.", err)) ||
        (rc = ident(err, "", "rule_id", cpm_text_label_valid(str(a->rule_id)), "a rule id")) ||
        (rc = ident(err, "", "routed_ms", time_ok(a->routed_ms),
                    "a time in ms from 1970 to 9999")) ||
        (rc = ident(err, "", "accept_due_ms", time_ok(a->accept_due_ms),
                    "a time in ms from 1970 to 9999")) ||
        (rc = ident(err, "", "resolve_due_ms", time_ok(a->resolve_due_ms),
                    "a time in ms from 1970 to 9999")))
        return rc;
    return 0;
}

int cpm_fields_update(const Cpm__CaseUpdate *u, cpm_error_t *err)
{
    /* What an agency may report: delivery and every state an action leads to. */
    bool known = u->state == CPM__CASE_STATE__CASE_STATE_ASSIGNED ||
                 u->state == CPM__CASE_STATE__CASE_STATE_ACCEPTED ||
                 u->state == CPM__CASE_STATE__CASE_STATE_REFUSED ||
                 u->state == CPM__CASE_STATE__CASE_STATE_RESOLVED ||
                 u->state == CPM__CASE_STATE__CASE_STATE_IN_PROGRESS ||
                 u->state == CPM__CASE_STATE__CASE_STATE_WAITING_CONSUMER ||
                 u->state == CPM__CASE_STATE__CASE_STATE_CLOSED ||
                 u->state == CPM__CASE_STATE__CASE_STATE_REOPENED;
    bool resolved = u->state == CPM__CASE_STATE__CASE_STATE_RESOLVED;
    const char *agency = str(u->agency);
    int rc;
    if ((rc = ident(err, "", "ticket", cpm_text_ticket_valid(str(u->ticket), NULL),
                    "a ticket (<PREFIX>-<digits>)")) ||
        (rc = ident(err, "", "state", known,
                    "one of assigned, accepted, refused, in_progress, waiting_consumer, "
                    "resolved, closed, reopened")) ||
        (rc = ident(err, "", "agency", !*agency || cpm_text_member_valid(agency),
                    "empty or a member id")) ||
        (rc = ident(err, "", "actor", cpm_text_member_valid(str(u->actor)), "a member id")) ||
        (rc = text(err, "", "note", str(u->note), CPM_FIELDS_NOTE_MAX, false)) ||
        (rc = ident(err, "", "at_ms", time_ok(u->at_ms), "a time in ms from 1970 to 9999")) ||
        (rc = ident(err, "", "outcome",
                    u->outcome == 0 || (resolved && cpm_case_outcome_name(u->outcome)),
                    "an outcome with resolved (or none), none otherwise")) ||
        (rc = ident(err, "", "fine_vnd",
                    u->fine_vnd == 0 ||
                        !cpm_case_check_outcome(CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE,
                                                u->outcome, u->fine_vnd),
                    "a fine in VND with outcome fined only")))
        return rc;
    return 0;
}
