/* ctl_exchange_subs: `cpmctl exchange subscribe` (the caller's agency
 * subscribes to a dataset of another agency's exchange), `cpmctl exchange
 * received` (what the caller's own agency received) and a minimal `cpmctl
 * exchange publish` (an officer publishes a record by hand). See
 * docs/protocol.md 19.4. */
#include "ctl_args.h"
#include "ctl_exchange.h"

#include "cpm_xschema.h"
#include "exchange.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char subscribe_usage[] =
    "usage: cpmctl exchange subscribe --dataset D --from-agency X [--area A] [--business B]\n"
    "           [--tax-code T] [--purpose P] [--from-start] [--cancel]\n"
    "  The caller's agency subscribes to dataset D of agency X: X's exchange delivers its\n"
    "  new records (and with --from-start the earlier ones) to the caller's agency's exchange.\n";

static const char received_usage[] =
    "usage: cpmctl exchange received [--dataset D] [--from-agency X]\n"
    "  The records the caller's own agency received from its subscriptions.\n";

/* The caller's agency (its registry entry's agency), or NULL with err. */
static const char *own_agency(const ctl_t *c, cpm_error_t *err)
{
    const Cpm__Member *me = cpm_registry_member(c->reg, c->id.id);
    if (!me || !me->agency || !me->agency[0]) {
        cpm_error_set(err, CPM_E_NOT_FOUND, "as", "%s has no agency in the registry", c->id.id);
        return NULL;
    }
    return me->agency;
}

/* One request to member's exchange; the reply payload unpacked as desc. */
static ProtobufCMessage *call(ctl_t *c, const char *member, Cpm__MsgType type,
                              const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
                              cpm_error_t *err)
{
    cpm_msg_t reply = {0};
    if (cpm_client_call(c->client, member, "exchange", type, req, c->timeout_ms, &reply, err) != 0)
        return NULL;
    ProtobufCMessage *r =
        protobuf_c_message_unpack(desc, NULL, reply.env->payload.len, reply.env->payload.data);
    cpm_msg_clear(&reply);
    if (!r)
        cpm_error_set(err, CPM_E_BAD_MESSAGE, "reply", "undecodable reply from %s", member);
    return r;
}

int ctl_exchange_subscribe(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"dataset", required_argument, 0, 'd'},
                                             {"from-agency", required_argument, 0, 'f'},
                                             {"area", required_argument, 0, 'a'},
                                             {"business", required_argument, 0, 'b'},
                                             {"tax-code", required_argument, 0, 't'},
                                             {"purpose", required_argument, 0, 'p'},
                                             {"from-start", no_argument, 0, 's'},
                                             {"cancel", no_argument, 0, 'c'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__ExchangeSubscribe q = CPM__EXCHANGE_SUBSCRIBE__INIT;
    const char *from = NULL;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 'd':
            q.dataset = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 'a':
            q.area = optarg;
            break;
        case 'b':
            q.business = optarg;
            break;
        case 't':
            q.tax_code = optarg;
            break;
        case 'p':
            q.purpose = optarg;
            break;
        case 's':
            q.from_start = true;
            break;
        case 'c':
            q.cancel = true;
            break;
        default:
            return ctl_usage(subscribe_usage, opt == 'h' ? 0 : 2);
        }
    }
    if (optind != argc)
        return ctl_usage(subscribe_usage, 2);
    cpm_error_t err = {0};
    if (!q.dataset[0] || !from) {
        cpm_error_set(&err, CPM_E_INVALID, !q.dataset[0] ? "dataset" : "from-agency",
                      "subscribe needs --dataset and --from-agency");
        return ctl_fail(NULL, o.json, &err);
    }
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    const char *agency = own_agency(&c, &err);
    Cpm__ExchangeSubscribeReply *r =
        agency
            ? (Cpm__ExchangeSubscribeReply *)call(&c, from, CPM__MSG_TYPE__MSG_EXCHANGE_SUBSCRIBE,
                                                  &q.base,
                                                  &cpm__exchange_subscribe_reply__descriptor, &err)
            : NULL;
    if (!r) {
        int rc = ctl_fail(&c, c.json, &err);
        ctl_close(&c);
        return rc;
    }
    if (c.json) {
        json_t *w = json_array();
        for (size_t i = 0; i < r->n_withheld_fields; i++)
            json_array_append_new(w, json_string(ctl_utf8(r->withheld_fields[i])));
        ctl_print_json(json_pack("{s:b,s:s,s:s,s:I,s:b,s:b,s:o}", "ok", 1, "id", ctl_utf8(r->id),
                                 "from_agency", from, "start_seq", (json_int_t)r->start_seq,
                                 "duplicate", r->duplicate, "cancelled", r->cancelled,
                                 "withheld_fields", w));
    } else if (r->cancelled) {
        printf("subscription %s cancelled (delivered up to seq %llu)\n", ctl_safe(r->id),
               (unsigned long long)r->start_seq);
    } else {
        printf("%s %s: records after seq %llu are delivered to %s's exchange\n",
               r->duplicate ? "subscription changed" : "subscribed", ctl_safe(r->id),
               (unsigned long long)r->start_seq, agency);
        if (r->n_withheld_fields) {
            printf("fields not shared with %s:", agency);
            for (size_t i = 0; i < r->n_withheld_fields; i++)
                printf(" %s", ctl_safe(r->withheld_fields[i]));
            printf("\n");
        }
    }
    cpm__exchange_subscribe_reply__free_unpacked(r, NULL);
    ctl_close(&c);
    return 0;
}

