/* Fuzz target: an Open311 POST requests form as the gateway takes it from
 * anyone on the Internet (o311_post_request: the urlencoded body parsed and
 * decoded, the api key checked against a client list signed by the vectors'
 * root, the rate limit, the fields mapped onto a Complaint handed to a fake
 * intake that packs it), in JSON and XML; and the dashboard's form reader
 * (gw_form_get) over the same bytes. The body is the input as sent, with its
 * length (NUL bytes included). */
#include "fuzz_env.h"

#include "cpm_docsig.h"
#include "gw_auth.h"
#include "gw_clients.h"
#include "gw_open311_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_KEY "fuzz-key" /* the seeds' api_key: a known application */

static int64_t fuzz_clock(void)
{
    static int64_t t = 0;
    return t += 60000; /* a minute per call: the rate limit never ends a run */
}

static int fake_submit(void *arg, const Cpm__Complaint *c, Cpm__SubmitReply **out, cpm_error_t *err)
{
    (void)arg, (void)err;
    size_t n = cpm__complaint__get_packed_size(c);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    cpm__complaint__pack(c, buf);
    free(buf);
    *out = calloc(1, sizeof **out);
    if (!*out)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    cpm__submit_reply__init(*out);
    (*out)->ticket = strdup("DOIT-00000007");
    (*out)->lookup_code = strdup("");
    return 0;
}

static int fake_status(void *arg, const char *ticket, Cpm__StatusReply **out, cpm_error_t *err)
{
    (void)arg, (void)ticket, (void)out;
    return cpm_error_set(err, CPM_E_NOT_FOUND, "ticket", "unknown");
}

static int fake_list(void *arg, const Cpm__CaseListQuery *q, Cpm__CaseListReply **out,
                     cpm_error_t *err)
{
    (void)arg, (void)q, (void)out;
    return cpm_error_set(err, CPM_E_UNAVAILABLE, "", "down");
}

static void fake_name(void *arg, const char *id, char *out, size_t cap)
{
    (void)arg, (void)id;
    snprintf(out, cap, "%s", "");
}

static int fake_with(void *arg, int (*fn)(const cpm_registry_t *reg, void *a), void *a)
{
    (void)arg;
    return fn(NULL, a); /* a list signed by "root" needs no registry */
}

static gw_open311_t *open311(void)
{
    static gw_open311_t *o;
    if (o)
        return o;
    char hex[65], doc[512], sighex[129], path[1024];
    gw_clients_key_hash(FUZZ_KEY, hex);
    snprintf(doc, sizeof doc,
             "{\"version\":1,\"clients\":[{\"id\":\"fuzz-app\",\"name\":\"Fuzz\","
             "\"key_sha256\":\"%s\",\"channel\":\"app\",\"rate_per_min\":100000}]}",
             hex);
    uint8_t sig[64];
    if (cpm_docsig_sign(GW_CLIENTS_DOMAIN, (const uint8_t *)doc, strlen(doc), fz_root()->sign_sk,
                        sig) != 0)
        fz_die("client list", "cannot sign");
    sodium_bin2hex(sighex, sizeof sighex, sig, sizeof sig);
    json_t *f = json_pack("{s:s,s:s,s:s}", "doc", doc, "signer", "root", "signature", sighex);
    char *text = json_dumps(f, 0);
    json_decref(f);
    if (!text ||
        fz_write_file("open311-clients.signed", (const uint8_t *)text, strlen(text), path) != 0)
        fz_die("client list", "cannot write");
    free(text);
    static o311_backend_t be = {fake_submit, fake_status, fake_list, fake_name, fake_with, NULL};
    cpm_error_t err = {0};
    char rules[1024];
    snprintf(rules, sizeof rules, "%s/deploy/hanoi/routing.yaml", fz_source_dir());
    if (o311_new_with(&o, &be, NULL, path, fz_root()->sign_pk, &err) != 0 ||
        o311_cats_load(o, rules, &err) != 0)
        fz_die("open311", err.message);
    o->clock_ms = fuzz_clock;
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_open311_t *o = open311();
    if (size > 70000) /* the HTTP layer refuses more (GW_BODY_MAX) */
        return 0;
    /* as the adapter hands it over: a copy with a NUL after it */
    char *body = malloc(size + 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    body[size] = 0;
    static const gw_kv_t hdr[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
    gw_req_t rq = {.method = "POST",
                   .path = "/open311/v2/requests.json",
                   .headers = hdr,
                   .n_headers = 1,
                   .body = (const uint8_t *)body,
                   .body_len = size,
                   .peer = "192.0.2.1"};
    for (int fmt = 0; fmt < 2; fmt++) {
        gw_resp_t rs;
        gw_resp_init(&rs);
        o311_post_request(o, NULL, &rq, &rs, fmt ? O311_XML : O311_JSON);
        if (rs.status < 200 || rs.status > 599)
            abort(); /* every answer is an HTTP status */
        gw_resp_clear(&rs);
    }
    char out[256];
    (void)gw_form_get(body, "token", out, sizeof out);
    (void)gw_form_get(body, "description", out, sizeof out);
    free(body);
    return 0;
}
