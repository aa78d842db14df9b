/* Fuzz target: an EventsFetch as every service answers it (decode, the
 * bounds of cpm_server_handle_events_fetch, cpm_eventlog_read in a read
 * transaction, the EventBatch reply serialized) on routing's store, whose log
 * holds the events of routing case FZ_TICKET. */
#include "fuzz_env.h"

#include "cpm_eventlog.h"
#include "cpm_server_int.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cpm_store_t *st = fz_routing_store();
    Cpm__EventsFetch *q = cpm__events_fetch__unpack(NULL, size, data);
    if (!q)
        return 0;
    size_t max = q->max && q->max < EVENTS_FETCH_MAX ? q->max : EVENTS_FETCH_MAX;
    uint64_t from = q->from_seq ? q->from_seq : 1;
    cpm__events_fetch__free_unpacked(q, NULL);
    MDB_txn *txn = NULL;
    if (cpm_store_begin(st, false, &txn) != 0)
        return 0;
    Cpm__EventBatch eb = CPM__EVENT_BATCH__INIT;
    Cpm__Event **evs = NULL;
    size_t n = 0;
    if (cpm_eventlog_head(st, txn, &eb.head_seq, NULL) == 0 &&
        cpm_eventlog_read(st, txn, from, max, &evs, &n) == 0) {
        eb.node = FZ_CITY;
        eb.service = "routing";
        eb.events = evs;
        eb.n_events = n;
        size_t len = cpm__event_batch__get_packed_size(&eb);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf)
            cpm__event_batch__pack(&eb, buf);
        free(buf);
        cpm_eventlog_free(&evs, n);
    }
    cpm_store_abort(&txn);
    return 0;
}
