/* exchange_query: queries of this agency's datasets. See exchange_query.h. */
#include "exchange_query.h"

#include "cpm_bizname.h"
#include "cpm_log.h"
#include "cpm_ratelimit.h"
#include "cpm_util.h"
#include "cpm_xpolicy.h"
#include "exchange_log.h"
#include "exchange_records.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

#define VN_OFFSET_MS (7 * 3600 * 1000LL) /* Asia/Ho_Chi_Minh: UTC+7, no DST */

static bool parse_ms(const char *v, int64_t *out)
{
    if (!v || !v[0])
        return false;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end || n < 0)
        return false;
    *out = n;
    return true;
}

bool exchange_query_in_period(const char *v, bool month, int64_t from_ms, int64_t to_ms)
{
    int64_t lo, hi;
    if (month) {
        unsigned y, m;
        char tail;
        if (!v || sscanf(v, "%4u-%2u%c", &y, &m, &tail) != 2 || m < 1 || m > 12)
            return false;
        lo = days_from_civil(y, m, 1) * 86400000LL - VN_OFFSET_MS;
        hi = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400000LL -
             VN_OFFSET_MS - 1;
    } else if (!parse_ms(v, &lo)) {
        return false;
    } else {
        hi = lo;
    }
    return (from_ms == 0 || hi >= from_ms) && (to_ms == 0 || lo <= to_ms);
}

/* The digits of s, for comparing tax codes written with or without "-". */
static void digits(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; s && *s && n + 1 < cap; s++)
        if (*s >= '0' && *s <= '9')
            out[n++] = *s;
    out[n] = 0;
}

static int check_query(const Cpm__ExchangeQuery *q, const cpm_xdataset_t **d, cpm_error_t *err)
{
    if (!(*d = cpm_xschema_find(q->dataset)))
        return cpm_error_set(err, CPM_E_INVALID, "dataset", "no dataset \"%.40s\"", q->dataset);
    if (q->max > EXCHANGE_QUERY_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "max", "max is 1..%d (0 = %d)", EXCHANGE_QUERY_MAX,
                             EXCHANGE_QUERY_DEFAULT);
    if (strlen(q->business) > EXCHANGE_QUERY_TEXT_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "business", "business is at most %d bytes",
                             EXCHANGE_QUERY_TEXT_MAX);
    if (q->business[0] && !(*d)->business_field)
        return cpm_error_set(err, CPM_E_INVALID, "business",
                             "dataset %s has no business field to match", (*d)->name);
    if (strlen(q->purpose) > EXCHANGE_QUERY_TEXT_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "purpose", "purpose is at most %d bytes",
                             EXCHANGE_QUERY_TEXT_MAX);
    size_t tl = strlen(q->tax_code);
    if (tl > 20 || strspn(q->tax_code, "0123456789-") != tl)
        return cpm_error_set(err, CPM_E_INVALID, "tax_code",
                             "a tax code is digits and \"-\", at most 20 bytes");
    if (tl && !(*d)->tax_field)
        return cpm_error_set(err, CPM_E_INVALID, "tax_code", "dataset %s has no tax code",
                             (*d)->name);
    if (strlen(q->area) > 64)
        return cpm_error_set(err, CPM_E_INVALID, "area", "an area slug is at most 64 bytes");
    if (q->area[0] && !(*d)->area_field)
        return cpm_error_set(err, CPM_E_INVALID, "area", "dataset %s has no area", (*d)->name);
    if (q->from_ms < 0 || q->to_ms < 0 || (q->from_ms && q->to_ms && q->from_ms > q->to_ms))
        return cpm_error_set(err, CPM_E_INVALID, q->from_ms < 0 ? "from_ms" : "to_ms",
                             "the period is from_ms <= to_ms, both >= 0 (0 = open)");
    if ((q->from_ms || q->to_ms) && !(*d)->date_field)
        return cpm_error_set(err, CPM_E_INVALID, "from_ms", "dataset %s has no date", (*d)->name);
    if (strlen(q->after) > EXCHANGE_KEY_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "after", "after is at most %d bytes",
                             EXCHANGE_KEY_MAX);
    if (q->n_fields > EXCHANGE_RECORD_FIELDS_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "fields", "at most %d fields",
                             EXCHANGE_RECORD_FIELDS_MAX);
    for (size_t i = 0; i < q->n_fields; i++)
        if (!cpm_xschema_field(*d, q->fields[i]))
            return cpm_error_set(err, CPM_E_INVALID, "fields", "dataset %s has no field \"%.40s\"",
                                 (*d)->name, q->fields[i]);
    return 0;
}

