/* cpm_keyhist: key history of members and time-aware verification of kept
 * signed acts (see cpm_keyhist.h and docs/protocol.md 13.1). The wire's own
 * checks stay in cpm_verifier.c and never consult past keys. */
#include "cpm_keyhist.h"

#include "cpm_keys.h"
#include "cpm_util.h"

#include <stdio.h>
#include <string.h>

const char *cpm_key_standing_name(cpm_key_standing_t s)
{
    switch (s) {
    case CPM_KEY_CURRENT:
        return "current";
    case CPM_KEY_ROTATED:
        return "rotated";
    case CPM_KEY_REVOKED:
        return "revoked";
    }
    return "invalid";
}

int64_t cpm_keyhist_current_since(const Cpm__Member *m)
{
    int64_t since = 0;
    for (size_t i = 0; m && i < m->n_past_keys; i++)
        if (m->past_keys[i]->valid_until_ms > since)
            since = m->past_keys[i]->valid_until_ms;
    return since;
}

static bool key_is(const uint8_t *pk, size_t len, const char *key_id)
{
    if (len != 32)
        return false;
    char kid[CPM_KEY_ID_LEN + 1];
    cpm_key_id(pk, kid);
    return strcmp(kid, key_id) == 0;
}

int cpm_keyhist_find(const cpm_registry_t *reg, const Cpm__Member *m, const char *key_id,
                     cpm_member_key_t *out)
{
    if (!reg || !m || !key_id || !out)
        return -1;
    memset(out, 0, sizeof *out);
    if (key_is(m->sign_pk.data, m->sign_pk.len, key_id)) {
        /* Any time before its revocation: the act's time is when it
         * happened, and an act recorded offline before a rotation may be
         * signed and sent with the new key (the wire checked that key). */
        out->pk = m->sign_pk.data;
        out->from_ms = 0;
        out->until_ms = m->key_revoked_ms;
        out->current = true;
    } else {
        size_t i = 0;
        while (i < m->n_past_keys &&
               !key_is(m->past_keys[i]->sign_pk.data, m->past_keys[i]->sign_pk.len, key_id))
            i++;
        if (i == m->n_past_keys)
            return -1;
        out->pk = m->past_keys[i]->sign_pk.data;
        out->from_ms = m->past_keys[i]->valid_from_ms;
        out->until_ms = m->past_keys[i]->valid_until_ms;
    }
    out->revoked = cpm_registry_key_revoked(reg, key_id);
    return 0;
}

cpm_verdict_t cpm_keyhist_check_at(const cpm_member_key_t *k, int64_t at_ms,
                                   cpm_key_standing_t *standing)
{
    /* A current key listed as revoked without key_revoked_ms has no time
     * before which it was good: nothing it signed can be told apart from a
     * forgery, so nothing verifies. */
    if (k->revoked && k->current && k->until_ms == 0)
        return CPM_V_REVOKED_KEY;
    if (at_ms < k->from_ms || (k->until_ms && at_ms >= k->until_ms))
        return CPM_V_KEY_NOT_VALID_AT;
    *standing = k->revoked ? CPM_KEY_REVOKED : k->current ? CPM_KEY_CURRENT : CPM_KEY_ROTATED;
    return CPM_V_OK;
}

cpm_verdict_t cpm_verify_signed_key(const cpm_registry_t *reg, const uint8_t *buf, size_t len,
                                    cpm_slice_t *envb, cpm_envelope_view_t *view,
                                    const Cpm__Member **member, cpm_member_key_t *key)
{
    if (!reg || !buf || !envb || !view || !member || !key)
        return CPM_V_MALFORMED;
    if (len > CPM_MAX_MSG)
        return CPM_V_OVERSIZE;
    cpm_slice_t sig;
    if (cpm_envelope_parse_signed(buf, len, envb, &sig) != 0 ||
        cpm_envelope_parse_view(envb->data, envb->len, view) != 0)
        return CPM_V_MALFORMED;
    if (!cpm_envelope_version_known(view->version))
        return CPM_V_BAD_VERSION;
    /* the same bounds as the wire (cpm_verifier.c) */
    if (view->sender_instance.len == 0 || view->sender_instance.len > CPM_INSTANCE_MAX)
        return CPM_V_MALFORMED;
    char sender[128], key_id[CPM_KEY_ID_LEN + 1];
    const Cpm__Member *m = NULL;
    if (view->sender.len < sizeof sender) {
        snprintf(sender, sizeof sender, "%.*s", (int)view->sender.len,
                 (const char *)view->sender.data);
        m = cpm_registry_member(reg, sender);
    }
    if (!m)
        return CPM_V_UNKNOWN_SENDER;
    if (view->key_id.len != CPM_KEY_ID_LEN)
        return CPM_V_UNKNOWN_KEY;
    snprintf(key_id, sizeof key_id, "%.*s", (int)view->key_id.len, (const char *)view->key_id.data);
    if (cpm_keyhist_find(reg, m, key_id, key) != 0)
        return CPM_V_UNKNOWN_KEY;
    if (cpm_envelope_verify_sig(view->version, envb->data, envb->len, sig.data, sig.len, key->pk) !=
        0)
        return CPM_V_BAD_SIGNATURE;
    *member = m;
    return CPM_V_OK;
}

