/* cpm_flood: floods one service of a running mesh with valid, signed requests
 * from a registered member, as tests/integration/test_transport_limits.py
 * needs (cpm_attack sends one hostile frame at a time; this sends many good
 * ones).
 *
 *   cpm_flood --home DIR --as ID --target MEMBER/SERVICE --mode MODE
 *             [--count N] [--seconds S] [--window W] [--hold-ms MS]
 *             [--via ENDPOINT] [--ping-ms MS]
 *
 * --via connects to ENDPOINT instead of the registry's (a relay in front of
 * the service, which a test can make reset the connection); --ping-ms sends
 * ZMTP PINGs that often (the link's heartbeat) among the requests.
 *
 * Modes:
 *   noread     send --count event fetches (from 1, max 1000) and never read a
 *              reply; print {"sent":N} and keep the link open --hold-ms.
 *   flood      send event fetches for --seconds, --window in flight, reading
 *              every reply; print {"sent","replies","busy","errors"}.
 *   instances  send --count event fetches (past the log's head: cheap), each
 *              from a new sender instance, --window in flight; print
 *              {"sent","replies","ok","replay","errors"}.
 * Exit 0 when the run happened, 1 when it could not, 2 on bad usage. */
#include "cpm_envelope.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_transport.h"
#include "cpm_util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

typedef struct {
    const char *home, *as, *target, *mode, *via;
    long count, window, hold_ms, ping_ms;
    double seconds;
} opts_t;

typedef struct {
    cpm_identity_t id;
    cpm_registry_t *reg;
    void *zctx, *sock;
    char recipient[200];
    long sent, replies, ok, busy, replay, errors;
} flood_t;

