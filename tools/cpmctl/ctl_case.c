/* cpmctl status / case: follow a ticket, and act on a case as an officer. */
#include "ctl_args.h"
#include "cpm_case.h"
#include "cpm_text.h"
#include "cpm_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char status_usage[] =
    "usage: cpmctl status TICKET [--code CODE] [--json]\n"
    "\n"
    "Asks the city's routing service where the case is: its state, the agency\n"
    "responsible, the rule that chose it, its deadlines and its history.\n"
    "What routing shows depends on who asks (--as): coordinators see every case,\n"
    "officers the cases of their own agency, notes included. A resolved case\n"
    "shows its outcome (and fine); a complaint of the same consumer about the same\n"
    "business within the link window shows the first case it is linked to; --json\n"
    "history entries say whether the act was signed and by which key_id.\n"
    "  --code CODE   the public view, as the consumer may see it: needs the lookup\n"
    "                code that submit printed with the ticket; no notes, no actors.\n"
    "                (A hotline operator has only this view.)\n";

static const char case_usage[] =
    "usage: cpmctl case ACTION TICKET [--note TEXT] [--outcome O [--fine VND]]\n"
    "                 [--client-id ID [--acted-ms MS]] [--node ID] [--as ID] [--json]\n"
    "  ACTION: accept | refuse | start | wait | resume | resolve | close | reopen | show\n"
    "       cpmctl case verify TICKET [--as ID] [--json]\n"
    "       cpmctl case explain TICKET [--json]   (how it was placed and routed)\n"
    "       cpmctl case assign TICKET --agency ID [--note TEXT]   (coordinators)\n"
    "\n"
    "The lifecycle (docs/protocol.md 13): assigned -accept-> accepted -start->\n"
    "in_progress -wait-> waiting_consumer -resume-> in_progress; resolve (from\n"
    "accepted, in_progress, waiting_consumer, reopened) needs --outcome: mediated,\n"
    "refunded, replaced_or_repaired, fined (with --fine VND), no_violation,\n"
    "withdrawn, referred; resolved -close-> closed; reopen (resolved or closed,\n"
    "within the agency's reopen period) is for a coordinator, or an operator for\n"
    "the consumer, never the agency's own officers. A move the state does not\n"
    "allow is error 409; an actor the table does not allow, 403.\n"
    "Offline acts: --client-id ID (1-64 of A-Z a-z 0-9 . _ -) makes the act apply\n"
    "once however often it is sent; --acted-ms MS (Unix ms) is when it happened.\n"
    "\n"
    "verify asks routing for the case (as --as: a coordinator, or the agency's\n"
    "officer) and checks every signed act in its history against this registry:\n"
    "signer = actor, key id of the signer's key, Ed25519 signature, and that the\n"
    "act names the ticket, the state, the outcome and the time recorded. Exit 1\n"
    "when one does not verify.\n"
    "\n"
    "Acts on a case at the inspection service of --node ID, else of the agency the\n"
    "identity belongs to (an officer's own agency, from the registry; so an area\n"
    "office keeps working while its link to the city is down), else of the agency\n"
    "the city's routing service says holds the case.\n"
    "refuse, wait and reopen need --note (why; what is awaited).\n"
    "show changes nothing: it prints the case's state and the consumer's contact,\n"
    "which only that agency's node can open (it is sealed to its key at intake).\n"
    "Signs as --as ID, else as CPMESH_AS, else as DIR/identity; never as another.\n";

/* The word for a state on the wire ("" for a value this build does not know). */
static const char *state_word(Cpm__CaseState s)
{
    const char *name = cpm_case_state_name(s);
    return name ? name : "";
}

/* The word for an outcome ("" for none or one this build does not know). */
static const char *outcome_word(Cpm__Outcome o)
{
    const char *name = cpm_case_outcome_name(o);
    return name ? name : "";
}

