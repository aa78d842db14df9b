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
    "       cpmctl programme roster --target ID --as-of YYYY-MM-DD [--count N]\n"
    "                               [--name NAME ...] [--file NAMES.txt]\n"
    "\n"
    "record: an activity of your agency towards a target of targets.csv (news_articles,\n"
    "large_public_events, rights_day_launch, ...), signed by you. train: an official\n"
    "(target officials_trained) or an organisation (orgs_in_awareness) trained. The\n"
    "same title, official or organisation counts once a year. progress: each target\n"
    "with what was done, what is required and what is missing (default: this year).\n"
    "roster (city coordinators): what 100% of a 100% target (orgs_in_awareness,\n"
    "officials_trained) means from that date: how many there are (--count) and/or who\n"
    "(--name, repeated, or --file with one name per line, as the training records name\n"
    "them: then only they count and the untrained are listed).\n";

#define ROSTER_MAX 5000

/* One name a line from path into names (malloc'd copies). 0 or -1. */
static int read_names(const char *path, char **names, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cpmctl: cannot open %s\n", path);
        return -1;
    }
    char line[512];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line)
            continue;
        if (*n == ROSTER_MAX || !(names[*n] = strdup(line))) {
            fprintf(stderr, "cpmctl: %s: more than %d names\n", path, ROSTER_MAX);
            rc = -1;
        } else
            (*n)++;
    }
    fclose(f);
    return rc;
}

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
        if (json) {
            json_t *nv = json_array();
            for (size_t j = 0; j < p->n_not_yet; j++)
                json_array_append_new(nv, json_string(ctl_utf8(p->not_yet[j])));
            ctl_print_json(json_pack("{s:b,s:i,s:s,s:s,s:s,s:I,s:I,s:b,s:s,s:s,s:s,s:o}", "ok", 1,
                                     "year", (int)r->year, "target", p->id, "period", p->period,
                                     "want", p->target, "done", (json_int_t)p->done, "required",
                                     (json_int_t)p->required, "met", p->met, "missing",
                                     ctl_utf8(p->missing), "meaning", ctl_utf8(p->meaning),
                                     "denominator", ctl_utf8(p->denominator), "not_yet", nv));
        } else if (p->required && strcmp(p->target, "100%") == 0)
            printf("%-22s %-8s %-5s done %llu/%llu (%s) %s %s\n", p->id, p->period, p->target,
                   (unsigned long long)p->done, (unsigned long long)p->required, p->denominator,
                   p->met ? "MET" : "open", p->missing);
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
                                             {"as-of", required_argument, 0, 'd'},
                                             {"count", required_argument, 0, 'n'},
                                             {"name", required_argument, 0, 'N'},
                                             {"file", required_argument, 0, 'f'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    if (argc < 2)
        return ctl_usage(programme_usage, 2);
    const char *sub = argv[1];
    bool rec = !strcmp(sub, "record"), train = !strcmp(sub, "train"),
         prog = !strcmp(sub, "progress"), ros = !strcmp(sub, "roster");
    if (!rec && !train && !prog && !ros)
        return ctl_usage(programme_usage, !strcmp(sub, "-h") || !strcmp(sub, "--help") ? 0 : 2);
    ctl_opts_t o = *gopts;
    Cpm__ProgrammeActivity a = CPM__PROGRAMME_ACTIVITY__INIT;
    Cpm__ProgrammeProgressQuery q = CPM__PROGRAMME_PROGRESS_QUERY__INIT;
    time_t now = time(NULL) + 7 * 3600;
    struct tm tm;
    gmtime_r(&now, &tm);
    q.year = (uint32_t)tm.tm_year + 1900;
    char **names = calloc(ROSTER_MAX, sizeof *names);
    size_t n_names = 0;
    if (!names)
        return 1;
    int opt, bad = 0;
    while (!bad && (opt = ctl_getopt(argc - 1, argv + 1, "h", longopts)) != 0) {
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
        case 'n': {
            char *end;
            a.roster_count = strtoull(optarg, &end, 10);
            bad = *end || !*optarg ? 2 : 0;
            break;
        }
        case 'N':
            if (n_names == ROSTER_MAX || !(names[n_names++] = strdup(optarg)))
                bad = 1;
            break;
        case 'f':
            bad = read_names(optarg, names, &n_names) ? 1 : 0;
            break;
        default:
            bad = opt == 'h' ? 3 : 2;
        }
    }
    a.roster = names, a.n_roster = n_names;
    if (ros && !bad && (!*a.target || !*a.date || (!a.roster_count && !n_names)))
        bad = 2;
    if (bad || (!ros && (a.roster_count || n_names))) {
        for (size_t i = 0; i < n_names; i++)
            free(names[i]);
        free(names);
        return bad == 1 ? 1 : ctl_usage(programme_usage, bad == 3 ? 0 : 2);
    }
    if (train)
        a.target = *a.official ? "officials_trained" : "orgs_in_awareness";
    if ((rec && !*a.target) || (train && !*a.official == !*a.org))
        bad = 2;
    ctl_t c;
    if (bad || ctl_open(&c, &o) != 0) {
        for (size_t i = 0; i < n_names; i++)
            free(names[i]);
        free(names);
        return bad ? ctl_usage(programme_usage, 2) : 1;
    }
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
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    return rc;
}
