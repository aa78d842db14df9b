/* exchange_received: deliveries taken at the subscriber. See
 * exchange_received.h. */
#include "exchange_received.h"

#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "exchange_log.h"
#include "exchange_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RKEY_MAX (128 + CPM_XSCHEMA_NAME_MAX + EXCHANGE_KEY_MAX + 3)

static int rec_key(char *out, size_t cap, const char *pub, const char *dataset, const char *key)
{
    int n = snprintf(out, cap, "%s\x1f%s\x1f%s", pub, dataset, key);
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* "<publisher>\x1f<dataset>\x1f" + seq (u64 BE) into out; its length. */
static size_t seq_key(uint8_t *out, size_t cap, const char *pub, const char *dataset, uint64_t seq)
{
    int n = snprintf((char *)out, cap, "%s\x1f%s\x1f", pub, dataset);
    if (n < 0 || (size_t)n + 8 > cap)
        return 0;
    for (int i = 0; i < 8; i++)
        out[n + i] = (uint8_t)(seq >> (56 - 8 * i));
    return (size_t)n + 8;
}

/* Is r well formed for dataset d? Fields as the schema says. */
static int check_record(const Cpm__DataRecord *r, const cpm_xdataset_t *d, cpm_error_t *err)
{
    if (!r->key || !r->key[0] || strlen(r->key) > EXCHANGE_KEY_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "record.key", "a record key is 1..%d bytes",
                             EXCHANGE_KEY_MAX);
    if (r->version == 0)
        return cpm_error_set(err, CPM_E_INVALID, "record.version", "versions start at 1");
    if (r->n_fields > EXCHANGE_RECORD_FIELDS_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "record.fields", "at most %d fields",
                             EXCHANGE_RECORD_FIELDS_MAX);
    for (size_t i = 0; i < r->n_fields; i++) {
        const cpm_xfield_t *f = cpm_xschema_field(d, r->fields[i]->name);
        if (!f)
            return cpm_error_set(err, CPM_E_INVALID, "record.fields",
                                 "dataset %s has no field %.40s", d->name, r->fields[i]->name);
        if (r->fields[i]->value[0] && cpm_xschema_check(d, f, r->fields[i]->value, err) != 0)
            return CPM_E_INVALID;
    }
    return 0;
}

int exchange_received_apply(const exchange_t *x, cpm_store_t *st, MDB_txn *txn,
                            const cpm_effects_t *fx, const Cpm__Member *pm,
                            const Cpm__ExchangeDelivery *dl, int64_t now_ms, bool *stale,
                            cpm_error_t *err)
{
    if (stale)
        *stale = false;
    if (!pm || !cpm_member_service(pm, "exchange")) {
        exchange_count(x, "exchange.received_refused");
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "%.60s runs no exchange: deliveries come from exchanges",
                             pm ? pm->id : "?");
    }
    const Cpm__DataRecord *r = dl->record;
    const cpm_xdataset_t *d = r ? cpm_xschema_find(r->dataset) : NULL;
    int rc = 0;
    if (!r)
        rc = cpm_error_set(err, CPM_E_INVALID, "record", "a delivery carries a record");
    else if (!d)
        rc =
            cpm_error_set(err, CPM_E_INVALID, "record.dataset", "no dataset \"%.40s\"", r->dataset);
    else if (strcmp(r->publisher, pm->id) != 0)
        rc = cpm_error_set(err, CPM_E_FORBIDDEN, "record.publisher",
                           "%.60s delivered a record of %.60s: an exchange delivers its own",
                           pm->id, r->publisher);
    else
        rc = check_record(r, d, err);
    if (rc != 0) {
        exchange_count(x, "exchange.received_refused");
        cpm_warn("delivery from %s refused: %s", pm->id, err->message);
        return rc;
    }
    char key[RKEY_MAX];
    if (rec_key(key, sizeof key, pm->id, d->name, r->key) < 0)
        return cpm_error_set(err, CPM_E_INVALID, "record.key", "key too long");
    Cpm__DataRecord *old = NULL;
    rc = cpm_store_get_msg(st, txn, EXCHANGE_RECEIVED_DB, key, &cpm__data_record__descriptor,
                           (ProtobufCMessage **)&old);
    if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return rc;
    uint8_t sk[RKEY_MAX + 8];
    size_t sklen;
    if (old) {
        bool older = old->version >= r->version;
        uint64_t old_seq = old->seq;
        cpm__data_record__free_unpacked(old, NULL);
        if (older) {
            exchange_count(x, "exchange.received_stale");
            if (stale)
                *stale = true;
            return 0;
        }
        if ((sklen = seq_key(sk, sizeof sk, pm->id, d->name, old_seq)) == 0)
            return CPM_E_INVALID;
        rc = cpm_store_del(st, txn, EXCHANGE_RECEIVED_SEQ_DB, sk, sklen);
        if (rc != 0 && rc != CPM_E_NOT_FOUND)
            return rc;
    } else {
        char mk[200];
        uint64_t n = 0;
        snprintf(mk, sizeof mk, "xrcount:%s:%s", pm->id, d->name);
        if ((rc = cpm_store_get_u64(st, txn, mk, &n)) != 0)
            return rc;
        if (n >= x->max_records) {
            exchange_count(x, "exchange.received_full");
            cpm_warn("received %s from %s: %llu records, the most kept (exchange_max_records); "
                     "record %s refused",
                     d->name, pm->id, (unsigned long long)n, r->key);
            return cpm_error_set(err, CPM_E_CONFLICT, "record",
                                 "this exchange keeps at most %u records of %s from %s",
                                 x->max_records, d->name, pm->id);
        }
        if ((rc = cpm_store_put_u64(st, txn, mk, n + 1)) != 0)
            return rc;
    }
    if ((rc = cpm_store_put_msg(st, txn, EXCHANGE_RECEIVED_DB, key, &r->base)) != 0)
        return rc;
    if ((sklen = seq_key(sk, sizeof sk, pm->id, d->name, r->seq)) == 0)
        return CPM_E_INVALID;
    if ((rc = cpm_store_put(st, txn, EXCHANGE_RECEIVED_SEQ_DB, sk, sklen, r->key,
                            strlen(r->key))) != 0)
        return rc;
    size_t len = cpm__exchange_delivery__get_packed_size(dl);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return CPM_E_INTERNAL;
    cpm__exchange_delivery__pack(dl, buf);
    exchange_log_entry_t le = {"received", pm->id, d->name, NULL, 0, buf, len};
    rc = exchange_log_append(st, txn, now_ms, &le, NULL);
    free(buf);
    if (rc != 0)
        return rc;
    exchange_count(x, "exchange.received");
    char note[300];
    snprintf(note, sizeof note, "%s %s %s version %llu%s", pm->id, d->name, r->key,
             (unsigned long long)r->version, r->removed ? " (withdrawn)" : "");
    cpm_event_t ev = {
        .kind = "exchange.received", .agency = x->node, .actor = pm->id, .note = note};
    return fx && fx->event ? fx->event(fx->ctx, txn, &ev) : 0;
}

