/* ctl_exchange_main: `cpmctl exchange <verb> ...` and the verbs that need no
 * mesh: `policy sign|show` (the agency's signed access policy) and
 * `datasets` (the schemas). See ctl_exchange.h. */
#include "ctl_args.h"
#include "ctl_exchange.h"

#include "cpm_util.h"
#include "cpm_xpolicy_doc.h"
#include "cpm_xschema.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: cpmctl exchange <verb> ...\n"
    "  datasets                          the datasets an exchange publishes, field by field\n"
    "  policy sign --source P.yaml --key AGENCY.secret --out P.signed\n"
    "  policy show FILE [--agency ID]    check a signed policy against the registry\n"
    "  subscribe --dataset D --from-agency X [--area A] [--business B] [--tax-code T]\n"
    "            [--purpose P] [--from-start] [--cancel]\n"
    "  received [--dataset D] [--from-agency X]   what the own agency received\n"
    "  query --dataset D [filters]       ask every agency's exchange at once (--help)\n"
    "  verify-log [--node N]             check an exchange's hash chain, checkpoints, "
    "co-signatures\n"
    "  evidence SEQ [--node N] --out F   export one exchange with everything that proves it\n"
    "  verify-evidence FILE [--root-public F]   check an evidence file offline\n"
    "  publish --dataset D --field n=v   a record by hand at the own agency (--help)\n";

static const struct {
    const char *verb;
    int (*fn)(const ctl_opts_t *, int, char **);
} VERBS[] = {
    {"policy", ctl_exchange_policy},       {"datasets", ctl_exchange_datasets},
    {"subscribe", ctl_exchange_subscribe}, {"received", ctl_exchange_received},
    {"query", ctl_exchange_query},         {"verify-log", ctl_exchange_log},
    {"evidence", ctl_exchange_log},        {"verify-evidence", ctl_exchange_log},
    {"publish", ctl_exchange_publish},
};

int ctl_cmd_exchange(const ctl_opts_t *o, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof VERBS / sizeof VERBS[0]; i++)
        if (!strcmp(argv[1], VERBS[i].verb))
            return VERBS[i].fn(o, argc - 1, argv + 1);
    fprintf(stderr, "cpmctl exchange: unknown verb '%s'\n%s", argv[1], usage);
    return 2;
}

int ctl_exchange_datasets(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {CTL_COMMON_LONGOPTS, {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0)
        if (!ctl_common_opt(opt, &o))
            return ctl_usage(usage, opt == 'h' ? 0 : 2);
    size_t n;
    const cpm_xdataset_t *d = cpm_xschema_all(&n);
    json_t *all = o.json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *fields = o.json ? json_array() : NULL;
        if (!o.json)
            printf("%s (version %u%s): %s\n", d[i].name, d[i].version,
                   d[i].by_hand ? ", published by hand" : "", d[i].what);
        for (size_t k = 0; k < d[i].n_fields; k++) {
            const cpm_xfield_t *f = &d[i].fields[k];
            if (o.json)
                json_array_append_new(fields, json_pack("{s:s,s:s,s:b,s:s}", "name", f->name,
                                                        "type", cpm_xschema_type_name(f->type),
                                                        "personal", f->personal, "what", f->what));
            else
                printf("  %-16s %-6s %s%s\n", f->name, cpm_xschema_type_name(f->type),
                       f->personal ? "[personal] " : "", f->what);
        }
        if (o.json)
            json_array_append_new(all,
                                  json_pack("{s:s,s:I,s:b,s:s,s:o}", "dataset", d[i].name,
                                            "version", (json_int_t)d[i].version, "by_hand",
                                            d[i].by_hand, "what", d[i].what, "fields", fields));
    }
    if (o.json)
        ctl_print_json(all);
    return 0;
}

