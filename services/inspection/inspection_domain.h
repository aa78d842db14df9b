/* inspection_domain: the cases assigned to one agency's node, and what its
 * officers do with them.
 *
 * "cases" maps ticket -> InspectionCase (the Assignment with the consumer's
 * contact, the state and its history). The contact stays sealed at rest (to
 * this node's transport key, by intake); inspection_show opens it for this
 * agency's officers on demand. Actions move the case by the one table
 * (cpm_case: accept, refuse, start, wait, resume, resolve with an outcome,
 * close, reopen within reopen_period_ms of the resolution). Every change is
 * a history entry (actor, time, note, the actor's signed CaseAction frame),
 * an event and a CaseUpdate queued for routing (routing learns "assigned"
 * from the delivery's acknowledgement). No sockets. */
#ifndef INSPECTION_DOMAIN_H
#define INSPECTION_DOMAIN_H

#include "cpm_case.h"
#include "cpm_effects.h"
#include "cpm_err.h"
#include "cpm_retention.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"
#include "inspection_acts.h"
#include "inspection_plan.h"

#include <stdbool.h>
#include <stdint.h>

#define INSPECTION_CASES_DB "cases"
#define INSPECTION_DBS                                                                             \
    {                                                                                              \
        INSPECTION_CASES_DB, INSPECTION_ACTS_DB, CPM_RETENTION_DB, INSPECTION_PLANS_DB,            \
            INSPECTION_VIOLATIONS_DB, INSPECTION_FIELD_RECORDS_DB, INSPECTION_FIELD_CONFLICTS_DB,  \
            "evidence", NULL                                                                       \
    }

typedef struct {
    const char *node;         /* this agency's member id */
    const char *routing;      /* member id running routing */
    const uint8_t *curve_pk;  /* this node's transport key pair, to open contacts; */
    const uint8_t *curve_sk;  /* NULL: contacts are reported unreadable */
    int64_t reopen_period_ms; /* 0: CPM_CASE_REOPEN_DAYS_DEFAULT days */
    int64_t max_skew_ms;      /* an offline act may say it happened this far ahead; 0: 300 s */
    /* A member's transport key (32 bytes) from the current registry, or
     * NULL: to re-seal a contact for the agency a case moves to. */
    const uint8_t *(*peer_key)(void *ctx, const char *member);
    void (*count)(void *ctx, const char *counter); /* a health counter, or NULL */
    void *ctx;                                     /* for peer_key and count */
    /* Offline act ids are remembered, and acts accepted, this long (0: the
     * default, INSPECTION_ACTS_WINDOW_DAYS). */
    int64_t acts_window_ms;
} inspection_t;

/* Who acts: the verified sender of the CaseAction. */
typedef struct {
    const char *id;       /* member id */
    cpm_case_actor_t as;  /* its class for the table (cpm_case_actor_of) */
    const uint8_t *frame; /* its signed CaseAction frame (SignedEnvelope), kept in the */
    size_t frame_len;     /*   history and sent to routing; NULL: none (tests) */
    const char *key_id;   /* the key that signed it */
} inspection_actor_t;

/* Store a case routed here by routing. A ticket already held is left alone. */
int inspection_apply_assignment(const inspection_t *in, cpm_store_t *st, MDB_txn *txn,
                                const cpm_effects_t *fx, const Cpm__Assignment *a, int64_t now_ms,
                                cpm_error_t *err);

/* who acts on a case by a (any action but show, assign and transfer).
 * *state gets the new state; *duplicate is true when the case already was in
 * that state, or a->client_id was applied before for who (the first answer is
 * returned, nothing changes). The act's time is a->acted_ms (0: now_ms): not
 * after now_ms + max skew, not before the case was assigned here.
 * CPM_E_INVALID for a bad action, note, outcome, fine, client id or time
 * (err names the field), CPM_E_NOT_FOUND for an unknown ticket,
 * CPM_E_FORBIDDEN when who's class may not make the move, CPM_E_CONFLICT for
 * a move the state does not allow (or a reopen after the period, or a client
 * id reused for another ticket). */
int inspection_act(const inspection_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                   const inspection_actor_t *who, const Cpm__CaseAction *a, int64_t now_ms,
                   Cpm__CaseState *state, bool *duplicate, cpm_error_t *err);

/* What an officer of this agency sees of a case (action "show"). */
typedef struct {
    Cpm__CaseState state;
    const char *contact_status; /* open|none|sealed_for_other|unreadable (static) */
    char contact_for[128];      /* who the contact is sealed for */
    Cpm__ContactCard *contact;  /* when open; free with cpm__contact_card__free_unpacked */
} inspection_view_t;

/* Fill v for ticket, opening its sealed contact with this node's key. A
 * contact sealed for another member is not opened (sealed_for_other); one
 * that does not open or names another ticket is "unreadable". 0, or
 * CPM_E_NOT_FOUND with err, or a store error. */
int inspection_show(const inspection_t *in, cpm_store_t *st, MDB_txn *txn, const char *ticket,
                    inspection_view_t *v, cpm_error_t *err);

/* A stored case (free with cpm__inspection_case__free_unpacked), or NULL. */
Cpm__InspectionCase *inspection_case(cpm_store_t *st, MDB_txn *txn, const char *ticket);

#endif
