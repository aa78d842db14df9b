/* cpm_rules_calendar: deadlines in working days. Dates are civil dates in
 * Vietnam time (UTC+7, no daylight saving), counted as day numbers from
 * 1970-01-01 (a Thursday); a working day is Monday to Friday and not one of
 * the configuration's holidays. */
#include "cpm_rules_int.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define VN_OFFSET_MS (7LL * 3600 * 1000) /* UTC+7, no daylight saving */

/* Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil). */
static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

int cpm_rules_parse_date(const char *s, int32_t *day)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = atoi(s);
    unsigned m = (unsigned)atoi(s + 5), d = (unsigned)atoi(s + 8);
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
        return -1;
    *day = days_from_civil(y, m, d);
    return 0;
}

int cpm_rules_cmp_day(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int cpm_rules_accept_days(const cpm_rules_t *r)
{
    return r->accept_days;
}

int cpm_rules_resolve_days(const cpm_rules_t *r)
{
    return r->resolve_days;
}

int cpm_rules_remind_days(const cpm_rules_t *r)
{
    return r->remind_days;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

static bool is_working_day(const cpm_rules_t *r, int64_t day)
{
    int64_t wd = ((day % 7) + 7 + 4) % 7; /* 0 = Sunday */
    if (wd == 0 || wd == 6)
        return false;
    int32_t d = (int32_t)day;
    return !(r->nholidays && bsearch(&d, r->holidays, r->nholidays, sizeof d, cpm_rules_cmp_day));
}

/* The times a deadline may start from: year 1 to the end of year 9999. Starting
 * times come from other nodes (a complaint's received_ms, an update's at_ms);
 * outside this range the day arithmetic below would overflow int64. */
#define CAL_MIN_MS (-62135596800000LL) /* 0001-01-01T00:00:00Z */
#define CAL_MAX_MS 253402300799999LL

int64_t cpm_rules_add_working_days(const cpm_rules_t *r, int64_t from_ms, int days)
{
    from_ms = from_ms < CAL_MIN_MS ? CAL_MIN_MS : from_ms > CAL_MAX_MS ? CAL_MAX_MS : from_ms;
    int64_t day = floor_div(from_ms + VN_OFFSET_MS, DAY_MS);
    for (int n = 0; n < days;)
        if (is_working_day(r, ++day))
            n++;
    return (day + 1) * DAY_MS - VN_OFFSET_MS - 1;
}

int64_t cpm_rules_sub_working_days(const cpm_rules_t *r, int64_t due_ms, int days)
{
    if (days <= 0)
        return due_ms;
    due_ms = due_ms < CAL_MIN_MS ? CAL_MIN_MS : due_ms > CAL_MAX_MS ? CAL_MAX_MS : due_ms;
    int64_t day = floor_div(due_ms + VN_OFFSET_MS, DAY_MS);
    /* The due day itself is one of the days that remain (it is a working day
     * for every deadline cpm_rules_add_working_days gives). */
    for (int n = 0; n < days;)
        if (is_working_day(r, --day) || day <= CAL_MIN_MS / DAY_MS)
            n++;
    return (day + 1) * DAY_MS - VN_OFFSET_MS - 1;
}
