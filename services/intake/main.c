/* cpmesh-intake: records complaints and hotline consultations from every
 * channel and forwards complaints to routing.
 *
 *   cpmesh-intake --config intake.yaml */
#include "cpm_grant.h"
#include "cpm_log.h"
#include "cpm_place.h"
#include "cpm_rules.h"
#include "cpm_rules_watch.h"
#include "cpm_service.h"
#include "cpm_util.h"
#include "intake_consumer.h"
#include "intake_domain.h"
#include "intake_lookup.h"
#include "intake_triage.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cpm_svc {
    cpm_rules_watch_t *watch; /* owns rules, reloads them in place */
    cpm_rules_t *rules;
    cpm_places_t *places; /* loaded once at start: the data changes with a release */
    intake_t *in;
    intake_triage_t *triage; /* the category model (loaded once at start) */
};

/* The routing member and the registry the domain checks against follow
 * registry reloads: resolved once per registry version. */
static void registry_changed(cpm_svc_t *st, cpm_server_t *srv)
{
    const Cpm__Member *routing = cpm_server_find_service(srv, "routing");
    intake_set_routing(st->in, routing ? routing->id : NULL);
    intake_set_registry(st->in, cpm_server_registry(srv));
}

static int on_submit(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    Cpm__Complaint *c = (Cpm__Complaint *)payload;
    /* A gateway filing for a person: the grant's member is the submitter
     * (its client_ref space, its may_send); a grant that fails is refused,
     * never taken as the gateway's own submission. */
    const Cpm__Member *asker =
        cpm_grant_asker(srv, m, &c->on_behalf, "submit_complaint", "intake", err);
    if (!asker)
        return err->code ? err->code : CPM_E_FORBIDDEN;
    /* The grant has done its work: it is never stored nor sent on. */
    if (c->on_behalf.len)
        sodium_memzero(c->on_behalf.data, c->on_behalf.len);
    free(c->on_behalf.data);
    c->on_behalf = (ProtobufCBinaryData){0, NULL};
    cpm_effects_t fx = cpm_server_effects(srv);
    char ticket[INTAKE_TICKET_MAX];
    bool dup = false;
    int rc = intake_submit(st->in, cpm_server_store(srv), txn, &fx, asker->id, c, cpm_now_ms(),
                           ticket, &dup, err);
    if (rc != 0)
        return rc;
    Cpm__SubmitReply r = CPM__SUBMIT_REPLY__INIT;
    char code[CPM_TEXT_CODE_LEN + 1];
    /* A new complaint carries its code (routing's public view asks for it);
     * a resubmission's is made again from the store's secret. */
    if (!dup && c->lookup_code && *c->lookup_code)
        cpm_str_copy(code, sizeof code, c->lookup_code);
    else if ((rc = intake_lookup_code(cpm_server_store(srv), txn, ticket, code)) != 0)
        return rc;
    r.ticket = ticket;
    r.duplicate = dup;
    r.lookup_code = code;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_SUBMIT_REPLY, &r.base);
}

static int on_consult(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                      ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    Cpm__Consultation *c = (Cpm__Consultation *)payload;
    cpm_effects_t fx = cpm_server_effects(srv);
    char id[INTAKE_TICKET_MAX];
    bool dup = false;
    int rc = intake_consult(st->in, cpm_server_store(srv), txn, &fx, m->env->sender, c,
                            cpm_now_ms(), id, &dup, err);
    if (rc != 0)
        return rc;
    Cpm__SubmitReply r = CPM__SUBMIT_REPLY__INIT;
    r.ticket = id;
    r.duplicate = dup;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_CONSULTATION_REPLY, &r.base);
}

typedef struct {
    cpm_svc_t *st;
    size_t stripped;
} sweep_t;

static int sweep_contacts(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    sweep_t *sw = ctx;
    int64_t retention = (int64_t)cpm_server_config(srv)->contact_retention_s * 1000;
    return intake_contact_sweep(sw->st->in, cpm_server_store(srv), txn, cpm_now_ms(), retention,
                                1000, &sw->stripped);
}

/* Once a second: strip sealed contacts whose retention after routing's
 * acknowledgement is over (the library then sweeps dead letters). */
static void on_tick(cpm_svc_t *st, cpm_server_t *srv)
{
    /* A changed rules file: areas, categories and sealing follow routing's. */
    /* 1 (taken), 0, or the code of a refusal, which is counted and logged
     * inside: the rules in force stay, so there is nothing more to do here. */
    int watched = cpm_rules_watch_check(st->watch, cpm_server_metrics(srv));
    (void)watched;
    intake_sweep_keys(st->in, cpm_mono_ms());
    sweep_t sw = {st, 0};
    int rc = cpm_server_write(srv, sweep_contacts, &sw);
    size_t stripped = sw.stripped;
    if (rc != 0)
        cpm_warn("contact retention sweep failed: %s", cpm_err_name(rc));
    else if (stripped > 0) {
        cpm_metrics_add(cpm_server_metrics(srv), "retention.contacts_stripped", stripped);
        cpm_info("retention: stripped the sealed contact of %zu complaint%s", stripped,
                 stripped == 1 ? "" : "s");
    }
}

/* The client_ref digest key: derived from the node's signing secret, which
 * is not in the store, so a copy of the store alone cannot test guesses. */
