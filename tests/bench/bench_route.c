/* bench_route: routing decisions per second by (generation, unit) with a
 * 1,000-rule table, against a baseline of the 16-rule Hanoi sample in the
 * same process. The 1,000 rules are the worst case for the first-match scan:
 * 999 rules of the same category for other units (each with an areas: list
 * the complaint's unit is not in) before the one that matches, over the two
 * generations of the reform data.
 *
 *   build/bench_route [SOURCE_DIR] [SECONDS]     (no mesh; prints figures) */
#include "cpm_rules.h"
#include "cpm_util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const UNITS[] = {"tay-ho",   "hoan-kiem", "ba-dinh",    "cau-giay",
                                    "dong-anh", "soc-son",   "phu-thuong", "hai-ba-trung"};
#define NUNITS (sizeof UNITS / sizeof *UNITS)

/* decisions per second over seconds */
static double rate(const cpm_rules_t *r, double seconds, const char *cat, size_t *checksum)
{
    size_t n = 0;
    double t0 = mono(), t;
    cpm_route_t d;
    do {
        for (int i = 0; i < 1000; i++, n++) {
            cpm_route_query_t q = {NULL, 1754006400000LL, cat, UNITS[n % NUNITS], false, NULL, 0};
            cpm_rules_route_q(r, NULL, &q, &d);
            *checksum += (size_t)d.agency[3];
        }
        t = mono() - t0;
    } while (t < seconds);
    return (double)n / t;
}

static cpm_rules_t *load(const char *path)
{
    cpm_rules_t *r = NULL;
    cpm_error_t err = {0};
    if (cpm_rules_load(path, &r, &err) != 0) {
        fprintf(stderr, "bench_route: %s\n", err.message);
        exit(1);
    }
    return r;
}

int main(int argc, char **argv)
{
    /* absolute: the rules written to /tmp name the places data by this path */
    char srcbuf[PATH_MAX];
    const char *src = realpath(argc > 1 ? argv[1] : ".", srcbuf);
    if (!src) {
        perror("source dir");
        return 1;
    }
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    char base[1024], big[] = "/tmp/cpm-bench-route-XXXXXX";
    snprintf(base, sizeof base, "%s/deploy/hanoi/routing.yaml", src);
    int fd = mkstemp(big);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        return 1;
    fprintf(f,
            "version: 1\neffective_from: \"2025-01-01\"\ntriage: hn.doit\n"
            "deadlines: {accept_working_days: 10, resolve_working_days: 30}\n"
            "categories: [{slug: food_safety}, {slug: pricing}]\n"
            "places_dir: %s/deploy/hanoi/reform-2025\n"
            "generations:\n"
            "  - {id: \"2024\", valid_from: \"2008-08-01\", valid_to: \"2025-06-30\", "
            "units: districts, agency_prefix: \"hn.d.\"}\n"
            "  - {id: \"2025\", valid_from: \"2025-07-01\", units: communes, "
            "agency_prefix: \"hn.w.\"}\n"
            "rules:\n",
            src);
    for (int i = 0; i < 999; i++) /* same category, another unit: scanned, not matched */
        fprintf(f, "  - {id: X%03d, category: food_safety, areas: [nam-tu-liem], agency: hn.x%d}\n",
                i, i);
    fprintf(f, "  - {id: LAST, category: food_safety, agency: \"@area\"}\n");
    fclose(f);
    cpm_rules_t *rb = load(base), *r1k = load(big);
    unlink(big);
    size_t sum = 0;
    double b = rate(rb, seconds, "food_safety", &sum);
    double k = rate(r1k, seconds, "food_safety", &sum);
    printf("routing decisions/s, 16-rule sample (baseline): %.0f\n", b);
    printf("routing decisions/s, 1,000 rules, match at the end: %.0f (%.2fx the baseline)\n", k,
           k / b);
    printf("(checksum %zu)\n", sum);
    cpm_rules_destroy(&rb);
    cpm_rules_destroy(&r1k);
    return 0;
}
