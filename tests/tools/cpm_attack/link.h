/* link: the CURVE link to the target service and the exchange of frames over
 * it. link_setup fills an attack_t (the caller zeroes it first); link_teardown
 * frees what it holds, also after a failed setup. */
#ifndef CPM_ATTACK_LINK_H
#define CPM_ATTACK_LINK_H

#include "attack.h"

#include <jansson.h>
#include <stddef.h>

/* Loads the registry and keys from o->home and connects. 0, or 1 after
 * saying why on stderr. */
int link_setup(attack_t *a, const opts_t *o);
void link_teardown(attack_t *a);

/* Sends buf as one frame (ZMQ_SNDMORE in flags for a first part), waiting
 * --timeout at most. 0 or 1. */
int link_send(attack_t *a, const uint8_t *buf, size_t len, int flags);
/* Waits up to timeout_ms for one reply and verifies it. 1 when one came. */
int link_receive(attack_t *a, int timeout_ms, result_t *r);
/* Sends buf and waits --timeout for the reply. 0 (r->undelivered when the
 * send itself timed out: a refused link), or 1 when it cannot send. */
int link_exchange(attack_t *a, const uint8_t *buf, size_t len, result_t *r);

/* The report of one exchange as a JSON object (the caller owns it). */
json_t *result_json(const result_t *r);

#endif
