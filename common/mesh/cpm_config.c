/* cpm_config: load a service's YAML configuration with libcyaml.
 *
 * Every field is optional to libcyaml (pointers stay NULL when absent) so that
 * this file, not the parser, decides what is required and can name the field
 * in one sentence. Unknown keys are rejected by libcyaml; its log is captured
 * to say which key and on which line. */
#include "cpm_config.h"
#include "cpm_delivery.h"
#include "cpm_store.h"
#include "cpm_envelope.h"
#include "cpm_util.h"
#include "cpm_vpool.h"
#include "cpm_yaml.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *node, *service, *data_dir, *registry, *root_public, *identity, *rules, *bind, *pub_bind;
    char *places_dir;
    uint32_t *max_skew_s, *map_size_mb, *batch_max, *map_max_mb, *map_high_water_pct;
    uint32_t *dead_retention_s, *contact_retention_s;
    uint32_t *reopen_period_s, *link_window_s;         /* case lifecycle */
    uint32_t *clusters_window_days, *acts_window_days; /* retention of indexes */
    char *consumer_key_file;
    char *checklists;                                /* inspection */
    uint32_t *evidence_max_mb, *field_share_contact; /* inspection: field sync */
    char *exchange_policy;                           /* exchange */
    uint32_t *checkpoint_every, *checkpoint_s, *exchange_max_records;
    uint32_t *cosign_wait_ms;                              /* exchange */
    uint32_t *event_checkpoint_every, *event_checkpoint_s; /* every service's event log */
    char *http_bind, *gateway_clients;                     /* gateway */
    uint32_t *metrics_every_s;                             /* gateway: health rounds for /metrics */
    char *triage_model;                                    /* intake */
    uint32_t *triage_min_pm;                               /* intake */
    uint32_t *hotspot_window_h, *hotspot_history_days, *hotspot_min_count; /* hotspot */
    uint32_t *hotspot_p_max_e6, *hotspot_keys_max;                         /* hotspot */
    uint32_t *verify_threads;     /* 0 allowed: verification on the loop thread */
    uint32_t *loop_spin_us;       /* 0 allowed (the default): the loop sleeps at once */
    uint32_t *delivery_linger_ms; /* 0 allowed: a batch goes as soon as a record is there */
    uint32_t *envelope_version;   /* 2 or 3 */
    uint32_t *store_journal, *journal_segment_mb, *journal_checkpoint_ms; /* the store */
    uint32_t *flush_beside_next;
} y_config_t;

#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
#define STR(key) CYAML_FIELD_STRING_PTR(#key, OPT, y_config_t, key, 0, CYAML_UNLIMITED)
#define NUM(key) CYAML_FIELD_UINT_PTR(#key, OPT, y_config_t, key)

static const cyaml_schema_field_t config_fields[] = {
    STR(node),
    STR(service),
    STR(data_dir),
    STR(registry),
    STR(root_public),
    STR(identity),
    STR(rules),
    STR(places_dir),
    STR(bind),
    STR(pub_bind),
    NUM(max_skew_s),
    NUM(map_size_mb),
    NUM(batch_max),
    NUM(dead_retention_s),
    NUM(contact_retention_s),
    NUM(map_max_mb),
    NUM(map_high_water_pct),
    NUM(reopen_period_s),
    NUM(link_window_s),
    NUM(clusters_window_days),
    NUM(acts_window_days),
    STR(consumer_key_file),
    STR(checklists),
    NUM(evidence_max_mb),
    NUM(field_share_contact),
    STR(exchange_policy),
    NUM(checkpoint_every),
    NUM(checkpoint_s),
    NUM(exchange_max_records),
    NUM(cosign_wait_ms),
    NUM(event_checkpoint_every),
    NUM(event_checkpoint_s),
    STR(http_bind),
    STR(gateway_clients),
    NUM(metrics_every_s),
    STR(triage_model),
    NUM(triage_min_pm),
    NUM(hotspot_window_h),
    NUM(hotspot_history_days),
    NUM(hotspot_min_count),
    NUM(hotspot_p_max_e6),
    NUM(hotspot_keys_max),
    NUM(verify_threads),
    NUM(loop_spin_us),
    NUM(delivery_linger_ms),
    NUM(envelope_version),
    NUM(store_journal),
    NUM(journal_segment_mb),
    NUM(journal_checkpoint_ms),
    NUM(flush_beside_next),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t config_top = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, y_config_t, config_fields),
};

/* An absolute path stays; a relative one is joined to dir. */
static char *resolve(const char *dir, const char *p)
{
    char *out = NULL;
    if (!p)
        return NULL;
    if (p[0] == '/')
        return strdup(p);
    if (asprintf(&out, "%s/%s", dir, p) < 0)
        return NULL;
    return out;
}

