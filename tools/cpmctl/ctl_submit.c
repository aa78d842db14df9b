/* cpmctl submit / consult: record complaints and hotline consultations. */
#include "ctl_args.h"
#include "ctl_submit_batch.h"
#include "ctl_submit_line.h"
#include "cpm_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char submit_usage[] =
    "usage: cpmctl submit --channel C --business NAME --location TEXT [options]\n"
    "       cpmctl submit --file FILE.jsonl [--batch N] [--receipts DIR] [--window N]\n"
    "                     [--node ID]\n"
    "\n"
    "Records a complaint at an intake service and prints its ticket and lookup code\n"
    "(give both to the consumer: the code opens the public status view).\n"
    "  --channel C          hotline|web|walk_in|email|social|letter\n"
    "  --business NAME      the business complained about\n"
    "  --address TEXT       the business's address\n"
    "  --product TEXT       the product or service complained about (hotspots per product)\n"
    "  --location TEXT      where: a ward, commune, old ward or district, or an address\n"
    "                       line, in any spelling (\"P. Hàng Bạc\", \"phuong yen hoa\")\n"
    "  --lat X --lon Y      where, as a point (WGS 84 degrees): decides over the text\n"
    "  --area TEXT          the same as a location text, in the area field of older\n"
    "                       clients (a slug such as hoan-kiem; --district: the same)\n"
    "  --category SLUG      e.g. food_safety, pricing (see deploy/hanoi/routing.yaml)\n"
    "  --description TEXT   what happened\n"
    "  --urgent             urgent (e.g. food poisoning)\n"
    "  --event-time T       when it happened: YYYY-MM-DD[THH:MM] (Vietnam time) or Unix ms\n"
    "  --consumer-name N, --phone P, --email E   the consumer's contact (personal data)\n"
    "  --ref REF            client reference: resubmitting it returns the same ticket\n"
    "  --node ID            intake node to use (default: your agency's, else the first)\n"
    "  --file FILE          one JSON object per line with the Complaint's field names\n"
    "                       (channel, business_name, location, lat, lon, area, ...);\n"
    "                       '-' reads stdin\n"
    "  --batch N            complaints per request with --file, 1 to 64 (default 32):\n"
    "                       each batch is answered by a group receipt, one signature\n"
    "                       for many answers; 1 sends single submits\n"
    "  --receipts DIR       keep each recorded complaint's receipt, a proof anyone\n"
    "                       with the registry can check (cpmctl receipt verify), as\n"
    "                       DIR/<ticket>.receipt (mode 0600)\n"
    "  --window N           complaints in flight with --file (default 64)\n"
    "  --json               print JSON\n";

static const char consult_usage[] =
    "usage: cpmctl consult --summary TEXT [--channel C] [--category SLUG] [--duration S]\n"
    "                      [--ref REF] [--node ID] [--json]\n"
    "\n"
    "Records a consultation: a call answered with advice, no case opened.\n";

/* The intake to use: --node, else the sender's agency when it runs intake,
 * else the first intake in the registry. */
static const char *pick_intake(const ctl_t *c, const char *node)
{
    if (node)
        return node;
    const Cpm__Member *me = cpm_registry_member(c->reg, c->id.id);
    if (me && *me->agency) {
        const Cpm__Member *ag = cpm_registry_member(c->reg, me->agency);
        if (ag && cpm_member_service(ag, "intake"))
            return ag->id;
    }
    const Cpm__Member *any = cpm_registry_find_service(c->reg, "intake");
    return any ? any->id : "";
}

/* A new client reference: "cli-" and 32 hex digits that sort by time
 * (intake's index of references stays local: cpm_time_ordered_id). */
static void random_ref(char out[48])
{
    char id[33];
    cpm_time_ordered_id(id, cpm_now_ms());
    snprintf(out, 48, "cli-%s", id);
}

/* One complaint, resent with the same client reference on a retryable error. */
static int submit_one(ctl_t *c, const char *node, const Cpm__Complaint *cp, cpm_error_t *err,
                      Cpm__SubmitReply **out)
{
    cpm_msg_t reply = {0};
    int rc = cpm_client_call_retry(c->client, node, "intake", CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                                   &cp->base, c->timeout_ms, 4, &reply, err);
    if (rc != 0)
        return rc;
    *out = cpm__submit_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    cpm_msg_clear(&reply);
    return *out ? 0 : cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "undecodable reply");
}

