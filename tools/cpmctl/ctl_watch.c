/* cpmctl watch / events: the live stream of every service's events, and one
 * service's log. Events are checked against their hash chain as they come. */
#include "ctl_args.h"
#include "cpm_eventlog.h"
#include "cpm_transport.h"
#include "cpm_util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static const char watch_usage[] =
    "usage: cpmctl watch [--node ID] [--cursor FILE] [--from-start] [--count N] [--for SECONDS]\n"
    "                    [--json]\n"
    "\n"
    "Shows events from every service in the registry as they happen. Remembers the\n"
    "last event seen of each service in the cursor file (default DIR/watch-<as>.cursor)\n"
    "and, after a restart or a gap, first fetches what it missed, so no event is lost\n"
    "or shown twice. Each event is checked against its service's hash chain.\n"
    "  --from-start   ignore the cursor and show every log from its first event\n"
    "  --count N      stop after N events;  --for S   stop after S seconds\n";

static const char events_usage[] =
    "usage: cpmctl events --node ID --service NAME [--from SEQ] [--json]\n"
    "\n"
    "Prints the event log of one service from SEQ (default 1) to its head.\n";

typedef struct {
    char member[128];
    char service[32];
    char key[200];
    void *sub;
    uint64_t last;
    uint8_t hash[32];
    bool have_hash;
    bool unreachable; /* told the user already */
} src_t;

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void emit(ctl_t *c, src_t *s, const Cpm__Event *ev)
{
    uint8_t h[32];
    cpm_event_hash(ev, ev->prev_hash.len == 32 ? ev->prev_hash.data : s->hash, h);
    bool chain_ok = ev->hash.len == 32 && memcmp(h, ev->hash.data, 32) == 0 &&
                    (!s->have_hash ||
                     (ev->prev_hash.len == 32 && memcmp(ev->prev_hash.data, s->hash, 32) == 0));
    if (!chain_ok)
        fprintf(stderr, "cpmctl: warning: %s event %llu does not match the hash chain\n", s->key,
                (unsigned long long)ev->seq);
    char t[40];
    if (c->json) {
        ctl_print_json(json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:b}", "node", s->member,
                                 "service", s->service, "seq", (json_int_t)ev->seq, "at",
                                 ctl_time(ev->at_ms, t), "kind", ctl_utf8(ev->kind), "ticket",
                                 ctl_utf8(ev->ticket), "agency", ctl_utf8(ev->agency), "detail",
                                 ctl_utf8(ev->detail), "chain_ok", chain_ok));
    } else {
        printf("%s %s #%llu %s %s%s%s %s\n", ctl_time(ev->at_ms, t), s->key,
               (unsigned long long)ev->seq, ctl_safe(ev->kind), ctl_safe(ev->ticket),
               *ev->agency ? " -> " : "", ctl_safe(ev->agency), ctl_safe(ev->detail));
        fflush(stdout);
    }
    s->last = ev->seq;
    if (ev->hash.len == 32) {
        memcpy(s->hash, ev->hash.data, 32);
        s->have_hash = true;
    }
}

/* Fetch and emit everything after s->last; returns events emitted or -1. */
static long catch_up(ctl_t *c, src_t *s, long budget)
{
    long total = 0;
    for (;;) {
        Cpm__EventsFetch q = CPM__EVENTS_FETCH__INIT;
        q.from_seq = s->last + 1;
        q.max = 1000;
        cpm_msg_t reply = {0};
        cpm_error_t err = {0};
        if (cpm_client_call(c->client, s->member, s->service, CPM__MSG_TYPE__MSG_EVENTS_FETCH,
                            &q.base, c->timeout_ms, &reply, &err) != 0) {
            if (!s->unreachable) /* once, until it answers again */
                fprintf(stderr, "cpmctl: %s does not answer (%s); will keep trying\n", s->key,
                        ctl_safe(err.message));
            s->unreachable = true;
            return total ? total : -1;
        }
        if (s->unreachable)
            fprintf(stderr, "cpmctl: %s answers again\n", s->key);
        s->unreachable = false;
        Cpm__EventBatch *b =
            cpm__event_batch__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
        cpm_msg_clear(&reply);
        if (!b)
            return -1;
        size_t n = 0;
        for (size_t i = 0; i < b->n_events && (budget <= 0 || total < budget); i++) {
            if (b->events[i]->seq != s->last + 1)
                continue;
            emit(c, s, b->events[i]);
            total++, n++;
        }
        bool more = n > 0 && s->last < b->head_seq && (budget <= 0 || total < budget);
        cpm__event_batch__free_unpacked(b, NULL);
        if (!more)
            return total;
    }
}