static int die(const char *what, const char *detail)
{
    fprintf(stderr, "cpm_flood: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

static int setup(flood_t *f, const opts_t *o)
{
    char path[1200];
    cpm_error_t kerr;
    cpm_public_t root;
    snprintf(path, sizeof path, "%s/keys/root.public", o->home);
    if (cpm_public_load(&root, path, &kerr) != 0)
        return die("root key", kerr.message);
    snprintf(path, sizeof path, "%s/registry.signed", o->home);
    cpm_error_t rerr = {0};
    if (cpm_registry_load(path, root.sign_pk, &f->reg, &rerr) != 0)
        return die("registry", rerr.message);
    snprintf(path, sizeof path, "%s/keys/%s.secret", o->home, o->as);
    if (cpm_identity_load(&f->id, path, &kerr) != 0)
        return die("identity", kerr.message);
    char member[160];
    const char *slash = strchr(o->target, '/');
    if (!slash || (size_t)(slash - o->target) >= sizeof member)
        return die("--target must be MEMBER/SERVICE", o->target);
    snprintf(member, sizeof member, "%.*s", (int)(slash - o->target), o->target);
    const Cpm__Member *m = cpm_registry_member(f->reg, member);
    const Cpm__ServiceEndpoint *ep = m ? cpm_member_service(m, slash + 1) : NULL;
    if (!ep || m->curve_pk.len != 32)
        return die("the registry has no such service", o->target);
    snprintf(f->recipient, sizeof f->recipient, "%s", o->target);
    f->zctx = zmq_ctx_new();
    f->sock = f->zctx ? cpm_sock_client(f->zctx, ZMQ_DEALER, &f->id, m->curve_pk.data, ep->endpoint)
                      : NULL;
    if (!f->sock)
        return die("cannot connect", o->target);
    if (o->via || o->ping_ms > 0) { /* the same socket, connected again */
        int ivl = (int)o->ping_ms;
        if (zmq_disconnect(f->sock, ep->endpoint) != 0 ||
            (ivl > 0 && zmq_setsockopt(f->sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl) != 0) ||
            zmq_connect(f->sock, o->via ? o->via : ep->endpoint) != 0)
            return die("cannot connect", o->via ? o->via : ep->endpoint);
    }
    int tmo = 10000;
    zmq_setsockopt(f->sock, ZMQ_SNDTIMEO, &tmo, sizeof tmo);
    return 0;
}

static void teardown(flood_t *f)
{
    cpm_sock_close(&f->sock);
    if (f->zctx)
        zmq_ctx_term(f->zctx);
    cpm_registry_destroy(&f->reg);
    cpm_identity_wipe(&f->id);
}

/* One event fetch from sender; 0 when sent. */
static int send_fetch(flood_t *f, cpm_sender_t *sender, uint64_t from, uint32_t max)
{
    Cpm__EventsFetch q = CPM__EVENTS_FETCH__INIT;
    q.from_seq = from;
    q.max = max;
    uint8_t *frame = NULL;
    size_t len = 0;
    if (cpm_sender_seal(sender, CPM__MSG_TYPE__MSG_EVENTS_FETCH, f->recipient, NULL, &q.base, NULL,
                        &frame, &len) != 0)
        return -1;
    int rc = zmq_send(f->sock, frame, len, 0) == (int)len ? 0 : -1;
    free(frame);
    if (rc == 0)
        f->sent++;
    return rc;
}

/* Read one reply (waiting up to timeout_ms) and classify it. 1 when one came. */
static int read_reply(flood_t *f, int timeout_ms)
{
    zmq_pollitem_t it = {f->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, f->sock, 0) < 0) {
        zmq_msg_close(&m);
        return 0;
    }
    f->replies++;
    Cpm__SignedEnvelope *se =
        cpm__signed_envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    Cpm__Envelope *env =
        se ? cpm__envelope__unpack(NULL, se->envelope.len, se->envelope.data) : NULL;
    Cpm__ErrorReply *er = env && env->type == CPM__MSG_TYPE__MSG_ERROR
                              ? cpm__error_reply__unpack(NULL, env->payload.len, env->payload.data)
                              : NULL;
    if (env && env->type == CPM__MSG_TYPE__MSG_EVENTS_REPLY)
        f->ok++;
    else if (er && strstr(er->message, "busy"))
        f->busy++;
    else if (er && strstr(er->message, "replay"))
        f->replay++;
    else
        f->errors++;
    cpm__error_reply__free_unpacked(er, NULL);
    cpm__envelope__free_unpacked(env, NULL);
    cpm__signed_envelope__free_unpacked(se, NULL);
    zmq_msg_close(&m);
    return 1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int run_noread(flood_t *f, const opts_t *o)
{
    cpm_sender_t s;
    cpm_sender_init(&s, &f->id, "flood.noread");
    for (long i = 0; i < o->count; i++)
        if (send_fetch(f, &s, 1, 1000) != 0)
            break;
    printf("{\"sent\":%ld}\n", f->sent);
    fflush(stdout);
    sleep_ms(o->hold_ms);
    return 0;
}

static int run_flood(flood_t *f, const opts_t *o)
{
    cpm_sender_t s;
    cpm_sender_init(&s, &f->id, "flood.fetch");
    int64_t end = cpm_mono_ms() + (int64_t)(o->seconds * 1000);
    while (cpm_mono_ms() < end) {
        while (f->sent - f->replies < o->window)
            if (send_fetch(f, &s, 1, 1000) != 0)
                break;
        read_reply(f, 100);
    }
    printf("{\"sent\":%ld,\"replies\":%ld,\"ok\":%ld,\"busy\":%ld,\"errors\":%ld}\n", f->sent,
           f->replies, f->ok, f->busy, f->errors);
    return 0;
}

static int run_instances(flood_t *f, const opts_t *o)
{
    cpm_sender_t s;
    char inst[CPM_INSTANCE_MAX + 1];
    long stalls = 0;
    for (long i = 0; i < o->count || f->replies < f->sent;) {
        while (i < o->count && f->sent - f->replies < o->window) {
            snprintf(inst, sizeof inst, "flood.%d.%ld", (int)getpid(), i++);
            cpm_sender_init(&s, &f->id, inst);
            if (send_fetch(f, &s, UINT64_C(1) << 60, 1) != 0)
                return die("cannot send", NULL);
        }
        if (read_reply(f, 5000))
            stalls = 0;
        else if (++stalls > 3)
            break; /* replies lost: stop rather than wait for ever */
    }
    printf("{\"sent\":%ld,\"replies\":%ld,\"ok\":%ld,\"replay\":%ld,\"busy\":%ld,"
           "\"errors\":%ld}\n",
           f->sent, f->replies, f->ok, f->replay, f->busy, f->errors);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"home", required_argument, 0, 'H'},
                                       {"as", required_argument, 0, 'a'},
                                       {"target", required_argument, 0, 't'},
                                       {"mode", required_argument, 0, 'm'},
                                       {"count", required_argument, 0, 'n'},
                                       {"seconds", required_argument, 0, 's'},
                                       {"window", required_argument, 0, 'w'},
                                       {"hold-ms", required_argument, 0, 'h'},
                                       {"via", required_argument, 0, 'v'},
                                       {"ping-ms", required_argument, 0, 'p'},
                                       {0, 0, 0, 0}};
    opts_t o = {.count = 1000, .window = 32, .hold_ms = 0, .seconds = 5};
    int opt;
    while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (opt) {
        case 'H':
            o.home = optarg;
            break;
        case 'a':
            o.as = optarg;
            break;
        case 't':
            o.target = optarg;
            break;
        case 'm':
            o.mode = optarg;
            break;
        case 'n':
            o.count = atol(optarg);
            break;
        case 's':
            o.seconds = atof(optarg);
            break;
        case 'w':
            o.window = atol(optarg) > 0 ? atol(optarg) : 1;
            break;
        case 'h':
            o.hold_ms = atol(optarg);
            break;
        case 'v':
            o.via = optarg;
            break;
        case 'p':
            o.ping_ms = atol(optarg);
            break;
        default:
            return 2;
        }
    }
    if (!o.home || !o.as || !o.target || !o.mode) {
        fprintf(stderr, "usage: cpm_flood --home DIR --as ID --target MEMBER/SERVICE --mode "
                        "noread|flood|instances [--count N] [--seconds S] [--window W] "
                        "[--hold-ms MS] [--via ENDPOINT] [--ping-ms MS]\n");
        return 2;
    }
    flood_t f = {0};
    int rc = setup(&f, &o);
    if (rc == 0) {
        if (!strcmp(o.mode, "noread"))
            rc = run_noread(&f, &o);
        else if (!strcmp(o.mode, "flood"))
            rc = run_flood(&f, &o);
        else if (!strcmp(o.mode, "instances"))
            rc = run_instances(&f, &o);
        else
            rc = die("unknown --mode", o.mode), rc = 2;
    }
    teardown(&f);
    return rc;
}
