/* ctl_exchange_query: `cpmctl exchange query` (fan out to every agency's
 * exchange at once, each with its own deadline, verify each signed answer,
 * merge) and `cpmctl exchange publish` (a record by hand at the own
 * agency's exchange). docs/protocol.md 19.2-19.3. */
#include "ctl_args.h"
#include "ctl_exchange.h"

#include "cpm_util.h"
#include "cpm_xanswer.h"
#include "cpm_xschema.h"
#include "exchange.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_AGENCIES 64
#define MAX_PAGES 20 /* pages followed per agency (500 records each) */
#define EXCHANGE_FIELDS_WANTED_MAX 32

static const char usage[] =
    "usage: cpmctl exchange query --dataset D [--business B] [--tax-code T] [--area A]\n"
    "         [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--purpose P] [--fields a,b]\n"
    "         [--agency X]... [--timeout MS] [--max N per page, 1..500] [--json]\n"
    "       cpmctl exchange publish --dataset watchlist|product_warnings --field name=value ...\n"
    "         [--key K] [--remove] [--client-ref R] [--json]\n";

typedef enum { A_PENDING, A_ANSWERED, A_REFUSED, A_TIMEOUT, A_ERROR, A_INVALID } astate_t;

typedef struct {
    const char *id; /* the agency node asked */
    astate_t state;
    char msg_id[33];
    char after[160];
    char why[300]; /* A_ERROR / A_INVALID / A_REFUSED: what happened */
    char field[80];
    unsigned code;
    size_t n_records, pages;
    Cpm__ExchangeAnswer *answers[MAX_PAGES]; /* owned */
} agency_t;

/* Wait for a's answer until deadline (monotonic ms) and file it. */
static void await(ctl_t *c, agency_t *a, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - cpm_mono_ms();
        cpm_msg_t m = {0};
        cpm_error_t e = {0};
        int rc = left > 0 ? cpm_client_recv(c->client, a->id, "exchange", (int)left, &m, &e)
                          : CPM_E_TIMEOUT;
        if (rc == CPM_E_TIMEOUT) {
            a->state = A_TIMEOUT;
            return;
        }
        if (rc != 0) {
            a->state = A_INVALID;
            snprintf(a->why, sizeof a->why, "%s", e.message[0] ? e.message : cpm_err_name(rc));
            return;
        }
        if (strcmp(m.env->correlation_id, a->msg_id) != 0) { /* a late answer to a past page */
            cpm_msg_clear(&m);
            continue;
        }
        if ((rc = cpm_client_reply_error(&m, &e)) != 0) {
            a->state = A_ERROR;
            a->code = (unsigned)rc;
            snprintf(a->field, sizeof a->field, "%s", e.field);
            snprintf(a->why, sizeof a->why, "%s", e.message);
            cpm_msg_clear(&m);
            return;
        }
        Cpm__ExchangeAnswerReply *r =
            m.env->type == CPM__MSG_TYPE__MSG_EXCHANGE_QUERY_REPLY
                ? cpm__exchange_answer_reply__unpack(NULL, m.env->payload.len, m.env->payload.data)
                : NULL;
        uint8_t sent[32];
        Cpm__ExchangeAnswer *ans = NULL;
        if (!r)
            snprintf(a->why, sizeof a->why, "the reply does not decode");
        else if (cpm_client_sent_hash(c->client, a->id, "exchange", sent) != 0)
            snprintf(a->why, sizeof a->why, "no request sent");
        else {
            cpm_xanswer_expect_t x = {a->id, c->id.id, cpm_client_self(c->client), a->msg_id, sent};
            cpm_error_t ve = {0};
            if (cpm_xanswer_verify(c->reg, r->signed_answer.data, r->signed_answer.len, &x, &ans,
                                   &ve) != 0)
                snprintf(a->why, sizeof a->why, "%s", ve.message);
        }
        if (r)
            cpm__exchange_answer_reply__free_unpacked(r, NULL);
        cpm_msg_clear(&m);
        if (!ans) {
            a->state = A_INVALID;
            return;
        }
        if (ans->refused_code) {
            a->state = A_REFUSED;
            a->code = ans->refused_code;
            snprintf(a->field, sizeof a->field, "%s", ans->refused_field);
            snprintf(a->why, sizeof a->why, "%s", ans->refusal);
        } else {
            a->state = ans->next_after[0] ? A_PENDING : A_ANSWERED;
            a->n_records += ans->n_records;
            snprintf(a->after, sizeof a->after, "%s", ans->next_after);
        }
        a->answers[a->pages++] = ans;
        if (a->state == A_PENDING && a->pages == MAX_PAGES)
            a->state = A_ANSWERED; /* enough: the rest is not fetched (said in the output) */
        return;
    }
}

