/* cpm_config: a service's YAML configuration file.
 *
 *   node: hn.d.hoan-kiem          # registry member id (required)
 *   service: intake               # (required) the program checks it is its own
 *   data_dir: /var/lib/cpmesh/hn.d.hoan-kiem/intake   (required)
 *   registry: /etc/cpmesh/registry.signed             (required)
 *   root_public: /etc/cpmesh/root.public              (required)
 *   identity: /etc/cpmesh/keys/hn.d.hoan-kiem.secret  (required)
 *   rules: /etc/cpmesh/routing.yaml                   (required by the services that say so)
 *   places_dir: /etc/cpmesh/hanoi/reform-2025         (intake: the places data, cpm_place.h)
 *   bind: tcp://0.0.0.0:7100      # optional: default is the registry endpoint
 *   pub_bind: tcp://0.0.0.0:7101  # optional: default is the registry pub endpoint
 *   max_skew_s: 300               # optional
 *   map_size_mb: 1024             # optional: the store's LMDB map at start
 *   map_max_mb: 1024              # optional: the map may grow up to this (default:
 *                                 #   map_size_mb, i.e. no growth) while the disk has room
 *   map_high_water_pct: 80        # optional, 10..95: above this share of the map in
 *                                 #   use, new writes and delivery batches are refused
 *                                 #   (507 store_full); the rest is headroom for acks
 *                                 #   and deletions, so a full store always drains
 *   batch_max: 1000               # optional: records per delivery batch, 1 to 1000 (~1 MiB)
 *   dead_retention_s: 2592000     # optional: dead letters are deleted after (30 days)
 *   contact_retention_s: 2592000  # optional, intake: sealed contact kept after routing's ack
 *   reopen_period_s: 2592000      # optional, inspection: a case may be reopened this long
 *                                 #   after it was resolved (30 days)
 *   link_window_s: 2592000        # optional, routing: a consumer's complaints about one
 *                                 #   business within this window link to the first (30 days)
 *   clusters_window_days: 365     # optional, routing: a consumer, or a cluster, not heard
 *                                 #   from for this long is forgotten by the clusters
 *   acts_window_days: 90          # optional, inspection: offline act ids are remembered
 *                                 #   this long; older acts are refused
 *   evidence_max_mb: 4096         # optional, inspection: bytes of evidence files kept
 *                                 #   under data_dir/evidence (field sync)
 *   field_share_contact: 0        # optional, inspection: 1 lets the agency's inspectors
 *                                 #   see the consumer's contact at checkout (default 0)
 *   consumer_key_file: ../keys/consumer.key  # intake: 32-byte secret (mode 0600) that keys
 *                                 #   Complaint.consumer_key; absent: no consumer_key is set
 *   checklists: checklists.yaml   # optional, inspection: checklist templates per category
 *                                 #   (docs/operations.md); absent: inspections get none
 *   exchange_policy: policy.signed  # exchange: the agency's signed access policy
 *                                 #   (cpmctl exchange policy sign); absent: nothing is shared
 *   checkpoint_every: 256         # optional, exchange: a signed checkpoint of the proof
 *   checkpoint_s: 60              #   log after this many entries or seconds with new entries
 *   exchange_max_records: 1000000 # optional, exchange: records kept per dataset
 *   cosign_wait_ms: 3000          # optional, exchange: how long a peer may take to co-sign a
 *                                 #   checkpoint before the next is asked; a round with no
 *                                 #   cosignature is retried after 3 times this
 *   event_checkpoint_every: 1000  # optional: a signed checkpoint of the event log after
 *   event_checkpoint_s: 60        #   this many events or seconds with new events, and at stop
 *   http_bind: 127.0.0.1:8080     # gateway (required there): the HTTP listener, host:port
 *   gateway_clients: clients.signed  # gateway: the city's signed list of Open311 client
 *                                 #   applications and their API key hashes; absent: no
 *                                 #   application may POST
 *   metrics_every_s: 10           # optional, gateway: how often it asks every service's
 *                                 #   health for /metrics (set it to Prometheus's scrape interval)
 *   triage_model: triage.model    # intake: the category model (cpmctl triage train); absent:
 *                                 #   no suggestions (docs/protocol.md 24)
 *   triage_min_pm: 700            # optional, intake: a suggestion at or above this confidence
 *                                 #   (per mille) routes the case; below, it goes to triage
 *   hotspot_window_h: 48          # optional, hotspot: the sliding window counted per key
 *   hotspot_history_days: 28      # optional, hotspot: the baseline's horizon (EWMA of
 *                                 #   daily counts)
 *   hotspot_min_count: 5          # optional, hotspot: fewer complaints in the window never
 *                                 #   alert
 *   hotspot_p_max_e6: 1000        # optional, hotspot: alert when P(count | baseline) is
 *                                 #   below this, in millionths (1000 = 0.001)
 *   hotspot_keys_max: 200000      # optional, hotspot: keys kept at most (least recent evicted)
 *   verify_threads: 2             # optional: threads that check a turn's signatures at once,
 *                                 #   the loop's own included (default: the online cores, at
 *                                 #   most 8; 0 or 1: all on the loop thread; at most 64)
 *   loop_spin_us: 0               # optional, 0..1000 (default 0): before the loop sleeps in
 *                                 #   its poll, it looks at its sockets without sleeping for
 *                                 #   up to this long; a request that comes meanwhile is taken
 *                                 #   without the wake-up of a sleeping thread, for CPU
 *                                 #   (docs/operations.md "One client's latency")
 *   delivery_linger_ms: 50        # optional, 0..100: an outgoing delivery batch that is not
 *                                 #   full waits until its oldest record is this old, so that
 *                                 #   at low load receivers commit once per several records
 *                                 #   (docs/operations.md "Flushes per complaint"); 0: at once
 *   store_journal: 1              # optional, 0 or 1 (default 0): the store keeps a redo
 *                                 #   journal, one flush per commit instead of two
 *                                 #   (docs/operations.md "A store's redo journal")
 *   journal_segment_mb: 8         # optional, 1..1024: each of the journal's two segments
 *   journal_checkpoint_ms: 200    # optional, 10..60000: how often the store is made durable
 *                                 #   behind the journal
 *   flush_beside_next: 1          # optional, 0 or 1 (default 1; with store_journal): a busy
 *                                 #   group's journal flush runs while the next group is
 *                                 #   applied, its answers held until it ends
 *                                 #   (docs/operations.md "The journal's flush beside the
 *                                 #   next group"); 0: the loop waits for each flush
 *   envelope_version: 3           # optional, 2 or 3: the envelope version this service sends
 *                                 #   (replies go in their request's); 2 only while the nodes
 *                                 #   it talks to are upgraded (docs/operations.md "Protocol
 *                                 #   version 3")
 *
 * Relative paths are taken relative to the configuration file's folder. */
