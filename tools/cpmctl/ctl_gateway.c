/* ctl_gateway: `cpmctl gateway ...`, the Open311 client applications the
 * city admits (docs/open311.md "API keys"):
 *
 *   gateway apikey new --app ID [--name N] [--channel web|app]
 *                      [--source clients.json] [--key-out FILE]
 *       a new random API key, shown once (or written to FILE, mode 0600);
 *       with --source its SHA-256 goes into the unsigned list there
 *       (created if missing; the entry of ID replaced).
 *   gateway clients sign --source clients.json --key SIGNER.secret --out F
 *                        [--version N]
 *       the list signed by the city's node key (or the root key) over
 *       "CPMESH-GWCLIENTS-V1\0" || document: the gateway's gateway_clients.
 *
 * The file formats are services/gateway/gw_clients.h's; the domain string
 * is the same as GW_CLIENTS_DOMAIN there (cpmctl does not link the
 * gateway). Nothing here talks to the mesh. */
#include "ctl_args.h"

#include "cpm_docsig.h"
#include "cpm_util.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOMAIN "CPMESH-GWCLIENTS-V1" /* = GW_CLIENTS_DOMAIN */

static const char usage[] =
    "usage: cpmctl gateway <verb> ...   (Open311 client applications)\n"
    "  apikey new --app ID [--name N] [--channel web|app] [--source clients.json]\n"
    "             [--key-out FILE]       a new API key, shown once; its hash into the list\n"
    "  clients sign --source clients.json --key SIGNER.secret --out F.signed [--version N]\n"
    "                                    sign the list (the city's node key or the root key)\n";

static int fail(bool json, const char *field, const char *msg)
{
    cpm_error_t e = {0};
    cpm_error_set(&e, CPM_E_INVALID, field, "%s", msg);
    return ctl_fail(NULL, json, &e);
}

static bool app_valid(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static json_t *load_source(const char *path)
{
    json_error_t je;
    json_t *d = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!d) /* a new list */
        return json_pack("{s:i,s:[]}", "version", 1, "clients");
    return json_is_object(d) && json_is_array(json_object_get(d, "clients"))
               ? d
               : (json_decref(d), NULL);
}

static int apikey_new(const ctl_opts_t *o, const char *app, const char *name, const char *channel,
                      const char *source, const char *key_out)
{
    if (!app || !app_valid(app))
        return fail(o->json, "app", "--app is 1-64 of a-z 0-9 . _ -");
    if (strcmp(channel, "web") != 0 && strcmp(channel, "app") != 0)
        return fail(o->json, "channel", "--channel is web or app");
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    char key[80] = "o311_";
    sodium_bin2base64(key + 5, sizeof key - 5, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const uint8_t *)key, strlen(key));
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    int rc = 0;
    if (source) {
        json_t *d = load_source(source);
        if (!d) {
            sodium_memzero(key, sizeof key);
            return fail(o->json, "source", "--source is not a client list ({version, clients})");
        }
        json_t *list = json_object_get(d, "clients");
        for (size_t i = json_array_size(list); i-- > 0;)
            if (!strcmp(json_string_value(json_object_get(json_array_get(list, i), "id")) ?: "",
                        app))
                json_array_remove(list, i);
        json_array_append_new(list,
                              json_pack("{s:s,s:s,s:s,s:s}", "id", app, "name", name ? name : app,
                                        "key_sha256", hex, "channel", channel));
        char *text = json_dumps(d, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!text || cpm_write_file(source, text, strlen(text), 0644) != 0)
            rc = fail(o->json, "source", "cannot write --source");
        free(text);
        json_decref(d);
    }
    if (rc == 0 && key_out) {
        char line[96];
        int n = snprintf(line, sizeof line, "%s\n", key);
        if (cpm_write_file(key_out, line, (size_t)n, 0600) != 0)
            rc = fail(o->json, "key_out", "cannot write --key-out");
        sodium_memzero(line, sizeof line);
    }
    if (rc == 0 && o->json)
        ctl_print_json(json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "app", app, "key_sha256", hex,
                                 key_out ? "key_out" : "api_key", key_out ? key_out : key));
    else if (rc == 0 && key_out)
        printf("API key of %s written to %s (sha256 %s)\n", app, key_out, hex);
    else if (rc == 0)
        printf("%s\n(the API key of %s: shown once, give it to the application; sha256 %s)\n", key,
               app, hex);
    sodium_memzero(key, sizeof key);
    return rc;
}

