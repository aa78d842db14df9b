/* cpmctl receipt verify FILE: check a stand-alone group-receipt proof (docs/protocol.md 26.6)
 * with the home's signed registry alone, as any third party can: no identity, no network. */
#include "ctl.h"

#include "cpm_receipt.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: cpmctl [--home DIR] [--json] receipt verify [--json] FILE\n"
    "\n"
    "Checks a stand-alone proof of one answer of a group receipt (a file a client saved):\n"
    "the signature of the group's root by the intake of a member of the registry in DIR,\n"
    "with the key it had when the group committed (current, or since rotated or revoked)\n"
    "(instance intake.reply: no other member or service answers a submit), then the proof's\n"
    "path to that root. Prints who signed and which service, when the group committed\n"
    "(Vietnam time), whom the answer was for, the ticket or the error given to the item, and\n"
    "the item's SHA-256. Exit 0 when the proof holds, 1 (with the field that fails) otherwise.\n"
    "The proof holds the ticket's lookup code (the secret of its public status view): only\n"
    "--json prints it, for a program; hand a proof only to whom may read the ticket's status.\n";

/* The home's registry, checked against its root key; no identity needed. */
static int load_registry(const ctl_opts_t *o, cpm_registry_t **reg, cpm_error_t *e)
{
    char home[1024], path[1200];
    ctl_home(o->home, home, sizeof home);
    cpm_public_t root;
    cpm_error_t kerr = {0};
    snprintf(path, sizeof path, "%s/keys/root.public", home);
    if (cpm_public_load(&root, path, &kerr) != 0)
        return cpm_error_set(e, CPM_E_NOT_FOUND, "home", "no mesh at %s (%s); pass --home", home,
                             kerr.message);
    snprintf(path, sizeof path, "%s/registry.signed", home);
    if (cpm_registry_load(path, root.sign_pk, reg, &kerr) != 0)
        return cpm_error_set(e, CPM_E_INVALID, "registry", "registry %s: %s", path, kerr.message);
    return 0;
}

/* The answer's own words: a SubmitReply or an ErrorReply, decoded from a leaf the signature
 * covers (still checked: a service's bytes are not trusted to be well-formed). */
static json_t *answer_json(const Cpm__ReceiptLeaf *l, bool print)
{
    const ProtobufCBinaryData *p = &l->payload;
    if (l->type == CPM__MSG_TYPE__MSG_SUBMIT_REPLY) {
        Cpm__SubmitReply *r = cpm__submit_reply__unpack(NULL, p->len, p->data);
        if (!r)
            return NULL;
        if (print)
            printf("answer       ticket %s, lookup code %s%s\n", ctl_safe(r->ticket),
                   *r->lookup_code ? "held (secret: --json prints it)" : "-",
                   r->duplicate ? " (a duplicate: filed before)" : "");
        json_t *j = json_pack("{s:s,s:s,s:b}", "ticket", ctl_utf8(r->ticket), "lookup_code",
                              ctl_utf8(r->lookup_code), "duplicate", r->duplicate);
        cpm__submit_reply__free_unpacked(r, NULL);
        return j;
    }
    Cpm__ErrorReply *e = cpm__error_reply__unpack(NULL, p->len, p->data);
    if (!e)
        return NULL;
    if (print)
        printf("answer       error %u (%s)%s%s: %s\n", e->code, cpm_err_name((int)e->code),
               *e->field ? " in " : "", ctl_safe(e->field), ctl_safe(e->message));
    json_t *j =
        json_pack("{s:{s:i,s:s,s:s,s:b}}", "error", "code", (int)e->code, "field",
                  ctl_utf8(e->field), "message", ctl_utf8(e->message), "retryable", e->retryable);
    cpm__error_reply__free_unpacked(e, NULL);
    return j;
}

static int verify_file(const ctl_opts_t *o, bool json, const char *file)
{
    ctl_t c = {0};
    cpm_error_t e = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (cpm_read_file(file, CPM_MAX_MSG, &buf, &len) != 0) {
        cpm_error_set(&e, CPM_E_NOT_FOUND, "file", "cannot read %s (or larger than 4 MiB)", file);
        return ctl_fail(&c, json, &e);
    }
    cpm_registry_t *reg = NULL;
    if (load_registry(o, &reg, &e) != 0) {
        free(buf);
        return ctl_fail(&c, json, &e);
    }
    Cpm__ReceiptLeaf *leaf = NULL;
    const Cpm__Member *signer = NULL;
    int64_t at = 0;
    cpm_key_standing_t st = CPM_KEY_CURRENT;
    int rc = cpm_receipt_check(reg, buf, len, &leaf, &signer, &at, &st, &e);
    free(buf);
    if (rc != 0) {
        cpm_registry_destroy(&reg);
        return ctl_fail(&c, json, &e);
    }
    char t[40], hash[65];
    cpm_hex_encode(leaf->item_hash.data, leaf->item_hash.len, hash);
    if (!json) {
        printf("proof        holds\nsigner       %s (%s)\nservice      %s\n", ctl_safe(signer->id),
               ctl_safe(signer->name), CPM_RECEIPT_SERVICE);
        /* judged at the group's time: a key since rotated or revoked still proves it */
        printf("key          %s%s\n", cpm_key_standing_name(st),
               st == CPM_KEY_ROTATED   ? " (replaced since; it was the signer's key then)"
               : st == CPM_KEY_REVOKED ? " (signed by a now-revoked key, before its revocation)"
                                       : "");
        printf("committed    %s Asia/Ho_Chi_Minh\n", ctl_time_vn(at, t));
        printf("for          %s, request %s, item %u\n", ctl_safe(leaf->recipient),
               ctl_safe(leaf->correlation_id), leaf->item);
    }
    json_t *ans = answer_json(leaf, !json);
    if (!ans) {
        cpm_error_set(&e, CPM_E_BAD_MESSAGE, "proofs[0].leaf.payload",
                      "the signed answer is not a %s",
                      leaf->type == CPM__MSG_TYPE__MSG_ERROR ? "ErrorReply" : "SubmitReply");
        cpm__receipt_leaf__free_unpacked(leaf, NULL);
        cpm_registry_destroy(&reg);
        return ctl_fail(&c, json, &e);
    }
    if (json) {
        json_t *j = json_pack("{s:b,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:i,s:s,s:s}", "ok", 1,
                              "signer", signer->id, "key_standing", cpm_key_standing_name(st),
                              "service", CPM_RECEIPT_SERVICE, "committed_ms", (json_int_t)at,
                              "committed", ctl_time_vn(at, t), "zone", "Asia/Ho_Chi_Minh",
                              "recipient", ctl_utf8(leaf->recipient), "correlation_id",
                              ctl_utf8(leaf->correlation_id), "item", (int)leaf->item, "type",
                              cpm_msg_type_name(leaf->type), "item_hash", hash);
        if (j)
            json_object_update(j, ans);
        ctl_print_json(j);
    } else {
        printf("item hash    %s\n", hash);
    }
    json_decref(ans);
    cpm__receipt_leaf__free_unpacked(leaf, NULL);
    cpm_registry_destroy(&reg);
    return 0;
}

int ctl_cmd_receipt(const ctl_opts_t *o, int argc, char **argv)
{
    bool json = o->json;
    const char *file = NULL;
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
        fputs(usage, help ? stdout : stderr);
        return help ? 0 : 2;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "cpmctl receipt verify: unexpected argument %s\n%s", argv[i], usage);
            return 2;
        } else
            file = argv[i];
    }
    if (!file) {
        fputs(usage, stderr);
        return 2;
    }
    return verify_file(o, json, file);
}
