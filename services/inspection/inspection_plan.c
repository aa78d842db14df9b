/* inspection_plan: see inspection_plan.h. */
#include "inspection_plan.h"
#include "inspection_domain.h"
#include "inspection_review.h"
#include "cpm_case.h"
#include "cpm_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEXT_KEY "#next"

static const char *const state_names[] = {
    NULL, "planned", "assigned", "in_field", "findings_submitted", "reviewed", "closed"};

const char *inspection_state_name(Cpm__InspectionState s)
{
    return (int)s > 0 && (size_t)s < sizeof state_names / sizeof *state_names ? state_names[s]
                                                                              : NULL;
}

Cpm__InspectionState inspection_state_parse(const char *name)
{
    for (size_t i = 1; name && i < sizeof state_names / sizeof *state_names; i++)
        if (!strcmp(state_names[i], name))
            return (Cpm__InspectionState)i;
    return CPM__INSPECTION_STATE__INSPECTION_STATE_UNSPECIFIED;
}

Cpm__Inspection *inspection_plan_get(cpm_store_t *st, MDB_txn *txn, const char *id)
{
    ProtobufCMessage *m = NULL;
    if (!id || !*id || id[0] == '#')
        return NULL;
    if (cpm_store_get_msg(st, txn, INSPECTION_PLANS_DB, id, &cpm__inspection__descriptor, &m) != 0)
        return NULL;
    return (Cpm__Inspection *)m;
}

int inspection_plan_put(cpm_store_t *st, MDB_txn *txn, const Cpm__Inspection *in, cpm_error_t *err)
{
    if (!in->id || !*in->id || in->id[0] == '#')
        return cpm_error_set(err, CPM_E_INVALID, "id", "an inspection needs an id");
    return cpm_store_put_msg(st, txn, INSPECTION_PLANS_DB, in->id, &in->base);
}

bool inspection_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    const char *slash = n ? strchr(id, '/') : NULL;
    return n > 0 && n < INSPECTION_ID_MAX && id[0] != '#' &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_/") == n &&
           slash && slash[1] == 'I';
}

bool inspection_plan_has_inspector(const Cpm__Inspection *in, const char *member)
{
    if (!member || !*member)
        return false;
    if (in->lead && !strcmp(in->lead, member))
        return true;
    for (size_t i = 0; i < in->n_team; i++)
        if (!strcmp(in->team[i], member))
            return true;
    return false;
}

bool inspection_plan_is_supervisor(const inspection_plans_t *p, const inspection_who_t *who)
{
    if (!who->role)
        return false;
    if (!strcmp(who->role, "coordinator"))
        return true;
    return !strcmp(who->role, "officer") && who->agency && !strcmp(who->agency, p->node);
}

static bool is_own_inspector(const inspection_plans_t *p, const inspection_who_t *who)
{
    return who->role && !strcmp(who->role, "inspector") && who->agency &&
           !strcmp(who->agency, p->node);
}

int inspection_reply_add(Cpm__InspectionReply *r, Cpm__Inspection *in)
{
    Cpm__Inspection **a = realloc(r->inspections, (r->n_inspections + 1) * sizeof *a);
    if (!a) {
        cpm__inspection__free_unpacked(in, NULL);
        return CPM_E_INTERNAL;
    }
    r->inspections = a;
    r->inspections[r->n_inspections++] = in;
    return 0;
}

void inspection_reply_clear(Cpm__InspectionReply *r)
{
    for (size_t i = 0; i < r->n_inspections; i++)
        cpm__inspection__free_unpacked(r->inspections[i], NULL);
    free(r->inspections);
    inspection_review_records_free(r);
    if (r->next_cursor && r->next_cursor != (char *)protobuf_c_empty_string)
        free(r->next_cursor);
    Cpm__InspectionReply init = CPM__INSPECTION_REPLY__INIT;
    *r = init;
}

/* The event of a change to in (no consumer data: ids, area, category). */
int inspection_plan_event(const inspection_plans_t *p, MDB_txn *txn, const cpm_effects_t *fx,
                          const char *kind, const Cpm__Inspection *in, const char *actor)
{
    char note[256];
    const char *state = inspection_state_name(in->state);
    int n = snprintf(note, sizeof note, "inspection=%s state=%s", in->id, state ? state : "");
    if (in->outcome && n > 0 && (size_t)n < sizeof note) {
        const char *o = cpm_case_outcome_name(in->outcome);
        snprintf(note + n, sizeof note - n, " outcome=%s", o ? o : "");
    }
    cpm_event_t ev = {.kind = kind,
                      .ticket = in->n_tickets ? in->tickets[0] : "",
                      .agency = p->node,
                      .area = in->area,
                      .category = in->category,
                      .actor = actor,
                      .note = note};
    return fx->event(fx->ctx, txn, &ev);
}

