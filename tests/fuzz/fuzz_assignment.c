/* Fuzz target: an Assignment record as inspection applies it (decode,
 * inspection_apply_assignment) on a store that already holds case
 * FZ_TICKET, in a transaction aborted after each input; and as routing reads
 * its ticket from the bytes when it is acknowledged (routing_assignment_ticket):
 * whenever both read it, the same ticket as the decoder's. */
#include "fuzz_env.h"

#include "inspection_domain.h"
#include "routing_domain.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cpm_store_t *st = fz_inspection_store();
    char ticket[ROUTING_TICKET_MAX];
    int read = routing_assignment_ticket(data, size, ticket);
    Cpm__Assignment *a = cpm__assignment__unpack(NULL, size, data);
    if (!a)
        return 0;
    const char *want = a->complaint && a->complaint->ticket ? a->complaint->ticket : "";
    if (read == 0 && strcmp(ticket, want) != 0)
        abort(); /* routing would mark another case assigned than the record's */
    cpm_effects_t fx = fz_effects(st, FZ_AREA "/inspection");
    inspection_t in = {.node = FZ_AREA, .routing = FZ_CITY};
    cpm_error_t err = {0};
    MDB_txn *txn = NULL;
    if (cpm_store_begin(st, true, &txn) == 0) {
        inspection_apply_assignment(&in, st, txn, &fx, a, fz_now_ms(), &err);
        cpm_store_abort(&txn);
    }
    cpm__assignment__free_unpacked(a, NULL);
    return 0;
}
