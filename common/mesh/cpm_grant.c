/* cpm_grant: see cpm_grant.h. */
#include "cpm_grant.h"

#include "cpm_envelope.h"
#include "cpm_util.h"
#include "cpm_verifier.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cpm_grant_sign(const cpm_identity_t *id, const char *gateway, int64_t now_ms, int64_t valid_ms,
                   uint8_t **out, size_t *out_len, cpm_error_t *err)
{
    *out = NULL;
    if (!gateway || !*gateway || strlen(gateway) >= 128)
        return cpm_error_set(err, CPM_E_INVALID, "gateway", "name the gateway's member id");
    if (valid_ms <= 0 || valid_ms > CPM_GRANT_MAX_MS)
        return cpm_error_set(err, CPM_E_INVALID, "hours",
                             "a grant lasts more than 0 and at most 12 hours");
    uint8_t nonce[CPM_GRANT_NONCE];
    randombytes_buf(nonce, sizeof nonce);
    Cpm__WebGrant g = CPM__WEB_GRANT__INIT;
    g.member = (char *)id->id;
    g.gateway = (char *)gateway;
    g.nonce = (ProtobufCBinaryData){sizeof nonce, nonce};
    g.issued_ms = now_ms;
    g.not_after_ms = now_ms + valid_ms;
    char recipient[160];
    snprintf(recipient, sizeof recipient, "%s/gateway", gateway);
    cpm_sender_t s;
    cpm_sender_init(&s, id, CPM_GRANT_INSTANCE);
    if (cpm_sender_seal(&s, CPM__MSG_TYPE__MSG_WEB_GRANT, recipient, NULL, &g.base, NULL, out,
                        out_len) != 0)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "could not sign the grant");
    return 0;
}

static int refuse(cpm_error_t *err, const char *fmt, const char *a, const char *b)
{
    return cpm_error_set(err, CPM_E_FORBIDDEN, "on_behalf", fmt, a ? a : "", b ? b : "");
}

static bool slice_is(cpm_slice_t s, const char *str)
{
    return s.len == strlen(str) && !memcmp(s.data, str, s.len);
}

int cpm_grant_verify(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                     const char *gateway, int64_t now_ms, cpm_grant_t *out, cpm_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (!frame || len == 0 || len > CPM_GRANT_FRAME_MAX)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "on_behalf",
                             "the grant is empty or longer than %d bytes", CPM_GRANT_FRAME_MAX);
    cpm_slice_t envb;
    const Cpm__Member *m = NULL;
    cpm_verdict_t v = cpm_verify_signed(reg, frame, len, &envb, &m);
    if (v == CPM_V_MALFORMED || v == CPM_V_OVERSIZE || v == CPM_V_BAD_VERSION)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "on_behalf",
                             "the grant is not a signed frame");
    if (v != CPM_V_OK)
        return refuse(err, "the grant's signature is not valid (%s)%s", cpm_verdict_name(v), "");
    cpm_envelope_view_t ev;
    if (cpm_envelope_parse_view(envb.data, envb.len, &ev) != 0)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "on_behalf",
                             "the grant is not a signed frame");
    char recipient[160];
    snprintf(recipient, sizeof recipient, "%s/gateway", gateway);
    if (ev.type != CPM__MSG_TYPE__MSG_WEB_GRANT ||
        !slice_is(ev.sender_instance, CPM_GRANT_INSTANCE))
        return refuse(err, "the frame is not a web grant%s%s", "", "");
    if (!slice_is(ev.recipient, recipient))
        return refuse(err, "the grant is not for gateway %s%s", gateway, "");
    Cpm__WebGrant *g = cpm__web_grant__unpack(NULL, ev.payload.len, ev.payload.data);
    if (!g)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "on_behalf",
                             "the grant's payload is not a WebGrant");
    /* Only a member the registry calls a gateway may act for a person. */
    const Cpm__Member *gm = cpm_registry_member(reg, gateway);
    int rc = 0;
    if (!gm || !gm->role || strcmp(gm->role, "gateway") != 0)
        rc = refuse(err, "%s is not a gateway in the registry (role %s)", gateway,
                    gm && gm->role ? gm->role : "none");
    else if (strcmp(g->member, m->id) != 0)
        rc = refuse(err, "the grant names %s but %s signed it", g->member, m->id);
    else if (strcmp(g->gateway, gateway) != 0)
        rc = refuse(err, "the grant is for gateway %s, not %s", g->gateway, gateway);
    else if (g->nonce.len != CPM_GRANT_NONCE)
        rc = refuse(err, "the grant's nonce is not 16 bytes%s%s", "", "");
    /* Both times are the signer's: bound each against our clock before any
     * subtraction, so no pair of values can overflow into a long grant. */
    else if (g->issued_ms <= 0 || g->not_after_ms <= g->issued_ms)
        rc = refuse(err, "the grant's issued_ms/not_after_ms are not a time span%s%s", "", "");
    else if (g->issued_ms < now_ms - CPM_GRANT_MAX_MS)
        rc = refuse(err, "the grant of %s was issued more than 12 hours ago%s", m->id, "");
    else if (g->issued_ms > now_ms + CPM_GRANT_SKEW_MS)
        rc = refuse(err, "the grant is issued in the future%s%s", "", "");
    else if (g->not_after_ms > now_ms + CPM_GRANT_MAX_MS + CPM_GRANT_SKEW_MS ||
             g->not_after_ms - g->issued_ms > CPM_GRANT_MAX_MS)
        rc = refuse(err, "the grant lasts more than 12 hours%s%s", "", "");
    else if (now_ms >= g->not_after_ms)
        rc = refuse(err, "the grant of %s has expired%s", m->id, "");
    if (rc == 0) {
        snprintf(out->member, sizeof out->member, "%s", m->id);
        snprintf(out->gateway, sizeof out->gateway, "%s", g->gateway);
        snprintf(out->role, sizeof out->role, "%s", m->role ? m->role : "");
        snprintf(out->agency, sizeof out->agency, "%s", m->agency ? m->agency : "");
        memcpy(out->nonce, g->nonce.data, CPM_GRANT_NONCE);
        out->issued_ms = g->issued_ms;
        out->not_after_ms = g->not_after_ms;
    }
    cpm__web_grant__free_unpacked(g, NULL);
    return rc;
}

