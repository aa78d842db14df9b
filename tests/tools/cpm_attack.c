/* cpm_attack: sends one hostile frame (or a short sequence) to a service of a
 * running mesh and reports, as one JSON line, what came back. The security
 * integration test (tests/integration/test_security.py) drives it.
 *
 *   cpm_attack --home DIR --as ID --target MEMBER/SERVICE --attack NAME
 *              [--curve-as ID] [--timeout MS] [--count N] [--seed S] [--ticket T]
 *
 * It links over CURVE like any client (DEALER, the target's endpoint and
 * transport key from the registry), builds frames with the same envelope code
 * the services use and then breaks them in one precise way. Replies are
 * verified as cpmctl verifies them, except for the recipient, which a service
 * copies from the (possibly forged) request.
 *
 * Output: {"attack","replied","verified","reply_type","error_code","field",
 * "message", ...}; sequences add "first" (the first exchange) and fuzz prints
 * counts instead. Exit 0 when the attack ran (whatever the verdict), 1 when it
 * could not be run, 2 on bad usage. */
#include "cpm_envelope.h"
#include "cpm_err.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_transport.h"
#include "cpm_util.h"
#include "cpm_verifier.h"

#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define HOUR_MS (3600 * 1000LL)

typedef struct {
    const char *home, *as, *curve_as, *target, *attack, *ticket;
    int timeout_ms, count;
    uint64_t seed;
} opts_t;

typedef struct {
    const opts_t *o;
    cpm_registry_t *reg;
    cpm_verifier_t *verifier;
    cpm_identity_t id;    /* signs the frames */
    cpm_identity_t curve; /* authenticates the link (usually the same keys) */
    char member[128], service[64], recipient[200], instance[64];
    const Cpm__Member *target;
    uint64_t seq;
    void *zctx, *sock;
} attack_t;

/* What one exchange brought back. */
typedef struct {
    bool replied, verified;
    char verdict[32]; /* our verifier's verdict on the reply when it failed */
    int type;
    int error_code;
    char field[64], message[300], ticket[64], stream[200];
    bool duplicate;
    uint64_t acked_seq;
} result_t;