Cpm__StatusReply *ctl_query_status(ctl_t *c, const char *ticket, const char *code, cpm_error_t *err)
{
    const Cpm__Member *routing = cpm_registry_find_service(c->reg, "routing");
    if (!routing) {
        cpm_error_set(err, CPM_E_NOT_FOUND, "", "the registry has no routing service");
        return NULL;
    }
    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = (char *)ticket;
    q.lookup_code = (char *)(code ? code : "");
    cpm_msg_t reply = {0};
    if (cpm_client_call(c->client, routing->id, "routing", CPM__MSG_TYPE__MSG_STATUS_QUERY, &q.base,
                        c->timeout_ms, &reply, err) != 0)
        return NULL;
    Cpm__StatusReply *r =
        cpm__status_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    cpm_msg_clear(&reply);
    if (!r)
        cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "undecodable status reply");
    return r;
}

/* The category and how it came: the submitter, the model (with its
 * confidence), or a person's choice beside the model's suggestion. */
static void print_category(const Cpm__StatusReply *r)
{
    const char *cat = *r->category ? ctl_safe(r->category) : "-";
    const char *sug = ctl_safe(r->category_suggested);
    unsigned pct = (r->suggestion_pm + 5) / 10;
    if (!strcmp(r->category_by, "model"))
        printf("category     %s (model, %u%%)\n", cat, pct);
    else if (!strcmp(r->category_by, "person") && *sug)
        printf("category     %s (chosen; model suggested %s, %u%%)\n", cat, sug, pct);
    else if (!strcmp(r->category_by, "person"))
        printf("category     %s (chosen; no suggestion)\n", cat);
    else if (*sug)
        printf("category     %s \u2014 model suggests %s (%u%%)\n", cat, sug, pct);
    else
        printf("category     %s\n", cat);
    if (*r->category_chosen_by)
        printf("chosen by    %s\n", ctl_safe(r->category_chosen_by));
}