/* A value as people read it: times in Vietnam time, amounts in VND. */
static const char *show_value(const cpm_xdataset_t *d, const Cpm__DataField *f, char buf[40])
{
    const cpm_xfield_t *xf = d ? cpm_xschema_field(d, f->name) : NULL;
    char *end = NULL;
    long long v = xf && f->value[0] ? strtoll(f->value, &end, 10) : 0;
    if (!xf || !end || *end)
        return ctl_safe(f->value);
    if (xf->type == CPM_XF_TIME)
        return ctl_time_vn(v, buf);
    if (xf->type == CPM_XF_VND)
        return ctl_vnd(v, buf);
    return ctl_safe(f->value);
}

static void print_record(const Cpm__DataRecord *r, bool json, json_t *all)
{
    char t[40];
    const cpm_xdataset_t *d = cpm_xschema_find(r->dataset);
    if (json) {
        json_t *fields = json_object();
        for (size_t i = 0; i < r->n_fields; i++)
            json_object_set_new(fields, ctl_utf8(r->fields[i]->name),
                                json_string(ctl_utf8(r->fields[i]->value)));
        json_array_append_new(
            all, json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:o}", "publisher", ctl_utf8(r->publisher),
                           "dataset", ctl_utf8(r->dataset), "key", ctl_utf8(r->key), "version",
                           (json_int_t)r->version, "seq", (json_int_t)r->seq, "at",
                           ctl_time(r->at_ms, t), "fields", fields));
        return;
    }
    printf("%s %s %s (version %llu, %s)\n", ctl_safe(r->publisher), ctl_safe(r->dataset),
           ctl_safe(r->key), (unsigned long long)r->version, ctl_time_vn(r->at_ms, t));
    for (size_t i = 0; i < r->n_fields; i++)
        printf("  %-16s %s\n", ctl_safe(r->fields[i]->name), show_value(d, r->fields[i], t));
}

#define RECEIVED_PAGES_MAX 1000 /* 500,000 records at most in one listing */

int ctl_exchange_received(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"dataset", required_argument, 0, 'd'},
                                             {"from-agency", required_argument, 0, 'f'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__ExchangeReceivedQuery q = CPM__EXCHANGE_RECEIVED_QUERY__INIT;
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        if (opt == 'd')
            q.dataset = optarg;
        else if (opt == 'f')
            q.publisher = optarg;
        else
            return ctl_usage(received_usage, opt == 'h' ? 0 : 2);
    }
    if (optind != argc)
        return ctl_usage(received_usage, 2);
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    const char *agency = own_agency(&c, &err);
    q.max = 500;
    json_t *all = c.json ? json_array() : NULL;
    char after[512] = "";
    size_t n = 0;
    int rc = agency ? 0 : -1;
    for (int page = 0; rc == 0 && page < RECEIVED_PAGES_MAX; page++) {
        q.after = after;
        Cpm__ExchangeReceivedReply *r = (Cpm__ExchangeReceivedReply *)call(
            &c, agency, CPM__MSG_TYPE__MSG_EXCHANGE_RECEIVED_QUERY, &q.base,
            &cpm__exchange_received_reply__descriptor, &err);
        if (!r) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < r->n_records; i++)
            print_record(r->records[i], c.json, all);
        n += r->n_records;
        bool more = r->next_after[0] && strlen(r->next_after) < sizeof after;
        if (more)
            snprintf(after, sizeof after, "%s", r->next_after);
        cpm__exchange_received_reply__free_unpacked(r, NULL);
        if (!more)
            break;
    }
    if (rc != 0) {
        json_decref(all);
        rc = ctl_fail(&c, c.json, &err);
        ctl_close(&c);
        return rc;
    }
    if (c.json)
        ctl_print_json(json_pack("{s:b,s:s,s:I,s:o}", "ok", 1, "agency", agency, "count",
                                 (json_int_t)n, "records", all));
    else
        printf("%zu record%s received by %s\n", n, n == 1 ? "" : "s", agency);
    ctl_close(&c);
    return 0;
}
