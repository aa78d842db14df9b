/* cpm_sign_act: signs an officer's case action with a key from a .secret file
 * and prints the SignedEnvelope as hex, without sending it. The integration
 * tests use it to forge an act with a key the registry has since rotated
 * (tests/integration/test_key_history.py): the wire would refuse such a key,
 * so the forgery can only reach routing inside an agency node's update.
 *
 *   cpm_sign_act --secret FILE --ticket T --action accept|start|... --acted-ms MS
 *                [--recipient MEMBER/SERVICE]
 *
 * Exit 0 and one hex line, 1 on a failure, 2 on bad usage. */
#include "cpm_envelope.h"
#include "cpm_keys.h"
#include "cpm_util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kind_of(const char *name)
{
    const ProtobufCEnumDescriptor *d = &cpm__case_action_kind__descriptor;
    char want[64];
    snprintf(want, sizeof want, "CASE_ACTION_%s", name);
    for (char *p = want; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    for (unsigned i = 0; i < d->n_values; i++)
        if (strcmp(d->values[i].name, want) == 0)
            return d->values[i].value;
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"secret", required_argument, 0, 's'},    {"ticket", required_argument, 0, 't'},
        {"action", required_argument, 0, 'a'},    {"acted-ms", required_argument, 0, 'm'},
        {"recipient", required_argument, 0, 'r'}, {0, 0, 0, 0}};
    const char *secret = NULL, *ticket = NULL, *action = NULL, *recipient = "x/inspection";
    long long acted = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            secret = optarg;
            break;
        case 't':
            ticket = optarg;
            break;
        case 'a':
            action = optarg;
            break;
        case 'm':
            acted = strtoll(optarg, NULL, 10);
            break;
        case 'r':
            recipient = optarg;
            break;
        default:
            return 2;
        }
    }
    int kind = action ? kind_of(action) : -1;
    if (!secret || !ticket || kind < 0) {
        fprintf(stderr, "usage: cpm_sign_act --secret FILE --ticket T --action A --acted-ms MS\n");
        return 2;
    }
    cpm_identity_t id;
    cpm_error_t err;
    if (cpm_identity_load(&id, secret, &err) != 0) {
        fprintf(stderr, "cpm_sign_act: %s\n", err.message);
        return 1;
    }
    Cpm__CaseAction a = CPM__CASE_ACTION__INIT;
    a.ticket = (char *)ticket;
    a.action = (Cpm__CaseActionKind)kind;
    a.acted_ms = acted;
    a.client_id = "forged.0001";
    uint8_t payload[1024];
    if (cpm__case_action__get_packed_size(&a) > sizeof payload)
        return 1;
    size_t plen = cpm__case_action__pack(&a, payload);
    cpm_env_fields_t f = {.sender = id.id,
                          .sender_instance = "cpmctl",
                          .key_id = id.key_id,
                          .seq = (uint64_t)cpm_now_ms() * 1000,
                          .sent_ms = cpm_now_ms(),
                          .type = CPM__MSG_TYPE__MSG_CASE_ACTION,
                          .msg_id = "forged",
                          .recipient = recipient,
                          .payload = payload,
                          .payload_len = plen};
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = cpm_envelope_seal(&f, id.sign_sk, &out, &len);
    cpm_identity_wipe(&id);
    if (rc != 0)
        return 1;
    for (size_t i = 0; i < len; i++)
        printf("%02x", out[i]);
    printf("\n");
    free(out);
    return 0;
}
