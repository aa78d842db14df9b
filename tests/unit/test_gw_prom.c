/* gw_prom's rendering of health answers in the Prometheus text format
 * (0.0.4) and its access rule, without a listener or a mesh: health replies
 * are built by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_prom.h"

static Cpm__Counter *counter(const char *name, uint64_t v)
{
    Cpm__Counter *c = calloc(1, sizeof *c);
    cpm__counter__init(c);
    c->name = (char *)name;
    c->value = v;
    return c;
}

static Cpm__PeerStatus *peer(const char *stream, uint64_t depth, bool connected, bool halted)
{
    Cpm__PeerStatus *p = calloc(1, sizeof *p);
    cpm__peer_status__init(p);
    p->stream = (char *)stream;
    p->outbox_depth = depth;
    p->acked_seq = 41;
    p->last_ack_ms = 1700000000500;
    p->retries = 3;
    p->connected = connected;
    p->halted = halted;
    return p;
}

/* A reply with two counters that map to one family, one plain counter, one
 * stream and the store's figures. */
static Cpm__HealthReply *reply(const char *stream)
{
    Cpm__HealthReply *h = calloc(1, sizeof *h);
    cpm__health_reply__init(h);
    h->started_ms = 1700000000000;
    h->registry_version = 7;
    h->event_head = 12;
    h->store_used_bytes = 4096;
    h->store_map_bytes = 1 << 20;
    h->store_map_max_bytes = 2 << 20;
    h->store_high_water_pct = 80;
    h->n_counters = 3;
    h->counters = calloc(3, sizeof *h->counters);
    h->counters[0] = counter("rejected.bad_signature", 2);
    h->counters[1] = counter("delivery.dead_letters", 5);
    h->counters[2] = counter("rejected.clock_skew", 1);
    h->n_peers = 1;
    h->peers = calloc(1, sizeof *h->peers);
    h->peers[0] = peer(stream, 9, true, false);
    return h;
}

static void reply_free(Cpm__HealthReply *h)
{
    for (size_t i = 0; i < h->n_counters; i++)
        free(h->counters[i]);
    for (size_t i = 0; i < h->n_peers; i++)
        free(h->peers[i]);
    free(h->counters);
    free(h->peers);
    free(h);
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Every line is a comment (HELP/TYPE) or name{labels} value, with label
 * values quoted and escaped as the format says; each family's HELP and TYPE
 * come once, before its samples, and its samples are together. */
static void check_format(const char *text)
{
    char families[256][128];
    size_t nf = 0;
    char current[128] = "";
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        assert_non_null(end); /* every line ends with \n */
        char buf[2048];
        assert_true((size_t)(end - line) < sizeof buf);
        memcpy(buf, line, (size_t)(end - line));
        buf[end - line] = 0;
        line = end + 1;
        char name[128];
        if (strncmp(buf, "# HELP ", 7) == 0) {
            assert_int_equal(sscanf(buf + 7, "%127s", name), 1);
            for (size_t i = 0; i < nf; i++)
                assert_string_not_equal(families[i], name); /* one family per name */
            assert_true(nf < 256);
            snprintf(families[nf++], sizeof families[0], "%s", name);
            snprintf(current, sizeof current, "%s", name);
            continue;
        }
        if (strncmp(buf, "# TYPE ", 7) == 0) {
            char type[32];
            assert_int_equal(sscanf(buf + 7, "%127s %31s", name, type), 2);
            assert_string_equal(name, current);
            assert_true(!strcmp(type, "counter") || !strcmp(type, "gauge"));
            continue;
        }
        /* a sample of the current family */
        size_t n = strcspn(buf, "{");
        assert_true(n < sizeof name && buf[n] == '{');
        memcpy(name, buf, n);
        name[n] = 0;
        assert_string_equal(name, current);
        const char *p = buf + n + 1;
        while (*p != '}') {
            while ((*p >= 'a' && *p <= 'z') || *p == '_')
                p++;
            assert_true(p[0] == '=' && p[1] == '"');
            for (p += 2; *p != '"'; p++) {
                assert_true(*p && *p != '\n');
                if (*p == '\\') {
                    p++;
                    assert_true(*p == '\\' || *p == '"' || *p == 'n');
                }
            }
            p++;
            if (*p == ',')
                p++;
        }
        assert_true(p[1] == ' ');
        char *num_end;
        strtod(p + 2, &num_end);
        assert_true(num_end != p + 2 && *num_end == 0);
    }
}

