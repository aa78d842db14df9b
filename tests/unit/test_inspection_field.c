/* inspection_field on a real store, without sockets: checkout, the upload of
 * signed records (stored, same, conflict kept, refused), the inspection's
 * counters and state, and evidence chunks (resume, hash check, who may
 * send). Inspections are seeded as packed Cpm__Inspection values (the
 * storage contract of DESIGN8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_fieldrec.h"
#include "field_fixture.h"
#include "inspection_checklist.h"
#include "inspection_field.h"

#include <sodium.h>

#define NOW 1767225600000LL
#define INS1 "inspector1.hn.d.x"
#define INS2 "inspector2.hn.d.x"

static const char *const dbs[] = INSPECTION_DBS;

typedef struct {
    char dir[64];
    cpm_store_t *st;
    cpm_registry_t *reg;
    inspection_field_t f;
    dom_fx_t fx;
    cpm_effects_t effects;
    cpm_sender_t s1, s2, other;
    int counted, record_refused;
    char last_counter[64];
} fixture_t;

static void counter(void *ctx, const char *name)
{
    fixture_t *x = ctx;
    x->counted++;
    x->record_refused += !strcmp(name, "field.record_refused");
    snprintf(x->last_counter, sizeof x->last_counter, "%s", name);
}

static void seed(fixture_t *x, const char *id, Cpm__InspectionState state)
{
    Cpm__Inspection in = CPM__INSPECTION__INIT;
    char *team[1] = {INS2};
    in.id = (char *)id;
    in.business = "Cửa hàng A";
    in.area = "dong-da";
    in.category = "food";
    in.lead = INS1;
    in.team = team;
    in.n_team = 1;
    in.state = state;
    MDB_txn *txn = dom_begin(x->st, true);
    assert_int_equal(dom_end(txn, inspection_plan_put(x->st, txn, &in, NULL)), 0);
}

static int setup(void **state)
{
    fixture_t *x = calloc(1, sizeof *x);
    dom_tmpdir(x->dir, "field");
    x->st = dom_open(x->dir, 64u << 20, dbs);
    x->reg = fx_registry();
    char evd[128];
    snprintf(evd, sizeof evd, "%s/evidence", x->dir);
    cpm_error_t e;
    inspection_field_t f = {"hn.d.x", x->reg, cpm_evidence_open(evd, 0, &e), false, NULL,
                            counter,  x};
    x->f = f;
    dom_fx_init(&x->fx, x->st, "hn.d.x/inspection", NOW);
    x->effects = dom_fx_effects(&x->fx);
    cpm_sender_init(&x->s1, &fx_id[FX_INS1], "device");
    cpm_sender_init(&x->s2, &fx_id[FX_INS2], "device");
    cpm_sender_init(&x->other, &fx_id[FX_OTHER], "device");
    seed(x, "hn.d.x/I1", CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED);
    seed(x, "hn.d.x/I2", CPM__INSPECTION_STATE__INSPECTION_STATE_CLOSED);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *x = *state;
    cpm_evidence_destroy(&x->f.evidence);
    cpm_store_destroy(&x->st);
    cpm_registry_destroy(&x->reg);
    dom_fx_clear(&x->fx);
    dom_rmdir(x->dir);
    free(x);
    return 0;
}

static void record(Cpm__FieldRecord *r, const char *id, const char *inspector)
{
    cpm__field_record__init(r);
    r->id = (char *)id;
    r->inspection = "hn.d.x/I1";
    r->inspector = (char *)inspector;
    r->kind = CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING;
    r->item = "price-posted";
    r->made_ms = NOW - 3600000;
}

static ProtobufCBinaryData seal(cpm_sender_t *s, const Cpm__FieldRecord *r)
{
    ProtobufCBinaryData b = {0, NULL};
    assert_int_equal(cpm_fieldrec_seal(s, "hn.d.x/inspection", r, &b.data, &b.len, NULL), 0);
    return b;
}

/* Upload frames as asker; the reply's verdicts into v. */
static int upload(fixture_t *x, const char *asker, ProtobufCBinaryData *frames, size_t n,
                  Cpm__FieldUploadReply *out)
{
    Cpm__FieldUpload up = CPM__FIELD_UPLOAD__INIT;
    up.records = frames;
    up.n_records = n;
    cpm_error_t e = {0};
    MDB_txn *txn = dom_begin(x->st, true);
    return dom_end(
        txn, inspection_field_upload(&x->f, x->st, txn, &x->effects, asker, &up, NOW, out, &e));
}

