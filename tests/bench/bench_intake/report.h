/* report: percentiles of measured times and the table of the mesh and
 * baseline rows. */
#ifndef BENCH_INTAKE_REPORT_H
#define BENCH_INTAKE_REPORT_H

#include "baseline.h"
#include "mesh.h"

#include <stddef.h>
#include <stdint.h>

/* qsort order of int64_t. */
int cmp_i64(const void *a, const void *b);
/* The q-quantile (0 to 1) of n sorted microsecond times, in milliseconds. */
double pct_ms(const int64_t *sorted, size_t n, double q);

/* One row: a mesh phase and its baselines in groups of g. */
typedef struct {
    mesh_result_t m;
    base_result_t b, br;
    size_t g;
} row_t;

void print_rows(const row_t *rows, int n);

#endif
