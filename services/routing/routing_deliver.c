/* routing_deliver: see routing_deliver.h. */
#include "routing_deliver.h"

int routing_take_complaint(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                           MDB_txn *txn, const cpm_effects_t *fx, const char *sender,
                           Cpm__Complaint *c, int64_t now_ms, routing_took_t *took,
                           cpm_error_t *err)
{
    took->clear_dropped = routing_contact_drop_clear(c);
    took->unreadable = false;
    int known;
    Cpm__StatusReply *old = routing_status(st, txn, c->ticket, &known);
    bool fresh = old == NULL;
    cpm__status_reply__free_unpacked(old, NULL);
    int rc = routing_apply_complaint(rules, reg, st, txn, fx, sender, c, now_ms, err);
    Cpm__StatusReply *now = rc == 0 && fresh ? routing_status(st, txn, c->ticket, &known) : NULL;
    if (now && routing_contact_unreadable(c, now->agency))
        took->unreadable = true;
    cpm__status_reply__free_unpacked(now, NULL);
    return rc;
}