static Cpm__Inspection *get(fixture_t *x, const char *id)
{
    MDB_txn *txn = dom_begin(x->st, false);
    Cpm__Inspection *in = inspection_plan_get(x->st, txn, id);
    mdb_txn_abort(txn);
    assert_non_null(in);
    return in;
}

static void test_checkout(void **state)
{
    fixture_t *x = *state;
    Cpm__FieldCheckoutReply r;
    MDB_txn *txn = dom_begin(x->st, true);
    assert_int_equal(
        dom_end(txn, inspection_field_checkout(&x->f, x->st, txn, INS2, NOW, &r, NULL)), 0);
    assert_int_equal(r.n_inspections, 1); /* I2 is closed */
    inspection_field_checkout_free(&r);
    Cpm__Inspection *in = get(x, "hn.d.x/I1");
    assert_int_equal(in->state,
                     CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED); /* team: no move */
    cpm__inspection__free_unpacked(in, NULL);
    txn = dom_begin(x->st, true);
    assert_int_equal(
        dom_end(txn, inspection_field_checkout(&x->f, x->st, txn, INS1, NOW, &r, NULL)), 0);
    assert_int_equal(r.n_inspections, 1);
    inspection_field_checkout_free(&r);
    in = get(x, "hn.d.x/I1");
    assert_int_equal(in->state, CPM__INSPECTION_STATE__INSPECTION_STATE_IN_FIELD);
    cpm__inspection__free_unpacked(in, NULL);
    txn = dom_begin(x->st, true);
    assert_int_equal(dom_end(txn, inspection_field_checkout(&x->f, x->st, txn, "inspector1.hn.d.y",
                                                            NOW, &r, NULL)),
                     0);
    assert_int_equal(r.n_inspections, 0);
    inspection_field_checkout_free(&r);
}

static void test_same_conflict_refused(void **state)
{
    fixture_t *x = *state;
    Cpm__FieldRecord r;
    record(&r, "f1", INS1);
    ProtobufCBinaryData fr[4];
    fr[0] = seal(&x->s1, &r);
    r.fine_vnd = 1000000; /* same id, other content */
    fr[1] = seal(&x->s1, &r);
    record(&r, "f2", INS1);
    fr[2] = seal(&x->s1, &r);
    fr[3] = seal(&x->s1, &r);
    uint8_t *p = memmem(fr[3].data, fr[3].len, "price-posted", 12);
    p[0] = 'X'; /* tampered */
    Cpm__FieldUploadReply out;
    assert_int_equal(upload(x, INS1, fr, 4, &out), 0);
    assert_int_equal(out.n_results, 4);
    assert_int_equal(out.results[0]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_STORED);
    assert_int_equal(out.results[1]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_CONFLICT);
    assert_int_equal(out.results[2]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_STORED);
    assert_int_equal(out.results[3]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED);
    assert_string_equal(out.results[3]->field, "signature");
    assert_int_equal(out.results[3]->code, CPM_E_FORBIDDEN);
    assert_int_equal(x->record_refused, 1);
    inspection_field_upload_free(&out);
    /* the whole batch again: SAME, CONFLICT (already kept, nothing new), SAME */
    assert_int_equal(upload(x, INS1, fr, 3, &out), 0);
    assert_int_equal(out.results[0]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_SAME);
    assert_int_equal(out.results[1]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_CONFLICT);
    assert_int_equal(out.results[2]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_SAME);
    inspection_field_upload_free(&out);
    Cpm__Inspection *in = get(x, "hn.d.x/I1");
    assert_int_equal(in->findings, 2);
    assert_int_equal(in->conflicts, 1);
    cpm__inspection__free_unpacked(in, NULL);
    /* both versions are kept: the first in field_records, the other in field_conflicts */
    MDB_txn *txn = dom_begin(x->st, false);
    MDB_stat ms;
    mdb_stat(txn, cpm_store_dbi(x->st, INSPECTION_FIELD_CONFLICTS_DB), &ms);
    assert_int_equal(ms.ms_entries, 1);
    mdb_stat(txn, cpm_store_dbi(x->st, INSPECTION_FIELD_RECORDS_DB), &ms);
    assert_int_equal(ms.ms_entries, 2);
    mdb_txn_abort(txn);
    for (int i = 0; i < 4; i++)
        free(fr[i].data);
}

