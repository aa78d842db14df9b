/* cpm_verifier: the checks a receiver makes on every frame, in the order of
 * cpm_verifier.h. Cheap checks come first; the signature before anything that
 * trusts the envelope's content; the replay window last, so that a frame
 * refused for any other reason cannot use up a sequence number. */
#include "cpm_verifier.h"
#include "cpm_clock.h"
#include "cpm_util.h"

#include "cpm_envelope.h"
#include "cpm_replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cpm_verifier {
    int64_t max_skew_ms;
    cpm_replay_t *replay;
    uint64_t counts[CPM_V_COUNT];
};

static const char *const verdict_names[CPM_V_COUNT] = {
    [CPM_V_OK] = "ok",
    [CPM_V_OVERSIZE] = "oversize",
    [CPM_V_MALFORMED] = "malformed",
    [CPM_V_BAD_VERSION] = "bad_version",
    [CPM_V_UNKNOWN_SENDER] = "unknown_sender",
    [CPM_V_UNKNOWN_KEY] = "unknown_key",
    [CPM_V_REVOKED_KEY] = "revoked_key",
    [CPM_V_BAD_SIGNATURE] = "bad_signature",
    [CPM_V_CLOCK_SKEW] = "clock_skew",
    [CPM_V_UNKNOWN_TYPE] = "unknown_type",
    [CPM_V_WRONG_RECIPIENT] = "wrong_recipient",
    [CPM_V_TRANSPORT_MISMATCH] = "transport_mismatch",
    [CPM_V_FORBIDDEN] = "forbidden",
    [CPM_V_REPLAY] = "replay",
    [CPM_V_KEY_NOT_VALID_AT] = "key_not_valid_at",
};

const char *cpm_verdict_name(cpm_verdict_t v)
{
    if ((int)v < 0 || v >= CPM_V_COUNT)
        return "invalid";
    return verdict_names[v];
}

int cpm_verdict_code(cpm_verdict_t v)
{
    switch (v) {
    case CPM_V_OK:
        return CPM_OK;
    case CPM_V_OVERSIZE:
        return CPM_E_TOO_LARGE;
    case CPM_V_MALFORMED:
        return CPM_E_BAD_MESSAGE;
    default:
        return CPM_E_FORBIDDEN;
    }
}

void cpm_msg_clear(cpm_msg_t *m)
{
    if (!m)
        return;
    if (m->env)
        cpm__envelope__free_unpacked(m->env, NULL);
    m->env = NULL;
    free(m->frame);
    m->frame = NULL;
    m->frame_len = 0;
    m->member = NULL;
}

cpm_verifier_t *cpm_verifier_new(int64_t max_skew_ms)
{
    if (max_skew_ms <= 0)
        return NULL;
    cpm_verifier_t *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->max_skew_ms = max_skew_ms;
    /* A principal may be forgotten once none of its messages can pass the
     * skew check any more: a message accepted at t had sent_ms >= t - skew and
     * is refused from sent_ms + skew on. The extra second is margin. */
    v->replay = cpm_replay_new(2 * max_skew_ms + 1000);
    if (!v->replay) {
        free(v);
        return NULL;
    }
    return v;
}

void cpm_verifier_destroy(cpm_verifier_t **p)
{
    if (!p || !*p)
        return;
    cpm_replay_destroy(&(*p)->replay);
    free(*p);
    *p = NULL;
}

uint64_t cpm_verifier_count(const cpm_verifier_t *v, cpm_verdict_t reason)
{
    if (!v || (int)reason < 0 || reason >= CPM_V_COUNT)
        return 0;
    return v->counts[reason];
}

uint64_t cpm_verifier_replay_evicted(const cpm_verifier_t *v)
{
    return v ? cpm_replay_evicted(v->replay) : 0;
}

static int str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* |a - b| without signed overflow for any pair of int64 values. */
static uint64_t abs_diff(int64_t a, int64_t b)
{
    return a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
}

static cpm_verdict_t check_key(const cpm_registry_t *reg, const char *key_id, const Cpm__Member *m)
{
    /* A revoked key is named as such even when it is no longer the member's
     * current key: it says more to whoever reads the counters. */
    if (cpm_registry_key_revoked(reg, key_id))
        return CPM_V_REVOKED_KEY;
    char kid[CPM_KEY_ID_LEN + 1];
    cpm_member_key_id(m, kid);
    if (strcmp(kid, key_id) != 0 || m->sign_pk.len != 32)
        return CPM_V_UNKNOWN_KEY;
    return CPM_V_OK;
}

