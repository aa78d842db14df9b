/* cpm_outbox_put: appends one record of --size bytes to a stream of a stopped
 * service's outbox, so that a test can create what intake itself never
 * would: a record too large for any frame (test_wire_limits.py); or sets
 * the outbox's format mark, as a newer build would leave it.
 *
 *   cpm_outbox_put --data-dir DIR --stream STREAM --size BYTES
 *   cpm_outbox_put --data-dir DIR --format N
 *
 * Prints the record's number (or the mark). Exit 0, 1 on failure, 2 on bad
 * usage. */
#include "cpm_outbox.h"
#include "cpm_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *dir = NULL, *stream = NULL;
    size_t size = 0;
    const char *format = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data-dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--stream"))
            stream = argv[i + 1];
        else if (!strcmp(argv[i], "--size"))
            size = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--format"))
            format = argv[i + 1];
    }
    if (!dir || (format ? argc != 5 : !stream || !size || argc != 7)) {
        fprintf(stderr, "usage: cpm_outbox_put --data-dir DIR --stream STREAM --size BYTES\n"
                        "       cpm_outbox_put --data-dir DIR --format N\n");
        return 2;
    }
    char *end = NULL;
    uint64_t mark = format ? strtoull(format, &end, 10) : 0;
    if (format && (!*format || *end)) {
        fprintf(stderr, "cpm_outbox_put: --format %s is not a number\n", format);
        return 2;
    }
    char err[256];
    cpm_store_t *st = cpm_store_open(dir, 0, NULL, err, sizeof err);
    if (!st) {
        fprintf(stderr, "cpm_outbox_put: %s: %s\n", dir, err);
        return 1;
    }
    MDB_txn *txn = NULL;
    if (format) {
        int frc = cpm_store_begin(st, true, &txn);
        if (frc == 0) {
            frc = cpm_store_put_u64(st, txn, "outbox.format", mark);
            frc = frc == 0 ? cpm_store_commit(txn) : (cpm_store_abort(&txn), frc);
        }
        cpm_store_destroy(&st);
        if (frc != 0) {
            fprintf(stderr, "cpm_outbox_put: cannot set outbox.format: %d\n", frc);
            return 1;
        }
        printf("%llu\n", (unsigned long long)mark);
        return 0;
    }
    uint8_t *rec = malloc(size);
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