static void test_who_may_upload(void **state)
{
    fixture_t *x = *state;
    Cpm__FieldRecord r;
    ProtobufCBinaryData fr[3];
    record(&r, "o1", "inspector1.hn.d.y");
    fr[0] = seal(&x->other, &r); /* another agency's inspector */
    record(&r, "o2", INS1);
    fr[1] = seal(&x->s1, &r); /* relayed by someone else */
    record(&r, "o3", INS1);
    r.inspection = "hn.d.x/I9";
    fr[2] = seal(&x->s1, &r);
    Cpm__FieldUploadReply out;
    assert_int_equal(upload(x, "inspector1.hn.d.y", fr, 2, &out), 0);
    assert_int_equal(out.results[0]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED);
    assert_string_equal(out.results[0]->field, "inspector");
    assert_int_equal(out.results[1]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED);
    assert_string_equal(out.results[1]->field, "inspector");
    inspection_field_upload_free(&out);
    assert_int_equal(upload(x, INS1, fr + 2, 1, &out), 0);
    assert_int_equal(out.results[0]->code, CPM_E_NOT_FOUND);
    assert_string_equal(out.results[0]->field, "inspection");
    inspection_field_upload_free(&out);
    /* limits of the batch */
    assert_int_equal(upload(x, INS1, fr, 0, &out), CPM_E_INVALID);
    for (int i = 0; i < 3; i++)
        free(fr[i].data);
}

static void test_submit_and_outcome_conflict(void **state)
{
    fixture_t *x = *state;
    Cpm__FieldRecord r;
    ProtobufCBinaryData fr[3];
    record(&r, "out1", INS1);
    r.kind = CPM__FIELD_RECORD_KIND__FIELD_RECORD_OUTCOME;
    r.outcome = CPM__OUTCOME__OUTCOME_FINED;
    r.fine_vnd = 5000000;
    fr[0] = seal(&x->s1, &r);
    record(&r, "out2", INS2);
    r.kind = CPM__FIELD_RECORD_KIND__FIELD_RECORD_OUTCOME;
    r.outcome = CPM__OUTCOME__OUTCOME_NO_VIOLATION;
    fr[1] = seal(&x->s2, &r);
    record(&r, "sub1", INS1);
    r.kind = CPM__FIELD_RECORD_KIND__FIELD_RECORD_SUBMIT;
    r.item = "";
    fr[2] = seal(&x->s1, &r);
    Cpm__FieldUploadReply out;
    assert_int_equal(upload(x, INS1, fr, 1, &out), 0);
    inspection_field_upload_free(&out);
    assert_int_equal(upload(x, INS2, fr + 1, 1, &out), 0);
    assert_int_equal(out.results[0]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_STORED);
    inspection_field_upload_free(&out);
    Cpm__Inspection *in = get(x, "hn.d.x/I1");
    assert_true(in->outcome_conflict);
    cpm__inspection__free_unpacked(in, NULL);
    assert_string_equal(x->fx.events[x->fx.n_events - 1].kind, "inspection.conflict");
    assert_int_equal(upload(x, INS1, fr + 2, 1, &out), 0);
    inspection_field_upload_free(&out);
    in = get(x, "hn.d.x/I1");
    assert_int_equal(in->state, CPM__INSPECTION_STATE__INSPECTION_STATE_FINDINGS_SUBMITTED);
    cpm__inspection__free_unpacked(in, NULL);
    assert_string_equal(x->fx.events[x->fx.n_events - 1].kind, "inspection.submitted");
    for (int i = 0; i < 3; i++)
        free(fr[i].data);
}