cpm_verdict_t cpm_verify_signed_at(const cpm_registry_t *reg, const uint8_t *buf, size_t len,
                                   int64_t at_ms, const Cpm__Member **member,
                                   cpm_key_standing_t *standing)
{
    cpm_slice_t envb;
    cpm_envelope_view_t v;
    cpm_member_key_t k;
    const Cpm__Member *m = NULL;
    cpm_verdict_t r = cpm_verify_signed_key(reg, buf, len, &envb, &v, &m, &k);
    if (r == CPM_V_OK)
        r = cpm_keyhist_check_at(&k, at_ms ? at_ms : v.sent_ms, standing);
    if (r == CPM_V_OK && member)
        *member = m;
    return r;
}

/* ---- validation ---------------------------------------------------------- */

static bool listed_revoked(const Cpm__Registry *doc, const char *kid)
{
    for (size_t i = 0; i < doc->n_revoked_keys; i++)
        if (doc->revoked_keys[i] && strcmp(doc->revoked_keys[i], kid) == 0)
            return true;
    return false;
}

static int check_past(const Cpm__Member *m, size_t i, char *err, size_t errlen)
{
    const Cpm__PastKey *p = m->past_keys[i];
    if (!p || p->sign_pk.len != 32) {
        cpm_errf(err, errlen, "member %s: past_keys[%zu].sign_pk is %zu bytes; it must be 32",
                 m->id, i, p ? p->sign_pk.len : 0);
        return -1;
    }
    if (p->valid_from_ms < 0 || p->valid_until_ms <= p->valid_from_ms) {
        cpm_errf(err, errlen,
                 "member %s: past_keys[%zu].valid_until_ms (%lld) must be after valid_from_ms "
                 "(%lld)",
                 m->id, i, (long long)p->valid_until_ms, (long long)p->valid_from_ms);
        return -1;
    }
    if (m->sign_pk.len == 32 && memcmp(p->sign_pk.data, m->sign_pk.data, 32) == 0) {
        cpm_errf(err, errlen, "member %s: past_keys[%zu].sign_pk is the current sign_pk", m->id, i);
        return -1;
    }
    for (size_t j = 0; j < i; j++) {
        const Cpm__PastKey *q = m->past_keys[j];
        if (memcmp(p->sign_pk.data, q->sign_pk.data, 32) == 0) {
            cpm_errf(err, errlen, "member %s: past_keys[%zu].sign_pk is also past_keys[%zu]", m->id,
                     i, j);
            return -1;
        }
        if (p->valid_from_ms < q->valid_until_ms && q->valid_from_ms < p->valid_until_ms) {
            cpm_errf(err, errlen,
                     "member %s: past_keys[%zu] (valid_from_ms..valid_until_ms) overlaps "
                     "past_keys[%zu]",
                     m->id, i, j);
            return -1;
        }
    }
    return 0;
}

int cpm_keyhist_validate(const Cpm__Registry *doc, const Cpm__Member *m, char *err, size_t errlen)
{
    if (m->n_past_keys > CPM_KEYHIST_MAX) {
        cpm_errf(err, errlen, "member %s: past_keys has %zu entries; at most %d are kept", m->id,
                 m->n_past_keys, CPM_KEYHIST_MAX);
        return -1;
    }
    for (size_t i = 0; i < m->n_past_keys; i++)
        if (check_past(m, i, err, errlen) != 0)
            return -1;
    if (m->key_revoked_ms < 0) {
        cpm_errf(err, errlen, "member %s: key_revoked_ms is negative", m->id);
        return -1;
    }
    if (m->key_revoked_ms > 0) {
        /* The current key's period is [since, key_revoked_ms): it must not be
         * empty, and the wire must refuse the key as well. */
        if (m->key_revoked_ms <= cpm_keyhist_current_since(m)) {
            cpm_errf(err, errlen,
                     "member %s: key_revoked_ms is not after the end of its past_keys (the "
                     "current key's start)",
                     m->id);
            return -1;
        }
        char kid[CPM_KEY_ID_LEN + 1];
        cpm_member_key_id(m, kid);
        if (!listed_revoked(doc, kid)) {
            cpm_errf(err, errlen,
                     "member %s: key_revoked_ms is set but key id %s is not in revoked_keys", m->id,
                     kid);
            return -1;
        }
    }
    return 0;
}