static int policy_sign(const ctl_opts_t *o, const char *source, const char *key, const char *out)
{
    cpm_error_t e = {0};
    if (!source || !key || !out) {
        cpm_error_set(&e, CPM_E_INVALID,
                      !source ? "source"
                      : !key  ? "key"
                              : "out",
                      "policy sign needs --source, --key and --out");
        return ctl_fail(NULL, o->json, &e);
    }
    Cpm__ExchangePolicy *p = NULL;
    if (cpm_xpolicy_from_yaml(source, &p, &e) != 0)
        return ctl_fail(NULL, o->json, &e);
    cpm_identity_t id;
    cpm_error_t kerr = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = 0;
    if (cpm_identity_load(&id, key, &kerr) != 0) {
        rc = cpm_error_set(&e, CPM_E_INVALID, "key", "%s", kerr.message);
    } else if (strcmp(id.id, p->agency) != 0) {
        rc = cpm_error_set(&e, CPM_E_INVALID, "key",
                           "the key is %s's, but the policy is for agency %s: an agency signs "
                           "its own policy",
                           id.id, p->agency);
    } else if (cpm_xpolicy_sign(p, id.sign_sk, &buf, &len) != 0 ||
               cpm_write_file(out, buf, len, 0644) != 0) {
        rc = cpm_error_set(&e, CPM_E_INTERNAL, "out", "cannot sign or write %s", out);
    }
    cpm_identity_wipe(&id);
    if (rc == 0 && o->json)
        ctl_print_json(json_pack("{s:b,s:s,s:s,s:I,s:I}", "ok", 1, "out", out, "agency", p->agency,
                                 "version", (json_int_t)p->version, "rules",
                                 (json_int_t)p->n_rules));
    else if (rc == 0)
        printf("policy of %s, version %llu, %zu rules, signed into %s\n", p->agency,
               (unsigned long long)p->version, p->n_rules, out);
    free(buf);
    cpm__exchange_policy__free_unpacked(p, NULL);
    return rc ? ctl_fail(NULL, o->json, &e) : 0;
}

static void print_rule(const Cpm__PolicyRule *r)
{
    printf("  %s -> agencies", r->dataset);
    for (size_t i = 0; i < r->n_agencies; i++)
        printf(" %s", ctl_safe(r->agencies[i]));
    if (r->n_roles) {
        printf(", roles");
        for (size_t i = 0; i < r->n_roles; i++)
            printf(" %s", ctl_safe(r->roles[i]));
    }
    printf(": fields");
    for (size_t i = 0; i < r->n_fields; i++)
        printf(" %s", ctl_safe(r->fields[i]));
    if (r->purpose && r->purpose[0])
        printf("; purpose \"%s\"", ctl_safe(r->purpose));
    printf("%s\n", r->subscribe ? "; may subscribe" : "");
}

static int policy_show(const ctl_opts_t *o, const char *file, const char *agency)
{
    ctl_t c;
    if (ctl_open(&c, o) != 0)
        return 1;
    cpm_error_t e = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    Cpm__ExchangePolicy *p = NULL;
    int rc = cpm_read_file(file, CPM_XPOLICY_MAX_BYTES, &buf, &len) != 0
                 ? cpm_error_set(&e, CPM_E_NOT_FOUND, "file", "cannot read %s", file)
                 : cpm_xpolicy_open(buf, len, c.reg, agency ? agency : c.id.id, &p, &e);
    free(buf);
    if (rc != 0) {
        rc = ctl_fail(&c, o->json, &e);
        ctl_close(&c);
        return rc;
    }
    if (o->json) {
        json_t *rules = json_array();
        for (size_t i = 0; i < p->n_rules; i++)
            json_array_append_new(rules, json_pack("{s:s,s:s,s:b}", "dataset", p->rules[i]->dataset,
                                                   "purpose", ctl_utf8(p->rules[i]->purpose),
                                                   "subscribe", p->rules[i]->subscribe));
        ctl_print_json(json_pack("{s:b,s:s,s:I,s:o}", "ok", 1, "agency", p->agency, "version",
                                 (json_int_t)p->version, "rules", rules));
    } else {
        printf("policy of %s, version %llu, signed by its current key:\n", p->agency,
               (unsigned long long)p->version);
        for (size_t i = 0; i < p->n_rules; i++)
            print_rule(p->rules[i]);
    }
    cpm__exchange_policy__free_unpacked(p, NULL);
    ctl_close(&c);
    return 0;
}

int ctl_exchange_policy(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"source", required_argument, 0, 's'},
                                             {"key", required_argument, 0, 'k'},
                                             {"out", required_argument, 0, 'o'},
                                             {"agency", required_argument, 0, 'a'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    const char *source = NULL, *key = NULL, *out = NULL, *agency = NULL;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 's':
            source = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'a':
            agency = optarg;
            break;
        default:
            return ctl_usage(usage, opt == 'h' ? 0 : 2);
        }
    }
    if (optind >= argc)
        return ctl_usage(usage, 2);
    if (!strcmp(argv[optind], "sign"))
        return policy_sign(&o, source, key, out);
    if (!strcmp(argv[optind], "show") && optind + 1 < argc)
        return policy_show(&o, argv[optind + 1], agency);
    return ctl_usage(usage, 2);
}
