/* inspection_review: see inspection_review.h. */
#include "inspection_review.h"
#include "cpm_case.h"
#include "cpm_envelope.h"
#include "cpm_keys.h"
#include "cpm_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FINE_MAX 1000000000000LL /* 10^12 VND, as a case's resolve */
#define SEP '\x1f'

typedef int (*record_fn)(void *ctx, const char *key, size_t klen, const Cpm__FieldStored *s);

typedef struct {
    record_fn fn;
    void *ctx;
} each_ctx_t;

static int each_stored(void *ctx, const char *rest, size_t rlen, const ProtobufCMessage *m)
{
    const each_ctx_t *e = ctx;
    const Cpm__FieldStored *s = (const Cpm__FieldStored *)m;
    /* a record without its parsed copy: the field sync wrote what it cannot have */
    return s->record ? e->fn(e->ctx, rest, rlen, s) : CPM_E_INTERNAL;
}

/* "<id>\x1f": the key prefix of inspection id's entries; its length or -1. */
static int id_prefix(const char *id, char prefix[INSPECTION_ID_MAX + 1])
{
    int plen = snprintf(prefix, INSPECTION_ID_MAX + 1, "%s%c", id, SEP);
    return plen < 0 || plen >= INSPECTION_ID_MAX + 1 ? -1 : plen;
}

/* Each FieldStored of db whose key starts with "<id>\x1f", in key order. */
static int each_record(cpm_store_t *st, MDB_txn *txn, const char *db, const char *id, record_fn fn,
                       void *ctx)
{
    char prefix[INSPECTION_ID_MAX + 1];
    int plen = id_prefix(id, prefix);
    if (plen < 0)
        return CPM_E_INVALID;
    each_ctx_t e = {fn, ctx};
    return cpm_store_each_msg(st, txn, db, prefix, (size_t)plen, &cpm__field_stored__descriptor,
                              each_stored, &e);
}

/* ---- show: the records as summaries ---------------------------------- */

typedef struct {
    const inspection_plans_t *p;
    Cpm__InspectionReply *r;
    bool conflict;
} summary_ctx_t;

static char *dup(const char *s)
{
    return strdup(s ? s : "");
}

/* true when the frame was signed by a key the registry now revokes, or that
 * is no longer its signer's key. */
static bool key_revoked(const cpm_registry_t *reg, const ProtobufCBinaryData *frame,
                        const char *signer)
{
    cpm_slice_t env, sig;
    cpm_envelope_view_t v;
    if (!reg || cpm_envelope_parse_signed(frame->data, frame->len, &env, &sig) != 0 ||
        cpm_envelope_parse_view(env.data, env.len, &v) != 0)
        return false;
    char kid[CPM_KEY_ID_LEN + 1] = "", now[CPM_KEY_ID_LEN + 1] = "";
    snprintf(kid, sizeof kid, "%.*s", (int)v.key_id.len, (const char *)v.key_id.data);
    if (cpm_registry_key_revoked(reg, kid))
        return true;
    const Cpm__Member *m = cpm_registry_member(reg, signer);
    if (!m || m->sign_pk.len != 32)
        return true;
    cpm_key_id(m->sign_pk.data, now);
    return strcmp(now, kid) != 0;
}

static int add_summary(void *vctx, const char *key, size_t klen, const Cpm__FieldStored *s)
{
    summary_ctx_t *c = vctx;
    const Cpm__FieldRecord *f = s->record;
    Cpm__FieldRecordSummary *x = malloc(sizeof *x);
    Cpm__FieldRecordSummary **a =
        realloc(c->r->records, (c->r->n_records + 1) * sizeof *c->r->records);
    if (a)
        c->r->records = a;
    if (!x || !a) {
        free(x);
        return CPM_E_INTERNAL;
    }
    cpm__field_record_summary__init(x);
    x->id = dup(f->id);
    x->inspector = dup(f->inspector);
    x->kind = f->kind;
    x->item = dup(f->item);
    x->violation = dup(f->violation);
    x->fine_vnd = f->fine_vnd;
    x->made_ms = f->made_ms;
    x->received_ms = s->received_ms;
    x->conflict = c->conflict;
    x->key_revoked = key_revoked(c->p->reg, &s->frame, f->inspector);
    x->outcome = f->outcome;
    x->description = dup(f->description);
    c->r->records[c->r->n_records++] = x;
    return x->id && x->inspector && x->item && x->violation && x->description ? 0 : CPM_E_INTERNAL;
}

