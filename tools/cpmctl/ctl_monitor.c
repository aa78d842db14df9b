/* cpmctl report --period: the monitor's effectiveness report (coordinators).
 * The monitor renders it (text, JSON or CSV); this command asks and prints. */
#include "ctl_args.h"
#include "monitor.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char monitor_usage[] =
    "usage: cpmctl report --period PERIOD [--agency ID] [--area AREA]\n"
    "                     [--format text|json|csv|html] [--out FILE]\n"
    "\n"
    "The city's effectiveness for a period, from the monitor (the city node's\n"
    "reporting service, fed by every event stream): complaints by channel and\n"
    "category, consultations, accepted/refused/returned/transferred, time to accept\n"
    "and to resolve (median and p90 in working days), deadline compliance, overdue\n"
    "now, inspections, violations, fines and outcomes.\n"
    "  --period P    2026, 2026-03, 2026-Q1 or 2026-03-01..2026-04-01 (Vietnam dates)\n"
    "  --agency ID   only the cases this agency holds\n"
    "  --area A      one ward/commune or district (\"hoan-kiem\", \"2024:ba-dinh\"); cases\n"
    "                of the other generation that map onto it alone are counted too\n"
    "  --format F    text (default), json, csv or html (one self-contained file: charts\n"
    "                and a map of the 126 wards and communes as inline SVG, no network)\n"
    "  --out FILE    write the report there\n"
    "Coordinators only (roles coordinator and city); anyone else gets error 403.\n";

int ctl_cmd_monitor_report(const ctl_opts_t *gopts, int argc, char **argv);

int ctl_cmd_monitor_report(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"period", required_argument, 0, 'p'},
                                             {"agency", required_argument, 0, 'a'},
                                             {"area", required_argument, 0, 'r'},
                                             {"format", required_argument, 0, 'f'},
                                             {"out", required_argument, 0, 'o'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__MonitorReportQuery q = CPM__MONITOR_REPORT_QUERY__INIT;
    const char *out = NULL;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        if (opt == 'p')
            q.period = optarg;
        else if (opt == 'a')
            q.agency = optarg;
        else if (opt == 'r')
            q.area = optarg;
        else if (opt == 'f')
            q.format = optarg;
        else if (opt == 'o')
            out = optarg;
        else
            return ctl_usage(monitor_usage, opt == 'h' ? 0 : 2);
    }
    if (optind != argc || !*q.period)
        return ctl_usage(monitor_usage, 2);
    if (o.json && !*q.format)
        q.format = "json";
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
    } else if (cpm_client_call(c.client, mon->id, "monitor", CPM__MSG_TYPE__MSG_MONITOR_REPORT,
                               &q.base, c.timeout_ms, &reply, &err) != 0) {
        rc = ctl_fail(&c, c.json, &err);
    } else {
        Cpm__MonitorReportReply *r = cpm__monitor_report_reply__unpack(NULL, reply.env->payload.len,
                                                                       reply.env->payload.data);
        if (!r) {
            cpm_error_set(&err, CPM_E_BAD_MESSAGE, "", "undecodable monitor reply");
            rc = ctl_fail(&c, c.json, &err);
        } else {
            FILE *f = out ? fopen(out, "w") : stdout;
            if (!f || fwrite(r->body.data, 1, r->body.len, f) != r->body.len ||
                (out && fclose(f) != 0)) {
                fprintf(stderr, "cpmctl report: cannot write %s\n", out ? out : "stdout");
                rc = 1;
            }
            cpm__monitor_report_reply__free_unpacked(r, NULL);
        }
        cpm_msg_clear(&reply);
    }
    ctl_close(&c);
    return rc;
}