void ctl_print_ticket(bool json, long line, const Cpm__SubmitReply *r)
{
    /* The lookup code goes to the consumer: with the ticket it opens the
     * public status view (cpmctl status TICKET --code CODE). */
    const char *code = r->lookup_code ? r->lookup_code : "";
    if (json) {
        json_t *o = json_pack("{s:b,s:s,s:b}", "ok", 1, "ticket", ctl_utf8(r->ticket), "duplicate",
                              r->duplicate);
        if (*code)
            json_object_set_new(o, "lookup_code", json_string(ctl_utf8(code)));
        if (line > 0)
            json_object_set_new(o, "line", json_integer(line));
        ctl_print_json(o);
    } else if (line > 0) {
        printf("%ld %s%s%s%s\n", line, ctl_safe(r->ticket), *code ? " " : "", ctl_safe(code),
               r->duplicate ? " (duplicate)" : "");
    } else {
        printf("%s%s%s%s\n", ctl_safe(r->ticket), *code ? " " : "", ctl_safe(code),
               r->duplicate ? " (already recorded)" : "");
    }
}

typedef struct {
    long line;
    json_t *obj;
    Cpm__Complaint c;
    char ref[48];
    char msg_id[33];
    int tries;
    bool done;
} item_t;

static int send_item(ctl_t *c, const char *node, item_t *it, cpm_error_t *err)
{
    it->tries++;
    return cpm_client_send(c->client, node, "intake", CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                           &it->c.base, it->msg_id, err);
}

/* Many complaints over one link, window requests in flight. */
static int submit_file(ctl_t *c, const char *node, const char *path, int window, int batch,
                       const char *receipts)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    cpm_error_t err = {0};
    if (!f) {
        cpm_error_set(&err, CPM_E_NOT_FOUND, "file", "cannot open %s", path);
        return ctl_fail(c, c->json, &err);
    }
    item_t *items = NULL;
    size_t n = 0, cap = 0, failed = 0;
    char *line = NULL;
    size_t lcap = 0;
    long lineno = 0;
    while (getline(&line, &lcap, f) > 0) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            item_t *grown = realloc(items, cap * sizeof *items);
            if (!grown) {
                cpm_error_set(&err, CPM_E_INTERNAL, "file", "out of memory at line %ld", lineno);
                failed++;
                break;
            }
            items = grown;
        }
        item_t *it = &items[n];
        memset(it, 0, sizeof *it);
        cpm__complaint__init(&it->c);
        it->line = lineno;
        if (ctl_submit_line_parse(line, lineno, &it->obj, &it->c, &err) != 0) {
            failed++;
            ctl_fail(c, c->json, &err);
            continue;
        }
        n++;
    }
    /* Only now that items no longer moves may its strings be pointed at. */
    for (size_t i = 0; i < n; i++) {
        if (!*items[i].c.client_ref) { /* so that a resend cannot record it twice */
            random_ref(items[i].ref);
            items[i].c.client_ref = items[i].ref;
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);
    size_t next = 0, inflight = 0, done = 0, ok = 0;
    if ((batch > 1 || receipts) && n > 0) { /* group receipts (ctl_submit_batch.c) */
        Cpm__Complaint **cs = calloc(n, sizeof *cs);
        long *lines = calloc(n, sizeof *lines);
        for (size_t i = 0; cs && lines && i < n; i++) {
            cs[i] = &items[i].c;
            lines[i] = items[i].line;
        }
        int per = window / batch > 0 ? window / batch : 1;
        int rc = cs && lines
                     ? ctl_submit_batches(c, node, cs, lines, n, batch, per, receipts, &ok, &failed)
                     : -1;
        free(cs);
        free(lines);
        if (rc != 0 && ok + failed < n) /* sending stopped: the rest is not recorded */
            failed = n - ok;
        done = n;
    }
    while (done < n) {
        while (inflight < (size_t)window && next < n) {
            if (send_item(c, node, &items[next++], &err) != 0)
                return ctl_fail(c, c->json, &err);
            inflight++;
        }
        cpm_msg_t reply = {0};
        int rc = cpm_client_recv(c->client, node, "intake", c->timeout_ms, &reply, &err);
        if (rc == CPM_E_TIMEOUT) { /* resend what is unanswered; refs keep it idempotent */
            for (size_t i = 0; i < next; i++) {
                if (items[i].done)
                    continue;
                if (items[i].tries >= 4) {
                    items[i].done = true;
                    done++, inflight--, failed++;
                    cpm_error_set(&err, CPM_E_TIMEOUT, "", "line %ld: no answer", items[i].line);
                    ctl_fail(c, c->json, &err);
                } else if (send_item(c, node, &items[i], &err) != 0) {
                    return ctl_fail(c, c->json, &err);
                }
            }
            continue;
        }
        if (rc != 0) {
            ctl_fail(c, c->json, &err);
            continue;
        }
        item_t *it = NULL;
        for (size_t i = 0; i < next && !it; i++)
            if (!items[i].done && !strcmp(items[i].msg_id, reply.env->correlation_id))
                it = &items[i];
        if (!it) {
            cpm_msg_clear(&reply);
            continue;
        }
        rc = cpm_client_reply_error(&reply, &err);
        if (rc != 0 && cpm_err_retryable(rc) && it->tries < 4) {
            send_item(c, node, it, &err);
        } else if (rc != 0) {
            it->done = true;
            done++, inflight--, failed++;
            char msg[sizeof err.message];
            snprintf(msg, sizeof msg, "%s", err.message);
            char field[sizeof err.field];
            snprintf(field, sizeof field, "%s", err.field);
            cpm_error_set(&err, rc, field, "line %ld: %s", it->line, msg);
            ctl_fail(c, c->json, &err);
        } else {
            Cpm__SubmitReply *r =
                cpm__submit_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
            it->done = true;
            done++, inflight--, ok++;
            if (r)
                ctl_print_ticket(c->json, it->line, r);
            cpm__submit_reply__free_unpacked(r, NULL);
        }
        cpm_msg_clear(&reply);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(items[i].obj);
    free(items);
    fprintf(stderr, "cpmctl: %zu recorded, %zu failed\n", ok, failed);
    return failed ? 1 : 0;
}

/* A decimal number of degrees, whole string. 0 or -1. */
static int parse_degrees(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno)
        return -1;
    *out = v;
    return 0;
}

