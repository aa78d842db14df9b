/* cpmctl watch / events: the live stream of every service's events, and one
 * service's log. Events are checked against their hash chain as they come. */
#include "ctl_args.h"
#include "cpm_case.h"
#include "cpm_eventlog.h"
#include "cpm_subscriber.h"
#include "cpm_transport.h"
#include "cpm_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static const char watch_usage[] =
    "usage: cpmctl watch [--node ID] [--cursor FILE] [--from-start] [--count N] [--for SECONDS]\n"
    "                    [--kind PREFIX] [--agency ID] [--area SLUG] [--category SLUG]\n"
    "                    [--state STATE] [--out FILE] [--json]\n"
    "\n"
    "Shows events from every service in the registry as they happen. Remembers the\n"
    "last event seen of each service in the cursor file (default DIR/watch-<as>.cursor)\n"
    "and, after a restart or a gap, first fetches what it missed, so no event is lost\n"
    "or shown twice. Each event is checked against its service's hash chain.\n"
    "  --from-start   ignore the cursor and show every log from its first event\n"
    "  --count N      stop after N events;  --for S   stop after S seconds\n"
    "  --kind, --agency, --area, --category, --state   only such events (kind: a\n"
    "                 prefix); fetches are filtered by the service, checked with\n"
    "                 the hashes of the events left out and the signed checkpoints\n"
    "  --out FILE     append the events to FILE and keep its size with the cursor:\n"
    "                 after a kill, the restarted watch cuts FILE back to the last\n"
    "                 event it saved and goes on, so FILE holds each event once\n";

static const char events_usage[] =
    "usage: cpmctl events --node ID --service NAME [--from SEQ] [--json]\n"
    "\n"
    "Prints the event log of one service from SEQ (default 1) to its head, each\n"
    "event checked against the hash chain and the service's signed checkpoints;\n"
    "then says on stderr up to which event a checkpoint proved the log. Exit 3\n"
    "when an event or a checkpoint did not verify.\n";

/* Where --out writes, and the size it had at the last saved cursor. */
static FILE *out_file;
static cpm_subscriber_t *out_sub;

static volatile sig_atomic_t interrupted;
static bool broken_seen; /* an event off the chain was shown */
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* --out: the events delivered so far are in the file; save the cursor and
 * the file's size in one transaction, once per batch (the subscriber saves
 * nothing by itself: caller_saves). A kill before that commit leaves the
 * batch's lines in the file beyond the kept size, cut off at the restart,
 * and the cursor before them. One commit (an fsync) per batch rather than
 * per event: 100 watchers fsyncing each event slowed the services'
 * own commits on the same disk. */
static void out_save(void)
{
    uint8_t size[8];
    long at = out_file ? ftell(out_file) : -1;
    if (at < 0)
        return;
    cpm_put_be64(size, (uint64_t)at);
    if (cpm_subscriber_save_with(out_sub, "out.size", size, sizeof size) != 0)
        fprintf(stderr, "cpmctl: cannot save the cursor with the output's size\n");
}