/* Keeps a copy of one violation record (the walk frees its own). */
static int add_violation(void *ctx, const char *rest, size_t rlen, const ProtobufCMessage *m)
{
    (void)rest;
    (void)rlen;
    Cpm__InspectionReply *r = ctx;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    Cpm__ViolationRecord *x =
        buf ? cpm__violation_record__unpack(NULL, protobuf_c_message_pack(m, buf), buf) : NULL;
    free(buf);
    Cpm__ViolationRecord **a = x ? realloc(r->violations, (r->n_violations + 1) * sizeof *a) : NULL;
    if (!a) {
        if (x)
            cpm__violation_record__free_unpacked(x, NULL);
        return CPM_E_INTERNAL;
    }
    r->violations = a;
    r->violations[r->n_violations++] = x;
    return 0;
}

/* The violation records of inspection id (written at its review). */
static int add_violations(cpm_store_t *st, MDB_txn *txn, const char *id, Cpm__InspectionReply *r)
{
    char prefix[INSPECTION_ID_MAX + 1];
    int plen = id_prefix(id, prefix);
    if (plen < 0)
        return CPM_E_INVALID;
    return cpm_store_each_msg(st, txn, INSPECTION_VIOLATIONS_DB, prefix, (size_t)plen,
                              &cpm__violation_record__descriptor, add_violation, r);
}

int inspection_review_records(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn,
                              const char *id, Cpm__InspectionReply *r)
{
    summary_ctx_t c = {p, r, false};
    int rc = each_record(st, txn, INSPECTION_FIELD_RECORDS_DB, id, add_summary, &c);
    c.conflict = true;
    if (rc == 0)
        rc = each_record(st, txn, INSPECTION_FIELD_CONFLICTS_DB, id, add_summary, &c);
    if (rc == 0 && c.r->n_records) {
        /* a first version whose id has a later one is in conflict too */
        for (size_t i = 0; i < r->n_records; i++)
            for (size_t k = 0; k < r->n_records && !r->records[i]->conflict; k++)
                if (r->records[k]->conflict && !strcmp(r->records[k]->id, r->records[i]->id))
                    r->records[i]->conflict = true;
    }
    return rc == 0 ? add_violations(st, txn, id, r) : rc;
}

void inspection_review_records_free(Cpm__InspectionReply *r)
{
    for (size_t i = 0; i < r->n_violations; i++)
        cpm__violation_record__free_unpacked(r->violations[i], NULL);
    free(r->violations);
    r->violations = NULL;
    r->n_violations = 0;
    for (size_t i = 0; i < r->n_records; i++) {
        Cpm__FieldRecordSummary *x = r->records[i];
        free(x->id);
        free(x->inspector);
        free(x->item);
        free(x->violation);
        free(x->description);
        free(x);
    }
    free(r->records);
    r->records = NULL;
    r->n_records = 0;
}

/* ---- review: violations and the linked cases --------------------------- */

typedef struct {
    cpm_store_t *st;
    MDB_txn *txn;
    const Cpm__Inspection *in;
    const cpm_effects_t *fx; /* violation.recorded events */
    const char *node;        /* this agency */
    Cpm__Outcome outcome;
    int64_t now_ms;
    bool write;     /* false: only sum the proposed fines */
    int64_t fines;  /* sum of the findings' proposed fines */
    size_t written; /* violation records */
} violations_ctx_t;

static int put_violation(violations_ctx_t *c, const char *key_tail, const char *violation,
                         int64_t fine, int64_t found_ms, const char *record, const char *inspector)
{
    char key[INSPECTION_ID_MAX + 80];
    int len = snprintf(key, sizeof key, "%s%c%s", c->in->id, SEP, key_tail);
    if (len < 0 || (size_t)len >= sizeof key)
        return CPM_E_INVALID;
    Cpm__ViolationRecord v = CPM__VIOLATION_RECORD__INIT;
    v.inspection = c->in->id;
    v.tickets = c->in->tickets;
    v.n_tickets = c->in->n_tickets;
    v.business = c->in->business;
    v.address = c->in->address;
    v.area = c->in->area;
    v.category = c->in->category;
    v.violation = (char *)violation;
    v.fine_vnd = fine;
    v.found_ms = found_ms;
    v.reviewed_ms = c->now_ms;
    v.record = (char *)record;
    v.inspector = (char *)inspector;
    v.outcome = c->outcome;
    v.tax_code = c->in->tax_code;
    c->written++;
    int rc = cpm_store_put_msg(c->st, c->txn, INSPECTION_VIOLATIONS_DB, key, &v.base);
    if (rc != 0)
        return rc;
    /* The agency's exchange publishes its violations dataset from these
     * events (about a business: never a consumer's personal data). */
    cpm_event_t ev = {.kind = "violation.recorded",
                      .ticket = c->in->n_tickets ? c->in->tickets[0] : "",
                      .agency = c->node,
                      .area = c->in->area,
                      .category = c->in->category,
                      .actor = inspector,
                      .note = *violation ? "finding" : "summary",
                      .business = c->in->business,
                      .address = c->in->address,
                      .violation = violation,
                      .fine_vnd = fine,
                      .tax_code = c->in->tax_code,
                      .inspection = c->in->id};
    return c->fx->event(c->fx->ctx, c->txn, &ev);
}