int ctl_cmd_submit(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"channel", required_argument, 0, 'c'},
                                             {"business", required_argument, 0, 'b'},
                                             {"address", required_argument, 0, 'a'},
                                             {"product", required_argument, 0, 'P'},
                                             {"area", required_argument, 0, 'd'},
                                             {"district", required_argument, 0, 'd'},
                                             {"location", required_argument, 0, 'l'},
                                             {"lat", required_argument, 0, 'y'},
                                             {"lon", required_argument, 0, 'x'},
                                             {"category", required_argument, 0, 'k'},
                                             {"description", required_argument, 0, 'm'},
                                             {"urgent", no_argument, 0, 'u'},
                                             {"event-time", required_argument, 0, 't'},
                                             {"consumer-name", required_argument, 0, 'n'},
                                             {"phone", required_argument, 0, 'p'},
                                             {"email", required_argument, 0, 'e'},
                                             {"ref", required_argument, 0, 'r'},
                                             {"node", required_argument, 0, 'N'},
                                             {"file", required_argument, 0, 'f'},
                                             {"window", required_argument, 0, 'w'},
                                             {"batch", required_argument, 0, 'B'},
                                             {"receipts", required_argument, 0, 'R'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__Complaint cp = CPM__COMPLAINT__INIT;
    const char *node = NULL, *file = NULL, *receipts = NULL;
    int window = 64, batch = 32, opt, npoint = 0;
    char ref[48];
    cpm_error_t err = {0};
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 'c':
            cp.channel = optarg;
            break;
        case 'b':
            cp.business_name = optarg;
            break;
        case 'a':
            cp.business_address = optarg;
            break;
        case 'P':
            cp.product = optarg;
            break;
        case 'd':
            cp.area = optarg;
            break;
        case 'l':
            cp.location = optarg;
            break;
        case 'y':
        case 'x':
            if (parse_degrees(optarg, opt == 'y' ? &cp.lat : &cp.lon) != 0) {
                cpm_error_set(&err, CPM_E_INVALID, opt == 'y' ? "lat" : "lon",
                              "--%s '%s' is not a number of degrees", opt == 'y' ? "lat" : "lon",
                              optarg);
                return ctl_fail(NULL, o.json, &err);
            }
            cp.has_point = true;
            npoint++;
            break;
        case 'k':
            cp.category = optarg;
            break;
        case 'm':
            cp.description = optarg;
            break;
        case 'u':
            cp.urgent = true;
            break;
        case 'n':
            cp.consumer_name = optarg;
            break;
        case 'p':
            cp.consumer_phone = optarg;
            break;
        case 'e':
            cp.consumer_email = optarg;
            break;
        case 'r':
            cp.client_ref = optarg;
            break;
        case 'N':
            node = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'w':
            window = atoi(optarg) > 0 ? atoi(optarg) : 64;
            break;
        case 'B': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > CPM_SUBMIT_BATCH_MAX) {
                cpm_error_set(&err, CPM_E_INVALID, "batch", "--batch '%s' is not 1 to %d", optarg,
                              CPM_SUBMIT_BATCH_MAX);
                return ctl_fail(NULL, o.json, &err);
            }
            batch = (int)v;
            break;
        }
        case 'R':
            receipts = optarg;
            break;
        case 't':
            if (ctl_parse_time(optarg, &cp.event_time_ms) != 0) {
                cpm_error_set(&err, CPM_E_INVALID, "event_time_ms",
                              "--event-time '%s' is not YYYY-MM-DD[THH:MM] or Unix ms", optarg);
                return ctl_fail(NULL, o.json, &err);
            }
            break;
        case 'h':
            return ctl_usage(submit_usage, 0);
        default:
            return ctl_usage(submit_usage, 2);
        }
    }
    if (optind < argc)
        return ctl_usage(submit_usage, 2);
    if (npoint == 1) {
        cpm_error_set(&err, CPM_E_INVALID, cp.lat != 0 ? "lon" : "lat",
                      "a point needs both --lat and --lon");
        return ctl_fail(NULL, o.json, &err);
    }
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    node = pick_intake(&c, node);
    int rc;
    if (file) {
        rc = submit_file(&c, node, file, window, batch, receipts);
    } else {
        if (!*cp.client_ref) {
            random_ref(ref);
            cp.client_ref = ref;
        }
        Cpm__SubmitReply *r = NULL;
        if (submit_one(&c, node, &cp, &err, &r) != 0) {
            rc = ctl_fail(&c, c.json, &err);
        } else {
            ctl_print_ticket(c.json, 0, r);
            rc = 0;
        }
        cpm__submit_reply__free_unpacked(r, NULL);
    }
    ctl_close(&c);
    return rc;
}

