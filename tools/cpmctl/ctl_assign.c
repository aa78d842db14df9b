/* cpmctl case assign: a city coordinator gives a case to an agency by hand
 * (after two returns, or any open case), a CaseAssign request to routing. */
#include "ctl_args.h"
#include "cpm_case.h"
#include "cpm_text.h"

#include <stdio.h>
#include <string.h>

static const char assign_usage[] =
    "usage: cpmctl case assign TICKET --agency ID [--note TEXT] [--as ID] [--json]\n"
    "       cpmctl case assign TICKET --category SLUG [--agency ID] [--note TEXT]\n"
    "\n"
    "Gives the case to agency ID (a member running an inspection service): routing\n"
    "transfers it there (a new assignment to that agency's node; the agency that\n"
    "held it is told the case left) and records who did it and --note in the\n"
    "history. Only the city's coordinators (role coordinator or city) may.\n"
    "--category: the case's category is SLUG (a category of the rules), chosen by\n"
    "you beside the model's suggestion (kept, and counted by cpmctl triage stats);\n"
    "without --agency the case is routed again by the rules for SLUG.\n";

int ctl_cmd_case_assign(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"agency", required_argument, 0, 'a'},
                                             {"note", required_argument, 0, 'n'},
                                             {"category", required_argument, 0, 'c'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    const char *agency = NULL, *note = "", *category = NULL;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        if (opt == 'a')
            agency = optarg;
        else if (opt == 'n')
            note = optarg;
        else if (opt == 'c')
            category = optarg;
        else
            return ctl_usage(assign_usage, opt == 'h' ? 0 : 2);
    }
    /* argv: "assign" TICKET (the command word "case" was argv[0] before) */
    if (optind + 1 != argc || (!agency && !category))
        return ctl_usage(assign_usage, 2);
    const char *ticket = argv[optind];
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    int rc = 0;
    const Cpm__Member *routing = cpm_registry_find_service(c.reg, "routing");
    if (category && !cpm_text_slug_valid(category))
        rc = cpm_error_set(&err, CPM_E_INVALID, "--category",
                           "--category \"%s\" is not a category slug", ctl_safe(category));
    else if (agency && !cpm_text_member_valid(agency))
        rc = cpm_error_set(&err, CPM_E_INVALID, "--agency", "--agency \"%s\" is not a member id",
                           ctl_safe(agency));
    else if (!routing)
        rc = cpm_error_set(&err, CPM_E_NOT_FOUND, "", "the registry has no routing service");
    if (rc != 0) {
        rc = ctl_fail(&c, c.json, &err);
        ctl_close(&c);
        return rc;
    }
    Cpm__CaseAssign q = CPM__CASE_ASSIGN__INIT;
    q.ticket = (char *)ticket;
    q.agency = (char *)(agency ? agency : "");
    q.category = (char *)(category ? category : "");
    q.note = (char *)note;
    cpm_msg_t reply = {0};
    if (cpm_client_call(c.client, routing->id, "routing", CPM__MSG_TYPE__MSG_CASE_ASSIGN, &q.base,
                        c.timeout_ms, &reply, &err) != 0) {
        rc = ctl_fail(&c, c.json, &err);
        ctl_close(&c);
        return rc;
    }
    Cpm__CaseAssignReply *r =
        cpm__case_assign_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    const char *sw = r ? cpm_case_state_name(r->state) : NULL;
    if (!r) {
        cpm_error_set(&err, CPM_E_BAD_MESSAGE, "", "undecodable case assign reply");
        rc = ctl_fail(&c, c.json, &err);
    } else if (c.json) {
        json_t *j =
            json_pack("{s:b,s:s,s:s,s:s,s:b}", "ok", 1, "ticket", ctl_utf8(r->ticket), "agency",
                      ctl_utf8(r->agency), "state", sw ? sw : "", "duplicate", r->duplicate);
        if (category)
            json_object_set_new(j, "category", json_string(ctl_utf8(category)));
        ctl_print_json(j);
    } else if (category) {
        printf("%s: category %s, with %s (%s)%s\n", ctl_safe(r->ticket), ctl_safe(category),
               *r->agency ? ctl_safe(r->agency) : "(coordinators)", sw ? sw : "?",
               r->duplicate ? " (it already was)" : "");
    } else {
        printf("%s assigned to %s (%s)%s\n", ctl_safe(r->ticket), ctl_safe(r->agency),
               sw ? sw : "?", r->duplicate ? " (it already was)" : "");
    }
    cpm__case_assign_reply__free_unpacked(r, NULL);
    cpm_msg_clear(&reply);
    ctl_close(&c);
    return rc;
}