static int finding_violation(void *vctx, const char *key, size_t klen, const Cpm__FieldStored *s)
{
    violations_ctx_t *c = vctx;
    const Cpm__FieldRecord *f = s->record;
    if (f->kind != CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING)
        return 0;
    /* saturate just past FINE_MAX: a sum that large is refused anyway, and
     * many findings must not overflow int64 */
    if (f->fine_vnd > 0 && f->fine_vnd <= FINE_MAX)
        c->fines = c->fines > FINE_MAX - f->fine_vnd ? FINE_MAX + 1 : c->fines + f->fine_vnd;
    if (!c->write || !*f->violation)
        return 0;
    return put_violation(c, f->id, f->violation, f->fine_vnd, f->made_ms, f->id, f->inspector);
}

/* Resolve the linked case ticket with the review's outcome, as who. */
static int resolve_case(const inspection_t *cases, cpm_store_t *st, MDB_txn *txn,
                        const cpm_effects_t *fx, const inspection_who_t *who,
                        const Cpm__Inspection *in, const char *ticket, int64_t now_ms,
                        cpm_error_t *err)
{
    Cpm__InspectionCase *c = inspection_case(st, txn, ticket);
    Cpm__CaseState state = c ? c->state : CPM__CASE_STATE__CASE_STATE_UNSPECIFIED;
    cpm__inspection_case__free_unpacked(c, NULL);
    if (!cpm_case_next(state, CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE) &&
        !cpm_case_next(state, CPM__CASE_ACTION_KIND__CASE_ACTION_ACCEPT))
        return 0; /* resolved, closed, refused, gone: left as it is */
    /* The review decides in the agency's name: an officer's move. */
    inspection_actor_t as = {who->id, CPM_CASE_BY_OFFICER, NULL, 0, ""};
    char note[INSPECTION_ID_MAX + 32];
    snprintf(note, sizeof note, "inspection %s reviewed", in->id);
    Cpm__CaseAction a = CPM__CASE_ACTION__INIT;
    a.ticket = (char *)ticket;
    a.note = note;
    Cpm__CaseState to;
    bool dup;
    int rc = 0;
    if (!cpm_case_next(state, CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE)) {
        a.action = CPM__CASE_ACTION_KIND__CASE_ACTION_ACCEPT;
        rc = inspection_act(cases, st, txn, fx, &as, &a, now_ms, &to, &dup, err);
    }
    a.action = CPM__CASE_ACTION_KIND__CASE_ACTION_RESOLVE;
    a.outcome = in->outcome;
    a.fine_vnd = in->outcome == CPM__OUTCOME__OUTCOME_FINED ? in->fine_vnd : 0;
    if (rc == 0)
        rc = inspection_act(cases, st, txn, fx, &as, &a, now_ms, &to, &dup, err);
    return rc;
}

static bool may_review(const inspection_plans_t *p, const inspection_who_t *who,
                       const Cpm__Inspection *in)
{
    if (inspection_plan_is_supervisor(p, who))
        return true;
    return who->role && !strcmp(who->role, "inspector") && who->agency &&
           !strcmp(who->agency, p->node) && *in->lead && !strcmp(in->lead, who->id);
}

static int check_review(const Cpm__InspectionReview *rv, cpm_error_t *err)
{
    if (rv->close) {
        if (rv->outcome || rv->fine_vnd || *rv->note)
            return cpm_error_set(err, CPM_E_INVALID, rv->outcome ? "outcome" : "note",
                                 "close carries no outcome, fine or note: review first");
        return 0;
    }
    if (!rv->outcome || !cpm_case_outcome_name(rv->outcome))
        return cpm_error_set(err, CPM_E_INVALID, "outcome",
                             "review needs an outcome: mediated, refunded, replaced_or_repaired, "
                             "fined, no_violation, withdrawn, referred");
    if (rv->fine_vnd < 0 || rv->fine_vnd > FINE_MAX ||
        (rv->fine_vnd && rv->outcome != CPM__OUTCOME__OUTCOME_FINED))
        return cpm_error_set(err, CPM_E_INVALID, "fine_vnd",
                             "fine_vnd is 1 to 10^12 VND with outcome fined, and 0 otherwise");
    if (strlen(rv->note) > INSPECTION_NOTE_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "note", "note is longer than %d bytes",
                             INSPECTION_NOTE_MAX);
    return 0;
}

