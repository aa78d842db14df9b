/* link: signed requests to the mesh and their verified replies. */
#include "link.h"

#include "cpm_transport.h"
#include "cpm_util.h"
#include "cpm_zpoll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int link_open(link_t *l, const env_t *e, const char *service, const char *instance, char *why,
              size_t whylen)
{
    char path[1200], err[256];
    memset(l, 0, sizeof *l);
    snprintf(path, sizeof path, "%s/registry.signed", e->home);
    cpm_error_t rerr = {0};
    if (cpm_registry_load(path, e->root_pk, &l->reg, &rerr) != 0) /* a copy per thread */
        snprintf(err, sizeof err, "%s", rerr.message);
    const Cpm__Member *m = l->reg ? cpm_registry_member(l->reg, e->node) : NULL;
    const Cpm__ServiceEndpoint *ep = m ? cpm_member_service(m, service) : NULL;
    if (!ep) {
        snprintf(why, whylen, "the registry has no %s/%s", e->node, service);
        return -1;
    }
    l->zctx = zmq_ctx_new();
    l->ver = cpm_verifier_new(300000);
    l->sock = l->zctx ? cpm_sock_client(l->zctx, ZMQ_DEALER, &e->id, m->curve_pk.data, ep->endpoint)
                      : NULL;
    if (!l->sock || !l->ver) {
        snprintf(why, whylen, "cannot connect to %s/%s at %s", e->node, service, ep->endpoint);
        return -1;
    }
    cpm_sender_init(&l->sender, &e->id, instance);
    snprintf(l->self, sizeof l->self, "%s/%s", e->id.id, instance);
    return 0;
}

void link_close(link_t *l)
{
    cpm_sock_close(&l->sock);
    if (l->zctx)
        zmq_ctx_term(l->zctx);
    cpm_verifier_destroy(&l->ver);
    cpm_registry_destroy(&l->reg);
}

int link_send(link_t *l, const char *recipient, Cpm__MsgType type, const ProtobufCMessage *req,
              char msg_id[33])
{
    uint8_t *frame = NULL;
    size_t len = 0;
    if (cpm_sender_seal(&l->sender, type, recipient, NULL, req, msg_id, &frame, &len) != 0)
        return -1;
    int rc = zmq_send(l->sock, frame, len, 0) == (int)len ? 0 : -1;
    free(frame);
    return rc;
}

/* Wait for one verified reply: 0, or -1 on timeout or a refused reply. */
int link_recv(link_t *l, const env_t *e, int timeout_ms, cpm_msg_t *reply, char *why, size_t whylen)
{
    zmq_pollitem_t it = {l->sock, 0, ZMQ_POLLIN, 0};
    if (cpm_zpoll(&it, 1, timeout_ms) <= 0) {
        snprintf(why, whylen, "no reply within %d ms", timeout_ms);
        return -1;
    }
    zmq_msg_t f;
    if (cpm_sock_recv(l->sock, &f, 1, 0) != 1) {
        snprintf(why, whylen, "a reply of more than one frame");
        return -1;
    }
    cpm_verify_ctx_t ctx = {.self = l->self, .awaiting_reply = "*", .expect_sender = e->node};
    cpm_verdict_t v = cpm_verifier_check(l->ver, l->reg, &ctx, zmq_msg_data(&f), zmq_msg_size(&f),
                                         cpm_now_ms(), reply);
    zmq_msg_close(&f);
    if (v != CPM_V_OK) {
        snprintf(why, whylen, "refused a reply: %s", cpm_verdict_name(v));
        return -1;
    }
    return 0;
}

static uint64_t counter(const Cpm__HealthReply *h, const char *name)
{
    for (size_t i = 0; i < h->n_counters; i++)
        if (!strcmp(h->counters[i]->name, name))
            return h->counters[i]->value;
    return 0;
}

int health_get(link_t *l, const env_t *e, const char *service, health_t *out)
{
    char recipient[200], id[33], why[256];
    snprintf(recipient, sizeof recipient, "%s/%s", e->node, service);
    Cpm__HealthQuery q = CPM__HEALTH_QUERY__INIT;
    if (link_send(l, recipient, CPM__MSG_TYPE__MSG_HEALTH_QUERY, &q.base, id) != 0)
        return -1;
    for (;;) {
        cpm_msg_t r = {0};
        if (link_recv(l, e, 3000, &r, why, sizeof why) != 0) {
            fprintf(stderr, "bench_intake: health of %s: %s\n", recipient, why);
            return -1;
        }
        if (strcmp(r.env->correlation_id, id) != 0) { /* a late answer */
            cpm_msg_clear(&r);
            continue;
        }
        Cpm__HealthReply *h =
            r.env->type == CPM__MSG_TYPE__MSG_HEALTH_REPLY
                ? cpm__health_reply__unpack(NULL, r.env->payload.len, r.env->payload.data)
                : NULL;
        cpm_msg_clear(&r);
        if (!h)
            return -1;
        out->applied = counter(h, "applied");
        out->commits = counter(h, "store.commits");
        out->records_applied = counter(h, "delivery.records_applied");
        out->event_head = h->event_head;
        out->routing_backlog = 0;
        for (size_t i = 0; i < h->n_peers; i++) {
            const char *st = h->peers[i]->stream;
            size_t sl = strlen(st);
            if (sl >= 8 && !strcmp(st + sl - 8, "/routing"))
                out->routing_backlog += h->peers[i]->outbox_depth;
        }
        cpm__health_reply__free_unpacked(h, NULL);
        return 0;
    }
}
