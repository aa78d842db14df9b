#include "cpm_transport.h"
#include "cpm_envelope.h"
#include "cpm_log.h"
#include "cpm_ratelimit.h"
#include "cpm_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct cpm_zap {
    void *sock;
    const cpm_registry_t *reg;
    cpm_metrics_t *metrics;
};

cpm_zap_t *cpm_zap_new(void *zctx, cpm_metrics_t *metrics)
{
    cpm_zap_t *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->metrics = metrics;
    z->sock = zmq_socket(zctx, ZMQ_REP);
    int linger = 0;
    if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->sock, "inproc://zeromq.zap.01") != 0) {
        cpm_error("zap: cannot bind handler: %s", zmq_strerror(zmq_errno()));
        if (z->sock)
            zmq_close(z->sock);
        free(z);
        return NULL;
    }
    return z;
}

void cpm_zap_destroy(cpm_zap_t **p)
{
    if (!p || !*p)
        return;
    zmq_close((*p)->sock);
    free(*p);
    *p = NULL;
}

void *cpm_zap_socket(cpm_zap_t *z)
{
    return z->sock;
}

void cpm_zap_set_registry(cpm_zap_t *z, const cpm_registry_t *reg)
{
    z->reg = reg;
}

const Cpm__Member *cpm_zap_admits(const cpm_registry_t *reg, const uint8_t curve_pk[32])
{
    const Cpm__Member *m = reg ? cpm_registry_member_by_curve(reg, curve_pk) : NULL;
    if (!m)
        return NULL;
    char kid[CPM_KEY_ID_LEN + 1];
    cpm_member_key_id(m, kid);
    if (cpm_registry_key_revoked(reg, kid))
        return NULL;
    cpm_key_id(curve_pk, kid);
    return cpm_registry_key_revoked(reg, kid) ? NULL : m;
}

bool cpm_zap_lost_access(const cpm_registry_t *old_reg, const cpm_registry_t *new_reg, char *who,
                         size_t wholen)
{
    const Cpm__Registry *d = old_reg ? cpm_registry_doc(old_reg) : NULL;
    for (size_t i = 0; d && i < d->n_members; i++) {
        const Cpm__Member *m = d->members[i];
        if (m->curve_pk.len != 32 || cpm_zap_admits(old_reg, m->curve_pk.data) != m)
            continue;
        const Cpm__Member *now = cpm_zap_admits(new_reg, m->curve_pk.data);
        if (!now || strcmp(now->id, m->id) != 0) {
            if (who)
                snprintf(who, wholen, "%s", m->id);
            return true;
        }
    }
    return false;
}

