/* exchange_domain: what every module of the exchange service shares.
 *
 * The exchange of an agency node publishes datasets derived from its own
 * services' events (exchange_feed) or entered by its officers
 * (exchange_publish), answers queries under the agency's signed policy
 * (exchange_policy, exchange_query), feeds subscribers (exchange_subs) and
 * proves every exchange in a hash-chained log with co-signed checkpoints
 * (exchange_log, exchange_checkpoint). docs/protocol.md 19. */
#ifndef EXCHANGE_DOMAIN_H
#define EXCHANGE_DOMAIN_H

#include "cpm_effects.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_retention.h"
#include "cpm_store.h"

#include <stdint.h>

/* The databases of the exchange (one name, one place). */
#define EXCHANGE_DATABASES                                                                         \
    "records", "records_seq", "xlog", "publish_refs", "xcheckpoints", "xcosigned", "xfeed",        \
        "subs", "received", "received_seq", CPM_RETENTION_DB

typedef struct {
    const char *node;          /* this agency node's member id */
    uint32_t max_records;      /* per dataset */
    const cpm_registry_t *reg; /* the current registry (replaced on reload) */
    const cpm_identity_t *id;  /* the node's keys: answers and checkpoints are signed with them */
    int64_t max_skew_ms;       /* clock bound for co-signing */
    void (*count)(void *ctx, const char *counter);
    void *ctx;
} exchange_t;

/* Count counter once (a health counter), when x has a counter. */
void exchange_count(const exchange_t *x, const char *counter);

#endif
