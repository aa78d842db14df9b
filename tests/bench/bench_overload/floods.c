/* floods: the hostile loads of issue 5, each a thread of its own with its own
 * zmq context, run until told to stop. Each counts what it sent and what came
 * back; none of them fails the bench when the service refuses or drops it
 * (that is what a fixed service should do). */
#include "overload.h"

#include "cpm_envelope.h"
#include "cpm_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define FRAME_MAX (4u << 20)

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int overload_identity(const env_t *e, const char *member, cpm_identity_t *id)
{
    char path[1200];
    cpm_error_t kerr;
    snprintf(path, sizeof path, "%s/keys/%s.secret", e->home, member);
    if (cpm_identity_load(id, path, &kerr) != 0) {
        fprintf(stderr, "bench_overload: %s: %s\n", path, kerr.message);
        return -1;
    }
    return 0;
}

const char *overload_endpoint(const env_t *e, const char *member, const char *service)
{
    const Cpm__Member *m = cpm_registry_member(e->reg, member);
    const Cpm__ServiceEndpoint *ep = m ? cpm_member_service(m, service) : NULL;
    return ep ? ep->endpoint : NULL;
}

const char *overload_area(const env_t *e)
{
    const Cpm__Registry *doc = cpm_registry_doc(e->reg);
    for (size_t i = 0; i < doc->n_members; i++) {
        const Cpm__Member *m = doc->members[i];
        char path[1200];
        snprintf(path, sizeof path, "%s/keys/%s.secret", e->home, m->id);
        if (strcmp(m->id, e->node) != 0 && cpm_member_may_send(m, "case_batch", "routing") &&
            access(path, R_OK) == 0)
            return m->id;
    }
    return NULL;
}

void *overload_socket(void *zctx, const env_t *e, const cpm_identity_t *id, const char *member,
                      const char *service, int sndhwm, int rcvhwm, int rcvbuf)
{
    const Cpm__Member *m = cpm_registry_member(e->reg, member);
    const char *ep = overload_endpoint(e, member, service);
    if (!m || !ep || m->curve_pk.len != 32)
        return NULL;
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0, rc = s ? 0 : -1;
    if (rc == 0) {
        rc |= zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        rc |= zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, m->curve_pk.data, 32);
        rc |= zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, id->curve_pk, 32);
        rc |= zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, id->curve_sk, 32);
        if (sndhwm)
            rc |= zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
        if (rcvhwm)
            rc |= zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
        if (rcvbuf)
            rc |= zmq_setsockopt(s, ZMQ_RCVBUF, &rcvbuf, sizeof rcvbuf);
        rc |= zmq_connect(s, ep);
    }
    if (rc != 0 && s) {
        zmq_close(s);
        s = NULL;
    }
    return s;
}

/* Read and drop every reply waiting on s; returns how many. */
static unsigned drain(void *s)
{
    unsigned n = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) >= 0)
        n++;
    zmq_msg_close(&m);
    return n;
}

/* Send frame, waiting (in steps, so that stop is seen) while the queue is
 * full. 0 sent, -1 stopped. */
static int send_patiently(flood_t *f, void *s, const void *buf, size_t len)
{
    while (!atomic_load(&f->stop)) {
        if (zmq_send(s, buf, len, ZMQ_DONTWAIT) == (int)len)
            return 0;
        if (zmq_errno() != EAGAIN) {
            atomic_fetch_add(&f->failures, 1);
            return -1;
        }
        atomic_fetch_add(&f->replies, drain(s));
        sleep_ms(5);
    }
    return -1;
}

/* (a) 4 MiB frames made of 2-byte unknown fields (field 15, varint 0), no
 * valid signature, from a registered transport key, as fast as the service
 * refuses them: at most WINDOW_A frames unanswered (an answer is the refusal;
 * after 2 s without one the next frame goes anyway). Unpaced, the frames
 * would only pile up in the service's queue and the figures would show the
 * backlog rather than the cost of each frame. */