typedef struct {
    const Cpm__ExchangeQuery *q;
    const cpm_xdataset_t *d;
    const cpm_xgrant_t *g;
    bool month; /* the date field is a month */
    char tax[24];
    size_t max, read, bytes;
    Cpm__DataRecord **out;
    size_t n;
    char next_after[EXCHANGE_KEY_MAX + 1];
    int err; /* out of memory */
} scan_t;

/* 1 when r passes the query's filters; why gets the business match line. */
static bool passes(const scan_t *s, const Cpm__DataRecord *r, char *why, size_t cap)
{
    const Cpm__ExchangeQuery *q = s->q;
    why[0] = 0;
    if (r->removed)
        return false;
    if (q->business[0] &&
        !cpm_bizname_match(q->business, exchange_record_value(r, s->d->business_field), why, cap))
        return false;
    if (s->tax[0]) {
        char t[24];
        digits(exchange_record_value(r, s->d->tax_field), t, sizeof t);
        if (strcmp(t, s->tax) != 0)
            return false;
    }
    if (q->area[0] && strcmp(exchange_record_value(r, s->d->area_field), q->area) != 0)
        return false;
    if ((q->from_ms || q->to_ms) &&
        !exchange_query_in_period(exchange_record_value(r, s->d->date_field), s->month, q->from_ms,
                                  q->to_ms))
        return false;
    return true;
}

static int on_record(void *arg, const Cpm__DataRecord *r)
{
    scan_t *s = arg;
    s->read++;
    char why[512];
    if (!passes(s, r, why, sizeof why))
        return 0;
    Cpm__DataRecord red = CPM__DATA_RECORD__INIT;
    if (cpm_xpolicy_redact(s->g, s->d, r, &red) != 0)
        return s->err = CPM_E_INTERNAL;
    red.match = why;
    size_t len = cpm__data_record__get_packed_size(&red);
    /* Full (count or bytes): the next page starts after the last one given. */
    if (s->n == s->max || s->bytes + len + 8 > EXCHANGE_QUERY_ANSWER_BYTES) {
        free(red.fields);
        return 1;
    }
    uint8_t *buf = malloc(len ? len : 1);
    Cpm__DataRecord *copy = NULL;
    if (buf) {
        cpm__data_record__pack(&red, buf);
        copy = cpm__data_record__unpack(NULL, len, buf);
    }
    free(buf);
    free(red.fields);
    if (!copy)
        return s->err = CPM_E_INTERNAL;
    s->out[s->n++] = copy;
    s->bytes += len + 8;
    snprintf(s->next_after, sizeof s->next_after, "%s", r->key);
    return 0;
}

static void log_refusal(const exchange_t *x, const char *who, const cpm_xgrant_t *g)
{
    static cpm_ratelimit_t rl = CPM_RATELIMIT_INIT(10, 60000);
    uint64_t dropped = 0;
    if (cpm_ratelimit_allow(&rl, cpm_mono_ms(), &dropped))
        cpm_warn("exchange %s: query by %s refused (%d %s): %s%s", x->node, who, g->code, g->field,
                 g->reason, cpm_ratelimit_note(dropped));
}

