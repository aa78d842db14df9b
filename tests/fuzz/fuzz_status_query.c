/* Fuzz target: a StatusQuery as routing answers it (decode, routing_status in
 * a read transaction, the reply serialized) on a store holding FZ_TICKET. */
#include "fuzz_env.h"

#include "routing_domain.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cpm_store_t *st = fz_routing_store();
    Cpm__StatusQuery *q = cpm__status_query__unpack(NULL, size, data);
    if (!q)
        return 0;
    MDB_txn *txn = NULL;
    if (cpm_store_begin(st, false, &txn) == 0) {
        int rc = 0;
        Cpm__StatusReply *r = routing_status(st, txn, q->ticket, &rc);
        if (r) {
            size_t len = cpm__status_reply__get_packed_size(r);
            uint8_t *buf = malloc(len ? len : 1);
            if (buf)
                cpm__status_reply__pack(r, buf);
            free(buf);
        }
        cpm__status_reply__free_unpacked(r, NULL);
        cpm_store_abort(&txn);
    }
    cpm__status_query__free_unpacked(q, NULL);
    return 0;
}
