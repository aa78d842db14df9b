/* baseline: the work of intake in this process, without sockets, on a real
 * store in a temp folder under the home (the disk the mesh uses): the figure
 * the mesh is measured against. delivery.c builds on the same parts. */
#ifndef BENCH_INTAKE_BASELINE_H
#define BENCH_INTAKE_BASELINE_H

#include "bench.h"

#include "cpm_effects.h"
#include "cpm_envelope.h"
#include "cpm_store.h"
#include "cpm_verifier.h"
#include "intake_domain.h"

#include <stdbool.h>
#include <stddef.h>

/* Effects as the service binds them: outbox record and event log, in txn. */
typedef struct {
    cpm_store_t *st;
    char self[200]; /* "<member>/<service>" whose outbox this is */
} fx_ctx_t;

/* The effects functions, ctx a fx_ctx_t. */
int fx_send(void *ctx, MDB_txn *txn, const char *member, const char *service,
            const ProtobufCMessage *rec);
int fx_event(void *ctx, MDB_txn *txn, const cpm_event_t *ev);

/* A fresh store in a temp folder under the home (the disk the mesh uses);
 * dir gets its path. NULL after saying why on stderr. */
cpm_store_t *temp_store(const env_t *e, const char *what, const char *const *dbs, char dir[1200]);
/* Closes the store and removes its folder. */
void temp_store_drop(cpm_store_t **st, const char *dir);

/* The service side of one request, in txn: verify, decode, intake_submit. */
typedef struct {
    const env_t *e;
    cpm_store_t *st;
    intake_t *in;
    cpm_effects_t fx;
    cpm_verifier_t *server_ver, *client_ver;
    cpm_sender_t client, server;
    char client_self[200];
} base_t;

/* Binds fc to st as e's intake; inst is the client's sender instance. 0 or -1;
 * base_close either way. */
int base_open(base_t *b, const env_t *e, fx_ctx_t *fc, cpm_store_t *st, const char *inst);
void base_close(base_t *b);
/* One complaint through seal, verify, decode and intake_submit in txn; with
 * replies, also the reply's seal and its check by the client. 0 or -1. */
int base_one(base_t *b, MDB_txn *txn, const char *tag, uint64_t i, bool replies);

typedef struct {
    double rate, group_p50_ms, cpu_us;
    uint64_t n;
} base_result_t;

/* Groups of `group` complaints per durable transaction for dur_us. 0 or -1. */
int baseline_phase(const env_t *e, size_t group, bool replies, int64_t dur_us, base_result_t *res);
/* The unit costs that explain the rows: one request seal, one verify, one
 * durable commit of a one-record transaction; printed. 0 or -1. */
int cost_model(const env_t *e);

#endif
