/* frames: the frames attacks start from, built with the envelope code the
 * services use: good ones, which an attack then breaks in one precise way,
 * and the payloads they carry. Buffers returned through out are malloc'd and
 * the caller frees them. */
#ifndef CPM_ATTACK_FRAMES_H
#define CPM_ATTACK_FRAMES_H

#include "attack.h"
#include "cpm_envelope.h"

#include <stddef.h>

/* A well-formed envelope from us to the target; callers then spoil one field.
 * f points into msg_id and payload, which must outlive it. */
void frame_fields(attack_t *a, Cpm__MsgType type, const uint8_t *payload, size_t len,
                  char msg_id[33], cpm_env_fields_t *f);
/* Signs f with sk. 0, or 1 after saying why. */
int frame_seal(const cpm_env_fields_t *f, const uint8_t sk[64], uint8_t **out, size_t *len);
/* m packed into a new buffer, or NULL. */
uint8_t *frame_pack(const ProtobufCMessage *m, size_t *len);
/* A complaint intake accepts (business may be "" to break it), or NULL. */
uint8_t *frame_complaint(const char *business, size_t *len);
/* A DeliveryBatch of one record on stream, starting at first_seq, or NULL. */
uint8_t *frame_batch(const char *stream, uint64_t first_seq, const ProtobufCMessage *rec,
                     size_t *len);
/* A signed frame of type carrying payload, otherwise untouched. 0 or 1. */
int frame_valid(attack_t *a, Cpm__MsgType type, const uint8_t *payload, size_t plen, uint8_t **out,
                size_t *len);
/* A signed frame carrying a good complaint. 0 or 1. */
int frame_valid_complaint(attack_t *a, uint8_t **out, size_t *len);

#endif
