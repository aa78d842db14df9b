/* cpm_server_loop_int: the server loop's fault hook, for tests only (off
 * unless armed). Internal: the library's own sources and the unit tests of
 * the loop include it; no service does. It is built into the library (one
 * relaxed atomic load per answer sealed early when not armed).
 *
 * The loop seals a small group's answers on the pool while it waits for the
 * group's commit (seal_answers in cpm_server_loop.c), all or none: when one
 * cannot be sealed, every one sealed early is discarded and the group is
 * answered as if nothing had been sealed early. cpm_server_seal_fault_arm(n)
 * makes the nth answer (from 1) of the next group of at least n requests
 * sealed that way fail to seal, once; the hook then disarms itself. Any
 * thread may arm it. n == 0 disarms. */
#ifndef CPM_SERVER_LOOP_INT_H
#define CPM_SERVER_LOOP_INT_H

void cpm_server_seal_fault_arm(unsigned n);

#endif
