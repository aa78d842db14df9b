/* cpm_clock: the test facility that moves the mesh's wall clock.
 *
 * cpm_now_ms()/cpm_now_us() (cpm_util) are the only "now" of services and
 * tools. They add the offset this module returns: 0, unless the environment
 * names a file in CPM_CLOCK_OFFSET_FILE. That file holds one signed decimal
 * number of milliseconds (e.g. "864000000\n" = ten days ahead). Every process
 * of a test mesh names the same file, so envelope times, skew checks,
 * deadlines and reminders agree between processes while a test moves time
 * forward across a holiday in seconds.
 *
 * The file is read again at most every CPM_CLOCK_REREAD_MS of real
 * (monotonic) time, so any call made that long after a write sees the new
 * offset. A missing file, one that is not a regular file owned by this user,
 * or one that does not hold such a number counts as offset 0, with one log
 * line each time the file goes from good to bad (or bad in another way).
 * Never for production: operations.md says so. The monotonic clock
 * (cpm_mono_ms, timeouts) is never moved. Processes are single-threaded. */
#ifndef CPM_CLOCK_H
#define CPM_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define CPM_CLOCK_ENV "CPM_CLOCK_OFFSET_FILE"
#define CPM_CLOCK_REREAD_MS 100
/* |offset| above this (about 100 years) is garbled: it would overflow. */
#define CPM_CLOCK_OFFSET_MAX_MS (100LL * 366 * 86400000)

/* The offset in force now, in milliseconds (0 without the environment). */
int64_t cpm_clock_offset_ms(void);

/* Forget the offset read last, so that the next reading reads the file
 * again (a verifier about to refuse an envelope for clock skew looks once
 * more: another process may have read a moved clock a moment earlier).
 * false when no offset file is in use (nothing to read again). */
bool cpm_clock_expire(void);

/* Parse the file's text: 0 and *ms, or -1 (garbled). For tests. */
int cpm_clock_parse(const char *text, int64_t *ms);

#endif