/* 0 when sent, -1 when not. */
static int send_str(void *sock, const char *s, int more)
{
    return zmq_send(sock, s, strlen(s), more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/* ZAP (RFC 27): version, request id, domain, address, routing id, mechanism,
 * credentials...; reply: version, request id, status code, status text,
 * user id, metadata. */
static int handle_one(cpm_zap_t *z)
{
    zmq_msg_t f[8];
    int n = cpm_sock_recv(z->sock, f, 8, ZMQ_DONTWAIT);
    if (n == 0)
        return 0;
    if (n < 0)
        return -1;
    const char *status = "400", *text = "unknown transport key", *user = "";
    char user_buf[128] = "";
    if (n >= 7 && zmq_msg_size(&f[5]) == 5 && memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
        zmq_msg_size(&f[6]) == 32 && z->reg) {
        const Cpm__Member *m = cpm_zap_admits(z->reg, zmq_msg_data(&f[6]));
        if (!m && cpm_registry_member_by_curve(z->reg, zmq_msg_data(&f[6])))
            text = "revoked transport key";
        if (m) {
            status = "200";
            text = "OK";
            snprintf(user_buf, sizeof user_buf, "%s", m->id);
            user = user_buf;
        }
    } else if (n >= 6) {
        text = "only CURVE is accepted";
    }
    if (z->metrics)
        cpm_metrics_add(z->metrics, status[0] == '2' ? "zap.admitted" : "zap.refused", 1);
    /* Anyone who reaches the port can start a handshake, no key needed: the
     * counter counts every refusal, the log only a bounded number. */
    static cpm_ratelimit_t refused_log = CPM_RATELIMIT_INIT(20, 10000);
    uint64_t dropped = 0;
    if (status[0] != '2' && cpm_ratelimit_allow(&refused_log, cpm_mono_ms(), &dropped))
        cpm_warn("zap: refused a connection: %s%s", text, cpm_ratelimit_note(dropped));
    /* A reply that does not go out leaves libzmq's handshake waiting (it then
     * fails closed): count and say so, rate-limited like the refusals. */
    int bad = send_str(z->sock, "1.0", 1);
    if (zmq_send(z->sock, n > 1 ? zmq_msg_data(&f[1]) : "", n > 1 ? zmq_msg_size(&f[1]) : 0,
                 ZMQ_SNDMORE) < 0)
        bad = -1;
    bad |= send_str(z->sock, status, 1);
    bad |= send_str(z->sock, text, 1);
    bad |= send_str(z->sock, user, 1);
    if (zmq_send(z->sock, "", 0, 0) < 0)
        bad = -1;
    if (bad) {
        static cpm_ratelimit_t unsent_log = CPM_RATELIMIT_INIT(20, 10000);
        uint64_t lost = 0;
        if (z->metrics)
            cpm_metrics_add(z->metrics, "zap.reply_failed", 1);
        if (cpm_ratelimit_allow(&unsent_log, cpm_mono_ms(), &lost))
            cpm_warn("zap: cannot send the reply: %s%s", zmq_strerror(zmq_errno()),
                     cpm_ratelimit_note(lost));
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return 1;
}

int cpm_zap_handle(cpm_zap_t *z)
{
    int count = 0;
    while (handle_one(z) > 0)
        count++;
    return count;
}

/* Options of every socket. The high-water marks are in messages, so they are
 * derived from the largest frame: a peer that never reads (or never stops
 * sending) pins at most CPM_SOCK_HWM frames each way on its connection. A
 * connection that has not finished the CURVE handshake within
 * CPM_HANDSHAKE_MS is closed, so idle connections cannot hold descriptors.
 *
 * Publications carry no heartbeats, either way. libzmq 4.3 aborts a SUB
 * whose reading stopped on a full queue (any busy subscriber) in two ways:
 * (1) a heartbeat timer closes the connection and a new one replaces it;
 * draining the old queue then restarts the new connection, which never
 * stopped (assertion _input_stopped, zeromq/libzmq#3937); (2) the peer
 * closed the connection meanwhile and the queued bytes hold a PING: its
 * PONG is written to the closed connection (assertion !_io_error in
 * out_event). So the SUB sends no heartbeats (it would time out waiting for
 * answers it does not read) and the PUB sends none (no TTL to arm, no PING
 * to answer). Both sides notice a dead peer by TCP keepalive, whose error
 * waits for the reading to resume; a PUB never waits for a slow subscriber
 * (its queue drops, CPM_SOCK_HWM).
 *
 * A service's ROUTER sends no heartbeats either: a client that never reads
 * its replies stops the ROUTER's writing, the ROUTER's heartbeat timeout then
 * closed the connection and libzmq aborted the service on the pending write
 * (assertion !_io_error, seen with test_transport_limits' reader that never
 * reads under load): one authorized client could stop intake. The client
 * side (DEALER) keeps its heartbeats, so a sender still sees a dead or
 * frozen service within seconds (delivery's "connected"); the service
 * notices a dead client by TCP keepalive, as above.
 *
 * Way (2) needs no heartbeat of ours: a client's own PINGs, read before the
 * ROUTER's reading stopped, were answered after the client reset the
 * connection, and aborted the service (seen again with the same test). That
 * one is fixed in libzmq itself: cpmesh links Debian's libzmq with
 * deploy/libzmq/pong-after-io-error.patch (PINGs and PONGs go through
 * restart_output, which returns on an I/O error), checked by
 * tests/unit/test_zmq_reset_ping.c. The settings above stay: they also keep
 * way (1) away, which the patch does not touch. */
static int set_common(void *s, int type)
{
    int linger = 0, ivl = 2000, timeout = 6000, ttl = 6000, hwm = CPM_SOCK_HWM;
    int handshake = CPM_HANDSHAKE_MS;
    int64_t maxsize = CPM_MAX_MSG + 1024;
    int rc = 0;
    if (type == ZMQ_SUB || type == ZMQ_PUB || type == ZMQ_ROUTER) {
        int on = 1, idle = 10, intvl = 5, cnt = 3;
        ivl = 0;
        ttl = 0;
        rc = zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE, &on, sizeof on) |
             zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof idle) |
             zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_INTVL, &intvl, sizeof intvl) |
             zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_CNT, &cnt, sizeof cnt);
    }
    return rc | zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) |
           zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl) |
           zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout) |
           zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl) |
           zmq_setsockopt(s, ZMQ_HANDSHAKE_IVL, &handshake, sizeof handshake) |
           zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm) |
           zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) |
           zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
}

