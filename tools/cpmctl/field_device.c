/* field_device: see field_device.h. */
#include "field_device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int field_device_open(field_device_t *d, const char *home, const char *member, const char *dir,
                      cpm_error_t *err)
{
    memset(d, 0, sizeof *d);
    if (dir) {
        snprintf(d->dir, sizeof d->dir, "%s", dir);
    } else {
        char field[1100];
        snprintf(field, sizeof field, "%s/field", home);
        if (mkdir(field, 0700) != 0 && errno != EEXIST)
            return cpm_error_set(err, CPM_E_STORE_IO, "home", "cannot create %s: %s", field,
                                 strerror(errno));
        snprintf(d->dir, sizeof d->dir, "%s/%s", field, member);
    }
    static const char *const dbs[] = {FIELD_DEV_INSPECTIONS, FIELD_DEV_CASES,    FIELD_DEV_RECORDS,
                                      FIELD_DEV_SYNC,        FIELD_DEV_EVIDENCE, NULL};
    char e[256] = "";
    d->st = cpm_store_open(d->dir, 256u << 20, dbs, e, sizeof e);
    if (!d->st)
        return cpm_error_set(err, CPM_E_STORE_IO, "device", "device store %s: %s", d->dir, e);
    char evd[1300];
    snprintf(evd, sizeof evd, "%s/evidence", d->dir);
    d->ev = cpm_evidence_open(evd, 0, err);
    if (!d->ev) {
        cpm_store_destroy(&d->st);
        return err ? err->code : CPM_E_STORE_IO;
    }
    return 0;
}

void field_device_close(field_device_t *d)
{
    cpm_evidence_destroy(&d->ev);
    cpm_store_destroy(&d->st);
}

int field_device_add_record(field_device_t *d, const char *inspection, const char *id,
                            const uint8_t *frame, size_t len, cpm_error_t *err)
{
    char key[300];
    int klen = snprintf(key, sizeof key, "%s\x1f%s", inspection, id);
    MDB_txn *txn;
    int rc = cpm_store_begin(d->st, true, &txn);
    if (rc != 0)
        return cpm_error_set(err, rc, "device", "%s", cpm_err_name(rc));
    const void *old;
    size_t olen;
    rc = cpm_store_get(d->st, txn, FIELD_DEV_RECORDS, key, (size_t)klen, &old, &olen);
    if (rc == 0) {
        cpm_store_abort(&txn);
        return cpm_error_set(err, CPM_E_CONFLICT, "id",
                             "record %s already exists on this device (records are never replaced)",
                             id);
    }
    rc = cpm_store_put(d->st, txn, FIELD_DEV_RECORDS, key, (size_t)klen, frame, len);
    if (rc == 0)
        rc = cpm_store_commit(txn);
    else
        cpm_store_abort(&txn);
    return rc ? cpm_error_set(err, rc, "device", "storing the record: %s", cpm_err_name(rc)) : 0;
}

Cpm__Inspection *field_device_inspection(field_device_t *d, const char *id)
{
    MDB_txn *txn;
    if (cpm_store_begin(d->st, false, &txn) != 0)
        return NULL;
    ProtobufCMessage *m = NULL;
    if (cpm_store_get_msg(d->st, txn, FIELD_DEV_INSPECTIONS, id, &cpm__inspection__descriptor,
                          &m) != 0)
        m = NULL;
    cpm_store_abort(&txn);
    return (Cpm__Inspection *)m;
}

int field_device_each_record(field_device_t *d, field_device_record_fn fn, void *ctx)
{
    MDB_txn *txn;
    int rc = cpm_store_begin(d->st, false, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, cpm_store_dbi(d->st, FIELD_DEV_RECORDS), &cur);
    if (rc != 0) {
        cpm_store_abort(&txn);
        return cpm_store_err(rc);
    }
    MDB_val k, v;
    for (int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST); r == 0 && rc == 0;
         r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char key[300];
        size_t n = k.mv_size < sizeof key - 1 ? k.mv_size : sizeof key - 1;
        memcpy(key, k.mv_data, n);
        key[n] = 0;
        const void *sv;
        size_t sl;
        int verdict = 0;
        if (cpm_store_get(d->st, txn, FIELD_DEV_SYNC, key, n, &sv, &sl) == 0 && sl == 1)
            verdict = *(const uint8_t *)sv;
        rc = fn(ctx, key, v.mv_data, v.mv_size, verdict);
    }
    mdb_cursor_close(cur);
    cpm_store_abort(&txn);
    return rc;
}
