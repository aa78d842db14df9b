/* cpmctl inspection: plan, assign, show, list, review and close inspections
 * at an agency's inspection service (docs/protocol.md 16.1). */
#include "ctl_args.h"
#include "cpm_case.h"
#include "field.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: cpmctl inspection plan (--ticket T ... | --campaign NAME --business B ...)\n"
    "                              --category C [--address A --area S --due YYYY-MM-DD]\n"
    "                              [--tax-code 0101234567[-001]]\n"
    "       cpmctl inspection assign ID --lead MEMBER [--team MEMBER ...]\n"
    "       cpmctl inspection show ID\n"
    "       cpmctl inspection list [--state S] [--inspector MEMBER] [--limit N]\n"
    "       cpmctl inspection review ID --outcome O [--fine VND] [--note TEXT]\n"
    "       cpmctl inspection close ID\n"
    "  common: [--node AGENCY] [--as ID] [--json]\n"
    "\n"
    "Inspections live at an agency's inspection service: that of --node, else of\n"
    "the agency of the identity (an officer's own), else the one an ID names\n"
    "(ids are AGENCY/I<n>). plan makes one inspection from cases this agency holds\n"
    "(about one business; business, address, area and category come from the\n"
    "cases unless given), or one per --business of a campaign (at most 200), with\n"
    "the checklist of its category. States: planned -> assigned -> in_field ->\n"
    "findings_submitted -> reviewed -> closed. assign names a lead inspector and a\n"
    "team (inspectors of the agency; again while assigned). review (the lead or\n"
    "an officer) decides the outcome: mediated, refunded, replaced_or_repaired,\n"
    "fined (--fine VND, default the sum the findings propose), no_violation,\n"
    "withdrawn, referred; the linked cases are resolved with it, and a violation\n"
    "record is kept per finding naming a violation code (show lists them). close\n"
    "ends a reviewed inspection. Times are shown in Vietnam time (+07); --due is the end\n"
    "of that day. A move the state does not allow is error 409; a sender who may\n"
    "not, 403.\n";

static const char *state_word(Cpm__InspectionState s)
{
    static const char *const names[] = {
        "", "planned", "assigned", "in_field", "findings_submitted", "reviewed", "closed"};
    return (int)s >= 0 && (size_t)s < sizeof names / sizeof *names ? names[s] : "";
}

static Cpm__InspectionState state_parse(const char *w)
{
    for (int s = 1; s <= 6; s++)
        if (!strcmp(state_word((Cpm__InspectionState)s), w))
            return (Cpm__InspectionState)s;
    return CPM__INSPECTION_STATE__INSPECTION_STATE_UNSPECIFIED;
}

static const char *kind_word(Cpm__FieldRecordKind k)
{
    return k == CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING   ? "finding"
           : k == CPM__FIELD_RECORD_KIND__FIELD_RECORD_SUBMIT  ? "submit"
           : k == CPM__FIELD_RECORD_KIND__FIELD_RECORD_OUTCOME ? "outcome"
                                                               : "";
}

static const char *outcome_word(Cpm__Outcome o)
{
    const char *w = cpm_case_outcome_name(o);
    return w ? w : "";
}

/* The state, in colour on a terminal only (and never with NO_COLOR). */
static const char *state_shown(Cpm__InspectionState s)
{
    static char buf[64];
    bool colour = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    const char *w = state_word(s);
    if (!colour)
        return w;
    int code = s == CPM__INSPECTION_STATE__INSPECTION_STATE_CLOSED     ? 2
               : s == CPM__INSPECTION_STATE__INSPECTION_STATE_REVIEWED ? 32
                                                                       : 33;
    snprintf(buf, sizeof buf, "\033[%dm%s\033[0m", code, w);
    return buf;
}

static json_t *strings_json(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(ctl_utf8(v[i])));
    return a;
}

