/* exchange_records: the published datasets. See exchange_records.h. */
#include "exchange_records.h"

#include "cpm_log.h"
#include "cpm_pbcheck.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEP '\x1f'

const char *exchange_record_value(const Cpm__DataRecord *r, const char *name)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (r->fields[i]->name && strcmp(r->fields[i]->name, name) == 0)
            return r->fields[i]->value ? r->fields[i]->value : "";
    return "";
}

static int rec_key(char *out, size_t cap, const char *dataset, const char *key)
{
    int n = snprintf(out, cap, "%s%c%s", dataset, SEP, key ? key : "");
    return n > 0 && (size_t)n < cap ? n : -1;
}

static size_t seq_key(uint8_t *out, const char *dataset, uint64_t seq)
{
    size_t n = strlen(dataset);
    memcpy(out, dataset, n);
    out[n] = SEP;
    cpm_put_be64(out + n + 1, seq);
    return n + 9;
}

static int meta_u64(cpm_store_t *st, MDB_txn *txn, const char *what, const char *dataset,
                    uint64_t *v, bool put)
{
    char k[64];
    snprintf(k, sizeof k, "%s.%s", what, dataset);
    return put ? cpm_store_put_u64(st, txn, k, *v) : cpm_store_get_u64(st, txn, k, v);
}

int exchange_records_head(cpm_store_t *st, MDB_txn *txn, const char *dataset, uint64_t *seq)
{
    return meta_u64(st, txn, "xseq", dataset, seq, false);
}

int exchange_records_get(cpm_store_t *st, MDB_txn *txn, const char *dataset, const char *key,
                         Cpm__DataRecord **out)
{
    char k[CPM_XSCHEMA_NAME_MAX + EXCHANGE_KEY_MAX + 2];
    *out = NULL;
    if (rec_key(k, sizeof k, dataset, key) < 0)
        return CPM_E_NOT_FOUND;
    return cpm_store_get_msg(st, txn, EXCHANGE_RECORDS_DB, k, &cpm__data_record__descriptor,
                             (ProtobufCMessage **)out);
}

