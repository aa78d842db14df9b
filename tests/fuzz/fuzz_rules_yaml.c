/* Fuzz target: the routing rules file (cpm_rules_load: areas, categories,
 * rules, deadlines, holidays), written to a file first since the loader takes
 * a path. Rules that load are used as intake and routing use them: routing
 * decisions against the vectors' registry and working-day deadlines. */
#include "fuzz_env.h"

#include "cpm_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024];
    if (fz_write_file("routing.yaml", data, size, path) != 0)
        fz_die("write", path);
    cpm_rules_t *r;
    if (cpm_rules_load(path, &r, NULL) == 0) {
        static const char *const areas[] = {"hoan-kiem", "ba-dinh", "", "x"};
        static const char *const categories[] = {"food_safety", "pricing", "", "*"};
        cpm_route_t route;
        for (int i = 0; i < 4; i++) {
            (void)cpm_rules_has_area(r, areas[i]);
            (void)cpm_rules_has_category(r, categories[i]);
            cpm_rules_route(r, fz_registry(), categories[i], areas[i], i % 2, &route);
            cpm_rules_route(r, NULL, categories[i], areas[3 - i], i % 2, &route);
        }
        (void)cpm_rules_triage(r);
        (void)cpm_rules_version(r);
        cpm_rules_add_working_days(r, fz_now_ms(), cpm_rules_accept_days(r));
        cpm_rules_add_working_days(r, fz_now_ms(), cpm_rules_resolve_days(r));
    }
    cpm_rules_destroy(&r);
    return 0;
}
