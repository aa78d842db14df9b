/* cpm_log: one line per event on stderr, with time, process name and level. */
#ifndef CPM_LOG_H
#define CPM_LOG_H

typedef enum { CPM_LOG_DEBUG, CPM_LOG_INFO, CPM_LOG_WARN, CPM_LOG_ERROR } cpm_log_level_t;

/* name appears on every line, e.g. "hn.doit/intake". Level from CPM_LOG_LEVEL
 * (debug|info|warn|error) when set, else info. */
void cpm_log_init(const char *name);
void cpm_log(cpm_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Mute (on != 0) or unmute the calling thread's DEBUG and INFO lines: for
 * work done a second time whose lines were already written (see
 * cpm_metrics_mute). WARN and ERROR lines are written even while muted:
 * work done again may take another path than the first time (a store that
 * fills up or fails in between), and a trouble report that was never said
 * must not be lost; one said twice costs a repeated line, and only on the
 * rare path that runs work again. Returns the thread's previous state, which
 * the caller restores when done (cpm_log_mute(prev)). */
int cpm_log_mute(int on);

#define cpm_debug(...) cpm_log(CPM_LOG_DEBUG, __VA_ARGS__)
#define cpm_info(...) cpm_log(CPM_LOG_INFO, __VA_ARGS__)
#define cpm_warn(...) cpm_log(CPM_LOG_WARN, __VA_ARGS__)
#define cpm_error(...) cpm_log(CPM_LOG_ERROR, __VA_ARGS__)

#endif
