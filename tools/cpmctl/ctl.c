#include "ctl.h"
#include "cpm_text.h"
#include "cpm_transport.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

void ctl_home(const char *opt_home, char *out, size_t n)
{
    const char *env = getenv("CPMESH_HOME"), *home = getenv("HOME");
    if (opt_home)
        snprintf(out, n, "%s", opt_home);
    else if (env && *env)
        snprintf(out, n, "%s", env);
    else
        snprintf(out, n, "%s/.cpmesh", home ? home : "/root");
}

static void default_as(const char *home, char *out, size_t n)
{
    const char *env = getenv("CPMESH_AS");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return;
    }
    char path[1200];
    uint8_t *buf = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/identity", home);
    out[0] = 0;
    if (cpm_read_file(path, 256, &buf, &len) == 0) {
        buf[strcspn((char *)buf, "\r\n")] = 0;
        snprintf(out, n, "%s", (char *)buf);
        free(buf);
    }
}

int ctl_open_as(ctl_t *c, const ctl_opts_t *o, const char *as)
{
    memset(c, 0, sizeof *c);
    c->json = o->json;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    ctl_home(o->home, c->home, sizeof c->home);
    if (as)
        snprintf(c->as, sizeof c->as, "%s", as);
    else if (o->as)
        snprintf(c->as, sizeof c->as, "%s", o->as);
    else
        default_as(c->home, c->as, sizeof c->as);
    cpm_error_t e = {0};
    char path[1400], err[300];
    cpm_public_t root;
    snprintf(path, sizeof path, "%s/keys/root.public", c->home);
    if (cpm_public_load(&root, path, err, sizeof err) != 0) {
        cpm_error_set(&e, CPM_E_NOT_FOUND, "home",
                      "no mesh at %s (%s); start one with ./deploy/local/up or pass --home",
                      c->home, err);
        ctl_fail(c, c->json, &e);
        return -1;
    }
    snprintf(path, sizeof path, "%s/registry.signed", c->home);
    c->reg = cpm_registry_load(path, root.sign_pk, err, sizeof err);
    if (!c->reg) {
        cpm_error_set(&e, CPM_E_INVALID, "registry", "registry %s: %s", path, err);
        ctl_fail(c, c->json, &e);
        return -1;
    }
    if (!*c->as) {
        cpm_error_set(&e, CPM_E_INVALID, "as", "no identity: pass --as ID or set CPMESH_AS");
        ctl_fail(c, c->json, &e);
        ctl_close(c);
        return -1;
    }
    snprintf(path, sizeof path, "%s/keys/%s.secret", c->home, c->as);
    if (cpm_identity_load(&c->id, path, err, sizeof err) != 0) {
        cpm_error_set(&e, CPM_E_INVALID, "as", "identity %s: %s", c->as, err);
        ctl_fail(c, c->json, &e);
        ctl_close(c);
        return -1;
    }
    /* A fresh instance per run, never a reused pid: receivers remember each
     * instance's highest sequence for ten minutes, and a run started after
     * the clock stepped back would otherwise be refused as a replay. */
    char rnd[33];
    cpm_random_id(rnd);
    snprintf(c->instance, sizeof c->instance, "cli.%d.%.12s", (int)getpid(), rnd);
    snprintf(c->self, sizeof c->self, "%s/%s", c->id.id, c->instance);
    cpm_sender_init(&c->sender, &c->id, c->instance);
    c->verifier = cpm_verifier_new(300000);
    c->zctx = zmq_ctx_new();
    return (c->verifier && c->zctx) ? 0 : -1;
}

int ctl_open(ctl_t *c, const ctl_opts_t *o)
{
    return ctl_open_as(c, o, NULL);
}

static void unlink_peer(ctl_t *c)
{
    cpm_sock_monitor_close(c->sock, &c->monitor);
    cpm_sock_close(&c->sock);
}

void ctl_close(ctl_t *c)
{
    unlink_peer(c);
    if (c->zctx)
        zmq_ctx_term(c->zctx);
    c->zctx = NULL;
    cpm_registry_destroy(&c->reg);
    cpm_verifier_destroy(&c->verifier);
    cpm_identity_wipe(&c->id);
}

static int link_to(ctl_t *c, const char *member, const char *service, cpm_error_t *err)
{
    char peer[200];
    snprintf(peer, sizeof peer, "%s/%s", member, service);
    if (c->sock && strcmp(peer, c->sock_peer) == 0)
        return 0;
    unlink_peer(c);
    const Cpm__Member *m = cpm_registry_member(c->reg, member);
    const Cpm__ServiceEndpoint *ep = m ? cpm_member_service(m, service) : NULL;
    if (!ep)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "node", "the registry has no service %s", peer);
    c->sock = cpm_sock_client(c->zctx, ZMQ_DEALER, &c->id, m->curve_pk.data, ep->endpoint);
    if (!c->sock)
        return cpm_error_set(err, CPM_E_UNAVAILABLE, "node", "cannot connect to %s at %s", peer,
                             ep->endpoint);
    snprintf(c->sock_peer, sizeof c->sock_peer, "%s", peer);
    /* Watch the handshake, so that a refused key is a clear error at once
     * rather than a timeout. */
    c->monitor = cpm_sock_monitor(
        c->zctx, c->sock, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    return 0;
}

/* 1 when the monitor reports that the service refused our handshake. */
static int handshake_refused(ctl_t *c)
{
    int event;
    while ((event = cpm_sock_monitor_event(c->monitor)) > 0)
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
            event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            return 1;
    return 0;
}

