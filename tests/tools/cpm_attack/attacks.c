/* attacks: one function per hostile frame, each breaking a good frame in one
 * precise way, and the table of their names. */
#include "attacks.h"

#include "frames.h"
#include "link.h"
#include "wire.h"

#include "cpm_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define HOUR_MS (3600 * 1000LL)

static int at_garbage(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    *len = 1024;
    if (!(*out = malloc(*len)))
        return 1;
    randombytes_buf(*out, *len);
    (*out)[0] = 0xff; /* wire type 7 does not exist: never decodes by chance */
    return 0;
}

static int at_empty(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    *out = malloc(1);
    *len = 0;
    return *out ? 0 : 1;
}

static int at_truncated(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    if (frame_valid_complaint(a, out, len) != 0)
        return 1;
    *len /= 2;
    return 0;
}

/* Over CPM_MAX_MSG but under the socket's own limit, so the verifier sees it. */
static int at_oversize(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    *len = CPM_MAX_MSG + 512;
    if (!(*out = calloc(1, *len)))
        return 1;
    return 0;
}

/* Over the socket limit: libzmq drops the connection; the service lives on. */
static int at_oversize_huge(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    *len = 2 * CPM_MAX_MSG;
    if (!(*out = calloc(1, *len)))
        return 1;
    return 0;
}

static int at_tampered(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    if (frame_valid_complaint(a, out, len) != 0)
        return 1;
    /* The frame ends inside the envelope's payload (the last field of both
     * messages, before the signature): flipping a text byte there keeps the
     * frame decodable and leaves only the signature to catch it. */
    Cpm__SignedEnvelope *se = cpm__signed_envelope__unpack(NULL, *len, *out);
    if (!se)
        return attack_die("cannot decode our own frame", NULL);
    se->envelope.data[se->envelope.len - 2] ^= 0x01;
    free(*out);
    *out = frame_pack(&se->base, len);
    cpm__signed_envelope__free_unpacked(se, NULL);
    return *out ? 0 : 1;
}

/* Claims to be hn.doit, with hn.doit's key id, but signed with our key. */
static int at_forged(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    const Cpm__Member *victim = cpm_registry_member(a->reg, "hn.doit");
    if (!victim)
        return attack_die("the registry has no hn.doit", NULL);
    char kid[CPM_KEY_ID_LEN + 1], msg_id[33];
    cpm_member_key_id(victim, kid);
    size_t plen;
    uint8_t *p = frame_complaint("Forged Shop", &plen);
    cpm_env_fields_t f;
    frame_fields(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, p, plen, msg_id, &f);
    f.sender = victim->id;
    f.key_id = kid;
    int rc = p ? frame_seal(&f, a->id.sign_sk, out, len) : 1;
    free(p);
    return rc;
}

/* Our sender and our signature, but someone else's key id. */
static int at_wrong_key(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    const Cpm__Member *other = cpm_registry_member(a->reg, "hn.doit");
    if (!other)
        return attack_die("the registry has no hn.doit", NULL);
    char kid[CPM_KEY_ID_LEN + 1], msg_id[33];
    cpm_member_key_id(other, kid);
    size_t plen;
    uint8_t *p = frame_complaint("Wrong Key Shop", &plen);
    cpm_env_fields_t f;
    frame_fields(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, p, plen, msg_id, &f);
    f.key_id = kid;
    int rc = p ? frame_seal(&f, a->id.sign_sk, out, len) : 1;
    free(p);
    return rc;
}

/* One field of an otherwise valid complaint envelope changed before signing. */
typedef enum { SPOIL_SENDER, SPOIL_SKEW, SPOIL_TYPE, SPOIL_RECIPIENT } spoil_t;