static void fields_json(json_t *o, const cpm_xdataset_t *d, const Cpm__DataRecord *r)
{
    (void)d;
    for (size_t i = 0; i < r->n_fields; i++)
        json_object_set_new(o, ctl_utf8(r->fields[i]->name),
                            json_string(ctl_utf8(r->fields[i]->value)));
}

static void print_record(const cpm_xdataset_t *d, const char *agency, const Cpm__DataRecord *r)
{
    char b[40];
    printf("  [%s] %s v%llu (%s)\n", ctl_safe(agency), ctl_safe(r->key),
           (unsigned long long)r->version, ctl_time_vn(r->at_ms, b));
    for (size_t i = 0; i < r->n_fields; i++) {
        const cpm_xfield_t *f = cpm_xschema_field(d, r->fields[i]->name);
        const char *v = r->fields[i]->value;
        int64_t n = v[0] ? strtoll(v, NULL, 10) : 0;
        if (f && f->type == CPM_XF_TIME && v[0])
            v = ctl_time_vn(n, b);
        else if (f && f->type == CPM_XF_VND && v[0])
            v = ctl_vnd(n, b);
        else
            v = ctl_safe(v);
        printf("      %-15s %s\n", ctl_safe(r->fields[i]->name), v);
    }
    if (r->match[0])
        printf("      match: %s\n", ctl_safe(r->match));
}

static const char *const STATE[] = {"pending", "answered", "refused",
                                    "timeout", "error",    "invalid"};