static cpm_verdict_t check_address(const cpm_verify_ctx_t *ctx, const Cpm__Envelope *e)
{
    if (e->type == CPM__MSG_TYPE__MSG_EVENTS_PUBLISH) {
        if (strcmp(e->recipient, "*") != 0)
            return CPM_V_WRONG_RECIPIENT;
    } else if (e->type == CPM__MSG_TYPE__MSG_GROUP_RECEIPT) {
        /* One signature for every recipient of the group: "*", and its
         * proofs say whose each leaf is (cpm_receipt_open). */
        if (ctx->self && strcmp(e->recipient, "*") != 0)
            return CPM_V_WRONG_RECIPIENT;
    } else if (ctx->self && strcmp(e->recipient, ctx->self) != 0) {
        return CPM_V_WRONG_RECIPIENT;
    }
    if (ctx->transport_user && strcmp(ctx->transport_user, e->sender) != 0)
        return CPM_V_TRANSPORT_MISMATCH;
    return CPM_V_OK;
}

static cpm_verdict_t check_authorization(const cpm_verify_ctx_t *ctx, const Cpm__Envelope *e,
                                         const Cpm__Member *m)
{
    if (ctx->expect_sender && strcmp(ctx->expect_sender, e->sender) != 0)
        return CPM_V_FORBIDDEN;
    if (e->type == CPM__MSG_TYPE__MSG_GROUP_RECEIPT) /* answers requests named in its leaves */
        return !ctx->service && ctx->awaiting_reply && !e->correlation_id[0] ? CPM_V_OK
                                                                             : CPM_V_FORBIDDEN;
    if (cpm_msg_type_is_reply(e->type)) {
        /* "*": a sender with several batches in flight takes any reply, since
         * acknowledgements are cumulative. */
        if (str_eq(ctx->awaiting_reply, "*") ||
            (e->correlation_id[0] && str_eq(ctx->awaiting_reply, e->correlation_id)))
            return CPM_V_OK;
        return CPM_V_FORBIDDEN;
    }
    if (e->type == CPM__MSG_TYPE__MSG_EVENTS_PUBLISH) {
        /* instance "<service>" or "<service>.pub" of a service it runs */
        char svc[CPM_INSTANCE_MAX + 1];
        snprintf(svc, sizeof svc, "%s", e->sender_instance);
        size_t n = strlen(svc);
        if (n > 4 && strcmp(svc + n - 4, ".pub") == 0)
            svc[n - 4] = 0;
        return cpm_member_service(m, svc) ? CPM_V_OK : CPM_V_FORBIDDEN;
    }
    /* A batch of complaints needs the right to submit one: no new right. */
    const char *right = e->type == CPM__MSG_TYPE__MSG_SUBMIT_BATCH
                            ? cpm_msg_type_name(CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT)
                            : cpm_msg_type_name(e->type);
    if (!ctx->service || !cpm_member_may_send(m, right, ctx->service))
        return CPM_V_FORBIDDEN;
    return CPM_V_OK;
}

/* The slice as a C string in out (n bytes). 0, or -1 when it does not fit. */
static int slice_str(cpm_slice_t sl, char *out, size_t n)
{
    if (sl.len >= n)
        return -1;
    if (sl.len)
        memcpy(out, sl.data, sl.len);
    out[sl.len] = 0;
    return 0;
}

static void fill_addr(const cpm_envelope_view_t *ev, cpm_reply_addr_t *a)
{
    /* Truncated when too long: such a sender is refused anyway and the
     * answer only needs a label. */
    cpm_slice_t parts[3] = {ev->sender, ev->sender_instance, ev->msg_id};
    char *dst[3] = {a->sender, a->sender_instance, a->msg_id};
    size_t cap[3] = {sizeof a->sender, sizeof a->sender_instance, sizeof a->msg_id};
    for (int i = 0; i < 3; i++) {
        cpm_slice_t sl = parts[i];
        if (sl.len >= cap[i])
            sl.len = cap[i] - 1;
        slice_str(sl, dst[i], cap[i]);
    }
    a->known = true;
}

/* Checks 1 to 7 on the frame's bytes as received: size, layout, version,
 * sender, key, signature. Nothing is allocated before the signature has
 * verified. On CPM_V_OK *member is the signer and *envb the signed bytes. */
static cpm_verdict_t check_signed(const cpm_registry_t *reg, const uint8_t *buf, size_t len,
                                  cpm_reply_addr_t *addr, cpm_slice_t *envb,
                                  const Cpm__Member **member)
{
    if (len > CPM_MAX_MSG)
        return CPM_V_OVERSIZE;
    cpm_slice_t sig;
    cpm_envelope_view_t ev;
    if (cpm_envelope_parse_signed(buf, len, envb, &sig) != 0 ||
        cpm_envelope_parse_view(envb->data, envb->len, &ev) != 0)
        return CPM_V_MALFORMED;
    fill_addr(&ev, addr);
    if (!cpm_envelope_version_known(ev.version))
        return CPM_V_BAD_VERSION;
    /* Bounded, so that no sender can grow the replay table with long or
     * empty principals. */
    if (ev.sender_instance.len == 0 || ev.sender_instance.len > CPM_INSTANCE_MAX)
        return CPM_V_MALFORMED;
    char sender[128], key_id[CPM_KEY_ID_LEN + 1];
    const Cpm__Member *m = NULL;
    if (slice_str(ev.sender, sender, sizeof sender) == 0)
        m = cpm_registry_member(reg, sender);
    if (!m)
        return CPM_V_UNKNOWN_SENDER;
    if (slice_str(ev.key_id, key_id, sizeof key_id) != 0)
        return CPM_V_UNKNOWN_KEY; /* longer than any key id, so neither known nor revoked */
    cpm_verdict_t r = check_key(reg, key_id, m);
    if (r != CPM_V_OK)
        return r;
    if (cpm_envelope_verify_sig(ev.version, envb->data, envb->len, sig.data, sig.len,
                                m->sign_pk.data) != 0)
        return CPM_V_BAD_SIGNATURE;
    addr->verified = true;
    *member = m;
    return CPM_V_OK;
}

