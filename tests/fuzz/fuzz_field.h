/* fuzz_field: what the field-sync and inspection-plan harnesses share
 * (fuzz_field_upload, fuzz_evidence_chunk, fuzz_inspection_plan).
 *
 * The vectors' registry has no inspector, so these use the field tests'
 * registry (tests/unit/field_fixture.h: agency hn.d.x with inspectors
 * inspector1/2.hn.d.x, an inspector of hn.d.y, an officer, a revoked
 * inspector), and a store of their own, made once and committed: case
 * FF_TICKET assigned to hn.d.x, inspection FF_I1 (assigned, lead inspector1,
 * team inspector2) with one stored finding and one proposed outcome, and
 * inspection FF_I2 (planned). Header-only: each harness includes it once. */
#ifndef FUZZ_FIELD_H
#define FUZZ_FIELD_H

#include "fuzz_env.h"

#include "../unit/field_fixture.h"
#include "cpm_fieldrec.h"
#include "inspection_checklist.h"
#include "inspection_domain.h"
#include "inspection_field.h"
#include "inspection_plan.h"

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FF_NODE "hn.d.x"
#define FF_ROUTING "hn.doit"
#define FF_INS1 "inspector1.hn.d.x"
#define FF_INS2 "inspector2.hn.d.x"
#define FF_TICKET "HX-00000001"
#define FF_I1 "hn.d.x/I1"
#define FF_I2 "hn.d.x/I2"

static struct {
    cpm_registry_t *reg;
    cpm_store_t *st;
    cpm_sender_t s1, s2, other, revoked;
} ff;

static const cpm_registry_t *ff_registry(void)
{
    if (!ff.reg) {
        fz_dir(); /* sodium_init */
        ff.reg = fx_registry();
        if (!ff.reg)
            fz_die("field registry", "not made");
        cpm_sender_init(&ff.s1, &fx_id[FX_INS1], "device");
        cpm_sender_init(&ff.s2, &fx_id[FX_INS2], "device");
        cpm_sender_init(&ff.other, &fx_id[FX_OTHER], "device");
        cpm_sender_init(&ff.revoked, &fx_id[FX_REVOKED], "device");
    }
    return ff.reg;
}

/* The sender for selector k (0..3): inspector1, inspector2, another
 * agency's inspector, the revoked one. */
static cpm_sender_t *ff_sender(unsigned k)
{
    ff_registry();
    cpm_sender_t *s[4] = {&ff.s1, &ff.s2, &ff.other, &ff.revoked};
    return s[k & 3];
}

static void ff_record(Cpm__FieldRecord *r, const char *id, const char *inspector)
{
    cpm__field_record__init(r);
    r->id = (char *)id;
    r->inspection = FF_I1;
    r->inspector = (char *)inspector;
    r->kind = CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING;
    r->item = "price-posted";
    r->made_ms = fz_now_ms() - 3600000;
}

static void ff_put_inspection(cpm_store_t *st, MDB_txn *txn, const char *id,
                              Cpm__InspectionState state)
{
    Cpm__Inspection in = CPM__INSPECTION__INIT;
    char *team[1] = {FF_INS2};
    char *tickets[1] = {FF_TICKET};
    in.id = (char *)id;
    in.tickets = tickets;
    in.n_tickets = 1;
    in.business = "Cửa hàng A";
    in.area = "hoan-kiem";
    in.category = "food_safety";
    if (state != CPM__INSPECTION_STATE__INSPECTION_STATE_PLANNED) {
        in.lead = FF_INS1;
        in.team = team;
        in.n_team = 1;
    }
    in.state = state;
    cpm_error_t err = {0};
    if (inspection_plan_put(st, txn, &in, &err) != 0)
        fz_die("field store", err.message);
}

/* Seal r as sender k; the frame goes to *b (free b->data). 0 or -1. */
static int ff_seal(unsigned k, const Cpm__FieldRecord *r, ProtobufCBinaryData *b)
{
    return cpm_fieldrec_seal(ff_sender(k), FF_NODE "/inspection", r, &b->data, &b->len, NULL) == 0
               ? 0
               : -1;
}

