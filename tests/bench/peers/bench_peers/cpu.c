/* CPU of the systems under test, per acknowledged record (see peers.h).
 *
 * A server's CPU is its processes' user + system time and that of every live
 * descendant, plus what their exited, reaped children used (cutime, cstime:
 * PostgreSQL's backends end with their connections and the postmaster reaps
 * them). After a phase the servers may still be working on what they
 * acknowledged (the city's routing and inspection catch up with intake's
 * outbox; PostgreSQL's backends exit): peers_cpu_settle waits until their CPU
 * stops growing, so the work is counted however long it took.
 *
 * Limits, fine for a benchmark: /proc is read one process at a time, so a
 * child reaped between reading it and reading its parent is missed or
 * counted twice (after settling there is none); a root pid reused by another
 * process during a phase is not noticed; resolution is one clock tick
 * (10 ms) per process and end, about 1 us per record at these rates. */
#include "peers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int pid, ppid;
    unsigned long long ticks; /* utime + stime + cutime + cstime */
} proc_t;

static int read_proc(int pid, proc_t *p)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *q = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    long long cut, cst;
    int ppid;
    if (!q || sscanf(q + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &ppid,
                     &ut, &st, &cut, &cst) != 5)
        return -1;
    p->pid = pid;
    p->ppid = ppid;
    p->ticks =
        ut + st + (unsigned long long)(cut > 0 ? cut : 0) + (unsigned long long)(cst > 0 ? cst : 0);
    return 0;
}

/* Every process now, or NULL (n = 0). */
static proc_t *snapshot(size_t *n)
{
    *n = 0;
    size_t cap = 1024;
    DIR *d = opendir("/proc");
    proc_t *all = d ? malloc(cap * sizeof *all) : NULL;
    struct dirent *de;
    while (all && (de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*n == cap) {
            proc_t *more = realloc(all, 2 * cap * sizeof *all);
            if (!more) {
                free(all);
                all = NULL;
                break;
            }
            all = more, cap *= 2;
        }
        if (*end == 0 && pid > 0 && read_proc((int)pid, &all[*n]) == 0)
            (*n)++;
    }
    if (d)
        closedir(d);
    return all;
}

static int in_tree(const proc_t *all, size_t n, size_t i, const int *roots, int nroots)
{
    int pid = all[i].pid;
    for (int depth = 0; depth < 16 && pid > 1; depth++) {
        for (int r = 0; r < nroots; r++)
            if (pid == roots[r])
                return 1;
        int parent = 0;
        for (size_t j = 0; j < n && !parent; j++)
            if (all[j].pid == pid)
                parent = all[j].ppid;
        pid = parent;
    }
    return 0;
}

int64_t peers_tree_cpu_us(const int *roots, int nroots)
{
    size_t n;
    proc_t *all = snapshot(&n);
    if (!all || nroots < 1) {
        free(all);
        return -1;
    }
    unsigned long long ticks = 0;
    int found = 0; /* a root that is gone counts nothing: no root at all is -1, not 0 */
    for (size_t i = 0; i < n; i++) {
        for (int r = 0; r < nroots; r++)
            found += all[i].pid == roots[r];
        if (in_tree(all, n, i, roots, nroots))
            ticks += all[i].ticks;
    }
    free(all);
    if (!found)
        return -1;
    return (int64_t)(ticks * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

int64_t peers_cpu_settle(const int *roots, int nroots, int64_t max_us)
{
    const struct timespec step = {0, 250 * 1000 * 1000};
    int64_t tick = 1000000 / sysconf(_SC_CLK_TCK), prev = peers_tree_cpu_us(roots, nroots);
    int quiet = 0;
    for (int64_t waited = 0; prev >= 0 && waited < max_us; waited += 250000) {
        nanosleep(&step, NULL);
        int64_t now = peers_tree_cpu_us(roots, nroots);
        /* Idle services still tick (timers, health sweeps): "settled" is
         * at most two ticks per root in a quarter second, twice in a row. */
        quiet = now >= 0 && now - prev <= 2 * tick * nroots ? quiet + 1 : 0;
        if (now < 0)
            return -1;
        prev = now;
        if (quiet >= 2)
            break;
    }
    return prev;
}

int64_t peers_self_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}
