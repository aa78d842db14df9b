/* cpm_replay: refuses a (principal, seq) pair seen before.
 *
 * Per principal ("<sender>/<sender_instance>") it keeps the highest sequence
 * seen and a bitmap of the CPM_REPLAY_WINDOW numbers below it, as IPsec does.
 * A sequence inside the window is accepted once; one below the window is
 * refused. Principals idle longer than horizon_ms are forgotten: the clock-skew
 * check refuses their old messages anyway. State lives in memory only. */
#ifndef CPM_REPLAY_H
#define CPM_REPLAY_H

#include <stdint.h>

#define CPM_REPLAY_WINDOW 1024
/* At most this many principals are tracked (about 200 bytes each); when all
 * are active, new principals are refused until some fall idle. */
#define CPM_REPLAY_MAX 100000

typedef struct cpm_replay cpm_replay_t;

cpm_replay_t *cpm_replay_new(int64_t horizon_ms);
void cpm_replay_destroy(cpm_replay_t **p);
/* 0: fresh, now recorded. -1: a replay, or too old for the window. */
int cpm_replay_check(cpm_replay_t *r, const char *principal, uint64_t seq, int64_t now_ms);
/* How many principals are tracked (for tests and health). */
unsigned cpm_replay_size(const cpm_replay_t *r);

#endif