static int die(const char *what, const char *detail)
{
    fprintf(stderr, "cpm_attack: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

/* ---- setup ------------------------------------------------------------------ */

static int load_identity(const char *home, const char *who, cpm_identity_t *id)
{
    char path[1200], err[300];
    snprintf(path, sizeof path, "%s/keys/%s.secret", home, who);
    if (cpm_identity_load(id, path, err, sizeof err) != 0)
        return die("identity", err);
    return 0;
}

static int setup(attack_t *a, const opts_t *o)
{
    char path[1200], err[300];
    a->o = o;
    const char *slash = strchr(o->target, '/');
    if (!slash || slash == o->target || !slash[1] ||
        (size_t)(slash - o->target) >= sizeof a->member)
        return die("--target must be MEMBER/SERVICE", o->target);
    snprintf(a->member, sizeof a->member, "%.*s", (int)(slash - o->target), o->target);
    snprintf(a->service, sizeof a->service, "%s", slash + 1);
    snprintf(a->recipient, sizeof a->recipient, "%s/%s", a->member, a->service);
    snprintf(a->instance, sizeof a->instance, "attack.%d", (int)getpid());

    cpm_public_t root;
    snprintf(path, sizeof path, "%s/keys/root.public", o->home);
    if (cpm_public_load(&root, path, err, sizeof err) != 0)
        return die("root key", err);
    snprintf(path, sizeof path, "%s/registry.signed", o->home);
    if (!(a->reg = cpm_registry_load(path, root.sign_pk, err, sizeof err)))
        return die("registry", err);
    const Cpm__Member *m = cpm_registry_member(a->reg, a->member);
    if (!m || !cpm_member_service(m, a->service) || m->curve_pk.len != 32)
        return die("the registry has no such service", o->target);
    a->target = m;
    if (load_identity(o->home, o->as, &a->id) != 0)
        return 1;
    if (!strcmp(o->attack, "unregistered_curve")) {
        if (cpm_identity_generate(&a->curve, "unregistered") != 0)
            return die("cannot generate keys", NULL);
    } else if (o->curve_as) {
        if (load_identity(o->home, o->curve_as, &a->curve) != 0)
            return 1;
    } else {
        a->curve = a->id;
    }
    a->seq = (uint64_t)cpm_now_us();
    a->verifier = cpm_verifier_new(300000);
    a->zctx = zmq_ctx_new();
    if (!a->verifier || !a->zctx)
        return die("out of memory", NULL);
    a->sock = cpm_sock_client(a->zctx, ZMQ_DEALER, &a->curve, m->curve_pk.data,
                              cpm_member_service(m, a->service)->endpoint);
    return a->sock ? 0 : die("cannot connect", o->target);
}

static void teardown(attack_t *a)
{
    cpm_sock_close(&a->sock);
    if (a->zctx)
        zmq_ctx_term(a->zctx);
    cpm_registry_destroy(&a->reg);
    cpm_verifier_destroy(&a->verifier);
    cpm_identity_wipe(&a->id);
    cpm_identity_wipe(&a->curve);
}

/* ---- frames ----------------------------------------------------------------- */

/* A well-formed envelope from us to the target; callers then spoil one field. */
static void base_fields(attack_t *a, Cpm__MsgType type, const uint8_t *payload, size_t len,
                        char msg_id[33], cpm_env_fields_t *f)
{
    cpm_random_id(msg_id);
    memset(f, 0, sizeof *f);
    f->sender = a->id.id;
    f->sender_instance = a->instance;
    f->key_id = a->id.key_id;
    f->seq = ++a->seq;
    f->sent_ms = cpm_now_ms();
    f->type = type;
    f->msg_id = msg_id;
    f->recipient = a->recipient;
    f->payload = payload;
    f->payload_len = len;
}

static int seal(const cpm_env_fields_t *f, const uint8_t sk[64], uint8_t **out, size_t *len)
{
    return cpm_envelope_seal(f, sk, out, len) == 0 ? 0 : die("cannot seal a frame", NULL);
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf)
        protobuf_c_message_pack(m, buf);
    return buf;
}

/* A complaint intake accepts (business may be "" to break it). */
static uint8_t *complaint_bytes(const char *business, size_t *len)
{
    char ref[48], id[33];
    cpm_random_id(id);
    snprintf(ref, sizeof ref, "attack-%s", id);
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.channel = "hotline";
    c.business_name = (char *)business;
    c.district = "hoan-kiem";
    c.category = "food_safety";
    c.description = "Security test complaint";
    c.client_ref = ref;
    return pack(&c.base, len);
}

/* A DeliveryBatch of one record on stream, starting at first_seq. */
static uint8_t *batch_bytes(const char *stream, uint64_t first_seq, const ProtobufCMessage *rec,
                            size_t *len)
{
    size_t rlen;
    uint8_t *r = pack(rec, &rlen);
    if (!r)
        return NULL;
    ProtobufCBinaryData records[1] = {{rlen, r}};
    Cpm__DeliveryBatch b = CPM__DELIVERY_BATCH__INIT;
    b.stream = (char *)stream;
    b.first_seq = first_seq;
    b.n_records = 1;
    b.records = records;
    uint8_t *out = pack(&b.base, len);
    free(r);
    return out;
}

/* A signed frame of type carrying payload, otherwise untouched. */
static int valid_frame(attack_t *a, Cpm__MsgType type, const uint8_t *payload, size_t plen,
                       uint8_t **out, size_t *len)
{
    char msg_id[33];
    cpm_env_fields_t f;
    base_fields(a, type, payload, plen, msg_id, &f);
    return seal(&f, a->id.sign_sk, out, len);
}

static int valid_complaint_frame(attack_t *a, uint8_t **out, size_t *len)
{
    size_t plen;
    uint8_t *p = complaint_bytes("Attack Test Shop", &plen);
    int rc = p ? valid_frame(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, p, plen, out, len) : 1;
    free(p);
    return rc;
}

/* ---- exchange ---------------------------------------------------------------- */

static void read_reply(const cpm_msg_t *m, result_t *r)
{
    const ProtobufCBinaryData *p = &m->env->payload;
    r->type = m->env->type;
    if (r->type == CPM__MSG_TYPE__MSG_ERROR) {
        Cpm__ErrorReply *e = cpm__error_reply__unpack(NULL, p->len, p->data);
        if (e) {
            r->error_code = (int)e->code;
            snprintf(r->field, sizeof r->field, "%s", e->field);
            snprintf(r->message, sizeof r->message, "%s", e->message);
            cpm__error_reply__free_unpacked(e, NULL);
        }
    } else if (r->type == CPM__MSG_TYPE__MSG_SUBMIT_REPLY) {
        Cpm__SubmitReply *s = cpm__submit_reply__unpack(NULL, p->len, p->data);
        if (s) {
            snprintf(r->ticket, sizeof r->ticket, "%s", s->ticket);
            r->duplicate = s->duplicate;
            cpm__submit_reply__free_unpacked(s, NULL);
        }
    } else if (r->type == CPM__MSG_TYPE__MSG_ACK) {
        Cpm__Ack *k = cpm__ack__unpack(NULL, p->len, p->data);
        if (k) {
            snprintf(r->stream, sizeof r->stream, "%s", k->stream);
            r->acked_seq = k->acked_seq;
            r->error_code = (int)k->error_code;
            snprintf(r->message, sizeof r->message, "%s", k->error);
            cpm__ack__free_unpacked(k, NULL);
        }
    }
}

/* Wait up to timeout_ms for one reply and verify it. 1 when one came. */
static int receive(attack_t *a, int timeout_ms, result_t *r)
{
    memset(r, 0, sizeof *r);
    zmq_pollitem_t it = {a->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return 0;
    zmq_msg_t f[1];
    if (cpm_sock_recv(a->sock, f, 1, 0) != 1)
        return 0;
    r->replied = true;
    /* No recipient check: a refusal is addressed to whoever the frame claimed. */
    cpm_verify_ctx_t ctx = {.awaiting_reply = "*", .expect_sender = a->member};
    cpm_msg_t m = {0};
    cpm_verdict_t v = cpm_verifier_check(a->verifier, a->reg, &ctx, zmq_msg_data(&f[0]),
                                         zmq_msg_size(&f[0]), cpm_now_ms(), &m);
    zmq_msg_close(&f[0]);
    snprintf(r->verdict, sizeof r->verdict, "%s", cpm_verdict_name(v));
    if (v == CPM_V_OK) {
        r->verified = true;
        read_reply(&m, r);
        cpm_msg_clear(&m);
    }
    return 1;
}

static int send_frame(attack_t *a, const uint8_t *buf, size_t len, int flags)
{
    return zmq_send(a->sock, buf, len, flags) == (int)len ? 0
                                                          : die("send", zmq_strerror(zmq_errno()));
}

static int exchange(attack_t *a, const uint8_t *buf, size_t len, result_t *r)
{
    if (send_frame(a, buf, len, 0) != 0)
        return 1;
    receive(a, a->o->timeout_ms, r);
    return 0;
}

static json_t *result_json(const result_t *r)
{
    json_t *o = json_pack("{s:b,s:b}", "replied", r->replied, "verified", r->verified);
    if (!r->replied)
        return o;
    if (!r->verified) {
        json_object_set_new(o, "reply_verdict", json_string(r->verdict));
        return o;
    }
    const char *tn = cpm_msg_type_name(r->type);
    json_object_set_new(o, "reply_type", json_string(tn ? tn : "?"));
    json_object_set_new(o, "error_code", json_integer(r->error_code));
    json_object_set_new(o, "field", json_string(r->field));
    json_object_set_new(o, "message", json_string(r->message));
    if (*r->ticket) {
        json_object_set_new(o, "ticket", json_string(r->ticket));
        json_object_set_new(o, "duplicate", json_boolean(r->duplicate));
    }
    if (r->type == CPM__MSG_TYPE__MSG_ACK) {
        json_object_set_new(o, "stream", json_string(r->stream));
        json_object_set_new(o, "acked_seq", json_integer((json_int_t)r->acked_seq));
    }
    return o;
}

/* ---- attacks ----------------------------------------------------------------- */

/* Each builds one frame into *out; a NULL *out with 0 means "already done". */
typedef int (*attack_fn)(attack_t *a, uint8_t **out, size_t *len, result_t *first);

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
    if (valid_complaint_frame(a, out, len) != 0)
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
    if (valid_complaint_frame(a, out, len) != 0)
        return 1;
    /* The frame ends inside the envelope's payload (the last field of both
     * messages, before the signature): flipping a text byte there keeps the
     * frame decodable and leaves only the signature to catch it. */
    Cpm__SignedEnvelope *se = cpm__signed_envelope__unpack(NULL, *len, *out);
    if (!se)
        return die("cannot decode our own frame", NULL);
    se->envelope.data[se->envelope.len - 2] ^= 0x01;
    free(*out);
    *out = pack(&se->base, len);
    cpm__signed_envelope__free_unpacked(se, NULL);
    return *out ? 0 : 1;
}

/* Claims to be hn.doit, with hn.doit's key id, but signed with our key. */
static int at_forged(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    const Cpm__Member *victim = cpm_registry_member(a->reg, "hn.doit");
    if (!victim)
        return die("the registry has no hn.doit", NULL);
    char kid[CPM_KEY_ID_LEN + 1], msg_id[33];
    cpm_member_key_id(victim, kid);
    size_t plen;
    uint8_t *p = complaint_bytes("Forged Shop", &plen);
    cpm_env_fields_t f;
    base_fields(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, p, plen, msg_id, &f);
    f.sender = victim->id;
    f.key_id = kid;
    int rc = p ? seal(&f, a->id.sign_sk, out, len) : 1;
    free(p);
    return rc;
}

/* Our sender and our signature, but someone else's key id. */
static int at_wrong_key(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    const Cpm__Member *other = cpm_registry_member(a->reg, "hn.doit");
    if (!other)
        return die("the registry has no hn.doit", NULL);
    char kid[CPM_KEY_ID_LEN + 1], msg_id[33];
    cpm_member_key_id(other, kid);
    size_t plen;
    uint8_t *p = complaint_bytes("Wrong Key Shop", &plen);
    cpm_env_fields_t f;
    base_fields(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, p, plen, msg_id, &f);
    f.key_id = kid;
    int rc = p ? seal(&f, a->id.sign_sk, out, len) : 1;
    free(p);
    return rc;
}

/* One field of an otherwise valid complaint envelope changed before signing. */
typedef enum { SPOIL_SENDER, SPOIL_SKEW, SPOIL_TYPE, SPOIL_RECIPIENT } spoil_t;

static int spoiled(attack_t *a, spoil_t what, uint8_t **out, size_t *len)
{
    char msg_id[33], other[200] = "nobody/intake";
    size_t plen;
    uint8_t *p = complaint_bytes("Spoiled Shop", &plen);
    if (!p)
        return 1;
    cpm_env_fields_t f;
    base_fields(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, p, plen, msg_id, &f);
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
    int rc = seal(&f, a->id.sign_sk, out, len);
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
    if (valid_complaint_frame(a, out, len) != 0 || exchange(a, *out, *len, first) != 0)
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
    c.district = "hoan-kiem";
    c.intake_node = a->id.id;
    Cpm__Assignment as = CPM__ASSIGNMENT__INIT;
    as.complaint = &c;
    as.agency = a->member;
    as.rule_id = "attack";
    bool assign = !strcmp(a->service, "inspection");
    size_t plen;
    uint8_t *p = batch_bytes(stream, 1, assign ? &as.base : &c.base, &plen);
    int rc =
        p ? valid_frame(a, assign ? CPM__MSG_TYPE__MSG_ASSIGN_BATCH : CPM__MSG_TYPE__MSG_CASE_BATCH,
                        p, plen, out, len)
          : 1;
    free(p);
    return rc;
}

/* Valid envelope, but the payload is not a Complaint at all. */
static int at_bad_payload(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    return valid_frame(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, junk, sizeof junk, out, len);
}

static int at_invalid_field(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    size_t plen;
    uint8_t *p = complaint_bytes("", &plen);
    int rc = p ? valid_frame(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, p, plen, out, len) : 1;
    free(p);
    return rc;
}

/* A good complaint; also what transport_mismatch and unregistered_curve send. */
static int at_valid(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    return valid_complaint_frame(a, out, len);
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
    c.district = "ba-dinh";
    c.category = "pricing";
    c.description = "A record that must not be applied";
    c.intake_node = (char *)intake;
    c.received_ms = cpm_now_ms();
    size_t plen;
    uint8_t *p = batch_bytes(stream, 1, &c.base, &plen);
    int rc = p ? valid_frame(a, CPM__MSG_TYPE__MSG_CASE_BATCH, p, plen, out, len) : 1;
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
        return die("ticket_squat needs --ticket", NULL);
    char stream[600];
    snprintf(stream, sizeof stream, "%s/%s>%s", a->id.id, a->instance, a->recipient);
    return case_batch(a, stream, a->o->ticket, a->id.id, out, len);
}

/* An officer's case action on --ticket, sent to whichever inspection is the
 * target: another agency's officer must be turned away. */
static int at_case_action(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    if (!a->o->ticket)
        return die("case_action needs --ticket", NULL);
    Cpm__CaseAction act = CPM__CASE_ACTION__INIT;
    act.ticket = (char *)a->o->ticket;
    act.action = "resolve";
    act.note = "closed by an officer of another agency";
    size_t plen;
    uint8_t *p = pack(&act.base, &plen);
    int rc = p ? valid_frame(a, CPM__MSG_TYPE__MSG_CASE_ACTION, p, plen, out, len) : 1;
    free(p);
    return rc;
}

/* An update batch on the sender's own stream about --ticket, a case assigned
 * to another agency, whose record claims to come from hn.qltt. */
static int at_foreign_update(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    if (!a->o->ticket)
        return die("foreign_update needs --ticket", NULL);
    char stream[600];
    snprintf(stream, sizeof stream, "%s/%s>%s", a->id.id, a->instance, a->recipient);
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)a->o->ticket;
    u.state = "resolved";
    u.agency = "hn.qltt";
    u.actor = "officer.hn.qltt";
    u.note = "resolved by somebody else";
    u.at_ms = cpm_now_ms();
    size_t plen;
    uint8_t *p = batch_bytes(stream, 1, &u.base, &plen);
    int rc = p ? valid_frame(a, CPM__MSG_TYPE__MSG_UPDATE_BATCH, p, plen, out, len) : 1;
    free(p);
    return rc;
}

