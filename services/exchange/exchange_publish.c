/* exchange_publish: records entered by hand. See exchange_publish.h. */
#include "exchange_publish.h"

#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "exchange_log.h"
#include "exchange_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void exchange_count(const exchange_t *x, const char *counter)
{
    if (x && x->count)
        x->count(x->ctx, counter);
}

static bool may_publish(const exchange_t *x, const exchange_sender_t *who)
{
    return who->agency && strcmp(who->agency, x->node) == 0 && who->role &&
           (strcmp(who->role, "officer") == 0 || strcmp(who->role, "coordinator") == 0);
}

/* The next key of dataset: "W17" (watchlist), "P3" (product_warnings). */
static int next_key(cpm_store_t *st, MDB_txn *txn, const char *dataset, char *out, size_t cap)
{
    char mk[64];
    uint64_t n = 0;
    snprintf(mk, sizeof mk, "xkey.%s", dataset);
    int rc = cpm_store_get_u64(st, txn, mk, &n);
    if (rc != 0 || (rc = cpm_store_put_u64(st, txn, mk, n + 1)) != 0)
        return rc;
    snprintf(out, cap, "%c%llu", dataset[0] == 'w' ? 'W' : 'P', (unsigned long long)(n + 1));
    return 0;
}

static int ref_key(char *out, size_t cap, const char *sender, const char *ref)
{
    int n = snprintf(out, cap, "%s\x1f%s", sender, ref);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int exchange_publish(const exchange_t *x, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                     const exchange_sender_t *who, const Cpm__ExchangePublish *p, int64_t now_ms,
                     Cpm__ExchangePublishReply *out, cpm_error_t *err)
{
    static char key_buf[EXCHANGE_KEY_MAX + 1];
    if (!may_publish(x, who)) {
        exchange_count(x, "exchange.publish_forbidden");
        return cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                             "%s is not an officer or coordinator of %s and cannot publish its "
                             "records",
                             who->id, x->node);
    }
    const cpm_xdataset_t *d = cpm_xschema_find(p->dataset);
    if (!d)
        return cpm_error_set(err, CPM_E_INVALID, "dataset", "no dataset \"%.40s\"", p->dataset);
    if (!d->by_hand)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "dataset",
                             "dataset %s is made from this agency's events, not by hand", d->name);
    char rk[256 + 130];
    bool has_ref = p->client_ref && p->client_ref[0];
    if (has_ref && (strlen(p->client_ref) > 128 || ref_key(rk, sizeof rk, who->id, p->client_ref)))
        return cpm_error_set(err, CPM_E_INVALID, "client_ref", "client_ref is at most 128 bytes");
    if (has_ref) {
        Cpm__ExchangePublishReply *prev = NULL;
        int g =
            cpm_store_get_msg(st, txn, EXCHANGE_PUBLISH_REFS_DB, rk,
                              &cpm__exchange_publish_reply__descriptor, (ProtobufCMessage **)&prev);
        if (g == 0) {
            snprintf(key_buf, sizeof key_buf, "%s", prev->key);
            out->key = key_buf;
            out->version = prev->version;
            out->seq = prev->seq;
            out->duplicate = true;
            cpm__exchange_publish_reply__free_unpacked(prev, NULL);
            return 0;
        }
        if (g != CPM_E_NOT_FOUND)
            return g;
    }
    Cpm__DataRecord r = CPM__DATA_RECORD__INIT;
    Cpm__DataRecord *old = NULL;
    r.dataset = (char *)d->name;
    r.at_ms = now_ms;
    int rc;
    if (p->key && p->key[0]) {
        rc = exchange_records_get(st, txn, d->name, p->key, &old);
        if (rc == CPM_E_NOT_FOUND)
            return cpm_error_set(err, CPM_E_NOT_FOUND, "key", "dataset %s has no record %.40s",
                                 d->name, p->key);
        if (rc != 0)
            return rc;
        snprintf(key_buf, sizeof key_buf, "%s", p->key);
    } else if (p->remove) {
        return cpm_error_set(err, CPM_E_INVALID, "key", "remove needs the record's key");
    } else if ((rc = next_key(st, txn, d->name, key_buf, sizeof key_buf)) != 0) {
        return rc;
    }
    r.key = key_buf;
    if (p->remove) {
        r.fields = old->fields;
        r.n_fields = old->n_fields;
        r.removed = true;
    } else {
        if (p->n_fields == 0)
            rc = cpm_error_set(err, CPM_E_INVALID, "fields", "a record needs at least one field");
        r.fields = p->fields;
        r.n_fields = p->n_fields;
    }
    bool unchanged = false;
    if (rc == 0)
        rc = exchange_records_put(st, txn, x->node, x->max_records, &r, &unchanged, err);
    char area[72];
    snprintf(area, sizeof area, "%s", rc == 0 ? exchange_record_value(&r, "area") : "");
    if (old)
        cpm__data_record__free_unpacked(old, NULL);
    if (rc != 0)
        return rc;
    out->key = key_buf;
    out->version = r.version;
    out->seq = r.seq;
    out->duplicate = unchanged;
    if (unchanged)
        return 0;
    uint8_t reply[256 + EXCHANGE_KEY_MAX];
    size_t rlen = cpm__exchange_publish_reply__get_packed_size(out);
    if (rlen > sizeof reply)
        return CPM_E_INTERNAL;
    cpm__exchange_publish_reply__pack(out, reply);
    exchange_log_entry_t le = {"publish",      who->id, d->name, who->frame,
                               who->frame_len, reply,   rlen};
    if ((rc = exchange_log_append(st, txn, now_ms, &le, NULL)) != 0)
        return rc;
    if (has_ref && (rc = cpm_store_put_msg(st, txn, EXCHANGE_PUBLISH_REFS_DB, rk, &out->base)) != 0)
        return rc;
    char note[160];
    snprintf(note, sizeof note, "%s %s version %llu%s", d->name, key_buf,
             (unsigned long long)r.version, r.removed ? " (withdrawn)" : "");
    cpm_event_t ev = {.kind = "exchange.published",
                      .agency = x->node,
                      .actor = who->id,
                      .area = area,
                      .note = note};
    return fx->event ? fx->event(fx->ctx, txn, &ev) : 0;
}