static void *server_socket(void *zctx, int type, const cpm_identity_t *id, const char *endpoint,
                           bool quiet)
{
    void *s = zmq_socket(zctx, type);
    if (!s)
        return NULL;
    int one = 1;
    int rc = set_common(s, type);
    rc |= zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one);
    rc |= zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, id->curve_sk, 32);
    rc |= zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, CPM_ZAP_DOMAIN, strlen(CPM_ZAP_DOMAIN));
    if (type == ZMQ_ROUTER) {
        int reply_hwm = CPM_REPLY_HWM;
        rc |= zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
        rc |= zmq_setsockopt(s, ZMQ_SNDHWM, &reply_hwm, sizeof reply_hwm);
    }
    if (rc != 0 || zmq_bind(s, endpoint) != 0) {
        int e = zmq_errno();
        if (!quiet)
            cpm_error("cannot bind %s: %s", endpoint, zmq_strerror(e));
        zmq_close(s);
        errno = e;
        return NULL;
    }
    return s;
}

void *cpm_sock_server(void *zctx, int type, const cpm_identity_t *id, const char *endpoint)
{
    return server_socket(zctx, type, id, endpoint, false);
}

void *cpm_sock_server_quiet(void *zctx, int type, const cpm_identity_t *id, const char *endpoint)
{
    return server_socket(zctx, type, id, endpoint, true);
}

/* A CURVE client socket; with monitor, its monitor attached before the
 * connect, so that no event of the first handshake can come before anyone
 * listens (monitor events with no reader connected are dropped). */
static void *client_socket(void *zctx, int type, const cpm_identity_t *id,
                           const uint8_t server_pk[32], const char *endpoint, int events,
                           void **monitor)
{
    void *s = zmq_socket(zctx, type);
    if (!s)
        return NULL;
    int rc = set_common(s, type);
    rc |= zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pk, 32);
    rc |= zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, id->curve_pk, 32);
    rc |= zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, id->curve_sk, 32);
    if (rc == 0 && monitor)
        *monitor = cpm_sock_monitor(zctx, s, events); /* NULL: no events, still a link */
    if (rc != 0 || zmq_connect(s, endpoint) != 0) {
        cpm_error("cannot connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
        if (monitor)
            cpm_sock_monitor_close(s, monitor);
        zmq_close(s);
        return NULL;
    }
    return s;
}

void *cpm_sock_client(void *zctx, int type, const cpm_identity_t *id, const uint8_t server_pk[32],
                      const char *endpoint)
{
    return client_socket(zctx, type, id, server_pk, endpoint, 0, NULL);
}

void *cpm_sock_client_monitored(void *zctx, int type, const cpm_identity_t *id,
                                const uint8_t server_pk[32], const char *endpoint, int events,
                                void **monitor)
{
    *monitor = NULL;
    return client_socket(zctx, type, id, server_pk, endpoint, events, monitor);
}

void cpm_sock_close(void **sock)
{
    if (!sock || !*sock)
        return;
    int linger = 0;
    zmq_setsockopt(*sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(*sock);
    *sock = NULL;
}

void *cpm_sock_monitor(void *zctx, void *sock, int events)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://cpm-monitor-%p", sock);
    if (zmq_socket_monitor(sock, ep, events) != 0)
        return NULL;
    void *mon = zmq_socket(zctx, ZMQ_PAIR);
    if (mon && zmq_connect(mon, ep) != 0)
        cpm_sock_close(&mon);
    return mon;
}

int cpm_sock_monitor_event(void *monitor)
{
    zmq_msg_t f[2];
    int n = monitor ? cpm_sock_recv(monitor, f, 2, ZMQ_DONTWAIT) : 0;
    if (n <= 0)
        return 0;
    uint16_t event = 0; /* frame 1: event (u16, host order), value (u32) */
    if (zmq_msg_size(&f[0]) >= 2)
        memcpy(&event, zmq_msg_data(&f[0]), 2);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return event;
}

void cpm_sock_monitor_close(void *sock, void **monitor)
{
    if (sock)
        zmq_socket_monitor(sock, NULL, 0);
    cpm_sock_close(monitor);
}

int cpm_sock_recv(void *sock, void *parts, int nparts, int flags)
{
    zmq_msg_t *f = parts;
    int n = 0, overflow = 0;
    for (;;) {
        zmq_msg_t tmp;
        zmq_msg_t *dst = n < nparts ? &f[n] : &tmp;
        zmq_msg_init(dst);
        if (zmq_msg_recv(dst, sock, n == 0 ? flags : 0) < 0) {
            int e = zmq_errno();
            zmq_msg_close(dst);
            for (int i = 0; i < n && i < nparts; i++)
                zmq_msg_close(&f[i]);
            return (n == 0 && e == EAGAIN) ? 0 : -1;
        }
        int more = zmq_msg_more(dst);
        if (n < nparts)
            n++;
        else {
            zmq_msg_close(dst);
            overflow = 1;
        }
        if (!more)
            break;
    }
    if (overflow) {
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
        return CPM_SOCK_TOO_MANY_FRAMES;
    }
    return n;
}