/* The fields of r in schema order, checked; the same fields as old? */
static int check_fields(const cpm_xdataset_t *d, const Cpm__DataRecord *r, cpm_error_t *err)
{
    if (r->n_fields > EXCHANGE_RECORD_FIELDS_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "fields", "a record has at most %d fields",
                             EXCHANGE_RECORD_FIELDS_MAX);
    for (size_t i = 0; i < r->n_fields; i++) {
        const Cpm__DataField *f = r->fields[i];
        const cpm_xfield_t *sf = cpm_xschema_field(d, f->name);
        if (!sf)
            return cpm_error_set(err, CPM_E_INVALID, "fields", "dataset %s has no field \"%.40s\"",
                                 d->name, f->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->fields[j]->name, f->name) == 0)
                return cpm_error_set(err, CPM_E_INVALID, f->name, "field %s is given twice",
                                     f->name);
        int rc = cpm_xschema_check(d, sf, f->value ? f->value : "", err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static bool same_fields(const Cpm__DataRecord *a, const Cpm__DataRecord *b)
{
    if (a->n_fields != b->n_fields || a->removed != b->removed)
        return false;
    for (size_t i = 0; i < a->n_fields; i++)
        if (strcmp(exchange_record_value(b, a->fields[i]->name), a->fields[i]->value) != 0)
            return false;
    return true;
}

int exchange_records_put(cpm_store_t *st, MDB_txn *txn, const char *publisher, uint32_t max_records,
                         Cpm__DataRecord *r, bool *unchanged, cpm_error_t *err)
{
    if (unchanged)
        *unchanged = false;
    const cpm_xdataset_t *d = cpm_xschema_find(r->dataset);
    if (!d)
        return cpm_error_set(err, CPM_E_INVALID, "dataset", "no dataset \"%.40s\"", r->dataset);
    if (!r->key || !r->key[0] || strlen(r->key) > EXCHANGE_KEY_MAX || strchr(r->key, SEP))
        return cpm_error_set(err, CPM_E_INVALID, "key", "a record key is 1 to %d bytes",
                             EXCHANGE_KEY_MAX);
    int rc = check_fields(d, r, err);
    if (rc != 0)
        return rc;
    char k[CPM_XSCHEMA_NAME_MAX + EXCHANGE_KEY_MAX + 2];
    if (rec_key(k, sizeof k, d->name, r->key) < 0)
        return cpm_error_set(err, CPM_E_INVALID, "key", "record key too long");
    Cpm__DataRecord *old = NULL;
    rc = cpm_store_get_msg(st, txn, EXCHANGE_RECORDS_DB, k, &cpm__data_record__descriptor,
                           (ProtobufCMessage **)&old);
    if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return cpm_error_set(err, rc, "", "cannot read record %s/%s", d->name, r->key);
    uint64_t head = 0, count = 0;
    uint8_t sk[CPM_XSCHEMA_NAME_MAX + 10];
    if (old && same_fields(r, old)) {
        if (unchanged)
            *unchanged = true;
        r->version = old->version;
        r->seq = old->seq;
        cpm__data_record__free_unpacked(old, NULL);
        r->publisher = (char *)publisher;
        r->schema_version = d->version;
        return 0;
    }
    if ((rc = exchange_records_head(st, txn, d->name, &head)) != 0 ||
        (rc = meta_u64(st, txn, "xcount", d->name, &count, false)) != 0)
        goto out;
    if (!old && count >= max_records) {
        rc = cpm_error_set(err, CPM_E_STORE_FULL, "dataset",
                           "dataset %s holds its maximum of %u records", d->name, max_records);
        goto out;
    }
    r->version = old ? old->version + 1 : 1;
    r->seq = head + 1;
    r->publisher = (char *)publisher;
    r->schema_version = d->version;
    if (old &&
        (rc = cpm_store_del(st, txn, EXCHANGE_RECORDS_SEQ_DB, sk,
                            seq_key(sk, d->name, old->seq))) != 0 &&
        rc != CPM_E_NOT_FOUND)
        goto out;
    count += old ? 0 : 1;
    head += 1;
    if ((rc = cpm_store_put_msg(st, txn, EXCHANGE_RECORDS_DB, k, &r->base)) != 0 ||
        (rc = cpm_store_put(st, txn, EXCHANGE_RECORDS_SEQ_DB, sk, seq_key(sk, d->name, r->seq),
                            r->key, strlen(r->key))) != 0 ||
        (rc = meta_u64(st, txn, "xseq", d->name, &head, true)) != 0 ||
        (rc = meta_u64(st, txn, "xcount", d->name, &count, true)) != 0)
        goto out;
    rc = 0;
out:
    if (old)
        cpm__data_record__free_unpacked(old, NULL);
    if (rc != 0 && err && err->code == 0)
        cpm_error_set(err, rc, "", "cannot store record %s/%s", d->name, r->key);
    return rc;
}

int exchange_records_each(cpm_store_t *st, MDB_txn *txn, const char *dataset, const char *after,
                          size_t scan, exchange_record_fn fn, void *arg, char *last_key, size_t cap)
{
    char k[CPM_XSCHEMA_NAME_MAX + EXCHANGE_KEY_MAX + 2];
    int plen = rec_key(k, sizeof k, dataset, "");
    int klen = rec_key(k, sizeof k, dataset, after);
    if (plen < 0 || klen < 0)
        return CPM_E_INVALID;
    if (last_key && cap)
        last_key[0] = 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, EXCHANGE_RECORDS_DB), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    MDB_val mk = {(size_t)klen, k}, mv;
    rc = mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE);
    /* "after" itself is not wanted: step past an exact hit. */
    if (rc == 0 && after && after[0] && mk.mv_size == (size_t)klen &&
        memcmp(mk.mv_data, k, klen) == 0)
        rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT);
    int out = 0;
    for (size_t n = 0; rc == 0 && n < scan; n++) {
        if (mk.mv_size < (size_t)plen || memcmp(mk.mv_data, k, (size_t)plen) != 0)
            break;
        Cpm__DataRecord *r =
            cpm__data_record__unpack(cpm_pb_budget(mv.mv_size), mv.mv_size, mv.mv_data);
        if (!r) {
            cpm_warn("exchange: record under %.*s does not decode; skipped", (int)mk.mv_size,
                     (const char *)mk.mv_data);
        } else {
            if (last_key && cap)
                snprintf(last_key, cap, "%s", r->key);
            out = fn(arg, r);
            cpm__data_record__free_unpacked(r, NULL);
            if (out != 0)
                break;
        }
        rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (out != 0)
        return out;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : cpm_store_err(rc);
}

int exchange_records_since(cpm_store_t *st, MDB_txn *txn, const char *dataset, uint64_t after_seq,
                           size_t max, exchange_record_fn fn, void *arg, uint64_t *last_seq)
{
    uint8_t sk[CPM_XSCHEMA_NAME_MAX + 10];
    if (strlen(dataset) > CPM_XSCHEMA_NAME_MAX)
        return CPM_E_INVALID;
    size_t plen = strlen(dataset) + 1;
    size_t klen = seq_key(sk, dataset, after_seq + 1);
    *last_seq = after_seq;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, EXCHANGE_RECORDS_SEQ_DB), &cur);
    if (rc != 0)
        return cpm_store_err(rc);
    MDB_val mk = {klen, sk}, mv;
    rc = mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE);
    int out = 0;
    for (size_t n = 0; rc == 0 && n < max; n++) {
        if (mk.mv_size != klen || memcmp(mk.mv_data, sk, plen) != 0)
            break;
        uint64_t seq = cpm_get_be64((const uint8_t *)mk.mv_data + plen);
        char key[EXCHANGE_KEY_MAX + 1];
        if (mv.mv_size > EXCHANGE_KEY_MAX) {
            rc = MDB_NOTFOUND;
            break;
        }
        memcpy(key, mv.mv_data, mv.mv_size);
        key[mv.mv_size] = 0;
        Cpm__DataRecord *r = NULL;
        int g = exchange_records_get(st, txn, dataset, key, &r);
        if (g != 0 && g != CPM_E_NOT_FOUND) {
            out = g;
            break;
        }
        *last_seq = seq;
        if (r) {
            out = r->seq == seq ? fn(arg, r) : 0;
            cpm__data_record__free_unpacked(r, NULL);
            if (out != 0)
                break;
        }
        rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (out != 0)
        return out;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : cpm_store_err(rc);
}