static json_t *inspection_json(const Cpm__Inspection *in)
{
    char t[40];
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", ctl_utf8(in->id), "state",
                          state_word(in->state), "business", ctl_utf8(in->business), "address",
                          ctl_utf8(in->address), "area", ctl_utf8(in->area), "category",
                          ctl_utf8(in->category), "campaign", ctl_utf8(in->campaign), "lead",
                          ctl_utf8(in->lead));
    json_object_set_new(o, "tax_code", json_string(ctl_utf8(in->tax_code)));
    json_object_set_new(o, "tickets", strings_json(in->tickets, in->n_tickets));
    json_object_set_new(o, "team", strings_json(in->team, in->n_team));
    json_t *cl = json_array();
    for (size_t i = 0; i < in->n_checklist; i++)
        json_array_append_new(cl, json_pack("{s:s,s:s}", "code", ctl_utf8(in->checklist[i]->code),
                                            "text", ctl_utf8(in->checklist[i]->text)));
    json_object_set_new(o, "checklist", cl);
    json_object_set_new(o, "due", json_string(ctl_time_vn(in->due_ms, t)));
    json_object_set_new(o, "due_ms", json_integer(in->due_ms));
    json_object_set_new(o, "created_ms", json_integer(in->created_ms));
    json_object_set_new(o, "updated_ms", json_integer(in->updated_ms));
    json_object_set_new(o, "planned_by", json_string(ctl_utf8(in->planned_by)));
    json_object_set_new(o, "outcome", json_string(outcome_word(in->outcome)));
    json_object_set_new(o, "fine_vnd", json_integer(in->fine_vnd));
    json_object_set_new(o, "review_note", json_string(ctl_utf8(in->review_note)));
    json_object_set_new(o, "findings", json_integer(in->findings));
    json_object_set_new(o, "conflicts", json_integer(in->conflicts));
    json_object_set_new(o, "outcome_conflict", json_boolean(in->outcome_conflict));
    return o;
}

static void print_one(const Cpm__Inspection *in)
{
    char t[40], f[40];
    printf("id           %s\nstate        %s\nbusiness     %s\n", ctl_safe(in->id),
           state_shown(in->state), ctl_safe(in->business));
    if (*in->address)
        printf("address      %s\n", ctl_safe(in->address));
    if (*in->tax_code)
        printf("tax code     %s\n", ctl_safe(in->tax_code));
    printf("area         %s\ncategory     %s\n", *in->area ? ctl_safe(in->area) : "-",
           *in->category ? ctl_safe(in->category) : "-");
    if (*in->campaign)
        printf("campaign     %s\n", ctl_safe(in->campaign));
    for (size_t i = 0; i < in->n_tickets; i++)
        printf("%s%s\n", i ? "             " : "tickets      ", ctl_safe(in->tickets[i]));
    printf("due          %s\n", ctl_time_vn(in->due_ms, t));
    printf("planned      %s by %s\n", ctl_time_vn(in->created_ms, t), ctl_safe(in->planned_by));
    printf("lead         %s\n", *in->lead ? ctl_safe(in->lead) : "-");
    for (size_t i = 0; i < in->n_team; i++)
        printf("%s%s\n", i ? "             " : "team         ", ctl_safe(in->team[i]));
    printf("findings     %u%s\n", in->findings,
           in->outcome_conflict ? "  (inspectors proposed different outcomes)" : "");
    if (in->conflicts)
        printf("conflicts    %u (versions kept; see below)\n", in->conflicts);
    if (in->outcome)
        printf("outcome      %s%s%s\n", outcome_word(in->outcome), in->fine_vnd ? ", fine " : "",
               in->fine_vnd ? ctl_vnd(in->fine_vnd, f) : "");
    if (*in->review_note)
        printf("review note  %s\n", ctl_safe(in->review_note));
    if (in->n_checklist)
        printf("checklist:\n");
    for (size_t i = 0; i < in->n_checklist; i++)
        printf("  %-18s %s\n", ctl_safe(in->checklist[i]->code), ctl_safe(in->checklist[i]->text));
}

