/* Fuzz target: a CaseUpdate record as routing applies it (decode,
 * routing_apply_update) on a store where case FZ_TICKET is routed, in a
 * transaction aborted after each input. Sent by the agency the case is
 * assigned to, so that the update itself is what is checked. */
#include "fuzz_env.h"

#include "routing_domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cpm_store_t *st = fz_routing_store();
    Cpm__CaseUpdate *u = cpm__case_update__unpack(NULL, size, data);
    if (!u)
        return 0;
    cpm_effects_t fx = fz_effects(st, FZ_CITY "/routing");
    cpm_error_t err = {0};
    MDB_txn *txn = NULL;
    if (cpm_store_begin(st, true, &txn) == 0) {
        routing_apply_update(fz_rules(), fz_registry(), st, txn, &fx, FZ_AREA, u, &err);
        cpm_store_abort(&txn);
    }
    cpm__case_update__free_unpacked(u, NULL);
    return 0;
}
