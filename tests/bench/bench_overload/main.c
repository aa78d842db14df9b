/* bench_overload: a registered peer's latency while each flood of issue 5
 * runs, against the same without a flood, measured in the same run.
 *
 *   bench_overload --home DIR [--node hn.doit] [--as operator.hn.doit]
 *                  [--seconds S] [--floods abcde] [--conns N] [--records N]
 *                  [--unread-rate R] [--storm-rate R] [--prep N]
 *
 * DIR is a home written by ./deploy/local/up whose mesh is running
 * (tests/bench/run --overload starts one). Two probes run in every phase, each
 * one request in flight over the signed link of bench_intake: the operator's
 * submit_complaint to <node>/intake and health_query to <node>/routing. The
 * floods (threads of this process, each with its own zmq context):
 *   a  4 MiB frames of 2-byte unknown fields, unsigned, to intake (item 3)
 *   b  N idle TCP connections to intake, no key, reopened when closed (item 4)
 *   c  DeliveryBatches of N empty records from an area node to routing,
 *      each on a fresh stream, one at a time (item 5)
 *   d  event fetches of 1000 events to intake, replies never read (item 6)
 *   e  800 event fetches a second from one principal, replies read (item 8)
 * Per phase: the flood starts, 1 s to build up, then S seconds of probes;
 * then the flood stops and the time until the victim answers a health query
 * again is the recovery (given up after 60 s). Flood a keeps at most 2 frames
 * unanswered, c one batch: the figures show what each costs the service, not
 * a backlog of our own making. A phase without flood runs first and last. Figures
 * only: no timing is asserted, a flood the service refuses or cuts off is
 * fine. Exit 1 only when the mesh is not usable at the start. */
#include "overload.h"

#include "cpm_util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    double p50, p99, max;
    size_t n;
    uint64_t lost, refused;
} figures_t;

typedef struct {
    char name[48];
    figures_t f[2]; /* submit@intake, health@routing */
    long rss_kib, hwm_kib;
    double recovery_s;
    char flood[400];
} phase_t;

static int find_pid(const env_t *e, const char *svc)
{
    char path[1200], node[128], s[32];
    int pid, found = 0;
    snprintf(path, sizeof path, "%s/run/pids", e->home);
    FILE *f = fopen(path, "r");
    while (f && fscanf(f, "%d %127s %31s", &pid, node, s) == 3)
        if (!strcmp(node, e->node) && !strcmp(s, svc))
            found = pid;
    if (f)
        fclose(f);
    return found;
}

static long proc_kib(int pid, const char *field)
{
    char path[64], line[256];
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':')
            v = atol(line + fl + 1);
    if (f)
        fclose(f);
    return v;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* S seconds of both probes. */
static int measure(const env_t *e, double secs, figures_t out[2])
{
    atomic_int stop = 0;
    probe_t p[2] = {{.e = e, .what = "submit@intake", .submit = 1, .timeout_ms = 10000},
                    {.e = e, .what = "health@routing", .submit = 0, .timeout_ms = 10000}};
    for (int i = 0; i < 2; i++) {
        p[i].stop = &stop;
        if (probe_start(&p[i]) != 0)
            return -1;
    }
    sleep_ms((int)(secs * 1000));
    atomic_store(&stop, 1);
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        probe_join(&p[i]);
        out[i].n = p[i].n;
        out[i].lost = p[i].lost;
        out[i].refused = p[i].refused;
        out[i].p50 = probe_pct(&p[i], 0.50);
        out[i].p99 = probe_pct(&p[i], 0.99);
        out[i].max = probe_pct(&p[i], 1.0);
        failed |= p[i].failed;
        probe_free(&p[i]);
    }
    return failed ? -1 : 0;
}

/* Seconds until service answers a health query (-1: not within 60 s). */
static double recovery(const env_t *e, const char *service)
{
    link_t l;
    char why[256], recipient[200], id[33], inst[64];
    snprintf(inst, sizeof inst, "recover.%d", (int)getpid());
    snprintf(recipient, sizeof recipient, "%s/%s", e->node, service);
    int64_t t0 = mono_us();
    double s = -1;
    if (link_open(&l, e, service, inst, why, sizeof why) == 0) {
        Cpm__HealthQuery q = CPM__HEALTH_QUERY__INIT;
        while ((mono_us() - t0) < 60000000 && s < 0) {
            if (link_send(&l, recipient, CPM__MSG_TYPE__MSG_HEALTH_QUERY, &q.base, id) != 0)
                break;
            cpm_msg_t r = {0};
            while (link_recv(&l, e, 1000, &r, why, sizeof why) == 0) {
                int mine = !strcmp(r.env->correlation_id, id);
                cpm_msg_clear(&r);
                if (mine) {
                    s = (double)(mono_us() - t0) / 1e6;
                    break;
                }
            }
        }
    }
    link_close(&l);
    return s;
}

