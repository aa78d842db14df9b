/* cpmctl web grant: a login token for the coordinators' dashboard, signed
 * with the caller's own member key (cpm_grant, docs/protocol.md 23). */
#include "ctl_args.h"
#include "cpm_grant.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_cmd_web(const ctl_opts_t *gopts, int argc, char **argv);

static const char web_usage[] =
    "usage: cpmctl [--as ID] web grant --gateway MEMBER [--hours H] [--json]\n"
    "\n"
    "Signs a web grant with your own key (--as ID) that lets the gateway MEMBER\n"
    "(e.g. hn.gw) act for you for H hours (default 8, at most 12), and prints it\n"
    "as a token to paste into the dashboard's login page. The gateway accepts a\n"
    "token once; each query it makes for you carries the grant, and routing\n"
    "answers as you. Keep the token as secret as a password until you used it.\n";

int ctl_cmd_web(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"gateway", required_argument, 0, 'g'},
                                             {"hours", required_argument, 0, 'H'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    if (argc < 2 || strcmp(argv[1], "grant") != 0)
        return ctl_usage(web_usage, argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2);
    argc--, argv++;
    const char *gateway = NULL;
    double hours = 8;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        if (opt == 'g')
            gateway = optarg;
        else if (opt == 'H') {
            char *end;
            hours = strtod(optarg, &end);
            if (*end || hours <= 0 || hours > 12) {
                fprintf(stderr, "cpmctl web grant: --hours must be more than 0 and at most 12\n");
                return 2;
            }
        } else
            return ctl_usage(web_usage, opt == 'h' ? 0 : 2);
    }
    if (!gateway) {
        fprintf(stderr, "cpmctl web grant: --gateway MEMBER is required (e.g. hn.gw)\n");
        return 2;
    }
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    const Cpm__Member *gw = cpm_registry_member(c.reg, gateway);
    if (!gw || strcmp(gw->role, "gateway") != 0) {
        cpm_error_set(&err, CPM_E_INVALID, "gateway", "%s is not a gateway of the registry",
                      gateway);
        int rc = ctl_fail(&c, o.json, &err);
        ctl_close(&c);
        return rc;
    }
    uint8_t *frame = NULL;
    size_t len = 0;
    int64_t now = cpm_now_ms();
    int rc = cpm_grant_sign(&c.id, gateway, now, (int64_t)(hours * 3600000.0), &frame, &len, &err);
    char token[CPM_GRANT_TOKEN_MAX + 1];
    if (rc == 0 && cpm_grant_token(frame, len, token, sizeof token) != 0)
        rc = cpm_error_set(&err, CPM_E_INTERNAL, "", "the grant is too long for a token");
    free(frame);
    if (rc != 0) {
        rc = ctl_fail(&c, o.json, &err);
        ctl_close(&c);
        return rc;
    }
    char t[40];
    if (o.json)
        ctl_print_json(json_pack("{s:s,s:s,s:s,s:I}", "token", token, "member", c.id.id, "gateway",
                                 gateway, "not_after_ms",
                                 (json_int_t)(now + (int64_t)(hours * 3600000.0))));
    else { /* the token alone on stdout: TOKEN=$(cpmctl web grant ...) works */
        printf("%s\n", token);
        fprintf(stderr, "# for %s at gateway %s, until %s: paste the line above at /login\n",
                c.id.id, gateway, ctl_time_vn(now + (int64_t)(hours * 3600000.0), t));
    }
    ctl_close(&c);
    return 0;
}