static void print_records(const Cpm__InspectionReply *r)
{
    char t1[40], t2[40], f[40];
    if (r->n_records)
        printf("records:\n");
    for (size_t i = 0; i < r->n_records; i++) {
        const Cpm__FieldRecordSummary *x = r->records[i];
        printf("  %s  %-7s %s  made %s  received %s%s%s\n", ctl_safe(x->id), kind_word(x->kind),
               ctl_safe(x->inspector), ctl_time_vn(x->made_ms, t1), ctl_time_vn(x->received_ms, t2),
               x->conflict ? "  CONFLICT" : "", x->key_revoked ? "  signed by a revoked key" : "");
        if (*x->item || *x->violation || x->fine_vnd)
            printf("      item %s  violation %s  fine %s\n", *x->item ? ctl_safe(x->item) : "-",
                   *x->violation ? ctl_safe(x->violation) : "-",
                   x->fine_vnd ? ctl_vnd(x->fine_vnd, f) : "-");
        if (x->outcome)
            printf("      outcome %s\n", outcome_word(x->outcome));
        if (*x->description)
            printf("      %s\n", ctl_safe(x->description));
    }
}

static json_t *violation_json(const Cpm__ViolationRecord *v)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "inspection",
                          ctl_utf8(v->inspection), "business", ctl_utf8(v->business), "address",
                          ctl_utf8(v->address), "area", ctl_utf8(v->area), "category",
                          ctl_utf8(v->category), "violation", ctl_utf8(v->violation), "record",
                          ctl_utf8(v->record), "inspector", ctl_utf8(v->inspector));
    json_object_set_new(j, "tickets", strings_json(v->tickets, v->n_tickets));
    json_object_set_new(j, "fine_vnd", json_integer(v->fine_vnd));
    json_object_set_new(j, "found_ms", json_integer(v->found_ms));
    json_object_set_new(j, "reviewed_ms", json_integer(v->reviewed_ms));
    json_object_set_new(j, "outcome", json_string(outcome_word(v->outcome)));
    return j;
}

/* The violation records kept at review (what the data-sharing exchange publishes). */
static void print_violations(const Cpm__InspectionReply *r)
{
    char t[40], f[40];
    if (r->n_violations)
        printf("violations:\n");
    for (size_t i = 0; i < r->n_violations; i++) {
        const Cpm__ViolationRecord *v = r->violations[i];
        printf("  %-16s fine %s  found %s  record %s  %s\n",
               *v->violation ? ctl_safe(v->violation) : "(summary)",
               v->fine_vnd ? ctl_vnd(v->fine_vnd, f) : "-", ctl_time_vn(v->found_ms, t),
               *v->record ? ctl_safe(v->record) : "-", ctl_safe(v->inspector));
    }
}