/* A valid frame followed by a second part: one message of two frames. */
static int at_multipart(attack_t *a, uint8_t **out, size_t *len, result_t *first)
{
    uint8_t *f1;
    size_t l1;
    if (valid_complaint_frame(a, &f1, &l1) != 0)
        return 1;
    int rc = send_frame(a, f1, l1, ZMQ_SNDMORE);
    free(f1);
    if (rc != 0)
        return 1;
    *len = 16;
    if (!(*out = malloc(*len)))
        return 1;
    randombytes_buf(*out, *len);
    return 0;
}

/* ---- fuzz -------------------------------------------------------------------- */

/* splitmix64: reproducible choices from --seed (not for secrets). */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t rnd_below(uint64_t *s, size_t n)
{
    return n ? (size_t)(rnd_next(s) % n) : 0;
}

static void rnd_fill(uint64_t *s, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd_next(s);
}

/* One fuzz frame into buf (capacity cap), derived from base or not. */
static size_t fuzz_frame(uint64_t *s, const uint8_t *base, size_t blen, uint8_t *buf, size_t cap)
{
    size_t n = blen, k = rnd_below(s, 8);
    if (k == 0) { /* random bytes, random length */
        n = rnd_below(s, 10) == 0 ? rnd_below(s, 65536) : rnd_below(s, 512);
        rnd_fill(s, buf, n);
        return n;
    }
    memcpy(buf, base, blen);
    switch (k) {
    case 1: /* flip a few bits */
        for (size_t i = 0, m = 1 + rnd_below(s, 8); i < m; i++)
            buf[rnd_below(s, n)] ^= (uint8_t)(1u << rnd_below(s, 8));
        break;
    case 2: /* overwrite a run */
    {
        size_t at = rnd_below(s, n), run = 1 + rnd_below(s, 32);
        rnd_fill(s, buf + at, at + run > n ? n - at : run);
        break;
    }
    case 3: /* truncate */
        n = rnd_below(s, n);
        break;
    case 4: /* append */
    {
        size_t extra = 1 + rnd_below(s, 64);
        rnd_fill(s, buf + n, extra);
        n += extra;
        break;
    }
    case 5: /* insert */
    {
        size_t at = rnd_below(s, n), extra = 1 + rnd_below(s, 16);
        memmove(buf + at + extra, buf + at, n - at);
        rnd_fill(s, buf + at, extra);
        n += extra;
        break;
    }
    case 6: /* set a byte to an interesting value (lengths, tags) */
    {
        static const uint8_t vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x08};
        buf[rnd_below(s, n)] = vals[rnd_below(s, sizeof vals)];
        break;
    }
    default: /* delete a run */
    {
        size_t at = rnd_below(s, n), run = 1 + rnd_below(s, 16);
        if (at + run > n)
            run = n - at;
        memmove(buf + at, buf + at + run, n - at - run);
        n -= run;
        break;
    }
    }
    (void)cap;
    return n;
}

