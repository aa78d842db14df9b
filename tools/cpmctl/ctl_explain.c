/* cpmctl case explain: how a case was placed and routed, from routing's case
 * record (StatusReply.placement, rule_id, rules_version), asked as the
 * caller's identity: coordinators see every case, officers their agency's. */
#include "ctl_args.h"

#include <stdio.h>
#include <string.h>

static const char explain_usage[] =
    "usage: cpmctl case explain TICKET [--as ID] [--json]\n"
    "\n"
    "Prints what the consumer wrote as the location, what intake resolved it to\n"
    "(unit name, code and generation) and how (point, name, lineage or triage, with\n"
    "the candidates for triage), and the rule and rules version that routed the case.\n"
    "Asks the city's routing service as --as ID (coordinators: every case; officers:\n"
    "their own agency's cases).\n";

static const char *s_(const char *s)
{
    return s ? s : "";
}

/* Why routing chose the agency: the note of the first "routed" entry (the
 * rule's reason, or the units a triage case may be in). */
static const char *routed_note(const Cpm__StatusReply *r)
{
    for (size_t i = 0; i < r->n_history; i++)
        if (r->history[i]->state == CPM__CASE_STATE__CASE_STATE_ROUTED)
            return s_(r->history[i]->note);
    return "";
}

static void print_json(const Cpm__StatusReply *r)
{
    const Cpm__Placement *p = r->placement;
    json_t *o =
        json_pack("{s:b,s:s,s:s,s:s,s:s,s:s,s:s}", "ok", 1, "ticket", ctl_utf8(r->ticket), "area",
                  ctl_utf8(r->area), "agency", ctl_utf8(r->agency), "rule", ctl_utf8(r->rule_id),
                  "rules_version", ctl_utf8(r->rules_version), "view", ctl_utf8(r->view));
    json_t *cands = json_array();
    if (p) {
        json_object_set_new(o, "written", json_string(ctl_utf8(p->written)));
        json_object_set_new(o, "method", json_string(ctl_utf8(p->method)));
        json_object_set_new(o, "note", json_string(ctl_utf8(p->note)));
        json_object_set_new(o, "unit",
                            *s_(p->unit_code)
                                ? json_pack("{s:s,s:s,s:s,s:s}", "generation",
                                            ctl_utf8(p->generation), "code", ctl_utf8(p->unit_code),
                                            "slug", ctl_utf8(p->unit_slug), "name",
                                            ctl_utf8(p->unit_name))
                                : json_null());
        for (size_t i = 0; i < p->n_candidates; i++)
            json_array_append_new(cands, json_pack("{s:s,s:s,s:s,s:s}", "generation",
                                                   ctl_utf8(p->candidates[i]->generation), "code",
                                                   ctl_utf8(p->candidates[i]->code), "slug",
                                                   ctl_utf8(p->candidates[i]->slug), "name",
                                                   ctl_utf8(p->candidates[i]->name)));
    } else {
        json_object_set_new(o, "method", json_string(""));
        json_object_set_new(o, "unit", json_null());
    }
    json_object_set_new(o, "candidates", cands);
    json_object_set_new(o, "generation", json_string(ctl_utf8(r->generation)));
    json_object_set_new(o, "routed_note", json_string(ctl_utf8(routed_note(r))));
    ctl_print_json(o);
}

static void print_text(const Cpm__StatusReply *r)
{
    const Cpm__Placement *p = r->placement;
    printf("ticket      %s\n", ctl_safe(r->ticket));
    if (!p) {
        printf("placement   none recorded (received before intake placed complaints)\n");
    } else {
        printf("written     %s\n", *s_(p->written) ? ctl_safe(p->written) : "(a point only)");
        if (*s_(p->unit_code))
            printf("placed in   %s (%s:%s, %s)\n", ctl_safe(p->unit_name), ctl_safe(p->generation),
                   ctl_safe(p->unit_code), ctl_safe(p->unit_slug));
        printf("how         %s: %s\n", ctl_safe(p->method), ctl_safe(p->note));
        for (size_t i = 0; i < p->n_candidates; i++)
            printf("%s %s (%s:%s, %s)\n", i ? "           " : "candidates ",
                   ctl_safe(p->candidates[i]->name), ctl_safe(p->candidates[i]->generation),
                   ctl_safe(p->candidates[i]->code), ctl_safe(p->candidates[i]->slug));
    }
    printf("routed by   rule %s, rules version %s\n", ctl_safe(r->rule_id),
           ctl_safe(r->rules_version));
    if (*routed_note(r))
        printf("why         %s\n", ctl_safe(routed_note(r)));
    printf("agency      %s\n", ctl_safe(r->agency));
}

int ctl_cmd_case_explain(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {CTL_COMMON_LONGOPTS, {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        return ctl_usage(explain_usage, opt == 'h' ? 0 : 2);
    }
    if (optind + 1 != argc)
        return ctl_usage(explain_usage, 2);
    ctl_t c;
    cpm_error_t err = {0};
    if (ctl_open(&c, &o) != 0)
        return 1;
    Cpm__StatusReply *r = ctl_query_status(&c, argv[optind], NULL, &err);
    int rc = 0;
    if (!r) {
        rc = ctl_fail(&c, c.json, &err);
    } else {
        if (c.json)
            print_json(r);
        else
            print_text(r);
        cpm__status_reply__free_unpacked(r, NULL);
    }
    ctl_close(&c);
    return rc;
}
