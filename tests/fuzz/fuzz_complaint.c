/* Fuzz target: a submit_complaint payload as intake handles it: decode,
 * intake_validate_complaint, then intake_submit (validation again, ticket,
 * client reference, outbox record, event) in a write transaction on a real
 * store, aborted after each input so that every input meets the same store. */
#include "fuzz_env.h"

#include "intake_domain.h"
#include "intake_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cpm_store_t *st;
    static intake_t *in;
    static const char *const dbs[] = INTAKE_DBS;
    if (!st) {
        st = fz_store("intake", dbs);
        in = intake_new(fz_rules(), FZ_AREA, "HK", FZ_CITY);
        if (!in)
            fz_die("intake_new", NULL);
        intake_set_registry(in, fz_registry()); /* contacts are sealed to its members */
    }
    Cpm__Complaint *c = cpm__complaint__unpack(NULL, size, data);
    if (!c)
        return 0;
    cpm_error_t err = {0};
    intake_validate_complaint(c, fz_rules(), fz_now_ms(), &err);
    cpm_effects_t fx = fz_effects(st, FZ_AREA "/intake");
    MDB_txn *txn = NULL;
    char ticket[INTAKE_TICKET_MAX];
    bool dup = false;
    if (cpm_store_begin(st, true, &txn) == 0) {
        intake_submit(in, st, txn, &fx, FZ_OPERATOR, c, fz_now_ms(), ticket, &dup, &err);
        cpm_store_abort(&txn);
    }
    cpm__complaint__free_unpacked(c, NULL);
    return 0;
}