#define WINDOW_A 2
void *flood_unknown_fields(void *arg)
{
    flood_t *f = arg;
    cpm_identity_t id;
    if (overload_identity(f->e, "coordinator.hn.doit", &id) != 0)
        return NULL;
    size_t len = FRAME_MAX - 64;
    uint8_t *frame = malloc(len);
    for (size_t i = 0; frame && i + 1 < len; i += 2) {
        frame[i] = 0x78; /* (15 << 3) | varint */
        frame[i + 1] = 0x00;
    }
    void *zctx = zmq_ctx_new();
    void *s = frame ? overload_socket(zctx, f->e, &id, f->e->node, f->victim, 4, 0, 0) : NULL;
    int outstanding = 0;
    int64_t last_send = 0;
    while (s && !atomic_load(&f->stop)) {
        unsigned got = drain(s);
        atomic_fetch_add(&f->replies, got);
        outstanding = outstanding > (int)got ? outstanding - (int)got : 0;
        if (outstanding >= WINDOW_A && mono_us() - last_send < 2000000) {
            zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
            zmq_poll(&it, 1, 50);
            continue;
        }
        if (send_patiently(f, s, frame, len) != 0)
            break;
        last_send = mono_us();
        outstanding++;
        atomic_fetch_add(&f->sent, 1);
        atomic_fetch_add(&f->bytes, len);
    }
    if (s)
        zmq_close(s);
    zmq_ctx_term(zctx);
    free(frame);
    cpm_identity_wipe(&id);
    return NULL;
}

static int parse_tcp(const char *ep, struct sockaddr_in *sa)
{
    char host[64];
    int port;
    if (sscanf(ep, "tcp://%63[^:]:%d", host, &port) != 2)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, strcmp(host, "*") ? host : "127.0.0.1", &sa->sin_addr) == 1 ? 0 : -1;
}

/* (b) conns idle TCP connections to the victim's port, with no key at all;
 * a connection the service closes is opened again at once, as an attacker
 * would. */
void *flood_idle_tcp(void *arg)
{
    flood_t *f = arg;
    struct sockaddr_in sa;
    const char *ep = overload_endpoint(f->e, f->e->node, f->victim);
    if (!ep || parse_tcp(ep, &sa) != 0) {
        snprintf(f->note, sizeof f->note, "no tcp endpoint");
        return NULL;
    }
    int n = f->conns;
    int *fds = malloc((size_t)n * sizeof *fds);
    struct pollfd *pfd = malloc((size_t)n * sizeof *pfd);
    if (!fds || !pfd)
        return NULL;
    for (int i = 0; i < n; i++)
        fds[i] = -1;
    while (!atomic_load(&f->stop)) {
        unsigned long long open = 0;
        for (int i = 0; i < n && !atomic_load(&f->stop); i++) {
            if (fds[i] >= 0)
                continue;
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                atomic_fetch_add(&f->failures, 1);
                break; /* our own descriptors: try again next round */
            }
            if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
                atomic_fetch_add(&f->failures, 1);
                close(fd);
                continue;
            }
            if (atomic_fetch_add(&f->sent, 1) >= (unsigned long long)n)
                atomic_fetch_add(&f->reconnects, 1);
            fds[i] = fd;
        }
        for (int i = 0; i < n; i++) {
            pfd[i].fd = fds[i];
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        poll(pfd, (nfds_t)n, 100);
        for (int i = 0; i < n; i++) {
            if (fds[i] < 0)
                continue;
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                char buf[512];
                ssize_t r = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);
                if (r == 0 || (r < 0 && errno != EAGAIN)) { /* closed by the service */
                    close(fds[i]);
                    fds[i] = -1;
                    continue;
                }
            }
            open++;
        }
        atomic_store(&f->open, open);
        if (open > atomic_load(&f->peak_open))
            atomic_store(&f->peak_open, open);
    }
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    free(pfd);
    return NULL;
}

/* (c) DeliveryBatches of f->records empty records from a registered area
 * node, each on a fresh stream (a new sender instance), one at a time: the
 * next is sent when the service has answered the last (or refused it). */