static void test_counter_names(void **state)
{
    (void)state;
    char f[128];
    const char *k, *v;
    gw_prom_counter_family("rejected.bad_signature", f, sizeof f, &k, &v);
    assert_string_equal(f, "cpmesh_rejected_total");
    assert_string_equal(k, "reason");
    assert_string_equal(v, "bad_signature");
    gw_prom_counter_family("invalid.store_full", f, sizeof f, &k, &v);
    assert_string_equal(f, "cpmesh_invalid_total");
    assert_string_equal(v, "store_full");
    gw_prom_counter_family("delivery.dead_letters", f, sizeof f, &k, &v);
    assert_string_equal(f, "cpmesh_delivery_dead_letters_total");
    assert_null(k);
    gw_prom_counter_family("received", f, sizeof f, &k, &v);
    assert_string_equal(f, "cpmesh_received_total");
    gw_prom_counter_family("odd-name.x y\"z", f, sizeof f, &k, &v);
    assert_string_equal(f, "cpmesh_odd_name_x_y_z_total");
    gw_prom_counter_family("rejectedness.x", f, sizeof f, &k, &v); /* not the group */
    assert_string_equal(f, "cpmesh_rejectedness_x_total");
    assert_null(k);
}

static void test_render_families_and_labels(void **state)
{
    (void)state;
    Cpm__HealthReply *a = reply("routing@hn.doit"), *b = reply("routing@hn.qltt");
    gw_prom_target_t t[] = {
        {.node = "hn.qltt",
         .service = "intake",
         .up = true,
         .last_ok_ms = 1700000010000,
         .rtt_ms = 3,
         .h = a},
        {.node = "hn.doit",
         .service = "routing",
         .up = true,
         .last_ok_ms = 1700000010000,
         .rtt_ms = 4,
         .h = b},
        {.node = "hn.d.ba-vi", .service = "intake", .up = false, .last_ok_ms = 1700000000000},
    };
    gw_resp_t rs;
    gw_resp_init(&rs);
    assert_int_equal(gw_prom_render(t, 3, 1700000020000, &rs), 0);
    const char *x = rs.body;
    check_format(x);
    assert_int_equal(count_of(x, "# TYPE cpmesh_rejected_total counter\n"), 1);
    assert_int_equal(count_of(x, "# HELP cpmesh_rejected_total "), 1);
    assert_non_null(strstr(
        x,
        "cpmesh_rejected_total{node=\"hn.qltt\",service=\"intake\",reason=\"bad_signature\"} 2\n"));
    assert_non_null(strstr(
        x,
        "cpmesh_rejected_total{node=\"hn.doit\",service=\"routing\",reason=\"clock_skew\"} 1\n"));
    assert_non_null(
        strstr(x, "cpmesh_delivery_dead_letters_total{node=\"hn.qltt\",service=\"intake\"} 5\n"));
    assert_non_null(strstr(x, "# TYPE cpmesh_outbox_depth gauge\n"));
    assert_non_null(strstr(x, "cpmesh_outbox_depth{node=\"hn.qltt\",service=\"intake\","
                              "stream=\"routing@hn.doit\"} 9\n"));
    assert_non_null(strstr(x, "cpmesh_acked_seq{node=\"hn.doit\",service=\"routing\","
                              "stream=\"routing@hn.qltt\"} 41\n"));
    assert_non_null(strstr(x, "cpmesh_stream_connected{node=\"hn.qltt\",service=\"intake\","
                              "stream=\"routing@hn.doit\"} 1\n"));
    assert_non_null(strstr(x, "cpmesh_stream_halted{node=\"hn.qltt\",service=\"intake\","
                              "stream=\"routing@hn.doit\"} 0\n"));
    assert_non_null(strstr(x, "# TYPE cpmesh_stream_retries_total counter\n"));
    assert_non_null(strstr(x, "cpmesh_last_ack_timestamp_seconds{node=\"hn.qltt\","
                              "service=\"intake\",stream=\"routing@hn.doit\"} 1700000000.5\n"));
    assert_non_null(
        strstr(x, "cpmesh_store_used_bytes{node=\"hn.qltt\",service=\"intake\"} 4096\n"));
    assert_non_null(
        strstr(x, "cpmesh_store_high_water_ratio{node=\"hn.qltt\",service=\"intake\"} 0.8\n"));
    assert_non_null(strstr(x, "cpmesh_uptime_seconds{node=\"hn.qltt\",service=\"intake\"} 20\n"));
    assert_non_null(strstr(x, "cpmesh_event_head{node=\"hn.doit\",service=\"routing\"} 12\n"));
    assert_non_null(strstr(x, "cpmesh_peers_connected{node=\"hn.doit\",service=\"routing\"} 1\n"));
    assert_non_null(strstr(x, "cpmesh_up{node=\"hn.qltt\",service=\"intake\"} 1\n"));
    /* the silent service: up 0 and when it last answered, no stale figures */
    assert_non_null(strstr(x, "cpmesh_up{node=\"hn.d.ba-vi\",service=\"intake\"} 0\n"));
    assert_non_null(strstr(x, "cpmesh_last_scrape_timestamp_seconds{node=\"hn.d.ba-vi\","
                              "service=\"intake\"} 1700000000\n"));
    assert_null(strstr(x, "node=\"hn.d.ba-vi\",service=\"intake\",stream"));
    assert_null(strstr(x, "cpmesh_event_head{node=\"hn.d.ba-vi\""));
    gw_resp_clear(&rs);
    reply_free(a);
    reply_free(b);
}

