/* exchange_policy: the running exchange's access policy, from the signed
 * file its config names (exchange_policy), reloaded when the file changes.
 *
 * Only a policy signed by this agency's current key, for this agency, with
 * a version at least the one in force, replaces it; anything else keeps the
 * policy in force (counted "exchange.policy_refused" and logged once per
 * file change). No file configured, or none valid yet: no policy (nothing is
 * shared with other agencies). */
#ifndef EXCHANGE_POLICY_H
#define EXCHANGE_POLICY_H

#include "cpm_registry.h"
#include "cpm_store.h"
#include "exchange_domain.h"
#include "exchange.pb-c.h"

#include <stdint.h>

typedef struct exchange_policy exchange_policy_t;

/* path may be NULL (no policy). Reads it now; a bad file is logged and
 * counted, not fatal. st (may be NULL) remembers the highest version ever in
 * force (meta "policy.version"), so that an older file is refused after a
 * restart too. NULL only when out of memory. */
exchange_policy_t *exchange_policy_new(const char *path, const exchange_t *x, cpm_store_t *st);
void exchange_policy_destroy(exchange_policy_t **p);
/* Reload when the file changed since the last look (cheap: one stat). */
void exchange_policy_tick(exchange_policy_t *p, const exchange_t *x);
/* The policy in force, or NULL. Valid until the next tick. */
const Cpm__ExchangePolicy *exchange_policy_current(const exchange_policy_t *p);

#endif