static int show(const ctl_opts_t *o, const cpm_xdataset_t *d, agency_t *ag, size_t n)
{
    size_t counts[6] = {0}, total = 0;
    json_t *aj = json_array(), *rj = json_array();
    for (size_t i = 0; i < n; i++) {
        agency_t *a = &ag[i];
        counts[a->state]++;
        json_t *one = json_pack("{s:s,s:s}", "agency", a->id, "status", STATE[a->state]);
        if (a->state == A_ANSWERED) {
            json_t *w = json_array();
            Cpm__ExchangeAnswer *f = a->answers[0];
            for (size_t k = 0; k < f->n_withheld_fields; k++)
                json_array_append_new(w, json_string(ctl_utf8(f->withheld_fields[k])));
            json_object_set_new(one, "records", json_integer((json_int_t)a->n_records));
            json_object_set_new(one, "withheld", w);
            json_object_set_new(one, "more", json_boolean(a->after[0] != 0));
            if (!o->json) {
                printf("%s: answered, %zu record%s", ctl_safe(a->id), a->n_records,
                       a->n_records == 1 ? "" : "s");
                for (size_t k = 0; k < f->n_withheld_fields; k++)
                    printf("%s%s", k ? ", " : "; withheld: ", ctl_safe(f->withheld_fields[k]));
                printf("%s\n", a->after[0] ? " (more not fetched)" : "");
            }
        } else if (a->state == A_REFUSED || a->state == A_ERROR) {
            json_object_set_new(one, "code", json_integer(a->code));
            json_object_set_new(one, "field", json_string(ctl_utf8(a->field)));
            json_object_set_new(one, "reason", json_string(ctl_utf8(a->why)));
            if (!o->json)
                printf("%s: %s %u %s: %s\n", ctl_safe(a->id),
                       a->state == A_REFUSED ? "refused" : "error", a->code, ctl_safe(a->field),
                       ctl_safe(a->why));
        } else if (a->state == A_TIMEOUT) {
            if (!o->json)
                printf("%s: no answer in time\n", ctl_safe(a->id));
        } else {
            json_object_set_new(one, "reason", json_string(ctl_utf8(a->why)));
            if (!o->json)
                printf("%s: answer refused: %s\n", ctl_safe(a->id), ctl_safe(a->why));
        }
        json_array_append_new(aj, one);
        if (a->state != A_ANSWERED)
            continue;
        for (size_t p = 0; p < a->pages; p++)
            for (size_t k = 0; k < a->answers[p]->n_records; k++) {
                const Cpm__DataRecord *r = a->answers[p]->records[k];
                total++;
                if (!o->json)
                    continue;
                json_t *fo = json_object();
                fields_json(fo, d, r);
                json_array_append_new(
                    rj, json_pack("{s:s,s:s,s:I,s:I,s:s,s:o}", "publisher", a->id, "key",
                                  ctl_utf8(r->key), "version", (json_int_t)r->version, "at_ms",
                                  (json_int_t)r->at_ms, "match", ctl_utf8(r->match), "fields", fo));
            }
    }
    if (o->json) {
        ctl_print_json(
            json_pack("{s:s,s:o,s:o}", "dataset", d->name, "agencies", aj, "records", rj));
    } else {
        json_decref(aj);
        json_decref(rj);
        printf("%s: %zu records; %zu answered, %zu refused, %zu no answer in time, %zu "
               "failed\n",
               d->name, total, counts[A_ANSWERED], counts[A_REFUSED], counts[A_TIMEOUT],
               counts[A_ERROR] + counts[A_INVALID]);
        for (size_t i = 0; i < n; i++)
            for (size_t p = 0; ag[i].state == A_ANSWERED && p < ag[i].pages; p++)
                for (size_t k = 0; k < ag[i].answers[p]->n_records; k++)
                    print_record(d, ag[i].id, ag[i].answers[p]->records[k]);
    }
    return counts[A_ANSWERED] + counts[A_REFUSED] > 0 ? 0 : 1;
}

/* The agencies to ask: those named, or every member running "exchange". */
static size_t pick(ctl_t *c, const char **named, size_t n_named, agency_t *ag, cpm_error_t *e)
{
    size_t n = 0;
    if (n_named) {
        for (size_t i = 0; i < n_named; i++) {
            const Cpm__Member *m = cpm_registry_member(c->reg, named[i]);
            if (!m || !cpm_member_service(m, "exchange")) {
                cpm_error_set(e, CPM_E_NOT_FOUND, "agency", "%s runs no exchange", named[i]);
                return 0;
            }
            ag[n++].id = m->id;
        }
        return n;
    }
    const Cpm__Registry *doc = cpm_registry_doc(c->reg);
    for (size_t i = 0; i < doc->n_members && n < MAX_AGENCIES; i++)
        if (cpm_member_service(doc->members[i], "exchange"))
            ag[n++].id = doc->members[i]->id;
    if (!n)
        cpm_error_set(e, CPM_E_NOT_FOUND, "agency", "no member of the registry runs an exchange");
    return n;
}

