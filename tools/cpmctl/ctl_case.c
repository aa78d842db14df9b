/* cpmctl status / case: follow a ticket, and act on a case as an officer. */
#include "ctl_args.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char status_usage[] =
    "usage: cpmctl status TICKET [--json]\n"
    "\n"
    "Asks the city's routing service where the case is: its state, the agency\n"
    "responsible, the rule that chose it, its deadlines and its history.\n";

static const char case_usage[] =
    "usage: cpmctl case accept|refuse|resolve|show TICKET [--note TEXT] [--node ID]\n"
    "                 [--as ID] [--json]\n"
    "\n"
    "Acts on a case at the inspection service of the agency it is assigned to, which\n"
    "it asks the city's routing service, or at --node ID without asking (so a district\n"
    "office keeps working while its link to the city is down).\n"
    "refuse needs --note (why it is not ours); resolve needs --note (the outcome).\n"
    "show changes nothing: it prints the case's state and the consumer's contact,\n"
    "which only that agency's node can open (it is sealed to its key at intake).\n"
    "Signs as --as ID, else as officer.<agency> when its key is in DIR/keys, else\n"
    "as the default identity.\n";

/* The status of ticket from routing; NULL with err. */
static Cpm__StatusReply *query_status(ctl_t *c, const char *ticket, cpm_error_t *err)
{
    const Cpm__Member *routing = cpm_registry_find_service(c->reg, "routing");
    if (!routing) {
        cpm_error_set(err, CPM_E_NOT_FOUND, "", "the registry has no routing service");
        return NULL;
    }
    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = (char *)ticket;
    cpm_msg_t reply = {0};
    if (ctl_call(c, routing->id, "routing", CPM__MSG_TYPE__MSG_STATUS_QUERY, &q.base, &reply,
                 err) != 0)
        return NULL;
    Cpm__StatusReply *r =
        cpm__status_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    cpm_msg_clear(&reply);
    if (!r)
        cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "undecodable status reply");
    return r;
}

static void print_status(bool json, const Cpm__StatusReply *r)
{
    char t1[40], t2[40], t3[40], t4[40];
    if (json) {
        json_t *h = json_array();
        for (size_t i = 0; i < r->n_history; i++)
            json_array_append_new(h, json_pack("{s:s,s:s,s:s,s:s}", "at",
                                               ctl_time(r->history[i]->at_ms, t1), "state",
                                               r->history[i]->state, "actor", r->history[i]->actor,
                                               "note", r->history[i]->note));
        ctl_print_json(json_pack("{s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "ok", 1,
                                 "ticket", r->ticket, "state", r->state, "agency", r->agency,
                                 "rule", r->rule_id, "district", r->district, "category",
                                 r->category, "intake_node", r->intake_node, "received",
                                 ctl_time(r->received_ms, t1), "routed", ctl_time(r->routed_ms, t2),
                                 "accept_due", ctl_time(r->accept_due_ms, t3), "resolve_due",
                                 ctl_time(r->resolve_due_ms, t4), "history", h));
        return;
    }
    printf("ticket       %s\nstate        %s\nagency       %s\nrule         %s\n", r->ticket,
           r->state, r->agency, r->rule_id);
    printf("district     %s\ncategory     %s\nreceived at  %s (%s)\nrouted       %s\n", r->district,
           *r->category ? r->category : "-", r->intake_node, ctl_time(r->received_ms, t1),
           ctl_time(r->routed_ms, t2));
    printf("accept by    %s\nresolve by   %s\nhistory:\n", ctl_time(r->accept_due_ms, t3),
           ctl_time(r->resolve_due_ms, t4));
    for (size_t i = 0; i < r->n_history; i++)
        printf("  %s  %-9s %s%s%s\n", ctl_time(r->history[i]->at_ms, t1), r->history[i]->state,
               r->history[i]->actor, *r->history[i]->note ? "  " : "", r->history[i]->note);
}