int ctl_cmd_consult(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"channel", required_argument, 0, 'c'},
                                             {"summary", required_argument, 0, 's'},
                                             {"category", required_argument, 0, 'k'},
                                             {"duration", required_argument, 0, 'D'},
                                             {"ref", required_argument, 0, 'r'},
                                             {"node", required_argument, 0, 'N'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__Consultation cs = CPM__CONSULTATION__INIT;
    cs.channel = "hotline";
    const char *node = NULL;
    char ref[48];
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 'c':
            cs.channel = optarg;
            break;
        case 's':
            cs.summary = optarg;
            break;
        case 'k':
            cs.category = optarg;
            break;
        case 'D':
            cs.duration_s = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            cs.client_ref = optarg;
            break;
        case 'N':
            node = optarg;
            break;
        case 'h':
            return ctl_usage(consult_usage, 0);
        default:
            return ctl_usage(consult_usage, 2);
        }
    }
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    if (!*cs.client_ref) {
        random_ref(ref);
        cs.client_ref = ref;
    }
    node = pick_intake(&c, node);
    cpm_msg_t reply = {0};
    cpm_error_t err = {0};
    int rc = cpm_client_call(c.client, node, "intake", CPM__MSG_TYPE__MSG_RECORD_CONSULTATION,
                             &cs.base, c.timeout_ms, &reply, &err);
    if (rc == 0) {
        Cpm__SubmitReply *r =
            cpm__submit_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
        if (r)
            ctl_print_ticket(c.json, 0, r);
        cpm__submit_reply__free_unpacked(r, NULL);
        cpm_msg_clear(&reply);
    } else {
        rc = ctl_fail(&c, c.json, &err);
    }
    ctl_close(&c);
    return rc;
}