static int run_query(const ctl_opts_t *o, Cpm__ExchangeQuery *q, const char **named, size_t n_named,
                     int timeout_ms)
{
    ctl_t c;
    if (ctl_open(&c, o) != 0)
        return 1;
    static agency_t ag[MAX_AGENCIES];
    cpm_error_t e = {0};
    const cpm_xdataset_t *d = cpm_xschema_find(q->dataset);
    size_t n = pick(&c, named, n_named, ag, &e);
    if (!n) {
        int rc = ctl_fail(&c, o->json, &e);
        ctl_close(&c);
        return rc;
    }
    /* Rounds: send to every agency still pending at once, then wait for each
     * until its own deadline, so a slow one costs its own timeout only. */
    for (int round = 0; round < MAX_PAGES; round++) {
        int64_t deadline = cpm_mono_ms() + timeout_ms;
        size_t sent = 0;
        for (size_t i = 0; i < n; i++) {
            if (ag[i].state != A_PENDING)
                continue;
            q->after = ag[i].after;
            cpm_error_t se = {0};
            if (cpm_client_send(c.client, ag[i].id, "exchange", CPM__MSG_TYPE__MSG_EXCHANGE_QUERY,
                                &q->base, ag[i].msg_id, &se) != 0) {
                ag[i].state = A_INVALID;
                snprintf(ag[i].why, sizeof ag[i].why, "cannot send: %s", se.message);
                continue;
            }
            sent++;
        }
        if (!sent)
            break;
        for (size_t i = 0; i < n; i++)
            if (ag[i].state == A_PENDING && ag[i].msg_id[0])
                await(&c, &ag[i], deadline);
    }
    q->after = (char *)"";
    int rc = show(o, d, ag, n);
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < ag[i].pages; p++)
            cpm__exchange_answer__free_unpacked(ag[i].answers[p], NULL);
    ctl_close(&c);
    return rc;
}

int ctl_exchange_query(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"dataset", required_argument, 0, 'd'},
                                             {"business", required_argument, 0, 'b'},
                                             {"tax-code", required_argument, 0, 't'},
                                             {"area", required_argument, 0, 'r'},
                                             {"from", required_argument, 0, 'f'},
                                             {"to", required_argument, 0, 'u'},
                                             {"purpose", required_argument, 0, 'p'},
                                             {"fields", required_argument, 0, 'F'},
                                             {"agency", required_argument, 0, 'a'},
                                             {"timeout", required_argument, 0, 'T'},
                                             {"timeout-ms", required_argument, 0, 'T'},
                                             {"max", required_argument, 0, 'm'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__ExchangeQuery q = CPM__EXCHANGE_QUERY__INIT;
    static const char *named[MAX_AGENCIES];
    static char *wanted[EXCHANGE_FIELDS_WANTED_MAX];
    static char fields_buf[1024];
    size_t n_named = 0;
    int timeout_ms = 3000;
    cpm_error_t e = {0};
    int opt;
    q.max = 500;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 'd':
            q.dataset = optarg;
            break;
        case 'b':
            q.business = optarg;
            break;
        case 't':
            q.tax_code = optarg;
            break;
        case 'r':
            q.area = optarg;
            break;
        case 'p':
            q.purpose = optarg;
            break;
        case 'f':
        case 'u': {
            int64_t ms;
            if (ctl_parse_time(optarg, &ms) != 0 || ms < 0) {
                cpm_error_set(&e, CPM_E_INVALID, opt == 'f' ? "from" : "to",
                              "\"%s\" is not a date (YYYY-MM-DD, Vietnam's time)", optarg);
                return ctl_fail(NULL, o.json, &e);
            }
            if (opt == 'u' && strlen(optarg) == 10) /* a day: up to its end */
                ms += 86400000LL - 1;
            if (opt == 'f')
                q.from_ms = ms ? ms : 1;
            else
                q.to_ms = ms;
            break;
        }
        case 'F':
            snprintf(fields_buf, sizeof fields_buf, "%s", optarg);
            q.n_fields = 0;
            for (char *p = fields_buf, *tok;
                 q.n_fields < EXCHANGE_FIELDS_WANTED_MAX && (tok = strsep(&p, ","));)
                if (*tok)
                    wanted[q.n_fields++] = tok;
            q.fields = wanted;
            break;
        case 'a':
            if (n_named < MAX_AGENCIES)
                named[n_named++] = optarg;
            break;
        case 'T':
            timeout_ms = atoi(optarg);
            if (timeout_ms < 1 || timeout_ms > 600000) {
                cpm_error_set(&e, CPM_E_INVALID, "timeout", "timeout is 1..600000 ms");
                return ctl_fail(NULL, o.json, &e);
            }
            break;
        case 'm':
            q.max = (uint32_t)atoi(optarg);
            break;
        default:
            return ctl_usage(usage, opt == 'h' ? 0 : 2);
        }
    }
    if (!q.dataset[0] || !cpm_xschema_find(q.dataset)) {
        cpm_error_set(&e, CPM_E_INVALID, "dataset",
                      "--dataset is one of the datasets "
                      "(cpmctl exchange datasets)");
        return ctl_fail(NULL, o.json, &e);
    }
    if (q.from_ms && q.to_ms && q.from_ms > q.to_ms) {
        cpm_error_set(&e, CPM_E_INVALID, "from", "--from is after --to");
        return ctl_fail(NULL, o.json, &e);
    }
    return run_query(&o, &q, named, n_named, timeout_ms);
}