static void print_reply(const ctl_t *c, const char *verb, const Cpm__InspectionReply *r)
{
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_inspections; i++)
            json_array_append_new(a, inspection_json(r->inspections[i]));
        json_t *o = json_pack("{s:b,s:o}", "ok", 1, "inspections", a);
        if (*r->next_cursor)
            json_object_set_new(o, "next_cursor", json_string(ctl_utf8(r->next_cursor)));
        json_t *recs = json_array();
        for (size_t i = 0; i < r->n_records; i++) {
            const Cpm__FieldRecordSummary *x = r->records[i];
            json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", ctl_utf8(x->id), "inspector",
                                  ctl_utf8(x->inspector), "kind", kind_word(x->kind), "item",
                                  ctl_utf8(x->item), "violation", ctl_utf8(x->violation),
                                  "description", ctl_utf8(x->description));
            json_object_set_new(j, "fine_vnd", json_integer(x->fine_vnd));
            json_object_set_new(j, "made_ms", json_integer(x->made_ms));
            json_object_set_new(j, "received_ms", json_integer(x->received_ms));
            json_object_set_new(j, "conflict", json_boolean(x->conflict));
            json_object_set_new(j, "key_revoked", json_boolean(x->key_revoked));
            json_object_set_new(j, "outcome", json_string(outcome_word(x->outcome)));
            json_array_append_new(recs, j);
        }
        json_object_set_new(o, "records", recs);
        json_t *vs = json_array();
        for (size_t i = 0; i < r->n_violations; i++)
            json_array_append_new(vs, violation_json(r->violations[i]));
        json_object_set_new(o, "violations", vs);
        ctl_print_json(o);
        return;
    }
    if (!strcmp(verb, "show")) {
        for (size_t i = 0; i < r->n_inspections; i++)
            print_one(r->inspections[i]);
        print_records(r);
        print_violations(r);
        return;
    }
    char t[40];
    for (size_t i = 0; i < r->n_inspections; i++) {
        const Cpm__Inspection *in = r->inspections[i];
        printf("%-24s %-18s due %s  %s  %s\n", ctl_safe(in->id), state_shown(in->state),
               ctl_time_vn(in->due_ms, t), *in->lead ? ctl_safe(in->lead) : "-",
               ctl_safe(in->business));
    }
    if (!strcmp(verb, "list"))
        printf("%zu inspection(s)%s%s\n", r->n_inspections, *r->next_cursor ? "; more after " : "",
               *r->next_cursor ? ctl_safe(r->next_cursor) : "");
}

/* The agency to ask: --node, else the identity's own agency (with an
 * inspection service), else the one the inspection id names. */
static int pick_agency(const ctl_t *c, const char *node, const char *id, char *out, size_t n,
                       cpm_error_t *err)
{
    if (node) {
        snprintf(out, n, "%s", node);
        return 0;
    }
    const Cpm__Member *me = cpm_registry_member(c->reg, c->id.id);
    const Cpm__Member *ag =
        me && me->agency && *me->agency ? cpm_registry_member(c->reg, me->agency) : NULL;
    const char *slash = id ? strchr(id, '/') : NULL;
    if (slash && (size_t)(slash - id) < n) {
        snprintf(out, n, "%.*s", (int)(slash - id), id);
        return 0;
    }
    if (ag && cpm_member_service(ag, "inspection") && strcmp(me->role, "coordinator") != 0) {
        snprintf(out, n, "%s", ag->id);
        return 0;
    }
    return cpm_error_set(err, CPM_E_INVALID, "--node",
                         "say which agency's inspections: --node AGENCY");
}

typedef struct {
    char *tickets[64], *businesses[256], *team[32];
    size_t n_tickets, n_businesses, n_team;
    const char *node, *campaign, *category, *address, *area, *due, *lead, *state, *inspector,
        *outcome, *fine, *note, *limit, *tax_code;
} args_t;