/* Label values with a backslash, a double quote and a newline are escaped;
 * so is HELP text (a counter's name shows in it). */
static void test_render_escapes(void **state)
{
    (void)state;
    Cpm__HealthReply *a = reply("s\"q\\b\nn");
    a->counters[0]->name = "rejected.x\"y\\z\nw";
    a->counters[1]->name = "odd\\name";
    gw_prom_target_t t = {.node = "n\"1", .service = "s\\v", .up = true, .h = a};
    gw_resp_t rs;
    gw_resp_init(&rs);
    assert_int_equal(gw_prom_render(&t, 1, 1700000020000, &rs), 0);
    check_format(rs.body);
    assert_non_null(strstr(rs.body, "cpmesh_up{node=\"n\\\"1\",service=\"s\\\\v\"} 1\n"));
    assert_non_null(strstr(rs.body, "stream=\"s\\\"q\\\\b\\nn\"} 9\n"));
    assert_non_null(strstr(rs.body, "reason=\"x\\\"y\\\\z\\nw\"} 2\n"));
    assert_non_null(strstr(rs.body, "# HELP cpmesh_odd_name_total Health counter odd\\\\name "));
    gw_resp_clear(&rs);
    reply_free(a);
}

/* A hostile service answers with 1,000 counters and 400 streams: the
 * gateway keeps 256 of each when it takes the answer, frees the rest, and
 * says how many it left out (cpmesh_health_truncated). */
