/* attack: what every part of cpm_attack shares: the command line, the link
 * to the target with the keys it uses, and what one exchange brought back. */
#ifndef CPM_ATTACK_ATTACK_H
#define CPM_ATTACK_ATTACK_H

#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_verifier.h"

#include <stdbool.h>
#include <stdint.h>

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
    bool undelivered; /* the send timed out: the link never came up */
    char verdict[32]; /* our verifier's verdict on the reply when it failed */
    int type;
    int error_code;
    char field[64], message[300], ticket[64], stream[200];
    bool duplicate;
    uint64_t acked_seq;
    uint64_t version; /* the verified reply's envelope version */
} result_t;

/* Says what failed on stderr ("cpm_attack: what: detail"); returns 1, the
 * result of an attack that could not be run. detail may be NULL. */
int attack_die(const char *what, const char *detail);

#endif
