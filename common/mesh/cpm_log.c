#include "cpm_log.h"
#include "cpm_text.h"
#include "cpm_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char log_name[96] = "cpmesh";
static cpm_log_level_t log_min = CPM_LOG_INFO;

void cpm_log_init(const char *name)
{
    snprintf(log_name, sizeof log_name, "%s", name);
    const char *lv = getenv("CPM_LOG_LEVEL");
    if (!lv)
        return;
    if (!strcmp(lv, "debug"))
        log_min = CPM_LOG_DEBUG;
    else if (!strcmp(lv, "warn"))
        log_min = CPM_LOG_WARN;
    else if (!strcmp(lv, "error"))
        log_min = CPM_LOG_ERROR;
}

static _Thread_local int log_muted;

int cpm_log_mute(int on)
{
    int prev = log_muted;
    log_muted = on != 0;
    return prev;
}

void cpm_log(cpm_log_level_t level, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < log_min || (log_muted && level < CPM_LOG_WARN))
        return;
    char ts[40], line[2048], safe[4 * sizeof line];
    cpm_format_time(cpm_now_ms(), ts, sizeof ts);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* Messages quote what other nodes sent (tickets, reasons): escaped, a
     * line break or an escape code in them can neither forge a log line nor
     * reach the operator's terminal. One event, one line, always. */
    size_t len = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    cpm_text_escape(line, len, safe, sizeof safe);
    fprintf(stderr, "%s %s %s %s\n", ts, log_name, names[level], safe);
}
