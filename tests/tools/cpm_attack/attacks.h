/* attacks: the hostile frames, by name (attacks.c), and the fuzz runs
 * (fuzz.c), which send many and count the replies. */
#ifndef CPM_ATTACK_ATTACKS_H
#define CPM_ATTACK_ATTACKS_H

#include "attack.h"

#include <jansson.h>
#include <stddef.h>

/* Each builds one frame into *out; a NULL *out with 0 means "already done".
 * The caller sends *out and frees it; a sequence (replay) runs its earlier
 * exchange itself and reports it in first. 0, or 1 when it could not run. */
typedef int (*attack_fn)(attack_t *a, uint8_t **out, size_t *len, result_t *first);

/* The attack called name, or NULL (fuzz and fuzz_payload are not in the list). */
attack_fn attack_find(const char *name);

/* fuzz (payload_only false) or fuzz_payload: --count frames from --seed, then
 * the replies' counts into out. 0 or 1. */
int fuzz_run(attack_t *a, bool payload_only, json_t *out);

#endif
