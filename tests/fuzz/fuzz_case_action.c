/* Fuzz target: an officer's CaseAction as inspection handles it (decode,
 * inspection_act) on a store holding case FZ_TICKET (state "assigned"), in a
 * transaction aborted after each input. When the action succeeds, a second
 * action from the same input's bytes runs on the new state, so that every
 * move of the state machine is reached. */
#include "fuzz_env.h"

#include "inspection_domain.h"

#include <stdbool.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cpm_store_t *st = fz_inspection_store();
    Cpm__CaseAction *a = cpm__case_action__unpack(NULL, size, data);
    if (!a)
        return 0;
    cpm_effects_t fx = fz_effects(st, FZ_AREA "/inspection");
    inspection_t in = {.node = FZ_AREA, .routing = FZ_CITY};
    cpm_error_t err = {0};
    MDB_txn *txn = NULL;
    if (cpm_store_begin(st, true, &txn) == 0) {
        Cpm__CaseState state = CPM__CASE_STATE__CASE_STATE_UNSPECIFIED;
        bool dup = false;
        inspection_actor_t who = {"hn.officer.hk", CPM_CASE_BY_OFFICER, data, size, ""};
        int rc = inspection_act(&in, st, txn, &fx, &who, a, fz_now_ms(), &state, &dup, &err);
        if (rc == 0) { /* e.g. accept, then the same input again as resolve */
            Cpm__CaseActionKind action = a->action;
            a->action = CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE;
            inspection_act(&in, st, txn, &fx, &who, a, fz_now_ms(), &state, &dup, &err);
            a->action = action;
        }
        cpm_store_abort(&txn);
    }
    cpm__case_action__free_unpacked(a, NULL);
    return 0;
}