static void print_status(bool json, const Cpm__StatusReply *r)
{
    char t1[40], t2[40], t3[40], t4[40];
    if (json) {
        json_t *h = json_array();
        for (size_t i = 0; i < r->n_history; i++) {
            const Cpm__StatusEntry *e = r->history[i];
            json_t *je = json_pack("{s:s,s:s,s:s,s:s}", "at", ctl_time(e->at_ms, t1), "state",
                                   state_word(e->state), "actor", ctl_utf8(e->actor), "note",
                                   ctl_utf8(e->note));
            json_object_set_new(je, "at_ms", json_integer(e->at_ms));
            if (e->outcome)
                json_object_set_new(je, "outcome", json_string(outcome_word(e->outcome)));
            if (e->received_ms)
                json_object_set_new(je, "received_ms", json_integer(e->received_ms));
            if (e->signed_action.len) /* the signed act itself: cpmctl does not print it */
                json_object_set_new(je, "key_id", json_string(ctl_utf8(e->key_id)));
            if (e->key_standing && *e->key_standing) /* docs/protocol.md 13.1 */
                json_object_set_new(je, "key_standing", json_string(ctl_utf8(e->key_standing)));
            json_object_set_new(je, "signed", json_boolean(e->signed_action.len > 0));
            json_array_append_new(h, je);
        }
        json_t *o =
            json_pack("{s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ok", 1, "ticket", ctl_utf8(r->ticket),
                      "state", state_word(r->state), "agency", ctl_utf8(r->agency), "rule",
                      ctl_utf8(r->rule_id), "area", ctl_utf8(r->area), "category",
                      ctl_utf8(r->category), "intake_node", ctl_utf8(r->intake_node));
        json_object_set_new(o, "view", json_string(ctl_utf8(r->view)));
        json_object_set_new(o, "rules_version", json_string(ctl_utf8(r->rules_version)));
        json_object_set_new(o, "generation", json_string(ctl_utf8(r->generation)));
        json_object_set_new(o, "previous_agency", json_string(ctl_utf8(r->previous_agency)));
        json_object_set_new(o, "returns", json_integer(r->returns));
        json_object_set_new(o, "received", json_string(ctl_time(r->received_ms, t1)));
        json_object_set_new(o, "routed", json_string(ctl_time(r->routed_ms, t2)));
        json_object_set_new(o, "accept_due", json_string(ctl_time(r->accept_due_ms, t3)));
        json_object_set_new(o, "resolve_due", json_string(ctl_time(r->resolve_due_ms, t4)));
        json_object_set_new(o, "accept_due_ms", json_integer(r->accept_due_ms));
        json_object_set_new(o, "resolve_due_ms", json_integer(r->resolve_due_ms));
        json_object_set_new(o, "overdue", json_boolean(r->overdue));
        json_object_set_new(o, "overdue_deadline",
                            json_string(r->overdue ? ctl_utf8(r->overdue_deadline) : ""));
        json_object_set_new(o, "history", h);
        json_object_set_new(o, "outcome", json_string(outcome_word(r->outcome)));
        if (r->fine_vnd)
            json_object_set_new(o, "fine_vnd", json_integer(r->fine_vnd));
        json_object_set_new(o, "linked_to", json_string(ctl_utf8(r->linked_to)));
        json_object_set_new(o, "category_suggested", json_string(ctl_utf8(r->category_suggested)));
        json_object_set_new(o, "suggestion_pm", json_integer(r->suggestion_pm));
        json_object_set_new(o, "category_by", json_string(ctl_utf8(r->category_by)));
        json_object_set_new(o, "category_chosen_by", json_string(ctl_utf8(r->category_chosen_by)));
        ctl_print_json(o);
        return;
    }
    printf("ticket       %s\nstate        %s\nagency       %s\n", ctl_safe(r->ticket),
           state_word(r->state), ctl_safe(r->agency));
    if (*r->rule_id)
        printf("rule         %s%s%s\n", ctl_safe(r->rule_id),
               *r->rules_version ? " of rules version " : "", ctl_safe(r->rules_version));
    if (*r->generation || *r->previous_agency)
        printf("generation   %s\nbefore       %s (returns: %u)\n",
               *r->generation ? ctl_safe(r->generation) : "-",
               *r->previous_agency ? ctl_safe(r->previous_agency) : "-", r->returns);
    printf("area         %s\n", ctl_safe(r->area));
    print_category(r);
    if (*r->intake_node)
        printf("received at  %s (%s)\n", ctl_safe(r->intake_node), ctl_time_vn(r->received_ms, t1));
    else
        printf("received     %s\n", ctl_time_vn(r->received_ms, t1));
    printf("routed       %s\naccept by    %s\nresolve by   %s\n", ctl_time_vn(r->routed_ms, t2),
           ctl_time_vn(r->accept_due_ms, t3), ctl_time_vn(r->resolve_due_ms, t4));
    if (r->overdue)
        printf("overdue      the %s deadline passed (%s)\n", ctl_safe(r->overdue_deadline),
               ctl_time_vn(r->overdue_since_ms, t3));
    if (r->outcome)
        printf("outcome      %s%s\n", outcome_word(r->outcome), r->fine_vnd ? " (fine below)" : "");
    if (r->fine_vnd)
        printf("fine         %s\n", ctl_vnd(r->fine_vnd, t1));
    if (*r->linked_to)
        printf("linked to    %s (the same consumer about the same business)\n",
               ctl_safe(r->linked_to));
    if (*r->view)
        printf("view         %s\n", ctl_safe(r->view));
    printf("history:\n");
    for (size_t i = 0; i < r->n_history; i++)
        printf("  %s  %-9s %s%s%s%s%s\n", ctl_time_vn(r->history[i]->at_ms, t1),
               state_word(r->history[i]->state), ctl_safe(r->history[i]->actor),
               *r->history[i]->note ? "  " : "", ctl_safe(r->history[i]->note),
               r->history[i]->outcome ? "  outcome=" : "",
               r->history[i]->outcome ? outcome_word(r->history[i]->outcome) : "");
}

int ctl_cmd_status(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"code", required_argument, 0, 'c'}, CTL_COMMON_LONGOPTS, {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    const char *code = NULL;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        if (opt == 'c')
            code = optarg;
        else
            return ctl_usage(status_usage, opt == 'h' ? 0 : 2);
    }
    if (optind + 1 != argc)
        return ctl_usage(status_usage, 2);
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    Cpm__StatusReply *r = ctl_query_status(&c, argv[optind], code, &err);
    int rc = r ? 0 : ctl_fail(&c, c.json, &err);
    if (r)
        print_status(c.json, r);
    cpm__status_reply__free_unpacked(r, NULL);
    ctl_close(&c);
    return rc;
}

/* The inspection node of the agency the identity belongs to, from the
 * registry (an officer's own agency); NULL when the identity has no agency
 * or its agency runs no inspection service. */