#ifndef CPM_CONFIG_H
#define CPM_CONFIG_H

#include "cpm_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_DELIVERY_LINGER_MS_DEFAULT 50
#define CPM_DELIVERY_LINGER_MS_MAX 100
#define CPM_LOOP_SPIN_US_MAX 1000 /* loop_spin_us: a millisecond of CPU per sleep at most */

typedef struct {
    char *node;
    char *service;
    char *data_dir;
    char *registry;
    char *root_public;
    char *identity;
    char *rules;      /* NULL when absent */
    char *places_dir; /* NULL when absent */
    char *bind;       /* NULL when absent */
    char *pub_bind;   /* NULL when absent */
    uint32_t max_skew_s;
    uint32_t map_size_mb;
    uint32_t batch_max;
    uint32_t map_max_mb;         /* >= map_size_mb */
    uint32_t map_high_water_pct; /* 10..95 */
    uint32_t dead_retention_s;
    uint32_t contact_retention_s;
    uint32_t reopen_period_s;      /* inspection */
    uint32_t link_window_s;        /* routing */
    uint32_t clusters_window_days; /* routing */
    uint32_t acts_window_days;     /* inspection */
    char *consumer_key_file;       /* intake; NULL when absent */
    char *checklists;              /* inspection; NULL when absent */
    uint32_t evidence_max_mb;      /* inspection: evidence folder bound */
    bool field_share_contact;      /* inspection: inspectors see the consumer's contact */
    char *exchange_policy;         /* exchange; NULL when absent */
    uint32_t checkpoint_every;     /* exchange: entries between checkpoints */
    uint32_t checkpoint_s;         /* exchange: seconds between checkpoints */
    uint32_t exchange_max_records; /* exchange: records per dataset */
    uint32_t cosign_wait_ms;       /* exchange: per peer asked to co-sign a checkpoint */

    /* Every service's event log: a signed checkpoint after this many events
     * or seconds with new events (docs/protocol.md section 20). */
    uint32_t event_checkpoint_every;
    uint32_t event_checkpoint_s;
    char *http_bind;          /* gateway: "host:port"; NULL when absent */
    char *gateway_clients;    /* gateway: signed client list; NULL when absent */
    uint32_t metrics_every_s; /* gateway: seconds between health rounds (/metrics) */
    char *triage_model;       /* intake: category model file; NULL when absent */
    uint32_t triage_min_pm;   /* intake: route by a suggestion at or above this (per mille) */
    uint32_t hotspot_window_h, hotspot_history_days, hotspot_min_count; /* hotspot */
    uint32_t hotspot_p_max_e6, hotspot_keys_max;                        /* hotspot */
    uint32_t verify_threads;        /* signature checks of a turn at once (cpm_vpool) */
    uint32_t loop_spin_us;          /* 0..CPM_LOOP_SPIN_US_MAX: look before sleeping */
    uint32_t delivery_linger_ms;    /* 0..CPM_DELIVERY_LINGER_MS_MAX (cpm_pump_set_linger) */
    uint32_t envelope_version;      /* 2 or 3 (cpm_envelope_set_send_version) */
    bool store_journal;             /* cpm_store_opts_t.journal */
    uint32_t journal_segment_mb;    /* 1..1024 */
    uint32_t journal_checkpoint_ms; /* 10..60000 */
    bool flush_beside_next;         /* cpm_store_commit_early for busy groups */
} cpm_config_t;

/* 0 and *out, or an error code (CPM_E_NOT_FOUND: no such file; CPM_E_INVALID:
 * a field is missing or wrong) with *out NULL and err (may be NULL) naming
 * the field and saying what is wrong in one sentence. */
CPM_MUST_CHECK int cpm_config_load(const char *path, cpm_config_t **out, cpm_error_t *err);
/* The config is for service (the name the binary runs) and has each optional
 * field named in requires (NULL-terminated; "rules", "places_dir", "bind",
 * "pub_bind", "http_bind"). 0,
 * or CPM_E_INVALID with err (may be NULL) naming the field. */
CPM_MUST_CHECK int cpm_config_check_service(const cpm_config_t *c, const char *service,
                                            const char *const *requires, cpm_error_t *err);
void cpm_config_destroy(cpm_config_t **p);

#endif