void *flood_empty_records(void *arg)
{
    flood_t *f = arg;
    const char *area = overload_area(f->e);
    cpm_identity_t id;
    if (!area) {
        snprintf(f->note, sizeof f->note, "no area node with a key in the home");
        return NULL;
    }
    if (overload_identity(f->e, area, &id) != 0)
        return NULL;
    void *zctx = zmq_ctx_new();
    void *s = overload_socket(zctx, f->e, &id, f->e->node, "routing", 2, 0, 0);
    char recipient[200];
    snprintf(recipient, sizeof recipient, "%s/routing", f->e->node);
    for (unsigned k = 0; s && !atomic_load(&f->stop); k++) {
        cpm_sender_t snd;
        char instance[64], stream[400], msg_id[33];
        snprintf(instance, sizeof instance, "flood.%d.%u", (int)getpid(), k);
        snprintf(stream, sizeof stream, "%s/%s>%s", area, instance, recipient);
        cpm_sender_init(&snd, &id, instance);
        /* DeliveryBatch by hand: stream (1), first_seq (2) = 1, then records
         * (3) of length 0, two bytes each. */
        size_t slen = strlen(stream), len = 2 + slen + 2 + 2 * (size_t)f->records;
        uint8_t *p = malloc(len);
        if (!p)
            break;
        size_t o = 0;
        p[o++] = 0x0a;
        p[o++] = (uint8_t)slen; /* < 128 */
        memcpy(p + o, stream, slen);
        o += slen;
        p[o++] = 0x10;
        p[o++] = 0x01;
        for (long r = 0; r < f->records; r++) {
            p[o++] = 0x1a;
            p[o++] = 0x00;
        }
        uint8_t *frame = NULL;
        size_t flen = 0;
        int rc = cpm_sender_seal_raw(&snd, CPM__MSG_TYPE__MSG_CASE_BATCH, recipient, NULL, p, o,
                                     msg_id, &frame, &flen);
        free(p);
        if (rc != 0 || flen > FRAME_MAX) {
            snprintf(f->note, sizeof f->note, "batch of %ld records does not fit a frame",
                     f->records);
            free(frame);
            break;
        }
        rc = send_patiently(f, s, frame, flen);
        free(frame);
        if (rc != 0)
            break;
        atomic_fetch_add(&f->sent, 1);
        atomic_fetch_add(&f->bytes, flen);
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        while (!atomic_load(&f->stop)) { /* its answer, or give up with the phase */
            if (zmq_poll(&it, 1, 100) > 0) {
                atomic_fetch_add(&f->replies, drain(s));
                break;
            }
        }
    }
    if (s)
        zmq_close(s);
    zmq_ctx_term(zctx);
    cpm_identity_wipe(&id);
    return NULL;
}

/* Event fetches of up to 1000 events from the start of the victim's log, at
 * f->rate a second, as the coordinator; read: whether replies are read. */
static void *fetches(flood_t *f, int read)
{
    cpm_identity_t id;
    if (overload_identity(f->e, "coordinator.hn.doit", &id) != 0)
        return NULL;
    void *zctx = zmq_ctx_new();
    /* Never reading: the smallest queue and socket buffer on our side, so
     * that replies pile up in the service, as with a client that stalls. */
    void *s = read ? overload_socket(zctx, f->e, &id, f->e->node, f->victim, 0, 0, 0)
                   : overload_socket(zctx, f->e, &id, f->e->node, f->victim, 0, 1, 4096);
    cpm_sender_t snd;
    char instance[64], recipient[200];
    snprintf(instance, sizeof instance, "fetch.%d.%d", (int)getpid(), read);
    snprintf(recipient, sizeof recipient, "%s/%s", f->e->node, f->victim);
    cpm_sender_init(&snd, &id, instance);
    Cpm__EventsFetch q = CPM__EVENTS_FETCH__INIT;
    q.from_seq = 1;
    q.max = 1000;
    int64_t start = mono_us();
    uint64_t n = 0;
    while (s && !atomic_load(&f->stop)) {
        int64_t due = start + (int64_t)(n * 1000000 / (uint64_t)f->rate);
        int64_t now = mono_us();
        if (now < due) {
            if (read) {
                zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
                zmq_poll(&it, 1, (long)((due - now) / 1000) + 1);
                atomic_fetch_add(&f->replies, drain(s));
            } else {
                sleep_ms((int)((due - now) / 1000) + 1);
            }
            continue;
        }
        uint8_t *frame = NULL;
        size_t len = 0;
        if (cpm_sender_seal(&snd, CPM__MSG_TYPE__MSG_EVENTS_FETCH, recipient, NULL, &q.base, NULL,
                            &frame, &len) == 0 &&
            zmq_send(s, frame, len, ZMQ_DONTWAIT) == (int)len) {
            atomic_fetch_add(&f->sent, 1);
            atomic_fetch_add(&f->bytes, len);
        } else {
            atomic_fetch_add(&f->failures, 1);
        }
        free(frame);
        n++;
    }
    atomic_store(&f->elapsed_us, mono_us() - start);
    if (s)
        zmq_close(s);
    zmq_ctx_term(zctx);
    cpm_identity_wipe(&id);
    return NULL;
}

void *flood_unread_fetches(void *arg)
{
    return fetches(arg, 0);
}

void *flood_fetch_storm(void *arg)
{
    return fetches(arg, 1);
}
