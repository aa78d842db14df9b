/* cpmctl programme: activities towards the programme's yearly targets
 * (deploy/hanoi/targets.csv), signed by the agency that did them and kept by
 * the monitor with the signed frame; progress against each target. */
#include "ctl_args.h"
#include "monitor.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char programme_usage[] =
    "usage: cpmctl programme record --target ID --title TEXT --date YYYY-MM-DD [--link URL]\n"
    "       cpmctl programme train (--official MEMBER | --org NAME) --date YYYY-MM-DD\n"
    "       cpmctl programme progress [--year YYYY]\n"
    "\n"
    "record: an activity of your agency towards a target of targets.csv (news_articles,\n"
    "large_public_events, rights_day_launch, ...), signed by you. train: an official\n"
    "(target officials_trained) or an organisation (orgs_in_awareness) trained. The\n"
    "same title, official or organisation counts once a year. progress: each target\n"
    "with what was done, what is required and what is missing (default: this year).\n";

static int call(ctl_t *c, Cpm__MsgType type, const ProtobufCMessage *q, cpm_msg_t *reply,
                cpm_error_t *err)
{
    const Cpm__Member *mon = cpm_registry_find_service(c->reg, "monitor");
    if (!mon)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "", "the registry has no monitor service");
    return cpm_client_call(c->client, mon->id, "monitor", type, q, c->timeout_ms, reply, err);
}

static void print_progress(bool json, const Cpm__ProgrammeProgressReply *r)
{
    for (size_t i = 0; i < r->n_targets; i++) {
        const Cpm__TargetProgress *p = r->targets[i];
        if (json)
            ctl_print_json(json_pack("{s:b,s:i,s:s,s:s,s:s,s:I,s:I,s:b,s:s,s:s}", "ok", 1, "year",
                                     (int)r->year, "target", p->id, "period", p->period, "want",
                                     p->target, "done", (json_int_t)p->done, "required",
                                     (json_int_t)p->required, "met", p->met, "missing", p->missing,
                                     "meaning", ctl_utf8(p->meaning)));
        else
            printf("%-22s %-8s %-5s done %-4llu %s %s\n", p->id, p->period, p->target,
                   (unsigned long long)p->done, p->met ? "MET" : "open", p->missing);
    }
}

int ctl_cmd_programme(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"target", required_argument, 0, 't'},
                                             {"title", required_argument, 0, 'T'},
                                             {"date", required_argument, 0, 'd'},
                                             {"link", required_argument, 0, 'l'},
                                             {"official", required_argument, 0, 'o'},
                                             {"org", required_argument, 0, 'g'},
                                             {"year", required_argument, 0, 'y'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    if (argc < 2)
        return ctl_usage(programme_usage, 2);
    const char *sub = argv[1];
    bool rec = !strcmp(sub, "record"), train = !strcmp(sub, "train"),
         prog = !strcmp(sub, "progress");
    if (!rec && !train && !prog)
        return ctl_usage(programme_usage, !strcmp(sub, "-h") || !strcmp(sub, "--help") ? 0 : 2);
    ctl_opts_t o = *gopts;
    Cpm__ProgrammeActivity a = CPM__PROGRAMME_ACTIVITY__INIT;
    Cpm__ProgrammeProgressQuery q = CPM__PROGRAMME_PROGRESS_QUERY__INIT;
    time_t now = time(NULL) + 7 * 3600;
    struct tm tm;
    gmtime_r(&now, &tm);
    q.year = (uint32_t)tm.tm_year + 1900;
    int opt;
    while ((opt = ctl_getopt(argc - 1, argv + 1, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 't':
            a.target = optarg;
            break;
        case 'T':
            a.title = optarg;
            break;
        case 'd':
            a.date = optarg;
            break;
        case 'l':
            a.link = optarg;
            break;
        case 'o':
            a.official = optarg;
            break;
        case 'g':
            a.org = optarg;
            break;
        case 'y':
            q.year = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        default:
            return ctl_usage(programme_usage, opt == 'h' ? 0 : 2);
        }
    }
    if (train)
        a.target = *a.official ? "officials_trained" : "orgs_in_awareness";
    if ((rec && !*a.target) || (train && !*a.official == !*a.org))
        return ctl_usage(programme_usage, 2);
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    cpm_msg_t reply = {0};
    int rc = 0;
    if (prog) {
        if (call(&c, CPM__MSG_TYPE__MSG_PROGRAMME_PROGRESS, &q.base, &reply, &err) != 0)
            rc = ctl_fail(&c, c.json, &err);
        else {
            Cpm__ProgrammeProgressReply *r = cpm__programme_progress_reply__unpack(
                NULL, reply.env->payload.len, reply.env->payload.data);
            if (!r) {
                cpm_error_set(&err, CPM_E_BAD_MESSAGE, "", "undecodable progress reply");
                rc = ctl_fail(&c, c.json, &err);
            } else {
                print_progress(c.json, r);
                cpm__programme_progress_reply__free_unpacked(r, NULL);
            }
        }
    } else if (call(&c, CPM__MSG_TYPE__MSG_PROGRAMME_RECORD, &a.base, &reply, &err) != 0) {
        rc = ctl_fail(&c, c.json, &err);
    } else {
        Cpm__ProgrammeRecordReply *r = cpm__programme_record_reply__unpack(
            NULL, reply.env->payload.len, reply.env->payload.data);
        if (!r) {
            cpm_error_set(&err, CPM_E_BAD_MESSAGE, "", "undecodable record reply");
            rc = ctl_fail(&c, c.json, &err);
        } else {
            if (c.json)
                ctl_print_json(json_pack("{s:b,s:s,s:s,s:b}", "ok", 1, "key", ctl_utf8(r->key),
                                         "agency", r->agency, "duplicate", r->duplicate));
            else
                printf("%s %s (%s)\n", r->duplicate ? "already recorded" : "recorded", r->key,
                       r->agency);
            cpm__programme_record_reply__free_unpacked(r, NULL);
        }
    }
    cpm_msg_clear(&reply);
    ctl_close(&c);
    return rc;
}
