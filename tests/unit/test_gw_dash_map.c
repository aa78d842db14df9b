/* gw_dash_map: a boundary file with absurd coordinates still gives whole,
 * bounded SVG paths (each point used to be appended at d->len +=
 * snprintf(...), which steps past the buffer when a number is long). */
#include "gw_dash_map.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long none(const char *slug, void *arg)
{
    (void)slug, (void)arg;
    return 0;
}

static void test_huge_coordinates(void **st)
{
    (void)st;
    char file[] = "/tmp/test_gw_dash_map_XXXXXX";
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    /* y spans 1e300 for an x span of 1: each y prints as ~300 digits */
    fprintf(f, "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
               "\"properties\":{\"slug\":\"x\",\"name\":\"X\"},\"geometry\":{\"type\":"
               "\"Polygon\",\"coordinates\":[[");
    for (int i = 0; i < 40; i++)
        fprintf(f, "%s[%d,%s]", i ? "," : "", i % 2, i % 3 ? "1e300" : "-1e300");
    fprintf(f, "]]}}]}");
    fclose(f);
    gw_map_t *m = gw_map_load(file);
    unlink(file);
    assert_non_null(m);
    assert_int_equal(gw_map_units(m), 1);
    gw_resp_t rs;
    gw_resp_init(&rs);
    gw_map_svg(m, &rs, none, NULL);
    assert_false(rs.oom);
    const char *d = strstr(rs.body, " d=\"");
    assert_non_null(d);
    d += 4;
    size_t n = strcspn(d, "\"");
    assert_true(n < 40 * 32);                           /* every point bounded */
    assert_int_equal(strspn(d, "MLZ0123456789.- "), n); /* no stray bytes */
    assert_int_equal(d[n - 1], 'Z');                    /* the whole path */
    gw_resp_clear(&rs);
    gw_map_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_huge_coordinates)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