static const char *own_agency_node(const ctl_t *c)
{
    const Cpm__Member *me = cpm_registry_member(c->reg, c->id.id);
    /* The city's coordinators (and operators, for the consumer) act on
     * other agencies' cases: the case's agency, not their own. */
    if (me && me->role &&
        (!strcmp(me->role, "coordinator") || !strcmp(me->role, "city") ||
         !strcmp(me->role, "operator")))
        return NULL;
    const Cpm__Member *ag =
        me && me->agency && *me->agency ? cpm_registry_member(c->reg, me->agency) : NULL;
    return ag && cpm_member_service(ag, "inspection") ? ag->id : NULL;
}

/* The agency a case is assigned to, asked of routing as c itself (only when
 * the identity's own agency is not known). 0, or an error code with err. */
static int case_agency(ctl_t *c, const char *ticket, char *agency, size_t n, cpm_error_t *err)
{
    Cpm__StatusReply *st = ctl_query_status(c, ticket, NULL, err);
    if (!st)
        return err->code;
    if (!cpm_text_member_valid(st->agency)) {
        int rc = cpm_error_set(err, CPM_E_INVALID, "agency",
                               "routing's status reply names agency \"%s\", not a member id",
                               st->agency);
        cpm__status_reply__free_unpacked(st, NULL);
        return rc;
    }
    snprintf(agency, n, "%s", st->agency);
    cpm__status_reply__free_unpacked(st, NULL);
    return 0;
}

/* The answer to "case show": the state and, at the agency that can open it,
 * the consumer's contact. */
static void print_show(bool json, const char *agency, const Cpm__CaseActionReply *r)
{
    const Cpm__ContactCard *k = r->contact;
    if (json) {
        json_t *o =
            json_pack("{s:b,s:s,s:s,s:s,s:s,s:s}", "ok", 1, "ticket", ctl_utf8(r->ticket), "state",
                      state_word(r->state), "agency", ctl_utf8(agency), "contact_status",
                      ctl_utf8(r->contact_status), "contact_for", ctl_utf8(r->contact_for));
        if (k)
            json_object_set_new(o, "contact",
                                json_pack("{s:s,s:s,s:s}", "name", ctl_utf8(k->name), "phone",
                                          ctl_utf8(k->phone), "email", ctl_utf8(k->email)));
        ctl_print_json(o);
        return;
    }
    printf("ticket       %s\nstate        %s\nagency       %s\n", ctl_safe(r->ticket),
           state_word(r->state), ctl_safe(agency));
    if (k)
        printf("consumer     %s\nphone        %s\nemail        %s\n",
               *k->name ? ctl_safe(k->name) : "-", *k->phone ? ctl_safe(k->phone) : "-",
               *k->email ? ctl_safe(k->email) : "-");
    else if (!strcmp(r->contact_status, "none"))
        printf("contact      none given\n");
    else if (!strcmp(r->contact_status, "sealed_for_other"))
        printf("contact      sealed for %s: this agency cannot open it\n",
               ctl_safe(r->contact_for));
    else
        printf("contact      unreadable (%s)\n", ctl_safe(r->contact_status));
}

/* A whole number of VND, digits only. 0 or -1. */
static int parse_vnd(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 0)
        return -1;
    *out = v;
    return 0;
}

