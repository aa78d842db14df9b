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
#include "exchange_feed.h"
#include "exchange_policy.h"
#include "exchange_logq.h"
#include "exchange_publish.h"
#include "exchange_received.h"
#include "exchange_subs.h"

#include "exchange_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cpm_svc {
    exchange_t x;
    exchange_policy_t *policy; /* the agency's signed access policy in force */
    exchange_feed_t *feed;     /* datasets from this node's own events */
    cpm_sender_t signer;       /* signs query answers as this node */
    exchange_ckpt_t *ckpt;     /* checkpoints and co-signing (exchange_checkpoint) */
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
    if (!(s->policy = exchange_policy_new(cfg->exchange_policy, &s->x, cpm_server_store(srv))) ||
        !(s->feed = exchange_feed_new(&s->x)) || exchange_ckpt_new(&s->ckpt, srv) != 0) {
        exchange_policy_destroy(&s->policy);
        exchange_feed_destroy(&s->feed);
        free(s);
        return -1;
    }
    cpm_sender_init(&s->signer, s->x.id, "exchange");
    *st = s;
    return 0;
}

static void fini(cpm_svc_t **st)
{
    if (*st) {
        exchange_policy_destroy(&(*st)->policy);
        exchange_feed_destroy(&(*st)->feed);
        exchange_ckpt_destroy(&(*st)->ckpt);
    }
    free(*st);
    *st = NULL;
}

static void registry_changed(cpm_svc_t *st, cpm_server_t *srv)
{
    st->x.reg = cpm_server_registry(srv);
    exchange_feed_registry_changed(st->feed);
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

static int on_subscribe(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                        ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    cpm_effects_t fx = cpm_server_effects(srv);
    exchange_sender_t who = sender_of(m);
    exchange_sub_reply_t r;
    int rc = exchange_subscribe(&st->x, exchange_policy_current(st->policy), cpm_server_store(srv),
                                txn, &fx, &who, (const Cpm__ExchangeSubscribe *)payload,
                                cpm_now_ms(), &r, err);
    return rc ? rc : cpm_reply_set(reply, CPM__MSG_TYPE__MSG_EXCHANGE_SUBSCRIBE_REPLY, &r.r.base);
}

static int on_delivery(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                       ProtobufCMessage *rec, cpm_error_t *err)
{
    cpm_effects_t fx = cpm_server_effects(srv);
    return exchange_received_apply(&st->x, cpm_server_store(srv), txn, &fx, m->member,
                                   (const Cpm__ExchangeDelivery *)rec, cpm_now_ms(), NULL, err);
}

static int on_received_query(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                             ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    exchange_sender_t who = sender_of(m);
    Cpm__ExchangeReceivedReply *r = NULL;
    int rc = exchange_received_query(&st->x, cpm_server_store(srv), txn, &who,
                                     (const Cpm__ExchangeReceivedQuery *)payload, &r, err);
    if (rc == 0)
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_EXCHANGE_RECEIVED_REPLY, &r->base);
    exchange_received_free(&r);
    return rc;
}

/* One step of every subscription's delivery, in one transaction; none when
 * nothing is due, and none while the store is above its high-water mark
 * (the outbox waits like every stream). */
static int deliver(cpm_server_t *srv, MDB_txn *txn, void *ctx)
{
    cpm_svc_t *st = ctx;
    cpm_effects_t fx = cpm_server_effects(srv);
    exchange_subs_stats_t s;
    int rc = exchange_subs_tick(&st->x, exchange_policy_current(st->policy), cpm_server_store(srv),
                                txn, &fx, cpm_now_ms(), &s);
    if (rc == 0)
        cpm_metrics_add(cpm_server_metrics(srv), "exchange.delivered", s.delivered);
    return rc;
}

