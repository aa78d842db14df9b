/* Fuzz target: the signed registry a service loads (at start and on every
 * reload) and cpmctl reads, through cpm_registry_from_signed.
 *
 * Input byte 0 chooses the form:
 *   even: the rest is the SignedRegistry file as it is on disk (checked
 *         against the vectors' root key: mostly a bad signature or encoding).
 *   odd:  the rest is a serialized Registry, validly signed by the vectors'
 *         root key here, so the fuzzer reaches the decoder, the validation
 *         (cpm_registry_validate) and the lookups behind the signature.
 * A registry that loads is then queried the way the verifier and the
 * services query it. */
#include "fuzz_env.h"

#include "cpm_envelope.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void query(const cpm_registry_t *r)
{
    const Cpm__Registry *doc = cpm_registry_doc(r);
    (void)cpm_registry_version(r);
    for (size_t i = 0; i < doc->n_members; i++) {
        const Cpm__Member *m = doc->members[i];
        char kid[CPM_KEY_ID_LEN + 1];
        cpm_member_key_id(m, kid);
        (void)cpm_registry_key_revoked(r, kid);
        (void)cpm_registry_member(r, m->id);
        if (m->curve_pk.len == 32)
            (void)cpm_registry_member_by_curve(r, m->curve_pk.data);
        (void)cpm_member_service(m, "intake");
        (void)cpm_member_may_send(m, "submit_complaint", "intake");
        (void)cpm_member_may_send(m, cpm_msg_type_name(CPM__MSG_TYPE__MSG_CASE_BATCH), "routing");
        if (*m->area)
            (void)cpm_registry_area_office(r, m->area);
    }
    (void)cpm_registry_find_service(r, "routing");
    (void)cpm_registry_area_office(r, "hoan-kiem");
}

static uint8_t *sign_doc(const uint8_t *doc, size_t len, size_t *out_len)
{
    static const char domain[] = CPM_REGISTRY_DOMAIN;
    uint8_t *msg = malloc(sizeof domain + len);
    uint8_t sig[64];
    if (!msg)
        return NULL;
    memcpy(msg, domain, sizeof domain); /* with its zero byte */
    if (len)
        memcpy(msg + sizeof domain, doc, len);
    crypto_sign_detached(sig, NULL, msg, sizeof domain + len, fz_root()->sign_sk);
    free(msg);
    Cpm__SignedRegistry sr = CPM__SIGNED_REGISTRY__INIT;
    sr.registry.data = (uint8_t *)doc;
    sr.registry.len = len;
    sr.signature.data = sig;
    sr.signature.len = sizeof sig;
    *out_len = cpm__signed_registry__get_packed_size(&sr);
    uint8_t *out = malloc(*out_len ? *out_len : 1);
    if (out)
        cpm__signed_registry__pack(&sr, out);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *root_pk = fz_root()->sign_pk;
    uint8_t *signed_buf = NULL;
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    if (data[0] % 2 == 1) {
        signed_buf = sign_doc(data + 1, size - 1, &len);
        if (!signed_buf)
            return 0;
        buf = signed_buf;
    }
    char err[256];
    cpm_registry_t *r = cpm_registry_from_signed(buf, len, root_pk, err, sizeof err);
    if (r)
        query(r);
    cpm_registry_destroy(&r);
    free(signed_buf);
    return 0;
}