static bool blank(const char *s)
{
    return !s || !s[0];
}

static const char *missing_field(const y_config_t *y)
{
    const char *names[] = {"node", "service", "data_dir", "registry", "root_public", "identity"};
    const char *vals[] = {y->node,     y->service,     y->data_dir,
                          y->registry, y->root_public, y->identity};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (blank(vals[i]))
            return names[i];
    return NULL;
}

/* Checks y and copies it into c; paths are resolved against dir. */
static int fill(cpm_config_t *c, const y_config_t *y, const char *dir, const char *path,
                cpm_error_t *err)
{
    const char *missing = missing_field(y);
    if (missing) {
        return cpm_error_set(err, CPM_E_INVALID, missing, "config %s: missing required field %s",
                             path, missing);
    }
    const struct {
        const char *name;
        const uint32_t *val;
        uint32_t def;
        uint32_t *dst;
    } nums[] = {
        {"max_skew_s", y->max_skew_s, 300, &c->max_skew_s},
        {"map_size_mb", y->map_size_mb, 1024, &c->map_size_mb},
        {"batch_max", y->batch_max, CPM_DELIVERY_BATCH_DEFAULT, &c->batch_max},
        {"dead_retention_s", y->dead_retention_s, 30 * 86400, &c->dead_retention_s},
        {"contact_retention_s", y->contact_retention_s, 30 * 86400, &c->contact_retention_s},
        {"reopen_period_s", y->reopen_period_s, 30 * 86400, &c->reopen_period_s},
        {"link_window_s", y->link_window_s, 30 * 86400, &c->link_window_s},
        {"clusters_window_days", y->clusters_window_days, 365, &c->clusters_window_days},
        {"acts_window_days", y->acts_window_days, 90, &c->acts_window_days},
        {"evidence_max_mb", y->evidence_max_mb, 4096, &c->evidence_max_mb},
        {"checkpoint_every", y->checkpoint_every, 256, &c->checkpoint_every},
        {"checkpoint_s", y->checkpoint_s, 60, &c->checkpoint_s},
        {"exchange_max_records", y->exchange_max_records, 1000000, &c->exchange_max_records},
        {"cosign_wait_ms", y->cosign_wait_ms, 3000, &c->cosign_wait_ms},
        {"event_checkpoint_every", y->event_checkpoint_every, 1000, &c->event_checkpoint_every},
        {"event_checkpoint_s", y->event_checkpoint_s, 60, &c->event_checkpoint_s},
        {"metrics_every_s", y->metrics_every_s, 10, &c->metrics_every_s},
        {"triage_min_pm", y->triage_min_pm, 700, &c->triage_min_pm},
        {"hotspot_window_h", y->hotspot_window_h, 48, &c->hotspot_window_h},
        {"hotspot_history_days", y->hotspot_history_days, 28, &c->hotspot_history_days},
        {"hotspot_min_count", y->hotspot_min_count, 5, &c->hotspot_min_count},
        {"hotspot_p_max_e6", y->hotspot_p_max_e6, 1000, &c->hotspot_p_max_e6},
        {"hotspot_keys_max", y->hotspot_keys_max, 200000, &c->hotspot_keys_max}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (nums[i].val && *nums[i].val == 0) {
            return cpm_error_set(err, CPM_E_INVALID, nums[i].name,
                                 "config %s: %s must be greater than 0", path, nums[i].name);
        }
        *nums[i].dst = nums[i].val ? *nums[i].val : nums[i].def;
    }
    c->field_share_contact = y->field_share_contact && *y->field_share_contact;
    c->map_max_mb = y->map_max_mb ? *y->map_max_mb : c->map_size_mb;
    if (c->map_max_mb < c->map_size_mb) {
        return cpm_error_set(err, CPM_E_INVALID, "map_max_mb",
                             "config %s: map_max_mb (%u) must be at least map_size_mb (%u)", path,
                             c->map_max_mb, c->map_size_mb);
    }
    if (c->batch_max > CPM_DELIVERY_BATCH_RECORDS) /* a receiver's cap of dead letters */
        return cpm_error_set(err, CPM_E_INVALID, "batch_max",
                             "config %s: batch_max must be 1 to %d records, not %u (a batch of "
                             "records that all fail must fit a receiver's cap of dead letters)",
                             path, CPM_DELIVERY_BATCH_RECORDS, c->batch_max);
    if (c->triage_min_pm > 1000)
        return cpm_error_set(err, CPM_E_INVALID, "triage_min_pm",
                             "config %s: triage_min_pm must be 1 to 1000 (per mille), not %u", path,
                             c->triage_min_pm);
    if (c->hotspot_p_max_e6 >= 1000000)
        return cpm_error_set(err, CPM_E_INVALID, "hotspot_p_max_e6",
                             "config %s: hotspot_p_max_e6 must be 1 to 999999 (millionths), not %u",
                             path, c->hotspot_p_max_e6);
    c->verify_threads = y->verify_threads ? *y->verify_threads : cpm_vpool_default_threads();
    if (c->verify_threads > CPM_VPOOL_MAX_THREADS)
        return cpm_error_set(err, CPM_E_INVALID, "verify_threads",
                             "config %s: verify_threads must be 0 to %d, not %u", path,
                             CPM_VPOOL_MAX_THREADS, c->verify_threads);
    c->loop_spin_us = y->loop_spin_us ? *y->loop_spin_us : 0;
    if (c->loop_spin_us > CPM_LOOP_SPIN_US_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "loop_spin_us",
                             "config %s: loop_spin_us must be 0 to %d (microseconds), not %u", path,
                             CPM_LOOP_SPIN_US_MAX, c->loop_spin_us);
    c->delivery_linger_ms =
        y->delivery_linger_ms ? *y->delivery_linger_ms : CPM_DELIVERY_LINGER_MS_DEFAULT;
    if (c->delivery_linger_ms > CPM_DELIVERY_LINGER_MS_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "delivery_linger_ms",
                             "config %s: delivery_linger_ms must be 0 to %d, not %u", path,
                             CPM_DELIVERY_LINGER_MS_MAX, c->delivery_linger_ms);
    c->envelope_version = y->envelope_version ? *y->envelope_version : CPM_PROTO_VERSION;
    if (!cpm_envelope_version_known(c->envelope_version))
        return cpm_error_set(err, CPM_E_INVALID, "envelope_version",
                             "config %s: envelope_version must be 2 or 3, not %u", path,
                             c->envelope_version);
    if (y->store_journal && *y->store_journal > 1)
        return cpm_error_set(err, CPM_E_INVALID, "store_journal",
                             "config %s: store_journal must be 0 or 1, not %u", path,
                             *y->store_journal);
    c->store_journal = y->store_journal && *y->store_journal;
    if (y->flush_beside_next && *y->flush_beside_next > 1)
        return cpm_error_set(err, CPM_E_INVALID, "flush_beside_next",
                             "config %s: flush_beside_next must be 0 or 1, not %u", path,
                             *y->flush_beside_next);
    c->flush_beside_next = !y->flush_beside_next || *y->flush_beside_next;
    c->journal_segment_mb = y->journal_segment_mb ? *y->journal_segment_mb : 8;
    if (c->journal_segment_mb < 1 || c->journal_segment_mb > 1024)
        return cpm_error_set(err, CPM_E_INVALID, "journal_segment_mb",
                             "config %s: journal_segment_mb must be 1 to 1024, not %u", path,
                             c->journal_segment_mb);
    c->journal_checkpoint_ms =
        y->journal_checkpoint_ms ? *y->journal_checkpoint_ms : CPM_STORE_CHECKPOINT_MS_DEFAULT;
    if (c->journal_checkpoint_ms < 10 || c->journal_checkpoint_ms > 60000)
        return cpm_error_set(err, CPM_E_INVALID, "journal_checkpoint_ms",
                             "config %s: journal_checkpoint_ms must be 10 to 60000, not %u", path,
                             c->journal_checkpoint_ms);
    c->map_high_water_pct = y->map_high_water_pct ? *y->map_high_water_pct : 80;
    if (c->map_high_water_pct < 10 || c->map_high_water_pct > 95) {
        return cpm_error_set(err, CPM_E_INVALID, "map_high_water_pct",
                             "config %s: map_high_water_pct must be 10 to 95, not %u", path,
                             c->map_high_water_pct);
    }
    c->node = strdup(y->node);
    c->service = strdup(y->service);
    c->data_dir = resolve(dir, y->data_dir);
    c->registry = resolve(dir, y->registry);
    c->root_public = resolve(dir, y->root_public);
    c->identity = resolve(dir, y->identity);
    c->rules = resolve(dir, blank(y->rules) ? NULL : y->rules);
    c->places_dir = resolve(dir, blank(y->places_dir) ? NULL : y->places_dir);
    c->bind = blank(y->bind) ? NULL : strdup(y->bind);
    c->pub_bind = blank(y->pub_bind) ? NULL : strdup(y->pub_bind);
    c->consumer_key_file = resolve(dir, blank(y->consumer_key_file) ? NULL : y->consumer_key_file);
    c->checklists = resolve(dir, blank(y->checklists) ? NULL : y->checklists);
    c->exchange_policy = resolve(dir, blank(y->exchange_policy) ? NULL : y->exchange_policy);
    c->http_bind = blank(y->http_bind) ? NULL : strdup(y->http_bind);
    c->gateway_clients = resolve(dir, blank(y->gateway_clients) ? NULL : y->gateway_clients);
    c->triage_model = resolve(dir, blank(y->triage_model) ? NULL : y->triage_model);
    if ((!blank(y->http_bind) && !c->http_bind) ||
        (!blank(y->gateway_clients) && !c->gateway_clients) ||
        (!blank(y->triage_model) && !c->triage_model))
        return cpm_error_set(err, CPM_E_INTERNAL, "", "config %s: out of memory", path);
    if ((!blank(y->consumer_key_file) && !c->consumer_key_file) ||
        (!blank(y->checklists) && !c->checklists) ||
        (!blank(y->exchange_policy) && !c->exchange_policy))
        return cpm_error_set(err, CPM_E_INTERNAL, "", "config %s: out of memory", path);
    if (!c->node || !c->service || !c->data_dir || !c->registry || !c->root_public ||
        !c->identity || (!blank(y->rules) && !c->rules) ||
        (!blank(y->places_dir) && !c->places_dir) || (!blank(y->bind) && !c->bind) ||
        (!blank(y->pub_bind) && !c->pub_bind)) {
        return cpm_error_set(err, CPM_E_INTERNAL, "", "config %s: out of memory", path);
    }
    return 0;
}