static int ff_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* The evidence folder <fz_dir()>/evidence (8 MiB at most); with reset, its
 * files from earlier inputs are removed first (files outlive the aborted
 * transactions, and every input should meet the same state). */
static cpm_evidence_t *ff_evidence(bool reset)
{
    static cpm_evidence_t *ev;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/evidence", fz_dir());
    if (ev && !reset)
        return ev;
    cpm_evidence_destroy(&ev);
    nftw(dir, ff_rm, 16, FTW_DEPTH | FTW_PHYS);
    cpm_error_t err = {0};
    ev = cpm_evidence_open(dir, 8u << 20, &err);
    if (!ev)
        fz_die("evidence", err.message);
    return ev;
}

static const inspection_field_t *ff_field(void)
{
    static inspection_field_t f;
    f = (inspection_field_t){FF_NODE, ff_registry(), ff_evidence(false), false, NULL, NULL, NULL};
    return &f;
}

/* The harnesses' store (made and committed once). */
static cpm_store_t *ff_store(void)
{
    if (ff.st)
        return ff.st;
    ff_registry();
    static const char *const dbs[] = INSPECTION_DBS;
    cpm_store_t *st = fz_store("field", dbs);
    cpm_effects_t fx = fz_effects(st, FF_NODE "/inspection");
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = FF_TICKET;
    c.channel = "hotline";
    c.consumer_name = "Nguyen Van A";
    c.consumer_phone = "0900000000";
    c.business_name = "Cửa hàng A";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "Expired milk";
    c.event_time_ms = fz_now_ms() - 86400000;
    c.received_ms = fz_now_ms() - 1000;
    c.intake_node = FF_NODE;
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = &c;
    a.agency = FF_NODE;
    a.rule_id = "area-default";
    a.routed_ms = fz_now_ms();
    a.accept_due_ms = fz_now_ms() + 10 * 86400000LL;
    inspection_t in = {.node = FF_NODE, .routing = FF_ROUTING};
    MDB_txn *txn = NULL;
    cpm_error_t err = {0};
    if (cpm_store_begin(st, true, &txn) != 0 ||
        inspection_apply_assignment(&in, st, txn, &fx, &a, fz_now_ms(), &err) != 0)
        fz_die("field store", err.message);
    ff_put_inspection(st, txn, FF_I1, CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED);
    ff_put_inspection(st, txn, FF_I2, CPM__INSPECTION_STATE__INSPECTION_STATE_PLANNED);
    /* One finding naming a violation and one proposed outcome, so review
     * and show have records to read. */
    Cpm__FieldRecord r[2];
    ff_record(&r[0], "f1", FF_INS1);
    r[0].violation = "no-price";
    r[0].fine_vnd = 1000000;
    r[0].severity = 2;
    ff_record(&r[1], "o1", FF_INS2);
    r[1].kind = CPM__FIELD_RECORD_KIND__FIELD_RECORD_OUTCOME;
    r[1].item = "";
    r[1].outcome = CPM__OUTCOME__OUTCOME_FINED;
    ProtobufCBinaryData b[2];
    if (ff_seal(0, &r[0], &b[0]) != 0 || ff_seal(1, &r[1], &b[1]) != 0)
        fz_die("field store", "seal");
    Cpm__FieldUpload up = CPM__FIELD_UPLOAD__INIT;
    Cpm__FieldUploadReply rep = CPM__FIELD_UPLOAD_REPLY__INIT;
    for (int i = 0; i < 2; i++) {
        up.records = &b[i];
        up.n_records = 1;
        const char *asker = i ? FF_INS2 : FF_INS1;
        if (inspection_field_upload(ff_field(), st, txn, &fx, asker, &up, fz_now_ms(), &rep,
                                    &err) != 0)
            fz_die("field store", err.message);
        inspection_field_upload_free(&rep);
        free(b[i].data);
    }
    if (cpm_store_commit(txn) != 0)
        fz_die("field store", "commit");
    return ff.st = st;
}

#endif
