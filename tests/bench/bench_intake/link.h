/* link: a signed DEALER link to one service of the mesh (its own zmq context,
 * registry copy, verifier and sender instance), and the health counters read
 * over it. link_open leaves l safe to link_close even when it fails. */
#ifndef BENCH_INTAKE_LINK_H
#define BENCH_INTAKE_LINK_H

#include "bench.h"
#include "cpm_envelope.h"
#include "cpm_verifier.h"

#include <stddef.h>

typedef struct {
    void *zctx, *sock;
    cpm_registry_t *reg;
    cpm_verifier_t *ver;
    cpm_sender_t sender;
    char self[200];
} link_t;

/* Connects to e->node's service as e->id with sender instance. 0, or -1 with
 * why filled. */
int link_open(link_t *l, const env_t *e, const char *service, const char *instance, char *why,
              size_t whylen);
void link_close(link_t *l);
/* Seals req for recipient and sends it; msg_id gets its id. 0 or -1. */
int link_send(link_t *l, const char *recipient, Cpm__MsgType type, const ProtobufCMessage *req,
              char msg_id[33]);
/* Wait for one verified reply: 0, or -1 on timeout or a refused reply. */
int link_recv(link_t *l, const env_t *e, int timeout_ms, cpm_msg_t *reply, char *why,
              size_t whylen);

typedef struct {
    uint64_t applied, commits, records_applied, event_head;
    uint64_t routing_backlog; /* records of the streams to a routing not yet acknowledged */
} health_t;

/* The counters of e->node's service. 0, or -1 after saying why on stderr. */
int health_get(link_t *l, const env_t *e, const char *service, health_t *out);

#endif
