/* cpm_xlog: hashing and verification of the exchange's proof log. See
 * cpm_xlog.h. */
#include "cpm_xlog.h"

#include "cpm_pbcheck.h"
#include "cpm_util.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cpm_xlog_content(const uint8_t *body, size_t len, uint8_t content[32])
{
    crypto_hash_sha256(content, body, len);
}

void cpm_xlog_link(const uint8_t prev[32], const uint8_t content[32], uint8_t out[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)CPM_XLOG_DOMAIN, sizeof CPM_XLOG_DOMAIN);
    crypto_hash_sha256_update(&st, prev, 32);
    crypto_hash_sha256_update(&st, content, 32);
    crypto_hash_sha256_final(&st, out);
}

int cpm_xlog_problem(cpm_xlog_problem_t *p, uint64_t seq, const char *fmt, ...)
{
    if (p) {
        p->seq = seq;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->what, sizeof p->what, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The seq a record's body says, or 0 when the body is not a LogEntry. */
static uint64_t body_seq(const Cpm__LogRecord *r)
{
    Cpm__LogEntry *e =
        cpm__log_entry__unpack(cpm_pb_budget(r->body.len), r->body.len, r->body.data);
    uint64_t s = e ? e->seq : 0;
    if (e)
        cpm__log_entry__free_unpacked(e, NULL);
    return s;
}

int cpm_xlog_verify_run(Cpm__LogRecord *const *records, size_t n, cpm_xlog_head_t *head,
                        cpm_xlog_problem_t *p)
{
    for (size_t i = 0; i < n; i++) {
        const Cpm__LogRecord *r = records[i];
        uint64_t want = head->seq + 1;
        /* a record without its body (a page for another agency) carries its
         * seq and content hash instead: the chain is checked all the same */
        bool hashed = r && r->body.len == 0 && r->content_hash.len == 32 && r->seq;
        uint64_t s = !r ? 0 : hashed ? r->seq : body_seq(r);
        if (s == 0)
            return cpm_xlog_problem(
                p, want, "seq %llu: the record's body is not a log entry (a changed byte)",
                (unsigned long long)want);
        bool first_of_page = head->seq == 0 && i == 0;
        /* a page may start anywhere: its first record sets the count */
        if (first_of_page && head->any_start)
            want = s;
        if (s != want) {
            /* a later record with the wanted seq: the pair is out of order */
            for (size_t j = i + 1; j < n; j++)
                if (records[j] &&
                    (records[j]->body.len ? body_seq(records[j]) : records[j]->seq) == want)
                    return cpm_xlog_problem(p, want,
                                            "seq %llu: out of order (seq %llu stands in its place)",
                                            (unsigned long long)want, (unsigned long long)s);
            if (s > want)
                return cpm_xlog_problem(
                    p, want, "seq %llu: missing (the record after seq %llu is seq %llu)",
                    (unsigned long long)want, (unsigned long long)head->seq, (unsigned long long)s);
            return cpm_xlog_problem(p, want, "seq %llu: out of order (seq %llu follows seq %llu)",
                                    (unsigned long long)want, (unsigned long long)s,
                                    (unsigned long long)head->seq);
        }
        if (r->prev_hash.len != 32 || r->hash.len != 32)
            return cpm_xlog_problem(p, s, "seq %llu: prev_hash and hash must be 32 bytes",
                                    (unsigned long long)s);
        if (first_of_page && s == 1 && !sodium_is_zero(r->prev_hash.data, 32))
            return cpm_xlog_problem(p, s, "seq 1: prev_hash is not zero");
        if (!first_of_page && memcmp(r->prev_hash.data, head->hash, 32) != 0)
            return cpm_xlog_problem(
                p, s, "seq %llu: prev_hash is not the hash of seq %llu (a record changed)",
                (unsigned long long)s, (unsigned long long)head->seq);
        uint8_t c[32], h[32];
        if (hashed)
            memcpy(c, r->content_hash.data, 32);
        else
            cpm_xlog_content(r->body.data, r->body.len, c);
        cpm_xlog_link(r->prev_hash.data, c, h);
        if (memcmp(h, r->hash.data, 32) != 0)
            return cpm_xlog_problem(p, s, "seq %llu: hash does not match its body (a changed byte)",
                                    (unsigned long long)s);
        head->seq = s;
        memcpy(head->hash, h, 32);
    }
    return 0;
}

int cpm_xcheckpoint_seal(cpm_sender_t *s, const char *agency, uint64_t seq, const uint8_t head[32],
                         int64_t at_ms, uint8_t **out, size_t *out_len)
{
    Cpm__Checkpoint c = CPM__CHECKPOINT__INIT;
    c.agency = (char *)agency;
    c.seq = seq;
    c.head_hash.data = (uint8_t *)head;
    c.head_hash.len = 32;
    c.at_ms = at_ms;
    return cpm_sender_seal(s, CPM__MSG_TYPE__MSG_EXCHANGE_CHECKPOINT, agency, NULL, &c.base, NULL,
                           out, out_len);
}

int cpm_xcheckpoint_verify(const cpm_registry_t *reg, const uint8_t *frame, size_t len,
                           Cpm__Checkpoint **out, cpm_xlog_problem_t *p)
{
    cpm_slice_t envb;
    cpm_envelope_view_t v;
    const Cpm__Member *m = NULL;
    cpm_member_key_t k;
    *out = NULL;
    cpm_verdict_t r = cpm_verify_signed_key(reg, frame, len, &envb, &v, &m, &k);
    if (r != CPM_V_OK)
        return cpm_xlog_problem(p, 0, "checkpoint: signature refused (%s)", cpm_verdict_name(r));
    if (v.type != CPM__MSG_TYPE__MSG_EXCHANGE_CHECKPOINT)
        return cpm_xlog_problem(p, 0,
                                "checkpoint: envelope type %llu is not MSG_EXCHANGE_CHECKPOINT",
                                (unsigned long long)v.type);
    Cpm__Checkpoint *c =
        cpm__checkpoint__unpack(cpm_pb_budget(v.payload.len), v.payload.len, v.payload.data);
    if (!c)
        return cpm_xlog_problem(p, 0, "checkpoint: payload is not a Checkpoint");
    cpm_key_standing_t standing;
    if (!c->agency || strcmp(c->agency, m->id) != 0) {
        cpm_xlog_problem(p, c->seq, "checkpoint %llu: agency \"%.60s\" is not its signer %.60s",
                         (unsigned long long)c->seq, c->agency ? c->agency : "", m->id);
    } else if (c->head_hash.len != 32 || c->seq == 0) {
        cpm_xlog_problem(p, c->seq, "checkpoint %llu: head_hash must be 32 bytes and seq > 0",
                         (unsigned long long)c->seq);
    } else if (cpm_keyhist_check_at(&k, c->at_ms, &standing) != CPM_V_OK) {
        cpm_xlog_problem(p, c->seq, "checkpoint %llu: %s's key was not valid at at_ms %lld",
                         (unsigned long long)c->seq, m->id, (long long)c->at_ms);
    } else {
        *out = c;
        return 0;
    }
    cpm__checkpoint__free_unpacked(c, NULL);
    return -1;
}

/* Ed25519 (pure, not the prehash variant): the message is the concatenation,
 * built in one buffer so that any Ed25519 library verifies it. */
static uint8_t *cosign_msg(const uint8_t *frame, size_t len, int64_t at_ms, size_t *mlen)
{
    *mlen = sizeof CPM_XCOSIGN_DOMAIN + len + 8;
    uint8_t *m = malloc(*mlen);
    if (!m)
        return NULL;
    memcpy(m, CPM_XCOSIGN_DOMAIN, sizeof CPM_XCOSIGN_DOMAIN);
    memcpy(m + sizeof CPM_XCOSIGN_DOMAIN, frame, len);
    cpm_put_be64(m + sizeof CPM_XCOSIGN_DOMAIN + len, (uint64_t)at_ms);
    return m;
}

int cpm_xcosign_sign(const uint8_t sk[64], const uint8_t *frame, size_t len, int64_t at_ms,
                     uint8_t sig[64])
{
    size_t mlen;
    uint8_t *m = cosign_msg(frame, len, at_ms, &mlen);
    if (!m)
        return -1;
    int rc = crypto_sign_detached(sig, NULL, m, mlen, sk);
    free(m);
    return rc == 0 ? 0 : -1;
}

int cpm_xcosign_check(const uint8_t pk[32], const uint8_t *frame, size_t len, int64_t at_ms,
                      const uint8_t *sig, size_t sig_len)
{
    if (sig_len != 64)
        return -1;
    size_t mlen;
    uint8_t *m = cosign_msg(frame, len, at_ms, &mlen);
    if (!m)
        return -1;
    int rc = crypto_sign_verify_detached(sig, m, mlen, pk);
    free(m);
    return rc == 0 ? 0 : -1;
}

int cpm_xcosign_verify(const cpm_registry_t *reg, const Cpm__Cosignature *c, const char *agency,
                       const uint8_t *frame, size_t len, uint64_t seq, cpm_xlog_problem_t *p)
{
    const char *who = c && c->cosigner ? c->cosigner : "";
    const Cpm__Member *m = cpm_registry_member(reg, who);
    if (!m)
        return cpm_xlog_problem(p, seq,
                                "checkpoint %llu: cosigner \"%.60s\" is not in the registry",
                                (unsigned long long)seq, who);
    /* A peer agency's exchange node: not the agency itself, nor one of its
     * people (an officer could be made to sign anything its agency wants). */
    if (agency && (strcmp(agency, who) == 0 || (m->agency && strcmp(m->agency, agency) == 0)))
        return cpm_xlog_problem(p, seq,
                                "checkpoint %llu: cosigned by %.60s of its own agency %.60s",
                                (unsigned long long)seq, who, agency);
    if (!cpm_member_service(m, "exchange"))
        return cpm_xlog_problem(
            p, seq, "checkpoint %llu: cosigner %.60s runs no exchange: not a peer agency",
            (unsigned long long)seq, who);
    /* no key id travels with a cosignature: try each key of the member */
    for (size_t i = 0; i <= m->n_past_keys; i++) {
        const uint8_t *pk = i == 0 ? m->sign_pk.data : m->past_keys[i - 1]->sign_pk.data;
        size_t pklen = i == 0 ? m->sign_pk.len : m->past_keys[i - 1]->sign_pk.len;
        if (pklen != 32)
            continue;
        char kid[CPM_KEY_ID_LEN + 1];
        cpm_member_key_t k;
        cpm_key_standing_t standing;
        cpm_key_id(pk, kid);
        if (cpm_keyhist_find(reg, m, kid, &k) != 0)
            continue;
        if (cpm_xcosign_check(pk, frame, len, c->at_ms, c->signature.data, c->signature.len) != 0)
            continue;
        if (cpm_keyhist_check_at(&k, c->at_ms, &standing) != CPM_V_OK)
            return cpm_xlog_problem(p, seq,
                                    "checkpoint %llu: %s's cosigning key was not valid at %lld",
                                    (unsigned long long)seq, who, (long long)c->at_ms);
        return 0;
    }
    return cpm_xlog_problem(p, seq,
                            "checkpoint %llu: cosignature of %.60s does not verify (forged)",
                            (unsigned long long)seq, who);
}

int cpm_xcheckpoint_verify_signed(const cpm_registry_t *reg, const Cpm__SignedCheckpoint *sc,
                                  Cpm__Checkpoint **out, cpm_xlog_problem_t *p)
{
    Cpm__Checkpoint *c = NULL;
    if (out)
        *out = NULL;
    if (cpm_xcheckpoint_verify(reg, sc->checkpoint.data, sc->checkpoint.len, &c, p) != 0)
        return -1;
    for (size_t i = 0; i < sc->n_cosignatures; i++)
        if (cpm_xcosign_verify(reg, sc->cosignatures[i], c->agency, sc->checkpoint.data,
                               sc->checkpoint.len, c->seq, p) != 0) {
            cpm__checkpoint__free_unpacked(c, NULL);
            return -1;
        }
    if (out)
        *out = c;
    else
        cpm__checkpoint__free_unpacked(c, NULL);
    return 0;
}