/* ---- the listing --------------------------------------------------------- */

/* "<publisher> <dataset> <key>" -> the store key. */
static int after_key(const char *after, char *out, size_t cap)
{
    const char *s1 = strchr(after, ' ');
    const char *s2 = s1 ? strchr(s1 + 1, ' ') : NULL;
    if (!s2)
        return -1;
    int n = snprintf(out, cap, "%.*s\x1f%.*s\x1f%s", (int)(s1 - after), after, (int)(s2 - s1 - 1),
                     s1 + 1, s2 + 1);
    return n > 0 && (size_t)n < cap ? n : -1;
}

void exchange_received_free(Cpm__ExchangeReceivedReply **r)
{
    if (!*r)
        return;
    for (size_t i = 0; i < (*r)->n_records; i++)
        cpm__data_record__free_unpacked((*r)->records[i], NULL);
    free((*r)->records);
    if ((*r)->next_after != protobuf_c_empty_string)
        free((*r)->next_after);
    free(*r);
    *r = NULL;
}

/* Is d still on this page (not the one past its end)? */
static bool want_more(const Cpm__ExchangeReceivedReply *r, size_t max, const Cpm__DataRecord *d,
                      const Cpm__ExchangeReceivedQuery *q)
{
    bool want = !d->removed && (!q->dataset || !q->dataset[0] || !strcmp(d->dataset, q->dataset));
    return !want || r->n_records < max;
}