/* Collect up to count replies within the timeout into out. */
static void collect(attack_t *a, int count, json_t *out)
{
    int replies = 0, verified = 0, accepted = 0, recorded = 0;
    json_t *codes = json_object();
    int64_t deadline = cpm_mono_ms() + a->o->timeout_ms;
    while (replies < count && cpm_mono_ms() < deadline) {
        result_t r;
        if (!receive(a, (int)(deadline - cpm_mono_ms()), &r))
            continue;
        replies++;
        if (!r.verified)
            continue;
        verified++;
        if (r.type != CPM__MSG_TYPE__MSG_ERROR)
            accepted++;
        if (r.type == CPM__MSG_TYPE__MSG_SUBMIT_REPLY && !r.duplicate)
            recorded++;
        char key[16];
        snprintf(key, sizeof key, "%d", r.error_code);
        json_t *c = json_object_get(codes, key);
        json_object_set_new(codes, key, json_integer(c ? json_integer_value(c) + 1 : 1));
    }
    json_object_set_new(out, "sent", json_integer(count));
    json_object_set_new(out, "replies", json_integer(replies));
    json_object_set_new(out, "verified", json_integer(verified));
    json_object_set_new(out, "accepted", json_integer(accepted));
    json_object_set_new(out, "recorded", json_integer(recorded));
    json_object_set_new(out, "codes", codes);
}

