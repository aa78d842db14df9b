/* gw_prom_render: the Prometheus text exposition format (version 0.0.4) of
 * the services' health answers (gw_prom.h). Every sample is gathered first,
 * then sorted by family, so that each family has one HELP and one TYPE line
 * and all its samples together, whichever service reported it. */
#include "gw_prom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char family[128];
    const char *type; /* "counter" or "gauge" */
    char help[160];
    char labels[640]; /* rendered: node="...",service="..."[,...] */
    double value;
    size_t order; /* keeps the services' order inside a family */
} sample_t;

typedef struct {
    sample_t *s;
    size_t n, cap;
    int oom;
} samples_t;

/* Label values: backslash, double quote and newline escaped (the format's
 * rule); HELP text: backslash and newline. */
static void escape(char *out, size_t cap, const char *in, bool quote)
{
    size_t o = 0;
    for (; in && *in && o + 3 < cap; in++) {
        if (*in == '\\' || (quote && *in == '"')) {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = 0;
}

static void sanitize(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            *s = '_';
}

void gw_prom_counter_family(const char *counter, char *family, size_t cap, const char **label,
                            const char **label_value)
{
    static const char *const reasons[] = {"rejected", "invalid"};
    *label = *label_value = NULL;
    const char *dot = strchr(counter, '.');
    for (size_t i = 0; dot && i < sizeof reasons / sizeof *reasons; i++)
        if ((size_t)(dot - counter) == strlen(reasons[i]) &&
            strncmp(counter, reasons[i], strlen(reasons[i])) == 0 && dot[1]) {
            snprintf(family, cap, "cpmesh_%s_total", reasons[i]);
            *label = "reason";
            *label_value = dot + 1;
            return;
        }
    snprintf(family, cap, "cpmesh_%s", counter);
    sanitize(family);
    size_t len = strlen(family);
    if (len + 7 <= cap)
        memcpy(family + len, "_total", 7);
}

static sample_t *add(samples_t *ss, const char *family, const char *type, const char *help,
                     const gw_prom_target_t *t, const char *k3, const char *v3, double value)
{
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? ss->cap * 2 : 256;
        sample_t *s = realloc(ss->s, cap * sizeof *s);
        if (!s) {
            ss->oom = 1;
            return NULL;
        }
        ss->s = s;
        ss->cap = cap;
    }
    sample_t *s = &ss->s[ss->n];
    s->order = ss->n++;
    snprintf(s->family, sizeof s->family, "%s", family);
    s->type = type;
    escape(s->help, sizeof s->help, help, false);
    char node[256], svc[128], v[256];
    escape(node, sizeof node, t->node, true);
    escape(svc, sizeof svc, t->service, true);
    int len = snprintf(s->labels, sizeof s->labels, "node=\"%s\",service=\"%s\"", node, svc);
    if (k3 && len > 0 && (size_t)len < sizeof s->labels) {
        escape(v, sizeof v, v3, true);
        snprintf(s->labels + len, sizeof s->labels - (size_t)len, ",%s=\"%s\"", k3, v);
    }
    s->value = value;
    return s;
}

static void gauge(samples_t *ss, const char *family, const char *help, const gw_prom_target_t *t,
                  double value)
{
    add(ss, family, "gauge", help, t, NULL, NULL, value);
}

static void stream_figures(samples_t *ss, const gw_prom_target_t *t, const Cpm__PeerStatus *ps)
{
    const char *st = ps->stream ? ps->stream : "";
    add(ss, "cpmesh_outbox_depth", "gauge", "Records waiting in the stream's outbox", t, "stream",
        st, (double)ps->outbox_depth);
    add(ss, "cpmesh_acked_seq", "gauge", "Highest sequence of the stream the peer acknowledged", t,
        "stream", st, (double)ps->acked_seq);
    if (ps->last_ack_ms > 0)
        add(ss, "cpmesh_last_ack_timestamp_seconds", "gauge",
            "When the peer last acknowledged the stream (Unix seconds)", t, "stream", st,
            (double)ps->last_ack_ms / 1000.0);
    add(ss, "cpmesh_stream_retries_total", "counter", "Batches of the stream sent again", t,
        "stream", st, (double)ps->retries);
    add(ss, "cpmesh_stream_connected", "gauge",
        "1 when the stream's peer is connected (CURVE handshake done, heartbeats answered)", t,
        "stream", st, ps->connected ? 1 : 0);
    add(ss, "cpmesh_stream_halted", "gauge",
        "1 when the stream is halted: the peer holds more of it than this store", t, "stream", st,
        ps->halted ? 1 : 0);
}

static void target_figures(samples_t *ss, const gw_prom_target_t *t, int64_t now_ms)
{
    gauge(ss, "cpmesh_up", "1 when the service answered the gateway's last health query", t,
          t->up ? 1 : 0);
    if (t->last_ok_ms > 0)
        gauge(ss, "cpmesh_last_scrape_timestamp_seconds",
              "When the service last answered a health query (Unix seconds)", t,
              (double)t->last_ok_ms / 1000.0);
    const Cpm__HealthReply *h = t->h;
    if (!t->up || !h)
        return;
    gauge(ss, "cpmesh_scrape_duration_seconds", "Round trip of the last health query", t,
          (double)t->rtt_ms / 1000.0);
    gauge(ss, "cpmesh_start_time_seconds", "When the service started (Unix seconds)", t,
          (double)h->started_ms / 1000.0);
    gauge(ss, "cpmesh_uptime_seconds", "Seconds since the service started", t,
          h->started_ms > 0 && now_ms > h->started_ms ? (double)(now_ms - h->started_ms) / 1000.0
                                                      : 0);
    gauge(ss, "cpmesh_registry_version", "Version of the registry the service runs with", t,
          (double)h->registry_version);
    gauge(ss, "cpmesh_event_head", "Sequence of the service's newest event", t,
          (double)h->event_head);
    if (h->store_map_bytes > 0) {
        gauge(ss, "cpmesh_store_used_bytes", "Bytes in the store's live pages", t,
              (double)h->store_used_bytes);
        gauge(ss, "cpmesh_store_map_bytes", "Size of the store's map now", t,
              (double)h->store_map_bytes);
        gauge(ss, "cpmesh_store_map_max_bytes", "Size the store's map may grow to", t,
              (double)h->store_map_max_bytes);
        gauge(ss, "cpmesh_store_high_water_ratio",
              "Share of the map above which new work is refused (store_full)", t,
              (double)h->store_high_water_pct / 100.0);
    }
    size_t connected = 0;
    for (size_t i = 0; i < h->n_peers; i++) {
        connected += h->peers[i]->connected;
        stream_figures(ss, t, h->peers[i]);
    }
    gauge(ss, "cpmesh_peers_connected", "Outgoing streams whose peer is connected", t,
          (double)connected);
    gauge(ss, "cpmesh_streams", "Outgoing streams of the service", t, (double)h->n_peers);
    gauge(ss, "cpmesh_health_truncated",
          "Health counters and streams of the last answer left out (at most 256 of each kept)", t,
          (double)t->truncated);
    for (size_t i = 0; i < h->n_counters; i++) {
        const Cpm__Counter *c = h->counters[i];
        char family[128], help[160];
        const char *k, *v;
        gw_prom_counter_family(c->name ? c->name : "", family, sizeof family, &k, &v);
        if (k)
            snprintf(help, sizeof help, "Health counters %.*s.<%s> (cpmctl health)",
                     (int)(strchr(c->name, '.') - c->name), c->name, k);
        else
            snprintf(help, sizeof help, "Health counter %s (cpmctl health)", c->name);
        add(ss, family, "counter", help, t, k, v, (double)c->value);
    }
}

static int by_family(const void *a, const void *b)
{
    const sample_t *x = a, *y = b;
    int c = strcmp(x->family, y->family);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

int gw_prom_render(const gw_prom_target_t *t, size_t n, int64_t now_ms, gw_resp_t *rs)
{
    samples_t ss = {0};
    for (size_t i = 0; i < n; i++)
        target_figures(&ss, &t[i], now_ms);
    if (ss.oom) {
        free(ss.s);
        return -1;
    }
    if (ss.n) /* qsort wants an array, even of none */
        qsort(ss.s, ss.n, sizeof *ss.s, by_family);
    int rc = 0;
    for (size_t i = 0; i < ss.n && rc == 0; i++) {
        const sample_t *s = &ss.s[i];
        if (i == 0 || strcmp(s->family, ss.s[i - 1].family) != 0)
            rc = gw_resp_printf(rs, "# HELP %s %s\n# TYPE %s %s\n", s->family, s->help, s->family,
                                s->type);
        if (rc == 0)
            rc = gw_resp_printf(rs, "%s{%s} %.15g\n", s->family, s->labels, s->value);
    }
    free(ss.s);
    return rc == 0 && !rs->oom ? 0 : -1;
}
