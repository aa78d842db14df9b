/* inspection_field: see inspection_field.h. */
#include "inspection_field.h"

#include "cpm_fieldrec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void count(const inspection_field_t *f, const char *counter)
{
    if (f->count)
        f->count(f->ctx, counter);
}

/* ---- checkout ------------------------------------------------------------ */

static int add_case(const inspection_field_t *f, cpm_store_t *st, MDB_txn *txn, const char *ticket,
                    Cpm__FieldCheckoutReply *out)
{
    Cpm__InspectionCase *ic = inspection_case(st, txn, ticket);
    if (!ic || !ic->assignment || !ic->assignment->complaint) {
        if (ic)
            cpm__inspection_case__free_unpacked(ic, NULL);
        return 0; /* a campaign target or a case that moved on: nothing to show */
    }
    const Cpm__Complaint *c = ic->assignment->complaint;
    Cpm__FieldCase *fc = malloc(sizeof *fc);
    Cpm__FieldCase **grown = realloc(out->cases, (out->n_cases + 1) * sizeof *grown);
    if (!fc || !grown) {
        free(fc);
        cpm__inspection_case__free_unpacked(ic, NULL);
        return CPM_E_INTERNAL;
    }
    out->cases = grown;
    cpm__field_case__init(fc);
    fc->ticket = strdup(ticket);
    fc->business = strdup(c->business_name ? c->business_name : "");
    fc->address = strdup(c->business_address ? c->business_address : "");
    fc->category = strdup(c->category ? c->category : "");
    fc->description = strdup(c->description ? c->description : "");
    fc->received_ms = c->received_ms;
    fc->contact = NULL;
    if (f->share_contact && f->in) {
        inspection_view_t v;
        cpm_error_t e;
        if (inspection_show(f->in, st, txn, ticket, &v, &e) == 0 && v.contact) {
            char buf[512];
            snprintf(buf, sizeof buf, "%s %s %s", v.contact->name ? v.contact->name : "",
                     v.contact->phone ? v.contact->phone : "",
                     v.contact->email ? v.contact->email : "");
            fc->contact = strdup(buf);
            cpm__contact_card__free_unpacked(v.contact, NULL);
        }
    }
    if (!fc->contact)
        fc->contact = strdup("");
    out->cases[out->n_cases++] = fc;
    cpm__inspection_case__free_unpacked(ic, NULL);
    return 0;
}

/* Drop out's inspections from i on, with the cases added for them (the
 * first n_cases are kept). */
static void drop_from(Cpm__FieldCheckoutReply *out, size_t i, size_t n_cases)
{
    for (size_t k = i; k < out->n_inspections; k++)
        cpm__inspection__free_unpacked(out->inspections[k], NULL);
    out->n_inspections = i;
    for (size_t k = n_cases; k < out->n_cases; k++) {
        Cpm__FieldCase *c = out->cases[k];
        free(c->ticket);
        free(c->business);
        free(c->address);
        free(c->category);
        free(c->description);
        free(c->contact);
        free(c);
    }
    out->n_cases = n_cases;
    out->truncated = true;
}

int inspection_field_checkout(const inspection_field_t *f, cpm_store_t *st, MDB_txn *txn,
                              const char *asker, int64_t now_ms, Cpm__FieldCheckoutReply *out,
                              cpm_error_t *err)
{
    cpm__field_checkout_reply__init(out);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, cpm_store_dbi(st, INSPECTION_PLANS_DB), &cur);
    if (rc != 0)
        return cpm_error_set(err, cpm_store_err(rc), "store", "%s", mdb_strerror(rc));
    MDB_val k, v;
    int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; r == 0 && rc == 0; r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size && ((const char *)k.mv_data)[0] == '#')
            continue;
        Cpm__Inspection *in = cpm__inspection__unpack(NULL, v.mv_size, v.mv_data);
        if (!in)
            continue;
        if (!inspection_plan_has_inspector(in, asker) ||
            in->state == CPM__INSPECTION_STATE__INSPECTION_STATE_CLOSED ||
            in->state < CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED) {
            cpm__inspection__free_unpacked(in, NULL);
            continue;
        }
        if (out->n_inspections >= INSPECTION_FIELD_CHECKOUT_MAX) {
            cpm__inspection__free_unpacked(in, NULL);
            out->truncated = true;
            break;
        }
        Cpm__Inspection **grown =
            realloc(out->inspections, (out->n_inspections + 1) * sizeof *grown);
        if (!grown) {
            cpm__inspection__free_unpacked(in, NULL);
            rc = CPM_E_INTERNAL;
            break;
        }
        out->inspections = grown;
        out->inspections[out->n_inspections++] = in;
    }
    mdb_cursor_close(cur);
    /* the cases, within the byte budget: an inspector on very many (or very
     * large) inspections gets the first that fit and truncated, never a
     * reply no socket would carry */
    size_t bytes = 0;
    for (size_t i = 0; rc == 0 && i < out->n_inspections; i++) {
        size_t n_cases = out->n_cases;
        for (size_t t = 0; rc == 0 && t < out->inspections[i]->n_tickets; t++)
            rc = add_case(f, st, txn, out->inspections[i]->tickets[t], out);
        if (rc != 0)
            break;
        bytes += protobuf_c_message_get_packed_size(&out->inspections[i]->base) + 8;
        for (size_t c = n_cases; c < out->n_cases; c++)
            bytes += protobuf_c_message_get_packed_size(&out->cases[c]->base) + 8;
        if (bytes > INSPECTION_FIELD_CHECKOUT_BYTES) {
            drop_from(out, i, n_cases);
            break;
        }
    }
    /* written after the cursor is done with the database, and only for the
     * inspections the lead actually takes */
    for (size_t i = 0; rc == 0 && i < out->n_inspections; i++) {
        Cpm__Inspection *in = out->inspections[i];
        if (in->state != CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED || !in->lead ||
            strcmp(in->lead, asker) != 0)
            continue;
        in->state = CPM__INSPECTION_STATE__INSPECTION_STATE_IN_FIELD;
        in->updated_ms = now_ms;
        rc = inspection_plan_put(st, txn, in, NULL);
    }
    if (rc != 0) {
        inspection_field_checkout_free(out);
        return cpm_error_set(err, rc, "store", "checkout failed");
    }
    count(f, "field.checkout");
    if (out->truncated)
        count(f, "field.checkout_truncated");
    return 0;
}

void inspection_field_checkout_free(Cpm__FieldCheckoutReply *out)
{
    for (size_t i = 0; i < out->n_inspections; i++)
        cpm__inspection__free_unpacked(out->inspections[i], NULL);
    for (size_t i = 0; i < out->n_cases; i++) {
        Cpm__FieldCase *c = out->cases[i];
        free(c->ticket);
        free(c->business);
        free(c->address);
        free(c->category);
        free(c->description);
        free(c->contact);
        free(c);
    }
    free(out->inspections);
    free(out->cases);
    cpm__field_checkout_reply__init(out);
}