/* A text field of a plan: at most INSPECTION_TEXT_MAX bytes, no control
 * characters (it reaches terminals and logs). */
static int check_text(const char *s, const char *field, bool required, cpm_error_t *err)
{
    if (required && !*s)
        return cpm_error_set(err, CPM_E_INVALID, field, "%s is required", field);
    if (strlen(s) > INSPECTION_TEXT_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, field, "%s is longer than %d bytes", field,
                             INSPECTION_TEXT_MAX);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return cpm_error_set(err, CPM_E_INVALID, field, "%s has a control character", field);
    return 0;
}

static int check_slug(const char *s, const char *field, cpm_error_t *err)
{
    return cpm_text_slug_valid(s)
               ? 0
               : cpm_error_set(err, CPM_E_INVALID, field,
                               "%s must be a slug: 1-64 of a-z 0-9 - _ (e.g. hoan-kiem)", field);
}

/* A tax code (mã số thuế): 10 digits, or 10 digits "-" 3 digits for a
 * branch; "" = not known. */
static int check_tax_code(const char *s, cpm_error_t *err)
{
    size_t n = strlen(s);
    bool ok = n == 0 || n == 10 || (n == 14 && s[10] == '-');
    for (size_t i = 0; ok && i < n; i++)
        ok = i == 10 ? s[i] == '-' : (s[i] >= '0' && s[i] <= '9');
    return ok ? 0
              : cpm_error_set(err, CPM_E_INVALID, "tax_code",
                              "tax_code is 10 digits, or 10 digits \"-\" 3 digits "
                              "(e.g. 0101234567-001)");
}

static int check_plan(const Cpm__InspectionPlan *pl, int64_t now_ms, cpm_error_t *err)
{
    int rc;
    bool campaign = *pl->campaign || pl->n_businesses;
    if (campaign && pl->n_tickets)
        return cpm_error_set(err, CPM_E_INVALID, "tickets",
                             "a plan is from tickets or from a campaign, not both");
    if (!campaign && !pl->n_tickets)
        return cpm_error_set(err, CPM_E_INVALID, "tickets",
                             "a plan needs tickets (cases of this node) or a campaign");
    if (pl->n_tickets > INSPECTION_TICKETS_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "tickets", "at most %d tickets an inspection",
                             INSPECTION_TICKETS_MAX);
    for (size_t i = 0; i < pl->n_tickets; i++) {
        if (!cpm_text_ticket_valid(pl->tickets[i], NULL))
            return cpm_error_set(err, CPM_E_INVALID, "tickets", "ticket %zu is not a ticket",
                                 i + 1);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(pl->tickets[i], pl->tickets[k]))
                return cpm_error_set(err, CPM_E_INVALID, "tickets", "ticket %s is given twice",
                                     pl->tickets[i]);
    }
    if (campaign) {
        if ((rc = check_text(pl->campaign, "campaign", true, err)) != 0)
            return rc;
        if (*pl->business)
            return cpm_error_set(err, CPM_E_INVALID, "business",
                                 "a campaign lists its targets in businesses, not business");
        if (!pl->n_businesses)
            return cpm_error_set(err, CPM_E_INVALID, "businesses",
                                 "a campaign needs at least one business");
        if (pl->n_businesses > INSPECTION_CAMPAIGN_MAX)
            return cpm_error_set(err, CPM_E_TOO_LARGE, "businesses",
                                 "a campaign has at most %d businesses, not %zu",
                                 INSPECTION_CAMPAIGN_MAX, pl->n_businesses);
        for (size_t i = 0; i < pl->n_businesses; i++)
            if ((rc = check_text(pl->businesses[i], "businesses", true, err)) != 0)
                return rc;
        if ((rc = check_slug(pl->area, "area", err)) != 0 ||
            (rc = check_slug(pl->category, "category", err)) != 0)
            return rc;
    }
    if ((rc = check_text(pl->business, "business", false, err)) != 0 ||
        (rc = check_text(pl->address, "address", false, err)) != 0 ||
        (rc = check_tax_code(pl->tax_code, err)) != 0)
        return rc;
    if (*pl->tax_code && pl->n_businesses > 1)
        return cpm_error_set(err, CPM_E_INVALID, "tax_code",
                             "tax_code names one business: not for a campaign of several");
    if (*pl->area && (rc = check_slug(pl->area, "area", err)) != 0)
        return rc;
    if (*pl->category && (rc = check_slug(pl->category, "category", err)) != 0)
        return rc;
    if (pl->due_ms < 0 || (pl->due_ms && pl->due_ms < now_ms - 86400000LL))
        return cpm_error_set(err, CPM_E_INVALID, "due_ms", "due_ms is in the past");
    return 0;
}

