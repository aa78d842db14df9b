/* routing_status: who may read what of the register (see routing_status_for
 * in routing_domain.h). Tickets are sequential, so whatever is not shown is
 * answered exactly like a ticket routing never saw. */
#include "cpm_text.h"
#include "routing_categorize.h"
#include "routing_domain.h"
#include "routing_list.h"
#include "routing_watch.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static bool role_is(const Cpm__Member *m, const char *const *roles, size_t n)
{
    for (size_t i = 0; m && m->role && i < n; i++)
        if (!strcmp(m->role, roles[i]))
            return true;
    return false;
}

/* Coordinators watch the whole city; the city node itself runs routing. */
static bool sees_all(const Cpm__Member *m)
{
    static const char *const roles[] = {"coordinator", "city"};
    return role_is(m, roles, 2);
}

/* Members that work cases for an agency. Operators and associations speak
 * for consumers: they get the public view, whatever their agency. */
static bool works_cases(const Cpm__Member *m)
{
    static const char *const roles[] = {"department", "area", "inspector", "officer"};
    return role_is(m, roles, 4);
}

/* The web gateway (Open311) shows any case to anyone: it gets the public
 * view of every ticket without a lookup code, and nothing more. */
static bool is_gateway(const Cpm__Member *m)
{
    static const char *const roles[] = {"gateway"};
    return role_is(m, roles, 1);
}

static void blank(char **s)
{
    if (*s && *s != protobuf_c_empty_string)
        free(*s);
    *s = (char *)protobuf_c_empty_string;
}

/* Leave only what a consumer may know about their own case. */
static void make_public(Cpm__StatusReply *r)
{
    blank(&r->rule_id);
    blank(&r->rules_version);
    blank(&r->intake_node);
    if (r->placement) { /* the unit's name only: not what was written, not how */
        Cpm__Placement *p = r->placement;
        char *name = p->unit_name;
        p->unit_name = NULL;
        cpm__placement__free_unpacked(p, NULL);
        r->placement = malloc(sizeof *r->placement);
        if (r->placement) {
            cpm__placement__init(r->placement);
            r->placement->unit_name = name;
        } else if (name != protobuf_c_empty_string)
            free(name);
    }
    blank(&r->linked_to);          /* another ticket: not the lookup code's to show */
    blank(&r->category_suggested); /* how the category was chosen, and by whom */
    r->suggestion_pm = 0;
    blank(&r->category_by);
    blank(&r->category_chosen_by);
    for (size_t i = 0; i < r->n_history; i++) {
        blank(&r->history[i]->actor);
        blank(&r->history[i]->note);
        blank(&r->history[i]->key_id); /* the signed act names the officer */
        /* ... and so does its key's standing (docs/protocol.md 13.1) */
        blank(&r->history[i]->key_standing);
        free(r->history[i]->signed_action.data);
        free(r->history[i]->signature.data);
        r->history[i]->signed_action = (ProtobufCBinaryData){0, NULL};
        r->history[i]->signature = (ProtobufCBinaryData){0, NULL};
    }
}

/* 1 when code is the lookup code routing holds for ticket. */
static int code_matches(cpm_store_t *st, MDB_txn *txn, const char *ticket, const char *code,
                        int *rc)
{
    const void *v;
    size_t vlen;
    *rc = cpm_store_get(st, txn, ROUTING_CODES_DB, ticket, strlen(ticket), &v, &vlen);
    if (*rc == CPM_E_NOT_FOUND)
        *rc = 0;
    else if (*rc == 0 && vlen == strlen(code) && sodium_memcmp(v, code, vlen) == 0)
        return 1;
    return 0;
}

Cpm__StatusReply *routing_status_for(cpm_store_t *st, MDB_txn *txn, const Cpm__Member *asker,
                                     const Cpm__StatusQuery *q, int *rc, bool *hidden,
                                     cpm_error_t *err)
{
    const char *ticket = q->ticket ? q->ticket : "";
    const char *code = q->lookup_code ? q->lookup_code : "";
    *hidden = false;
    if (!cpm_text_ticket_valid(ticket, NULL)) {
        *rc = cpm_error_set(err, CPM_E_INVALID, "ticket", "ticket is not <PREFIX>-<digits>");
        return NULL;
    }
    if (*code && !cpm_text_code_valid(code)) {
        *rc = cpm_error_set(err, CPM_E_INVALID, "lookup_code",
                            "lookup_code is not %d characters of 0-9 and A-Z without I L O U",
                            CPM_TEXT_CODE_LEN);
        return NULL;
    }
    Cpm__StatusReply *r = routing_status(st, txn, ticket, rc);
    if (!r && *rc != CPM_E_NOT_FOUND) {
        cpm_error_set(err, *rc, "ticket", "ticket %s cannot be read", ticket);
        return NULL;
    }
    const char *view = NULL;
    if (r && *code) {
        if (code_matches(st, txn, ticket, code, rc))
            view = "public";
        else if (*rc != 0) {
            cpm_error_set(err, *rc, "ticket", "ticket %s cannot be read", ticket);
            goto refuse;
        }
    } else if (r && sees_all(asker)) {
        view = "full";
    } else if (r && works_cases(asker) && asker->agency && *r->agency &&
               !strcmp(asker->agency, r->agency)) {
        view = "agency";
    } else if (r && is_gateway(asker)) {
        view = "public";
    }
    if (!view) {
        *hidden = r != NULL;
        *rc = CPM_E_NOT_FOUND;
        if (sees_all(asker) && !*code)
            cpm_error_set(err, *rc, "ticket",
                          "ticket %s is not known to routing (yet: it may still be on its way)",
                          ticket);
        else
            cpm_error_set(err, *rc, "ticket",
                          "ticket %s is not known to routing, or not visible to %s: officers see "
                          "their agency's cases, the public view needs the ticket's lookup code",
                          ticket, asker ? asker->id : "the public");
        goto refuse;
    }
    if (!strcmp(view, "public"))
        make_public(r);
    else if ((*rc = routing_categorize_fill(st, txn, r)) != 0) { /* StatusReply 50-52 */
        cpm_error_set(err, *rc, "ticket", "ticket %s cannot be read", ticket);
        goto refuse;
    }
    /* Flagged at escalation; shown while that deadline is still the open one. */
    r->overdue = routing_watch_is_overdue(r);
    blank(&r->view);
    if (!(r->view = strdup(view))) {
        *rc = CPM_E_INTERNAL;
        goto refuse;
    }
    *rc = 0;
    return r;
refuse:
    cpm__status_reply__free_unpacked(r, NULL);
    return NULL;
}

int routing_list_scope(const Cpm__Member *asker, const char **agency)
{
    *agency = NULL;
    if (sees_all(asker))
        return 1;
    if (works_cases(asker) && asker->agency && *asker->agency) {
        *agency = asker->agency;
        return 2;
    }
    return is_gateway(asker) ? 3 : 0;
}
