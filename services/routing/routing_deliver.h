/* routing_deliver: one complaint record delivered by an intake node, as the
 * routing service takes it (its batch entry): the clear contact an old intake
 * may still send is dropped, the complaint is routed (routing_apply_complaint)
 * and what the service counts is reported back. Kept out of main.c so that
 * tests and tests/bench/bench_deliver run exactly the service's path. No
 * sockets. */
#ifndef ROUTING_DELIVER_H
#define ROUTING_DELIVER_H

#include "routing_domain.h"

#include <stdbool.h>

typedef struct {
    bool clear_dropped; /* the record carried a contact in clear: emptied */
    bool unreadable;    /* routed now to an agency that cannot open its sealed contact */
} routing_took_t;

/* Take complaint c (decoded from a record of sender's stream; its clear
 * contact fields are emptied in place) inside txn. Returns what
 * routing_apply_complaint returns; *took is filled either way. */
int routing_take_complaint(const cpm_rules_t *rules, const cpm_registry_t *reg, cpm_store_t *st,
                           MDB_txn *txn, const cpm_effects_t *fx, const char *sender,
                           Cpm__Complaint *c, int64_t now_ms, routing_took_t *took,
                           const routing_dupes_pre_t *pre, cpm_error_t *err);

#endif