/* The next inspection id of this node into id. */
static int next_id(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn, char *id, size_t n)
{
    const void *v;
    size_t vlen;
    unsigned long long next = 1;
    int rc = cpm_store_get(st, txn, INSPECTION_PLANS_DB, NEXT_KEY, strlen(NEXT_KEY), &v, &vlen);
    if (rc == 0) {
        char buf[24];
        if (vlen == 0 || vlen >= sizeof buf)
            return CPM_E_INTERNAL;
        memcpy(buf, v, vlen);
        buf[vlen] = 0;
        next = strtoull(buf, NULL, 10);
    } else if (rc != CPM_E_NOT_FOUND) {
        return rc;
    }
    int len = snprintf(id, n, "%s/I%llu", p->node, next);
    if (len < 0 || (size_t)len >= n)
        return CPM_E_INTERNAL;
    char buf[24];
    len = snprintf(buf, sizeof buf, "%llu", next + 1);
    return cpm_store_put(st, txn, INSPECTION_PLANS_DB, NEXT_KEY, strlen(NEXT_KEY), buf, len);
}

/* Store a new planned inspection made of base with business b, and add it to r. */
static int create(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn,
                  const cpm_effects_t *fx, const inspection_who_t *who, Cpm__Inspection *base,
                  const char *b, int64_t now_ms, Cpm__InspectionReply *r, cpm_error_t *err)
{
    char id[192];
    int rc = next_id(p, st, txn, id, sizeof id);
    if (rc != 0)
        return rc;
    base->id = id;
    base->business = (char *)b;
    base->state = CPM__INSPECTION_STATE__INSPECTION_STATE_PLANNED;
    base->created_ms = base->updated_ms = now_ms;
    base->planned_by = (char *)who->id;
    base->checklist = inspection_checklist_for(p->lists, base->category, &base->n_checklist);
    if ((rc = inspection_plan_put(st, txn, base, err)) != 0 ||
        (rc = inspection_plan_event(p, txn, fx, "inspection.planned", base, who->id)) != 0)
        return rc;
    Cpm__Inspection *stored = inspection_plan_get(st, txn, id);
    return stored ? inspection_reply_add(r, stored) : CPM_E_INTERNAL;
}

int inspection_plan_new(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn,
                        const cpm_effects_t *fx, const inspection_who_t *who,
                        const Cpm__InspectionPlan *pl, int64_t now_ms, Cpm__InspectionReply *r,
                        cpm_error_t *err)
{
    if (!inspection_plan_is_supervisor(p, who))
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "%s (%s of %s) may not plan inspections of %s: officers of the "
                             "agency and the city's coordinators do",
                             who->id, who->role, who->agency, p->node);
    int rc = check_plan(pl, now_ms, err);
    if (rc != 0)
        return rc;
    Cpm__Inspection in = CPM__INSPECTION__INIT;
    in.tickets = pl->tickets;
    in.n_tickets = pl->n_tickets;
    in.campaign = pl->campaign;
    in.address = pl->address;
    in.tax_code = pl->tax_code;
    in.area = pl->area;
    in.category = pl->category;
    in.due_ms = pl->due_ms;
    if (!pl->n_tickets) {
        for (size_t i = 0; i < pl->n_businesses && rc == 0; i++)
            rc = create(p, st, txn, fx, who, &in, pl->businesses[i], now_ms, r, err);
        return rc;
    }
    /* From cases: each must be held here; the business, address, area and
     * category come from them unless the plan says otherwise, and the cases
     * must be about one business. */
    const char *business = pl->business;
    Cpm__InspectionCase *cases[INSPECTION_TICKETS_MAX] = {0};
    for (size_t i = 0; i < pl->n_tickets && rc == 0; i++) {
        cases[i] = inspection_case(st, txn, pl->tickets[i]);
        const Cpm__Complaint *c =
            cases[i] && cases[i]->assignment ? cases[i]->assignment->complaint : NULL;
        if (!c) {
            rc = cpm_error_set(err, CPM_E_NOT_FOUND, "tickets", "ticket %s is not a case of %s",
                               pl->tickets[i], p->node);
        } else if (!*pl->business && *business && *c->business_name &&
                   strcmp(business, c->business_name) != 0) {
            rc = cpm_error_set(err, CPM_E_INVALID, "tickets",
                               "tickets %s and %s are about different businesses: plan one "
                               "inspection per business (or give business)",
                               pl->tickets[0], pl->tickets[i]);
        } else {
            if (!*business)
                business = c->business_name;
            if (!*in.address)
                in.address = c->business_address;
            if (!*in.area)
                in.area = c->area;
            if (!*in.category)
                in.category = c->category;
        }
    }
    if (rc == 0 && !*business)
        rc = cpm_error_set(err, CPM_E_INVALID, "business",
                           "the cases name no business: give business");
    if (rc == 0)
        rc = create(p, st, txn, fx, who, &in, business, now_ms, r, err);
    for (size_t i = 0; i < pl->n_tickets; i++)
        cpm__inspection_case__free_unpacked(cases[i], NULL);
    return rc;
}

