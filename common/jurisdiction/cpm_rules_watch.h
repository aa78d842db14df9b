/* cpm_rules_watch: the routing rules of a running service, reloaded when
 * their file changes, as the registry is (cpm_server_load_registry).
 *
 * The watch owns the rules. Their address never changes: a reload swaps the
 * new contents into the same cpm_rules_t, so modules that were handed the
 * pointer (intake_t, the routing handlers) see the new rules at their next
 * call. Services are single-threaded, so no call is under way during a swap.
 *
 * A new file is taken only when it loads and validates whole and its version
 * is above the one in force; otherwise it is refused (counted rules.refused,
 * logged with the reason) and the rules in force stay. A file whose bytes did
 * not change (touched, or rewritten identically) is no reload. */
#ifndef CPM_RULES_WATCH_H
#define CPM_RULES_WATCH_H

#include "cpm_metrics.h"
#include "cpm_rules.h"

#include <stddef.h>

typedef struct cpm_rules_watch cpm_rules_watch_t;

/* Load path (cpm_rules_set_service(service) applied, also to every reload).
 * 0 and *out, or the error code of cpm_rules_load (CPM_E_INTERNAL: out of
 * memory) with *out NULL and the reason in err (may be NULL). */
CPM_MUST_CHECK int cpm_rules_watch_new(const char *path, const char *service,
                                       cpm_rules_watch_t **out, cpm_error_t *err);
void cpm_rules_watch_destroy(cpm_rules_watch_t **p);
/* The rules in force; the same pointer for the watch's whole life. */
cpm_rules_t *cpm_rules_watch_rules(const cpm_rules_watch_t *w);

/* Call often (each service tick); looks at the file at most once a second
 * (stat: mtime, size, inode). 1 when new rules were taken (rules.loaded
 * counted in m, version logged), 0 when nothing changed, or the error code
 * when a changed file was refused (rules.refused counted, reason logged):
 * CPM_E_NOT_FOUND (the file is gone), CPM_E_INVALID (it does not load),
 * CPM_E_CONFLICT (its version is not above the one in force). m may be NULL. */
CPM_MUST_CHECK int cpm_rules_watch_check(cpm_rules_watch_t *w, cpm_metrics_t *m);

#endif
