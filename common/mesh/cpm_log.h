/* cpm_log: one line per event on stderr, with time, process name and level. */
#ifndef CPM_LOG_H
#define CPM_LOG_H

typedef enum { CPM_LOG_DEBUG, CPM_LOG_INFO, CPM_LOG_WARN, CPM_LOG_ERROR } cpm_log_level_t;

/* name appears on every line, e.g. "hn.doit/intake". Level from CPM_LOG_LEVEL
 * (debug|info|warn|error) when set, else info. */
void cpm_log_init(const char *name);
void cpm_log(cpm_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Mute (on != 0) or unmute cpm_log on the calling thread: for work done a
 * second time whose lines were already written (see cpm_metrics_mute). */
void cpm_log_mute(int on);

#define cpm_debug(...) cpm_log(CPM_LOG_DEBUG, __VA_ARGS__)
#define cpm_info(...) cpm_log(CPM_LOG_INFO, __VA_ARGS__)
#define cpm_warn(...) cpm_log(CPM_LOG_WARN, __VA_ARGS__)
#define cpm_error(...) cpm_log(CPM_LOG_ERROR, __VA_ARGS__)

#endif