static int spoiled(attack_t *a, spoil_t what, uint8_t **out, size_t *len)
{
    char msg_id[33], other[200] = "nobody/intake";
    size_t plen;
    uint8_t *p = frame_complaint("Spoiled Shop", &plen);
    if (!p)
        return 1;
    cpm_env_fields_t f;
    frame_fields(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, p, plen, msg_id, &f);
    if (what == SPOIL_SENDER) {
        f.sender = "hn.nobody";
    } else if (what == SPOIL_SKEW) {
        f.sent_ms -= HOUR_MS;
    } else if (what == SPOIL_TYPE) {
        f.type = (Cpm__MsgType)999;
    } else { /* the same service at another member, when there is one */
        const Cpm__Registry *doc = cpm_registry_doc(a->reg);
        for (size_t i = 0; i < doc->n_members; i++)
            if (strcmp(doc->members[i]->id, a->member) != 0 &&
                cpm_member_service(doc->members[i], a->service)) {
                snprintf(other, sizeof other, "%s/%s", doc->members[i]->id, a->service);
                break;
            }
        f.recipient = other;
    }
    int rc = frame_seal(&f, a->id.sign_sk, out, len);
    free(p);
    return rc;
}

static int at_unknown_sender(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    return spoiled(a, SPOIL_SENDER, out, len);
}

static int at_skew(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    return spoiled(a, SPOIL_SKEW, out, len);
}

static int at_unknown_type(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    return spoiled(a, SPOIL_TYPE, out, len);
}

static int at_wrong_recipient(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    return spoiled(a, SPOIL_RECIPIENT, out, len);
}

/* Sends a valid complaint, then the very same bytes again. */
static int at_replay(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    if (frame_valid_complaint(a, out, len) != 0 || link_exchange(a, *out, *len, first) != 0)
        return 1;
    return 0;
}

/* A batch the sender has no right to send: to routing a case batch, to
 * inspection an assignment batch, to intake a case batch. */
static int at_forbidden(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    char stream[600];
    snprintf(stream, sizeof stream, "%s/%s>%s", a->id.id, a->instance, a->recipient);
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = "FORBIDDEN-00000001";
    c.channel = "hotline";
    c.business_name = "Forbidden Shop";
    c.area = "hoan-kiem";
    c.intake_node = a->id.id;
    Cpm__Assignment as = CPM__ASSIGNMENT__INIT;
    as.complaint = &c;
    as.agency = a->member;
    as.rule_id = "attack";
    bool assign = !strcmp(a->service, "inspection");
    size_t plen;
    uint8_t *p = frame_batch(stream, 1, assign ? &as.base : &c.base, &plen);
    int rc =
        p ? frame_valid(a, assign ? CPM__MSG_TYPE__MSG_ASSIGN_BATCH : CPM__MSG_TYPE__MSG_CASE_BATCH,
                        p, plen, out, len)
          : 1;
    free(p);
    return rc;
}

/* Valid envelope, but the payload is not a Complaint at all. */
static int at_bad_payload(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    return frame_valid(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, junk, sizeof junk, out, len);
}

static int at_invalid_field(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    size_t plen;
    uint8_t *p = frame_complaint("", &plen);
    int rc = p ? frame_valid(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, p, plen, out, len) : 1;
    free(p);
    return rc;
}

/* A good complaint; also what transport_mismatch and unregistered_curve send. */
static int at_valid(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    return frame_valid_complaint(a, out, len);
}

/* Case batch whose record claims intake_node = the sender and ticket --ticket:
 * on_stream picks the stream the batch names. */
static int case_batch(attack_t *a, const char *stream, const char *ticket, const char *intake,
                      uint8_t **out, size_t *len)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "hotline";
    c.business_name = "Squatter Shop";
    c.area = "ba-dinh";
    c.category = "pricing";
    c.description = "A record that must not be applied";
    c.intake_node = (char *)intake;
    c.received_ms = cpm_now_ms();
    size_t plen;
    uint8_t *p = frame_batch(stream, 1, &c.base, &plen);
    int rc = p ? frame_valid(a, CPM__MSG_TYPE__MSG_CASE_BATCH, p, plen, out, len) : 1;
    free(p);
    return rc;
}

/* A member's case batch that claims another member's stream. */
static int at_stream_forgery(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    char stream[600];
    snprintf(stream, sizeof stream, "hn.doit/intake>%s", a->recipient);
    return case_batch(a, stream, a->o->ticket ? a->o->ticket : "DOIT-99999999", "hn.doit", out,
                      len);
}

