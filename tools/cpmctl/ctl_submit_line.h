/* ctl_submit_line: one line of `cpmctl submit --file` (JSON lines) as a
 * Complaint. Apart from the command so that it can be tested and fuzzed
 * without a mesh (tests/fuzz). */
#ifndef CTL_SUBMIT_LINE_H
#define CTL_SUBMIT_LINE_H

#include "cpm_err.h"
#include "cpmesh.pb-c.h"

#include <jansson.h>

/* Parse line (NUL-terminated; lineno names it in errors) into c, which the
 * caller has initialised (cpm__complaint__init). A line is one JSON object
 * with the Complaint's field names: strings (location and area among them),
 * "urgent" a boolean, "event_time_ms" an integer, "lat" and "lon" numbers
 * (both or neither: they set has_point); other keys are ignored. On 0, *obj holds the
 * parsed object and c's strings are borrowed from it (json_decref(*obj) when
 * done with c). Otherwise CPM_E_INVALID with err naming the field, and *obj is
 * NULL. */
int ctl_submit_line_parse(const char *line, long lineno, json_t **obj, Cpm__Complaint *c,
                          cpm_error_t *err);

#endif
