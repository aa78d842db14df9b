/* cpm_xlog_tamper: edits an exchange's store directly (the service stopped),
 * the way someone with the disk would, to show that cpmctl exchange
 * verify-log notices (tests/integration/test_exchange_proof.py).
 *
 *   cpm_xlog_tamper DATA_DIR flip SEQ          change one byte of entry SEQ's body
 *   cpm_xlog_tamper DATA_DIR delete SEQ        remove entry SEQ
 *   cpm_xlog_tamper DATA_DIR swap SEQ1 SEQ2    exchange two entries
 *   cpm_xlog_tamper DATA_DIR forge-checkpoint  replace the last checkpoint's signature
 *   cpm_xlog_tamper DATA_DIR head              print the log's head seq
 *
 * Exit 0 done, 1 failure, 2 bad usage. */
#include "cpm_store.h"
#include "cpm_util.h"
#include "exchange.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const DBS[] = {"records",      "records_seq",  "xlog",  "publish_refs",
                                  "xcheckpoints", "xcosigned",    "xfeed", "subs",
                                  "received",     "received_seq", NULL};

static int get(MDB_txn *txn, MDB_dbi dbi, uint64_t seq, MDB_val *v)
{
    uint8_t key[8];
    cpm_put_be64(key, seq);
    MDB_val k = {8, key};
    return mdb_get(txn, dbi, &k, v);
}

static int put(MDB_txn *txn, MDB_dbi dbi, uint64_t seq, const void *data, size_t len)
{
    uint8_t key[8];
    cpm_put_be64(key, seq);
    MDB_val k = {8, key}, v = {len, (void *)data};
    return mdb_put(txn, dbi, &k, &v, 0);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return fprintf(stderr, "usage: cpm_xlog_tamper DATA_DIR flip|delete|swap|"
                               "forge-checkpoint|head [SEQ [SEQ2]]\n"),
               2;
    char err[256] = "";
    cpm_store_t *st = cpm_store_open(argv[1], 0, DBS, err, sizeof err);
    if (!st)
        return fprintf(stderr, "cpm_xlog_tamper: %s\n", err), 1;
    MDB_txn *txn = NULL;
    if (cpm_store_begin(st, true, &txn) != 0)
        return fprintf(stderr, "cpm_xlog_tamper: cannot begin\n"), 1;
    MDB_dbi xlog = cpm_store_dbi(st, "xlog"), xcp = cpm_store_dbi(st, "xcheckpoints");
    const char *op = argv[2];
    uint64_t a = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    uint64_t b = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
    int rc = -1;
    MDB_val v, w;
    if (!strcmp(op, "head")) {
        uint64_t head = 0;
        rc = cpm_store_get_u64(st, txn, "xlog.head", &head);
        printf("%llu\n", (unsigned long long)head);
    } else if (!strcmp(op, "flip") && get(txn, xlog, a, &v) == 0) {
        Cpm__LogRecord *r = cpm__log_record__unpack(NULL, v.mv_size, v.mv_data);
        if (r && r->body.len > 4) {
            r->body.data[r->body.len / 2] ^= 0x20; /* inside the entry */
            size_t len = cpm__log_record__get_packed_size(r);
            uint8_t *buf = malloc(len);
            cpm__log_record__pack(r, buf);
            rc = put(txn, xlog, a, buf, len);
            free(buf);
        }
        if (r)
            cpm__log_record__free_unpacked(r, NULL);
    } else if (!strcmp(op, "delete")) {
        uint8_t key[8];
        cpm_put_be64(key, a);
        MDB_val k = {8, key};
        rc = mdb_del(txn, xlog, &k, NULL);
    } else if (!strcmp(op, "swap") && get(txn, xlog, a, &v) == 0 && get(txn, xlog, b, &w) == 0) {
        uint8_t *va = malloc(v.mv_size), *vb = malloc(w.mv_size);
        size_t la = v.mv_size, lb = w.mv_size;
        memcpy(va, v.mv_data, la);
        memcpy(vb, w.mv_data, lb);
        rc = put(txn, xlog, a, vb, lb) || put(txn, xlog, b, va, la);
        free(va);
        free(vb);
    } else if (!strcmp(op, "forge-checkpoint")) {
        MDB_cursor *cur;
        MDB_val k;
        if (mdb_cursor_open(txn, xcp, &cur) == 0 && mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0) {
            uint64_t seq = cpm_get_be64(k.mv_data);
            Cpm__SignedCheckpoint *sc = cpm__signed_checkpoint__unpack(NULL, v.mv_size, v.mv_data);
            mdb_cursor_close(cur);
            if (sc && sc->checkpoint.len > 64) {
                /* the signature is the frame's last 64 bytes: another one */
                for (size_t i = 0; i < 64; i++)
                    sc->checkpoint.data[sc->checkpoint.len - 64 + i] = (uint8_t)(i * 7 + 1);
                size_t len = cpm__signed_checkpoint__get_packed_size(sc);
                uint8_t *buf = malloc(len);
                cpm__signed_checkpoint__pack(sc, buf);
                rc = put(txn, xcp, seq, buf, len);
                free(buf);
                printf("%llu\n", (unsigned long long)seq);
            }
            if (sc)
                cpm__signed_checkpoint__free_unpacked(sc, NULL);
        }
    } else {
        fprintf(stderr, "cpm_xlog_tamper: unknown operation or no such entry\n");
        cpm_store_abort(&txn);
        cpm_store_destroy(&st);
        return 2;
    }
    if (rc == 0)
        rc = cpm_store_commit(txn);
    else
        cpm_store_abort(&txn);
    cpm_store_destroy(&st);
    if (rc != 0)
        return fprintf(stderr, "cpm_xlog_tamper: %s failed\n", op), 1;
    return 0;
}