/* Print one event (the subscriber has checked it against the chain). */
static void emit(void *arg, const char *node, const char *service, const Cpm__Event *ev,
                 bool chain_ok)
{
    const ctl_t *c = arg;
    char key[200];
    snprintf(key, sizeof key, "%s/%s", node, service);
    if (!chain_ok) {
        fprintf(stderr, "cpmctl: warning: %s event %llu does not match the hash chain\n", key,
                (unsigned long long)ev->seq);
        broken_seen = true;
    }
    char t[40], detail[1024];
    const char *state = cpm_case_state_name(ev->state);
    /* detail: the typed fields as one line, as before they were typed. */
    cpm_event_describe(ev, detail, sizeof detail);
    if (c->json) {
        json_t *o =
            json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:b}", "node", node, "service", service,
                      "seq", (json_int_t)ev->seq, "at", ctl_time(ev->at_ms, t), "kind",
                      ctl_utf8(ev->kind), "ticket", ctl_utf8(ev->ticket), "agency",
                      ctl_utf8(ev->agency), "detail", ctl_utf8(detail), "chain_ok", chain_ok);
        json_t *typed =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "area", ctl_utf8(ev->area), "category",
                      ctl_utf8(ev->category), "state", state ? state : "", "rule",
                      ctl_utf8(ev->rule), "actor", ctl_utf8(ev->actor), "note", ctl_utf8(ev->note));
        if (o && typed)
            json_object_update(o, typed);
        json_decref(typed);
        /* the record fields: business, address, product when set (complaint.received
         * carries them since issue 12; violation.recorded always did) */
        const char *rec[][2] = {
            {"business", ev->business}, {"address", ev->address}, {"product", ev->product}};
        for (size_t k = 0; o && k < sizeof rec / sizeof *rec; k++)
            if (rec[k][1] && *rec[k][1])
                json_object_set_new(o, rec[k][0], json_string(ctl_utf8(rec[k][1])));
        if (o && (*ev->suggested || *ev->category_by)) { /* issue 12: how the category came */
            json_object_set_new(o, "suggested", json_string(ctl_utf8(ev->suggested)));
            json_object_set_new(o, "suggestion_pm", json_integer(ev->suggestion_pm));
            json_object_set_new(o, "category_by", json_string(ctl_utf8(ev->category_by)));
        }
        if (out_file) {
            char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
            if (line)
                fprintf(out_file, "%s\n", line);
            fflush(out_file);
            free(line);
            json_decref(o);
        } else {
            ctl_print_json(o);
        }
    } else {
        fprintf(out_file ? out_file : stdout, "%s %s #%llu %s %s%s%s %s\n",
                ctl_time_vn(ev->at_ms, t), key, (unsigned long long)ev->seq, ctl_safe(ev->kind),
                ctl_safe(ev->ticket), *ev->agency ? " -> " : "", ctl_safe(ev->agency),
                ctl_safe(detail));
        fflush(out_file ? out_file : stdout);
    }
}

static void on_notice(void *arg, const char *node, const char *service, cpm_sub_notice_t what,
                      const char *detail)
{
    (void)arg;
    char key[200];
    snprintf(key, sizeof key, "%s/%s", node, service);
    switch (what) {
    case CPM_SUB_UNREACHABLE:
        fprintf(stderr, "cpmctl: %s does not answer (%s); will keep trying\n", key,
                ctl_safe(detail));
        break;
    case CPM_SUB_REACHABLE:
        fprintf(stderr, "cpmctl: %s answers again\n", key);
        break;
    case CPM_SUB_REFUSED_PUB:
        fprintf(stderr, "cpmctl: refused a publication on %s\n", key);
        break;
    case CPM_SUB_BROKEN_CHAIN:
        /* An event off the chain is shown with a warning in emit; a
         * checkpoint that does not match is told here. */
        if (strncmp(detail, "checkpoint", 10) == 0)
            fprintf(stderr, "cpmctl: %s %s\n", key, ctl_safe(detail));
        break;
    case CPM_SUB_CURSOR_SAVE:
        fprintf(stderr, "cpmctl: cannot save the cursor %s\n", ctl_safe(detail));
        break;
    }
}

/* A cursor written by an earlier cpmctl is a JSON file {"<node>/<service>":
 * {"seq":N,"hash":"<hex>"}} where the LMDB store now goes: read it, move it
 * aside to <path>.json-old and carry it into the store, so an upgrade shows
 * no event twice. NULL when path is not such a file. */
