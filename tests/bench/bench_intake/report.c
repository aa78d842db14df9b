/* report: figures as the rows print them. */
#include "report.h"

#include <stdio.h>

int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

double pct_ms(const int64_t *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return (double)sorted[i] / 1000.0;
}

void print_rows(const row_t *rows, int n)
{
    printf("\n%-9s %9s %7s %7s %6s | %5s %9s %6s | %10s %6s\n", "clients", "intake/s", "p50 ms",
           "p99 ms", "group", "g", "base/s", "ratio", "+replies/s", "ratio");
    for (int i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        printf("%2d x %-4d %9.0f %7.2f %7.2f %6.1f | %5zu %9.0f %6.2f | %10.0f %6.2f\n",
               r->m.clients, r->m.window, r->m.rate, r->m.p50, r->m.p99, r->m.group, r->g,
               r->b.rate, r->b.rate > 0 ? r->m.rate / r->b.rate : 0, r->br.rate,
               r->br.rate > 0 ? r->m.rate / r->br.rate : 0);
    }
    printf("\nCPU per complaint, us; cores: ours = total x rate, machine = every process "
           "(other work on the machine included)\n");
    printf("%-9s %7s %7s %7s %7s %6s %7s | %9s %9s\n", "clients", "intake", "others", "clients",
           "total", "ours", "machine", "base", "base g ms");
    for (int i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        double tot = r->m.server_cpu_us + (r->m.others_cpu_us > 0 ? r->m.others_cpu_us : 0) +
                     r->m.client_cpu_us;
        printf("%2d x %-4d %7.0f %7.0f %7.0f %7.0f %6.2f %7.2f | %9.0f %9.2f\n", r->m.clients,
               r->m.window, r->m.server_cpu_us, r->m.others_cpu_us, r->m.client_cpu_us, tot,
               tot * r->m.rate / 1e6, r->m.machine_cores, r->b.cpu_us, r->b.group_p50_ms);
    }
}