static void test_cap_hostile_answer(void **state)
{
    (void)state;
    static char names[1000][24], streams[400][24];
    Cpm__HealthReply *h = calloc(1, sizeof *h);
    cpm__health_reply__init(h);
    h->n_counters = 1000;
    h->counters = calloc(1000, sizeof *h->counters);
    for (size_t i = 0; i < 1000; i++) {
        snprintf(names[i], sizeof names[i], "hostile.c%zu", i);
        h->counters[i] = counter(names[i], i);
    }
    h->n_peers = 400;
    h->peers = calloc(400, sizeof *h->peers);
    for (size_t i = 0; i < 400; i++) {
        snprintf(streams[i], sizeof streams[i], "s%zu", i);
        h->peers[i] = peer(streams[i], 1, true, false);
    }
    /* as it arrives: unpacked, every part its own allocation */
    size_t len = cpm__health_reply__get_packed_size(h);
    uint8_t *buf = malloc(len);
    cpm__health_reply__pack(h, buf);
    reply_free(h);
    Cpm__HealthReply *got = cpm__health_reply__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(got);
    assert_int_equal(gw_prom_cap(got), (1000 - GW_PROM_COUNTERS_MAX) + (400 - GW_PROM_PEERS_MAX));
    assert_int_equal(got->n_counters, GW_PROM_COUNTERS_MAX);
    assert_int_equal(got->n_peers, GW_PROM_PEERS_MAX);
    assert_string_equal(got->counters[255]->name, "hostile.c255");
    assert_int_equal(gw_prom_cap(got), 0); /* within the caps: nothing more */
    gw_prom_target_t t = {.node = "n1", .service = "evil", .up = true, .h = got, .truncated = 888};
    gw_resp_t rs;
    gw_resp_init(&rs);
    assert_int_equal(gw_prom_render(&t, 1, 1700000020000, &rs), 0);
    assert_non_null(strstr(rs.body, "cpmesh_health_truncated{node=\"n1\",service=\"evil\"} 888"));
    assert_null(strstr(rs.body, "hostile_c256"));
    assert_non_null(strstr(rs.body, "hostile_c255"));
    assert_int_equal(count_of(rs.body, "cpmesh_stream_connected{"), GW_PROM_PEERS_MAX);
    gw_resp_clear(&rs);
    cpm__health_reply__free_unpacked(got, NULL);
    assert_int_equal(gw_prom_cap(NULL), 0);
}

static void test_render_nothing(void **state)
{
    (void)state;
    gw_resp_t rs;
    gw_resp_init(&rs);
    assert_int_equal(gw_prom_render(NULL, 0, 0, &rs), 0);
    assert_int_equal(rs.len, 0);
    gw_resp_clear(&rs);
}

static gw_req_t request(const char *peer, const gw_kv_t *headers, size_t n)
{
    return (gw_req_t){
        .method = "GET", .path = "/metrics", .peer = peer, .headers = headers, .n_headers = n};
}

static void test_access(void **state)
{
    (void)state;
    gw_req_t rq = request("127.0.0.1", NULL, 0);
    assert_true(gw_prom_allowed(&rq));
    rq = request("::1", NULL, 0);
    assert_true(gw_prom_allowed(&rq));
    rq = request("10.0.0.7", NULL, 0);
    assert_false(gw_prom_allowed(&rq));
    rq = request("::ffff:10.0.0.7", NULL, 0);
    assert_false(gw_prom_allowed(&rq));
    rq = request("128.0.0.1", NULL, 0);
    assert_false(gw_prom_allowed(&rq));
    const gw_kv_t fwd[] = {{"x-forwarded-for", "203.0.113.9"}};
    rq = request("127.0.0.1", fwd, 1);
    assert_false(gw_prom_allowed(&rq)); /* through a TLS proxy on this host */
    const gw_kv_t fwd2[] = {{"Forwarded", "for=203.0.113.9"}};
    rq = request("127.0.0.1", fwd2, 1);
    assert_false(gw_prom_allowed(&rq));

    /* the handler answers 403 and counts it */
    gw_ctx_t gw = {0};
    pthread_mutex_init(&gw.count_lock, NULL);
    gw.pending = cpm_metrics_new();
    assert_non_null(gw.pending);
    gw_resp_t rs;
    gw_resp_init(&rs);
    rq = request("192.0.2.1", NULL, 0);
    assert_int_equal(gw_prom_handle(&gw, &rq, &rs), 0);
    assert_int_equal(rs.status, 403);
    assert_int_equal(cpm_metrics_get(gw.pending, "metrics.refused"), 1);
    gw_resp_clear(&rs);
    cpm_metrics_destroy(&gw.pending);
    pthread_mutex_destroy(&gw.count_lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_names),
        cmocka_unit_test(test_cap_hostile_answer),
        cmocka_unit_test(test_render_families_and_labels),
        cmocka_unit_test(test_render_escapes),
        cmocka_unit_test(test_render_nothing),
        cmocka_unit_test(test_access),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