/* The valid frame fuzz starts from: a complaint for intake, else a health
 * query. Sent first; its reply is reported as "first". */
static int fuzz_base(attack_t *a, uint8_t **base, size_t *blen, json_t *out)
{
    int rc;
    if (!strcmp(a->service, "intake")) {
        rc = valid_complaint_frame(a, base, blen);
    } else {
        Cpm__HealthQuery q = CPM__HEALTH_QUERY__INIT;
        size_t plen;
        uint8_t *p = pack(&q.base, &plen);
        rc = p ? valid_frame(a, CPM__MSG_TYPE__MSG_HEALTH_QUERY, p, plen, base, blen) : 1;
        free(p);
    }
    result_t first;
    if (rc != 0 || exchange(a, *base, *blen, &first) != 0)
        return 1;
    json_object_set_new(out, "first", result_json(&first));
    return 0;
}

/* fuzz: random frames and mutations of the base frame, whose sequence number
 * is spent by then, so any mutation that still verifies is a replay.
 * fuzz_payload: validly signed complaints (fresh sequence numbers) whose
 * payload is random or a mutation of a good complaint: they reach intake's
 * decoder and validation. */
static int run_fuzz(attack_t *a, bool payload_only, json_t *out)
{
    uint8_t *base = NULL, *buf = NULL;
    size_t blen = 0;
    if (fuzz_base(a, &base, &blen, out) != 0) {
        free(base);
        return 1;
    }
    if (payload_only) {
        free(base);
        base = complaint_bytes("Fuzz Shop", &blen);
    }
    size_t cap = blen + 65536 + 128;
    if (!base || !(buf = malloc(cap))) {
        free(base);
        return 1;
    }
    uint64_t s = a->o->seed;
    int rc = 0;
    for (int i = 0; rc == 0 && i < a->o->count; i++) {
        size_t n = fuzz_frame(&s, base, blen, buf, cap);
        if (!payload_only) {
            rc = send_frame(a, buf, n, 0);
            continue;
        }
        uint8_t *frame = NULL;
        size_t flen = 0;
        rc = valid_frame(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, buf, n, &frame, &flen);
        if (rc == 0)
            rc = send_frame(a, frame, flen, 0);
        free(frame);
    }
    free(buf);
    free(base);
    if (rc == 0)
        collect(a, a->o->count, out);
    return rc;
}