static void cursor_load(const char *path, src_t *srcs, size_t n)
{
    json_t *root = json_load_file(path, 0, NULL);
    if (!root)
        return;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object_get(root, srcs[i].key);
        json_t *seq = json_object_get(e, "seq"), *hash = json_object_get(e, "hash");
        if (json_is_integer(seq))
            srcs[i].last = (uint64_t)json_integer_value(seq);
        if (json_is_string(hash) && cpm_hex_decode(json_string_value(hash), srcs[i].hash, 32) == 0)
            srcs[i].have_hash = true;
    }
    json_decref(root);
}

static void cursor_save(const char *path, const src_t *srcs, size_t n)
{
    json_t *root = json_object();
    for (size_t i = 0; i < n; i++) {
        char hex[65] = "";
        if (srcs[i].have_hash)
            cpm_hex_encode(srcs[i].hash, 32, hex);
        json_object_set_new(root, srcs[i].key,
                            json_pack("{s:I,s:s}", "seq", (json_int_t)srcs[i].last, "hash", hex));
    }
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (text && cpm_write_file(path, text, strlen(text), 0600) != 0)
        fprintf(stderr, "cpmctl: cannot save the cursor %s\n", path);
    free(text);
    json_decref(root);
}

static size_t list_sources(ctl_t *c, const char *node, src_t **out)
{
    const Cpm__Registry *doc = cpm_registry_doc(c->reg);
    size_t n = 0;
    src_t *srcs = calloc(64 + doc->n_members * 3, sizeof *srcs);
    for (size_t i = 0; srcs && i < doc->n_members; i++) {
        const Cpm__Member *m = doc->members[i];
        if (node && strcmp(node, m->id) != 0)
            continue;
        for (size_t k = 0; k < m->n_services; k++) {
            src_t *s = &srcs[n++];
            snprintf(s->member, sizeof s->member, "%s", m->id);
            snprintf(s->service, sizeof s->service, "%s", m->services[k]->name);
            snprintf(s->key, sizeof s->key, "%s/%s", m->id, m->services[k]->name);
            s->sub = cpm_sock_client(c->zctx, ZMQ_SUB, &c->id, m->curve_pk.data,
                                     m->services[k]->pub_endpoint);
            if (s->sub)
                zmq_setsockopt(s->sub, ZMQ_SUBSCRIBE, "", 0);
        }
    }
    *out = srcs;
    return n;
}

/* A publication on s->sub: emit what follows our cursor, fetch what we missed. */
static cpm_verifier_t *verifier;
static long on_publication(ctl_t *c, src_t *s, long budget)
{
    zmq_msg_t f[2];
    int parts = cpm_sock_recv(s->sub, f, 2, ZMQ_DONTWAIT);
    if (parts <= 0)
        return 0;
    long emitted = 0;
    cpm_msg_t m = {0};
    cpm_verify_ctx_t ctx = {.expect_sender = s->member};
    if (parts == 2 &&
        cpm_verifier_check(verifier, c->reg, &ctx, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]),
                           cpm_now_ms(), &m) == CPM_V_OK &&
        m.env->type == CPM__MSG_TYPE__MSG_EVENTS_PUBLISH) {
        Cpm__EventBatch *b =
            cpm__event_batch__unpack(NULL, m.env->payload.len, m.env->payload.data);
        if (b && !strcmp(b->service, s->service) && !strcmp(b->node, s->member)) {
            for (size_t i = 0; i < b->n_events && (budget <= 0 || emitted < budget); i++) {
                if (b->events[i]->seq <= s->last)
                    continue;
                if (b->events[i]->seq > s->last + 1) { /* a gap: fetch it */
                    long got = catch_up(c, s, budget > 0 ? budget - emitted : 0);
                    emitted += got > 0 ? got : 0;
                    if (b->events[i]->seq != s->last + 1)
                        continue;
                }
                emit(c, s, b->events[i]);
                emitted++;
            }
        }
        cpm__event_batch__free_unpacked(b, NULL);
    } else {
        fprintf(stderr, "cpmctl: refused a publication on %s\n", s->key);
    }
    cpm_msg_clear(&m);
    for (int i = 0; i < parts; i++)
        zmq_msg_close(&f[i]);
    return emitted;
}