/* The folder holding path, as an absolute path; NULL on failure. */
static char *folder_of(const char *path)
{
    char *abs = realpath(path, NULL);
    if (!abs)
        return NULL;
    char *slash = strrchr(abs, '/');
    if (slash == abs)
        slash[1] = 0; /* the file is in "/" */
    else
        *slash = 0;
    return abs;
}

int cpm_config_load(const char *path, cpm_config_t **out, cpm_error_t *err)
{
    *out = NULL;
    if (!path)
        return cpm_error_set(err, CPM_E_INVALID, "path", "config: no path given");
    char *dir = folder_of(path);
    if (!dir || access(path, R_OK) != 0) {
        int e = errno;
        free(dir);
        return cpm_error_set(err, e == ENOENT ? CPM_E_NOT_FOUND : CPM_E_INVALID, "path",
                             "config %s: cannot read (%s)", path, strerror(e));
    }
    y_config_t *y = NULL;
    char why[400];
    cpm_config_t *c = NULL;
    int rc = 0;
    if (cpm_yaml_load(path, &config_top, (void **)&y, why, sizeof why) != 0) {
        rc = cpm_error_set(err, CPM_E_INVALID, "", "config %s: %s", path, why);
    } else if (!y) {
        rc = cpm_error_set(err, CPM_E_INVALID, "node",
                           "config %s: the file is empty; missing required field node", path);
    } else if ((c = calloc(1, sizeof *c)) == NULL) {
        rc = cpm_error_set(err, CPM_E_INTERNAL, "", "config %s: out of memory", path);
    } else if ((rc = fill(c, y, dir, path, err)) != 0) {
        cpm_config_destroy(&c);
    }
    cpm_yaml_free(&config_top, y);
    free(dir);
    *out = c;
    return rc;
}