/* ---- main -------------------------------------------------------------------- */

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
};

static const char usage[] =
    "usage: cpm_attack --home DIR --as ID --target MEMBER/SERVICE --attack NAME\n"
    "                  [--curve-as ID] [--timeout MS] [--count N] [--seed S] [--ticket T]\n"
    "attacks: garbage empty truncated oversize oversize_huge tampered forged wrong_key\n"
    "  unknown_sender replay skew unknown_type forbidden wrong_recipient\n"
    "  transport_mismatch (needs --curve-as) bad_payload unregistered_curve invalid_field\n"
    "  valid stream_forgery ticket_squat multipart case_action foreign_update (these three\n"
    "  need --ticket) fuzz fuzz_payload (--count, --seed)\n";

static int parse(int argc, char **argv, opts_t *o)
{
    static const struct option lo[] = {
        {"home", required_argument, 0, 'H'},     {"as", required_argument, 0, 'a'},
        {"curve-as", required_argument, 0, 'c'}, {"target", required_argument, 0, 't'},
        {"attack", required_argument, 0, 'k'},   {"timeout", required_argument, 0, 'T'},
        {"count", required_argument, 0, 'n'},    {"seed", required_argument, 0, 's'},
        {"ticket", required_argument, 0, 'i'},   {0, 0, 0, 0}};
    *o = (opts_t){.timeout_ms = 3000, .count = 500, .seed = 1};
    int opt;
    while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (opt) {
        case 'H':
            o->home = optarg;
            break;
        case 'a':
            o->as = optarg;
            break;
        case 'c':
            o->curve_as = optarg;
            break;
        case 't':
            o->target = optarg;
            break;
        case 'k':
            o->attack = optarg;
            break;
        case 'T':
            o->timeout_ms = atoi(optarg);
            break;
        case 'n':
            o->count = atoi(optarg);
            break;
        case 's':
            o->seed = strtoull(optarg, NULL, 10);
            break;
        case 'i':
            o->ticket = optarg;
            break;
        default:
            return -1;
        }
    }
    if (!o->home || !o->as || !o->target || !o->attack || o->timeout_ms <= 0 || o->count < 0 ||
        optind != argc)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o;
    if (parse(argc, argv, &o) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    attack_fn fn = NULL;
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++)
        if (!strcmp(o.attack, attacks[i].name))
            fn = attacks[i].fn;
    bool fuzz = !strcmp(o.attack, "fuzz"), fuzz_payload = !strcmp(o.attack, "fuzz_payload");
    if (!fn && !fuzz && !fuzz_payload) {
        fprintf(stderr, "cpm_attack: unknown attack %s\n%s", o.attack, usage);
        return 2;
    }
    if (sodium_init() < 0)
        return die("libsodium cannot start", NULL);
    attack_t a = {0};
    int rc = setup(&a, &o);
    json_t *out = json_pack("{s:s,s:s}", "attack", o.attack, "target", o.target);
    if (rc == 0 && !fn) {
        rc = run_fuzz(&a, fuzz_payload, out);
    } else if (rc == 0) {
        uint8_t *frame = NULL;
        size_t len = 0;
        result_t first = {0}, r = {0};
        rc = fn(&a, &frame, &len, &first);
        if (rc == 0)
            rc = exchange(&a, frame, len, &r);
        free(frame);
        if (rc == 0) {
            json_t *rj = result_json(&r);
            json_object_update(out, rj);
            json_decref(rj);
            if (first.replied)
                json_object_set_new(out, "first", result_json(&first));
        }
    }
    if (rc == 0) {
        char *s = json_dumps(out, JSON_COMPACT);
        if (s)
            printf("%s\n", s);
        free(s);
    }
    json_decref(out);
    teardown(&a);
    return rc == 0 ? 0 : 1;
}
