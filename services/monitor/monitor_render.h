/* monitor_render: an effectiveness report as text, JSON or CSV. */
#ifndef MONITOR_RENDER_H
#define MONITOR_RENDER_H

#include "monitor_eff.h"

#include <stddef.h>
#include <stdint.h>

/* What the report is of (shown in its header). */
typedef struct {
    const char *period, *agency, *area;
    uint64_t events_seen, cases_known; /* the monitor's own state */
} mon_title_t;

/* format: "text", "json" or "csv". *out is malloc'd (NUL-terminated).
 * 0, or -1 for an unknown format or no memory. */
int monitor_render(const char *format, const mon_title_t *t, const mon_eff_t *e, char **out,
                   size_t *len);

#endif