static int review(const inspection_plans_t *p, const inspection_t *cases, cpm_store_t *st,
                  MDB_txn *txn, const cpm_effects_t *fx, const inspection_who_t *who,
                  const Cpm__InspectionReview *rv, Cpm__Inspection *in, int64_t now_ms,
                  cpm_error_t *err)
{
    Cpm__InspectionState s = in->state;
    if (s != CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED &&
        s != CPM__INSPECTION_STATE__INSPECTION_STATE_IN_FIELD &&
        s != CPM__INSPECTION_STATE__INSPECTION_STATE_FINDINGS_SUBMITTED)
        return cpm_error_set(err, CPM_E_CONFLICT, "state",
                             "inspection %s is %s: only an assigned, in_field or "
                             "findings_submitted inspection is reviewed",
                             in->id, inspection_state_name(s) ? inspection_state_name(s) : "?");
    violations_ctx_t vc = {st, txn, in, fx, p->node, rv->outcome, now_ms, false, 0, 0};
    int rc = each_record(st, txn, INSPECTION_FIELD_RECORDS_DB, in->id, finding_violation, &vc);
    if (rc != 0)
        return rc;
    int64_t fine = rv->fine_vnd;
    if (rv->outcome == CPM__OUTCOME__OUTCOME_FINED && !fine)
        fine = vc.fines;
    if (rv->outcome == CPM__OUTCOME__OUTCOME_FINED && (fine <= 0 || fine > FINE_MAX))
        return cpm_error_set(err, CPM_E_INVALID, "fine_vnd",
                             "outcome fined needs fine_vnd (1 to 10^12 VND): the findings "
                             "propose none");
    char *old_note = in->review_note;
    in->state = CPM__INSPECTION_STATE__INSPECTION_STATE_REVIEWED;
    in->outcome = rv->outcome;
    in->fine_vnd = fine;
    in->review_note = rv->note;
    in->outcome_conflict = false; /* the reviewer's outcome settles it */
    in->updated_ms = now_ms;
    vc.write = true;
    rc = each_record(st, txn, INSPECTION_FIELD_RECORDS_DB, in->id, finding_violation, &vc);
    if (rc == 0 && !vc.written && in->outcome == CPM__OUTCOME__OUTCOME_FINED)
        rc = put_violation(&vc, "-", "", fine, now_ms, "", in->lead);
    for (size_t i = 0; i < in->n_tickets && rc == 0; i++)
        rc = resolve_case(cases, st, txn, fx, who, in, in->tickets[i], now_ms, err);
    if (rc == 0)
        rc = inspection_plan_put(st, txn, in, err);
    if (rc == 0)
        rc = inspection_plan_event(p, txn, fx, "inspection.reviewed", in, who->id);
    in->review_note = old_note;
    return rc;
}

int inspection_review(const inspection_plans_t *p, const inspection_t *cases, cpm_store_t *st,
                      MDB_txn *txn, const cpm_effects_t *fx, const inspection_who_t *who,
                      const Cpm__InspectionReview *rv, int64_t now_ms, Cpm__InspectionReply *r,
                      cpm_error_t *err)
{
    if (!inspection_id_valid(rv->id))
        return cpm_error_set(err, CPM_E_INVALID, "id", "id is not an inspection id (<node>/I<n>)");
    int rc = check_review(rv, err);
    if (rc != 0)
        return rc;
    Cpm__Inspection *in = inspection_plan_get(st, txn, rv->id);
    if (!in)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "id", "no inspection %s at %s", rv->id, p->node);
    if (!may_review(p, who, in)) {
        rc = cpm_error_set(err, CPM_E_FORBIDDEN, "sender",
                           "%s may not %s inspection %s: its lead or an officer of %s does",
                           who->id, rv->close ? "close" : "review", in->id, p->node);
    } else if (!rv->close) {
        rc = review(p, cases, st, txn, fx, who, rv, in, now_ms, err);
    } else if (in->state != CPM__INSPECTION_STATE__INSPECTION_STATE_REVIEWED) {
        const char *s = inspection_state_name(in->state);
        rc = cpm_error_set(err, CPM_E_CONFLICT, "state",
                           "inspection %s is %s: only a reviewed inspection is closed", in->id,
                           s ? s : "?");
    } else {
        in->state = CPM__INSPECTION_STATE__INSPECTION_STATE_CLOSED;
        in->updated_ms = now_ms;
        rc = inspection_plan_put(st, txn, in, err);
        if (rc == 0)
            rc = inspection_plan_event(p, txn, fx, "inspection.closed", in, who->id);
    }
    cpm__inspection__free_unpacked(in, NULL);
    if (rc != 0)
        return rc;
    Cpm__Inspection *stored = inspection_plan_get(st, txn, rv->id);
    return stored ? inspection_reply_add(r, stored) : CPM_E_INTERNAL;
}
