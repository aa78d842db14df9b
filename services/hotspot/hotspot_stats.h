/* hotspot_stats: the arithmetic of the detector, pure (no store, no time).
 *
 * A key's baseline is an exponentially weighted moving average of its daily
 * complaint counts with smoothing alpha = 2 / (history_days + 1), decayed
 * lazily: days without complaints are folded in as zeros only when the key
 * is next seen. While the average has few days behind it, it is divided by
 * the weight it has gathered, 1 - (1 - alpha)^days (so that a key seen for
 * three days is not taken for a quiet one). A key with no completed day, and
 * any key whose average is below it, gets the floor rate instead. */
#ifndef HOTSPOT_STATS_H
#define HOTSPOT_STATS_H

#include <stdint.h>

/* Complaints per day assumed for a key with no history (or less than this). */
#define HOTSPOT_FLOOR_PER_DAY 0.2

/* P(X >= k) for X ~ Poisson(lambda), computed in log space so that neither
 * lambda up to 1e6 nor k up to 1e7 overflows or loses the tail: 1 for
 * k == 0, and for lambda <= 0 (no complaint expected) 0 for any k > 0. */
double hotspot_poisson_tail(uint32_t k, double lambda);

/* p in millionths, rounded to the nearest (for people and JSON; the rule
 * compares the double). */
uint32_t hotspot_p_e6(double p);

/* The smoothing of an EWMA over history_days (>= 1). */
double hotspot_alpha(uint32_t history_days);

/* Fold a completed day of count complaints, then idle days of none, into
 * *ewma and *days (days capped at 100000). */
void hotspot_ewma_roll(double *ewma, uint32_t *days, double alpha, uint32_t count, int64_t idle);

/* The baseline per day of an average *ewma over days (bias-corrected, at
 * least HOTSPOT_FLOOR_PER_DAY). */
double hotspot_baseline(double ewma, uint32_t days, double alpha);

#endif
