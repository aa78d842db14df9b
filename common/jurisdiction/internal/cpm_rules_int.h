/* cpm_rules_int: the loaded configuration, shared by cpm_rules_load.c (YAML
 * to indexes), cpm_rules.c (routing and lookups) and cpm_rules_calendar.c
 * (working days). Internal: services include cpm_rules.h only.
 *
 * Layout after load: area and category slugs sorted for bsearch; each rule
 * holds its category as an index (-1 = any) and its areas as a bitmap over
 * the sorted area list (NULL = any); holidays are sorted day numbers in
 * Vietnam time. */
#ifndef CPM_RULES_INT_H
#define CPM_RULES_INT_H

#include "cpm_rules.h"

#define SLUG_MAX 64   /* bytes, so "<prefix><slug>" fits cpm_route_t.agency */
#define PREFIX_MAX 63 /* area_office_prefix */

typedef struct {
    char id[SLUG_MAX + 1]; /* short enough that reasons quoting it fit */
    char agency[128];
    bool at_area;  /* agency is "@area" */
    int category;  /* index into categories, -1 = any */
    int urgent;    /* -1 = any, else 0 or 1 */
    uint8_t *dmap; /* bitmap over areas, NULL = any */
} rule_t;

/* Generations (cpm_rules_gen.c): one unit of one generation. */
typedef struct {
    char slug[SLUG_MAX + 1];
    char code[16];
    char agency[128]; /* explicit override, or "" = the generation's prefix + slug */
    /* units: districts: the 2025 units that took part of it (cpm_place_successors) */
    char (*succ)[SLUG_MAX + 1];
    size_t nsucc;
    bool whole; /* went whole into succ[0] */
} gen_unit_t;

typedef struct {
    char id[16];
    int32_t from_day, to_day; /* Vietnam days; to_day INT32_MAX when open-ended */
    unsigned line;            /* where it is declared, for errors */
    char prefix[PREFIX_MAX + 1];
    gen_unit_t *units; /* sorted by slug */
    size_t nunits;
    /* Its own deadlines (cpm_rules_deadlines.c); 0 = not set here. */
    int accept_days, resolve_days; /* the generation's defaults */
    int *cat_accept, *cat_resolve; /* per sorted category, NULL when none is set */
} gen_t;

struct cpm_rules {
    uint32_t version;
    gen_t *gens; /* sorted by from_day; NULL: the legacy single "areas:" generation */
    size_t ngens;
    uint8_t digest[32]; /* BLAKE2b of the file's bytes: a changed file under the same version */
    char triage[128];
    char prefix[PREFIX_MAX + 1];
    char service[64];              /* an agency must run it to be routed to; "" = no check */
    int accept_days, resolve_days; /* the deadlines block: the defaults */
    int *cat_accept, *cat_resolve; /* per sorted category; 0 = the default */
    int remind_days;               /* working days before a deadline; 0 = no reminders */
    char **areas;                  /* sorted */
    size_t nareas;
    char **categories; /* sorted */
    size_t ncategories;
    int32_t *holidays; /* sorted day numbers (days since 1970-01-01, Vietnam time) */
    size_t nholidays;
    rule_t *rules; /* file order */
    size_t nrules;
};

/* qsort/bsearch order of a slug list (elements are char *). */
int cpm_rules_cmp_slug(const void *a, const void *b);
/* Index of slug in a sorted list, or -1 (also for NULL or ""). */
int cpm_rules_find_slug(char **list, size_t n, const char *slug);

/* qsort/bsearch order of day numbers (elements are int32_t). */
int cpm_rules_cmp_day(const void *a, const void *b);
/* Strict YYYY-MM-DD with a real calendar date from 1970 on, as a day number
 * (days since 1970-01-01); 0, or -1 when s is NULL or not such a date. */
int cpm_rules_parse_date(const char *s, int32_t *day);

/* The loader's parse state (cpm_rules_load.c, cpm_rules_gen.c). */
#include <yaml.h>
typedef struct {
    const char *path;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} ctx_t;

/* Load "generations" (with "places_dir" and "agencies") from the root
 * mapping into r->gens, and add every unit slug to r->areas (kept sorted and
 * unique). 0, or -1 with the first error in c (file:line: sentence). */
int cpm_rules_gens_load(ctx_t *c, cpm_rules_t *r, const yaml_node_t *root);

/* The parse helpers both loaders share: record the first error as
 * "path:line: sentence" and return -1; a node by id; a scalar's text or NULL. */
__attribute__((format(printf, 3, 4))) int cpm_rules_yfail(ctx_t *c, const yaml_node_t *n,
                                                          const char *fmt, ...);
yaml_node_t *cpm_rules_ynode(ctx_t *c, int id);
const char *cpm_rules_yscalar(const yaml_node_t *n);
/* The value of key in a mapping (NULL when absent or map is not a mapping). */
yaml_node_t *cpm_rules_yget(ctx_t *c, const yaml_node_t *map, const char *key);
/* -1 (with where in the error) unless map is a mapping whose keys are all in
 * allowed (NULL-terminated): typos are errors, not silently ignored. */
int cpm_rules_ycheck_keys(ctx_t *c, const yaml_node_t *map, const char *where,
                          const char *const *allowed);
void cpm_rules_gens_free(cpm_rules_t *r);
/* The deadlines: and categories: of each generation entry (after the
 * categories are loaded). 0, or -1 with the first error in c. */
int cpm_rules_gens_deadlines(ctx_t *c, cpm_rules_t *r, const yaml_node_t *root);
/* The generation in force on Vietnam day day, or NULL. */
const gen_t *cpm_rules_gen_on(const cpm_rules_t *r, int32_t day);
const gen_t *cpm_rules_gen_find(const cpm_rules_t *r, const char *id);
const gen_unit_t *cpm_rules_gen_unit(const gen_t *g, const char *slug);

#endif