int ctl_send(ctl_t *c, const char *member, const char *service, Cpm__MsgType type,
             const ProtobufCMessage *req, char msg_id[33], cpm_error_t *err)
{
    int rc = link_to(c, member, service, err);
    if (rc != 0)
        return rc;
    char recipient[200];
    snprintf(recipient, sizeof recipient, "%s/%s", member, service);
    uint8_t *frame = NULL;
    size_t len = 0;
    if (cpm_sender_seal(&c->sender, type, recipient, NULL, req, msg_id, &frame, &len) != 0)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "cannot sign the request");
    rc = zmq_send(c->sock, frame, len, 0) == (int)len
             ? 0
             : cpm_error_set(err, CPM_E_UNAVAILABLE, "", "cannot send to %s", recipient);
    free(frame);
    return rc;
}

int ctl_reply_error(const cpm_msg_t *reply, cpm_error_t *err)
{
    if (reply->env->type != CPM__MSG_TYPE__MSG_ERROR)
        return 0;
    Cpm__ErrorReply *e =
        cpm__error_reply__unpack(NULL, reply->env->payload.len, reply->env->payload.data);
    if (!e)
        return cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "undecodable error reply");
    int code = e->code ? (int)e->code : CPM_E_INTERNAL;
    cpm_error_set(err, code, e->field, "%s", e->message);
    cpm__error_reply__free_unpacked(e, NULL);
    return code;
}

int ctl_recv(ctl_t *c, const char *member, int timeout_ms, cpm_msg_t *reply, cpm_error_t *err)
{
    int64_t deadline = cpm_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - cpm_mono_ms();
        zmq_pollitem_t it[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->monitor, 0, ZMQ_POLLIN, 0}};
        if (left <= 0 || zmq_poll(it, c->monitor ? 2 : 1, (long)left) <= 0)
            return cpm_error_set(err, CPM_E_TIMEOUT, "", "no answer from %s within %d ms",
                                 c->sock_peer, timeout_ms);
        if (handshake_refused(c))
            return cpm_error_set(err, CPM_E_FORBIDDEN, "as",
                                 "%s refused the CURVE handshake: the key of %s is not in its "
                                 "registry",
                                 c->sock_peer, c->id.id);
        if (!(it[0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t f[1];
        if (cpm_sock_recv(c->sock, f, 1, 0) != 1)
            continue;
        cpm_verify_ctx_t ctx = {.self = c->self, .awaiting_reply = "*", .expect_sender = member};
        cpm_verdict_t v = cpm_verifier_check(c->verifier, c->reg, &ctx, zmq_msg_data(&f[0]),
                                             zmq_msg_size(&f[0]), cpm_now_ms(), reply);
        zmq_msg_close(&f[0]);
        if (v != CPM_V_OK)
            return cpm_error_set(err, CPM_E_FORBIDDEN, "reply", "refused the reply of %s: %s",
                                 c->sock_peer, cpm_verdict_name(v));
        return 0;
    }
}

int ctl_call(ctl_t *c, const char *member, const char *service, Cpm__MsgType type,
             const ProtobufCMessage *req, cpm_msg_t *reply, cpm_error_t *err)
{
    char msg_id[33];
    int rc = ctl_send(c, member, service, type, req, msg_id, err);
    while (rc == 0) {
        rc = ctl_recv(c, member, c->timeout_ms, reply, err);
        if (rc != 0)
            break;
        if (strcmp(reply->env->correlation_id, msg_id) != 0) {
            cpm_msg_clear(reply); /* a late answer to an earlier request */
            continue;
        }
        rc = ctl_reply_error(reply, err);
        if (rc != 0)
            cpm_msg_clear(reply);
        break;
    }
    if (rc != 0) /* a fresh link next time: never read a stale answer */
        unlink_peer(c);
    return rc;
}

static char *ring_slot(void)
{
    static char ring[8][16384];
    static unsigned next;
    return ring[next++ % 8];
}

const char *ctl_safe(const char *s)
{
    s = s ? s : "";
    if (!cpm_text_needs_escape(s, strlen(s)))
        return s;
    char *buf = ring_slot();
    cpm_text_escape(s, strlen(s), buf, 16384);
    return buf;
}

const char *ctl_utf8(const char *s)
{
    s = s ? s : "";
    if (cpm_text_utf8_valid(s, strlen(s)))
        return s;
    return ctl_safe(s); /* escaped text is ASCII, so valid */
}

int ctl_fail(const ctl_t *c, bool json, const cpm_error_t *e)
{
    (void)c;
    /* field and message may come from a service's ErrorReply */
    if (json) {
        json_t *o = json_pack("{s:b,s:i,s:s,s:s,s:s}", "ok", 0, "code", e->code, "error",
                              cpm_err_name(e->code), "field", ctl_utf8(e->field), "message",
                              ctl_utf8(e->message));
        ctl_print_json(o);
    } else {
        fprintf(stderr, "cpmctl: error %d (%s)%s%s: %s\n", e->code, cpm_err_name(e->code),
                *e->field ? " in " : "", ctl_safe(e->field), ctl_safe(e->message));
    }
    return 1;
}

void ctl_print_json(json_t *v)
{
    if (!v)
        return;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(v);
    fflush(stdout);
}

const char *ctl_time(int64_t ms, char buf[40])
{
    if (ms == 0)
        return "-";
    cpm_format_time(ms, buf, 40);
    return buf;
}
