/* cpm_batch_raw: sends one SubmitBatch of --count complaints built here
 * (client references "<ref>-<i>"), sealed by the generic cpm_client_send so
 * that it may hold more than a client would send (tests/integration/
 * test_receipts.py: 65 items must be refused by intake, naming the field).
 *
 *   cpm_batch_raw --home DIR --as ID --node MEMBER --count N --ref REF
 *
 * Prints {"ok":false,"code":N,"field":F,"message":M} for a classic answer
 * (the batch refused whole), or {"ok":true,"receipt":true,"items":[{"item":
 * i,"ticket":T} | {"item":i,"code":N,"field":F}]} for a group receipt.
 * Exit 0 when an answer came, 1 otherwise, 2 on bad usage. */
#include "cpm_client.h"
#include "cpm_keys.h"
#include "cpm_registry.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define MAX_ITEMS 200

static json_t *leaf_json(const cpm_receipt_item_t *it)
{
    if (it->type == CPM__MSG_TYPE__MSG_SUBMIT_REPLY) {
        Cpm__SubmitReply *r = cpm__submit_reply__unpack(NULL, it->payload_len, it->payload);
        json_t *o = json_pack("{s:i, s:s}", "item", (int)it->item, "ticket", r ? r->ticket : "");
        if (r)
            cpm__submit_reply__free_unpacked(r, NULL);
        return o;
    }
    Cpm__ErrorReply *e = cpm__error_reply__unpack(NULL, it->payload_len, it->payload);
    json_t *o = json_pack("{s:i, s:i, s:s}", "item", (int)it->item, "code", e ? (int)e->code : 0,
                          "field", e ? e->field : "");
    if (e)
        cpm__error_reply__free_unpacked(e, NULL);
    return o;
}

int main(int argc, char **argv)
{
    const char *home = NULL, *as = NULL, *node = NULL, *ref = "raw";
    int count = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--home"))
            home = argv[i + 1];
        else if (!strcmp(argv[i], "--as"))
            as = argv[i + 1];
        else if (!strcmp(argv[i], "--node"))
            node = argv[i + 1];
        else if (!strcmp(argv[i], "--count"))
            count = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ref"))
            ref = argv[i + 1];
        else
            home = NULL, i = argc;
    }
    if (!home || !as || !node || count < 0 || count > MAX_ITEMS || argc % 2 != 1) {
        fputs("usage: cpm_batch_raw --home DIR --as ID --node MEMBER --count N --ref REF\n",
              stderr);
        return 2;
    }
    char path[1200];
    cpm_error_t err = {0};
    cpm_public_t root;
    cpm_registry_t *reg = NULL;
    cpm_identity_t id;
    snprintf(path, sizeof path, "%s/keys/root.public", home);
    if (cpm_public_load(&root, path, &err) != 0)
        return fprintf(stderr, "root key: %s\n", err.message), 1;
    snprintf(path, sizeof path, "%s/registry.signed", home);
    if (cpm_registry_load(path, root.sign_pk, &reg, &err) != 0)
        return fprintf(stderr, "registry: %s\n", err.message), 1;
    snprintf(path, sizeof path, "%s/keys/%s.secret", home, as);
    if (cpm_identity_load(&id, path, &err) != 0)
        return fprintf(stderr, "identity: %s\n", err.message), 1;
    static ProtobufCBinaryData bins[MAX_ITEMS];
    static char refs[MAX_ITEMS][64];
    static Cpm__Complaint cs[MAX_ITEMS];
    static const Cpm__Complaint *csp[MAX_ITEMS];
    for (int i = 0; i < count; i++) {
        Cpm__Complaint *cp = &cs[i];
        csp[i] = cp;
        cpm__complaint__init(cp);
        cp->channel = "web";
        cp->business_name = "Raw batch business";
        cp->area = "hoan-kiem";
        cp->category = "pricing";
        cp->description = "one of a raw batch";
        snprintf(refs[i], sizeof refs[i], "%s-%d", ref, i);
        cp->client_ref = refs[i];
        bins[i].len = cpm__complaint__get_packed_size(cp);
        bins[i].data = malloc(bins[i].len + 1);
        cpm__complaint__pack(cp, bins[i].data);
    }
    Cpm__SubmitBatch sb = CPM__SUBMIT_BATCH__INIT;
    sb.n_complaints = (size_t)count;
    sb.complaints = bins;
    void *zctx = zmq_ctx_new();
    cpm_client_t *cl = NULL;
    if (cpm_client_new(&cl, zctx, reg, &id, NULL, &err) != 0)
        return fprintf(stderr, "client: %s\n", err.message), 1;
    char msg_id[33];
    cpm_msg_t reply = {0};
    cpm_receipt_t *rc = NULL;
    /* What a client may send goes through cpm_client_send_batch (which then
     * awaits the receipt); more than that only through the generic send. */
    int r = count >= 1 && count <= CPM_SUBMIT_BATCH_MAX
                ? cpm_client_send_batch(cl, node, csp, (size_t)count, msg_id, NULL, &err)
                : cpm_client_send(cl, node, "intake", CPM__MSG_TYPE__MSG_SUBMIT_BATCH, &sb.base,
                                  msg_id, &err);
    if (r == 0)
        r = cpm_client_recv_any(cl, node, "intake", 15000, &reply, &rc, &err);
    json_t *out = NULL;
    if (r == 0 && rc) {
        json_t *items = json_array();
        for (size_t i = 0; i < cpm_receipt_count(rc); i++)
            json_array_append_new(items, leaf_json(cpm_receipt_at(rc, i)));
        out = json_pack("{s:b, s:b, s:o}", "ok", 1, "receipt", 1, "items", items);
    } else {
        if (r == 0)
            r = cpm_client_reply_error(&reply, &err);
        out = json_pack("{s:b, s:i, s:s, s:s}", "ok", 0, "code", r, "field", err.field, "message",
                        err.message);
    }
    cpm_msg_clear(&reply);
    cpm_receipt_destroy(&rc);
    char *s = json_dumps(out, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(out);
    for (int i = 0; i < count; i++)
        free(bins[i].data);
    cpm_client_destroy(&cl);
    zmq_ctx_term(zctx);
    cpm_registry_destroy(&reg);
    cpm_identity_wipe(&id);
    return r == CPM_E_TIMEOUT || r == CPM_E_UNAVAILABLE ? 1 : 0;
}