static void deliver_due(cpm_svc_t *st, cpm_server_t *srv)
{
    MDB_txn *txn = NULL;
    cpm_store_t *store = cpm_server_store(srv);
    if (cpm_store_begin(store, false, &txn) != 0)
        return;
    bool due = exchange_subs_due(&st->x, exchange_policy_current(st->policy), store, txn);
    bool full = due && cpm_store_admit(store, txn) != 0;
    cpm_store_abort(&txn);
    if (full)
        cpm_metrics_add(cpm_server_metrics(srv), "exchange.delivery_held", 1);
    int rc = due && !full ? cpm_server_write(srv, deliver, st) : 0;
    if (rc != 0)
        cpm_warn("subscription delivery failed (tried again next tick): %s", cpm_err_name(rc));
}

static int on_query(cpm_svc_t *st, cpm_server_t *srv, MDB_txn *txn, const cpm_msg_t *m,
                    ProtobufCMessage *payload, cpm_reply_t *reply, cpm_error_t *err)
{
    cpm_effects_t fx = cpm_server_effects(srv);
    exchange_query_req_t req = {sender_of(m), m->env->sender_instance, m->env->msg_id};
    Cpm__ExchangeAnswerReply r = CPM__EXCHANGE_ANSWER_REPLY__INIT;
    int rc =
        exchange_query(&st->x, exchange_policy_current(st->policy), &st->signer,
                       cpm_server_store(srv), txn, &fx, &req, (const Cpm__ExchangeQuery *)payload,
                       cpm_now_ms(), &r.signed_answer.data, &r.signed_answer.len, err);
    if (rc == 0)
        rc = cpm_reply_set(reply, CPM__MSG_TYPE__MSG_EXCHANGE_QUERY_REPLY, &r.base);
    free(r.signed_answer.data);
    return rc;
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
    exchange_policy_tick(st->policy, &st->x);
    exchange_feed_tick(st->feed, srv);
    deliver_due(st, srv);
    exchange_ckpt_tick(st->ckpt, &st->x, srv);
}

static const cpm_svc_request_t requests[] = {
    /* type, payload descriptor, write, entry, reads-only predicate, keep frame */
    {CPM__MSG_TYPE__MSG_EXCHANGE_PUBLISH, &cpm__exchange_publish__descriptor, true, on_publish,
     NULL, true},
    {CPM__MSG_TYPE__MSG_EXCHANGE_SUBSCRIBE, &cpm__exchange_subscribe__descriptor, true,
     on_subscribe, NULL, true},
    {CPM__MSG_TYPE__MSG_EXCHANGE_RECEIVED_QUERY, &cpm__exchange_received_query__descriptor, false,
     on_received_query, NULL, false},
    {CPM__MSG_TYPE__MSG_EXCHANGE_QUERY, &cpm__exchange_query__descriptor, true, on_query, NULL,
     true},
    {CPM__MSG_TYPE__MSG_EXCHANGE_COSIGN, &cpm__cosign_request__descriptor, true, on_cosign, NULL,
     true},
    {CPM__MSG_TYPE__MSG_EXCHANGE_LOG_QUERY, &cpm__exchange_log_query__descriptor, false,
     on_log_query, NULL, false},
    {0}};
static const cpm_svc_batch_t batches[] = {{CPM__MSG_TYPE__MSG_EXCHANGE_BATCH,
                                           &cpm__exchange_delivery__descriptor, on_delivery, NULL,
                                           NULL},
                                          {0}};
static const cpm_svc_stream_t streams[] = {{"exchange", CPM__MSG_TYPE__MSG_EXCHANGE_BATCH}, {0}};

static const char *const dbs[] = {EXCHANGE_DATABASES, NULL};
static const cpm_service_t service = {
    .name = "exchange",
    .databases = dbs,
    .config_requires = NULL,
    .requests = requests,
    .batches = batches,
    .streams = streams,
    .init = init,
    .fini = fini,
    .registry_changed = registry_changed,
    .tick = on_tick,
};

CPM_SERVICE_MAIN(service)