int ctl_exchange_publish(const ctl_opts_t *gopts, int argc, char **argv)
{
    static const struct option longopts[] = {{"dataset", required_argument, 0, 'd'},
                                             {"field", required_argument, 0, 'f'},
                                             {"key", required_argument, 0, 'k'},
                                             {"remove", no_argument, 0, 'r'},
                                             {"client-ref", required_argument, 0, 'c'},
                                             CTL_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    ctl_opts_t o = *gopts;
    Cpm__ExchangePublish p = CPM__EXCHANGE_PUBLISH__INIT;
    static Cpm__DataField fs[32], *fp[32];
    cpm_error_t e = {0};
    int opt;
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        if (ctl_common_opt(opt, &o))
            continue;
        switch (opt) {
        case 'd':
            p.dataset = optarg;
            break;
        case 'f': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || p.n_fields == 32) {
                cpm_error_set(&e, CPM_E_INVALID, "field", "--field is name=value (at most 32)");
                return ctl_fail(NULL, o.json, &e);
            }
            *eq = 0;
            cpm__data_field__init(&fs[p.n_fields]);
            fs[p.n_fields].name = optarg;
            fs[p.n_fields].value = eq + 1;
            fp[p.n_fields] = &fs[p.n_fields];
            p.n_fields++;
            p.fields = fp;
            break;
        }
        case 'k':
            p.key = optarg;
            break;
        case 'r':
            p.remove = true;
            break;
        case 'c':
            p.client_ref = optarg;
            break;
        default:
            return ctl_usage(usage, opt == 'h' ? 0 : 2);
        }
    }
    if (!p.dataset[0]) {
        cpm_error_set(&e, CPM_E_INVALID, "dataset", "--dataset is needed");
        return ctl_fail(NULL, o.json, &e);
    }
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    const Cpm__Member *me = cpm_registry_member(c.reg, c.id.id);
    const char *agency = me && me->agency[0] ? me->agency : c.id.id;
    cpm_msg_t m = {0};
    int rc =
        cpm_client_call_retry(c.client, agency, "exchange", CPM__MSG_TYPE__MSG_EXCHANGE_PUBLISH,
                              &p.base, c.timeout_ms, 3, &m, &e);
    Cpm__ExchangePublishReply *r =
        rc == 0 ? cpm__exchange_publish_reply__unpack(NULL, m.env->payload.len, m.env->payload.data)
                : NULL;
    if (rc == 0 && !r)
        rc = cpm_error_set(&e, CPM_E_BAD_MESSAGE, "reply", "the reply does not decode");
    if (rc != 0) {
        rc = ctl_fail(&c, o.json, &e);
    } else if (o.json) {
        ctl_print_json(json_pack("{s:b,s:s,s:s,s:s,s:I,s:I,s:b}", "ok", 1, "agency", agency,
                                 "dataset", p.dataset, "key", ctl_utf8(r->key), "version",
                                 (json_int_t)r->version, "seq", (json_int_t)r->seq, "duplicate",
                                 r->duplicate));
    } else {
        printf("%s %s %s version %llu%s\n", ctl_safe(agency), p.dataset, ctl_safe(r->key),
               (unsigned long long)r->version, r->duplicate ? " (unchanged)" : "");
    }
    if (r)
        cpm__exchange_publish_reply__free_unpacked(r, NULL);
    cpm_msg_clear(&m);
    ctl_close(&c);
    return rc;
}