int ctl_cmd_status(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {CTL_COMMON_LONGOPTS, {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        return ctl_usage(status_usage, opt == 'h' ? 0 : 2);
    }
    if (optind + 1 != argc)
        return ctl_usage(status_usage, 2);
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    Cpm__StatusReply *r = query_status(&c, argv[optind], &err);
    int rc = r ? 0 : ctl_fail(&c, c.json, &err);
    if (r)
        print_status(c.json, r);
    cpm__status_reply__free_unpacked(r, NULL);
    ctl_close(&c);
    return rc;
}

/* The answer to "case show": the state and, at the agency that can open it,
 * the consumer's contact. */
static void print_show(bool json, const char *agency, const Cpm__CaseActionReply *r)
{
    const Cpm__ContactCard *k = r->contact;
    if (json) {
        json_t *o = json_pack("{s:b,s:s,s:s,s:s,s:s,s:s}", "ok", 1, "ticket", r->ticket, "state",
                              r->state, "agency", agency, "contact_status", r->contact_status,
                              "contact_for", r->contact_for);
        if (k)
            json_object_set_new(
                o, "contact",
                json_pack("{s:s,s:s,s:s}", "name", k->name, "phone", k->phone, "email", k->email));
        ctl_print_json(o);
        return;
    }
    printf("ticket       %s\nstate        %s\nagency       %s\n", r->ticket, r->state, agency);
    if (k)
        printf("consumer     %s\nphone        %s\nemail        %s\n", *k->name ? k->name : "-",
               *k->phone ? k->phone : "-", *k->email ? k->email : "-");
    else if (!strcmp(r->contact_status, "none"))
        printf("contact      none given\n");
    else if (!strcmp(r->contact_status, "sealed_for_other"))
        printf("contact      sealed for %s: this agency cannot open it\n", r->contact_for);
    else
        printf("contact      unreadable (%s)\n", r->contact_status);
}

int ctl_cmd_case(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"note", required_argument, 0, 'n'},
                                             {"node", required_argument, 0, 'N'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    const char *note = "", *node = NULL;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        if (opt == 'n')
            note = optarg;
        else if (opt == 'N')
            node = optarg;
        else
            return ctl_usage(case_usage, opt == 'h' ? 0 : 2);
    }
    if (optind + 2 != argc)
        return ctl_usage(case_usage, 2);
    const char *action = argv[optind], *ticket = argv[optind + 1];
    ctl_t c;
    cpm_error_t err = {0};
    if (ctl_open(&c, &o) != 0)
        return 1;
    char agency[128], officer[200], path[1400];
    if (node) { /* no need to ask the city: works while its link is down */
        snprintf(agency, sizeof agency, "%s", node);
    } else {
        Cpm__StatusReply *st = query_status(&c, ticket, &err);
        if (!st) {
            int rc = ctl_fail(&c, c.json, &err);
            ctl_close(&c);
            return rc;
        }
        snprintf(agency, sizeof agency, "%s", st->agency);
        cpm__status_reply__free_unpacked(st, NULL);
    }
    snprintf(officer, sizeof officer, "officer.%s", agency);
    snprintf(path, sizeof path, "%s/keys/%s.secret", c.home, officer);
    if (!o.as && access(path, R_OK) == 0) { /* act as that agency's officer */
        ctl_close(&c);
        if (ctl_open_as(&c, &o, officer) != 0)
            return 1;
    }
    Cpm__CaseAction a = CPM__CASE_ACTION__INIT;
    a.ticket = (char *)ticket;
    a.action = (char *)action;
    a.note = (char *)note;
    cpm_msg_t reply = {0};
    int rc =
        ctl_call(&c, agency, "inspection", CPM__MSG_TYPE__MSG_CASE_ACTION, &a.base, &reply, &err);
    if (rc != 0) {
        rc = ctl_fail(&c, c.json, &err);
    } else {
        Cpm__CaseActionReply *r =
            cpm__case_action_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
        if (r && !strcmp(action, "show"))
            print_show(c.json, agency, r);
        else if (r && c.json)
            ctl_print_json(json_pack("{s:b,s:s,s:s,s:s,s:b}", "ok", 1, "ticket", r->ticket, "state",
                                     r->state, "agency", agency, "duplicate", r->duplicate));
        else if (r)
            printf("%s %s at %s%s\n", r->ticket, r->state, agency,
                   r->duplicate ? " (it already was)" : "");
        cpm__case_action_reply__free_unpacked(r, NULL);
        cpm_msg_clear(&reply);
    }
    ctl_close(&c);
    return rc;
}