static void ref_key(const cpm_identity_t *id, uint8_t key[32])
{
    static const char label[] = "CPMESH-INTAKE-REF-DIGEST-V1";
    crypto_generichash(key, 32, (const uint8_t *)label, sizeof label, id->sign_sk, 32);
}

static void fini(cpm_svc_t **st)
{
    if (!*st)
        return;
    intake_destroy(&(*st)->in);
    intake_triage_destroy(&(*st)->triage);
    cpm_places_destroy(&(*st)->places);
    cpm_rules_watch_destroy(&(*st)->watch);
    free(*st);
    *st = NULL;
}

static int init(cpm_server_t *srv, cpm_svc_t **out)
{
    const cpm_config_t *cfg = cpm_server_config(srv);
    cpm_svc_t *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    *out = st;
    /* "inspection": routes as routing does */
    cpm_error_t rerr;
    if (cpm_rules_watch_new(cfg->rules, "inspection", &st->watch, &rerr) != 0) {
        fprintf(stderr, "cpmesh-intake: rules %s: %s\n", cfg->rules, rerr.message);
        return -1;
    }
    st->rules = cpm_rules_watch_rules(st->watch);
    const Cpm__Member *me = cpm_registry_member(cpm_server_registry(srv), cfg->node);
    if (!me)
        return -1;
    if (!me->ticket_prefix || !*me->ticket_prefix) {
        cpm_error("member %s has no ticket_prefix in the registry", cfg->node);
        return -1;
    }
    if (!(st->in = intake_new(st->rules, cfg->node, me->ticket_prefix, NULL)))
        return -1;
    /* Without its places, intake could not place a single complaint: refuse
     * to start rather than refuse every submission. */
    cpm_error_t perr;
    if (cpm_places_load(cfg->places_dir, &st->places, &perr) != 0) {
        fprintf(stderr, "cpmesh-intake: places_dir %s: %s%s%s\n", cfg->places_dir,
                *perr.field ? perr.field : "", *perr.field ? ": " : "", perr.message);
        return -1;
    }
    cpm_info("places: %zu units in force, %zu former districts, %zu former wards from %s",
             cpm_place_count(st->places, CPM_PLACE_KIND_UNIT),
             cpm_place_count(st->places, CPM_PLACE_KIND_OLD_DISTRICT),
             cpm_place_count(st->places, CPM_PLACE_KIND_OLD_WARD), cfg->places_dir);
    intake_set_places(st->in, st->places, cpm_server_metrics(srv));
    /* A bad model file is logged and counted; intake runs without it. */
    if (!(st->triage =
              intake_triage_new(cfg->triage_model, cfg->triage_min_pm, cpm_server_metrics(srv))))
        return -1;
    intake_set_triage(st->in, st->triage);
    uint8_t key[32];
    ref_key(cpm_server_identity(srv), key);
    intake_set_ref_key(st->in, key);
    sodium_memzero(key, sizeof key);
    MDB_txn *rtxn = NULL;
    bool readable = cpm_store_begin(cpm_server_store(srv), false, &rtxn) == 0;
    if (!readable)
        rtxn = NULL; /* both forms are looked up */
    bool legacy = intake_refs_scan(st->in, cpm_server_store(srv), rtxn);
    cpm_store_abort(&rtxn);
    if (legacy && !readable)
        cpm_warn("refs: the store could not be read at start; client references are looked up in "
                 "both forms (sender first, before 2026-12-01, and reference first)");
    else if (legacy)
        cpm_info("refs: client references of the sender-first form (before 2026-12-01) are "
                 "looked up too");
    if (cfg->consumer_key_file) { /* links one consumer's complaints (routing_dupes) */
        cpm_error_t kerr;
        if (intake_consumer_secret_load(cfg->consumer_key_file, key, &kerr) != 0) {
            fprintf(stderr, "cpmesh-intake: %s\n", kerr.message);
            return -1;
        }
        intake_set_consumer_secret(st->in, key);
        sodium_memzero(key, sizeof key);
    } else {
        cpm_warn("no consumer_key_file: complaints carry no consumer_key, nothing is linked");
    }
    return 0;
}

static const char *const dbs[] = INTAKE_DBS;
static const char *const requires[] = {"rules", "places_dir", NULL};

static const cpm_svc_request_t requests[] = {
    {CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, &cpm__complaint__descriptor, true, on_submit, NULL,
     false},
    {CPM__MSG_TYPE__MSG_RECORD_CONSULTATION, &cpm__consultation__descriptor, true, on_consult, NULL,
     false},
    {0}};
/* Up to 64 complaints at once: each exactly as a single submit (the same
 * handler), all answered by one group receipt (docs/protocol.md "Group
 * receipts"). */
static const cpm_svc_request_t items[] = {
    {CPM__MSG_TYPE__MSG_SUBMIT_BATCH, &cpm__complaint__descriptor, true, on_submit, NULL, false},
    {0}};
static const cpm_svc_stream_t streams[] = {{"routing", CPM__MSG_TYPE__MSG_CASE_BATCH}, {0}};

static const cpm_service_t service = {
    .name = "intake",
    .databases = dbs,
    .config_requires = requires,
    .requests = requests,
    .items = items,
    .streams = streams,
    .init = init,
    .fini = fini,
    .registry_changed = registry_changed,
    .tick = on_tick,
};

CPM_SERVICE_MAIN(service)
