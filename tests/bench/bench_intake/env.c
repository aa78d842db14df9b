/* env: the home folder a deploy/local/up mesh runs from, and the CPU time of
 * its processes and of the machine. */
#include "bench.h"

#include "cpm_util.h"
#include "intake_consumer.h"

#include <sodium.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int env_load(env_t *e)
{
    char path[1200];
    cpm_error_t kerr;
    cpm_public_t root;
    snprintf(path, sizeof path, "%s/keys/root.public", e->home);
    if (cpm_public_load(&root, path, &kerr) != 0) {
        fprintf(stderr, "bench_intake: %s: %s\n", path, kerr.message);
        return -1;
    }
    memcpy(e->root_pk, root.sign_pk, 32);
    snprintf(path, sizeof path, "%s/registry.signed", e->home);
    cpm_error_t rerr = {0};
    if (cpm_registry_load(path, e->root_pk, &e->reg, &rerr) != 0) {
        fprintf(stderr, "bench_intake: %s: %s\n", path, rerr.message);
        return -1;
    }
    snprintf(path, sizeof path, "%s/etc/routing.yaml", e->home);
    if (cpm_rules_load(path, &e->rules, &kerr) != 0) {
        fprintf(stderr, "bench_intake: %s: %s\n", path, kerr.message);
        return -1;
    }
    cpm_rules_set_service(e->rules, "inspection"); /* as intake does, once loaded */
    /* The places and consumer key the home's intake config names: without
     * places intake_submit refuses every complaint (the baseline places them too). */
    snprintf(path, sizeof path, "%s/etc/reform-2025", e->home);
    cpm_error_t perr = {0};
    if (cpm_places_load(path, &e->places, &perr) != 0) {
        fprintf(stderr, "bench_intake: places %s: %s %s\n", path, perr.field, perr.message);
        return -1;
    }
    snprintf(path, sizeof path, "%s/keys/consumer.key", e->home);
    e->have_consumer_secret = intake_consumer_secret_load(path, e->consumer_secret, &kerr) == 0;
    snprintf(path, sizeof path, "%s/keys/%s.secret", e->home, e->as);
    if (cpm_identity_load(&e->id, path, &kerr) != 0) {
        fprintf(stderr, "bench_intake: %s: %s\n", path, kerr.message);
        return -1;
    }
    const Cpm__Member *me = cpm_registry_member(e->reg, e->node);
    if (!me || !cpm_member_service(me, "intake") || !*me->ticket_prefix) {
        fprintf(stderr, "bench_intake: %s runs no intake with a ticket prefix\n", e->node);
        return -1;
    }
    snprintf(e->ticket_prefix, sizeof e->ticket_prefix, "%s", me->ticket_prefix);
    snprintf(e->self_svc, sizeof e->self_svc, "%s/intake", e->node);
    const Cpm__Registry *doc = cpm_registry_doc(e->reg);
    for (size_t i = 0; i < doc->n_members && !*e->routing_member; i++)
        if (cpm_member_service(doc->members[i], "routing"))
            snprintf(e->routing_member, sizeof e->routing_member, "%s", doc->members[i]->id);
    if (strcmp(e->routing_member, e->node) != 0) {
        fprintf(stderr, "bench_intake: routing runs on %s; the health link expects %s\n",
                e->routing_member, e->node);
        return -1;
    }
    char rid[33];
    cpm_random_id(rid);
    snprintf(e->run_id, sizeof e->run_id, "%.8s", rid);
    /* run/pids: "pid node service" lines written by deploy/local/up */
    snprintf(path, sizeof path, "%s/run/pids", e->home);
    FILE *f = fopen(path, "r");
    char node[128], svc[32];
    int pid;
    while (f && fscanf(f, "%d %127s %31s", &pid, node, svc) == 3)
        if (!strcmp(node, e->node) && !strcmp(svc, "intake"))
            e->intake_pid = pid;
        else {
            if (!strcmp(node, e->routing_member) && !strcmp(svc, "routing"))
                e->routing_pid = pid;
            if (e->nother < 32) {
                snprintf(e->other_names[e->nother], sizeof e->other_names[0], "%.40s/%.20s", node,
                         svc);
                e->other_pids[e->nother++] = pid;
            }
        }
    if (f)
        fclose(f);
    return 0;
}

void env_free(env_t *e)
{
    cpm_identity_wipe(&e->id);
    sodium_memzero(e->consumer_secret, sizeof e->consumer_secret);
    cpm_places_destroy(&e->places);
    cpm_rules_destroy(&e->rules);
    cpm_registry_destroy(&e->reg);
}

/* cpm_util's clocks are wall time or milliseconds; latencies need
 * microseconds of a monotonic clock, and CPU a thread's own clock. */
static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

int64_t thread_cpu_us(void)
{
    return clock_us(CLOCK_THREAD_CPUTIME_ID);
}

/* utime + stime of pid in microseconds, or -1. */
int64_t proc_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (int64_t)((ut + st) * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* Busy time of the whole machine (every process, not only ours), in
 * microseconds of CPU, from /proc/stat; -1 when unreadable. */
int64_t machine_busy_us(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                       &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f)
        fclose(f);
    if (n < 5)
        return -1;
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* all but idle, iowait */
    return (int64_t)(busy * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* CPU of the mesh's other services, summed; -1 when none is readable. */
int64_t others_cpu_us(const env_t *e)
{
    int64_t sum = -1;
    for (int i = 0; i < e->nother; i++) {
        int64_t v = proc_cpu_us(e->other_pids[i]);
        if (v >= 0)
            sum = (sum < 0 ? 0 : sum) + v;
    }
    return sum;
}