int cpm_grant_token(const uint8_t *frame, size_t len, char *out, size_t cap)
{
    if (sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) > cap)
        return -1;
    sodium_bin2base64(out, cap, frame, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}

int cpm_grant_untoken(const char *token, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    size_t tlen = strlen(token);
    while (tlen && (token[tlen - 1] == '\n' || token[tlen - 1] == '\r' || token[tlen - 1] == ' '))
        tlen--;
    if (tlen == 0 || tlen > CPM_GRANT_TOKEN_MAX)
        return -1;
    uint8_t *buf = malloc(CPM_GRANT_FRAME_MAX);
    if (!buf)
        return -1;
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(buf, CPM_GRANT_FRAME_MAX, token, tlen, " \r\n", &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != token + tlen) {
        free(buf);
        return -1;
    }
    *out = buf, *out_len = n;
    return 0;
}

typedef struct {
    uint8_t nonce[CPM_GRANT_NONCE];
    char member[128];
    int64_t until_ms;
} nonce_t;

struct cpm_grant_nonces {
    nonce_t *v;
    size_t n, cap, per_member;
};

cpm_grant_nonces_t *cpm_grant_nonces_new(size_t cap, size_t per_member)
{
    cpm_grant_nonces_t *n = calloc(1, sizeof *n);
    if (n && !(n->v = calloc(cap ? cap : 1, sizeof *n->v))) {
        free(n);
        return NULL;
    }
    if (n)
        n->cap = cap ? cap : 1, n->per_member = per_member ? per_member : n->cap;
    return n;
}

void cpm_grant_nonces_destroy(cpm_grant_nonces_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->v);
    free(*p);
    *p = NULL;
}

int cpm_grant_nonce_use(cpm_grant_nonces_t *n, const cpm_grant_t *g, int64_t now_ms)
{
    size_t live = 0;
    for (size_t i = 0; i < n->n; i++) { /* forget the expired (their grants are refused anyway) */
        if (n->v[i].until_ms > now_ms)
            n->v[live++] = n->v[i];
    }
    n->n = live;
    size_t mine = 0;
    for (size_t i = 0; i < n->n; i++) {
        if (!sodium_memcmp(n->v[i].nonce, g->nonce, CPM_GRANT_NONCE))
            return CPM_E_CONFLICT;
        mine += !strcmp(n->v[i].member, g->member);
    }
    if (mine >= n->per_member)
        return CPM_E_FORBIDDEN; /* one member cannot fill the table for everyone */
    if (n->n >= n->cap)
        return CPM_E_UNAVAILABLE;
    nonce_t *v = &n->v[n->n++];
    memcpy(v->nonce, g->nonce, CPM_GRANT_NONCE);
    snprintf(v->member, sizeof v->member, "%s", g->member);
    /* never longer than a grant may last, whatever not_after_ms says */
    v->until_ms =
        g->not_after_ms < now_ms + CPM_GRANT_MAX_MS ? g->not_after_ms : now_ms + CPM_GRANT_MAX_MS;
    return 0;
}