static int parse(int argc, char **argv, ctl_opts_t *o, args_t *a)
{
    static const struct option longopts[] = {{"node", required_argument, 0, 'N'},
                                             {"ticket", required_argument, 0, 't'},
                                             {"campaign", required_argument, 0, 'c'},
                                             {"business", required_argument, 0, 'b'},
                                             {"category", required_argument, 0, 'C'},
                                             {"address", required_argument, 0, 'a'},
                                             {"area", required_argument, 0, 'A'},
                                             {"due", required_argument, 0, 'd'},
                                             {"lead", required_argument, 0, 'l'},
                                             {"team", required_argument, 0, 'T'},
                                             {"state", required_argument, 0, 's'},
                                             {"inspector", required_argument, 0, 'i'},
                                             {"outcome", required_argument, 0, 'o'},
                                             {"fine", required_argument, 0, 'f'},
                                             {"note", required_argument, 0, 'n'},
                                             {"limit", required_argument, 0, 'L'},
                                             {"tax-code", required_argument, 0, 'X'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, o))
            continue;
        switch (opt) {
        case 't':
            if (a->n_tickets == sizeof a->tickets / sizeof *a->tickets)
                return 2;
            a->tickets[a->n_tickets++] = optarg;
            break;
        case 'b':
            if (a->n_businesses == sizeof a->businesses / sizeof *a->businesses)
                return 2;
            a->businesses[a->n_businesses++] = optarg;
            break;
        case 'T':
            if (a->n_team == sizeof a->team / sizeof *a->team)
                return 2;
            a->team[a->n_team++] = optarg;
            break;
        case 'N':
            a->node = optarg;
            break;
        case 'c':
            a->campaign = optarg;
            break;
        case 'C':
            a->category = optarg;
            break;
        case 'a':
            a->address = optarg;
            break;
        case 'A':
            a->area = optarg;
            break;
        case 'd':
            a->due = optarg;
            break;
        case 'l':
            a->lead = optarg;
            break;
        case 's':
            a->state = optarg;
            break;
        case 'i':
            a->inspector = optarg;
            break;
        case 'o':
            a->outcome = optarg;
            break;
        case 'f':
            a->fine = optarg;
            break;
        case 'n':
            a->note = optarg;
            break;
        case 'L':
            a->limit = optarg;
            break;
        case 'X':
            a->tax_code = optarg;
            break;
        default:
            return opt == 'h' ? 0 : 2;
        }
    }
    return -1;
}

/* Build the request of verb from a; 0, or an error with err naming the option. */
static int build(const char *verb, const char *id, const args_t *a, Cpm__MsgType *type,
                 ProtobufCMessage **msg, void *store, cpm_error_t *err)
{
    union {
        Cpm__InspectionPlan p;
        Cpm__InspectionAssign as;
        Cpm__InspectionReview rv;
        Cpm__InspectionQuery q;
    } *u = store;
    if (!strcmp(verb, "plan")) {
        cpm__inspection_plan__init(&u->p);
        u->p.tickets = (char **)a->tickets;
        u->p.n_tickets = a->n_tickets;
        u->p.businesses = (char **)a->businesses;
        u->p.n_businesses = a->n_businesses;
        u->p.campaign = (char *)(a->campaign ? a->campaign : "");
        u->p.category = (char *)(a->category ? a->category : "");
        u->p.address = (char *)(a->address ? a->address : "");
        u->p.tax_code = (char *)(a->tax_code ? a->tax_code : "");
        u->p.area = (char *)(a->area ? a->area : "");
        if (a->n_tickets && a->n_businesses == 1) { /* the business of the cases, named */
            u->p.business = (char *)a->businesses[0];
            u->p.n_businesses = 0;
        }
        if (a->due) {
            if (ctl_parse_time(a->due, &u->p.due_ms) != 0)
                return cpm_error_set(err, CPM_E_INVALID, "--due",
                                     "--due is YYYY-MM-DD (Vietnam time) or YYYY-MM-DDTHH:MM");
            if (strlen(a->due) == 10) /* a day: due at its end */
                u->p.due_ms += 86400000LL - 1;
        }
        *type = CPM__MSG_TYPE__MSG_INSPECTION_PLAN;
        *msg = &u->p.base;
        return 0;
    }
    if (!strcmp(verb, "assign")) {
        if (!a->lead)
            return cpm_error_set(err, CPM_E_INVALID, "--lead", "assign needs --lead MEMBER");
        cpm__inspection_assign__init(&u->as);
        u->as.id = (char *)id;
        u->as.lead = (char *)a->lead;
        u->as.team = (char **)a->team;
        u->as.n_team = a->n_team;
        *type = CPM__MSG_TYPE__MSG_INSPECTION_ASSIGN;
        *msg = &u->as.base;
        return 0;
    }
    if (!strcmp(verb, "review") || !strcmp(verb, "close")) {
        cpm__inspection_review__init(&u->rv);
        u->rv.id = (char *)id;
        u->rv.close = !strcmp(verb, "close");
        if (!u->rv.close) {
            if (!a->outcome || !(u->rv.outcome = cpm_case_outcome_parse(a->outcome)))
                return cpm_error_set(err, CPM_E_INVALID, "--outcome",
                                     "review needs --outcome: mediated, refunded, "
                                     "replaced_or_repaired, fined, no_violation, withdrawn, "
                                     "referred");
            char *end;
            errno = 0;
            long long f = a->fine ? strtoll(a->fine, &end, 10) : 0;
            if (a->fine && (!*a->fine || *end || errno || f < 0))
                return cpm_error_set(err, CPM_E_INVALID, "--fine",
                                     "--fine is a whole number of VND");
            u->rv.fine_vnd = f;
            u->rv.note = (char *)(a->note ? a->note : "");
        }
        *type = CPM__MSG_TYPE__MSG_INSPECTION_REVIEW;
        *msg = &u->rv.base;
        return 0;
    }
    cpm__inspection_query__init(&u->q);
    u->q.id = (char *)(id ? id : "");
    u->q.inspector = (char *)(a->inspector ? a->inspector : "");
    if (a->state && !(u->q.state = state_parse(a->state)))
        return cpm_error_set(err, CPM_E_INVALID, "--state",
                             "--state is one of planned, assigned, in_field, "
                             "findings_submitted, reviewed, closed");
    if (a->limit) {
        char *end;
        errno = 0;
        unsigned long l = strtoul(a->limit, &end, 10);
        if (!*a->limit || *end || errno || l < 1 || l > 500)
            return cpm_error_set(err, CPM_E_INVALID, "--limit", "--limit is 1 to 500");
        u->q.limit = (uint32_t)l;
    }
    *type = CPM__MSG_TYPE__MSG_INSPECTION_QUERY;
    *msg = &u->q.base;
    return 0;
}

