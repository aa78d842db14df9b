/* inspection_contact: see inspection_contact.h. */
#include "inspection_contact.h"
#include "cpm_log.h"
#include "cpm_seal.h"
#include "cpm_text.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void count(const inspection_t *in, const char *name)
{
    if (in->count)
        in->count(in->ctx, name);
}

/* Wipe and free the sealed bytes of cp; contact_for empties with them. */
static void drop_contact(Cpm__Complaint *cp)
{
    if (cp->sealed_contact.data) {
        sodium_memzero(cp->sealed_contact.data, cp->sealed_contact.len);
        free(cp->sealed_contact.data);
    }
    cp->sealed_contact.data = NULL;
    cp->sealed_contact.len = 0;
    if (cp->contact_for && cp->contact_for != protobuf_c_empty_string)
        free(cp->contact_for);
    cp->contact_for = (char *)protobuf_c_empty_string;
}

/* The contact cannot be sealed for to: this agency no longer handles the
 * case, so it does not keep it either (the case itself moves on). */
static int drop_unsent(const inspection_t *in, Cpm__Complaint *cp, const char *to, const char *why,
                       bool *changed)
{
    cpm_warn("the contact of %s cannot follow the case to %s (%s): dropped", cp->ticket, to, why);
    drop_contact(cp);
    count(in, "contact.dropped");
    *changed = true;
    return 0;
}

int inspection_contact_forward(const inspection_t *in, MDB_txn *txn, const cpm_effects_t *fx,
                               Cpm__InspectionCase *c, const char *to, int64_t now_ms,
                               bool *changed)
{
    *changed = false;
    Cpm__Complaint *cp = c->assignment ? c->assignment->complaint : NULL;
    if (!cp || !cp->sealed_contact.len || strcmp(cp->contact_for, in->node) != 0 ||
        !strcmp(to, in->node) || !in->curve_sk)
        return 0; /* nothing this node can pass on */
    const uint8_t *pk = in->peer_key ? in->peer_key(in->ctx, to) : NULL;
    if (!pk) /* routing moves cases only to members with a node: out of place */
        return drop_unsent(in, cp, to, "it has no transport key in the registry", changed);
    int rc;
    Cpm__ContactCard *card = cpm_seal_open(cp->sealed_contact.data, cp->sealed_contact.len,
                                           in->curve_pk, in->curve_sk, cp->ticket, &rc);
    if (!card) { /* kept as it is: show counts it unreadable */
        count(in, "contact.unreadable");
        return 0;
    }
    uint8_t *sealed = NULL;
    size_t len = 0;
    rc = cpm_seal_contact(card, pk, &sealed, &len);
    /* Wipe the clear card before freeing it. */
    if (card->name)
        sodium_memzero(card->name, strlen(card->name));
    if (card->phone)
        sodium_memzero(card->phone, strlen(card->phone));
    if (card->email)
        sodium_memzero(card->email, strlen(card->email));
    cpm__contact_card__free_unpacked(card, NULL);
    if (rc != 0)
        return drop_unsent(in, cp, to, "its transport key does not seal", changed);
    char note[200];
    snprintf(note, sizeof note, "the consumer's contact follows the case to %s", to);
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = cp->ticket;
    u.state = c->state;
    u.agency = (char *)in->node;
    u.actor = (char *)in->node;
    u.note = note;
    u.at_ms = now_ms;
    u.sealed_contact.data = sealed;
    u.sealed_contact.len = len;
    u.contact_for = (char *)to;
    rc = fx->send(fx->ctx, txn, in->routing, "routing", &u.base);
    free(sealed);
    if (rc != 0)
        return rc;
    drop_contact(cp);
    *changed = true;
    count(in, "contact.forwarded");
    return 0;
}

int inspection_contact_receive(const inspection_t *in, cpm_store_t *st, MDB_txn *txn,
                               const Cpm__Assignment *a, cpm_error_t *err)
{
    const Cpm__Complaint *f = a->complaint;
    const char *ticket = f->ticket;
    if (!f->sealed_contact.len || strcmp(f->contact_for, in->node) != 0) {
        count(in, "contact.refused");
        return cpm_error_set(err, CPM_E_INVALID, "contact_for",
                             "a contact follow-up of %s must be sealed for %s", ticket, in->node);
    }
    int rc;
    Cpm__ContactCard *card = in->curve_sk
                                 ? cpm_seal_open(f->sealed_contact.data, f->sealed_contact.len,
                                                 in->curve_pk, in->curve_sk, ticket, &rc)
                                 : NULL;
    if (!card) {
        count(in, "contact.refused");
        return cpm_error_set(err, in->curve_sk ? rc : CPM_E_UNAVAILABLE, "sealed_contact",
                             "the contact sent for %s does not open here or names another ticket",
                             ticket);
    }
    cpm__contact_card__free_unpacked(card, NULL); /* checked only: it rests sealed */
    ProtobufCMessage *m = NULL;
    rc = cpm_store_get_msg(st, txn, INSPECTION_CASES_DB, ticket, &cpm__inspection_case__descriptor,
                           &m);
    Cpm__InspectionCase *c = rc == 0 ? (Cpm__InspectionCase *)m : NULL;
    if (!c) {
        count(in, "contact.refused");
        return rc == CPM_E_NOT_FOUND || rc == CPM_E_BAD_MESSAGE
                   ? cpm_error_set(err, CPM_E_CONFLICT, "ticket",
                                   "contact for %s, a case %s does not hold", ticket, in->node)
                   : rc;
    }
    Cpm__Complaint *cp = c->assignment ? c->assignment->complaint : NULL;
    if (!cp) {
        cpm__inspection_case__free_unpacked(c, NULL);
        return CPM_E_INTERNAL;
    }
    uint8_t *copy = malloc(f->sealed_contact.len);
    char *who = strdup(in->node);
    if (!copy || !who) {
        free(copy);
        free(who);
        cpm__inspection_case__free_unpacked(c, NULL);
        return CPM_E_INTERNAL;
    }
    memcpy(copy, f->sealed_contact.data, f->sealed_contact.len);
    drop_contact(cp);
    cp->sealed_contact.data = copy;
    cp->sealed_contact.len = f->sealed_contact.len;
    cp->contact_for = who;
    rc = cpm_store_put_msg(st, txn, INSPECTION_CASES_DB, ticket, &c->base);
    cpm__inspection_case__free_unpacked(c, NULL);
    if (rc == 0)
        count(in, "contact.received");
    return rc;
}