int cpm_config_check_service(const cpm_config_t *c, const char *service,
                             const char *const *requires, cpm_error_t *err)
{
    if (strcmp(c->service, service) != 0)
        return cpm_error_set(err, CPM_E_INVALID, "service",
                             "service is '%s', but this program runs service %s", c->service,
                             service);
    const struct {
        const char *name;
        const char *val;
    } opt[] = {{"rules", c->rules},
               {"places_dir", c->places_dir},
               {"bind", c->bind},
               {"pub_bind", c->pub_bind},
               {"http_bind", c->http_bind}};
    for (size_t i = 0; requires && requires[i]; i++) {
        size_t k = 0;
        while (k < sizeof opt / sizeof *opt && strcmp(opt[k].name, requires[i]) != 0)
            k++;
        if (k == sizeof opt / sizeof *opt || blank(opt[k].val))
            return cpm_error_set(err, CPM_E_INVALID, requires[i],
                                 "missing required field %s (service %s needs it)", requires[i],
                                 service);
    }
    return 0;
}

void cpm_config_destroy(cpm_config_t **p)
{
    if (!p || !*p)
        return;
    cpm_config_t *c = *p;
    free(c->node);
    free(c->service);
    free(c->data_dir);
    free(c->registry);
    free(c->root_public);
    free(c->identity);
    free(c->rules);
    free(c->places_dir);
    free(c->bind);
    free(c->pub_bind);
    free(c->consumer_key_file);
    free(c->checklists);
    free(c->exchange_policy);
    free(c->http_bind);
    free(c->gateway_clients);
    free(c->triage_model);
    free(c);
    *p = NULL;
}
