/* monitor_eff: the programme's effectiveness figures from the monitor's
 * facts, a pure computation (no store, no sockets, no clock).
 *
 * A case fact is what the event streams said about one ticket (see
 * monitor_facts.h); a record fact is one consultation, inspection or
 * violation. mon_eff_compute counts those of a period (a case by the time it
 * was received, a record by its own time) that match an agency (the one
 * holding the case) and a set of areas (generation, slug pairs: the caller
 * expands one area through the jurisdiction lineage so that both generations
 * are counted), and measures times in WORKING days with a mon_cal_t built
 * from the rules calendar (weekends, public holidays, Tet).
 *
 * Working days from a to b: the working days after a's day up to and
 * including b's day (Vietnam time, UTC+7): received Friday and accepted the
 * next Monday is 1; the same day is 0. Median and p90 are nearest-rank
 * (the ceil(p*n)-th smallest value). A deadline is met when the working days
 * taken are at most the case's deadline (accept: from receipt; resolve: from
 * acceptance, as the rules' resolve_working_days say); "overdue now" is an
 * open case past its deadline (accept deadline while not accepted, resolve
 * deadline while not resolved) at now_ms. Time to resolve is from receipt
 * (the consumer's wait). */
#ifndef MONITOR_EFF_H
#define MONITOR_EFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MON_KEY 48 /* slugs, member ids, ticket: bytes incl. NUL */
#define MON_GEN 16
#define MON_CHANNEL 24
#define MON_OUTCOMES 8 /* Cpm__Outcome 0..7 */

typedef struct {
    uint32_t version; /* MON_CASE_VERSION */
    char ticket[MON_KEY], agency[MON_KEY], area[MON_KEY], gen[MON_GEN], category[MON_KEY];
    char channel[MON_CHANNEL];
    int64_t received_ms, accepted_ms, resolved_ms; /* 0: not (yet) */
    int32_t accept_days, resolve_days;             /* the case's deadlines (0: none) */
    int64_t fine_vnd;
    uint32_t outcome;                        /* Cpm__Outcome of the last resolution */
    uint32_t refused, returned, transferred; /* times it happened */
    uint32_t closed;                         /* refused, resolved or closed (not reopened) */
} mon_case_t;
#define MON_CASE_VERSION 1

typedef enum { MON_REC_CONSULTATION = 1, MON_REC_INSPECTION, MON_REC_VIOLATION } mon_rec_kind_t;
typedef struct {
    uint32_t version, kind; /* MON_REC_VERSION, mon_rec_kind_t */
    int64_t at_ms, fine_vnd;
    char agency[MON_KEY], area[MON_KEY], gen[MON_GEN], category[MON_KEY];
    char channel[MON_CHANNEL];
} mon_rec_t;
#define MON_REC_VERSION 1

/* The working-day calendar: a prefix count over days [day0, day0 + n). */
typedef struct mon_cal mon_cal_t;
/* is_working(arg, day) for day = days since 1970-01-01 (Vietnam date). NULL
 * on allocation failure. */
mon_cal_t *mon_cal_new(int32_t day0, size_t n, bool (*is_working)(void *arg, int32_t day),
                       void *arg);
void mon_cal_destroy(mon_cal_t **p);
/* The Vietnam date of a UTC ms time, as days since 1970-01-01. */
int32_t mon_day_of(int64_t ms);
/* Working days from a to b (0 when b is not after a's day; days outside the
 * calendar count as not working). */
int32_t mon_cal_between(const mon_cal_t *c, int64_t a_ms, int64_t b_ms);
/* The first day (days since 1970-01-01) on which mon_cal_between(start_ms,
 * that day) > days, i.e. the day a deadline of days working days from
 * start_ms is passed; -1 when the calendar ends first. */
int32_t mon_cal_overdue_day(const mon_cal_t *c, int64_t start_ms, int32_t days);
/* The Vietnam month of ms as YYYYMM, and the ms at which month ym begins. */
int32_t mon_month_of(int64_t ms);
int64_t mon_month_start(int32_t ym);

/* A period: "2026", "2026-03", "2026-Q1" or "2026-03-01..2026-04-01"
 * (Vietnam dates, end excluded). 0, or -1 for a bad period. */
int mon_period_parse(const char *s, int64_t *from_ms, int64_t *to_ms);

typedef struct {
    const char *gen, *slug;
} mon_area_t;

typedef struct {
    int64_t from_ms, to_ms, now_ms;
    const char *agency;      /* NULL or "": every agency */
    const mon_area_t *areas; /* NULL: every area; else n_areas pairs */
    size_t n_areas;
} mon_query_t;

typedef struct {
    char key[MON_KEY + MON_GEN + 1];
    uint64_t n;
} mon_count_t;

#define MON_TOP 64 /* channels, categories, areas kept per report */
typedef struct {
    uint64_t received, consultations, accepted, refused, returned, transferred, resolved;
    uint64_t overdue_now, open;
    int32_t accept_median, accept_p90, resolve_median, resolve_p90; /* -1: no case */
    uint64_t accept_timed, accept_on_time, resolve_timed, resolve_on_time;
    uint64_t inspections, violations;
    int64_t fines_vnd;      /* of the violations found (violation.recorded) */
    int64_t case_fines_vnd; /* of the cases resolved with outcome fined */
    uint64_t outcomes[MON_OUTCOMES];
    mon_count_t channels[MON_TOP], categories[MON_TOP], areas[MON_TOP * 4];
    size_t n_channels, n_categories, n_areas; /* areas: by the case's own (gen:slug) */
    uint64_t other;                           /* counted under a key that did not fit */
} mon_eff_t;

/* The figures of q over the facts. 0, or -1 on allocation failure. */
int mon_eff_compute(const mon_cal_t *cal, const mon_query_t *q, const mon_case_t *cases,
                    size_t n_cases, const mon_rec_t *recs, size_t n_recs, mon_eff_t *out);

/* Incremental form (the service streams facts out of its store): */
typedef struct mon_acc mon_acc_t;
mon_acc_t *mon_acc_new(const mon_cal_t *cal, const mon_query_t *q);
void mon_acc_case(mon_acc_t *a, const mon_case_t *c);
void mon_acc_rec(mon_acc_t *a, const mon_rec_t *r);
/* Pre-aggregated figures (monitor_agg): the counters to add to directly,
 * n values of days in the accept (resolve false) or resolve histogram, and n
 * under key of the breakdown dim 'c' (channel), 'k' (category) or 'w'
 * (gen:area). */
mon_eff_t *mon_acc_eff(mon_acc_t *a);
void mon_acc_hist(mon_acc_t *a, bool resolve, int32_t days, uint64_t n);
void mon_acc_key(mon_acc_t *a, char dim, const char *key, uint64_t n);
/* Fills out and destroys *a. */
void mon_acc_finish(mon_acc_t **a, mon_eff_t *out);

#endif