static json_t *old_cursor_take(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    json_t *root = json_load_file(path, 0, NULL);
    char aside[1500];
    snprintf(aside, sizeof aside, "%s.json-old", path);
    if (!root || rename(path, aside) != 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static void old_cursor_apply(cpm_subscriber_t *sub, json_t *root)
{
    const char *key;
    json_t *e;
    json_object_foreach(root, key, e)
    {
        char node[200];
        snprintf(node, sizeof node, "%s", key);
        char *service = strchr(node, '/');
        json_t *seq = json_object_get(e, "seq"), *hash = json_object_get(e, "hash");
        uint8_t h[32];
        if (!service || !json_is_integer(seq))
            continue;
        *service++ = 0;
        bool have = json_is_string(hash) && cpm_hex_decode(json_string_value(hash), h, 32) == 0;
        if (cpm_subscriber_seek(sub, node, service, (uint64_t)json_integer_value(seq),
                                have ? h : NULL) != 0)
            fprintf(stderr, "cpmctl: old cursor %s/%s: no such source now; dropped\n", node,
                    service);
    }
    if (cpm_subscriber_save(sub) != 0)
        fprintf(stderr, "cpmctl: warning: the old cursor could not be saved in the store\n");
}

/* --out FILE: cut it back to the size kept with the cursor (what a killed
 * watch wrote after its last save), then append. */
static int out_open(cpm_subscriber_t *sub, const char *path, bool from_start)
{
    uint8_t size[8];
    long kept = from_start ? -1 : cpm_subscriber_load_extra(sub, "out.size", size, sizeof size);
    out_file = fopen(path, from_start ? "w" : "a");
    if (!out_file) {
        fprintf(stderr, "cpmctl: --out %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (kept == 8 && ftruncate(fileno(out_file), (off_t)cpm_get_be64(size)) != 0) {
        fprintf(stderr, "cpmctl: --out %s: cannot cut back: %s\n", path, strerror(errno));
        fclose(out_file);
        out_file = NULL;
        return -1;
    }
    fseek(out_file, 0, SEEK_END);
    out_sub = sub;
    if (kept != 8) /* none kept yet: keep the size now, so a kill in the first batch cuts it */
        out_save();
    return 0;
}

/* cpmctl shows events off the chain with a warning rather than hiding them. */
static cpm_sub_opts_t sub_opts(ctl_t *c)
{
    return (cpm_sub_opts_t){.accept_broken = true,
                            .fetch_timeout_ms = c->timeout_ms,
                            .on_event = emit,
                            .on_notice = on_notice,
                            .arg = c};
}

int ctl_cmd_watch(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"node", required_argument, 0, 'n'},
                                             {"cursor", required_argument, 0, 'c'},
                                             {"from-start", no_argument, 0, 's'},
                                             {"count", required_argument, 0, 'N'},
                                             {"for", required_argument, 0, 'f'},
                                             {"kind", required_argument, 0, 'K'},
                                             {"agency", required_argument, 0, 'A'},
                                             {"area", required_argument, 0, 'R'},
                                             {"category", required_argument, 0, 'C'},
                                             {"state", required_argument, 0, 'S'},
                                             {"out", required_argument, 0, 'O'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    const char *node = NULL, *cursor = NULL, *out = NULL;
    cpm_sub_filter_t filt = {0};
    bool from_start = false;
    long count = 0, seconds = 0;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 'n':
            node = optarg;
            break;
        case 'c':
            cursor = optarg;
            break;
        case 's':
            from_start = true;
            break;
        case 'N':
            count = atol(optarg);
            break;
        case 'f':
            seconds = atol(optarg);
            break;
        case 'K':
            filt.kind_prefix = optarg;
            break;
        case 'A':
            filt.agency = optarg;
            break;
        case 'R':
            filt.area = optarg;
            break;
        case 'C':
            filt.category = optarg;
            break;
        case 'S':
            if ((filt.state = cpm_case_state_parse(optarg)) == 0) {
                fprintf(stderr, "cpmctl: --state: unknown case state \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'O':
            out = optarg;
            break;
        default:
            return ctl_usage(watch_usage, opt == 'h' ? 0 : 2);
        }
    }
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    c.timeout_ms = 2000;
    char cpath[1400];
    if (cursor)
        snprintf(cpath, sizeof cpath, "%s", cursor);
    else
        snprintf(cpath, sizeof cpath, "%s/watch-%s.cursor", c.home, c.id.id);
    json_t *old = old_cursor_take(cpath);
    cpm_sub_opts_t so = sub_opts(&c);
    so.cursor_dir = cpath;
    so.from_start = from_start;
    so.caller_saves = out != NULL;
    filt.node = node;
    so.filter = filt;
    cpm_subscriber_t *sub = NULL;
    cpm_error_t err = {0};
    if (cpm_subscriber_new(&sub, c.zctx, c.reg, &c.id, c.client, &so, &err) != 0) {
        int rc = ctl_fail(&c, c.json, &err);
        json_decref(old);
        ctl_close(&c);
        return rc;
    }
    if (old && !from_start)
        old_cursor_apply(sub, old);
    json_decref(old);
    if (out && out_open(sub, out, from_start) != 0) {
        cpm_subscriber_destroy(&sub);
        ctl_close(&c);
        return 1;
    }
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    long shown = 0;
    int64_t end = seconds > 0 ? cpm_mono_ms() + seconds * 1000 : 0, next_sweep = 0;
    while (!interrupted && (count <= 0 || shown < count) && (!end || cpm_mono_ms() < end)) {
        long got;
        if (cpm_mono_ms() >= next_sweep) { /* start-up, and a sweep for lost publications */
            got = cpm_subscriber_sweep(sub, count > 0 ? count - shown : 0, NULL);
            next_sweep = cpm_mono_ms() + 3000;
        } else {
            got = cpm_subscriber_poll(sub, 250, count > 0 ? count - shown : 0);
        }
        if (got > 0 && out_sub)
            out_save();
        shown += got;
    }
    if (out_sub)
        out_save();
    cpm_subscriber_destroy(&sub); /* saves the cursor (with --out: saved just above) */
    if (out_file)
        fclose(out_file);
    out_file = NULL;
    out_sub = NULL;
    ctl_close(&c);
    return 0;
}

int ctl_cmd_events(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"node", required_argument, 0, 'n'},
                                             {"service", required_argument, 0, 's'},
                                             {"from", required_argument, 0, 'f'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    const char *node = NULL, *service = NULL;
    uint64_t from = 1;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 'n':
            node = optarg;
            break;
        case 's':
            service = optarg;
            break;
        case 'f':
            from = strtoull(optarg, NULL, 10);
            break;
        default:
            return ctl_usage(events_usage, opt == 'h' ? 0 : 2);
        }
    }
    if (!node || !*node || !service || !*service)
        return ctl_usage(events_usage, 2);
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_sub_opts_t so = sub_opts(&c);
    so.fetch_only = true;
    so.start_seq = from;
    so.filter.node = node;
    so.filter.service = service;
    cpm_subscriber_t *sub = NULL;
    cpm_error_t err = {0};
    int rc = 0, failed = 0;
    if (cpm_subscriber_new(&sub, c.zctx, c.reg, &c.id, c.client, &so, &err) != 0) {
        rc = ctl_fail(&c, c.json, &err);
    } else if (cpm_subscriber_sweep(sub, 0, &failed) == 0 && failed) {
        cpm_error_set(&err, CPM_E_UNAVAILABLE, "node", "cannot read the events of %s/%s", node,
                      service);
        rc = ctl_fail(&c, c.json, &err);
    } else {
        uint64_t bad = 0, good = cpm_subscriber_checkpoints(sub, &bad);
        fprintf(stderr,
                "cpmctl: %s/%s: read to #%llu; checkpoints verified %llu, wrong %llu; proven "
                "to #%llu\n",
                node, service, (unsigned long long)cpm_subscriber_cursor(sub, node, service),
                (unsigned long long)good, (unsigned long long)bad,
                (unsigned long long)cpm_subscriber_proven(sub, node, service));
        if (bad > 0 || broken_seen)
            rc = 3;
    }
    cpm_subscriber_destroy(&sub);
    ctl_close(&c);
    return rc;
}
