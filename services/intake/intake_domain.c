#include "intake_domain.h"
#include "intake_validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct intake {
    const cpm_rules_t *rules;
    char node[128];
    char prefix[24];
    char routing[128];
};

intake_t *intake_new(const cpm_rules_t *rules, const char *node, const char *ticket_prefix,
                     const char *routing_member)
{
    if (!rules || !node || !ticket_prefix || !*ticket_prefix)
        return NULL;
    intake_t *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->rules = rules;
    snprintf(in->node, sizeof in->node, "%s", node);
    snprintf(in->prefix, sizeof in->prefix, "%s", ticket_prefix);
    intake_set_routing(in, routing_member);
    return in;
}

void intake_destroy(intake_t **p)
{
    if (!p || !*p)
        return;
    free(*p);
    *p = NULL;
}

void intake_set_routing(intake_t *in, const char *routing_member)
{
    snprintf(in->routing, sizeof in->routing, "%s", routing_member ? routing_member : "");
}

/* Look up a client reference; 0 and the id when known, CPM_E_NOT_FOUND when
 * new, or a store error. */
static int ref_lookup(cpm_store_t *st, MDB_txn *txn, const char *key, char id[INTAKE_TICKET_MAX])
{
    const void *v;
    size_t vlen;
    int rc = cpm_store_get(st, txn, "refs", key, strlen(key), &v, &vlen);
    if (rc != 0)
        return rc;
    snprintf(id, INTAKE_TICKET_MAX, "%.*s", (int)vlen, (const char *)v);
    return 0;
}

static int next_id(intake_t *in, cpm_store_t *st, MDB_txn *txn, const char *counter,
                   const char *infix, char id[INTAKE_TICKET_MAX])
{
    uint64_t n;
    int rc = cpm_store_get_u64(st, txn, counter, &n);
    if (rc == 0)
        rc = cpm_store_put_u64(st, txn, counter, n + 1);
    if (rc == 0)
        snprintf(id, INTAKE_TICKET_MAX, "%s-%s%08llu", in->prefix, infix,
                 (unsigned long long)(n + 1));
    return rc;
}

static int put_msg(cpm_store_t *st, MDB_txn *txn, const char *db, const char *key,
                   const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t stackbuf[8192], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return CPM_E_INTERNAL;
    protobuf_c_message_pack(m, buf);
    int rc = cpm_store_put(st, txn, db, key, strlen(key), buf, len);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

int intake_submit(intake_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                  const char *sender, Cpm__Complaint *c, int64_t now_ms,
                  char ticket[INTAKE_TICKET_MAX], bool *duplicate, cpm_error_t *err)
{
    int rc = intake_validate_complaint(c, in->rules, now_ms, err);
    if (rc != 0)
        return rc;
    *duplicate = false;
    char refkey[256] = "";
    if (c->client_ref && *c->client_ref) {
        snprintf(refkey, sizeof refkey, "c\x1f%s\x1f%s", sender, c->client_ref);
        rc = ref_lookup(st, txn, refkey, ticket);
        if (rc == 0) {
            *duplicate = true;
            return 0;
        }
        if (rc != CPM_E_NOT_FOUND)
            return rc;
    }
    if (!*in->routing)
        return cpm_error_set(err, CPM_E_UNAVAILABLE, "", "no routing service in the registry");
    if ((rc = next_id(in, st, txn, "intake.ticket", "", ticket)) != 0)
        return rc;
    /* Only strings we own go into c: the caller frees c with the unpacker,
     * which frees these fields, so give it heap copies. */
    free(c->ticket != protobuf_c_empty_string ? c->ticket : NULL);
    free(c->intake_node != protobuf_c_empty_string ? c->intake_node : NULL);
    c->ticket = strdup(ticket);
    c->intake_node = strdup(in->node);
    if (!c->ticket || !c->intake_node)
        return CPM_E_INTERNAL;
    c->received_ms = now_ms;
    if ((rc = put_msg(st, txn, "complaints", ticket, &c->base)) != 0)
        return rc;
    if (*refkey &&
        (rc = cpm_store_put(st, txn, "refs", refkey, strlen(refkey), ticket, strlen(ticket))) != 0)
        return rc;
    char detail[256];
    snprintf(detail, sizeof detail, "channel=%s district=%s category=%s%s", c->channel, c->district,
             *c->category ? c->category : "-", c->urgent ? " urgent" : "");
    if ((rc = fx->event(fx->ctx, txn, "complaint.received", ticket, "", detail)) != 0)
        return rc;
    return fx->send(fx->ctx, txn, in->routing, "routing", &c->base);
}

int intake_consult(intake_t *in, cpm_store_t *st, MDB_txn *txn, const cpm_effects_t *fx,
                   const char *sender, Cpm__Consultation *c, int64_t now_ms,
                   char id[INTAKE_TICKET_MAX], bool *duplicate, cpm_error_t *err)
{
    int rc = intake_validate_consultation(c, in->rules, err);
    if (rc != 0)
        return rc;
    *duplicate = false;
    char refkey[256] = "";
    if (c->client_ref && *c->client_ref) {
        snprintf(refkey, sizeof refkey, "k\x1f%s\x1f%s", sender, c->client_ref);
        rc = ref_lookup(st, txn, refkey, id);
        if (rc == 0) {
            *duplicate = true;
            return 0;
        }
        if (rc != CPM_E_NOT_FOUND)
            return rc;
    }
    if ((rc = next_id(in, st, txn, "intake.consultation", "C", id)) != 0)
        return rc;
    free(c->id != protobuf_c_empty_string ? c->id : NULL);
    free(c->operator_ != protobuf_c_empty_string ? c->operator_ : NULL);
    c->id = strdup(id);
    c->operator_ = strdup(sender);
    if (!c->id || !c->operator_)
        return CPM_E_INTERNAL;
    c->received_ms = now_ms;
    if ((rc = put_msg(st, txn, "consultations", id, &c->base)) != 0)
        return rc;
    if (*refkey &&
        (rc = cpm_store_put(st, txn, "refs", refkey, strlen(refkey), id, strlen(id))) != 0)
        return rc;
    char detail[160];
    snprintf(detail, sizeof detail, "channel=%s category=%s duration_s=%u", c->channel,
             *c->category ? c->category : "-", c->duration_s);
    return fx->event(fx->ctx, txn, "consultation.recorded", id, "", detail);
}

Cpm__Complaint *intake_complaint(cpm_store_t *st, MDB_txn *txn, const char *ticket)
{
    const void *v;
    size_t vlen;
    if (cpm_store_get(st, txn, "complaints", ticket, strlen(ticket), &v, &vlen) != 0)
        return NULL;
    return cpm__complaint__unpack(NULL, vlen, v);
}
