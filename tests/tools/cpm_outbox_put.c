/* cpm_outbox_put: appends one record of --size bytes to a stream of a stopped
 * service's outbox, so that a test can create what intake itself never
 * would: a record too large for any frame (test_wire_limits.py).
 *
 *   cpm_outbox_put --data-dir DIR --stream STREAM --size BYTES
 *
 * Prints the record's number. Exit 0, 1 on failure, 2 on bad usage. */
#include "cpm_outbox.h"
#include "cpm_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *dir = NULL, *stream = NULL;
    size_t size = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data-dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--stream"))
            stream = argv[i + 1];
        else if (!strcmp(argv[i], "--size"))
            size = strtoull(argv[i + 1], NULL, 10);
    }
    if (!dir || !stream || !size || argc != 7) {
        fprintf(stderr, "usage: cpm_outbox_put --data-dir DIR --stream STREAM --size BYTES\n");
        return 2;
    }
    char err[256];
    cpm_store_t *st = cpm_store_open(dir, 0, NULL, err, sizeof err);
    if (!st) {
        fprintf(stderr, "cpm_outbox_put: %s: %s\n", dir, err);
        return 1;
    }
    uint8_t *rec = malloc(size);
    MDB_txn *txn = NULL;
    uint64_t seq = 0;
    int rc = rec ? cpm_store_begin(st, true, &txn) : -1;
    if (rc == 0) {
        memset(rec, 'R', size);
        rc = cpm_outbox_put(st, txn, stream, rec, size, &seq);
        rc = rc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), rc);
    }
    free(rec);
    cpm_store_destroy(&st);
    if (rc != 0) {
        fprintf(stderr, "cpm_outbox_put: cannot append to %s: %d\n", stream, rc);
        return 1;
    }
    printf("%llu\n", (unsigned long long)seq);
    return 0;
}
