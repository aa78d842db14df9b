/* cpmctl: the command-line client of a cpmesh mesh. */
#include "ctl.h"

#include "cpm_envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_cmd_web(const ctl_opts_t *o, int argc, char **argv);     /* ctl_web.c */
int ctl_cmd_receipt(const ctl_opts_t *o, int argc, char **argv); /* ctl_receipt.c */

static const char usage[] =
    "usage: cpmctl [--home DIR] [--as ID] [--json] [--timeout MS] COMMAND [ARGS]\n"
    "\n"
    "Commands (each has --help):\n"
    "  submit      record a complaint at an intake service (or many, from a JSON-lines file)\n"
    "  consult     record a hotline consultation (advice given, no case)\n"
    "  status      where a ticket is, who handles it and when it is due\n"
    "  cases       lists of cases: overdue, due soon, by agency, area or state\n"
    "  case        act on a case: accept, refuse, start, wait, resume, resolve, close, reopen\n"
    "  inspection  plan, assign, show, list, review and close inspections at an agency\n"
    "  clusters    businesses many consumers complained about (coordinators)\n"
    "  hotspot     unusual rises of complaints: list, show, confirm, dismiss (coordinators)\n"
    "  report      cases by area in the 2024 or 2025 generation (coordinators);\n"
    "              --period: effectiveness from the monitor\n"
    "  programme   record activities towards the programme's targets; progress\n"
    "  watch       live stream of events from every service in the registry\n"
    "  events      the event log of one service\n"
    "  health      liveness and counters of every service\n"
    "  keygen      create a member's signing and transport keys\n"
    "  registry    create, sign, show and verify the mesh registry\n"
    "  inspector   the inspector's device: checkout, findings, evidence, sync\n"
    "  web         a login token for the dashboard (web grant --gateway hn.gw)\n"
    "  exchange    data shared between agencies: query, publish, subscribe, proof log\n"
    "  gateway     Open311 client applications: API keys, the signed client list\n"
    "  triage      the category model: train, eval, suggest; stats (accuracy in production)\n"
    "  receipt     verify FILE: a saved proof of one answer of a group receipt\n"
    "\n"
    "Files come from --home, $CPMESH_HOME or ~/.cpmesh (./deploy/local/up writes them).\n"
    "--as ID signs with DIR/keys/ID.secret (default: $CPMESH_AS or the id in DIR/identity).\n"
    "--timeout MS waits that long for each answer (default 5000).\n"
    "--json prints one JSON object per result. Exit status: 0 ok, 1 error, 2 bad usage.\n"
    "CPM_ENVELOPE_VERSION=2 sends envelope version 2, for nodes not yet upgraded (default 3).\n";

int main(int argc, char **argv)
{
    ctl_opts_t o = {0};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--json"))
            o.json = true;
        else if (!strcmp(argv[i], "--home") && i + 1 < argc)
            o.home = argv[++i];
        else if (!strcmp(argv[i], "--as") && i + 1 < argc)
            o.as = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            o.timeout_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "cpmctl: unknown option %s\n%s", argv[i], usage);
            return 2;
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    cpm_error_t verr = {0};
    if (cpm_envelope_version_from_env(&verr) != 0) {
        fprintf(stderr, "cpmctl: %s\n", verr.message);
        return 2;
    }
    static const struct {
        const char *name;
        int (*fn)(const ctl_opts_t *, int, char **);
    } cmds[] = {
        {"submit", ctl_cmd_submit},
        {"consult", ctl_cmd_consult},
        {"status", ctl_cmd_status},
        {"case", ctl_cmd_case},
        {"watch", ctl_cmd_watch},
        {"events", ctl_cmd_events},
        {"health", ctl_cmd_health},
        {"keygen", ctl_cmd_keygen},
        {"registry", ctl_cmd_registry},
        {"clusters", ctl_cmd_clusters},
        {"hotspot", ctl_cmd_hotspot}, /* ctl_hotspot.c */
        {"cases", ctl_cmd_cases},
        {"report", ctl_cmd_report},
        {"inspection", ctl_cmd_inspection},
        {"inspector", ctl_cmd_inspector},
        {"exchange", ctl_cmd_exchange},
        {"gateway", ctl_cmd_gateway},

        {"programme", ctl_cmd_programme},
        {"web", ctl_cmd_web},         /* ctl_web.c: login tokens for the dashboard */
        {"triage", ctl_cmd_triage},   /* ctl_triage.c: the category model */
        {"receipt", ctl_cmd_receipt}, /* ctl_receipt.c: group-receipt proofs */
    };
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (!strcmp(argv[i], cmds[k].name)) {
            int rc = cmds[k].fn(&o, argc - i, argv + i);
            return rc == 0 && ctl_json_failed() ? 1 : rc;
        }
    fprintf(stderr, "cpmctl: unknown command '%s'\n%s", argv[i], usage);
    return 2;
}
