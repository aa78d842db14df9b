/* routing_deliver: see routing_deliver.h. */
#include "routing_deliver.h"

int routing_take_complaint(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                           MDB_txn *txn, const cpm_effects_t *fx, const char *sender,
                           Cpm__Complaint *c, int64_t now_ms, routing_took_t *took,
                           const routing_dupes_pre_t *pre, cpm_error_t *err)
{
    took->clear_dropped = routing_contact_drop_clear(c);
    /* routing_route_complaint says whether it routed the case now and to
     * whom: no lookup of the case before and after (there were two, each
     * decoding the whole record, besides the apply's own). */
    return routing_route_complaint(rules, reg, st, txn, fx, sender, c, now_ms, &took->unreadable,
                                   pre, err);
}
