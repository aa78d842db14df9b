/* cpmctl health: liveness and counters of every service in the registry. */
#include "ctl_args.h"
#include "cpm_util.h"

#include <stdio.h>
#include <string.h>

static const char health_usage[] =
    "usage: cpmctl health [--node ID] [--timeout MS] [--json]\n"
    "\n"
    "Asks every service (or those of --node) for its health: uptime, registry\n"
    "version, event log head, counters (received, applied, rejected.<reason>,\n"
    "delivery.*) and, per outgoing stream, the outbox depth, acknowledged seq and\n"
    "retries. Exits 1 when a service does not answer.\n";

static void print_health(bool json, const Cpm__HealthReply *h, int64_t rtt_ms)
{
    char t[40];
    if (json) {
        json_t *counters = json_object(), *peers = json_array();
        for (size_t i = 0; i < h->n_counters; i++)
            json_object_set_new(counters, ctl_utf8(h->counters[i]->name),
                                json_integer((json_int_t)h->counters[i]->value));
        for (size_t i = 0; i < h->n_peers; i++)
            json_array_append_new(peers,
                                  json_pack("{s:s,s:b,s:b,s:I,s:I,s:s,s:I}", "stream",
                                            ctl_utf8(h->peers[i]->stream), "connected",
                                            h->peers[i]->connected, "halted", h->peers[i]->halted,
                                            "outbox_depth", (json_int_t)h->peers[i]->outbox_depth,
                                            "acked_seq", (json_int_t)h->peers[i]->acked_seq,
                                            "last_ack", ctl_time(h->peers[i]->last_ack_ms, t),
                                            "retries", (json_int_t)h->peers[i]->retries));
        ctl_print_json(json_pack(
            "{s:s,s:s,s:b,s:I,s:s,s:I,s:I,s:o,s:o}", "node", ctl_utf8(h->node), "service",
            ctl_utf8(h->service), "up", 1, "rtt_ms", (json_int_t)rtt_ms, "started",
            ctl_time(h->started_ms, t), "registry_version", (json_int_t)h->registry_version,
            "event_head", (json_int_t)h->event_head, "counters", counters, "streams", peers));
        return;
    }
    printf("%s/%s  up  %lld ms  registry v%llu  events %llu  since %s\n", ctl_safe(h->node),
           ctl_safe(h->service), (long long)rtt_ms, (unsigned long long)h->registry_version,
           (unsigned long long)h->event_head, ctl_time_vn(h->started_ms, t));
    for (size_t i = 0; i < h->n_counters; i++)
        printf("    %-28s %llu\n", ctl_safe(h->counters[i]->name),
               (unsigned long long)h->counters[i]->value);
    for (size_t i = 0; i < h->n_peers; i++)
        printf("    stream %s  %s  outbox %llu  acked %llu  retries %llu  last ack %s\n",
               ctl_safe(h->peers[i]->stream),
               h->peers[i]->halted      ? "HALTED (store older than the peer's)"
               : h->peers[i]->connected ? "connected"
                                        : "DOWN",
               (unsigned long long)h->peers[i]->outbox_depth,
               (unsigned long long)h->peers[i]->acked_seq, (unsigned long long)h->peers[i]->retries,
               ctl_time_vn(h->peers[i]->last_ack_ms, t));
}

int ctl_cmd_health(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"node", required_argument, 0, 'n'},
                                             {"timeout", required_argument, 0, 't'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    const char *node = NULL;
    int timeout = 1500, opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        if (opt == 'n')
            node = optarg;
        else if (opt == 't')
            timeout = atoi(optarg) > 0 ? atoi(optarg) : 1500;
        else
            return ctl_usage(health_usage, opt == 'h' ? 0 : 2);
    }
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    c.timeout_ms = timeout;
    const Cpm__Registry *doc = cpm_registry_doc(c.reg);
    int down = 0, seen = 0;
    for (size_t i = 0; i < doc->n_members; i++) {
        const Cpm__Member *m = doc->members[i];
        if (node && strcmp(node, m->id) != 0)
            continue;
        for (size_t k = 0; k < m->n_services; k++) {
            const char *svc = m->services[k]->name;
            Cpm__HealthQuery q = CPM__HEALTH_QUERY__INIT;
            cpm_msg_t reply = {0};
            cpm_error_t err = {0};
            int64_t t0 = cpm_mono_ms();
            seen++;
            if (cpm_client_call(c.client, m->id, svc, CPM__MSG_TYPE__MSG_HEALTH_QUERY, &q.base,
                                c.timeout_ms, &reply, &err) != 0) {
                down++;
                if (c.json)
                    ctl_print_json(json_pack("{s:s,s:s,s:b,s:s}", "node", m->id, "service", svc,
                                             "up", 0, "error", ctl_utf8(err.message)));
                else
                    printf("%s/%s  DOWN  %s\n", m->id, svc, ctl_safe(err.message));
                continue;
            }
            Cpm__HealthReply *h =
                cpm__health_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
            if (h)
                print_health(c.json, h, cpm_mono_ms() - t0);
            cpm__health_reply__free_unpacked(h, NULL);
            cpm_msg_clear(&reply);
        }
    }
    ctl_close(&c);
    if (seen == 0) {
        fprintf(stderr, "cpmctl: no service%s%s in the registry\n", node ? " of " : "",
                node ? node : "");
        return 1;
    }
    return down ? 1 : 0;
}