int ctl_cmd_watch(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"node", required_argument, 0, 'n'},
                                             {"cursor", required_argument, 0, 'c'},
                                             {"from-start", no_argument, 0, 's'},
                                             {"count", required_argument, 0, 'N'},
                                             {"for", required_argument, 0, 'f'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    const char *node = NULL, *cursor = NULL;
    bool from_start = false;
    long count = 0, seconds = 0;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 'n':
            node = optarg;
            break;
        case 'c':
            cursor = optarg;
            break;
        case 's':
            from_start = true;
            break;
        case 'N':
            count = atol(optarg);
            break;
        case 'f':
            seconds = atol(optarg);
            break;
        default:
            return ctl_usage(watch_usage, opt == 'h' ? 0 : 2);
        }
    }
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    c.timeout_ms = 2000;
    verifier = cpm_verifier_new(300000);
    char cpath[1400];
    if (cursor)
        snprintf(cpath, sizeof cpath, "%s", cursor);
    else
        snprintf(cpath, sizeof cpath, "%s/watch-%s.cursor", c.home, c.id.id);
    src_t *srcs = NULL;
    size_t n = list_sources(&c, node, &srcs);
    if (!from_start)
        cursor_load(cpath, srcs, n);
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    long shown = 0;
    int64_t end = seconds > 0 ? cpm_mono_ms() + seconds * 1000 : 0, next_sweep = 0;
    while (!interrupted && (count <= 0 || shown < count) && (!end || cpm_mono_ms() < end)) {
        if (cpm_mono_ms() >= next_sweep) { /* start-up, and a sweep for lost publications */
            for (size_t i = 0; i < n && (count <= 0 || shown < count); i++) {
                long got = catch_up(&c, &srcs[i], count > 0 ? count - shown : 0);
                shown += got > 0 ? got : 0;
            }
            cursor_save(cpath, srcs, n);
            next_sweep = cpm_mono_ms() + 3000;
            continue;
        }
        zmq_pollitem_t items[256];
        size_t k = 0;
        for (size_t i = 0; i < n && k < 256; i++)
            if (srcs[i].sub)
                items[k++] = (zmq_pollitem_t){srcs[i].sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(items, (int)k, 250) <= 0)
            continue;
        long before = shown;
        for (size_t i = 0, j = 0; i < n && j < k; i++) {
            if (!srcs[i].sub)
                continue;
            if (items[j++].revents & ZMQ_POLLIN)
                shown += on_publication(&c, &srcs[i], count > 0 ? count - shown : 0);
        }
        if (shown != before)
            cursor_save(cpath, srcs, n);
    }
    cursor_save(cpath, srcs, n);
    for (size_t i = 0; i < n; i++)
        cpm_sock_close(&srcs[i].sub);
    free(srcs);
    ctl_close(&c);
    return 0;
}

int ctl_cmd_events(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"node", required_argument, 0, 'n'},
                                             {"service", required_argument, 0, 's'},
                                             {"from", required_argument, 0, 'f'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    src_t s = {0};
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 'n':
            snprintf(s.member, sizeof s.member, "%s", optarg);
            break;
        case 's':
            snprintf(s.service, sizeof s.service, "%s", optarg);
            break;
        case 'f':
            s.last = strtoull(optarg, NULL, 10) - 1;
            break;
        default:
            return ctl_usage(events_usage, opt == 'h' ? 0 : 2);
        }
    }
    if (!*s.member || !*s.service)
        return ctl_usage(events_usage, 2);
    snprintf(s.key, sizeof s.key, "%s/%s", s.member, s.service);
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    long got = catch_up(&c, &s, 0);
    int rc = 0;
    if (got < 0) {
        cpm_error_t err;
        cpm_error_set(&err, CPM_E_UNAVAILABLE, "node", "cannot read the events of %s", s.key);
        rc = ctl_fail(&c, c.json, &err);
    }
    ctl_close(&c);
    return rc;
}