/* Sign a and log it with the request; the event and counters. */
static int seal_and_log(const exchange_t *x, cpm_sender_t *signer, cpm_store_t *st, MDB_txn *txn,
                        const cpm_effects_t *fx, const exchange_query_req_t *req,
                        Cpm__ExchangeAnswer *a, int64_t now_ms, uint8_t **out, size_t *out_len)
{
    char recipient[300];
    snprintf(recipient, sizeof recipient, "%s/%s", req->who.id, req->instance);
    if (cpm_sender_seal(signer, CPM__MSG_TYPE__MSG_EXCHANGE_ANSWER_SIGNED, recipient, req->msg_id,
                        &a->base, NULL, out, out_len) != 0)
        return CPM_E_INTERNAL;
    exchange_log_entry_t le = {"query", req->who.id, a->dataset, req->who.frame, req->who.frame_len,
                               *out,    *out_len};
    uint64_t seq = 0;
    int rc = exchange_log_append(st, txn, now_ms, &le, &seq);
    if (rc == 0 && seq != a->log_seq)
        rc = CPM_E_INTERNAL; /* the answer names another entry: never commit that */
    char note[200];
    if (a->refused_code)
        snprintf(note, sizeof note, "%.64s %s: refused %s", req->who.id, a->dataset,
                 a->refused_field);
    else
        snprintf(note, sizeof note, "%.64s %s: answered %zu", req->who.id, a->dataset,
                 a->n_records);
    cpm_event_t ev = {
        .kind = "exchange.query", .agency = x->node, .actor = req->who.id, .note = note};
    if (rc == 0 && fx && fx->event)
        rc = fx->event(fx->ctx, txn, &ev);
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

int exchange_query(const exchange_t *x, const Cpm__ExchangePolicy *policy, cpm_sender_t *signer,
                   cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                   const exchange_query_req_t *req, const Cpm__ExchangeQuery *q, int64_t now_ms,
                   uint8_t **answer, size_t *answer_len, cpm_error_t *err)
{
    const cpm_xdataset_t *d;
    *answer = NULL;
    int rc = check_query(q, &d, err);
    if (rc != 0) {
        exchange_count(x, "exchange.query_invalid");
        return rc;
    }
    cpm_xgrant_t g;
    cpm_xpolicy_decide(policy, x->node, d, req->who.agency, req->who.role, q->purpose,
                       (const char *const *)q->fields, q->n_fields, &g);
    /* Filters only on fields the requester may see: a filter on a withheld
     * field (a tax code, a name) would reveal it record by record. */
    const char *filtered[] = {
        q->business[0] ? d->business_field : NULL, q->tax_code[0] ? d->tax_field : NULL,
        q->area[0] ? d->area_field : NULL, (q->from_ms || q->to_ms) ? d->date_field : NULL};
    for (size_t i = 0; g.allowed && i < sizeof filtered / sizeof filtered[0]; i++)
        (void)cpm_xpolicy_may_filter(policy, x->node, d, req->who.agency, req->who.role, q->purpose,
                                     filtered[i], &g);
    uint64_t head = 0;
    if ((rc = exchange_log_head(st, txn, &head, NULL)) != 0)
        return rc;
    uint8_t rh[32];
    crypto_hash_sha256(rh, req->who.frame, req->who.frame_len);
    Cpm__ExchangeAnswer a = CPM__EXCHANGE_ANSWER__INIT;
    a.request_hash.data = rh;
    a.request_hash.len = sizeof rh;
    a.request_id = (char *)req->msg_id;
    a.requester = (char *)req->who.id;
    a.publisher = (char *)x->node;
    a.dataset = (char *)d->name;
    a.schema_version = d->version;
    a.answered_ms = now_ms;
    a.log_seq = head + 1;
    char withheld[1024];
    char *wf[64];
    size_t nwf = 0;
    scan_t s = {.q = q, .d = d, .g = &g};
    if (!g.allowed) {
        a.refused_code = (uint32_t)(g.code ? g.code : 403);
        a.refused_field = g.field;
        a.refusal = g.reason;
        exchange_count(x, "exchange.query_refused");
        log_refusal(x, req->who.id, &g);
    } else {
        cpm_xpolicy_withheld(&g, d, withheld, sizeof withheld);
        for (char *p = withheld, *tok; nwf < 64 && (tok = strsep(&p, ","));)
            if (*tok)
                wf[nwf++] = tok;
        a.withheld_fields = wf;
        a.n_withheld_fields = nwf;
        s.max = q->max ? q->max : EXCHANGE_QUERY_DEFAULT;
        s.month = d->date_field && cpm_xschema_field(d, d->date_field)->type == CPM_XF_MONTH;
        digits(q->tax_code, s.tax, sizeof s.tax);
        if (!(s.out = calloc(s.max, sizeof *s.out)))
            return CPM_E_INTERNAL;
        char last[EXCHANGE_KEY_MAX + 1];
        rc = exchange_records_each(st, txn, d->name, q->after, EXCHANGE_QUERY_SCAN, on_record, &s,
                                   last, sizeof last);
        if (rc == 0 && s.err)
            rc = s.err;
        if (rc == 1) /* stopped full: more may match after the last record given */
            a.next_after = s.next_after, rc = 0;
        else if (rc == 0 && s.read >= EXCHANGE_QUERY_SCAN) { /* the bound: go on after it */
            snprintf(s.next_after, sizeof s.next_after, "%s", last);
            a.next_after = s.next_after;
        }
        a.records = s.out;
        a.n_records = s.n;
        exchange_count(x, "exchange.query_answered");
    }
    if (rc == 0)
        rc = seal_and_log(x, signer, st, txn, fx, req, &a, now_ms, answer, answer_len);
    for (size_t i = 0; i < s.n; i++)
        cpm__data_record__free_unpacked(s.out[i], NULL);
    free(s.out);
    return rc;
}
