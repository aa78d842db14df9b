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
    char path[1400];
    cpm_error_t kerr;
    cpm_public_t root;
    snprintf(path, sizeof path, "%s/keys/root.public", c->home);
    if (cpm_public_load(&root, path, &kerr) != 0) {
        cpm_error_set(&e, CPM_E_NOT_FOUND, "home",
                      "no mesh at %s (%s); start one with ./deploy/local/up or pass --home",
                      c->home, kerr.message);
        ctl_fail(c, c->json, &e);
        return -1;
    }
    snprintf(path, sizeof path, "%s/registry.signed", c->home);
    cpm_error_t rerr = {0};
    if (cpm_registry_load(path, root.sign_pk, &c->reg, &rerr) != 0) {
        cpm_error_set(&e, CPM_E_INVALID, "registry", "registry %s: %s", path, rerr.message);
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
    if (cpm_identity_load(&c->id, path, &kerr) != 0) {
        cpm_error_set(&e, CPM_E_INVALID, "as", "identity %s: %s", c->as, kerr.message);
        ctl_fail(c, c->json, &e);
        ctl_close(c);
        return -1;
    }
    c->zctx = zmq_ctx_new();
    if (!c->zctx || cpm_client_new(&c->client, c->zctx, c->reg, &c->id, NULL, &e) != 0) {
        ctl_fail(c, c->json, &e);
        ctl_close(c);
        return -1;
    }
    return 0;
}

int ctl_open(ctl_t *c, const ctl_opts_t *o)
{
    return ctl_open_as(c, o, NULL);
}

void ctl_close(ctl_t *c)
{
    cpm_client_destroy(&c->client);
    if (c->zctx)
        zmq_ctx_term(c->zctx);
    c->zctx = NULL;
    cpm_registry_destroy(&c->reg);
    cpm_identity_wipe(&c->id);
}

/* ctl_safe's results live until CTL_RING later calls: more than any one
 * json_pack takes (ctl_hotspot's alert_json passes 13). */
#define CTL_RING 32
static char *ring_slot(void)
{
    static char ring[CTL_RING][16384];
    static unsigned next;
    return ring[next++ % CTL_RING];
}

static bool json_failed;

bool ctl_json_failed(void)
{
    return json_failed;
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
    if (!v) { /* json_pack refused its arguments: never a silent success */
        fprintf(stderr, "cpmctl: error: the JSON output could not be built\n");
        json_failed = true;
        return;
    }
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

/* "1.500.000 VND". */
const char *ctl_vnd(int64_t v, char buf[40])
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t o = 0;
    if (v < 0)
        buf[o++] = '-';
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = '.';
        buf[o++] = digits[i];
    }
    snprintf(buf + o, 40 - o, " VND");
    return buf;
}
