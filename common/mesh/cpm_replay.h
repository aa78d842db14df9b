/* cpm_replay: refuses a (principal, seq) pair seen before.
 *
 * Per principal ("<member>/<sender_instance>") it keeps the highest sequence
 * seen and a bitmap of the CPM_REPLAY_WINDOW numbers below it, as IPsec does.
 * A sequence inside the window is accepted once; one below the window is
 * refused. Principals idle longer than horizon_ms are forgotten: the clock-skew
 * check refuses their old messages anyway. State lives in memory only.
 *
 * The table is bounded per member, so that one member inventing instances
 * cannot crowd out the others: a member holds at most CPM_REPLAY_PER_MEMBER
 * principals, and a newcomer beyond that evicts that member's least recently
 * active principal. Eviction stays safe because sequence numbers start at the
 * clock in microseconds: the member keeps a floor (the highest number any of
 * its evicted principals had seen, for one horizon), and a principal the table
 * does not know is accepted only above its member's floor. A replayed message
 * of an evicted principal is at or below that floor. When the whole table is
 * full (CPM_REPLAY_MAX), the member holding the most principals gives one up.
 * Principals are hashed with a keyed hash (SipHash, random key per table), so
 * that no sender can aim at one bucket. */
#ifndef CPM_REPLAY_H
#define CPM_REPLAY_H

#include "cpm_err.h"

#include <stdint.h>

#define CPM_REPLAY_WINDOW 1024
/* At most this many principals are tracked in all (about 250 bytes each). */
#define CPM_REPLAY_MAX 100000
/* At most this many principals of one member (its services' senders and its
 * command-line runs of the last horizon). */
#define CPM_REPLAY_PER_MEMBER 4096

typedef struct cpm_replay cpm_replay_t;

CPM_MUST_CHECK cpm_replay_t *cpm_replay_new(int64_t horizon_ms);
void cpm_replay_destroy(cpm_replay_t **p);
/* 0: fresh, now recorded. -1: a replay, or too old for the window. The member
 * is the part of principal before its first '/' (all of it when none). */
CPM_MUST_CHECK int cpm_replay_check(cpm_replay_t *r, const char *principal, uint64_t seq,
                                    int64_t now_ms);
/* How many principals are tracked (for tests and health). */
unsigned cpm_replay_size(const cpm_replay_t *r);
/* How many principals were evicted to make room (for health). */
uint64_t cpm_replay_evicted(const cpm_replay_t *r);

#endif