int ctl_cmd_case(const ctl_opts_t *gopts, int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "assign")) /* a coordinator's, at routing (ctl_assign.c) */
        return ctl_cmd_case_assign(gopts, argc - 1, argv + 1);
    static const struct option longopts[] = {{"note", required_argument, 0, 'n'},
                                             {"node", required_argument, 0, 'N'},
                                             {"outcome", required_argument, 0, 'o'},
                                             {"fine", required_argument, 0, 'f'},
                                             {"client-id", required_argument, 0, 'C'},
                                             {"acted-ms", required_argument, 0, 'T'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    if (argc > 1 && !strcmp(argv[1], "explain")) /* a question to routing: ctl_explain.c */
        return ctl_cmd_case_explain(gopts, argc - 1, argv + 1);
    ctl_opts_t o = *gopts;
    const char *note = "", *node = NULL, *outcome = NULL, *client_id = "";
    long long fine = 0;
    int64_t acted = 0;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        if (opt == 'n')
            note = optarg;
        else if (opt == 'N')
            node = optarg;
        else if (opt == 'o')
            outcome = optarg;
        else if (opt == 'C')
            client_id = optarg;
        else if ((opt == 'f' && parse_vnd(optarg, &fine) != 0) ||
                 (opt == 'T' && ctl_parse_time(optarg, &acted) != 0))
            return ctl_usage(case_usage, 2);
        else if (opt != 'f' && opt != 'T')
            return ctl_usage(case_usage, opt == 'h' ? 0 : 2);
    }
    if (optind + 2 != argc)
        return ctl_usage(case_usage, 2);
    const char *word = argv[optind], *ticket = argv[optind + 1];
    Cpm__CaseActionKind action = cpm_case_action_parse(word);
    ctl_t c;
    cpm_error_t err = {0};
    if (ctl_open(&c, &o) != 0)
        return 1;
    if (!strcmp(word, "verify")) {
        Cpm__StatusReply *st = ctl_query_status(&c, ticket, NULL, &err);
        int vrc = st ? ctl_case_verify(&c, st) : ctl_fail(&c, c.json, &err);
        cpm__status_reply__free_unpacked(st, NULL);
        ctl_close(&c);
        return vrc;
    }
    char agency[128];
    int found = 0;
    const char *own = node ? NULL : own_agency_node(&c);
    Cpm__Outcome oc = outcome ? cpm_case_outcome_parse(outcome) : CPM__OUTCOME__OUTCOME_UNSPECIFIED;
    if (action == CPM__CASE_ACTION_KIND__CASE_ACTION_UNSPECIFIED || cpm_case_at_routing(action))
        found = cpm_error_set(&err, CPM_E_INVALID, "action",
                              "action \"%s\" is not one of accept, refuse, start, wait, resume, "
                              "resolve, close, reopen, show",
                              ctl_safe(word));
    else if (outcome && !oc)
        found = cpm_error_set(&err, CPM_E_INVALID, "--outcome",
                              "--outcome \"%s\" is not one of mediated, refunded, "
                              "replaced_or_repaired, fined, no_violation, withdrawn, referred",
                              ctl_safe(outcome));
    else if (node && !cpm_text_member_valid(node))
        found =
            cpm_error_set(&err, CPM_E_INVALID, "--node", "--node \"%s\" is not a member id", node);
    else if (node || own) /* no need to ask the city: works while its link is down */
        snprintf(agency, sizeof agency, "%s", node ? node : own);
    else
        found = case_agency(&c, ticket, agency, sizeof agency, &err);
    if (found != 0) {
        int rc = ctl_fail(&c, c.json, &err);
        ctl_close(&c);
        return rc;
    }
    Cpm__CaseAction a = CPM__CASE_ACTION__INIT;
    a.ticket = (char *)ticket;
    a.action = action;
    a.note = (char *)note;
    a.outcome = oc;
    a.fine_vnd = fine;
    a.client_id = (char *)client_id;
    /* An act with a client id says when it happened (inspection refuses it
     * otherwise): now, unless --acted-ms tells an earlier time. */
    a.acted_ms = acted || !*client_id ? acted : cpm_now_ms();
    cpm_msg_t reply = {0};
    int rc = cpm_client_call(c.client, agency, "inspection", CPM__MSG_TYPE__MSG_CASE_ACTION,
                             &a.base, c.timeout_ms, &reply, &err);
    if (rc != 0) {
        rc = ctl_fail(&c, c.json, &err);
    } else {
        Cpm__CaseActionReply *r =
            cpm__case_action_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
        if (r && action == CPM__CASE_ACTION_KIND__CASE_ACTION_SHOW)
            print_show(c.json, agency, r);
        else if (r && c.json)
            ctl_print_json(json_pack("{s:b,s:s,s:s,s:s,s:b}", "ok", 1, "ticket",
                                     ctl_utf8(r->ticket), "state", state_word(r->state), "agency",
                                     ctl_utf8(agency), "duplicate", r->duplicate));
        else if (r)
            printf("%s %s at %s%s\n", ctl_safe(r->ticket), state_word(r->state), ctl_safe(agency),
                   r->duplicate ? " (it already was)" : "");
        cpm__case_action_reply__free_unpacked(r, NULL);
        cpm_msg_clear(&reply);
    }
    ctl_close(&c);
    return rc;
}
