/* bench_place: placements per second, by name and by point, against a
 * baseline in the same process.
 *
 *   build/bench_place [DATA_DIR] [SECONDS]   (default deploy/hanoi/reform-2025, 1 s)
 *
 * Names: a mix of the spellings people write (every unit's full name, bare
 * names, ASCII with prefixes, old wards, old districts, address lines) through
 * cpm_place_resolve; baseline: an exact strcmp/bsearch lookup of the same
 * texts among the data's NFC names (what a lookup without normalisation
 * costs). Points: a grid over the city through cpm_place_resolve; baseline:
 * the same point in polygon test over every ring of the 126 units without the
 * bounding-box prefilter. Figures only; nothing is asserted on time. */
#include "cpm_place.h"
#include "cpm_place_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
    char **texts;
    size_t n;
} texts_t;

static void push(texts_t *t, const char *fmt, const char *a, const char *b)
{
    char buf[512];
    snprintf(buf, sizeof buf, fmt, a, b);
    t->texts[t->n++] = strdup(buf);
}

/* Runs body over the inputs for at least secs; out = operations per second. */
#define RATE(out, secs, count, body)                                                               \
    do {                                                                                           \
        double t0_ = now_s(), el_;                                                                 \
        size_t ops_ = 0;                                                                           \
        do {                                                                                       \
            for (size_t i_ = 0; i_ < (count); i_++, ops_++) {                                      \
                body;                                                                              \
            }                                                                                      \
        } while ((el_ = now_s() - t0_) < (secs));                                                  \
        (out) = (double)ops_ / el_;                                                                \
    } while (0)

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "deploy/hanoi/reform-2025";
    double secs = argc > 2 ? atof(argv[2]) : 1.0;
    cpm_places_t *p = NULL;
    cpm_error_t err = {0};
    double t0 = now_s();
    if (cpm_places_load(dir, &p, &err) != 0) {
        fprintf(stderr, "bench_place: %s: %s: %s\n", dir, err.field, err.message);
        return 1;
    }
    double load_ms = (now_s() - t0) * 1e3;

    /* the texts */
    texts_t t = {.texts = calloc(8 * (p->nunits + p->nwards + p->ndistricts), sizeof(char *))};
    for (size_t i = 0; i < p->nunits; i++) {
        push(&t, "%s%s", p->units[i].full_name, "");
        push(&t, "%s%s", p->units[i].name, "");
        push(&t, "P. %s, Hà Nội%s", p->units[i].slug, "");
    }
    for (size_t i = 0; i < p->nwards; i++) {
        push(&t, "%s%s", p->wards[i].full_name, "");
        push(&t, "12 Lê Lợi, %s, Quận %s", p->wards[i].name, p->wards[i].district_code);
    }
    for (size_t i = 0; i < p->ndistricts; i++)
        push(&t, "%s%s", p->districts[i].full_name, "");

    /* baseline table: every NFC name, sorted */
    size_t nb = 0;
    char **names = calloc(p->nunits + p->nwards + p->ndistricts, sizeof(char *));
    for (size_t i = 0; i < p->nunits; i++)
        names[nb++] = p->units[i].full_name;
    for (size_t i = 0; i < p->nwards; i++)
        names[nb++] = p->wards[i].full_name;
    for (size_t i = 0; i < p->ndistricts; i++)
        names[nb++] = p->districts[i].full_name;
    qsort(names, nb, sizeof *names, cmp_str);

    cpm_placement_t o;
    size_t placed = 0, sink = 0;
    for (size_t i = 0; i < t.n; i++)
        placed += cpm_place_resolve(p, t.texts[i], false, 0, 0, &o) != CPM_PLACE_UNKNOWN;
    double name_rate, exact_rate, point_rate, scan_rate;
    RATE(name_rate, secs, t.n, sink += cpm_place_resolve(p, t.texts[i_], false, 0, 0, &o));
    RATE(exact_rate, secs, t.n,
         sink += bsearch(&t.texts[i_], names, nb, sizeof *names, cmp_str) != NULL);

    /* points: a grid over the city's bounding box */
    size_t np = 0, inside = 0;
    double *pts = malloc(2 * 70 * 70 * sizeof *pts);
    for (int a = 0; a < 70; a++)
        for (int b = 0; b < 70; b++) {
            pts[2 * np] = 20.55 + a * (0.85 / 70);
            pts[2 * np + 1] = 105.28 + b * (0.74 / 70);
            inside += place_geo_find(p, pts[2 * np + 1], pts[2 * np], true) >= 0;
            np++;
        }
    RATE(point_rate, secs, np,
         sink += cpm_place_resolve(p, NULL, true, pts[2 * i_], pts[2 * i_ + 1], &o));
    RATE(scan_rate, secs, np,
         sink += (size_t)place_geo_find(p, pts[2 * i_ + 1], pts[2 * i_], false));

    printf("bench_place: %zu units, %zu old wards, %zu old districts, %zu polygons, %zu rings, "
           "%zu vertices; load %.1f ms\n",
           p->nunits, p->nwards, p->ndistricts, p->npolys, p->nrings, p->npts / 2, load_ms);
    printf("  names:  %zu texts (%zu placed)   %10.0f placements/s   baseline exact lookup "
           "%10.0f/s   ratio %.3f\n",
           t.n, placed, name_rate, exact_rate, name_rate / exact_rate);
    printf("  points: %zu grid points (%zu in Hanoi) %8.0f placements/s   baseline no bbox   "
           "%10.0f/s   ratio %.2f\n",
           np, inside, point_rate, scan_rate, point_rate / scan_rate);
    if (sink == 42)
        printf(" \n");
    for (size_t i = 0; i < t.n; i++)
        free(t.texts[i]);
    free(t.texts);
    free(names);
    free(pts);
    cpm_places_destroy(&p);
    return 0;
}