cpm_verdict_t cpm_verify_signed(const cpm_registry_t *reg, const uint8_t *buf, size_t len,
                                cpm_slice_t *envb, const Cpm__Member **member)
{
    cpm_reply_addr_t addr = {0};
    return check_signed(reg, buf, len, &addr, envb, member);
}

void cpm_verifier_precheck(const cpm_registry_t *reg, const uint8_t *buf, size_t len,
                           cpm_precheck_t *out)
{
    memset(out, 0, sizeof *out);
    out->verdict = check_signed(reg, buf, len, &out->addr, &out->envb, &out->member);
    if (out->verdict != CPM_V_OK)
        out->member = NULL;
}

/* Every check after the signature but the replay window. On CPM_V_OK *env
 * and *member are set. */
static cpm_verdict_t check_frame(const cpm_verifier_t *v, const cpm_precheck_t *pre,
                                 const cpm_verify_ctx_t *ctx, int64_t now_ms, Cpm__Envelope **env,
                                 const Cpm__Member **member)
{
    if (pre->verdict != CPM_V_OK)
        return pre->verdict;
    cpm_slice_t envb = pre->envb;
    const Cpm__Member *m = pre->member;
    cpm_verdict_t r = CPM_V_OK;
    /* Signed, and read once already: at most 11 known fields to decode. */
    Cpm__Envelope *e = cpm__envelope__unpack(NULL, envb.len, envb.data);
    if (!e)
        return CPM_V_MALFORMED;
    /* With the test clock (cpm_clock), the sender may have read a moved
     * clock a moment before this process did: look at the clock once more. */
    if (abs_diff(e->sent_ms, now_ms) > (uint64_t)v->max_skew_ms &&
        (!cpm_clock_expire() || abs_diff(e->sent_ms, cpm_now_ms()) > (uint64_t)v->max_skew_ms))
        r = CPM_V_CLOCK_SKEW;
    else if (!cpm_msg_type_name(e->type))
        r = CPM_V_UNKNOWN_TYPE;
    else if ((r = check_address(ctx, e)) == CPM_V_OK)
        r = check_authorization(ctx, e, m);
    if (r != CPM_V_OK) {
        cpm__envelope__free_unpacked(e, NULL);
        return r;
    }
    *env = e;
    *member = m;
    return CPM_V_OK;
}

/* "<sender>/<sender_instance>" into a malloc'd string. */
static char *principal_of(const Cpm__Envelope *e)
{
    size_t a = strlen(e->sender), b = strlen(e->sender_instance);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, e->sender, a);
    p[a] = '/';
    memcpy(p + a + 1, e->sender_instance, b + 1);
    return p;
}

cpm_verdict_t cpm_verifier_check(cpm_verifier_t *v, const cpm_registry_t *reg,
                                 const cpm_verify_ctx_t *ctx, const uint8_t *buf, size_t len,
                                 int64_t now_ms, cpm_msg_t *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!v || !reg || !out)
        return CPM_V_MALFORMED; /* a caller bug; refuse rather than crash */
    cpm_precheck_t pre;
    cpm_verifier_precheck(reg, buf, len, &pre);
    return cpm_verifier_finish(v, &pre, ctx, now_ms, out);
}

cpm_verdict_t cpm_verifier_finish(cpm_verifier_t *v, const cpm_precheck_t *pre,
                                  const cpm_verify_ctx_t *ctx, int64_t now_ms, cpm_msg_t *out)
{
    static const cpm_verify_ctx_t no_ctx = {0};
    if (out)
        memset(out, 0, sizeof *out);
    if (!v || !pre || !out)
        return CPM_V_MALFORMED; /* a caller bug; refuse rather than crash */
    if (!ctx)
        ctx = &no_ctx;

    out->addr = pre->addr;
    Cpm__Envelope *e = NULL;
    const Cpm__Member *m = NULL;
    cpm_verdict_t r = check_frame(v, pre, ctx, now_ms, &e, &m);
    if (r == CPM_V_OK) {
        char *principal = principal_of(e);
        if (!principal || cpm_replay_check(v->replay, principal, e->seq, now_ms) != 0)
            r = CPM_V_REPLAY;
        free(principal);
    }
    v->counts[r]++;
    if (r != CPM_V_OK) {
        if (e)
            cpm__envelope__free_unpacked(e, NULL);
        return r;
    }
    out->env = e;
    out->member = m;
    return CPM_V_OK;
}