int exchange_received_query(const exchange_t *x, cpm_store_t *st, MDB_txn *txn,
                            const exchange_sender_t *who, const Cpm__ExchangeReceivedQuery *q,
                            Cpm__ExchangeReceivedReply **out, cpm_error_t *err)
{
    *out = NULL;
    if (!who->agency || strcmp(who->agency, x->node) != 0) {
        exchange_count(x, "exchange.received_query_refused");
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "%s is not of %s: what an agency received is for its own people",
                             who->id, x->node);
    }
    if (q->max > EXCHANGE_RECEIVED_PAGE_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "max", "max is 1..%d", EXCHANGE_RECEIVED_PAGE_MAX);
    size_t max = q->max ? q->max : 100;
    char start[RKEY_MAX], prefix[RKEY_MAX];
    int plen = 0, slen;
    if (q->publisher && q->publisher[0])
        plen = snprintf(prefix, sizeof prefix, "%s\x1f%s%s", q->publisher,
                        q->dataset && q->dataset[0] ? q->dataset : "",
                        q->dataset && q->dataset[0] ? "\x1f" : "");
    if (plen < 0 || (size_t)plen >= sizeof prefix)
        return cpm_error_set(err, CPM_E_INVALID, "publisher", "publisher too long");
    if (q->after && q->after[0]) {
        if ((slen = after_key(q->after, start, sizeof start)) < 0)
            return cpm_error_set(err, CPM_E_INVALID, "after",
                                 "after is the next_after of the previous page");
    } else {
        memcpy(start, prefix, (size_t)plen);
        slen = plen;
    }
    Cpm__ExchangeReceivedReply *r = calloc(1, sizeof *r);
    if (!r)
        return CPM_E_INTERNAL;
    cpm__exchange_received_reply__init(r);
    if (!(r->records = calloc(max, sizeof *r->records))) {
        free(r);
        return CPM_E_INTERNAL;
    }
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, EXCHANGE_RECEIVED_DB), &cur);
    if (rc != 0) {
        exchange_received_free(&r);
        return cpm_store_err(rc);
    }
    MDB_val mk = {(size_t)slen, start}, mv;
    int mrc = mdb_cursor_get(cur, &mk, &mv, slen ? MDB_SET_RANGE : MDB_FIRST);
    if (mrc == 0 && q->after && q->after[0] && mk.mv_size == (size_t)slen &&
        memcmp(mk.mv_data, start, (size_t)slen) == 0)
        mrc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT);
    size_t scanned = 0;
    bool more = false;
    char last[RKEY_MAX] = ""; /* the last record looked at, as "<publisher> <dataset> <key>" */
    for (; mrc == 0; scanned++, mrc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT)) {
        if (mk.mv_size < (size_t)plen || memcmp(mk.mv_data, prefix, (size_t)plen) != 0)
            break;
        if (scanned == 20000) { /* bounded work per page: the next page goes on */
            more = true;
            break;
        }
        Cpm__DataRecord *d =
            cpm__data_record__unpack(cpm_pb_budget(mv.mv_size), mv.mv_size, mv.mv_data);
        if (!d)
            continue;
        if (want_more(r, max, d, q))
            snprintf(last, sizeof last, "%s %s %s", d->publisher, d->dataset, d->key);
        bool want =
            !d->removed && (!q->dataset || !q->dataset[0] || strcmp(d->dataset, q->dataset) == 0);
        if (want && r->n_records == max) {
            cpm__data_record__free_unpacked(d, NULL);
            more = true; /* one more exists: the page ends at the previous one */
            break;
        }
        if (want)
            r->records[r->n_records++] = d;
        else
            cpm__data_record__free_unpacked(d, NULL);
    }
    mdb_cursor_close(cur);
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        exchange_received_free(&r);
        return cpm_store_err(mrc);
    }
    if (more && last[0] && !(r->next_after = strdup(last))) {
        r->next_after = (char *)protobuf_c_empty_string;
        exchange_received_free(&r);
        return CPM_E_INTERNAL;
    }
    *out = r;
    return 0;
}
