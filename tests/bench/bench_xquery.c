/* bench_xquery: cross-agency queries per second against a running mesh.
 *
 * One signed client keeps a link to every member that runs "exchange" and,
 * for --seconds, fans a query out to all of them at once, waits for every
 * answer and checks each signed answer as cpmctl does (cpm_xanswer_verify:
 * signature against the registry, bound to the request's hash). --health
 * sends the same fan-out of health queries instead: the baseline of a signed
 * request/reply round to the same processes, without the store, the policy,
 * the signed answer and the proof-log append. Prints one JSON line.
 *
 *   bench_xquery --home H --as ID [--seconds S] [--health] [--dataset D]
 *                [--business B] */
#include "cpm_client.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_util.h"
#include "cpm_xanswer.h"
#include "exchange.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define MAX_PEERS 32

int main(int argc, char **argv)
{
    const char *home = NULL, *as = NULL, *dataset = "watchlist", *business = "";
    double seconds = 5;
    int health = 0;
    static const struct option lo[] = {
        {"home", 1, 0, 'H'},   {"as", 1, 0, 'a'},      {"seconds", 1, 0, 's'},
        {"health", 0, 0, 'h'}, {"dataset", 1, 0, 'd'}, {"business", 1, 0, 'b'},
        {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (o == 'H')
            home = optarg;
        else if (o == 'a')
            as = optarg;
        else if (o == 's')
            seconds = atof(optarg);
        else if (o == 'h')
            health = 1;
        else if (o == 'd')
            dataset = optarg;
        else if (o == 'b')
            business = optarg;
        else
            return 2;
    }
    if (!home || !as) {
        fprintf(stderr, "usage: bench_xquery --home H --as ID [--seconds S] [--health]\n");
        return 2;
    }
    char path[1200];
    cpm_error_t e = {0};
    cpm_public_t root;
    cpm_identity_t id;
    cpm_registry_t *reg = NULL;
    snprintf(path, sizeof path, "%s/keys/root.public", home);
    if (cpm_public_load(&root, path, &e) != 0)
        return fprintf(stderr, "%s: %s\n", path, e.message), 1;
    snprintf(path, sizeof path, "%s/registry.signed", home);
    if (cpm_registry_load(path, root.sign_pk, &reg, &e) != 0)
        return fprintf(stderr, "%s: %s\n", path, e.message), 1;
    snprintf(path, sizeof path, "%s/keys/%s.secret", home, as);
    if (cpm_identity_load(&id, path, &e) != 0)
        return fprintf(stderr, "%s: %s\n", path, e.message), 1;
    const char *peers[MAX_PEERS];
    size_t n = 0;
    const Cpm__Registry *doc = cpm_registry_doc(reg);
    for (size_t i = 0; i < doc->n_members && n < MAX_PEERS; i++)
        if (cpm_member_service(doc->members[i], "exchange"))
            peers[n++] = doc->members[i]->id;
    void *zctx = zmq_ctx_new();
    cpm_client_t *c = NULL;
    if (!zctx || cpm_client_new(&c, zctx, reg, &id, NULL, &e) != 0)
        return fprintf(stderr, "client: %s\n", e.message), 1;
    Cpm__ExchangeQuery q = CPM__EXCHANGE_QUERY__INIT;
    q.dataset = (char *)dataset;
    q.business = (char *)business;
    Cpm__HealthQuery hq = CPM__HEALTH_QUERY__INIT;
    Cpm__MsgType type =
        health ? CPM__MSG_TYPE__MSG_HEALTH_QUERY : CPM__MSG_TYPE__MSG_EXCHANGE_QUERY;
    const ProtobufCMessage *req = health ? &hq.base : &q.base;
    uint64_t rounds = 0, answers = 0, records = 0, failed = 0;
    int64_t t0 = 0, end = 0;
    for (int warm = 1;; warm = 0) { /* one warm-up round links and handshakes */
        char ids[MAX_PEERS][33];
        for (size_t i = 0; i < n; i++)
            if (cpm_client_send(c, peers[i], "exchange", type, req, ids[i], &e) != 0)
                failed++;
        for (size_t i = 0; i < n; i++) {
            cpm_msg_t m = {0};
            if (cpm_client_recv(c, peers[i], "exchange", 10000, &m, &e) != 0) {
                failed++;
                continue;
            }
            if (!health) {
                Cpm__ExchangeAnswerReply *r = cpm__exchange_answer_reply__unpack(
                    NULL, m.env->payload.len, m.env->payload.data);
                uint8_t sent[32];
                Cpm__ExchangeAnswer *a = NULL;
                char self[300];
                snprintf(self, sizeof self, "%s", cpm_client_self(c));
                cpm_xanswer_expect_t x = {peers[i], id.id, self, ids[i], sent};
                if (!r || cpm_client_sent_hash(c, peers[i], "exchange", sent) != 0 ||
                    cpm_xanswer_verify(reg, r->signed_answer.data, r->signed_answer.len, &x, &a,
                                       &e) != 0 ||
                    a->refused_code)
                    failed++;
                else
                    records += a->n_records;
                if (a)
                    cpm__exchange_answer__free_unpacked(a, NULL);
                if (r)
                    cpm__exchange_answer_reply__free_unpacked(r, NULL);
            }
            answers++;
            cpm_msg_clear(&m);
        }
        if (warm) {
            answers = records = failed = 0;
            t0 = cpm_mono_ms();
            end = t0 + (int64_t)(seconds * 1000);
            continue;
        }
        rounds++;
        if (cpm_mono_ms() >= end)
            break;
    }
    double secs = (double)(cpm_mono_ms() - t0) / 1000.0;
    printf("{\"mode\":\"%s\",\"agencies\":%zu,\"rounds\":%llu,\"seconds\":%.2f,"
           "\"fanouts_per_s\":%.1f,\"answers_per_s\":%.1f,\"records\":%llu,\"failed\":%llu}\n",
           health ? "health" : "query", n, (unsigned long long)rounds, secs, rounds / secs,
           answers / secs, (unsigned long long)records, (unsigned long long)failed);
    cpm_client_destroy(&c);
    zmq_ctx_term(zctx);
    cpm_registry_destroy(&reg);
    cpm_identity_wipe(&id);
    return failed ? 1 : 0;
}
