/* cpmesh-exchange: one agency's data-sharing exchange. Publishes datasets
 * made from this node's own services' events or entered by its officers,
 * answers other agencies' queries and subscriptions under the agency's
 * signed access policy, and proves every exchange in a hash-chained log
 * whose checkpoints a peer agency co-signs.
 *
 *   cpmesh-exchange --config exchange.yaml */
#include "cpm_log.h"
#include "cpm_service.h"
#include "cpm_util.h"
#include "exchange_checkpoint.h"
#include "exchange_domain.h"
#include "exchange_logq.h"
#include "exchange_publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cpm_svc {
    exchange_t x;
    exchange_ckpt_t *ckpt; /* checkpoints and co-signing (exchange_checkpoint) */
};

static void count(void *ctx, const char *counter)
{
    cpm_metrics_add(cpm_server_metrics(ctx), counter, 1);
}

static int init(cpm_server_t *srv, cpm_svc_t **st)
{
    cpm_svc_t *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    const cpm_config_t *cfg = cpm_server_config(srv);
    exchange_t x = {cfg->node,
                    cfg->exchange_max_records,
                    cpm_server_registry(srv),
                    cpm_server_identity(srv),
                    (int64_t)cfg->max_skew_s * 1000,
                    count,
                    srv};
    s->x = x;
    if (exchange_ckpt_new(&s->ckpt, srv) != 0) {
        free(s);
        return -1;
    }
    *st = s;
    return 0;
}

static void fini(cpm_svc_t **st)
{
    exchange_ckpt_destroy(&(*st)->ckpt);
    free(*st);
    *st = NULL;
}

static void registry_changed(cpm_svc_t *st, cpm_server_t *srv)
{
    st->x.reg = cpm_server_registry(srv);
    exchange_ckpt_registry(st->ckpt, st->x.reg);
}

static exchange_sender_t sender_of(const cpm_msg_t *m)
{
    exchange_sender_t w = {m->env->sender, m->member->agency, m->member->role, m->frame,
                           m->frame_len};
    return w;
}

static int on_publish(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                      ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    cpm_effects_t fx = cpm_server_effects(srv);
    exchange_sender_t who = sender_of(m);
    Cpm__ExchangePublishReply r = CPM__EXCHANGE_PUBLISH_REPLY__INIT;
    int rc = exchange_publish(&st->x, cpm_server_store(srv), txn, &fx, &who,
                              (const Cpm__ExchangePublish *)payload, cpm_now_ms(), &r, err);
    if (rc != 0)
        return rc;
    return cpm_reply_set(reply, CPM__MSG_TYPE__MSG_EXCHANGE_PUBLISH_REPLY, &r.base);
}

static int on_cosign(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                     ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    Cpm__Cosignature c = CPM__COSIGNATURE__INIT;
    uint8_t sig[64];
    int rc =
        exchange_cosign(&st->x, cpm_server_store(srv), txn, m->env->sender, m->frame, m->frame_len,
                        (const Cpm__CosignRequest *)payload, cpm_now_ms(), &c, sig, err);
    return rc ? rc : cpm_reply_set(reply, CPM__MSG_TYPE__MSG_EXCHANGE_COSIGN_REPLY, &c.base);
}

static int on_log_query(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                        ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    Cpm__ExchangeLogReply r = CPM__EXCHANGE_LOG_REPLY__INIT;
    MDB_txn *own = NULL;
    cpm_store_t *store = cpm_server_store(srv);
    int rc = txn ? 0 : cpm_store_begin(store, false, &own);
    if (rc == 0)
        rc = exchange_logq(&st->x, store, txn ? txn : own, cpm_server_config(srv)->registry,
                           m->member->agency, m->member->role,
                           (const Cpm__ExchangeLogQuery *)payload, &r, err);
    if (rc == 0)
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_EXCHANGE_LOG_REPLY, &r.base);
    exchange_logq_free(&r);
    cpm_store_abort(&own);
    return rc;
}

static void on_tick(cpm_svc_t *st, cpm_server_t *srv)
{
    exchange_ckpt_tick(st->ckpt, &st->x, srv);
}

static const cpm_svc_request_t requests[] = {
    /* type, payload descriptor, write, entry, reads-only predicate, keep frame */
    {CPM__MSG_TYPE__MSG_EXCHANGE_PUBLISH, &cpm__exchange_publish__descriptor, true, on_publish,
     NULL, true},
    {CPM__MSG_TYPE__MSG_EXCHANGE_COSIGN, &cpm__cosign_request__descriptor, true, on_cosign, NULL,
     true},
    {CPM__MSG_TYPE__MSG_EXCHANGE_LOG_QUERY, &cpm__exchange_log_query__descriptor, false,
     on_log_query, NULL, false},
    {0}};

static const char *const dbs[] = {EXCHANGE_DATABASES, NULL};
static const cpm_service_t service = {
    .name = "exchange",
    .databases = dbs,
    .config_requires = NULL,
    .requests = requests,
    .batches = NULL,
    .streams = NULL,
    .init = init,
    .fini = fini,
    .registry_changed = registry_changed,
    .tick = on_tick,
};

CPM_SERVICE_MAIN(service)
