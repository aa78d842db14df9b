/* cpm_xpublish: publishes N watchlist records by hand at an agency's
 * exchange (MSG_EXCHANGE_PUBLISH), signed as an officer of that agency, so
 * that integration tests get proof-log entries without a cpmctl command.
 *
 *   cpm_xpublish HOME AS NODE N [TAG]
 *
 * HOME is the mesh home (registry.signed, keys/root.public, keys/AS.secret).
 * Exit 0 when all N were published, 1 otherwise (the error printed). */
#include "cpm_client.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "exchange.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: cpm_xpublish HOME AS NODE N [TAG]\n");
        return 2;
    }
    const char *home = argv[1], *as = argv[2], *node = argv[3];
    const char *tag = argc > 5 ? argv[5] : "t";
    int n = atoi(argv[4]);
    char path[1200];
    cpm_error_t err = {0};
    cpm_public_t root;
    cpm_identity_t id;
    cpm_registry_t *reg = NULL;
    snprintf(path, sizeof path, "%s/keys/root.public", home);
    if (cpm_public_load(&root, path, &err) != 0)
        goto fail;
    snprintf(path, sizeof path, "%s/registry.signed", home);
    if (cpm_registry_load(path, root.sign_pk, &reg, &err) != 0)
        goto fail;
    snprintf(path, sizeof path, "%s/keys/%s.secret", home, as);
    if (cpm_identity_load(&id, path, &err) != 0)
        goto fail;
    void *zctx = zmq_ctx_new();
    cpm_client_t *c = NULL;
    if (cpm_client_new(&c, zctx, reg, &id, NULL, &err) != 0)
        goto fail;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char business[64], ref[64];
        snprintf(business, sizeof business, "Cửa hàng %s %d", tag, i);
        snprintf(ref, sizeof ref, "%s-%d", tag, i);
        Cpm__DataField f1 = CPM__DATA_FIELD__INIT, f2 = CPM__DATA_FIELD__INIT;
        f1.name = "business";
        f1.value = business;
        f2.name = "reason";
        f2.value = "repeated complaints";
        Cpm__DataField *fs[2] = {&f1, &f2};
        Cpm__ExchangePublish p = CPM__EXCHANGE_PUBLISH__INIT;
        p.dataset = "watchlist";
        p.fields = fs;
        p.n_fields = 2;
        p.client_ref = ref;
        cpm_msg_t reply = {0};
        rc = cpm_client_call_retry(c, node, "exchange", CPM__MSG_TYPE__MSG_EXCHANGE_PUBLISH,
                                   &p.base, 10000, 3, &reply, &err);
        cpm_msg_clear(&reply);
    }
    cpm_client_destroy(&c);
    zmq_ctx_term(zctx);
    cpm_registry_destroy(&reg);
    if (rc == 0)
        return 0;
fail:
    fprintf(stderr, "cpm_xpublish: error %d %s: %s\n", err.code, err.field, err.message);
    return 1;
}
