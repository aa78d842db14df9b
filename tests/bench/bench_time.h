/* The clock and the order statistics the in-process benches print: a
 * monotonic clock in microseconds, the p50/p99 of a sample (sorted in
 * place) and the bytes written so far. Header only: each bench is one program. */
#ifndef BENCH_TIME_H
#define BENCH_TIME_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline int bench_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double p50, p99;
} bench_fig_t;

/* p50 and p99 of v[0..n) (n > 0), sorting v. */
static inline bench_fig_t bench_figs(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_d);
    return (bench_fig_t){v[n / 2], v[(int)(n * 0.99)]};
}

/* The median of v[0..n) (n > 0), sorting v. */
static inline double bench_median(double *v, int n)
{
    return bench_figs(v, n).p50;
}

/* wchar of /proc/self/io: every byte the process has written (LMDB writes
 * each dirty page of a commit with pwrite/writev). -1 unknown. */
static inline int64_t bench_wchar(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    long long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "wchar: %lld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

#endif
