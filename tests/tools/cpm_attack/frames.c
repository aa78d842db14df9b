/* frames: building the frames cpm_attack sends, good ones first. */
#include "frames.h"

#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A well-formed envelope from us to the target; callers then spoil one field. */
void frame_fields(attack_t *a, Cpm__MsgType type, const uint8_t *payload, size_t len,
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

int frame_seal(const cpm_env_fields_t *f, const uint8_t sk[64], uint8_t **out, size_t *len)
{
    return cpm_envelope_seal(f, sk, out, len) == 0 ? 0 : attack_die("cannot seal a frame", NULL);
}

uint8_t *frame_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf)
        protobuf_c_message_pack(m, buf);
    return buf;
}

/* A complaint intake accepts (business may be "" to break it). */
uint8_t *frame_complaint(const char *business, size_t *len)
{
    char ref[48], id[33];
    cpm_random_id(id);
    snprintf(ref, sizeof ref, "attack-%s", id);
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.channel = "hotline";
    c.business_name = (char *)business;
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "Security test complaint";
    c.client_ref = ref;
    return frame_pack(&c.base, len);
}

/* A DeliveryBatch of one record on stream, starting at first_seq. */
uint8_t *frame_batch(const char *stream, uint64_t first_seq, const ProtobufCMessage *rec,
                     size_t *len)
{
    size_t rlen;
    uint8_t *r = frame_pack(rec, &rlen);
    if (!r)
        return NULL;
    ProtobufCBinaryData records[1] = {{rlen, r}};
    Cpm__DeliveryBatch b = CPM__DELIVERY_BATCH__INIT;
    b.stream = (char *)stream;
    b.first_seq = first_seq;
    b.n_records = 1;
    b.records = records;
    uint8_t *out = frame_pack(&b.base, len);
    free(r);
    return out;
}

/* A signed frame of type carrying payload, otherwise untouched. */
int frame_valid(attack_t *a, Cpm__MsgType type, const uint8_t *payload, size_t plen, uint8_t **out,
                size_t *len)
{
    char msg_id[33];
    cpm_env_fields_t f;
    frame_fields(a, type, payload, plen, msg_id, &f);
    return frame_seal(&f, a->id.sign_sk, out, len);
}

int frame_valid_complaint(attack_t *a, uint8_t **out, size_t *len)
{
    size_t plen;
    uint8_t *p = frame_complaint("Attack Test Shop", &plen);
    int rc = p ? frame_valid(a, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, p, plen, out, len) : 1;
    free(p);
    return rc;
}
