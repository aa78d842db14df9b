/* cpm_zpoll: zmq_poll for a loop that alone uses its sockets, with fewer
 * system calls.
 *
 * libzmq's zmq_poll (4.3, no thread-safe socket in the set) makes two passes
 * when nothing is ready at once: poll(2) with timeout 0, then ZMQ_EVENTS of
 * every socket, then poll(2) with the timeout, then ZMQ_EVENTS of every
 * socket again. ZMQ_EVENTS of a socket whose command mailbox is idle costs a
 * getpid(2) and a poll(2) (libzmq's fork check and mailbox wait), so a wait
 * over n sockets that one message ends costs 2 + 4n system calls.
 *
 * cpm_zpoll asks ZMQ_EVENTS of every socket once (a send or receive since the
 * last wait may have taken the command that announced a message), then waits
 * in one poll(2) on the sockets' ZMQ_FD descriptors and asks ZMQ_EVENTS again
 * only of the sockets whose descriptor became readable: 1 + 2n + 2k calls for
 * k woken sockets. That is correct because once ZMQ_EVENTS has found no
 * message, every inbound pipe of the socket is marked asleep, and the next
 * message into it sends the socket a command, which makes its descriptor
 * readable; nothing else can reach the socket while this thread waits.
 * Callers must not share the sockets with another thread (libzmq sockets are
 * single-threaded anyway). */
#ifndef CPM_ZPOLL_H
#define CPM_ZPOLL_H

#include <zmq.h>

/* As zmq_poll: items of sockets (socket != NULL) or descriptors; sets each
 * item's revents; returns how many items have events, 0 on timeout, -1 on
 * error (errno, e.g. EINTR). timeout_ms < 0 waits without end. */
int cpm_zpoll(zmq_pollitem_t *items, int nitems, long timeout_ms);

#endif
