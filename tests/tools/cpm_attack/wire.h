/* wire: attacks on the cost of input (issue 5, items 2, 3 and 5): unknown
 * fields, frames of tiny fields, and batches that are too large or made of
 * records that can only become dead letters. Registered in attacks.c. */
#ifndef CPM_ATTACK_WIRE_H
#define CPM_ATTACK_WIRE_H

#include "attack.h"

#include <stddef.h>
#include <stdint.h>

/* A valid, signed complaint with an unknown field 99 of --count KiB. */
int at_padded_complaint(attack_t *a, uint8_t **out, size_t *len, result_t *first);
/* CPM_MAX_MSG bytes of 2-byte unknown fields (field 3, varint 1): no
 * signature, only cost. */
int at_twobyte_fields(attack_t *a, uint8_t **out, size_t *len, result_t *first);
/* A signed batch on our own stream of --count empty records. */
int at_empty_records(attack_t *a, uint8_t **out, size_t *len, result_t *first);
/* A signed batch on our own stream of 3 records of 1 MiB (over the bytes a
 * batch may hold). */
int at_oversize_batch(attack_t *a, uint8_t **out, size_t *len, result_t *first);
/* A signed batch on our own stream of --count undecodable 1-byte records:
 * each would be a dead letter. */
int at_bad_records(attack_t *a, uint8_t **out, size_t *len, result_t *first);

#endif
