/* cpm_deliver: delivers records, exactly as given, to a service of a running
 * mesh, as a member whose keys are in the home: one DeliveryBatch on a fresh
 * stream of its own (sender instance "deliver.<pid>", records numbered from 1),
 * signed and sent over CURVE like any service's batch. A member that may send
 * the batch type (an area node: case_batch@routing) is a real node sending
 * whatever bytes it likes; the integration tests use it to check what the
 * receiver does with hostile text (tests/integration/test_text.py).
 *
 *   cpm_deliver --home DIR --as ID --target MEMBER/SERVICE --type case|assign|update
 *               --record HEX [--record HEX ...] [--timeout MS]
 *
 * Prints one JSON line: {"replied","type":"ack"|"error"|..., "acked_seq",
 * "error_code","field","message"}. Exit 0 when it got a verified reply, 1
 * otherwise, 2 on bad usage. */
#include "cpm_envelope.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_transport.h"
#include "cpm_util.h"
#include "cpm_verifier.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_RECORDS 64

static int die(const char *what, const char *detail)
{
    fprintf(stderr, "cpm_deliver: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

static Cpm__MsgType batch_type(const char *t)
{
    if (!strcmp(t, "case"))
        return CPM__MSG_TYPE__MSG_CASE_BATCH;
    if (!strcmp(t, "assign"))
        return CPM__MSG_TYPE__MSG_ASSIGN_BATCH;
    if (!strcmp(t, "update"))
        return CPM__MSG_TYPE__MSG_UPDATE_BATCH;
    return CPM__MSG_TYPE__MSG_UNSPECIFIED;
}

/* The reply as one JSON line. */
static void report(const cpm_msg_t *m)
{
    json_t *o = json_pack("{s:b}", "replied", 1);
    if (m->env->type == CPM__MSG_TYPE__MSG_ACK) {
        Cpm__Ack *a = cpm__ack__unpack(NULL, m->env->payload.len, m->env->payload.data);
        json_object_set_new(o, "type", json_string("ack"));
        json_object_set_new(o, "acked_seq", json_integer(a ? (json_int_t)a->acked_seq : -1));
        cpm__ack__free_unpacked(a, NULL);
    } else if (m->env->type == CPM__MSG_TYPE__MSG_ERROR) {
        Cpm__ErrorReply *e =
            cpm__error_reply__unpack(NULL, m->env->payload.len, m->env->payload.data);
        json_object_set_new(o, "type", json_string("error"));
        json_object_set_new(o, "error_code", json_integer(e ? e->code : 0));
        json_object_set_new(o, "field", json_string(e ? e->field : ""));
        json_object_set_new(o, "message", json_string(e ? e->message : ""));
        cpm__error_reply__free_unpacked(e, NULL);
    } else {
        json_object_set_new(o, "type", json_integer(m->env->type));
    }
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s ? s : "{}");
    free(s);
    json_decref(o);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"home", required_argument, 0, 'H'},
                                       {"as", required_argument, 0, 'a'},
                                       {"target", required_argument, 0, 't'},
                                       {"type", required_argument, 0, 'y'},
                                       {"record", required_argument, 0, 'r'},
                                       {"timeout", required_argument, 0, 'T'},
                                       {0, 0, 0, 0}};
    const char *home = NULL, *as = NULL, *target = NULL, *type = "case";
    const char *hex[MAX_RECORDS];
    size_t n = 0;
    int timeout_ms = 5000, opt;
    while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (opt == 'H')
            home = optarg;
        else if (opt == 'a')
            as = optarg;
        else if (opt == 't')
            target = optarg;
        else if (opt == 'y')
            type = optarg;
        else if (opt == 'r' && n < MAX_RECORDS)
            hex[n++] = optarg;
        else if (opt == 'T')
            timeout_ms = atoi(optarg);
        else
            return 2;
    }
    Cpm__MsgType mt = batch_type(type);
    const char *slash = target ? strchr(target, '/') : NULL;
    if (!home || !as || !slash || !n || mt == CPM__MSG_TYPE__MSG_UNSPECIFIED) {
        fprintf(stderr, "usage: cpm_deliver --home DIR --as ID --target MEMBER/SERVICE "
                        "--type case|assign|update --record HEX... [--timeout MS]\n");
        return 2;
    }
    char member[128], path[1200];
    cpm_error_t kerr;
    snprintf(member, sizeof member, "%.*s", (int)(slash - target), target);

    cpm_public_t root;
    cpm_identity_t id;
    snprintf(path, sizeof path, "%s/keys/root.public", home);
    if (cpm_public_load(&root, path, &kerr) != 0)
        return die(path, kerr.message);
    snprintf(path, sizeof path, "%s/registry.signed", home);
    cpm_registry_t *reg = NULL;
    cpm_error_t rerr = {0};
    if (cpm_registry_load(path, root.sign_pk, &reg, &rerr) != 0)
        return die(path, rerr.message);
    snprintf(path, sizeof path, "%s/keys/%s.secret", home, as);
    if (cpm_identity_load(&id, path, &kerr) != 0)
        return die(path, kerr.message);
    const Cpm__Member *m = cpm_registry_member(reg, member);
    const Cpm__ServiceEndpoint *ep = m ? cpm_member_service(m, slash + 1) : NULL;
    if (!ep)
        return die("no such service in the registry", target);

    /* The records, and the batch on our own stream that carries them. */
    ProtobufCBinaryData recs[MAX_RECORDS];
    for (size_t i = 0; i < n; i++) {
        size_t hl = strlen(hex[i]);
        recs[i].len = hl / 2;
        recs[i].data = malloc(hl / 2 + 1);
        if (!recs[i].data || hl % 2 || cpm_hex_decode(hex[i], recs[i].data, hl / 2) != 0)
            return die("--record is not hex", hex[i]);
    }
    char instance[64], stream[400];
    snprintf(instance, sizeof instance, "deliver.%d", (int)getpid());
    snprintf(stream, sizeof stream, "%s/%s>%s", id.id, instance, target);
    Cpm__DeliveryBatch b = CPM__DELIVERY_BATCH__INIT;
    b.stream = stream;
    b.first_seq = 1;
    b.n_records = n;
    b.records = recs;

    cpm_sender_t sender;
    cpm_sender_init(&sender, &id, instance);
    char msg_id[33];
    uint8_t *frame = NULL;
    size_t flen = 0;
    if (cpm_sender_seal(&sender, mt, target, NULL, &b.base, msg_id, &frame, &flen) != 0)
        return die("cannot sign the batch", NULL);
    void *zctx = zmq_ctx_new();
    void *sock = cpm_sock_client(zctx, ZMQ_DEALER, &id, m->curve_pk.data, ep->endpoint);
    if (!sock || zmq_send(sock, frame, flen, 0) != (int)flen)
        return die("cannot send to", ep->endpoint);

    cpm_verifier_t *v = cpm_verifier_new(300000);
    char self[200];
    snprintf(self, sizeof self, "%s/%s", id.id, instance);
    cpm_verify_ctx_t ctx = {.self = self, .awaiting_reply = msg_id, .expect_sender = member};
    int rc = 1;
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) > 0) {
        zmq_msg_t f[1];
        cpm_msg_t reply = {0};
        if (cpm_sock_recv(sock, f, 1, 0) == 1) {
            if (cpm_verifier_check(v, reg, &ctx, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]),
                                   cpm_now_ms(), &reply) == CPM_V_OK) {
                report(&reply);
                rc = 0;
            }
            zmq_msg_close(&f[0]);
        }
        cpm_msg_clear(&reply);
    }
    if (rc != 0)
        printf("{\"replied\":false}\n");
    free(frame);
    for (size_t i = 0; i < n; i++)
        free(recs[i].data);
    cpm_verifier_destroy(&v);
    cpm_sock_close(&sock);
    zmq_ctx_term(zctx);
    cpm_registry_destroy(&reg);
    cpm_identity_wipe(&id);
    return rc;
}
