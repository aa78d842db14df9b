/* cpm_zpoll: the same answers as zmq_poll with fewer system calls: ready
 * sockets at once, a message that comes while it waits, a message whose
 * announcing command a send on the socket took, descriptors, timeouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_zpoll.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    void *ctx, *a, *b, *c, *d; /* a <-> b and c <-> d, PAIR over inproc */
} pairs_t;

static int setup(void **state)
{
    static pairs_t p;
    p.ctx = zmq_ctx_new();
    p.a = zmq_socket(p.ctx, ZMQ_PAIR);
    p.b = zmq_socket(p.ctx, ZMQ_PAIR);
    p.c = zmq_socket(p.ctx, ZMQ_PAIR);
    p.d = zmq_socket(p.ctx, ZMQ_PAIR);
    if (zmq_bind(p.a, "inproc://zpoll-a") || zmq_connect(p.b, "inproc://zpoll-a") ||
        zmq_bind(p.c, "inproc://zpoll-c") || zmq_connect(p.d, "inproc://zpoll-c"))
        return -1;
    *state = &p;
    return 0;
}

static int teardown(void **state)
{
    pairs_t *p = *state;
    zmq_close(p->a);
    zmq_close(p->b);
    zmq_close(p->c);
    zmq_close(p->d);
    zmq_ctx_term(p->ctx);
    return 0;
}

static void drain(void *s)
{
    char buf[64];
    while (zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT) >= 0) {
    }
}

static void test_nothing_then_timeout(void **state)
{
    pairs_t *p = *state;
    zmq_pollitem_t it[2] = {{p->a, 0, ZMQ_POLLIN, 0}, {p->c, 0, ZMQ_POLLIN, 0}};
    assert_int_equal(cpm_zpoll(it, 2, 0), 0);
    assert_int_equal(cpm_zpoll(it, 2, 20), 0);
    assert_int_equal(it[0].revents, 0);
    assert_int_equal(it[1].revents, 0);
}

static void test_ready_socket_only(void **state)
{
    pairs_t *p = *state;
    assert_int_equal(zmq_send(p->d, "x", 1, 0), 1);
    zmq_pollitem_t it[2] = {{p->a, 0, ZMQ_POLLIN, 0}, {p->c, 0, ZMQ_POLLIN, 0}};
    assert_int_equal(cpm_zpoll(it, 2, 5000), 1);
    assert_int_equal(it[0].revents, 0);
    assert_int_equal(it[1].revents, ZMQ_POLLIN);
    drain(p->c);
}

static void *send_later(void *arg)
{
    void **sv = arg;
    usleep(20000);
    zmq_send(sv[0], "late", 4, 0);
    return NULL;
}

/* Sockets are not thread-safe: b is used only by the thread while it lives. */
static void test_message_while_waiting(void **state)
{
    pairs_t *p = *state;
    zmq_pollitem_t it[2] = {{p->c, 0, ZMQ_POLLIN, 0}, {p->a, 0, ZMQ_POLLIN, 0}};
    assert_int_equal(cpm_zpoll(it, 2, 0), 0); /* both pipes asleep now */
    void *sv[1] = {p->b};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, send_later, sv), 0);
    int n = cpm_zpoll(it, 2, 10000); /* generous: the thread sends in ~20 ms */
    pthread_join(t, NULL);
    assert_int_equal(n, 1);
    assert_int_equal(it[1].revents, ZMQ_POLLIN);
    drain(p->a);
}

/* The trap of ZMQ_FD: a message whose command a later operation on the same
 * socket processed leaves the descriptor quiet. */
static void test_message_announced_earlier(void **state)
{
    pairs_t *p = *state;
    zmq_pollitem_t it = {p->a, 0, ZMQ_POLLIN, 0};
    assert_int_equal(cpm_zpoll(&it, 1, 0), 0);
    assert_int_equal(zmq_send(p->b, "m", 1, 0), 1);
    /* ZMQ_EVENTS (as a send or receive would) processes the command that
     * announced the message: the descriptor is quiet from now on. */
    int ev = 0;
    size_t len = sizeof ev;
    assert_int_equal(zmq_getsockopt(p->a, ZMQ_EVENTS, &ev, &len), 0);
    assert_true(ev & ZMQ_POLLIN);
    assert_int_equal(cpm_zpoll(&it, 1, 5000), 1);
    assert_int_equal(it.revents, ZMQ_POLLIN);
    drain(p->a);
    drain(p->b);
}

static void test_descriptor_items(void **state)
{
    pairs_t *p = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    zmq_pollitem_t it[2] = {{p->a, 0, ZMQ_POLLIN, 0}, {NULL, fds[0], ZMQ_POLLIN, 0}};
    assert_int_equal(cpm_zpoll(it, 2, 0), 0);
    assert_int_equal(write(fds[1], "z", 1), 1);
    assert_int_equal(cpm_zpoll(it, 2, 5000), 1);
    assert_int_equal(it[0].revents, 0);
    assert_int_equal(it[1].revents, ZMQ_POLLIN);
    /* a ready socket and a ready descriptor: both reported */
    assert_int_equal(zmq_send(p->b, "m", 1, 0), 1);
    assert_int_equal(cpm_zpoll(it, 2, 5000), 2);
    assert_int_equal(it[0].revents, ZMQ_POLLIN);
    assert_int_equal(it[1].revents, ZMQ_POLLIN);
    drain(p->a);
    close(fds[0]);
    close(fds[1]);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(cpm_zpoll(NULL, 1, 0), -1);
    assert_int_equal(cpm_zpoll(NULL, 0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_then_timeout),
        cmocka_unit_test(test_ready_socket_only),
        cmocka_unit_test(test_message_while_waiting),
        cmocka_unit_test(test_message_announced_earlier),
        cmocka_unit_test(test_descriptor_items),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