/* member must be an inspector of this agency in the registry. */
static int check_inspector(const inspection_plans_t *p, const char *member, const char *field,
                           cpm_error_t *err)
{
    const Cpm__Member *m =
        p->reg && cpm_text_member_valid(member) ? cpm_registry_member(p->reg, member) : NULL;
    if (!m)
        return cpm_error_set(err, CPM_E_INVALID, field, "%s \"%s\" is not a registry member", field,
                             cpm_text_member_valid(member) ? member : "?");
    if (strcmp(m->role, "inspector") != 0 || strcmp(m->agency, p->node) != 0)
        return cpm_error_set(err, CPM_E_INVALID, field,
                             "%s %s is not an inspector of %s (role %s of %s)", field, member,
                             p->node, m->role, m->agency);
    return 0;
}

int inspection_plan_assign(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn,
                           const cpm_effects_t *fx, const inspection_who_t *who,
                           const Cpm__InspectionAssign *a, int64_t now_ms, Cpm__InspectionReply *r,
                           cpm_error_t *err)
{
    if (!inspection_plan_is_supervisor(p, who))
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "%s (%s of %s) may not assign inspections of %s", who->id, who->role,
                             who->agency, p->node);
    if (!*a->lead)
        return cpm_error_set(err, CPM_E_INVALID, "lead", "lead is required");
    int rc = check_inspector(p, a->lead, "lead", err);
    if (rc != 0)
        return rc;
    if (a->n_team > INSPECTION_TEAM_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "team", "a team has at most %d members",
                             INSPECTION_TEAM_MAX);
    for (size_t i = 0; i < a->n_team; i++) {
        if ((rc = check_inspector(p, a->team[i], "team", err)) != 0)
            return rc;
        if (!strcmp(a->team[i], a->lead))
            return cpm_error_set(err, CPM_E_INVALID, "team", "the lead %s is not also in team",
                                 a->lead);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(a->team[i], a->team[k]))
                return cpm_error_set(err, CPM_E_INVALID, "team", "%s is in team twice", a->team[i]);
    }
    if (!inspection_id_valid(a->id))
        return cpm_error_set(err, CPM_E_INVALID, "id", "id is not an inspection id (<node>/I<n>)");
    Cpm__Inspection *in = inspection_plan_get(st, txn, a->id);
    if (!in)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "id", "no inspection %s at %s",
                             inspection_id_valid(a->id) ? a->id : "?", p->node);
    if (in->state != CPM__INSPECTION_STATE__INSPECTION_STATE_PLANNED &&
        in->state != CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED) {
        const char *s = inspection_state_name(in->state);
        rc = cpm_error_set(err, CPM_E_CONFLICT, "state",
                           "inspection %s is %s: only a planned or assigned inspection is "
                           "assigned",
                           in->id, s ? s : "unknown");
        cpm__inspection__free_unpacked(in, NULL);
        return rc;
    }
    char *old_lead = in->lead;
    char **old_team = in->team;
    size_t old_n = in->n_team;
    in->lead = a->lead;
    in->team = a->team;
    in->n_team = a->n_team;
    in->state = CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED;
    in->updated_ms = now_ms;
    rc = inspection_plan_put(st, txn, in, err);
    if (rc == 0)
        rc = inspection_plan_event(p, txn, fx, "inspection.assigned", in, who->id);
    in->lead = old_lead; /* back to what free_unpacked owns */
    in->team = old_team;
    in->n_team = old_n;
    char id[192];
    snprintf(id, sizeof id, "%s", in->id);
    cpm__inspection__free_unpacked(in, NULL);
    if (rc != 0)
        return rc;
    Cpm__Inspection *stored = inspection_plan_get(st, txn, id);
    return stored ? inspection_reply_add(r, stored) : CPM_E_INTERNAL;
}

