/* cpmctl triage stats: the category model's accuracy in production, from
 * the monitor (MSG_TRIAGE_STATS): how often a person's choice of category
 * agreed with the model's suggestion, and where they disagreed. */
#include "ctl_args.h"
#include "monitor.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char stats_usage[] =
    "usage: cpmctl triage stats [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json]\n"
    "\n"
    "The category model's accuracy in production, from the monitor: per Vietnam\n"
    "month, complaints with a suggestion, routed by it, sent to triage with it,\n"
    "unknown (\"other\" or no category and no suggestion), and the coordinators'\n"
    "choices (cpmctl case assign --category): equal to the suggestion, different\n"
    "(the confusion pairs), without a suggestion, and model-routed cases a person\n"
    "moved to another category. Accuracy = equal / (equal + different).\n"
    "  --from DATE   the month of this date onwards (default: the first counted)\n"
    "  --to DATE     up to the month of this date, included (default: now)\n"
    "Months are whole; dates are Vietnam dates. Coordinators only (error 403).\n";

int ctl_cmd_triage_stats(const ctl_opts_t *o, int argc, char **argv);

static json_t *counts_json(const Cpm__TriageCounts *t)
{
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "month", ctl_utf8(t->month),
                     "suggestions", (json_int_t)t->suggestions, "routed_by_model",
                     (json_int_t)t->routed_by_model, "to_triage", (json_int_t)t->to_triage,
                     "unknown", (json_int_t)t->unknown, "chosen_equal", (json_int_t)t->chosen_equal,
                     "chosen_different", (json_int_t)t->chosen_different,
                     "chosen_without_suggestion", (json_int_t)t->chosen_without_suggestion,
                     "model_routed_changed", (json_int_t)t->model_routed_changed,
                     "chosen_unremembered", (json_int_t)t->chosen_unremembered);
}

static void print_json(const Cpm__TriageStatsReply *r)
{
    json_t *months = json_array(), *pairs = json_array();
    for (size_t i = 0; i < r->n_months; i++)
        json_array_append_new(months, counts_json(r->months[i]));
    for (size_t i = 0; i < r->n_pairs; i++)
        json_array_append_new(pairs, json_pack("{s:s,s:s,s:I}", "suggested",
                                               ctl_utf8(r->pairs[i]->suggested), "chosen",
                                               ctl_utf8(r->pairs[i]->chosen), "count",
                                               (json_int_t)r->pairs[i]->count));
    json_t *o = json_pack("{s:b,s:I,s:I,s:o,s:o,s:o}", "ok", 1, "from_ms", (json_int_t)r->from_ms,
                          "to_ms", (json_int_t)r->to_ms, "total", counts_json(r->total), "months",
                          months, "pairs", pairs);
    json_object_set_new(o, "accuracy",
                        r->accuracy_known ? json_real(r->accuracy_pm / 1000.0) : json_null());
    ctl_print_json(o);
}

static void print_counts(const char *label, const Cpm__TriageCounts *t)
{
    printf("%-8s %11llu %8llu %9llu %7llu %6llu %9llu %8llu %8llu\n", label,
           (unsigned long long)t->suggestions, (unsigned long long)t->routed_by_model,
           (unsigned long long)t->to_triage, (unsigned long long)t->unknown,
           (unsigned long long)t->chosen_equal, (unsigned long long)t->chosen_different,
           (unsigned long long)t->chosen_without_suggestion,
           (unsigned long long)t->model_routed_changed);
}

static void print_text(const Cpm__TriageStatsReply *r)
{
    const Cpm__TriageCounts *t = r->total;
    uint64_t judged = t->chosen_equal + t->chosen_different;
    if (r->accuracy_known)
        printf("accuracy in production: %u.%u%% (%llu of %llu choices agreed with the "
               "suggestion)\n",
               r->accuracy_pm / 10, r->accuracy_pm % 10, (unsigned long long)t->chosen_equal,
               (unsigned long long)judged);
    else
        printf("accuracy in production: not known yet (no person chose for a suggested case)\n");
    printf("suggestions %llu: routed by the model %llu, to triage %llu; unknown %llu\n",
           (unsigned long long)t->suggestions, (unsigned long long)t->routed_by_model,
           (unsigned long long)t->to_triage, (unsigned long long)t->unknown);
    printf("choices by a person: %llu equal, %llu different, %llu without a suggestion; "
           "model-routed cases re-categorized: %llu\n",
           (unsigned long long)t->chosen_equal, (unsigned long long)t->chosen_different,
           (unsigned long long)t->chosen_without_suggestion,
           (unsigned long long)t->model_routed_changed);
    if (t->chosen_unremembered)
        printf("choices for tickets the monitor could not remember (its case limit): %llu\n",
               (unsigned long long)t->chosen_unremembered);
    if (r->n_months) {
        printf("\nmonth    suggestions routed to_triage unknown equal different no_sugg "
               "m_changed\n");
        for (size_t i = 0; i < r->n_months; i++)
            print_counts(ctl_safe(r->months[i]->month), r->months[i]);
    }
    if (r->n_pairs) {
        printf("\nsuggested -> chosen (where they differ)\n");
        for (size_t i = 0; i < r->n_pairs; i++)
            printf("  %-22s -> %-22s %llu\n", ctl_safe(r->pairs[i]->suggested),
                   ctl_safe(r->pairs[i]->chosen), (unsigned long long)r->pairs[i]->count);
    }
}

int ctl_cmd_triage_stats(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"from", required_argument, 0, 'f'},
                                             {"to", required_argument, 0, 't'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__TriageStatsQuery q = CPM__TRIAGE_STATS_QUERY__INIT;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        if (opt == 'f' || opt == 't') {
            int64_t ms;
            if (ctl_parse_time(optarg, &ms) != 0 || ms < 0) {
                cpm_error_t e = {0};
                cpm_error_set(&e, CPM_E_INVALID, opt == 'f' ? "from" : "to",
                              "\"%s\" is not a date (YYYY-MM-DD, Vietnam's time)",
                              ctl_safe(optarg));
                return ctl_fail(NULL, o.json, &e);
            }
            if (opt == 't' && strlen(optarg) == 10) /* a day: up to its end */
                ms += 86400000LL;
            *(opt == 'f' ? &q.from_ms : &q.to_ms) = ms;
        } else
            return ctl_usage(stats_usage, opt == 'h' ? 0 : 2);
    }
    if (optind != argc)
        return ctl_usage(stats_usage, 2);
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    int rc = 0;
    const Cpm__Member *mon = cpm_registry_find_service(c.reg, "monitor");
    cpm_msg_t reply = {0};
    if (!mon) {
        cpm_error_set(&err, CPM_E_NOT_FOUND, "", "the registry has no monitor service");
        rc = ctl_fail(&c, c.json, &err);
    } else if (cpm_client_call(c.client, mon->id, "monitor", CPM__MSG_TYPE__MSG_TRIAGE_STATS,
                               &q.base, c.timeout_ms, &reply, &err) != 0) {
        rc = ctl_fail(&c, c.json, &err);
    } else {
        Cpm__TriageStatsReply *r =
            cpm__triage_stats_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
        if (!r || !r->total) {
            cpm_error_set(&err, CPM_E_BAD_MESSAGE, "", "undecodable triage stats reply");
            rc = ctl_fail(&c, c.json, &err);
        } else if (c.json) {
            print_json(r);
        } else {
            print_text(r);
        }
        cpm__triage_stats_reply__free_unpacked(r, NULL);
        cpm_msg_clear(&reply);
    }
    ctl_close(&c);
    return rc;
}