/* A member's case batch on its own (fresh) stream, but carrying a ticket
 * number that belongs to another intake's prefix. */
static int at_ticket_squat(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    if (!a->o->ticket)
        return attack_die("ticket_squat needs --ticket", NULL);
    char stream[600];
    snprintf(stream, sizeof stream, "%s/%s>%s", a->id.id, a->instance, a->recipient);
    return case_batch(a, stream, a->o->ticket, a->id.id, out, len);
}

/* An officer's case action on --ticket, sent to whichever inspection is the
 * target: another agency's officer must be turned away. */
static int at_case_action(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    if (!a->o->ticket)
        return attack_die("case_action needs --ticket", NULL);
    Cpm__CaseAction act = CPM__CASE_ACTION__INIT;
    act.ticket = (char *)a->o->ticket;
    act.action = CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE;
    act.note = "closed by an officer of another agency";
    size_t plen;
    uint8_t *p = frame_pack(&act.base, &plen);
    int rc = p ? frame_valid(a, CPM__MSG_TYPE__MSG_CASE_ACTION, p, plen, out, len) : 1;
    free(p);
    return rc;
}

/* An update batch on the sender's own stream about --ticket, a case assigned
 * to another agency, whose record claims to come from hn.qltt. */
static int at_foreign_update(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    if (!a->o->ticket)
        return attack_die("foreign_update needs --ticket", NULL);
    char stream[600];
    snprintf(stream, sizeof stream, "%s/%s>%s", a->id.id, a->instance, a->recipient);
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)a->o->ticket;
    u.state = CPM__CASE_STATE__CASE_STATE_RESOLVED;
    u.agency = "hn.qltt";
    u.actor = "officer.hn.qltt";
    u.note = "resolved by somebody else";
    u.at_ms = cpm_now_ms();
    size_t plen;
    uint8_t *p = frame_batch(stream, 1, &u.base, &plen);
    int rc = p ? frame_valid(a, CPM__MSG_TYPE__MSG_UPDATE_BATCH, p, plen, out, len) : 1;
    free(p);
    return rc;
}

/* A valid frame followed by a second part: one message of two frames. */
static int at_multipart(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    uint8_t *f1;
    size_t l1;
    if (frame_valid_complaint(a, &f1, &l1) != 0)
        return 1;
    int rc = link_send(a, f1, l1, ZMQ_SNDMORE);
    free(f1);
    if (rc != 0)
        return 1;
    *len = 16;
    if (!(*out = malloc(*len)))
        return 1;
    randombytes_buf(*out, *len);
    return 0;
}

static const struct {
    const char *name;
    attack_fn fn;
} attacks[] = {
    {"garbage", at_garbage},
    {"empty", at_empty},
    {"truncated", at_truncated},
    {"oversize", at_oversize},
    {"oversize_huge", at_oversize_huge},
    {"tampered", at_tampered},
    {"forged", at_forged},
    {"wrong_key", at_wrong_key},
    {"unknown_sender", at_unknown_sender},
    {"replay", at_replay},
    {"skew", at_skew},
    {"unknown_type", at_unknown_type},
    {"forbidden", at_forbidden},
    {"wrong_recipient", at_wrong_recipient},
    {"transport_mismatch", at_valid}, /* the link's keys (--curve-as) are the attack */
    {"bad_payload", at_bad_payload},
    {"unregistered_curve", at_valid},
    {"invalid_field", at_invalid_field},
    {"valid", at_valid},
    {"stream_forgery", at_stream_forgery},
    {"ticket_squat", at_ticket_squat},
    {"multipart", at_multipart},
    {"case_action", at_case_action},
    {"foreign_update", at_foreign_update},
    {"padded_complaint", at_padded_complaint}, /* wire.c */
    {"twobyte_fields", at_twobyte_fields},
    {"empty_records", at_empty_records},
    {"oversize_batch", at_oversize_batch},
    {"bad_records", at_bad_records},
};

attack_fn attack_find(const char *name)
{
    attack_fn fn = NULL;
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++)
        if (!strcmp(name, attacks[i].name))
            fn = attacks[i].fn;
    return fn;
}
