/* cpm_flusher: one file's flush (fdatasync) on a thread of its own, so that
 * the thread that wrote can go on while the disk works (cpm_store: a
 * group's journal record flushed while the server applies the next group;
 * docs/operations.md "The journal's flush beside the next group").
 *
 * One flush at a time: cpm_flusher_start hands over a file descriptor and a
 * ticket (a number that only grows, e.g. the journal record's seq); the
 * thread flushes the descriptor and then marks that ticket done. A caller
 * that starts another flush first waits for the one running. After the
 * ticket is done an eventfd (cpm_flusher_fd) is readable, so that a loop may
 * sleep in poll(2) until then; cpm_flusher_done empties it.
 *
 * The descriptor must stay open until its flush is done (cpm_flusher_wait).
 * Not for several writers: one thread starts and waits, the flusher's own
 * thread flushes. */
#ifndef CPM_FLUSHER_H
#define CPM_FLUSHER_H

#include "cpm_err.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cpm_flusher cpm_flusher_t;

/* NULL when the thread or the eventfd cannot be made. */
CPM_MUST_CHECK cpm_flusher_t *cpm_flusher_new(void);
/* Waits for a flush that runs, then stops the thread. */
void cpm_flusher_destroy(cpm_flusher_t **p);

/* Flush fd on the thread and then mark ticket done (ticket above every
 * ticket started before). Waits first for a flush that runs. 0, or the
 * errno of the flush before it when that one failed (then nothing starts:
 * the caller decides, see cpm_flusher_wait). */
CPM_MUST_CHECK int cpm_flusher_start(cpm_flusher_t *f, int fd, uint64_t ticket);
/* Whether ticket's flush (or a later one) is done, without waiting (no
 * system call while it is not); empties the eventfd once it is. *err: 0, or
 * the errno of a flush that failed (the failure is then forgotten: reported
 * once). err NULL: a failed flush counts as not done and stays to be
 * reported (by a later call or cpm_flusher_wait). */
bool cpm_flusher_done(cpm_flusher_t *f, uint64_t ticket, int *err);
/* Wait until no flush runs: 0, or the errno of the last flush when it
 * failed (reported once). */
CPM_MUST_CHECK int cpm_flusher_wait(cpm_flusher_t *f);
/* Whether a flush was started and has not ended (does not touch the
 * eventfd). */
bool cpm_flusher_busy(cpm_flusher_t *f);
/* Readable once a flush is done, until cpm_flusher_done empties it. */
int cpm_flusher_fd(const cpm_flusher_t *f);
/* Flushes done so far (for the journal's figures). */
uint64_t cpm_flusher_count(cpm_flusher_t *f);
/* Test-only: while on, every flusher of the process waits before it
 * flushes (to see what a server holds back until then). Off by default. */
void cpm_flusher_test_hold(bool on);
/* Test-only: whether a thread waits for a flush of some flusher of the
 * process (what a test that holds the flushes waits to see). */
bool cpm_flusher_test_waiting(void);

#endif
