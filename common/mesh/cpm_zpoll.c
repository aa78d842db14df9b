/* cpm_zpoll: see cpm_zpoll.h for why it is correct. */
#include "cpm_zpoll.h"
#include "cpm_util.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>

/* Fill revents of a socket item from ZMQ_EVENTS; -1 on error. */
static int socket_events(zmq_pollitem_t *it)
{
    int ev = 0;
    size_t len = sizeof ev;
    if (zmq_getsockopt(it->socket, ZMQ_EVENTS, &ev, &len) != 0)
        return -1;
    it->revents = (short)(ev & it->events & (ZMQ_POLLIN | ZMQ_POLLOUT));
    return 0;
}

static int fd_events(short want)
{
    int e = 0;
    if (want & ZMQ_POLLIN)
        e |= POLLIN;
    if (want & ZMQ_POLLOUT)
        e |= POLLOUT;
    if (want & ZMQ_POLLPRI)
        e |= POLLPRI;
    return e;
}

static short zmq_revents(short got)
{
    short e = 0;
    if (got & POLLIN)
        e |= ZMQ_POLLIN;
    if (got & POLLOUT)
        e |= ZMQ_POLLOUT;
    if (got & POLLPRI)
        e |= ZMQ_POLLPRI;
    if (got & (POLLERR | POLLHUP | POLLNVAL))
        e |= ZMQ_POLLERR;
    return e;
}

int cpm_zpoll(zmq_pollitem_t *items, int nitems, long timeout_ms)
{
    if (nitems < 0 || (nitems > 0 && !items)) {
        errno = EINVAL;
        return -1;
    }
    struct pollfd stack[16];
    struct pollfd *pfd = nitems <= 16 ? stack : malloc((size_t)nitems * sizeof *pfd);
    if (!pfd) {
        errno = ENOMEM;
        return -1;
    }
    int ready = 0, rc = 0, raw = 0;
    /* First: what the sockets hold now (their descriptors say nothing of it). */
    for (int i = 0; i < nitems && rc == 0; i++) {
        items[i].revents = 0;
        pfd[i].revents = 0;
        if (items[i].socket) {
            zmq_fd_t fd = -1;
            size_t len = sizeof fd;
            if (zmq_getsockopt(items[i].socket, ZMQ_FD, &fd, &len) != 0 ||
                socket_events(&items[i]) != 0) {
                rc = -1;
                break;
            }
            pfd[i].fd = fd;
            pfd[i].events = POLLIN; /* the mailbox: any command */
            ready += items[i].revents != 0;
        } else {
            pfd[i].fd = items[i].fd;
            pfd[i].events = (short)fd_events(items[i].events);
            raw++;
        }
    }
    int64_t end = timeout_ms > 0 ? cpm_mono_ms() + timeout_ms : 0;
    long wait = ready > 0 ? 0 : timeout_ms;
    while (rc == 0) {
        if ((ready > 0 || wait == 0) && raw == 0)
            break; /* ZMQ_EVENTS answered; no descriptor item to look at */
        int n = poll(pfd, (nfds_t)nitems, wait < 0 ? -1 : wait > INT_MAX ? INT_MAX : (int)wait);
        if (n < 0) {
            rc = -1;
            break;
        }
        for (int i = 0; i < nitems && n > 0 && rc == 0; i++) {
            if (!pfd[i].revents)
                continue;
            if (items[i].socket) {
                if (items[i].revents == 0) { /* not counted yet */
                    rc = socket_events(&items[i]);
                    ready += items[i].revents != 0;
                }
            } else {
                items[i].revents =
                    (short)(zmq_revents(pfd[i].revents) & (items[i].events | ZMQ_POLLERR));
                ready += items[i].revents != 0;
            }
            pfd[i].revents = 0;
        }
        if (rc != 0 || ready > 0 || wait == 0)
            break;
        if (timeout_ms > 0) { /* only commands came (e.g. a peer connected): wait on */
            wait = (long)(end - cpm_mono_ms());
            if (wait <= 0)
                break;
        }
    }
    if (pfd != stack)
        free(pfd);
    return rc == 0 ? ready : -1;
}