int ctl_cmd_inspection(const ctl_opts_t *gopts, int argc, char **argv)
{
    if (argc < 2)
        return ctl_usage(usage, 2);
    const char *verb = argv[1];
    static const char *const verbs[] = {"plan", "assign", "show", "list", "review", "close"};
    bool known = false, with_id = false;
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        if (!strcmp(verb, verbs[i]))
            known = true, with_id = i != 0 && i != 3;
    if (!known)
        return ctl_usage(usage, !strcmp(verb, "--help") || !strcmp(verb, "-h") ? 0 : 2);
    ctl_opts_t o = *gopts;
    args_t a = {0};
    int prc = parse(argc - 1, argv + 1, &o, &a);
    if (prc >= 0)
        return ctl_usage(usage, prc);
    if (optind + (with_id ? 1 : 0) != argc - 1)
        return ctl_usage(usage, 2);
    const char *id = with_id ? argv[1 + optind] : NULL;
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    char agency[128];
    union {
        Cpm__InspectionPlan p;
        Cpm__InspectionAssign as;
        Cpm__InspectionReview rv;
        Cpm__InspectionQuery q;
    } store;
    Cpm__MsgType type = CPM__MSG_TYPE__MSG_UNSPECIFIED;
    ProtobufCMessage *msg = NULL;
    cpm_msg_t reply = {0};
    int rc = pick_agency(&c, a.node, id, agency, sizeof agency, &err);
    if (rc == 0)
        rc = build(verb, id, &a, &type, &msg, &store, &err);
    if (rc == 0)
        rc = cpm_client_call(c.client, agency, "inspection", type, msg, c.timeout_ms, &reply, &err);
    if (rc != 0) {
        rc = ctl_fail(&c, c.json, &err);
    } else {
        Cpm__InspectionReply *r =
            cpm__inspection_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
        if (r) {
            print_reply(&c, verb, r);
        } else {
            cpm_error_set(&err, CPM_E_BAD_MESSAGE, "", "undecodable inspection reply");
            rc = ctl_fail(&c, c.json, &err);
        }
        cpm__inspection_reply__free_unpacked(r, NULL);
        cpm_msg_clear(&reply);
    }
    ctl_close(&c);
    return rc;
}
