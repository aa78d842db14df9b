/* Fuzz target: an EventBatch as a watcher (cpmctl watch, events) receives it
 * from a service: decode, then the hash chain check, both from the batch's
 * own first prev_hash and from an all-zero start. */
#include "fuzz_env.h"

#include "cpm_eventlog.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Cpm__EventBatch *b = cpm__event_batch__unpack(NULL, size, data);
    if (!b)
        return 0;
    static const uint8_t zero[32];
    /* The contract: 0 or -1, whatever the input. */
    int a = cpm_eventlog_verify_chain(b->events, b->n_events, NULL);
    int z = cpm_eventlog_verify_chain(b->events, b->n_events, zero);
    if ((a != 0 && a != -1) || (z != 0 && z != -1))
        abort();
    for (size_t i = 0; i < b->n_events; i++) {
        uint8_t h[32];
        cpm_event_hash(b->events[i], zero, h);
    }
    cpm__event_batch__free_unpacked(b, NULL);
    return 0;
}
