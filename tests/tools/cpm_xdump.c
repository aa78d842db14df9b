/* cpm_xdump: print the records of one dataset of an exchange's store as JSON
 * lines (the latest version of each key), or its feed cursors.
 *
 *   cpm_xdump STORE_DIR DATASET     {"dataset","key","version","seq","at_ms",
 *                                    "publisher","removed","fields":{name:value}}
 *   cpm_xdump STORE_DIR --cursors   {"source","seq"} per feed source (DB "xfeed")
 *
 * STORE_DIR is the exchange's data folder ($HOME/data/<node>/exchange). The
 * store is opened read-only (an LMDB reader beside the running service: it
 * sees the last committed state and blocks nothing). For tests and operators;
 * never changes the store. */
#include "exchange.pb-c.h"

#include <jansson.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEP '\x1f'

static int dump_record(const MDB_val *v)
{
    Cpm__DataRecord *r = cpm__data_record__unpack(NULL, v->mv_size, v->mv_data);
    if (!r)
        return -1;
    json_t *fields = json_object();
    for (size_t i = 0; i < r->n_fields; i++)
        json_object_set_new(fields, r->fields[i]->name, json_string(r->fields[i]->value));
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:b, s:o}", "dataset", r->dataset, "key",
                          r->key, "version", (json_int_t)r->version, "seq", (json_int_t)r->seq,
                          "at_ms", (json_int_t)r->at_ms, "publisher", r->publisher, "removed",
                          r->removed, "fields", fields);
    cpm__data_record__free_unpacked(r, NULL);
    if (!o)
        return -1;
    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!line)
        return -1;
    puts(line);
    free(line);
    return 0;
}

static int dump(MDB_txn *txn, const char *db, const char *prefix)
{
    MDB_dbi dbi;
    MDB_cursor *c;
    int rc = mdb_dbi_open(txn, db, 0, &dbi);
    if (rc == MDB_NOTFOUND)
        return 0; /* nothing written yet */
    if (rc == 0)
        rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0) {
        fprintf(stderr, "cpm_xdump: %s: %s\n", db, mdb_strerror(rc));
        return 1;
    }
    size_t plen = prefix ? strlen(prefix) : 0;
    MDB_val k = {plen, (void *)prefix}, v;
    int bad = 0;
    for (rc = mdb_cursor_get(c, &k, &v, prefix ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (prefix) {
            if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
                break;
            bad |= dump_record(&v) != 0;
        } else if (v.mv_size == 40) {
            uint64_t seq = 0;
            for (int i = 0; i < 8; i++)
                seq = seq << 8 | ((const uint8_t *)v.mv_data)[i];
            printf("{\"source\":\"%.*s\",\"seq\":%llu}\n", (int)k.mv_size, (const char *)k.mv_data,
                   (unsigned long long)seq);
        }
    }
    mdb_cursor_close(c);
    if (bad)
        fprintf(stderr, "cpm_xdump: some records could not be read\n");
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: cpm_xdump STORE_DIR DATASET | --cursors\n");
        return 2;
    }
    MDB_env *env;
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(env, 64);
    if (rc == 0)
        rc = mdb_env_open(env, argv[1], MDB_RDONLY | MDB_NOTLS, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        fprintf(stderr, "cpm_xdump: %s: %s\n", argv[1], mdb_strerror(rc));
        mdb_env_close(env);
        return 1;
    }
    char prefix[128];
    int out;
    if (!strcmp(argv[2], "--cursors")) {
        out = dump(txn, "xfeed", NULL);
    } else {
        snprintf(prefix, sizeof prefix, "%s%c", argv[2], SEP);
        out = dump(txn, "records", prefix);
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return out;
}