static int clients_sign(const ctl_opts_t *o, const char *source, const char *keyfile,
                        const char *out, long long version)
{
    if (!source || !keyfile || !out)
        return fail(o->json,
                    !source    ? "source"
                    : !keyfile ? "key"
                               : "out",
                    "clients sign needs --source, --key and --out");
    json_t *d = load_source(source);
    if (!d)
        return fail(o->json, "source", "--source is not a client list ({version, clients})");
    if (version > 0)
        json_object_set_new(d, "version", json_integer(version));
    char *doc = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t n = json_array_size(json_object_get(d, "clients"));
    json_int_t ver = json_integer_value(json_object_get(d, "version"));
    json_decref(d);
    cpm_identity_t id;
    cpm_error_t kerr = {0};
    int rc = 0;
    if (!doc) {
        rc = fail(o->json, "source", "out of memory");
    } else if (cpm_identity_load(&id, keyfile, &kerr) != 0) {
        rc = fail(o->json, "key", kerr.message);
    } else {
        uint8_t sig[64];
        char sighex[129];
        if (cpm_docsig_sign(DOMAIN, (const uint8_t *)doc, strlen(doc), id.sign_sk, sig) != 0)
            rc = fail(o->json, "key", "cannot sign");
        else {
            sodium_bin2hex(sighex, sizeof sighex, sig, sizeof sig);
            json_t *f =
                json_pack("{s:s,s:s,s:s}", "doc", doc, "signer", id.id, "signature", sighex);
            char *text = json_dumps(f, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
            if (!text || cpm_write_file(out, text, strlen(text), 0644) != 0)
                rc = fail(o->json, "out", "cannot write --out");
            free(text);
            json_decref(f);
        }
        if (rc == 0 && o->json)
            ctl_print_json(json_pack("{s:b,s:s,s:s,s:I,s:I}", "ok", 1, "out", out, "signer", id.id,
                                     "version", ver, "clients", (json_int_t)n));
        else if (rc == 0)
            printf("client list version %lld, %zu applications, signed by %s into %s\n",
                   (long long)ver, n, id.id, out);
        cpm_identity_wipe(&id);
    }
    free(doc);
    return rc;
}

int ctl_cmd_gateway(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"app", required_argument, 0, 'a'},
                                             {"name", required_argument, 0, 'n'},
                                             {"channel", required_argument, 0, 'c'},
                                             {"source", required_argument, 0, 's'},
                                             {"key-out", required_argument, 0, 'K'},
                                             {"key", required_argument, 0, 'k'},
                                             {"out", required_argument, 0, 'o'},
                                             {"version", required_argument, 0, 'v'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    if (argc < 2)
        return ctl_usage(usage, 2);
    ctl_opts_t o = *gopts;
    const char *app = NULL, *name = NULL, *channel = "web", *source = NULL, *key_out = NULL,
               *key = NULL, *out = NULL;
    long long version = 0;
    int opt;
    while ((opt = ctl_getopt(argc - 1, argv + 1, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 'a':
            app = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'c':
            channel = optarg;
            break;
        case 's':
            source = optarg;
            break;
        case 'K':
            key_out = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'v':
            version = atoll(optarg);
            break;
        default:
            return ctl_usage(usage, opt == 'h' ? 0 : 2);
        }
    }
    const char *verb = optind < argc - 1 ? argv[1 + optind] : "";
    if (!strcmp(argv[1], "apikey") && !strcmp(verb, "new"))
        return apikey_new(&o, app, name, channel, source, key_out) ? 1 : 0;
    if (!strcmp(argv[1], "clients") && !strcmp(verb, "sign"))
        return clients_sign(&o, source, key, out, version) ? 1 : 0;
    return ctl_usage(usage, 2);
}