/* Submit n complaints so that the logs hold events worth fetching. */
static int prepare(const env_t *e, int n)
{
    link_t l;
    char why[256], recipient[200], inst[64];
    snprintf(inst, sizeof inst, "prep.%d", (int)getpid());
    snprintf(recipient, sizeof recipient, "%s/intake", e->node);
    if (link_open(&l, e, "intake", inst, why, sizeof why) != 0) {
        fprintf(stderr, "bench_overload: %s\n", why);
        link_close(&l);
        return -1;
    }
    int sent = 0, got = 0, rc = 0;
    while (got < n && rc == 0) {
        while (sent < n && sent - got < 32) {
            Cpm__Complaint c;
            complaint_bufs_t b;
            char id[33];
            make_complaint(e, "prep", (uint64_t)sent++, &c, &b);
            if (link_send(&l, recipient, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, &c.base, id) != 0)
                rc = -1;
        }
        cpm_msg_t r = {0};
        if (link_recv(&l, e, 10000, &r, why, sizeof why) != 0) {
            fprintf(stderr, "bench_overload: preparing: %s\n", why);
            rc = -1;
        } else {
            got++;
            cpm_msg_clear(&r);
        }
    }
    link_close(&l);
    return rc;
}

static void print_phase(const phase_t *ph, const phase_t *base)
{
    static const char *const probes[] = {"submit@intake", "health@routing"};
    for (int i = 0; i < 2; i++) {
        const figures_t *f = &ph->f[i], *b = &base->f[i];
        char x50[16] = "-", x99[16] = "-";
        if (b->p50 > 0 && f->n)
            snprintf(x50, sizeof x50, "%.1f", f->p50 / b->p50);
        if (b->p99 > 0 && f->n)
            snprintf(x99, sizeof x99, "%.1f", f->p99 / b->p99);
        printf("%-24s %-15s %6zu %8.2f %8.2f %8.1f %5llu %5llu %6s %6s\n", i ? "" : ph->name,
               probes[i], f->n, f->p50, f->p99, f->max, (unsigned long long)f->lost,
               (unsigned long long)f->refused, x50, x99);
    }
    if (ph->flood[0])
        printf("%-24s   flood: %s\n", "", ph->flood);
    if (ph->rss_kib >= 0 && ph->recovery_s >= 0)
        printf("%-24s   victim RSS after %.0f MiB (peak %.0f MiB); answers again %.1f s after "
               "the flood stopped\n",
               "", ph->rss_kib / 1024.0, ph->hwm_kib / 1024.0, ph->recovery_s);
    else if (ph->rss_kib >= 0)
        printf("%-24s   victim RSS after %.0f MiB (peak %.0f MiB); NOT answering 60 s after the "
               "flood stopped\n",
               "", ph->rss_kib / 1024.0, ph->hwm_kib / 1024.0);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"home", required_argument, 0, 'H'},
                                         {"node", required_argument, 0, 'n'},
                                         {"as", required_argument, 0, 'a'},
                                         {"seconds", required_argument, 0, 's'},
                                         {"floods", required_argument, 0, 'f'},
                                         {"conns", required_argument, 0, 'C'},
                                         {"records", required_argument, 0, 'r'},
                                         {"unread-rate", required_argument, 0, 'u'},
                                         {"storm-rate", required_argument, 0, 'S'},
                                         {"prep", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    env_t e;
    memset(&e, 0, sizeof e);
    e.node = "hn.doit";
    e.as = "operator.hn.doit";
    double secs = 5;
    const char *which = "abdec", *home = NULL;
    int conns = 1100, unread_rate = 20, storm_rate = 800, prep = 1500, opt;
    long records = 2000000;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'H':
            home = optarg;
            break;
        case 'n':
            e.node = optarg;
            break;
        case 'a':
            e.as = optarg;
            break;
        case 's':
            secs = atof(optarg);
            break;
        case 'f':
            which = optarg;
            break;
        case 'C':
            conns = atoi(optarg);
            break;
        case 'r':
            records = atol(optarg);
            break;
        case 'u':
            unread_rate = atoi(optarg);
            break;
        case 'S':
            storm_rate = atoi(optarg);
            break;
        case 'p':
            prep = atoi(optarg);
            break;
        case 'h':
            printf("see the comment at the top of tests/bench/bench_overload/main.c\n");
            return 0;
        default:
            return 2;
        }
    }
    if (!home || secs <= 0 || conns <= 0 || records <= 0 || unread_rate <= 0 || storm_rate <= 0) {
        fprintf(stderr, "usage: bench_overload --home DIR [--seconds S] [--floods abcde] ...\n");
        return 2;
    }
    snprintf(e.home, sizeof e.home, "%s", home);
    if (env_load(&e) != 0)
        return 1;
    struct rlimit rl; /* our side of flood b needs its descriptors */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int pid_intake = find_pid(&e, "intake"), pid_routing = find_pid(&e, "routing");
    printf("bench_overload: %s, %.0f s of probes per phase; victims: intake pid %d (open files "
           "limit as started), routing pid %d\n",
           e.home, secs, pid_intake, pid_routing);
    if (prepare(&e, prep) != 0)
        return 1;
    sleep_ms(1000); /* let routing take the complaints in */

    phase_t phases[8];
    int np = 0;
    phase_t *base = &phases[np++];
    memset(base, 0, sizeof *base);
    snprintf(base->name, sizeof base->name, "no flood");
    base->rss_kib = -1;
    if (measure(&e, secs, base->f) != 0) {
        fprintf(stderr, "bench_overload: the probes fail without any flood\n");
        return 1;
    }
    printf("\n%-24s %-15s %6s %8s %8s %8s %5s %5s %6s %6s\n", "phase", "probe", "n", "p50 ms",
           "p99 ms", "max ms", "lost", "error", "x p50", "x p99");
    print_phase(base, base);
    fflush(stdout);
    for (const char *w = which; *w; w++) {
        flood_t *f = calloc(1, sizeof *f);
        if (!f)
            return 1;
        f->e = &e;
        f->victim = "intake";
        f->conns = conns;
        f->records = records;
        switch (*w) {
        case 'a':
            f->name = "a unknown-field frames";
            f->run = flood_unknown_fields;
            break;
        case 'b':
            f->name = "b idle tcp connections";
            f->run = flood_idle_tcp;
            break;
        case 'c':
            f->name = "c empty-record batches";
            f->run = flood_empty_records;
            f->victim = "routing";
            break;
        case 'd':
            f->name = "d unread event fetches";
            f->run = flood_unread_fetches;
            f->rate = unread_rate;
            break;
        case 'e':
            f->name = "e event fetch storm";
            f->run = flood_fetch_storm;
            f->rate = storm_rate;
            break;
        default:
            free(f);
            continue;
        }
        phase_t *ph = &phases[np < 7 ? np++ : np];
        memset(ph, 0, sizeof *ph);
        snprintf(ph->name, sizeof ph->name, "%s", f->name);
        int victim_pid = strcmp(f->victim, "routing") ? pid_intake : pid_routing;
        if (pthread_create(&f->th, NULL, f->run, f) != 0) {
            free(f);
            continue;
        }
        sleep_ms(1000);
        measure(&e, secs, ph->f); /* a failed probe is a figure here, not an error */
        ph->rss_kib = proc_kib(victim_pid, "VmRSS");
        ph->hwm_kib = proc_kib(victim_pid, "VmHWM");
        atomic_store(&f->stop, 1);
        pthread_join(f->th, NULL);
        ph->recovery_s = recovery(&e, f->victim);
        switch (*w) {
        case 'a':
            snprintf(ph->flood, sizeof ph->flood, "%llu frames (%.0f MiB) sent, %llu answers",
                     (unsigned long long)f->sent, (double)f->bytes / 1048576.0,
                     (unsigned long long)f->replies);
            break;
        case 'b':
            snprintf(ph->flood, sizeof ph->flood,
                     "%llu connections made, %llu open at the end (peak %llu), %llu reopened, "
                     "%llu failed",
                     (unsigned long long)f->sent, (unsigned long long)f->open,
                     (unsigned long long)f->peak_open, (unsigned long long)f->reconnects,
                     (unsigned long long)f->failures);
            break;
        case 'c':
            snprintf(ph->flood, sizeof ph->flood,
                     "%llu batches of %ld empty records (%.1f MiB) sent, %llu answered%s%s",
                     (unsigned long long)f->sent, records, (double)f->bytes / 1048576.0,
                     (unsigned long long)f->replies, f->note[0] ? "; " : "", f->note);
            break;
        default:
            snprintf(ph->flood, sizeof ph->flood,
                     "%llu fetches sent (%.0f/s), %llu replies read, %llu not sent",
                     (unsigned long long)f->sent,
                     f->elapsed_us > 0 ? (double)f->sent * 1e6 / (double)f->elapsed_us : 0.0,
                     (unsigned long long)f->replies, (unsigned long long)f->failures);
        }
        print_phase(ph, base);
        fflush(stdout);
        free(f);
        sleep_ms(1000);
    }
    phase_t *after = &phases[np < 8 ? np++ : 7];
    memset(after, 0, sizeof *after);
    snprintf(after->name, sizeof after->name, "no flood, after");
    after->rss_kib = -1;
    measure(&e, secs, after->f);
    print_phase(after, base);
    printf("\nx p50, x p99: the phase's figure over the first phase without flood. lost: no "
           "reply within 10 s (counted as 10 s). error: an ErrorReply.\n");
    return 0;
}