static int list(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn,
                const Cpm__InspectionQuery *q, const char *inspector, Cpm__InspectionReply *r)
{
    uint32_t limit = q->limit ? q->limit : INSPECTION_LIST_DEFAULT;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, cpm_store_dbi(st, INSPECTION_PLANS_DB), &cur);
    if (mrc != 0)
        return cpm_store_err(mrc);
    MDB_val k = {strlen(q->cursor), (void *)q->cursor}, v;
    mrc = mdb_cursor_get(cur, &k, &v, *q->cursor ? MDB_SET_RANGE : MDB_FIRST);
    int rc = 0;
    for (; mrc == 0 && rc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *key = k.mv_data;
        if (k.mv_size == 0 || key[0] == '#' ||
            (k.mv_size == strlen(q->cursor) && !memcmp(key, q->cursor, k.mv_size)))
            continue;
        Cpm__Inspection *in = cpm__inspection__unpack(NULL, v.mv_size, v.mv_data);
        if (!in)
            continue; /* undecodable: not shown (and not fatal for the list) */
        if ((q->state && in->state != q->state) ||
            (inspector && !inspection_plan_has_inspector(in, inspector))) {
            cpm__inspection__free_unpacked(in, NULL);
            continue;
        }
        if (r->n_inspections == limit) { /* one more exists: the page ends before it */
            cpm__inspection__free_unpacked(in, NULL);
            const char *last = r->inspections[r->n_inspections - 1]->id;
            r->next_cursor = strdup(last);
            rc = r->next_cursor ? 0 : CPM_E_INTERNAL;
            break;
        }
        rc = inspection_reply_add(r, in);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = cpm_store_err(mrc);
    return rc;
}

int inspection_plan_query(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn,
                          const inspection_who_t *who, const Cpm__InspectionQuery *q,
                          Cpm__InspectionReply *r, cpm_error_t *err)
{
    bool super = inspection_plan_is_supervisor(p, who), mine = is_own_inspector(p, who);
    if (!super && !mine)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "%s (%s of %s) may not see the inspections of %s", who->id, who->role,
                             who->agency, p->node);
    if (q->limit > INSPECTION_LIST_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "limit", "limit is 1 to %d (0: %d)",
                             INSPECTION_LIST_MAX, INSPECTION_LIST_DEFAULT);
    if (q->state && !inspection_state_name(q->state))
        return cpm_error_set(err, CPM_E_INVALID, "state", "state %d is not an inspection state",
                             (int)q->state);
    if (strlen(q->cursor) > 192 || strlen(q->inspector) > 128)
        return cpm_error_set(err, CPM_E_TOO_LARGE, strlen(q->cursor) > 192 ? "cursor" : "inspector",
                             "too long");
    if (!*q->id)
        return list(p, st, txn, q, mine ? who->id : (*q->inspector ? q->inspector : NULL), r);
    if (!inspection_id_valid(q->id))
        return cpm_error_set(err, CPM_E_INVALID, "id", "id is not an inspection id (<node>/I<n>)");
    Cpm__Inspection *in = inspection_plan_get(st, txn, q->id);
    if (!in)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "id", "no inspection %s at %s",
                             inspection_id_valid(q->id) ? q->id : "?", p->node);
    if (mine && !inspection_plan_has_inspector(in, who->id)) {
        cpm__inspection__free_unpacked(in, NULL);
        return cpm_error_set(err, CPM_E_FORBIDDEN, "id", "%s is not an inspector of %s", who->id,
                             q->id);
    }
    int rc = inspection_reply_add(r, in);
    return rc != 0 ? rc : inspection_review_records(p, st, txn, q->id, r);
}
