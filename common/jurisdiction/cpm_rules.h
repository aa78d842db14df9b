/* cpm_rules: a deployment's jurisdiction configuration: areas, complaint
 * categories, the routing rule table, deadlines and public holidays, loaded
 * from YAML (deploy/hanoi/routing.yaml is the sample; the format is in
 * docs/operations.md). Intake uses the areas and categories to validate;
 * routing uses the rules and deadlines to decide. No sockets, no store. */
#ifndef CPM_RULES_H
#define CPM_RULES_H

#include "cpm_registry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cpm_rules cpm_rules_t;

/* 0 and *out, or an error code (CPM_E_NOT_FOUND: no such file;
 * CPM_E_INVALID: unreadable, not YAML, or a field is wrong) with *out NULL
 * and err (may be NULL; field "rules") naming the field (and rule id) that is
 * wrong in one sentence. */
CPM_MUST_CHECK int cpm_rules_load(const char *path, cpm_rules_t **out, cpm_error_t *err);
void cpm_rules_destroy(cpm_rules_t **p);

uint32_t cpm_rules_version(const cpm_rules_t *r);
bool cpm_rules_has_area(const cpm_rules_t *r, const char *slug);
bool cpm_rules_has_category(const cpm_rules_t *r, const char *slug);
const char *cpm_rules_triage(const cpm_rules_t *r);

/* A routing decision. */
typedef struct {
    char agency[128];    /* member id that must handle the case */
    char rule_id[128];   /* rule that decided; "triage" when none matched */
    char reason[160];    /* why, for the event log, e.g. "no node for area ba-vi" */
    char generation[16]; /* the jurisdiction generation that decided; "" without generations */
} cpm_route_t;

/* First matching rule in file order wins. A rule matches when its category
 * (or "*") equals category, its area list (absent = any) holds area,
 * and its urgent flag (absent = any) equals urgent. Agency "@area" means the
 * registry's area office for area. When nothing matches, or the agency
 * is not in reg with the service cpm_rules_set_service named, the case goes to the triage agency
 * and reason says why. reg may be NULL (no membership check). Always decides. */
/* The service an agency must run in the registry to be routed to (e.g. the
 * one that receives assignments); names are the program's, not the rules'.
 * Until set, any member of the registry may be routed to. */
void cpm_rules_set_service(cpm_rules_t *r, const char *service);
void cpm_rules_route(const cpm_rules_t *r, const cpm_registry_t *reg, const char *category,
                     const char *area, bool urgent, cpm_route_t *out);
/* A decision by (generation, unit). */
typedef struct {
    const char *generation; /* NULL or "": the generation in force at at_ms */
    int64_t at_ms;          /* 0: now */
    const char *category;
    const char *area; /* the unit's slug in that generation */
    bool urgent;
    const char *const *skip; /* agencies that returned the case: their rules are passed over */
    size_t nskip;
} cpm_route_query_t;

/* The same as cpm_rules_route, by (generation, unit) when the file declares
 * generations: "@area" is the unit's agency in that generation (its override,
 * else the registry's area office for the slug, else agency_prefix + slug),
 * and a unit that is not in the generation goes to triage with the reason.
 * Every rule whose agency is in skip is passed over; when every match is
 * skipped the result is the triage agency, which may itself be in skip: the
 * caller checks. out->generation names the generation. */
void cpm_rules_route_q(const cpm_rules_t *r, const cpm_registry_t *reg, const cpm_route_query_t *q,
                       cpm_route_t *out);
/* The id of the generation in force at ms (Vietnam date), or NULL (none, or
 * a file without generations). */
const char *cpm_rules_generation_at(const cpm_rules_t *r, int64_t ms);
/* The units that succeed unit slug of generation gen in the next one: up to
 * max slugs into out (valid while r lives); returns how many there are.
 * *whole: the unit went whole into out[0] (its cases follow it); else its
 * cases go to triage with these candidates. 0 for an unknown unit or one
 * with no successor. A district of 2024 has the 2025 units that took part of
 * it; a unit whose slug exists in a later generation has that one. */
size_t cpm_rules_successors(const cpm_rules_t *r, const char *gen, const char *slug,
                            const char **out, size_t max, bool *whole);
/* The agency of unit slug in generation gen ("" = in force now), or NULL. */
const char *cpm_rules_unit_agency(const cpm_rules_t *r, const char *gen, const char *slug,
                                  char *buf, size_t n);

/* Deadlines in working days (Mon-Fri, minus holidays, in Vietnam time UTC+7). */
int cpm_rules_accept_days(const cpm_rules_t *r);
int cpm_rules_resolve_days(const cpm_rules_t *r);
/* The deadlines of a case of category under jurisdiction generation (NULL
 * or "": the one in force now): the first that is set of the generation's
 * entry for the category, the generation's deadlines:, the category's
 * accept_days / resolve_days, and the top-level deadlines: block (an
 * undeclared category or generation skips its steps). */
int cpm_rules_accept_days_for(const cpm_rules_t *r, const char *category, const char *generation);
int cpm_rules_resolve_days_for(const cpm_rules_t *r, const char *category, const char *generation);
/* Working days before a deadline when the agency is reminded (0 = never). */
int cpm_rules_remind_days(const cpm_rules_t *r);
/* The end of the working day that lies days working days before the day of
 * due_ms (so that many working days remain until due_ms); due_ms itself for
 * days <= 0. Clamped like cpm_rules_add_working_days. */
int64_t cpm_rules_sub_working_days(const cpm_rules_t *r, int64_t due_ms, int days);
/* The end (23:59:59.999 Vietnam time) of the days-th working day after from_ms.
 * from_ms is taken as the start of year 1 when earlier and as the end of year
 * 9999 when later (it may come from another node). */
int64_t cpm_rules_add_working_days(const cpm_rules_t *r, int64_t from_ms, int days);

/* Lineage across generations (cpm_place_lineage.c): is gen a generation of
 * the file; the units of generation to that unit slug of generation from
 * maps to, in slug order, up to max into out (valid while r lives); returns
 * how many there are. The same generation gives slug itself; an older unit
 * gives its successors in to; a newer one the units of to that it took
 * (wards) from. 0 for an unknown generation or unit. */
#define CPM_RULES_LINEAGE_MAX 64 /* a 2024 district has at most 13 successors */
bool cpm_rules_has_generation(const cpm_rules_t *r, const char *gen);
size_t cpm_rules_map_unit(const cpm_rules_t *r, const char *from, const char *slug, const char *to,
                          const char **out, size_t max);

#endif
