/* cpm_forge_complaint: submits one signed complaint in which a client sets
 * what only intake may set (the category suggestion, fields 33-36), or the
 * product, as tests/integration/test_triage.py needs: cpmctl never sends
 * those fields.
 *
 *   cpm_forge_complaint --home DIR --as ID --node MEMBER --business B --area A
 *                       --description D [--product P] [--field NAME=VALUE]
 *
 * --field sets category_suggested, suggestion_pm, category_by or
 * model_version. Prints {"ok":true,"ticket":T} or {"ok":false,"code":N,
 * "field":F,"message":M}. Exit 0 when an answer came, 1 otherwise, 2 on bad
 * usage. */
#include "cpm_client.h"
#include "cpm_keys.h"
#include "cpm_registry.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int main(int argc, char **argv)
{
    const char *home = NULL, *as = NULL, *node = NULL, *field = NULL;
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.channel = "web";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--home"))
            home = v;
        else if (!strcmp(k, "--as"))
            as = v;
        else if (!strcmp(k, "--node"))
            node = v;
        else if (!strcmp(k, "--business"))
            c.business_name = (char *)v;
        else if (!strcmp(k, "--area"))
            c.area = (char *)v;
        else if (!strcmp(k, "--description"))
            c.description = (char *)v;
        else if (!strcmp(k, "--product"))
            c.product = (char *)v;
        else if (!strcmp(k, "--field"))
            field = v;
        else
            home = NULL, i = argc;
    }
    if (!home || !as || !node || argc % 2 != 1) {
        fputs("usage: cpm_forge_complaint --home DIR --as ID --node MEMBER --business B --area A "
              "--description D [--product P] [--field NAME=VALUE]\n",
              stderr);
        return 2;
    }
    char value[256] = "";
    if (field) {
        const char *eq = strchr(field, '=');
        if (!eq)
            return 2;
        snprintf(value, sizeof value, "%s", eq + 1);
        size_t n = (size_t)(eq - field);
        if (!strncmp(field, "category_suggested", n))
            c.category_suggested = value;
        else if (!strncmp(field, "suggestion_pm", n))
            c.suggestion_pm = (uint32_t)strtoul(value, NULL, 10);
        else if (!strncmp(field, "category_by", n))
            c.category_by = value;
        else if (!strncmp(field, "model_version", n))
            c.model_version = value;
        else
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
    void *zctx = zmq_ctx_new();
    cpm_client_t *cl = NULL;
    if (cpm_client_new(&cl, zctx, reg, &id, NULL, &err) != 0)
        return fprintf(stderr, "client: %s\n", err.message), 1;
    cpm_msg_t reply = {0};
    int rc = cpm_client_call(cl, node, "intake", CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, &c.base,
                             15000, &reply, &err);
    json_t *out;
    if (rc == 0) {
        Cpm__SubmitReply *r =
            cpm__submit_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
        out = json_pack("{s:b, s:s}", "ok", 1, "ticket", r ? r->ticket : "");
        if (r)
            cpm__submit_reply__free_unpacked(r, NULL);
    } else {
        out = json_pack("{s:b, s:i, s:s, s:s}", "ok", 0, "code", rc, "field", err.field, "message",
                        err.message);
    }
    cpm_msg_clear(&reply);
    char *s = json_dumps(out, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(out);
    cpm_client_destroy(&cl);
    zmq_ctx_term(zctx);
    cpm_registry_destroy(&reg);
    cpm_identity_wipe(&id);
    return rc == CPM_E_TIMEOUT || rc == CPM_E_UNAVAILABLE ? 1 : 0;
}