static int chunk(fixture_t *x, const char *asker, const uint8_t *hash, uint64_t size,
                 uint64_t offset, const uint8_t *data, size_t len, Cpm__EvidenceStatus *st,
                 cpm_error_t *e)
{
    Cpm__EvidenceChunk c = CPM__EVIDENCE_CHUNK__INIT;
    c.blake2b.data = (uint8_t *)hash;
    c.blake2b.len = 32;
    c.size = size;
    c.offset = offset;
    c.data.data = (uint8_t *)data;
    c.data.len = len;
    MDB_txn *txn = dom_begin(x->st, false);
    int rc = inspection_field_chunk(&x->f, x->st, txn, asker, &c, st, e);
    mdb_txn_abort(txn);
    return rc;
}

static void test_evidence_chunks(void **state)
{
    fixture_t *x = *state;
    enum { N = 3000 };
    uint8_t good[N], bad[N], hg[32], hb[32];
    for (int i = 0; i < N; i++)
        good[i] = bad[i] = (uint8_t)(i * 7);
    bad[10] ^= 0xff;
    crypto_generichash(hg, 32, good, N, NULL, 0);
    memcpy(hb, hg, 32);
    hb[0] ^= 1; /* a record that names a hash the bytes will not match */
    Cpm__EvidenceRef e1 = CPM__EVIDENCE_REF__INIT, e2 = CPM__EVIDENCE_REF__INIT;
    Cpm__EvidenceRef *refs[2] = {&e1, &e2};
    e1.blake2b.data = hg;
    e1.blake2b.len = 32;
    e1.size = N;
    e2.blake2b.data = hb;
    e2.blake2b.len = 32;
    e2.size = N;
    Cpm__FieldRecord r;
    record(&r, "ev1", INS1);
    r.evidence = refs;
    r.n_evidence = 2;
    ProtobufCBinaryData fr = seal(&x->s1, &r);
    Cpm__FieldUploadReply out;
    Cpm__EvidenceStatus st;
    cpm_error_t e = {0};
    /* before any record names it, a chunk is refused */
    assert_int_equal(chunk(x, INS1, hg, N, 0, good, 100, &st, &e), CPM_E_FORBIDDEN);
    assert_string_equal(e.field, "blake2b");
    assert_int_equal(upload(x, INS1, &fr, 1, &out), 0);
    assert_int_equal(out.results[0]->n_missing_evidence, 2);
    inspection_field_upload_free(&out);
    /* another inspector may not send it; a wrong size is refused */
    assert_int_equal(chunk(x, INS2, hg, N, 0, good, 100, &st, &e), CPM_E_FORBIDDEN);
    assert_int_equal(chunk(x, INS1, hg, N + 1, 0, good, 100, &st, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "size");
    /* status, a first chunk, a chunk at a wrong offset (nothing written), resume */
    assert_int_equal(chunk(x, INS1, hg, N, 0, NULL, 0, &st, &e), 0);
    assert_int_equal(st.received, 0);
    assert_int_equal(chunk(x, INS1, hg, N, 0, good, 1000, &st, &e), 0);
    assert_int_equal(st.received, 1000);
    assert_int_equal(chunk(x, INS1, hg, N, 2000, good + 2000, 1000, &st, &e), 0);
    assert_int_equal(st.received, 1000);
    assert_false(st.complete);
    assert_int_equal(chunk(x, INS1, hg, N, 1000, good + 1000, 2000, &st, &e), 0);
    assert_true(st.complete);
    /* bytes that do not match the record's hash */
    assert_int_equal(chunk(x, INS1, hb, N, 0, bad, N, &st, &e), CPM_E_INVALID);
    assert_string_equal(e.field, "blake2b");
    assert_string_equal(x->last_counter, "field.evidence_bad_hash");
    /* the record again: only the bad one is still missing */
    assert_int_equal(upload(x, INS1, &fr, 1, &out), 0);
    assert_int_equal(out.results[0]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_SAME);
    assert_int_equal(out.results[0]->n_missing_evidence, 1);
    assert_memory_equal(out.results[0]->missing_evidence[0].data, hb, 32);
    inspection_field_upload_free(&out);
    free(fr.data);
}

static void test_closed_takes_no_new_records(void **state)
{
    fixture_t *x = *state;
    Cpm__FieldRecord r;
    record(&r, "late", INS1);
    r.inspection = "hn.d.x/I2";
    ProtobufCBinaryData fr = seal(&x->s1, &r);
    Cpm__FieldUploadReply out;
    assert_int_equal(upload(x, INS1, &fr, 1, &out), 0);
    assert_int_equal(out.results[0]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED);
    assert_int_equal(out.results[0]->code, CPM_E_CONFLICT);
    inspection_field_upload_free(&out);
    free(fr.data);
}

/* A hostile inspector re-signs one record id with ever other content: only
 * INSPECTION_FIELD_MAX_VERSIONS later versions are kept, the rest refused
 * (too_large, field "id") and counted; the store does not grow. */
static void test_conflict_versions_bounded(void **state)
{
    fixture_t *x = *state;
    enum { N = INSPECTION_FIELD_MAX_VERSIONS + 4 };
    Cpm__FieldRecord r;
    record(&r, "f1", INS1);
    ProtobufCBinaryData fr[N];
    for (int i = 0; i < N; i++) {
        r.fine_vnd = 1000 * (i + 1);
        fr[i] = seal(&x->s1, &r);
    }
    Cpm__FieldUploadReply out;
    assert_int_equal(upload(x, INS1, fr, N, &out), 0);
    assert_int_equal(out.results[0]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_STORED);
    for (int i = 1; i <= INSPECTION_FIELD_MAX_VERSIONS; i++)
        assert_int_equal(out.results[i]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_CONFLICT);
    for (int i = INSPECTION_FIELD_MAX_VERSIONS + 1; i < N; i++) {
        assert_int_equal(out.results[i]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED);
        assert_int_equal(out.results[i]->code, CPM_E_TOO_LARGE);
        assert_string_equal(out.results[i]->field, "id");
    }
    assert_int_equal(x->record_refused, N - 1 - INSPECTION_FIELD_MAX_VERSIONS);
    inspection_field_upload_free(&out);
    /* a version kept before is still a conflict, not a refusal */
    assert_int_equal(upload(x, INS1, fr, 2, &out), 0);
    assert_int_equal(out.results[1]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_CONFLICT);
    inspection_field_upload_free(&out);
    MDB_txn *txn = dom_begin(x->st, false);
    MDB_stat ms;
    mdb_stat(txn, cpm_store_dbi(x->st, INSPECTION_FIELD_CONFLICTS_DB), &ms);
    assert_int_equal(ms.ms_entries, INSPECTION_FIELD_MAX_VERSIONS);
    mdb_txn_abort(txn);
    Cpm__Inspection *in = get(x, "hn.d.x/I1");
    assert_int_equal(in->conflicts, INSPECTION_FIELD_MAX_VERSIONS);
    assert_int_equal(in->records, 1 + INSPECTION_FIELD_MAX_VERSIONS);
    cpm__inspection__free_unpacked(in, NULL);
    for (int i = 0; i < N; i++)
        free(fr[i].data);
}

/* Distinct record ids without end: past INSPECTION_FIELD_MAX_PER_INSPECTION
 * records an inspection takes no more (refused, field "inspection"), but an
 * upload of a record it holds stays SAME. */
static void test_records_per_inspection_bounded(void **state)
{
    fixture_t *x = *state;
    Cpm__Inspection *in = get(x, "hn.d.x/I1");
    in->records = INSPECTION_FIELD_MAX_PER_INSPECTION - 1; /* as after that many uploads */
    MDB_txn *txn = dom_begin(x->st, true);
    assert_int_equal(dom_end(txn, inspection_plan_put(x->st, txn, in, NULL)), 0);
    cpm__inspection__free_unpacked(in, NULL);
    Cpm__FieldRecord r;
    ProtobufCBinaryData fr[3];
    record(&r, "last", INS1);
    fr[0] = seal(&x->s1, &r);
    record(&r, "one-too-many", INS1);
    fr[1] = seal(&x->s1, &r);
    record(&r, "last", INS1);
    r.fine_vnd = 5; /* a conflicting version is a record too */
    fr[2] = seal(&x->s1, &r);
    Cpm__FieldUploadReply out;
    assert_int_equal(upload(x, INS1, fr, 3, &out), 0);
    assert_int_equal(out.results[0]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_STORED);
    assert_int_equal(out.results[1]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED);
    assert_string_equal(out.results[1]->field, "inspection");
    assert_int_equal(out.results[1]->code, CPM_E_TOO_LARGE);
    assert_int_equal(out.results[2]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED);
    assert_int_equal(x->record_refused, 2);
    inspection_field_upload_free(&out);
    assert_int_equal(upload(x, INS1, fr, 1, &out), 0);
    assert_int_equal(out.results[0]->verdict, CPM__FIELD_VERDICT__FIELD_VERDICT_SAME);
    inspection_field_upload_free(&out);
    in = get(x, "hn.d.x/I1");
    assert_int_equal(in->records, INSPECTION_FIELD_MAX_PER_INSPECTION);
    assert_int_equal(in->findings, 1);
    cpm__inspection__free_unpacked(in, NULL);
    for (int i = 0; i < 3; i++)
        free(fr[i].data);
}

/* Two inspectors of one inspection name the same hash: one with the true
 * size, the other (hostile) with a smaller and then the same size. The
 * hostile one can neither cut the honest part (a smaller size) nor spoil it
 * with bytes of its own at the honest offset; the honest upload resumes and
 * completes. */
static void test_evidence_part_per_uploader(void **state)
{
    fixture_t *x = *state;
    enum { N = 5000 };
    uint8_t good[N], junk[N], h[32];
    for (int i = 0; i < N; i++) {
        good[i] = (uint8_t)(i * 13);
        junk[i] = 0xee;
    }
    crypto_generichash(h, 32, good, N, NULL, 0);
    Cpm__EvidenceRef ref = CPM__EVIDENCE_REF__INIT;
    Cpm__EvidenceRef *refs[1] = {&ref};
    ref.blake2b.data = h;
    ref.blake2b.len = 32;
    ref.size = N;
    Cpm__FieldRecord r;
    record(&r, "honest", INS1);
    r.evidence = refs;
    r.n_evidence = 1;
    ProtobufCBinaryData fr[3];
    fr[0] = seal(&x->s1, &r);
    record(&r, "small", INS2);
    r.evidence = refs;
    r.n_evidence = 1;
    ref.size = 1000;
    fr[1] = seal(&x->s2, &r);
    Cpm__FieldUploadReply out;
    Cpm__EvidenceStatus st;
    cpm_error_t e = {0};
    assert_int_equal(upload(x, INS1, fr, 1, &out), 0);
    inspection_field_upload_free(&out);
    assert_int_equal(upload(x, INS2, fr + 1, 1, &out), 0);
    inspection_field_upload_free(&out);
    assert_int_equal(chunk(x, INS1, h, N, 0, good, 3000, &st, &e), 0);
    assert_int_equal(st.received, 3000);
    /* a smaller size: asking the status must not cut the honest part */
    (void)chunk(x, INS2, h, 1000, 0, NULL, 0, &st, &e);
    assert_int_equal(chunk(x, INS1, h, N, 0, NULL, 0, &st, &e), 0);
    assert_int_equal(st.received, 3000);
    /* the same size: junk at the honest offset goes nowhere near the part */
    record(&r, "same", INS2);
    r.evidence = refs;
    r.n_evidence = 1;
    ref.size = N;
    fr[2] = seal(&x->s2, &r);
    assert_int_equal(upload(x, INS2, fr + 2, 1, &out), 0);
    inspection_field_upload_free(&out);
    (void)chunk(x, INS2, h, N, 3000, junk, N - 3000, &st, &e);
    assert_int_equal(chunk(x, INS1, h, N, 0, NULL, 0, &st, &e), 0);
    assert_int_equal(st.received, 3000);
    assert_int_equal(chunk(x, INS1, h, N, 3000, good + 3000, N - 3000, &st, &e), 0);
    assert_true(st.complete);
    for (int i = 0; i < 3; i++)
        free(fr[i].data);
}

/* An inspector on very many large inspections: the checkout reply stays
 * within INSPECTION_FIELD_CHECKOUT_BYTES (a reply past CPM_MAX_MSG would
 * never arrive), says truncated, and only the inspections it carries move
 * to in_field. */
static void test_checkout_reply_bounded(void **state)
{
    fixture_t *x = *state;
    enum { N = 120, ITEMS = 100 };
    static char text[INSPECTION_CHECKLIST_TEXT_MAX + 1];
    memset(text, 'x', INSPECTION_CHECKLIST_TEXT_MAX);
    Cpm__ChecklistItem items[ITEMS], *pitems[ITEMS];
    char codes[ITEMS][16];
    for (int i = 0; i < ITEMS; i++) {
        cpm__checklist_item__init(&items[i]);
        snprintf(codes[i], sizeof codes[i], "item-%d", i);
        items[i].code = codes[i];
        items[i].text = text;
        pitems[i] = &items[i];
    }
    MDB_txn *txn = dom_begin(x->st, true);
    int rc = 0;
    for (int i = 0; i < N && rc == 0; i++) {
        char id[64];
        snprintf(id, sizeof id, "hn.d.x/I%d", 100 + i);
        Cpm__Inspection in = CPM__INSPECTION__INIT;
        in.id = id;
        in.lead = INS1;
        in.checklist = pitems;
        in.n_checklist = ITEMS;
        in.state = CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED;
        rc = inspection_plan_put(x->st, txn, &in, NULL);
    }
    assert_int_equal(dom_end(txn, rc), 0);
    Cpm__FieldCheckoutReply out;
    cpm_error_t e = {0};
    txn = dom_begin(x->st, true);
    assert_int_equal(
        dom_end(txn, inspection_field_checkout(&x->f, x->st, txn, INS1, NOW, &out, &e)), 0);
    size_t packed = protobuf_c_message_get_packed_size(&out.base);
    assert_true(packed <= INSPECTION_FIELD_CHECKOUT_BYTES);
    assert_true(out.truncated);
    assert_true(out.n_inspections > 0 && out.n_inspections < N);
    size_t shown = out.n_inspections;
    inspection_field_checkout_free(&out);
    /* the ones left out are still assigned, not taken into the field */
    size_t in_field = 0;
    txn = dom_begin(x->st, false);
    for (int i = 0; i < N; i++) {
        char id[64];
        snprintf(id, sizeof id, "hn.d.x/I%d", 100 + i);
        Cpm__Inspection *in = inspection_plan_get(x->st, txn, id);
        in_field += in->state == CPM__INSPECTION_STATE__INSPECTION_STATE_IN_FIELD;
        cpm__inspection__free_unpacked(in, NULL);
    }
    mdb_txn_abort(txn);
    assert_true(in_field <= shown);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_conflict_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_who_may_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_and_outcome_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evidence_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_takes_no_new_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_versions_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_per_inspection_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evidence_part_per_uploader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkout_reply_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
