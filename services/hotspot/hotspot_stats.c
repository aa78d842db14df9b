/* hotspot_stats: the detector's arithmetic (see hotspot_stats.h). */
#include "hotspot_stats.h"

#include <math.h>

/* log of P(X = j) for X ~ Poisson(lambda > 0) */
static double log_pmf(double j, double lambda)
{
    return -lambda + j * log(lambda) - lgamma(j + 1.0);
}

/* log(e^a + e^b) without overflow */
static double log_add(double a, double b)
{
    if (a == -INFINITY)
        return b;
    if (b == -INFINITY)
        return a;
    double hi = a > b ? a : b, lo = a > b ? b : a;
    return hi + log1p(exp(lo - hi));
}

double hotspot_poisson_tail(uint32_t k, double lambda)
{
    if (k == 0)
        return 1.0;
    if (!(lambda > 0.0))
        return 0.0;
    if ((double)k > lambda) {
        /* The upper tail: its terms fall from j = k on (j > lambda), so the
         * sum stops once they no longer change it. */
        double s = -INFINITY;
        for (double j = k; j < (double)k + 1e7; j += 1.0) {
            double t = log_pmf(j, lambda);
            s = log_add(s, t);
            if (t < s - 40.0) /* e^-40: beyond double's precision of s */
                break;
        }
        double p = exp(s);
        return p > 1.0 ? 1.0 : p;
    }
    /* k <= lambda: 1 - P(X < k), the lower sum summed from its largest term
     * (j = k - 1) down. */
    double s = -INFINITY;
    for (double j = (double)k - 1.0; j >= 0.0; j -= 1.0) {
        double t = log_pmf(j, lambda);
        s = log_add(s, t);
        if (t < s - 40.0)
            break;
    }
    double p = 1.0 - exp(s);
    return p < 0.0 ? 0.0 : p;
}

uint32_t hotspot_p_e6(double p)
{
    if (!(p > 0.0))
        return 0;
    if (p >= 1.0)
        return 1000000;
    return (uint32_t)lround(p * 1e6);
}

double hotspot_alpha(uint32_t history_days)
{
    return 2.0 / ((double)(history_days ? history_days : 1) + 1.0);
}

void hotspot_ewma_roll(double *ewma, uint32_t *days, double alpha, uint32_t count, int64_t idle)
{
    *ewma = *ewma * (1.0 - alpha) + alpha * (double)count;
    uint64_t d = (uint64_t)*days + 1;
    if (idle > 0) {
        *ewma *= pow(1.0 - alpha, (double)(idle > 100000 ? 100000 : idle));
        d += (uint64_t)(idle > 100000 ? 100000 : idle);
    }
    *days = (uint32_t)(d > 100000 ? 100000 : d);
}

double hotspot_baseline(double ewma, uint32_t days, double alpha)
{
    if (days == 0)
        return HOTSPOT_FLOOR_PER_DAY;
    double w = 1.0 - pow(1.0 - alpha, (double)days);
    double b = w > 0.0 ? ewma / w : 0.0;
    return b > HOTSPOT_FLOOR_PER_DAY ? b : HOTSPOT_FLOOR_PER_DAY;
}
